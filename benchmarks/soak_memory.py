"""Soak: resident memory over many decisions, and each engine's warm-up memory.

Not a test; run once per engine change and record the figures in docs/performance.md.

    python benchmarks/soak_memory.py                                  # 10,000,000 on the compiled path
    python benchmarks/soak_memory.py --count 1000000 --evaluator durable --cross-check 1

Part 1 (warm-up): for each evaluator, in a fresh forked process, RSS before the engine is
built, after it is built (rulesets compiled), and after every distinct request has been
decided once (date segments built, caches filled).

Part 2 (soak): one engine decides ``--count`` requests, cycling ``--requests`` distinct
ones (seeded, tests/strategies.py), and prints RSS at 20 checkpoints. Flat means the
growth after the first checkpoint stays within noise; a leak grows with the count.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_decide import machine, rss_kib  # noqa: E402
from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw.engine.stages import Engine  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402

_SHARED: dict = {}


def _warm_up(conn, evaluator: str) -> None:
    try:
        bundle, requests = _SHARED["bundle"], _SHARED["requests"]
        gc.collect()
        before = rss_kib()
        t0 = time.perf_counter()
        engine = Engine(bundle, evaluator=evaluator, cross_check=False)  # type: ignore[arg-type]
        built_ms = (time.perf_counter() - t0) * 1000
        built = rss_kib()
        for r in requests:
            engine.decide(r)
        gc.collect()
        conn.send((before, built, rss_kib(), built_ms))
        engine.close()
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000_000)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--evaluator", default="compiled", choices=["durable", "compiled", "reference"])
    ap.add_argument("--cross-check", type=float, default=0.0)
    args = ap.parse_args(argv)
    print("sharelaw memory soak")
    print("command      " + " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]))
    for line in machine():
        print(line)
    bundle = Bundle.load()
    requests = deterministic_request_dicts(args.requests, seed=args.seed)
    _SHARED.update(bundle=bundle, requests=requests)

    print(f"\nwarm-up memory per engine ({len(requests):,} distinct requests; fresh process each)")
    print(f"{'evaluator':<12}{'RSS before':>12}{'built':>10}{'warm':>10}{'engine':>10}{'+ warm-up':>11}{'build ms':>10}")
    fork = multiprocessing.get_context("fork")
    for evaluator in ("durable", "compiled", "reference"):
        receiver, sender = fork.Pipe(duplex=False)
        child = fork.Process(target=_warm_up, args=(sender, evaluator))
        child.start()
        sender.close()
        before, built, warm, ms = receiver.recv()
        child.join()
        print(f"{evaluator:<12}{before / 1024:>10.1f}MB{built / 1024:>8.1f}MB{warm / 1024:>8.1f}MB"
              f"{(built - before) / 1024:>8.1f}MB{(warm - built) / 1024:>9.1f}MB{ms:>10.0f}")

    print(f"\nsoak: {args.count:,} decisions, Engine(evaluator={args.evaluator!r}, cross_check={args.cross_check})")
    engine = Engine(bundle, evaluator=args.evaluator, cross_check=args.cross_check)  # type: ignore[arg-type]
    n = len(requests)
    for r in requests:
        engine.decide(r)
    gc.collect()
    base = rss_kib()
    print(f"{'decisions':>12}{'RSS':>10}{'vs start':>10}{'decisions/s':>13}")
    print(f"{0:>12,}{base / 1024:>8.1f}MB{0:>+9.1f}MB")
    step = max(1, args.count // 20)
    t0 = time.perf_counter()
    last = t0
    decide = engine.decide
    for i in range(args.count):
        decide(requests[i % n])
        if (i + 1) % step == 0 or i + 1 == args.count:
            now = time.perf_counter()
            rss = rss_kib()
            print(f"{i + 1:>12,}{rss / 1024:>8.1f}MB{(rss - base) / 1024:>+9.1f}MB{step / (now - last):>13,.0f}", flush=True)
            last = now
    engine.close()
    print(f"wall {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
