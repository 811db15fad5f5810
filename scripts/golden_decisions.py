"""Capture (or check) the golden decisions: what the engine decides for a fixed set of requests.

Issue 11 rebuilt the engine for speed (rooms, precomputed output, a compiled evaluator). The
promise is "no behaviour change": the same rules give byte-identical decisions. This script
records what the engine decided *before* that work, and tests/test_golden_decisions.py
holds every later engine to it.

    python scripts/golden_decisions.py              # write tests/fixtures/golden_decisions/
    python scripts/golden_decisions.py --check      # compare the current engine with it

The requests (stored in the fixture, so a later change to tests/strategies.py cannot move
the goalposts):

- 3,000 from ``deterministic_request_dicts`` (seed 20261202);
- 1,000 more with their parties mapped onto the example protocol's partners, its purposes
  and dates (seed 20261203), so protocol coverage and practices are exercised;
- every request of every scenario file in tests/scenarios/.

For each request the fixture holds the sha256 of the decision's JSON (the key order of
``model_dump(mode="json")``, compact separators, UTF-8), or of the refusal (its code and
every field error) when the request is refused; the first ``FULL`` decisions are stored
whole so that a mismatch can be shown as a diff. ``EXCEPT`` lists the fields that may
change: those added after the golden was taken.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw import Engine, scenarios  # noqa: E402
from sharelaw.errors import RequestError  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "golden_decisions" / "decisions.json.gz"
#: Fields that did not exist when the golden was taken (issue 11: which evaluator decided is
#: already there; whether the decision was cross-checked is new).
EXCEPT = ("cross_checked",)
FULL = 300
GENERATED = 3000
PARTNERED = 1000


def partner_requests(n: int, seed: int, bundle: Bundle) -> list[dict[str, Any]]:
    """Requests between the example protocol's partners (mostly), on its dates (often)."""
    protocol = bundle.protocols["protocol.exampleton_cyp"]
    agencies = [(p.legal_entity, k.value) for p in protocol.partners for k in p.kinds]
    rng = random.Random(seed)
    out = []
    for req in deterministic_request_dicts(n, seed=seed):
        req = copy.deepcopy(req)
        for role in ("discloser", "recipient"):
            if rng.randrange(8):
                entity, kind = rng.choice(agencies)
                req[role] = {**req[role], "legal_entity": entity, "kind": kind}
        if rng.randrange(4):
            req["purpose"] = rng.choice(list(protocol.purposes))
        if rng.randrange(3) == 0:
            year = rng.choice([2006, 2008, 2011, 2015, 2020, 2024])
            req["as_at"] = f"{year}-04-{rng.randrange(1, 29):02d}"
        if rng.randrange(5) == 0:
            req["protocols"] = [protocol.id]
        out.append(req)
    return out


def golden_requests(bundle: Bundle) -> list[tuple[str, dict[str, Any]]]:
    reqs: list[tuple[str, dict[str, Any]]] = []
    reqs += [(f"generated/{i}", r) for i, r in enumerate(deterministic_request_dicts(GENERATED, seed=20261202))]
    reqs += [(f"partnered/{i}", r) for i, r in enumerate(partner_requests(PARTNERED, 20261203, bundle))]
    for s in scenarios.load([ROOT / "tests" / "scenarios"]):
        reqs.append((f"scenario/{Path(s.file).name}/{s.id}", s.request))
    return reqs


def outcome_json(engine: Engine, request: dict[str, Any]) -> str:
    """The decision as JSON without the ``EXCEPT`` fields, or the refusal as JSON.

    The golden was taken on the default (durable-rules) path: another evaluator's decision
    must say it was decided by that evaluator, and is then compared as if it said
    ``durable`` (everything else byte-identical)."""
    try:
        decision = engine.decide(request)
    except RequestError as exc:
        return json.dumps({"refused": exc.code, "errors": [[str(e.loc), e.message, e.code] for e in exc.errors]},
                          ensure_ascii=False, separators=(",", ":"))
    data = decision.model_dump(mode="json")
    for name in EXCEPT:
        data.pop(name, None)
    if data.get("evaluator") != engine.evaluator:
        raise AssertionError(f"decided by {engine.evaluator} but says {data.get('evaluator')!r}")
    data["evaluator"] = "durable"
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def capture(engine: Engine, bundle: Bundle) -> dict[str, Any]:
    entries = []
    for i, (name, request) in enumerate(golden_requests(bundle)):
        text = outcome_json(engine, request)
        entry: dict[str, Any] = {"name": name, "request": request, "sha256": digest(text)}
        if i < FULL or name.startswith("scenario/") and i % 4 == 0:
            entry["decision"] = text
        entries.append(entry)
    return {"bundle_hash": bundle.content_hash, "except": list(EXCEPT), "entries": entries}


def load() -> dict[str, Any]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def mismatches(engine: Engine, golden: dict[str, Any]) -> list[str]:
    """Names of the golden requests the engine now decides differently."""
    return [e["name"] for e in golden["entries"] if digest(outcome_json(engine, e["request"])) != e["sha256"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare the current engine with the fixture")
    args = ap.parse_args(argv)
    bundle = Bundle.load()
    engine = Engine(bundle)
    try:
        if args.check:
            golden = load()
            bad = mismatches(engine, golden)
            print(f"{len(golden['entries'])} golden requests, {len(bad)} decided differently")
            for name in bad[:20]:
                print("  ", name)
            return 1 if bad else 0
        data = capture(engine, bundle)
    finally:
        engine.close()
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(FIXTURE, "wb") as fh:  # mtime 0: the same decisions give the same bytes
        with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(blob)
    print(f"wrote {FIXTURE.relative_to(ROOT)}: {len(data['entries'])} requests, "
          f"{sum('decision' in e for e in data['entries'])} decisions in full, {FIXTURE.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
