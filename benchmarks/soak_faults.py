"""Fault-injection soak (issue 10): N decisions, each with a fault injected at a call site
of the engine's dependencies (tests/fault_injection.py), and the figures.

    python benchmarks/soak_faults.py [N] [SEED]      # default 10,000 runs

Prints the runs, the faults that fired, the EngineErrors, and every finding: a decision to
share after a fault, another exception escaping, a hang (each run under a 10 s alarm), or an
unfaulted run deciding differently. Exit 1 on any finding.
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fault_injection import run_faults, sharing_requests  # noqa: E402

from sharelaw.engine.stages import Engine  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 10_000
    seed = int(argv[2]) if len(argv) > 2 else 1
    bundle = Bundle.load()
    requests, baseline = sharing_requests(bundle, 500, seed=seed, pool=20_000)
    started = time.perf_counter()
    tally = run_faults(lambda: Engine(bundle), requests, baseline, n=n, seed=seed)
    seconds = time.perf_counter() - started
    print(f"fault-injection soak: {tally.runs} runs on {len(requests)} sharing requests in {seconds:.1f} s")
    print(f"  faults that fired:           {tally.injected}")
    print(f"  EngineError raised:          {tally.engine_errors}")
    print(f"  decided without a fault:     {tally.decided_unfaulted}")
    print(f"  sharing outcome after fault: {len(tally.sharing_after_fault)}")
    print(f"  other exception escaping:    {len(tally.wrong_error)}")
    print(f"  hangs (10 s alarm):          {len(tally.hangs)}")
    print(f"  unfaulted runs that changed: {len(tally.changed_without_fault)}")
    findings = tally.sharing_after_fault + tally.wrong_error + tally.hangs + tally.changed_without_fault
    for line, count in collections.Counter(findings).most_common(20):
        print(f"  FINDING x{count}: {line}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
