"""Benchmark cold start: a new process that decides one request, ``import sharelaw``, and
``Bundle.load`` with and without the parse cache, against sharelaw 0.3.0 in the same run.

Not a test: it prints figures and asserts nothing. docs/performance.md (## Cold start)
records a run.

    python benchmarks/bench_cold.py              # 15 runs of each configuration
    python benchmarks/bench_cold.py --runs 40
    python benchmarks/bench_cold.py --baseline ee6fab9

Every figure is a new process (``python ...``, as a user runs it, with its modules' bytecode
already compiled, as an installed package has it), timed from fork to exit by this script; the configurations are run interleaved (one of each, then again), so that
a busy machine slows them alike, and the median and the fastest run are printed, with the
ratio of each median to 0.3.0's, and the median CPU time (user + system) of each process,
which a busy machine inflates far less than the wall time, with its ratio to 0.3.0's (commit ``--baseline``, extracted from git into a temporary
folder with ``git archive`` and run with ``PYTHONPATH``). Figures in milliseconds.

Configurations:

- ``python -c pass``           the interpreter alone: the floor under every figure
- ``import sharelaw``          ``python -c "import sharelaw"``
- ``decide``                   ``python -m sharelaw decide examples/01-*.json``, the parse
  cache warm (its usual state: every run after the first)
- ``decide, cache cold``       the same with an empty cache folder (the first run after an
  install or an edit: the files are parsed, then cached)
- ``decide, no cache``         ``SHARELAW_NO_CACHE=1``
- ``Bundle.load`` (cache / no cache): measured inside a new process, after its imports
- phases of a cold decide (this commit): imports, ``Bundle.load``, ``Engine()``, ``decide``

``Engine()`` compiles every date segment of every stage into durable-rules rulesets when
it starts (``engine/durable.py``, ``prepare``), so that an engine limit surfaces at once;
``sharelaw decide`` builds ``Engine(prepare="lazy")``, which compiles only the segments its
request reaches. ``library: Engine() + decide`` is the eager engine a long-lived caller
builds, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/01-council-health-data-to-marketing-company.json"
GOAL_DECIDE_MS = 300.0
GOAL_IMPORT_MS = 150.0

_LOAD = """
import sys, time
from sharelaw.rules.bundle import Bundle
kw = {} if sys.argv[1] == "default" else {"cache": sys.argv[1] == "cache"}
t = time.perf_counter()
Bundle.load(**kw)
print(time.perf_counter() - t)
"""

_PHASES = """
import json, time
t0 = time.perf_counter()
import sharelaw.cli
from sharelaw.engine.pipeline import Engine
from sharelaw.rules.bundle import Bundle
t1 = time.perf_counter()
bundle = Bundle.load()
t2 = time.perf_counter()
engine = Engine(bundle)
t3 = time.perf_counter()
with open(%r, encoding="utf-8") as f:
    engine.decide(json.load(f))
t4 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "Bundle.load": t2 - t1, "Engine()": t3 - t2, "decide()": t4 - t3}))
""" % EXAMPLE

_EAGER = """
import json
from sharelaw import Engine
Engine().decide(json.load(open(%r, encoding="utf-8")))
""" % EXAMPLE


CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list[str], env: dict[str, str], cwd: Path, label: str | None = None) -> tuple[float, str]:
    """Wall time of one process and its output; its CPU time (user + system) goes to ``CPU``."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr}")
    if label is not None:
        CPU.setdefault(label, []).append(_children_cpu() - cpu)
    return elapsed, done.stdout


