"""Replay across processes (``--jobs N``) or on a Dask cluster (``--dask``), by ``seq`` range.

The log is cut into partitions of consecutive sequence numbers. Each partition is read,
verified and replayed by a worker of its own, with its own read-only connection: the
worker checks every record of its range as ``verify`` does (hash, canonical form, fields,
bundles, duplicate decision ids and actions on decisions within the range), except what
needs the records before its range: the first record's link (``prev_hash``) to the record
before, decision ids that may repeat one of an earlier range, and actions on decisions of
an earlier range. It hands those to the driver (``merge_parts``), which checks the joins
in seq order and finds the problem a serial ``verify`` would have reported first, with
the same code, message, seq and counts. Only a log that verifies is replayed: the
partitions' replay reports are then merged in seq order into the serial report.

Workers are plain functions of picklable arguments (``replay_partition``), so the same
code runs in a ``ProcessPoolExecutor`` or as Dask tasks; each worker opens the log itself,
from its URL: SQLite on a shared file, or PostgreSQL.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, Iterator

from .chain import Problem, Row, VerifyReport, _check_row, _Damage, chain_broken, check_head
from .chain import duplicate_id, unknown_decision
from .record import GENESIS_HASH, StoredRecord
from .replay import ReplayReport, _Engines, _bundles_of, compare_one, merge, reproduce_one

#: Check stages, in the order ``_check_row`` makes them: at one seq, the earlier stage wins.
_STAGE = {code: 0 for code in ("record_missing", "sequence_broken", "body_not_json", "body_not_canonical",
                                "hash_mismatch", "sequence_mismatch")}
_STAGE.update({"chain_broken": 1, "format_unknown": 2, "kind_unknown": 2, "fields_wrong": 2,
               "index_mismatch": 2, "decision_inconsistent": 2, "duplicate_id": 3, "bundle_missing": 4,
               "bundle_altered": 4, "unknown_decision": 5})
READ_BATCH = 500

# A worker (a process of --jobs, a Dask worker) replays many partitions: it builds each
# engine and rebuilds each archived bundle once, not once per partition. Bundles are
# content-addressed, so the cache is keyed by hash alone.
_cache_lock = threading.Lock()
_bundles: dict[str, Any] = {}
_engines: dict[tuple[str, str, bool], Any] = {}


class _WorkerEngines(_Engines):
    """``_Engines`` over the worker's cache (closed when the worker ends, not per partition)."""

    def get(self, bundle_hash: str, evaluator: str, cross_check: bool = True) -> Any:
        from ..engine.stages import Engine

        key = (bundle_hash, evaluator, cross_check)
        with _cache_lock:
            engine = _engines.get(key)
        if engine is None:
            engine = Engine(self._bundle_for(bundle_hash), evaluator=evaluator,  # type: ignore[arg-type]
                            cross_check=cross_check)
            with _cache_lock:
                engine = _engines.setdefault(key, engine)
        return engine

    def close(self) -> None:
        pass


def _cached_bundle(bundle_hash: str, build: Any) -> Any:
    with _cache_lock:
        found = _bundles.get(bundle_hash)
    if found is None:
        found = build()
        with _cache_lock:
            found = _bundles.setdefault(bundle_hash, found)
    return found


@dataclass
class PartResult:
    """What a worker found in its range [lo, hi]."""

    lo: int
    hi: int
    first_prev: str | None = None  # the body's prev_hash of record lo, when lo got that far in its checks
    first_rid: str | None = None
    first_prev_checked: bool = False  # the worker knew the hash before lo (lo == 1) and checked the link
    last_hash: str | None = None
    records: int = 0  # records checked, before any problem
    decisions: list[tuple[int, str]] = field(default_factory=list)  # (seq, decision id), in order
    unresolved: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, record id, decision id)
    problem: Problem | None = None
    problem_decision: str | None = None  # the decision id of the record with a bundle problem
    replay: ReplayReport | None = None


