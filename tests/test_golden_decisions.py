"""No behaviour change (issue 11): the engine decides the golden requests byte-identically.

tests/fixtures/golden_decisions/decisions.json.gz was written by
``scripts/golden_decisions.py`` with the engine as it was before issue 11 (durable-rules,
cross-checked): 4,848 requests (generated, generated between the example protocol's
partners, and every scenario request) and the sha256 of each decision's JSON or refusal.
Every evaluator must reproduce every one of them; the only fields allowed to differ are
those listed in the fixture's ``except`` (added by issue 11), and ``evaluator``, which must
name the evaluator that decided.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import golden_decisions  # noqa: E402

from sharelaw import Engine  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402

GOLDEN = golden_decisions.load()
BUNDLE = Bundle.load()


def test_the_golden_is_for_the_shipped_rules() -> None:
    assert GOLDEN["bundle_hash"] == BUNDLE.content_hash, "the rules changed: regenerate the golden on purpose"
    assert len(GOLDEN["entries"]) > 4000
    assert tuple(GOLDEN["except"]) == golden_decisions.EXCEPT


@pytest.mark.parametrize("config", [
    dict(evaluator="durable", cross_check=True),
    dict(evaluator="compiled", cross_check=True),
    dict(evaluator="reference"),
], ids=["durable", "compiled", "reference"])
def test_every_golden_request_is_decided_byte_identically(config: dict) -> None:
    engine = Engine(BUNDLE, **config)
    try:
        bad = golden_decisions.mismatches(engine, GOLDEN)
        if bad:
            first = next(e for e in GOLDEN["entries"] if e["name"] in bad and "decision" in e) if any(
                "decision" in e for e in GOLDEN["entries"] if e["name"] in bad) else None
            detail = ""
            if first is not None:
                now = json.loads(golden_decisions.outcome_json(engine, first["request"]))
                was = json.loads(first["decision"])
                diff = {k: (was.get(k), now.get(k)) for k in set(was) | set(now) if was.get(k) != now.get(k)}
                detail = f"\nfirst with a stored decision: {first['name']}: {json.dumps(diff)[:2000]}"
            pytest.fail(f"{len(bad)} of {len(GOLDEN['entries'])} decided differently: {bad[:10]}{detail}")
    finally:
        engine.close()


def test_a_changed_decision_is_caught() -> None:
    """The check can fail: a golden entry whose hash is of another decision is reported."""
    entries = GOLDEN["entries"][:3]
    forged = {**GOLDEN, "entries": [entries[0], {**entries[1], "sha256": entries[2]["sha256"]}]}
    engine = Engine(BUNDLE, evaluator="reference")
    try:
        assert golden_decisions.mismatches(engine, forged) == [entries[1]["name"]]
    finally:
        engine.close()
