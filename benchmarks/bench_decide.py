"""Benchmark Engine.decide(): latency, throughput, memory, and where the time goes.

Not a test: it prints figures and asserts nothing. docs/performance.md records a run.

    python benchmarks/bench_decide.py            # 1,000,000 decisions per configuration
    python benchmarks/bench_decide.py --quick    # 20,000 decisions per configuration
    python benchmarks/bench_decide.py --count 200000 --configs default

Five configurations decide the same requests, passed as the JSON-like dicts a caller
sends (so request validation is included), each in its own process, printed side by side
with their ratios to ``default``:

- ``default``        Engine(): durable-rules, cross-checked by the reference evaluator
- ``durable_only``   Engine(cross_check=False)
- ``compiled``       Engine(evaluator="compiled", cross_check=False): the fast path
- ``compiled_check`` Engine(evaluator="compiled"): the fast path, cross-checked
- ``reference``      Engine(evaluator="reference")
- ``default_nomemo``, ``compiled_nomemo``: the same with ``memo_size=0``, so every
  decision derives its substance afresh (engine/skeleton.py); the others reuse it for
  requests whose stage results an earlier request had ("reused" in the ratios table)

(benchmarks/bench_peer.py, where present, gives the ratio to AWS Cedar.)

The requests are a fixed, seeded list of valid requests from tests/strategies.py
(``--requests`` distinct ones, cycled to ``--count``): dates spread over 2000-2027 with
a third on legal boundaries, every vocabulary value. Each configuration first decides
every distinct request once (compiling rulesets, building date segments), then the
timed loop runs. RSS is read from /proc/self/status before and after the timed loop.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import multiprocessing
import os
import platform
import pstats
import sys
import time
from array import array
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw._version import __version__  # noqa: E402
from sharelaw.engine.invariants import check_decision  # noqa: E402
from sharelaw.engine.stages import Engine  # noqa: E402
from sharelaw.request import parse_request  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402
from sharelaw.rules.facts import request_facts  # noqa: E402

CONFIGS = {
    "default": dict(evaluator="durable", cross_check=True),
    "durable_only": dict(evaluator="durable", cross_check=False),
    "compiled": dict(evaluator="compiled", cross_check=False),
    "compiled_check": dict(evaluator="compiled", cross_check=True),
    "reference": dict(evaluator="reference"),
    # every decision computes its substance afresh (engine/skeleton.py's memo off): the cost
    # when each request has stage results no earlier request had
    "default_nomemo": dict(evaluator="durable", cross_check=True, memo_size=0),
    "compiled_nomemo": dict(evaluator="compiled", cross_check=False, memo_size=0),
}
TARGET_P50_US = 100.0  # issue 11: default configuration, idle
COMPILED_P50_US = 30.0  # issue 11: compiled fast path, idle
COMPILED_PER_SEC = 30_000


def rss_kib() -> int:
    """Resident set size now, in KiB (VmRSS), or the peak from getrusage where /proc is absent."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in microseconds."""
    k = max(0, min(len(sorted_ns) - 1, int(round(q / 100 * len(sorted_ns) + 0.5)) - 1))
    return sorted_ns[k] / 1000


def machine() -> list[str]:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown"
    try:
        durable = metadata.version("durable-rules")
    except metadata.PackageNotFoundError:
        durable = "unknown"
    try:
        import subprocess

        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
        commit = head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return [
        f"commit       {commit}",
        f"platform     {platform.platform()}",
        f"cpu          {model}; os.cpu_count() = {os.cpu_count()}",
        f"python       {platform.python_implementation()} {platform.python_version()}",
        f"sharelaw     {__version__}; durable-rules {durable}",
    ]


