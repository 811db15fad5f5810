"""The durable-rules firing alone: before (the layout of 0.3.0) and now, in one run.

Not a test: it prints figures and asserts nothing but that both fire what the reference
evaluator fires.

    python benchmarks/bench_durable.py                 # 2,000 requests, 5 rounds
    python benchmarks/bench_durable.py --requests 500 --rounds 3 --before ef499d5

It records the (segment, facts) pairs the engine fires for a seeded list of requests
(tests/strategies.py), then times ``DurableEvaluator.fire`` over exactly those pairs: no
validation, no output building, only the firing. "before" is engine/durable.py and
rules/compile.py as at the ``--before`` commit (default: the commit before issue 11's
durable work), loaded from git; "now" is the working tree. Rounds alternate, so both see
the same machine load; the figure is the median round. It also counts the calls into the
C core per decision and the core rules compiled for the shipped bundle.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from typing import Any

from _common import ROOT, CountingCore, firings, machine

from strategies import deterministic_request_dicts  # noqa: E402

import sharelaw.engine.durable as durable_now  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402
from sharelaw.rules.reference import ReferenceEvaluator  # noqa: E402

BEFORE = "ef499d5"


def _git_show(rev: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True, text=True,
                          check=True).stdout


def load_before(rev: str) -> types.ModuleType:
    """engine/durable.py and rules/compile.py as at ``rev``, as modules beside today's."""
    compile_src = _git_show(rev, "src/sharelaw/rules/compile.py")
    mod_c = types.ModuleType("sharelaw.rules._compile_before")
    mod_c.__package__ = "sharelaw.rules"
    sys.modules[mod_c.__name__] = mod_c
    exec(compile(compile_src, f"<{rev}:rules/compile.py>", "exec"), mod_c.__dict__)
    durable_src = _git_show(rev, "src/sharelaw/engine/durable.py").replace(
        "from ..rules.compile import", "from ..rules._compile_before import")
    mod_d = types.ModuleType("sharelaw.engine._durable_before")
    mod_d.__package__ = "sharelaw.engine"
    sys.modules[mod_d.__name__] = mod_d
    exec(compile(durable_src, f"<{rev}:engine/durable.py>", "exec"), mod_d.__dict__)
    return mod_d


def core_rules(module: types.ModuleType, bundle: Bundle) -> tuple[int, int]:
    """(core rules, rulesets) the module compiles the bundle's segments to."""
    ev = module.DurableEvaluator()
    ev.prepare(bundle)
    if hasattr(ev, "layout"):
        shards = [s for seg in bundle.all_segments() if seg.rules for s in ev.layout(seg).shards()]
        out = (sum(len(s.definition) for s in shards), len(shards))
    else:
        from sharelaw.rules._compile_before import compile_rules  # type: ignore[import-not-found]

        segs = [seg for seg in bundle.all_segments() if seg.rules]
        out = (sum(len(compile_rules(seg.rules)[0]) for seg in segs), len(segs))
    ev.close()
    return out


def run(module: types.ModuleType, pairs: list[list[tuple[Any, dict[str, object]]]]) -> float:
    ev = module.DurableEvaluator()
    fire = ev.fire
    try:
        for calls in pairs:  # warm-up: compile
            for seg, facts in calls:
                fire(seg, dict(facts))
        copies = [[(seg, dict(facts)) for seg, facts in calls] for calls in pairs]
        clock = time.perf_counter_ns
        start = clock()
        for calls in copies:
            for seg, facts in calls:
                fire(seg, facts)
        return (clock() - start) / 1000 / len(pairs)
    finally:
        ev.close()


def calls_per_decision(module: types.ModuleType, pairs: list[list[tuple[Any, dict[str, object]]]]) -> dict[str, float]:
    ev = module.DurableEvaluator()
    real = module._core
    counting = CountingCore(real)
    try:
        for calls in pairs:
            for seg, facts in calls:
                ev._handle(seg)
        module._core = counting
        reference = ReferenceEvaluator()
        for calls in pairs:
            for seg, facts in calls:
                got = ev.fire(seg, dict(facts))
                expected = reference.fire(seg, facts)
                if got != expected:
                    raise SystemExit(f"{module.__name__} fired {got}, the reference {expected}, on {seg.key}")
    finally:
        module._core = real
        ev.close()
    n = len(pairs)
    out = {k: v / n for k, v in sorted(counting.counts.items())}
    out["all"] = sum(counting.counts.values()) / n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", default=BEFORE, help="the commit to compare with (default %(default)s)")
    args = ap.parse_args()
    print("\n".join(machine()))
    before = load_before(args.before)
    bundle = Bundle.load()
    pairs = firings(bundle, deterministic_request_dicts(args.requests))
    stages = sum(len(c) for c in pairs) / len(pairs)
    print(f"bundle       {len(bundle.rules)} rules; {args.requests} requests, {stages:.2f} firings a decision")
    print(f"command      python benchmarks/bench_durable.py --requests {args.requests} --rounds {args.rounds}"
          f" --before {args.before}")
    layouts = {"before": before, "now": durable_now}
    for name, mod in layouts.items():
        rules, sets = core_rules(mod, bundle)
        counts = calls_per_decision(mod, pairs)
        print(f"{name:7} {rules:5} core rules in {sets:3} rulesets; C calls a decision: {counts['all']:.2f} ("
              + ", ".join(f"{k} {v:.2f}" for k, v in counts.items() if k != "all") + ")")
    times: dict[str, list[float]] = {k: [] for k in layouts}
    for _ in range(args.rounds):
        for name, mod in layouts.items():
            times[name].append(run(mod, pairs))
    med = {k: statistics.median(v) for k, v in times.items()}
    for name in layouts:
        print(f"{name:7} firing per decision: median {med[name]:.1f} µs (rounds: "
              + ", ".join(f"{t:.1f}" for t in times[name]) + ")")
    print(f"ratio   now/before = {med['now'] / med['before']:.2f} (same run; absolute figures are noisy on a shared machine)")


if __name__ == "__main__":
    main()
