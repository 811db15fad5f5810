"""Benchmark the audit log: records appended per second with durability on (SQLite with
WAL and synchronous=FULL; PostgreSQL with synchronous_commit=on), verification, and
records replayed per second. Not a test: it prints figures and asserts nothing.
docs/performance.md records a run.

    python benchmarks/bench_audit.py                       # 10,000 records, SQLite only
    python benchmarks/bench_audit.py --pg postgresql://sharelaw:sharelaw@127.0.0.1:5432/sharelaw_test
    python benchmarks/bench_audit.py --count 2000 --quick

The decisions are made before the timed append loop (deciding is benchmarked by
bench_decide.py), from the seeded requests of tests/strategies.py, so an append is:
validate the request, dump the decision, canonical JSON, SHA-256, one durable transaction.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw import AuditLog, Engine, __version__  # noqa: E402
from sharelaw.audit.replay import reproduce  # noqa: E402


def run(url: str, pairs, engine: Engine, label: str) -> None:
    with AuditLog.open(url) as log:
        log.archive(engine.bundle)
        actor = {"agency": "bench", "role": "benchmark"}
        t0 = time.perf_counter()
        for req, dec in pairs:
            log.record(dec, req, actor=actor)
        append_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = log.verify()
        verify_s = time.perf_counter() - t0
        assert report.ok, report.render()
        t0 = time.perf_counter()
        replayed = reproduce(log)
        replay_s = time.perf_counter() - t0
        assert replayed.ok and replayed.reproduced == len(pairs)
    n = len(pairs)
    print(f"| {label} | {n:,} | {n / append_s:,.0f} | {append_s / n * 1e3:.2f} | "
          f"{n / verify_s:,.0f} | {n / replay_s:,.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--pg", metavar="URL", help="also benchmark PostgreSQL at this URL (a scratch schema is used)")
    args = parser.parse_args()
    print(f"sharelaw {__version__}; Python {platform.python_version()}; {platform.platform()}; "
          f"{os.cpu_count()} CPUs", flush=True)
    engine = Engine()
    requests = deterministic_request_dicts(args.count, seed=20240601)
    pairs = [(r, engine.decide(r)) for r in requests]
    print("| store | records | appended/s | ms per append | verified/s | replayed/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", pairs, engine, "SQLite (WAL, synchronous=FULL)")
    if args.pg:
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:8]
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
            try:
                sep = "&" if "?" in args.pg else "?"
                run(f"{args.pg}{sep}options={quote('-csearch_path=' + schema)}", pairs, engine,
                    "PostgreSQL 15 (synchronous_commit=on, TCP to localhost)")
            finally:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
    engine.close()


if __name__ == "__main__":
    main()