def run_config(name: str, bundle: Bundle, requests: list[dict], count: int) -> dict:
    samples = array("q", bytes(8 * count))  # allocated before the first RSS reading
    gc.collect()
    start_rss = rss_kib()
    t_build = time.perf_counter()
    engine = Engine(bundle, **CONFIGS[name])
    build_ms = (time.perf_counter() - t_build) * 1000
    built_rss = rss_kib()
    try:
        for r in requests:  # warm-up: compile every segment's ruleset, fill caches
            engine.decide(r)
        gc.collect()
        before = rss_kib()
        memo = engine._skeleton_memo
        hits0, misses0 = memo.hits, memo.misses
        decide = engine.decide
        clock = time.perf_counter_ns
        n = len(requests)
        start = clock()
        for i in range(count):
            r = requests[i % n]
            t0 = clock()
            decide(r)
            samples[i] = clock() - t0
        wall = (clock() - start) / 1e9
        hits, misses = memo.hits - hits0, memo.misses - misses0
        gc.collect()
        after = rss_kib()
    finally:
        engine.close()
    ordered = sorted(samples)
    return {
        "name": name,
        "count": count,
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] / 1000,
        "mean": sum(ordered) / len(ordered) / 1000,
        "per_sec": count / wall,
        "wall": wall,
        "rss_start": start_rss,
        "rss_built": built_rss,
        "build_ms": build_ms,
        "rss_before": before,
        "rss_after": after,
        "reused": hits / max(1, hits + misses),
    }


_SHARED: dict = {}  # inherited by forked children