def extract(commit: str, into: Path) -> Path:
    """The baseline's src/, rulesets/ and examples/ from git, without touching the worktree."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src", "rulesets", "examples"],
                             capture_output=True, check=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def git_head() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", default="ee6fab9", help="the commit compared against (0.3.0)")
    args = parser.parse_args()

    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="sharelaw-bench-cold-"))
    try:
        old = extract(args.baseline, work / "baseline")
        # Bytecode is written (as an installed package has it), into a folder of the run's own
        # so the checkout stays clean: PYTHONDONTWRITEBYTECODE would make every run compile
        # every module from source (~75 ms here).
        base_env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "SHARELAW_NO_CACHE", "SHARELAW_CACHE_DIR", "SHARELAW_PURE_YAML",
                                 "PYTHONDONTWRITEBYTECODE")}
        base_env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        new_env = {**base_env, "PYTHONPATH": str(ROOT / "src"), "SHARELAW_CACHE_DIR": str(work / "cache")}
        old_env = {**base_env, "PYTHONPATH": str(old / "src")}
        nocache_env = {**new_env, "SHARELAW_NO_CACHE": "1"}
        cold_dir = work / "cold-cache"

        def cold_env() -> dict[str, str]:
            shutil.rmtree(cold_dir, ignore_errors=True)
            return {**new_env, "SHARELAW_CACHE_DIR": str(cold_dir)}

        decide = [py, "-m", "sharelaw", "decide", EXAMPLE]
        # (label, argv, env or a function giving it, cwd, in-process figure?)
        configs: list[tuple[str, list[str], dict[str, str] | Callable[[], dict[str, str]], Path, bool]] = [
            ("python -c pass", [py, "-c", "pass"], new_env, ROOT, False),
            ("import sharelaw (0.3.0)", [py, "-c", "import sharelaw"], old_env, old, False),
            ("import sharelaw", [py, "-c", "import sharelaw"], new_env, ROOT, False),
            ("decide (0.3.0)", decide, old_env, old, False),
            ("decide", decide, new_env, ROOT, False),
            ("decide, cache cold", decide, cold_env, ROOT, False),
            ("decide, no cache", decide, nocache_env, ROOT, False),
            ("library: Engine() + decide (eager)", [py, "-c", _EAGER], new_env, ROOT, False),
            ("Bundle.load (0.3.0)", [py, "-c", _LOAD, "default"], old_env, old, True),
            ("Bundle.load, cache", [py, "-c", _LOAD, "cache"], new_env, ROOT, True),
            ("Bundle.load, no cache", [py, "-c", _LOAD, "nocache"], new_env, ROOT, True),
        ]
        run_once(decide, new_env, ROOT)  # warm the cache (and the OS's file cache) once
        run_once(decide, old_env, old)
        times: dict[str, list[float]] = {label: [] for label, *_ in configs}
        phases: list[dict[str, float]] = []
        load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
        for _ in range(args.runs):
            for label, argv, env, cwd, inner in configs:
                elapsed, out = run_once(argv, env() if callable(env) else env, cwd, None if inner else label)
                times[label].append(float(out.strip()) if inner else elapsed)
            phases.append(json.loads(run_once([py, "-c", _PHASES], new_env, ROOT)[1]))
        load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import yaml

    print(f"sharelaw cold start, {args.runs} runs each, interleaved; commit {git_head()} against "
          f"{args.baseline} (0.3.0)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
          f"Python {platform.python_version()}; PyYAML {yaml.__version__} "
          f"({'with' if yaml.__with_libyaml__ else 'without'} libyaml)")
    if load_before and load_after:
        print(f"load average at start {load_before[0]:.2f}, at end {load_after[0]:.2f} "
              "(a busy machine: compare the ratios, not the absolute figures)")
    print()
    print(f"{'configuration':36} {'median ms':>10} {'fastest ms':>11} {'vs 0.3.0':>9} {'CPU ms':>8} {'vs 0.3.0':>9}")
    baselines = {"import sharelaw": "import sharelaw (0.3.0)", "decide": "decide (0.3.0)",
                 "Bundle.load": "Bundle.load (0.3.0)"}
    medians = {label: statistics.median(v) * 1000 for label, v in times.items()}
    cpu = {label: statistics.median(v) * 1000 for label, v in CPU.items()}
    for label, values in times.items():
        base = next((b for prefix, b in baselines.items() if label.startswith(prefix) and "0.3.0" not in label), None)
        ratio = f"{medians[label] / medians[base]:8.2f}x" if base else ""
        if label in cpu:  # a whole process (not for Bundle.load, timed inside one)
            cpu_ratio = f"{cpu[label] / cpu[base]:8.2f}x" if base else ""
            tail = f" {cpu[label]:8.1f} {cpu_ratio:>9}"
        else:
            tail = ""
        print(f"{label:36} {medians[label]:10.1f} {min(values) * 1000:11.1f} {ratio:>9}{tail}")
    print()
    print("phases of a cold decide (this commit, cache warm; medians, ms):")
    for name in phases[0]:
        print(f"  {name:14} {statistics.median(p[name] for p in phases) * 1000:8.1f}")
    print()
    for label, goal in (("decide", GOAL_DECIDE_MS), ("import sharelaw", GOAL_IMPORT_MS)):
        verdict = "met" if medians[label] <= goal else "NOT met"
        print(f"goal: {label} <= {goal:.0f} ms: {verdict} (median {medians[label]:.0f} ms)")


if __name__ == "__main__":
    main()
