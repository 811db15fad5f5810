"""The audit log: recording, lookup, actions, archived bundles, canonical JSON, export,
verify and replay through the API and the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from test_audit_common import ACTION, ACTOR, decided, engine, log_url, pg_url  # noqa: F401 - fixtures

import sharelaw
from sharelaw import AuditLog
from sharelaw.audit import GENESIS_HASH, AuditError, LogNotFound, canonical
from sharelaw.audit.chain import record_hash, sources_hash
from sharelaw.audit.export import CSV_COLUMNS
from sharelaw.audit.replay import reproduce
from sharelaw.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical({"b": 1, "a": [1, "é"], "c": {"z": None, "y": True}}) == (
        '{"a":[1,"é"],"b":1,"c":{"y":true,"z":null}}'.encode("utf-8"))
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})


def test_sources_hash_is_the_bundle_content_hash():
    bundle = engine().bundle
    assert sources_hash(bundle.sources) == bundle.content_hash
    assert sharelaw.Bundle.from_sources(bundle.sources).content_hash == bundle.content_hash


def test_record_lookup_iterate_and_chain(log_url):
    pairs = decided(5)
    fixed = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
    with AuditLog.open(log_url, clock=lambda: fixed) as log:
        recs = [log.record(d, r, actor=ACTOR, bundle=engine().bundle) for r, d in pairs]
        assert [r.seq for r in recs] == [1, 2, 3, 4, 5]
        assert recs[0].prev_hash == GENESIS_HASH
        for a, b in zip(recs, recs[1:]):
            assert b.prev_hash == a.hash
        for rec, (req, dec) in zip(recs, pairs):
            assert rec.hash == record_hash(rec.body)
            got = log.get(rec.decision_id)
            assert got.text == rec.text and got.hash == rec.hash
            assert got.decision == dec
            assert canonical(got.decision.model_dump(mode="json")) == canonical(dec.model_dump(mode="json"))
            assert got.request == sharelaw.parse_request(req).model_dump(mode="json")
            assert got.body["bundle_hash"] == dec.bundle_hash == got.bundle_hash
            assert got.body["engine_version"] == dec.engine_version
            assert got.body["schema_version"] == dec.schema_version
            assert got.body["as_at"] == dec.as_at.isoformat()
            assert got.recorded_at == "2026-06-01T09:00:00.000000Z"
            assert got.actor.agency == ACTOR["agency"] and got.actor.role == ACTOR["role"]
            assert rec.decision_id in log
        assert [r.seq for r in log] == [1, 2, 3, 4, 5]
        assert len(log) == 5
        assert log.head() == (5, recs[-1].hash)
        assert log.bundle_hashes() == [engine().bundle.content_hash]
        assert log.bundle(engine().bundle.content_hash).content_hash == engine().bundle.content_hash
        with pytest.raises(KeyError):
            log.get("no-such-id")
        assert "no-such-id" not in log
        report = log.verify()
        assert report.ok, report.render()
        assert (report.records, report.decisions, report.actions, report.bundles) == (5, 5, 0, 1)


def test_actions_are_chained_records_never_updates(log_url):
    (req, dec), = decided(1)
    with AuditLog.open(log_url) as log:
        rec = log.record(dec, req, actor=ACTOR, bundle=engine().bundle)
        first = log.record_action(rec.decision_id, ACTION, actor=ACTOR)
        second = log.record_action(rec.decision_id, {
            "outcome": "withheld", "at": "2026-06-02T08:00:00Z", "consent": "obtained_previously",
            "consulted": ["none"], "reasons": "The parent withdrew consent and nothing overrides it.",
        }, actor={"agency": "st-marys-primary", "role": "head teacher", "person": "HT-7"})
        assert (first.seq, second.seq) == (2, 3) and first.prev_hash == rec.hash and second.prev_hash == first.hash
        got = log.actions(rec.decision_id)
        assert [a.record_id for a in got] == [first.record_id, second.record_id]
        action = got[0].action
        assert action.outcome == "shared" and action.form == "telephone"
        assert got[0].body["action"]["at"] == "2026-06-01T09:15:00.000000Z"  # stored in UTC
        assert got[1].actor.person == "HT-7"
        # the decision record is untouched
        assert log.get(rec.decision_id).text == rec.text
        with pytest.raises(AuditError, match="no decision"):
            log.record_action("nope", ACTION, actor=ACTOR)
        assert len(log) == 3
        assert log.verify().ok


@pytest.mark.parametrize("change, message", [
    ({"form": None}, "form is required"),
    ({"outcome": "withheld"}, "withheld"),
    ({"consulted": ["none", "manager"]}, "none"),
    ({"at": "2026-06-01T10:00:00"}, "timezone"),
    ({"form": "carrier_pigeon"}, "form"),
    ({"reasons": ""}, "reasons"),
])
def test_invalid_actions_are_refused(change, message):
    from sharelaw.audit import Action

    with pytest.raises(ValidationError, match=message):
        Action.model_validate({**ACTION, **change})


def test_bundle_archived_once_and_required(tmp_path):
    (req, dec), = decided(1)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with AuditLog.open(url) as log:
        # the shipped bundle is archived without being passed
        log.record(dec, req, actor=ACTOR)
        log.record(dec, req, actor=ACTOR)
        assert log.bundle_hashes() == [dec.bundle_hash]
        other = sharelaw.Engine(sharelaw.Bundle.from_sources({k: v for k, v in engine().bundle.sources.items()
                                                            if not k.endswith("05_dp_duaa.yaml")}),
                                evaluator="reference")
        d2 = other.decide(req)
        with pytest.raises(AuditError, match="not archived"):
            log.record(d2, req, actor=ACTOR)
        with pytest.raises(AuditError, match="not the one"):
            log.record(d2, req, actor=ACTOR, bundle=engine().bundle)
        log.record(d2, req, actor=ACTOR, bundle=other.bundle)
        assert sorted(log.bundle_hashes()) == sorted({dec.bundle_hash, d2.bundle_hash})
        with pytest.raises(AuditError, match="does not answer"):
            log.record(dec, {**req, "as_at": "2019-01-01"}, actor=ACTOR)
        with pytest.raises(ValidationError):
            log.record(dec, req, actor={"agency": "", "role": "x"})
        assert log.verify().ok
        report = reproduce(log)
        assert report.ok and report.reproduced == 3


def test_open_urls(tmp_path):
    with pytest.raises(LogNotFound):
        AuditLog.open(str(tmp_path / "absent.db"), create=False)
    with pytest.raises(LogNotFound):
        AuditLog.open("mysql://x/y")
    with pytest.raises(LogNotFound):
        AuditLog.open("sqlite:/x.db")
    with AuditLog.open(str(tmp_path / "plain.db")) as log:
        assert len(log) == 0 and log.verify().ok and log.head() == (0, GENESIS_HASH)
    with AuditLog.open(f"sqlite:///{tmp_path / 'plain.db'}", create=False) as log:
        assert len(log) == 0
    (tmp_path / "notalog.db").write_bytes(b"")
    with pytest.raises(LogNotFound):
        AuditLog.open(str(tmp_path / "notalog.db"), create=False)


def test_export_jsonl_and_csv(tmp_path, capsys):
    pairs = decided(3)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with AuditLog.open(url) as log:
        recs = [log.record(d, r, actor=ACTOR) for r, d in pairs]
        log.record_action(recs[0].decision_id, ACTION, actor=ACTOR)
    assert main(["audit", "export", url, "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    prev = GENESIS_HASH
    for line in lines:  # checkable without sharelaw: drop 'hash', hash the canonical rest
        data = json.loads(line)
        h = data.pop("hash")
        assert "sha256:" + __import__("hashlib").sha256(
            json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest() == h
        assert data["prev_hash"] == prev
        prev = h
    out = tmp_path / "a.csv"
    assert main(["audit", "export", url, "--format", "csv", "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0]) == CSV_COLUMNS
    assert [r["kind"] for r in rows] == ["decision"] * 3 + ["action"]
    assert rows[0]["outcome"] == pairs[0][1].outcome.value
    assert rows[3]["action_form"] == "telephone" and rows[3]["action_consulted"] == "caldicott_guardian; local_protocol"
    assert rows[3]["action_reasons"] == ACTION["reasons"]


def test_cli_record_act_verify_show_replay(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ids = []
    for example in sorted((ROOT / "examples").glob("0*.json")):
        assert main(["audit", "record", str(example), "--log", url, "--agency", "a", "--role", "r",
                     "--format", "json"]) == 0
        ids.append(json.loads(capsys.readouterr().out)["decision_id"])
    action = tmp_path / "action.json"
    action.write_text(json.dumps(ACTION), encoding="utf-8")
    assert main(["audit", "act", url, ids[0], str(action), "--agency", "a", "--role", "r"]) == 0
    capsys.readouterr()
    assert main(["audit", "act", url, "nope", str(action), "--agency", "a", "--role", "r"]) == 2
    action.write_text(json.dumps({**ACTION, "form": "fax"}), encoding="utf-8")
    assert main(["audit", "act", url, ids[0], str(action), "--agency", "a", "--role", "r"]) == 2
    assert "action_invalid" in capsys.readouterr().err
    assert main(["audit", "verify", url]) == 0
    assert capsys.readouterr().out.startswith("OK: 7 record(s) (6 decision(s), 1 action(s))")
    assert main(["audit", "verify", url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["audit", "verify", str(tmp_path / "none.db")]) == 2
    assert "no audit log" in capsys.readouterr().err
    assert main(["audit", "show", url, ids[0]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record"]["decision_id"] == ids[0] and len(shown["actions"]) == 1
    assert main(["audit", "head", url]) == 0
    assert capsys.readouterr().out.startswith("7 sha256:")
    assert main(["replay", url]) == 0
    assert "6 reproduced byte for byte, 0 not" in capsys.readouterr().out
    assert main(["replay", url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["reproduced"] == 6
    assert main(["replay", url, "--against", "current", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == []
    assert main(["replay", url, "--against", "nonsense"]) == 2
    assert main(["replay", url, "--against", "sha256:" + "1" * 64]) == 2


def test_replay_reports_a_decision_that_does_not_reproduce(tmp_path):
    (req, dec), = decided(1)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    # a decision claiming another outcome, recorded honestly: the chain verifies, replay catches it
    forged = dec.model_copy(update={"summary": "something else"})
    with AuditLog.open(url) as log:
        log.record(forged, req, actor=ACTOR)
        assert log.verify().ok
        report = reproduce(log)
        assert not report.ok and report.mismatches[0].fields == ["summary"]
    assert main(["replay", url]) == 1
