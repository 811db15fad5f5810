"""Crash safety and concurrency of the audit log, on SQLite and PostgreSQL.

- A writer process appending records as fast as it can is killed with SIGKILL at a
  random moment, in several rounds (thousands of appends in all). Afterwards the chain
  verifies and every record whose ``record()`` had returned (the writer prints its id
  only then) is in the log.
- Several processes appending to one log at once produce one valid chain holding every
  record.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from test_audit_common import log_url, pg_url  # noqa: F401 - fixtures

from sharelaw import AuditLog

TESTS = Path(__file__).resolve().parent

WRITER = r"""
import sys
sys.path.insert(0, sys.argv[3])
from strategies import deterministic_request_dicts
from sharelaw import AuditLog, Engine

url, count, _tests, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
engine = Engine(evaluator="reference")
pairs = [(r, engine.decide(r)) for r in deterministic_request_dicts(25, seed=int(worker))]
actor = {"agency": "worker-" + worker, "role": "writer"}
log = AuditLog.open(url)
print("ready", flush=True)
i = 0
while count < 0 or i < count:
    req, dec = pairs[i % len(pairs)]
    rec = log.record(dec, req, actor=actor, bundle=engine.bundle)
    if i % 7 == 3:
        rec2 = log.record_action(rec.decision_id, {"outcome": "withheld", "at": "2026-06-01T10:00:00Z",
                                 "consent": "not_obtained", "reasons": "crash test"}, actor=actor)
        print(rec2.record_id, flush=False)
    print(rec.record_id, flush=True)
    i += 1
log.close()
"""


def _writer(url: str, count: int, worker: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, url, str(count), str(TESTS), str(worker)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _record_ids(log: AuditLog) -> set[str]:
    return {r.record_id for r in log.records()}


#: Appends a writer makes before it may be killed, in each of the rounds (6 x 170 > 1,000).
PER_ROUND = 170


def test_sigkill_during_appends_loses_nothing_returned(log_url):
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    reported: set[str] = set()
    appended = 0
    rounds = 6
    for round_ in range(rounds):
        proc = _writer(log_url, -1, round_)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        # Kill it at a random moment once it has appended enough to count: by records seen, not
        # by time, so that a slow (busy) machine cannot make the test fail for lack of appends.
        deadline = time.monotonic() + 120
        while len(lines) < PER_ROUND and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        complete = [line.strip() for line in lines if line.endswith("\n")]
        assert complete, "the writer appended nothing before it was killed"
        reported.update(complete)
        appended += len(complete)
        with AuditLog.open(log_url, create=False) as log:
            report = log.verify()
            assert report.ok, f"round {round_}: {report.render()}"
            missing = reported - _record_ids(log)
            assert not missing, f"round {round_}: {len(missing)} returned record(s) lost"
    with AuditLog.open(log_url, create=False) as log:
        assert len(log) >= appended
    assert appended >= 1000, f"only {appended} appends in {rounds} rounds"


@pytest.mark.parametrize("writers, each", [(4, 150)])
def test_concurrent_writers_make_one_chain(log_url, writers, each):
    AuditLog.open(log_url).close()  # created once; the writers race on appends, not on creation
    procs = [_writer(log_url, each, w) for w in range(writers)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    ids = {line for out, _ in outputs for line in out.split() if line != "ready"}
    per_writer_actions = sum(1 for i in range(each) if i % 7 == 3)
    assert len(ids) == writers * (each + per_writer_actions)
    with AuditLog.open(log_url, create=False) as log:
        report = log.verify()
        assert report.ok, report.render()
        assert report.records == len(ids) and _record_ids(log) == ids
        agencies = {r.actor.agency for r in log.records()}
        assert agencies == {f"worker-{w}" for w in range(writers)}
        # the writers' appends interleave: it is one chain, not four runs one after another
        kinds = [r.actor.agency for r in log.records()]
        assert sum(a != b for a, b in zip(kinds, kinds[1:])) > writers


def test_concurrent_creation_of_a_new_log(log_url):
    procs = [_writer(log_url, 5, w) for w in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with AuditLog.open(log_url, create=False) as log:
        assert log.verify().ok and log.verify().decisions == 20
