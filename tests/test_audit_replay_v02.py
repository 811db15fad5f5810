"""Audit logs written by sharelaw 0.2.0 still verify and replay with the current code.

tests/fixtures/audit_0.2/log.sqlite was written by the 0.2.0 code itself (commit 33d9842,
decision schema 2; tests/fixtures/audit_0.2/make_log.py says how): the six examples and
twenty-one scenario requests over every era and outcome, with action records. Every
test works on a copy in tmp_path, never on the committed file.

- ``audit verify`` passes on it, and a copy with one byte changed is DAMAGED;
- ``replay`` (the archived rules) reproduces every decision byte for byte or reports the
  difference as a change of engine or schema version: exit 0, never an error or a crash;
- ``replay --against current`` runs without error, and what it reports for each decision
  is what deciding the stored request directly with the current engine gives.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from test_audit_common import ACTOR

from sharelaw import AuditLog, Bundle, Engine
from sharelaw._version import __version__
from sharelaw.audit.replay import classify, render, reproduce, substance_differences
from sharelaw.cli import main
from sharelaw.decision import SCHEMA_VERSION
from sharelaw.vocab import Outcome

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "audit_0.2" / "log.sqlite"
RECORDED_BY = "sharelaw 0.2.0 schema 2"
THIS = f"sharelaw {__version__} schema {SCHEMA_VERSION}"


@pytest.fixture
def log_copy(tmp_path) -> Path:
    path = tmp_path / "log-0.2.sqlite"
    shutil.copyfile(FIXTURE, path)
    return path


def _decision_records(path: Path):
    with AuditLog.open(str(path), create=False) as log:
        return [(rec.seq, rec.decision_id, rec.bundle_hash, rec.request, rec.body["decision"])
                for rec in log.decisions()]


def test_the_fixture_is_a_varied_0_2_log(log_copy):
    assert FIXTURE.stat().st_size < 1_000_000
    records = _decision_records(log_copy)
    assert len(records) >= 26
    decisions = [d for *_, d in records]
    assert {(d["engine_version"], d["schema_version"]) for d in decisions} == {("0.2.0", "2")}
    assert {d["outcome"] for d in decisions} == {"must_share", "may_share", "must_not_share", "refer"}
    assert len({d["legal_era"] for d in decisions}) == 4
    assert {d["evaluator"] for d in decisions} == {"durable", "reference"}
    with AuditLog.open(str(log_copy), create=False) as log:
        assert sum(1 for rec in log if rec.kind == "action") >= 5


def test_verify_passes(log_copy, capsys):
    assert main(["audit", "verify", str(log_copy)]) == 0
    assert capsys.readouterr().out.startswith("OK: ")


def test_replay_with_the_archived_rules_names_the_version_change(log_copy, capsys):
    assert main(["replay", str(log_copy), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "Traceback" not in text and "NOT REPRODUCED" not in text
    if SCHEMA_VERSION != "2" or __version__ != "0.2.0":
        assert f"recorded by {RECORDED_BY}, replayed by {THIS}" in text
        assert "because the engine or schema version changed" in text

    assert main(["replay", str(log_copy), "--format", "json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["mismatches"] == []
    assert report["recorded_by"] == {RECORDED_BY: report["decisions"]}
    assert report["reproduced"] + len(report["version_changes"]) == report["decisions"] >= 26
    # Each decision's classification is what deciding it directly with the archived rules gives.
    by_seq = {v["seq"]: v for v in report["version_changes"]}
    with AuditLog.open(str(log_copy), create=False) as log:
        engines: dict[tuple[str, str], Engine] = {}
        for rec in log.decisions():
            stored = rec.body["decision"]
            key = (rec.bundle_hash, stored["evaluator"])
            if key not in engines:
                engines[key] = Engine(log.bundle(rec.bundle_hash), evaluator=stored["evaluator"])
            kind, fields, subst = classify(stored, engines[key].decide(rec.request).model_dump(mode="json"))
            if kind == "identical":
                assert rec.seq not in by_seq
                continue
            v = by_seq[rec.seq]
            assert (v["kind"], v["fields"], v["substance"]) == (kind, fields, subst)
            assert (v["recorded_by"], v["replayed_by"]) == (RECORDED_BY, THIS)
            assert "schema_version" in v["fields"]  # schema 2 -> 3 at least
        for e in engines.values():
            e.close()


def _agrees_with_deciding_directly(path: Path, report: dict, text: str, engine: Engine) -> list[dict]:
    """What --against reported for each decision is what deciding its stored request with ``engine`` gives."""
    assert report["ok"] and report["mismatches"] == []
    assert report["against"] == engine.bundle.content_hash, "the rules changed during the test"
    assert report["recorded_by"] == {RECORDED_BY: report["decisions"]}
    assert f"{report['decisions']} recorded by {RECORDED_BY}, replayed by {THIS}" in text
    changed = {c["seq"]: c for c in report["changed"]}
    other = {c["seq"]: c for c in report["other_substance"]}
    same = 0
    for seq, _did, _h, request, before in _decision_records(path):
        after = engine.decide(request).model_dump(mode="json")
        basis_b = [b["rule_id"] for b in before["basis"]]
        basis_a = [b["rule_id"] for b in after["basis"]]
        if (before["outcome"], basis_b) != (after["outcome"], basis_a):
            c = changed[seq]
            assert (c["outcome_before"], c["outcome_after"]) == (before["outcome"], after["outcome"])
            assert (c["basis_before"], c["basis_after"]) == (basis_b, basis_a)
            assert c["differences"] == substance_differences(before, after) and c["recorded_by"] == RECORDED_BY
            assert f"seq {seq} decision {c['decision_id']}" in text
        elif substance_differences(before, after):
            assert seq not in changed
            assert other[seq]["differences"] == substance_differences(before, after)
            assert f"seq {seq} decision {other[seq]['decision_id']}" in text
        else:
            assert seq not in changed and seq not in other
            same += 1
    assert same == report["unchanged"] + report["representation_only"]
    assert len(changed) + report["other_differences"] + report["unchanged"] == report["decisions"]
    return report["changed"]


def _against(path: Path, capsys, *more: str) -> tuple[dict, str]:
    args = ["replay", str(path), "--against", "current", *more, "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "CANNOT DECIDE" not in text and "Traceback" not in text
    assert main([*args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out), text


def test_replay_against_current_rules_agrees_with_deciding_directly(log_copy, capsys):
    report, text = _against(log_copy, capsys)
    assert "would now differ in outcome or basis" in text
    current = Engine()
    try:
        _agrees_with_deciding_directly(log_copy, report, text, current)
    finally:
        current.close()


def test_replay_against_edited_rules_gives_the_reason(log_copy, tmp_path, capsys):
    """The 0.2 rules with the duty example 05 relied on removed: the decisions that relied on
    it are listed with the rule that no longer fires and the stage that changed."""
    with AuditLog.open(str(log_copy), create=False) as log:
        (h,) = log.bundle_hashes()
        sources = log.bundle(h).sources
        ex05 = next(rec.body["decision"] for rec in log.decisions() if rec.body["decision"]["request_id"] == "example-05")
    victim = ex05["basis"][0]["rule_id"]
    rules = tmp_path / "rules"
    for rel, text in sources.items():
        if f"  - id: {victim}\n" in text:
            text = _without_rule(text, victim)
        text = "".join(line for line in text.splitlines(keepends=True) if f"rule: {victim}," not in line)
        (rules / rel).parent.mkdir(parents=True, exist_ok=True)
        (rules / rel).write_text(text, encoding="utf-8")
    edited = Engine(Bundle.load(rules))
    try:
        report, text = _against(log_copy, capsys, "--rules", str(rules))
        changed = _agrees_with_deciding_directly(log_copy, report, text, edited)
    finally:
        edited.close()
    assert changed and all(victim in c["basis_before"] and victim not in c["basis_after"] for c in changed)
    assert all(victim in c["no_longer_fired"] and c["stages"][0]["stage"] == "vires" for c in changed)
    assert f"rules that no longer fire: {victim}" in text and "stage vires:" in text


def _without_rule(text: str, rule_id: str) -> str:
    """The rule file's text with one rule's block (``  - id: RULE`` to the next item) removed."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"  - id: {rule_id}\n")
    end = start + 1
    while end < len(lines) and not lines[end].startswith("  - ") and (lines[end][:1] in (" ", "\n", "#")):
        end += 1
    return "".join(lines[:start] + lines[end:])


