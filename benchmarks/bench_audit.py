"""Benchmark the audit log: records appended per second with durability on (SQLite with
WAL and synchronous=FULL; PostgreSQL with synchronous_commit=on), verification, and
records replayed per second. Not a test: it prints figures and asserts nothing.
docs/performance.md records a run.

    python benchmarks/bench_audit.py                       # 10,000 records, SQLite only
    python benchmarks/bench_audit.py --pg postgresql://sharelaw:sharelaw@127.0.0.1:5432/sharelaw_test
    python benchmarks/bench_audit.py --count 2000 --callers 64 --jobs 2

The decisions are made before the timed append loop (deciding is benchmarked by
bench_decide.py), from the seeded requests of tests/strategies.py, so an append is:
validate the request (or not, when it is passed as the SharingRequest the engine was given),
dump the decision, canonical JSON, SHA-256, and its share of a durable group commit. Printed
side by side: one caller and --callers threads, on each store, with the ratio to one caller;
then replay (serial per evaluator, and --jobs N) in decisions/s per core.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw import AuditLog, Engine, __version__, parse_request  # noqa: E402
from sharelaw.audit.replay import reproduce  # noqa: E402


GROUPS: list[tuple[int, float, float]] = []  # (records, s in the group's transaction, s in its COMMIT)


def _timed_groups(store) -> None:
    """Record each group commit's size and time on this store (instance attributes only)."""
    group, commit = store._append_group, store._commit
    in_commit = [0.0]

    def timed_commit() -> None:
        t = time.perf_counter()
        commit()
        in_commit[0] = time.perf_counter() - t

    def timed_group(batch) -> None:
        t = time.perf_counter()
        group(batch)
        GROUPS.append((len(batch), time.perf_counter() - t, in_commit[0]))

    store._commit, store._append_group = timed_commit, timed_group


def _append(url: str, pairs, engine: Engine, callers: int, parsed: bool) -> tuple[float, list[float]]:
    """Append every pair with ``callers`` threads; (records/s, per-record latencies in s)."""
    with AuditLog.open(url) as log:
        log.archive(engine.bundle)
        GROUPS.clear()
        _timed_groups(log.store)
        actor = {"agency": "bench", "role": "benchmark"}
        work = [(parse_request(r) if parsed else r, d) for r, d in pairs]
        latencies: list[float] = []
        barrier = threading.Barrier(callers + 1)

        def caller(k: int) -> None:
            barrier.wait()
            mine = []
            for req, dec in work[k::callers]:
                t = time.perf_counter()
                log.record(dec, req, actor=actor)
                mine.append(time.perf_counter() - t)
            latencies.extend(mine)

        threads = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        assert log.verify().ok and len(log) == len(pairs)
    return len(pairs) / elapsed, latencies


def _disk_ceiling(url: str, size: int, group: int = 1024, seconds: float = 3.0) -> float:
    """Rows/s of ``size`` bytes that SQLite itself commits on this disk (WAL, synchronous=FULL)
    in transactions of ``group`` rows: the ceiling of any append path, measured in the same run."""
    import sqlite3

    conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
    body = "x" * size
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t (body) VALUES (?)", [(body,)] * group)
        conn.execute("COMMIT")
        n += group
    conn.close()
    return n / (time.perf_counter() - t0)


def _replay_rates(url: str, jobs: int, evaluators: list[str]) -> list[tuple[str, float]]:
    from sharelaw.audit import parallel

    out = []
    with AuditLog.open(url, read_only=True) as log:
        n = log.verify().decisions
        for evaluator in evaluators:
            t0 = time.perf_counter()
            report = reproduce(log, evaluator=evaluator)
            rate = n / (time.perf_counter() - t0)
            assert report.ok, report.mismatches[:1]
            out.append((f"replay serial, evaluator {evaluator}", rate))
    t0 = time.perf_counter()
    verdict, report = parallel.run(url, mode="reproduce", jobs=jobs)
    assert verdict.ok and report is not None and report.ok
    out.append((f"replay --jobs {jobs}, evaluator durable (per process)", n / (time.perf_counter() - t0) / jobs))
    return out


