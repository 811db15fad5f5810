"""Cost of deciding as the rule set grows: 250, 500, 1,000 and 2,000 rules, in one run.

Not a test: it prints figures and asserts nothing (tests/test_scale.py is the test).

    python benchmarks/bench_scale.py                  # 400 requests, 3 rounds per size
    python benchmarks/bench_scale.py --sizes 250,2000 --requests 200

Each size is the shipped national rules plus generated local guidance and protocols
(tests/scale_rules.py), written as rule files and loaded as a user's would be. The same
seeded requests (tests/strategies.py; a third of them between two partners of a generated
protocol) are decided at every size by ``Engine(cross_check=False)`` (durable-rules
deciding) and, for the firing alone, by ``DurableEvaluator.fire`` over the recorded
(segment, facts) pairs. Rounds alternate between sizes, so all see the same load; figures
are medians of rounds. "seen" is the rules in the rulesets a request is asserted into (the
index leaves out the rules that cannot fire), against the rules in force.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import firings, machine

import scale_rules  # noqa: E402
from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw.engine.durable import DurableEvaluator  # noqa: E402
from sharelaw.engine.pipeline import Engine  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402


def requests_for(gen: scale_rules.Generated, n: int) -> list[dict[str, Any]]:
    rng = random.Random(5)
    out = []
    for i, r in enumerate(deterministic_request_dicts(n, seed=99)):
        if gen.protocols and i % 3 == 0:
            r = scale_rules.covered_request(r, rng.choice(gen.protocols), rng)
        out.append(r)
    return out


def p50_decide(engine: Engine, requests: list[dict[str, Any]]) -> float:
    clock = time.perf_counter_ns
    samples = []
    for r in requests:
        t0 = clock()
        engine.decide(r)
        samples.append(clock() - t0)
    return statistics.median(samples) / 1000


def fire_per_decision(ev: DurableEvaluator, pairs: list[list[tuple[Any, dict[str, object]]]]) -> float:
    copies = [[(s, dict(f)) for s, f in calls] for calls in pairs]
    clock = time.perf_counter_ns
    t0 = clock()
    for calls in copies:
        for s, f in calls:
            ev.fire(s, f)
    return (clock() - t0) / 1000 / len(pairs)


def seen(ev: DurableEvaluator, pairs: list[list[tuple[Any, dict[str, object]]]]) -> tuple[float, float]:
    """Per decision: rules in the rulesets asserted into, and rules in force in the segments fired."""
    asserted = in_force = 0
    for calls in pairs:
        for s, f in calls:
            asserted += sum(len(sh.positions) for sh in ev.layout(s).route.select(f))
            in_force += len(s.rules)
    return asserted / len(pairs), in_force / len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="250,500,1000,2000")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print("\n".join(machine()))
    print(f"command      python benchmarks/bench_scale.py --sizes {args.sizes} --requests {args.requests} "
          f"--rounds {args.rounds}")
    tmp = Path(tempfile.mkdtemp(prefix="sharelaw-scale-"))
    setups = {}
    for n in sizes:
        root = tmp / str(n)
        root.mkdir()
        gen = scale_rules.write(root, n)
        t0 = time.perf_counter()
        bundle = Bundle.load(root)
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine = Engine(bundle, cross_check=False)
        start = time.perf_counter() - t0
        reqs = requests_for(gen, args.requests)
        for r in reqs:
            engine.decide(r)  # warm-up
        pairs = firings(bundle, reqs)
        ev = DurableEvaluator()
        ev.prepare(bundle)
        rulesets = len({sh.key for s in bundle.all_segments() if s.rules for sh in ev.layout(s).shards()})
        setups[n] = (gen, engine, reqs, pairs, ev)
        a, f = seen(ev, pairs)
        print(f"{n:5} rules ({gen.national} national, {gen.local} local, {gen.practices} practices in "
              f"{len(gen.protocols)} protocols): load {load:.1f} s, engine start {start:.2f} s, {rulesets} rulesets; "
              f"per decision the core sees {a:.0f} of the {f:.0f} rules in force in the segments fired")
    decide: dict[int, list[float]] = {n: [] for n in sizes}
    fire: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(args.rounds):
        for n in sizes:
            gen, engine, reqs, pairs, ev = setups[n]
            decide[n].append(p50_decide(engine, reqs))
            fire[n].append(fire_per_decision(ev, pairs))
    base = sizes[0]
    d0, f0 = statistics.median(decide[base]), statistics.median(fire[base])
    print(f"{'rules':>5}  {'decide p50 µs':>13}  {'ratio':>5}  {'firing µs':>9}  {'ratio':>5}  {'rules ratio':>11}")
    for n in sizes:
        d, f = statistics.median(decide[n]), statistics.median(fire[n])
        print(f"{n:5}  {d:13.1f}  {d / d0:5.2f}  {f:9.1f}  {f / f0:5.2f}  {n / base:11.1f}")
    print("(ratios against the smallest size, same run; absolute figures are noisy on a shared machine)")
    for n in sizes:
        setups[n][1].close()
        setups[n][4].close()


if __name__ == "__main__":
    main()