def partitions(last: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive seq ranges covering 1..last (fewer if the log is short)."""
    parts = max(1, min(parts, last))
    size, extra = divmod(last, parts)
    out, lo = [], 1
    for i in range(parts):
        hi = lo + size - 1 + (1 if i < extra else 0)
        out.append((lo, hi))
        lo = hi + 1
    return out


def _rows(store: Any, lo: int, hi: int) -> Iterator[Row]:
    """The rows from seq lo to hi, and the first row past hi (so that a gap at the end of the
    range is seen as a serial read would see it)."""
    after = lo - 1
    while True:
        batch = store._read(lambda: store._all(
            "SELECT seq, record_id, kind, decision_id, body, hash FROM audit_records WHERE seq > ? ORDER BY seq "
            f"LIMIT {READ_BATCH}", (after,)))
        if not batch:
            return
        for r in batch:
            row = Row(int(r[0]), r[1], r[2], r[3], r[4], r[5])
            yield row
            if row.seq > hi:
                return
        after = int(batch[-1][0])


def replay_partition(url: str, lo: int, hi: int, mode: str | None, against: Any = None,
                     evaluator: str | None = None) -> PartResult:
    """Verify the records lo..hi of the log at ``url`` and, if ``mode`` is ``reproduce`` or
    ``against``, replay its decisions (``against``: the sources of the bundle to replay under,
    or its hash in the log). The unit of work of ``--jobs`` and ``--dask``."""
    from . import AuditLog
    from ..rules.bundle import Bundle

    result = PartResult(lo, hi)
    with AuditLog.open(url, read_only=True) as log:
        store = log.store
        from .chain import sources_hash

        bundle: Bundle | None = None
        if mode == "against":
            key = against if isinstance(against, str) else sources_hash(against)
            bundle = _cached_bundle(key, lambda: log.bundle(against) if isinstance(against, str)
                                    else Bundle.from_sources(against))
        report = ReplayReport(mode=mode or "reproduce", against=bundle.content_hash if bundle else None)
        from_log = _bundles_of(log)
        engines = _WorkerEngines((lambda _h: bundle) if bundle is not None
                                 else (lambda h: _cached_bundle(h, lambda: from_log(h))))
        decisions: set[str] = set()
        bundles_ok: set[str] = set()
        prev: str | None = GENESIS_HASH if lo == 1 else None
        result.first_prev_checked = lo == 1
        expected = lo
        try:
            with store.snapshot():
                for row in _rows(store, lo, hi):
                    if row.seq > hi and expected > hi:
                        break
                    try:
                        body = _check_row(row, expected, prev, decisions, bundles_ok, store.bundle_text,
                                          result.unresolved)
                    except _Damage as damage:
                        result.problem = damage.problem
                        if damage.problem.seq == lo and _STAGE.get(damage.problem.code, 0) > 1:
                            result.first_prev = _first_prev(row)
                            result.first_rid = damage.problem.record_id
                        if damage.problem.code in ("bundle_missing", "bundle_altered"):
                            result.problem_decision = damage.problem.record_id
                        break
                    if row.seq == lo:
                        result.first_prev = body.get("prev_hash")
                        result.first_rid = body.get("record_id")
                    if row.kind == "decision":
                        result.decisions.append((row.seq, row.decision_id))
                        if mode is not None:
                            rec = StoredRecord(row.seq, row.hash, row.body, body)
                            if bundle is not None:
                                compare_one(report, rec, engines, bundle, evaluator)
                            else:
                                reproduce_one(report, rec, engines, evaluator)
                    result.records += 1
                    prev = row.hash
                    result.last_hash = row.hash
                    expected += 1
                    if expected > hi:
                        break
        finally:
            engines.close()
        result.replay = report if mode is not None else None
    return result


def _first_prev(row: Row) -> str | None:
    import json

    try:
        value = json.loads(row.body).get("prev_hash")
        return value if isinstance(value, str) else repr(value)
    except (ValueError, AttributeError):
        return None


def merge_parts(parts: list[PartResult], head: tuple[int, str] | None, bundle_count: int) -> VerifyReport:
    """The verdict a serial ``verify`` gives, from the partitions' results (in seq order)."""
    report = VerifyReport(bundles=bundle_count)
    prev = GENESIS_HASH
    seen: set[str] = set()
    last = 0
    for part in parts:
        candidates: list[tuple[int, int, Problem]] = []
        if part.problem is not None:
            candidates.append((part.problem.seq or part.lo, _STAGE.get(part.problem.code, 0), part.problem))
        if not part.first_prev_checked and part.first_prev is not None and part.first_prev != prev:
            candidates.append((part.lo, 1, chain_broken(part.lo, part.first_prev, prev, part.first_rid).problem))
        dup = [(s, d) for s, d in part.decisions if d in seen]
        if part.problem_decision is not None and part.problem_decision in seen and part.problem is not None:
            dup.append((part.problem.seq or part.lo, part.problem_decision))
        if dup:
            s, d = min(dup)
            candidates.append((s, 3, duplicate_id(s, d).problem))
        unknown = [(s, rid, did) for s, rid, did in part.unresolved if did not in seen]
        if unknown:
            s, rid, did = unknown[0]
            candidates.append((s, 5, unknown_decision(s, rid, did).problem))
        if candidates:
            seq, _stage, problem = min(candidates, key=lambda c: (c[0], c[1]))
            before = sum(1 for s, _ in part.decisions if s < seq)
            report.decisions += before
            report.actions += (seq - part.lo) - before
            report.records += seq - part.lo
            report.problem = problem
            return report
        report.records += part.records
        report.decisions += len(part.decisions)
        report.actions += part.records - len(part.decisions)
        seen.update(d for _, d in part.decisions)
        if part.last_hash is not None:
            prev = part.last_hash
            last = part.lo + part.records - 1
    try:
        check_head(head, last, prev)
    except _Damage as damage:
        report.problem = damage.problem
        return report
    report.head_seq, report.head_hash = last, prev
    return report


@dataclass
class Plan:
    """What the driver read, on one snapshot, before the workers start."""

    last: int
    head: tuple[int, str] | None
    bundles: int
    structure: str | None


def plan(url: str) -> Plan:
    from . import AuditLog

    with AuditLog.open(url, read_only=True) as log:
        with log.store.snapshot():
            structure = log.store.structure_problem()
            row = log.store._one("SELECT MAX(seq) FROM audit_records")
            return Plan(int(row[0] or 0), log.store.head(), len(log.store.bundle_hashes()), structure)


def run(url: str, *, mode: str | None, against: Any = None, evaluator: str | None = None, jobs: int = 2,
        dask: str | None = None, partition_size: int = 0) -> tuple[VerifyReport, ReplayReport | None]:
    """Verify and (if ``mode``) replay the log at ``url`` in partitions: on ``jobs`` local
    processes, or on the Dask cluster at ``dask`` (a scheduler address, or ``local`` for a
    LocalCluster). Returns the verdict (as ``verify`` gives it) and, if the log verified,
    the merged replay report (as a serial replay gives it)."""
    from . import damaged_report

    p = plan(url)
    if p.structure is not None:
        return damaged_report(p.structure), None
    if p.last == 0:
        parts: list[PartResult] = []
    else:
        count = max(jobs, -(-p.last // partition_size) if partition_size else jobs * 4)
        ranges = partitions(p.last, count)
        if dask is not None:
            parts = _on_dask(dask, url, ranges, mode, against, evaluator, jobs)
        elif jobs <= 1:
            parts = [replay_partition(url, lo, hi, mode, against, evaluator) for lo, hi in ranges]
        else:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(replay_partition, url, lo, hi, mode, against, evaluator) for lo, hi in ranges]
                parts = [f.result() for f in futures]
    verdict = merge_parts(parts, p.head, p.bundles)
    if not verdict.ok or mode is None:
        return verdict, None
    reports = [part.replay for part in parts if part.replay is not None]
    if not reports:
        from ..rules.bundle import Bundle

        bundle_hash = None
        if mode == "against":
            bundle_hash = against if isinstance(against, str) else Bundle.from_sources(against).content_hash
        return verdict, ReplayReport(mode=mode, against=bundle_hash)
    return verdict, merge(reports)


def _on_dask(address: str, url: str, ranges: list[tuple[int, int]], mode: str | None, against: Any,
             evaluator: str | None, jobs: int) -> list[PartResult]:
    from distributed import Client, LocalCluster  # ImportError without sharelaw[distributed]: the CLI says so
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,  # type: ignore[no-untyped-call]
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        client = Client(address)  # type: ignore[no-untyped-call]
    try:
        futures = [client.submit(replay_partition, url, lo, hi, mode, against, evaluator, pure=False)
                   for lo, hi in ranges]
        return list(client.gather(futures))  # type: ignore[no-untyped-call]
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
