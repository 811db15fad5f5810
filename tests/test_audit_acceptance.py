"""The issue's acceptance test: record 10,000 decisions, `audit verify` passes, `replay`
reproduces all of them byte for byte; after editing a rules file, `replay --against
current` lists exactly the decisions whose result the edit changed.

The edit removes one stage-1 power from a copy of the shipped rules: the decisions
whose basis included it, and only those, change (in basis, and some in outcome).
On PostgreSQL the same is run with 1,000 decisions.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from test_audit_common import ACTOR, engine, pg_url  # noqa: F401 - fixtures

try:
    from strategies import deterministic_request_dicts
except ImportError:  # pragma: no cover
    from tests.strategies import deterministic_request_dicts  # type: ignore[no-redef]

from sharelaw import AuditLog, Bundle, Engine
from sharelaw.audit import canonical
from sharelaw.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _without_rule(text: str, rule_id: str) -> str:
    """The rule file's text with one rule's block (``  - id: RULE`` to the next item) removed."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"  - id: {rule_id}\n")
    end = start + 1
    while end < len(lines) and not lines[end].startswith("  - ") and (lines[end][:1] in (" ", "\n", "#")):
        end += 1
    return "".join(lines[:start] + lines[end:])


@pytest.fixture(params=[("sqlite", 10_000), ("postgres", 1_000)], ids=["sqlite-10000", "postgres-1000"])
def big_log(request, tmp_path):
    backend, n = request.param
    url = f"sqlite:///{tmp_path / 'audit.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    return url, n


def test_record_verify_replay_and_what_would_change(big_log, tmp_path, capsys):
    url, n = big_log
    rules = tmp_path / "rulesets"
    shutil.copytree(ROOT / "rulesets", rules)
    eng = Engine(Bundle.load(rules))
    assert eng.bundle.content_hash == engine().bundle.content_hash  # the same files, the same hash
    requests = deterministic_request_dicts(n, seed=10_000)
    with AuditLog.open(url) as log:
        for req in requests:
            log.record(eng.decide(req), req, actor=ACTOR, bundle=eng.bundle)
        assert len(log) == n
    eng.close()

    assert main(["audit", "verify", url]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {n} record(s) ({n} decision(s), 0 action(s)), 1 rule bundle(s)")

    assert main(["replay", url, "--format", "json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["decisions"], report["reproduced"], report["mismatches"]) == (n, n, [])

    # Edit a rules file: remove the stage-1 power most often relied on (but not by every decision).
    with AuditLog.open(url, create=False) as log:
        stored = [(r.seq, r.decision_id, r.body["decision"]) for r in log.decisions()]
    counts = Counter(b["rule_id"] for _, _, d in stored for b in d["basis"])
    victim = next(rid for rid, c in counts.most_common() if c < n)
    target = next(p for p in (rules / "national").glob("*.yaml")
                  if f"  - id: {victim}\n" in p.read_text(encoding="utf-8"))
    target.write_text(_without_rule(target.read_text(encoding="utf-8"), victim), encoding="utf-8")
    for protocol in (rules / "protocols").glob("*.yaml"):  # a protocol relying on it must stop relying on it
        text = protocol.read_text(encoding="utf-8")
        protocol.write_text("".join(line for line in text.splitlines(keepends=True)
                                    if f"rule: {victim}," not in line), encoding="utf-8")
    edited = Bundle.load(rules)
    assert edited.content_hash != engine().bundle.content_hash

    # What the edit changed, worked out directly: the decisions that relied on the removed power.
    relied = {did for _, did, d in stored if victim in [b["rule_id"] for b in d["basis"]]}
    direct = Engine(edited)
    changed_directly = set()
    for (_, did, before), req in zip(stored, requests):
        after = direct.decide(req).model_dump(mode="json")
        if after["outcome"] != before["outcome"] or after["basis"] != before["basis"]:
            changed_directly.add(did)
    direct.close()
    assert relied and changed_directly == relied and len(relied) < n

    assert main(["replay", url, "--against", "current", "--rules", str(rules), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["against"] == edited.content_hash and report["decisions"] == n
    listed = {c["decision_id"] for c in report["changed"]}
    assert listed == relied
    for c in report["changed"]:
        assert victim in c["basis_before"] and victim not in c["basis_after"]
        assert c["stages"] and c["stages"][0]["stage"] == "vires"
    assert report["unchanged"] + report["other_differences"] + len(listed) == n

    assert main(["replay", url, "--against", "current", "--rules", str(rules)]) == 0
    text = capsys.readouterr().out
    assert f"{len(listed)} would now differ in outcome or basis" in text
    assert "stage vires:" in text

    # The archived rules of the day still reproduce every decision after the edit.
    assert main(["replay", url, "--no-progress"]) == 0
    assert f"{n} reproduced byte for byte, 0 not" in capsys.readouterr().out
    with AuditLog.open(url, create=False) as log:
        (h,) = log.bundle_hashes()
        assert canonical(log.store.bundle_sources(h)) == canonical(engine().bundle.sources)
