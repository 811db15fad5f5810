"""Benchmark ``sharelaw report``: time and peak memory over audit logs of growing size.
Not a test: it prints figures and asserts nothing. docs/performance.md records a run.

    python benchmarks/bench_report.py                         # stages of 25,000 records up to 100,000
    python benchmarks/bench_report.py --stage 50000 --stages 4 --dir /dev/shm

One SQLite log is grown in stages, each a further year of interactions by the four
planted agencies of tests/report_generator.py, written through the real AuditLog API
(``record`` and ``record_action``; a few hundred distinct requests decided once). After
each stage the report is run as a fresh process (``python -m sharelaw report LOG
--format json``), its wall time and peak resident memory (``ru_maxrss`` from ``wait4``)
measured; and the report's own count of the decisions it held at once. Memory flat in
log size means the peak RSS stays the same while the log grows.

``--dir`` puts the log on a RAM file system to make the appends fast (the SQLite store
is the real one with ``synchronous=FULL``; only the fsyncs are at memory speed); the
report reads the file the same way wherever it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from report_generator import Pool, generate  # noqa: E402

from sharelaw import Engine, __version__  # noqa: E402


def measure_child(args: list[str]) -> tuple[float, int, str]:
    """As ``measure``, collecting the rusage with wait4 before Popen reaps the child."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "sharelaw", *args], env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"sharelaw {' '.join(args)} failed: {err.read().decode()}")
        return wall, usage.ru_maxrss, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=int, default=25_000, help="records added per stage (about)")
    parser.add_argument("--stages", type=int, default=4)
    parser.add_argument("--dir", default=None, help="where the log is written (default: a temporary directory)")
    parser.add_argument("--html", action="store_true", help="also time the HTML report on the largest log")
    args = parser.parse_args()

    print(f"sharelaw {__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPU(s)", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="sharelaw-bench-report-", dir=args.dir))
    path = folder / "log.db"
    engine = Engine()
    pool = Pool(engine)
    per_agency = max(40, round(args.stage / 8.08))  # about 2.02 records per interaction, 4 agencies
    print("| records | log size (MB) | appended/s | report (s) | records/s | peak RSS (MB) | decisions held at once |")
    print("|---|---|---|---|---|---|---|", flush=True)
    total = 0
    for stage in range(args.stages):
        start = datetime(2020 + stage, 1, 1, tzinfo=timezone.utc)
        t0 = time.perf_counter()
        summary = generate(f"sqlite:///{path}", per_agency, pool=pool, start=start, days=365, seed=100 + stage)
        append_s = time.perf_counter() - t0
        total += summary["records"]
        wall, rss, out = measure_child(["report", str(path), "--format", "json"])
        data = json.loads(out)
        assert data["log"]["records"] == total
        held = data["log"].get("peak_decisions_held")
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        print(f"| {total:,} | {size:,.0f} | {summary['records'] / append_s:,.0f} | {wall:.1f} | {total / wall:,.0f} | "
              f"{rss / 1024:.0f} | {held if held is not None else '-'} |", flush=True)
    if args.html:
        html = folder / "report.html"
        wall, rss, _ = measure_child(["report", str(path), "--html", str(html)])
        print(f"HTML report on {total:,} records: {wall:.1f} s, peak RSS {rss / 1024:.0f} MB, "
              f"{html.stat().st_size / 1e3:.0f} kB", flush=True)
    engine.close()
    print(f"log kept at {path} (delete it when done)")


if __name__ == "__main__":
    main()
