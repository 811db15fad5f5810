"""Group commit: concurrent appends in one process share commits, and stay one durable chain.

- 64 threads appending to one log: every record is there once, the chain verifies, and
  fewer transactions were committed than records (the commits were shared).
- In one group, an action on a decision of the same group is accepted, and an action on
  a decision the log does not hold fails alone: the others in its group are committed.
- A process whose 16 threads append through group commits is killed with SIGKILL at a
  random moment, several times: every record whose ``record()`` had returned (the thread
  writes its id only then) is in the log, and the chain verifies.
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

from sharelaw import AuditLog, Engine
from sharelaw.audit import AuditError
from sharelaw.audit.store import Store
from strategies import deterministic_request_dicts

TESTS = Path(__file__).resolve().parent
ACTOR = {"agency": "group-commit", "role": "writer"}
WITHHELD = {"outcome": "withheld", "at": "2026-06-01T10:00:00Z", "consent": "not_obtained", "reasons": "test"}


@pytest.fixture(scope="module")
def pairs():
    engine = Engine(evaluator="reference")
    try:
        return engine.bundle, [(r, engine.decide(r)) for r in deterministic_request_dicts(40, seed=64)]
    finally:
        engine.close()


def in_one_group(log: AuditLog, work, n: int) -> None:
    """Run ``work(i)`` for i < n on n threads while the first group commit's leader is held
    back, so that the appends queue up behind it and are committed together."""
    gate = threading.Event()
    store = log.store
    real_begin = store._begin_append

    def slow_begin() -> None:
        gate.wait(5)
        real_begin()

    store._begin_append = slow_begin  # type: ignore[method-assign]
    try:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for w in workers:
            w.start()
        time.sleep(0.5)
        gate.set()
        for w in workers:
            w.join(timeout=60)
    finally:
        store._begin_append = real_begin  # type: ignore[method-assign]


def _count_commits(monkeypatch) -> list[int]:
    commits = [0]
    real = Store._commit

    def counting(self):
        commits[0] += 1
        return real(self)

    monkeypatch.setattr(Store, "_commit", counting)
    return commits


def test_64_threads_share_commits_and_make_one_chain(log_url, pairs, monkeypatch):
    bundle, made = pairs
    threads, each = 64, 8
    with AuditLog.open(log_url) as log:
        log.archive(bundle)
        commits = _count_commits(monkeypatch)
        ids: list[str] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(threads)

        def work(t: int) -> None:
            try:
                barrier.wait()
                for i in range(each):
                    req, dec = made[(t + i) % len(made)]
                    rec = log.record(dec, req, actor=ACTOR)
                    ids.append(rec.record_id)
                    if i % 4 == 1:
                        ids.append(log.record_action(rec.decision_id, WITHHELD, actor=ACTOR).record_id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=300)
        assert not errors, errors[0]
        assert len(ids) == threads * (each + each // 4) == len(set(ids))
        report = log.verify()
        assert report.ok, report.render()
        assert report.records == len(ids)
        assert {r.record_id for r in log.records()} == set(ids)
        assert commits[0] < len(ids), f"{commits[0]} commits for {len(ids)} records: no commit was shared"


def test_in_one_group_a_bad_record_fails_alone(log_url, pairs):
    bundle, made = pairs
    with AuditLog.open(log_url) as log:
        log.archive(bundle)
        first = log.record(made[0][1], made[0][0], actor=ACTOR)
        outcomes: dict[int, object] = {}

        def work(i: int) -> None:
            try:
                if i % 3 == 0:
                    outcomes[i] = log.record_action("f" * 32, WITHHELD, actor=ACTOR)  # no such decision
                elif i % 3 == 1:
                    outcomes[i] = log.record_action(first.decision_id, WITHHELD, actor=ACTOR)
                else:
                    outcomes[i] = log.record(made[i % len(made)][1], made[i % len(made)][0], actor=ACTOR)
            except AuditError as exc:
                outcomes[i] = exc

        in_one_group(log, work, 30)
        failed = sorted(i for i, o in outcomes.items() if isinstance(o, AuditError))
        assert failed == [i for i in range(30) if i % 3 == 0]
        assert all("no decision" in str(outcomes[i]) for i in failed)
        report = log.verify()
        assert report.ok, report.render()
        assert report.records == 1 + 20


WRITER = r"""
import os, sys, threading
sys.path.insert(0, sys.argv[3])
from strategies import deterministic_request_dicts
from sharelaw import AuditLog, Engine