def test_one_byte_changed_in_a_copy_is_damaged(log_copy, capsys):
    data = bytearray(log_copy.read_bytes())
    at = data.find(b'"request_id":"v02-gw.s16h.hospital-must-comply"')
    assert at > 0
    at += len(b'"request_id":"v02-gw.s16h.')
    assert data[at:at + 1] == b"h"
    data[at] = ord("H")
    log_copy.write_bytes(bytes(data))
    assert main(["audit", "verify", str(log_copy)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("DAMAGED: record seq ") and "hash_mismatch" in out
    assert main(["replay", str(log_copy), "--no-progress"]) == 1
    assert capsys.readouterr().out.startswith("DAMAGED: ")


def test_a_decision_of_another_version_is_classified_not_failed(log_copy, tmp_path, capsys):
    """Representation and substance differences of another version are reported, exit 0
    (a difference from this very version is a decision not reproduced: test_audit_log)."""
    (_, _, h, req, _), (_, _, _, req2, _) = _decision_records(log_copy)[:2]
    with AuditLog.open(str(log_copy), create=False) as old:
        engine = Engine(old.bundle(h))  # the archived 0.2 rules: independent of today's rule files
    dec, dec2 = engine.decide(req), engine.decide(req2)
    engine.close()
    other = Outcome.REFER if dec2.outcome is not Outcome.REFER else Outcome.MAY_SHARE
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with AuditLog.open(url) as log:
        log.record(dec.model_copy(update={"engine_version": "0.1.9", "summary": "worded otherwise"}), req,
                   actor=ACTOR, bundle=engine.bundle)
        log.record(dec2.model_copy(update={"engine_version": "0.1.9", "outcome": other}), req2, actor=ACTOR)
        assert log.verify().ok
        report = reproduce(log)
    assert report.ok and report.reproduced == 0
    first, second = report.version_changes
    assert (first.kind, first.fields, first.substance) == ("representation", ["engine_version", "summary"], [])
    assert second.kind == "substance" and second.substance[0] == f"outcome: {other.value} -> {dec2.outcome.value}"
    assert first.recorded_by == f"sharelaw 0.1.9 schema {SCHEMA_VERSION}"
    text = render(report)
    assert "DECIDED DIFFERENTLY BY THIS VERSION" in text and "only the representation differs" in text
    assert main(["replay", url, "--no-progress"]) == 0
    capsys.readouterr()


def test_a_record_of_another_version_this_version_cannot_decide_is_a_version_change(
        log_copy, tmp_path, capsys, monkeypatch):
    """A record of another version that this version cannot decide (its request refused, as a
    request using a value only that version knew would be) is reported as not replayable by this
    version, exit 0; the same from a record of this very version is a failure."""
    from sharelaw.errors import FieldError, RequestError

    (_, _, h, req, _), = _decision_records(log_copy)[:1]
    with AuditLog.open(str(log_copy), create=False) as old:
        engine = Engine(old.bundle(h))
    dec = engine.decide(req)
    engine.close()
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with AuditLog.open(url) as log:
        log.record(dec.model_copy(update={"engine_version": "0.1.9"}), req, actor=ACTOR, bundle=engine.bundle)
        log.record(dec, req, actor=ACTOR, bundle=engine.bundle)
        assert log.verify().ok

        def refuse(self, request):  # this version refuses the stored request
            raise RequestError([FieldError("purpose", "not a purpose this version knows", "enum")])

        monkeypatch.setattr(Engine, "decide", refuse)
        report = reproduce(log)
    (v,) = report.version_changes
    assert v.kind == "not_replayable" and "cannot be decided by this version" in v.substance[0]
    assert v.recorded_by.startswith("sharelaw 0.1.9")
    (m,) = report.mismatches  # the record of this very version must replay: a failure
    assert m.seq == 2 and not report.ok
    assert "NOT REPLAYABLE BY THIS VERSION" in render(report)
