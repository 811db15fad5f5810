"""Replay by partitions (``--jobs N``, ``--dask``) gives exactly the serial verdict and report.

- The partitioned verification (each partition checks its own range, the driver the
  joins) reports the same problem, seq, message and counts as ``verify`` for every
  byte changed in every column of every record, every record deleted, and forgeries that
  keep the chain consistent (an action on a decision that is not in the log), with
  partitions of 1, 2 and 3 records so that every damage falls on a boundary somewhere.
- ``sharelaw replay --jobs 2`` (real processes) prints what the serial replay prints, on
  a log with drift (a decision rewritten and the chain re-hashed after it: it verifies,
  and is not reproduced), under ``--against current``, on the 0.2.0 log (version
  changes), and on a damaged log; and ``--dask local`` on a LocalCluster of 2 workers.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from test_audit_common import ACTION, ACTOR, decided, engine, log_url, pg_url  # noqa: F401 - fixtures
from test_audit_tamper import COLUMNS, Raw, _flip

from sharelaw import AuditLog
from sharelaw.audit import parallel
from sharelaw.audit.record import canonical, sha256
from sharelaw.cli import main

FIXTURE_V02 = Path(__file__).resolve().parent / "fixtures" / "audit_0.2" / "log.sqlite"


def _make_log(url: str, decisions: int = 6) -> None:
    with AuditLog.open(url) as log:
        recs = [log.record(d, r, actor=ACTOR, bundle=engine().bundle) for r, d in decided(decisions, seed=404)]
        log.record_action(recs[0].decision_id, ACTION, actor=ACTOR)  # an action on a decision partitions before
        log.record_action(recs[-1].decision_id, {**ACTION, "outcome": "withheld", "form": None, "what": None},
                          actor=ACTOR)
        log.record_action(recs[1].decision_id, ACTION, actor=ACTOR)


def _rewrite(raw: Raw, seq: int, change) -> None:
    """Change the body at ``seq`` and re-hash the chain from there on, head included: a
    forgery by someone with write access, which the chain alone does not reveal."""
    rows = raw.rows()
    prev = rows[seq - 2][2] if seq > 1 else "sha256:" + "0" * 64
    for s, body_text, _h, _rid, _kind, _did in rows[seq - 1:]:
        body = json.loads(body_text)
        if s == seq:
            change(body)
        body["prev_hash"] = prev
        text = canonical(body).decode()
        prev = sha256(text.encode())
        raw.run("UPDATE audit_records SET body = ?, hash = ?, decision_id = ? WHERE seq = ?",
                (text, prev, body["decision_id"], s))
    raw.run("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (len(rows), prev))


def _same_verdict(url: str, log: AuditLog) -> str:
    serial = log.verify().to_dict()
    for size in (1, 4):
        verdict, _ = parallel.run(url, mode=None, jobs=1, partition_size=size)
        assert verdict.to_dict() == serial, f"partitions of {size}: {verdict.to_dict()} != {serial}"
    return serial["problem"]["code"] if serial["problem"] else "ok"


def test_partitioned_verification_reports_what_serial_verification_does(tmp_path):
    log_url = f"sqlite:///{tmp_path / 'log.db'}"  # the reads are the store's own, tested on both stores elsewhere
    _make_log(log_url)
    raw = Raw(log_url)
    codes = set()
    try:
        with AuditLog.open(log_url, read_only=True) as log:
            assert _same_verdict(log_url, log) == "ok"
            rng = random.Random(5)
            rows = raw.rows()
            for row in rows:
                seq = row[0]
                for column, value in zip(COLUMNS, row[1:]):
                    for i in sorted({0, rng.randrange(len(value))}):
                        raw.set(seq, column, _flip(value, i))
                        codes.add(_same_verdict(log_url, log))
                        raw.set(seq, column, value)
                raw.run("DELETE FROM audit_records WHERE seq = ?", (seq,))
                codes.add(_same_verdict(log_url, log))
                raw.run("INSERT INTO audit_records (seq, body, hash, record_id, kind, decision_id) "
                        "VALUES (?, ?, ?, ?, ?, ?)", row)
            raw.run("UPDATE audit_head SET seq = 3 WHERE id = 1")
            codes.add(_same_verdict(log_url, log))
            raw.run("UPDATE audit_head SET seq = ? WHERE id = 1", (len(rows),))
            # an action on a decision that is not in the log, with the chain re-hashed after it
            _rewrite(raw, len(rows), lambda body: body.update(decision_id="e" * 32))
            codes.add(_same_verdict(log_url, log))
    finally:
        raw.close()
    assert {"hash_mismatch", "index_mismatch", "record_missing", "records_missing_at_end",
            "unknown_decision"} <= codes, codes


def _cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


def _serial_and_jobs(args: list[str], capsys) -> tuple[int, str]:
    serial = _cli(args + ["--no-progress"], capsys)
    assert _cli(args + ["--no-progress", "--jobs", "2", "--partition-size", "2"], capsys) == serial
    return serial


def test_replay_with_2_jobs_equals_serial_with_drift_and_under_current_rules(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    _make_log(url)
    raw = Raw(url)
    try:  # drift: decision seq 3 says refer where the engine said otherwise; the chain is re-hashed after it
        _rewrite(raw, 3, lambda body: body["decision"].update(summary="rewritten after the event"))
    finally:
        raw.close()
    code, out = _serial_and_jobs(["replay", url], capsys)
    assert code == 1 and "NOT REPRODUCED seq 3" in out
    code, out = _serial_and_jobs(["replay", url, "--against", "current", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["decisions"] == 6
    code, out = _serial_and_jobs(["replay", url, "--evaluator", "reference", "--format", "json"], capsys)
    assert code == 1 and json.loads(out)["reproduced"] == 5


def test_replay_with_2_jobs_equals_serial_on_the_0_2_log_and_on_damage(tmp_path, capsys):
    log = tmp_path / "v02.sqlite"
    shutil.copy(FIXTURE_V02, log)
    code, out = _serial_and_jobs(["replay", str(log)], capsys)
    assert code == 0 and "28 differ because the engine or schema version changed" in out
    raw = Raw(f"sqlite:///{log}")
    try:
        body = raw.rows()[11][1]
        raw.set(12, "body", _flip(body, 40))
    finally:
        raw.close()
    code, out = _serial_and_jobs(["replay", str(log), "--format", "json"], capsys)
    assert code == 1 and json.loads(out)["verify"]["problem"]["seq"] == 12


def test_replay_on_a_dask_local_cluster_equals_serial(tmp_path, capsys):
    pytest.importorskip("distributed")
    log = tmp_path / "v02.sqlite"
    shutil.copy(FIXTURE_V02, log)
    serial = _cli(["replay", str(log), "--no-progress", "--format", "json"], capsys)
    dask = _cli(["replay", str(log), "--no-progress", "--format", "json", "--dask", "local", "--jobs", "2",
                 "--partition-size", "10"], capsys)
    assert dask == serial and serial[0] == 0


def test_replay_options_are_checked(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    _make_log(url, 2)
    assert main(["replay", url, "--jobs", "0"]) == 2
    assert "--jobs takes a number of processes >= 1" in capsys.readouterr().err