def _run_in_child(conn, name: str, count: int) -> None:
    try:
        conn.send(run_config(name, _SHARED["bundle"], _SHARED["requests"], count))
    except BaseException as exc:  # noqa: BLE001 - re-raised in the parent
        conn.send(RuntimeError(f"{name}: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _median_us(fn, items, repeat: int = 3) -> float:
    """Median per-item time of ``fn(item)`` over ``items``, best of ``repeat`` passes."""
    best: list[int] | None = None
    clock = time.perf_counter_ns
    for _ in range(repeat):
        times = []
        for it in items:
            t0 = clock()
            fn(it)
            times.append(clock() - t0)
        times.sort()
        if best is None or times[len(times) // 2] < best[len(best) // 2]:
            best = times
    assert best is not None
    return best[len(best) // 2] / 1000


class _Timed:
    """Wraps an evaluator, accumulating the time spent in its ``fire``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.ns = 0
        self.calls = 0

    def fire(self, segment, facts):
        t0 = time.perf_counter_ns()
        try:
            return self.inner.fire(segment, facts)
        finally:
            self.ns += time.perf_counter_ns() - t0
            self.calls += 1

    def close(self) -> None:
        self.inner.close()


def breakdown(bundle: Bundle, requests: list[dict], config: str = "default") -> list[str]:
    """Where the time of one decide() goes in a configuration (medians and means over the requests)."""
    out: list[str] = []
    parsed = [parse_request(r) for r in requests]
    engine = Engine(bundle, **CONFIGS[config])
    try:
        for r in parsed:
            engine.decide(r)
        validate = _median_us(parse_request, requests)
        facts = _median_us(request_facts, parsed)
        whole = _median_us(engine.decide, requests)
        no_parse = _median_us(engine.decide, parsed)
        run = _median_us(engine._run, parsed) if hasattr(engine, "_run") else float("nan")
        decisions = [engine.decide(r) for r in parsed[:2000]]
        dump = _median_us(lambda d: d.model_dump(mode="json"), decisions)
        check = _median_us(lambda d: check_decision(bundle, d), decisions)
        # Mean time inside each evaluator's fire() per decision (engine internals: this is
        # a benchmark, not a test, and it says so if they change).
        primary = getattr(engine, "_primary", None)
        oracle = getattr(engine, "_oracle", None)
        if primary is not None:
            engine._primary = timed_p = _Timed(primary)
            timed_o = _Timed(oracle) if oracle is not None else None
            if timed_o is not None:
                engine._oracle = timed_o
            t0 = time.perf_counter_ns()
            for r in parsed:
                engine.decide(r)
            total = (time.perf_counter_ns() - t0) / len(parsed) / 1000
            engine._primary, engine._oracle = primary, oracle
            fire_d = timed_p.ns / len(parsed) / 1000
            fire_r = timed_o.ns / len(parsed) / 1000 if timed_o is not None else 0.0
            stages = timed_p.calls / len(parsed)
        else:  # pragma: no cover - internals changed
            total = fire_d = fire_r = stages = float("nan")
    finally:
        engine.close()
    name = CONFIGS[config]["evaluator"]
    out.append(f"  decide(dict), end to end (median)              {whole:8.1f} µs")
    out.append(f"    request validation, parse_request (median)   {validate:8.1f} µs")
    out.append(f"    decide(SharingRequest), no validation        {no_parse:8.1f} µs")
    out.append(f"      firing and combining the stages (_run)     {run:8.1f} µs")
    out.append(f"      building the Decision (the rest)           {no_parse - run:8.1f} µs")
    out.append(f"        of which the invariant check (median)    {check:8.1f} µs")
    out.append(f"  of a decide(SharingRequest) (mean over the requests: {total:.1f} µs):")
    out.append(f"    {name} fire(), {stages:.2f} segments a decision {fire_d:8.1f} µs")
    out.append(f"    reference cross-check fire()                 {fire_r:8.1f} µs")
    out.append(f"    facts, combination, rendering, Decision      {total - fire_d - fire_r:8.1f} µs")
    out.append(f"      of which request_facts (median)            {facts:8.1f} µs")
    out.append(f"  (not in decide) Decision.model_dump(json)      {dump:8.1f} µs")
    return out


def interleaved(bundle: Bundle, requests: list[dict], configs: list[str], rounds: int) -> list[str]:
    """Every configuration in one process, deciding each request in turn (a, b, c; then b, c,
    a; ...): on a busy machine each sees the same load, so the ratios are fairer than
    separate runs."""
    engines = {name: Engine(bundle, **CONFIGS[name]) for name in configs}
    samples: dict[str, list[int]] = {name: [] for name in configs}
    clock = time.perf_counter_ns
    try:
        for e in engines.values():
            for r in requests:
                e.decide(r)
        order = list(engines.items())
        for _ in range(rounds):
            for i, r in enumerate(requests):
                # Rotate who goes first: the one after a similar engine finds the caches warm.
                k = i % len(order)
                for name, e in order[k:] + order[:k]:
                    t0 = clock()
                    e.decide(r)
                    samples[name].append(clock() - t0)
    finally:
        for e in engines.values():
            e.close()
    base = sorted(samples[configs[0]])
    out = [f"{'configuration':<16}{'p50 µs':>9}{'p99 µs':>10}{'mean µs':>9}{'p50 ratio':>11}{'mean ratio':>12}"]
    for name in configs:
        ordered = sorted(samples[name])
        mean = sum(ordered) / len(ordered) / 1000
        out.append(f"{name:<16}{percentile(ordered, 50):>9.1f}{percentile(ordered, 99):>10.1f}{mean:>9.1f}"
                   f"{percentile(ordered, 50) / percentile(base, 50):>11.3f}{mean / (sum(base) / len(base) / 1000):>12.3f}")
    return out


def profile(bundle: Bundle, requests: list[dict], top: int) -> str:
    engine = Engine(bundle)
    try:
        for r in requests:
            engine.decide(r)
        prof = cProfile.Profile()
        prof.enable()
        for r in requests:
            engine.decide(r)
        prof.disable()
    finally:
        engine.close()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000, help="decisions per configuration (default 1,000,000)")
    ap.add_argument("--quick", action="store_true", help="20,000 decisions per configuration")
    ap.add_argument("--requests", type=int, default=10_000, help="distinct requests, cycled (default 10,000)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--as-at", default=None, metavar="DATE",
                    help="decide every request as at this day (one day's live traffic), not on spread dates")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {','.join(CONFIGS)}")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the where-the-time-goes section")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="also print the top N functions by own time")
    ap.add_argument("--interleaved", type=int, default=0, metavar="ROUNDS",
                    help="only: every configuration in one process, request by request, ROUNDS passes (a busy machine)")
    args = ap.parse_args(argv)
    count = 20_000 if args.quick else args.count
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        ap.error(f"unknown configuration(s): {', '.join(sorted(unknown))}")

    if args.interleaved:
        print("sharelaw decide() benchmark, interleaved")
        print("command      " + " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]))
        for line in machine():
            print(line)
        bundle = Bundle.load()
        requests = deterministic_request_dicts(args.requests, seed=args.seed)
        print(f"workload     {args.interleaved} passes over {len(requests):,} distinct requests (seed {args.seed}), "
              "each request decided by every configuration in turn; ratios to the first\n")
        for line in interleaved(bundle, requests, configs, args.interleaved):
            print(line)
        return

    print("sharelaw decide() benchmark")
    print("command      " + " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]))
    for line in machine():
        print(line)
    t0 = time.perf_counter()
    bundle = Bundle.load()
    load_ms = (time.perf_counter() - t0) * 1000
    requests = deterministic_request_dicts(args.requests, seed=args.seed)
    if args.as_at:
        requests = [{**r, "as_at": args.as_at} for r in requests]
    print(
        f"rules        {len(bundle.rules)} rules in {len(bundle.files)} files, {bundle.content_hash[:19]}; "
        f"bundle load {load_ms:.0f} ms"
    )
    print(f"workload     {count:,} decisions per configuration over {len(requests):,} distinct requests (seed {args.seed})"
          + (f", every one as at {args.as_at}" if args.as_at else ""))
    print()

    print("Each configuration runs in its own forked process. RSS: 'new' before the engine is built;")
    print("'before' after the warm-up pass, when the timed loop starts; 'after' when it ends.")
    header = (
        f"{'configuration':<14}{'p50 µs':>9}{'p90 µs':>9}{'p99 µs':>9}{'max µs':>10}{'mean µs':>9}"
        f"{'decisions/s':>13}{'RSS new':>10}{'before':>10}{'after':>10}{'wall s':>8}"
    )
    print(header)
    print("-" * len(header))
    results = []
    fork = multiprocessing.get_context("fork")
    for name in configs:
        # A clean process per configuration, so no memory is carried from one to the next.
        _SHARED.update(bundle=bundle, requests=requests)
        receiver, sender = fork.Pipe(duplex=False)
        child = fork.Process(target=_run_in_child, args=(sender, name, count))
        child.start()
        sender.close()
        res = receiver.recv()
        child.join()
        if isinstance(res, BaseException):
            raise res
        results.append(res)
        mb = lambda kib: f"{kib / 1024:>8.1f}MB"  # noqa: E731
        print(
            f"{name:<14}{res['p50']:>9.1f}{res['p90']:>9.1f}{res['p99']:>9.1f}{res['max']:>10.0f}{res['mean']:>9.1f}"
            f"{res['per_sec']:>13,.0f}{mb(res['rss_start'])}{mb(res['rss_before'])}{mb(res['rss_after'])}{res['wall']:>8.1f}",
            flush=True,
        )
    default = next((r for r in results if r["name"] == "default"), None)
    if default is not None:
        print("\nside by side, as ratios to default (same run; below 1 is faster)")
        print(f"{'configuration':<16}{'p50':>8}{'p99':>8}{'p99/p50':>9}{'decisions/s':>13}{'engine built':>14}"
              f"{'warm-up RSS':>13}{'reused':>8}")
        for r in results:
            print(f"{r['name']:<16}{r['p50'] / default['p50']:>8.3f}{r['p99'] / default['p99']:>8.3f}"
                  f"{r['p99'] / r['p50']:>9.2f}{r['per_sec'] / default['per_sec']:>12.2f}x"
                  f"{r['build_ms']:>11.0f} ms{(r['rss_before'] - r['rss_start']) / 1024:>10.1f} MB{r['reused']:>8.0%}")
        verdict = "meets" if default["p50"] <= TARGET_P50_US else "MISSES"
        print(f"\ntarget: default p50 <= {TARGET_P50_US:.0f} µs end to end (idle): {verdict} ({default['p50']:.1f} µs); "
              f"p99 <= 3x p50: {'meets' if default['p99'] <= 3 * default['p50'] else 'MISSES'} ({default['p99'] / default['p50']:.1f}x)")
    compiled = next((r for r in results if r["name"] == "compiled"), None)
    if compiled is not None:
        print(f"target: compiled p50 <= {COMPILED_P50_US:.0f} µs: {'meets' if compiled['p50'] <= COMPILED_P50_US else 'MISSES'} "
              f"({compiled['p50']:.1f} µs); >= {COMPILED_PER_SEC:,} decisions/s on one core: "
              f"{'meets' if compiled['per_sec'] >= COMPILED_PER_SEC else 'MISSES'} ({compiled['per_sec']:,.0f}/s)")
    print("(warm-up RSS: from before the engine is built to after every distinct request was decided once;")
    print(" reused: the decisions of the timed loop whose substance came from the memo, engine/skeleton.py)")

    if not args.no_breakdown:
        for config in [c for c in ("default", "compiled") if c in configs]:
            print(f"\nwhere the time goes ({config} configuration, one pass over the distinct requests)")
            for line in breakdown(bundle, requests, config):
                print(line)
    if args.profile:
        print(f"\ncProfile, default configuration, top {args.profile} by own time")
        print(profile(bundle, requests[:5000], args.profile))


if __name__ == "__main__":
    main()