def _store_url(kind: str, tmp: str, pg: str | None, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{Path(tmp) / (name + '.db')}"
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    SCHEMAS.append(schema)
    sep = "&" if "?" in pg else "?"  # type: ignore[operator]
    return f"{pg}{sep}options={quote('-csearch_path=' + schema)}"


SCHEMAS: list[str] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--pg", metavar="URL", help="also benchmark PostgreSQL at this URL (a scratch schema is used)")
    args = parser.parse_args()
    print(f"sharelaw {__version__}; Python {platform.python_version()}; {platform.platform()}; "
          f"{os.cpu_count()} CPUs", flush=True)
    engine = Engine()
    requests = deterministic_request_dicts(args.count, seed=20240601)
    pairs = [(r, engine.decide(r)) for r in requests]
    single = pairs[: max(200, args.count // 10)]
    stores = ["sqlite"] + (["postgres"] if args.pg else [])
    print("| store | callers | request passed as | records | appended/s | ratio to 1 caller | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    replay_url = None
    groups_line: list[str] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        try:
            for kind in stores:
                base = None
                for callers, parsed, n in ((1, False, single), (1, True, single), (args.callers, False, pairs),
                                           (args.callers, True, pairs)):
                    url = _store_url(kind, tmp, args.pg, f"{kind}-{callers}-{parsed}")
                    rate, lat = _append(url, n, engine, callers, parsed)
                    lat.sort()
                    base = base or rate
                    print(f"| {kind} | {callers} | {'SharingRequest' if parsed else 'dict'} | {len(n):,} | "
                          f"{rate:,.0f} | {rate / base:.1f}x | {lat[len(lat) // 2] * 1e3:.2f} | "
                          f"{lat[int(len(lat) * 0.99)] * 1e3:.2f} |", flush=True)
                    if kind == "sqlite" and callers > 1 and parsed:
                        replay_url = url
                    if callers > 1:
                        records = sum(g[0] for g in GROUPS)
                        in_tx, in_commit = sum(g[1] for g in GROUPS), sum(g[2] for g in GROUPS)
                        groups_line.append(f"| {kind} | {'SharingRequest' if parsed else 'dict'} | {len(GROUPS):,} | "
                                           f"{records / len(GROUPS):.1f} | {in_tx / len(GROUPS) * 1e3:.2f} | "
                                           f"{in_commit / len(GROUPS) * 1e3:.2f} | {in_tx * rate / records * 100:.0f}% |")
                if kind == "sqlite":
                    with AuditLog.open(replay_url, read_only=True) as log:  # type: ignore[arg-type]
                        size = sum(len(r.text) for r in log.records()) // len(log)
                    ceiling = _disk_ceiling(_store_url("sqlite", tmp, None, "ceiling"), size)
                    print(f"| sqlite itself, rows of {size:,} bytes (the mean record), 1,024 a transaction | - | - | "
                          f"- | {ceiling:,.0f} | {ceiling / base:.1f}x | - | - |", flush=True)
            print()
            print(f"| group commits, {args.callers} callers: store | request passed as | groups | records a group | "
                  "ms a group (BEGIN to COMMIT done) | ms in COMMIT | share of the run in a group |")
            print("|---|---|---|---|---|---|---|")
            for line in groups_line:
                print(line, flush=True)
            assert replay_url is not None
            evaluators = [e for e in ("durable", "compiled", "reference") if _has_evaluator(e)]
            print()
            print(f"| replay ({args.count:,} decisions, SQLite) | decisions/s per core | ratio to serial durable |")
            print("|---|---|---|")
            rates = _replay_rates(replay_url, args.jobs, evaluators)
            for label, rate in rates:
                print(f"| {label} | {rate:,.0f} | {rate / rates[0][1]:.2f}x |", flush=True)
            if "compiled" not in evaluators:
                print("(no compiled evaluator in this build: replay measured on durable and reference)")
        finally:
            if SCHEMAS:
                import psycopg

                with psycopg.connect(args.pg, autocommit=True) as admin:
                    for schema in SCHEMAS:
                        admin.execute(f"DROP SCHEMA {schema} CASCADE")
    engine.close()


def _has_evaluator(name: str) -> bool:
    import typing

    return name in typing.get_args(typing.get_type_hints(Engine.__init__).get("evaluator"))


if __name__ == "__main__":
    main()
