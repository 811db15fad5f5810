"""Soak: the compiled evaluator against durable-rules on 1,000,000 generated requests or more.

Not a test (CI runs 100,000 in tests/test_differential.py); run once per engine change and
record the figure in docs/performance.md.

    python benchmarks/soak_differential.py                     # 1,000,000 requests
    python benchmarks/soak_differential.py --count 5000000 --seed 7

Every segment fired on the way to each decision is fired by both evaluators on the same
facts (tests/test_differential.py ``Pair``): the rule ids and their order must be equal.
Requests are generated in chunks (90% from tests/strategies.py, 10% between the example
protocol's partners), each chunk from its own seed, so memory stays flat. Exit status 1 on
the first disagreements (at most 20 are printed), else 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

from test_differential import Pair, differential_requests  # noqa: E402

from sharelaw import Engine  # noqa: E402
from sharelaw.errors import RequestError  # noqa: E402
from sharelaw.request import parse_request  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402

CHUNK = 10_000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args(argv)
    bundle = Bundle.load()
    engine = Engine(bundle, evaluator="reference")
    pair = Pair(bundle)
    engine._primary = pair
    print(f"soak_differential: compiled vs durable-rules, {args.count:,} requests, seed {args.seed}, "
          f"rules {bundle.content_hash[:19]}", flush=True)
    done = refused = 0
    t0 = time.perf_counter()
    try:
        for chunk in range(0, args.count, CHUNK):
            for data in differential_requests(min(CHUNK, args.count - chunk), seed=args.seed + chunk):
                try:
                    engine._run(parse_request(data))
                except RequestError:
                    refused += 1
                done += 1
            if pair.disagreements:
                break
            if (chunk // CHUNK) % 10 == 9:
                rate = done / (time.perf_counter() - t0)
                print(f"  {done:>10,} requests, {pair.fired:>10,} segment firings, 0 disagreements ({rate:,.0f}/s)", flush=True)
    finally:
        engine.close()
    wall = time.perf_counter() - t0
    print(f"{done:,} requests ({refused:,} refused as invalid), {pair.fired:,} segment firings compared, "
          f"{len(pair.disagreements)} disagreements, {wall:.0f} s ({done / wall:,.0f} requests/s)")
    for key, want, got, _ in pair.disagreements[:20]:
        print(f"  {key}: durable-rules fired {want}, compiled fired {got}")
    return 1 if pair.disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