url, threads, _tests, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
engine = Engine(evaluator="reference")
pairs = [(r, engine.decide(r)) for r in deterministic_request_dicts(25, seed=int(worker))]
actor = {"agency": "worker-" + worker, "role": "writer"}
log = AuditLog.open(url)
log.archive(engine.bundle)

def work(t):
    i = t
    while True:
        req, dec = pairs[i % len(pairs)]
        rec = log.record(dec, req, actor=actor)
        os.write(1, (rec.record_id + "\n").encode())   # acknowledged: only now reported
        if i % 5 == 0:
            act = log.record_action(rec.decision_id, {"outcome": "withheld", "at": "2026-06-01T10:00:00Z",
                                    "consent": "not_obtained", "reasons": "crash test"}, actor=actor)
            os.write(1, (act.record_id + "\n").encode())
        i += threads

os.write(1, b"ready\n")
for t in range(threads):
    threading.Thread(target=work, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_sigkill_during_group_commits_loses_nothing_acknowledged(log_url):
    AuditLog.open(log_url).close()
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    reported: set[str] = set()
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, log_url, "16", str(TESTS), str(round_)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        time.sleep(rng.uniform(0.5, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        acknowledged = {line.strip() for line in lines if line.endswith("\n")}
        assert len(acknowledged) > 16, "the writer acknowledged too little before it was killed"
        reported |= acknowledged
        with AuditLog.open(log_url, create=False) as log:
            report = log.verify()
            assert report.ok, f"round {round_}: {report.render()}"
            missing = reported - {r.record_id for r in log.records()}
            assert not missing, f"round {round_}: {len(missing)} acknowledged record(s) lost"


def test_a_record_id_chosen_by_the_caller_is_appended_once_even_within_one_group(log_url, pairs):
    """``record(record_id=...)`` (the service's Idempotency-Key): a second record with that id,
    in a later group or in the same one, fails alone with DuplicateRecord; the others stand."""
    from sharelaw.audit import DuplicateRecord

    bundle, made = pairs
    with AuditLog.open(log_url) as log:
        log.archive(bundle)
        chosen = "ab" * 16
        first = log.record(made[0][1], made[0][0], actor=ACTOR, record_id=chosen)
        assert first.decision_id == chosen
        with pytest.raises(DuplicateRecord):
            log.record(made[0][1], made[0][0], actor=ACTOR, record_id=chosen)
        with pytest.raises(ValueError):
            log.record(made[0][1], made[0][0], actor=ACTOR, record_id="not-hex")
        outcomes: dict[int, object] = {}
        other = "cd" * 16

        def work(i: int) -> None:
            try:
                rid = other if i % 2 == 0 else None  # ten attempts at one id, ten with their own
                outcomes[i] = log.record(made[i % len(made)][1], made[i % len(made)][0], actor=ACTOR, record_id=rid)
            except AuditError as exc:
                outcomes[i] = exc

        in_one_group(log, work, 20)
        duplicates = [i for i, o in outcomes.items() if isinstance(o, DuplicateRecord)]
        assert len(duplicates) == 9 and all(i % 2 == 0 for i in duplicates)
        assert sum(1 for o in outcomes.values() if not isinstance(o, AuditError)) == 11
        assert other in log
        report = log.verify()
        assert report.ok, report.render()
        assert report.records == 1 + 11
