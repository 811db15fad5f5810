"""sharelaw against AWS Cedar (cedarpy) on the same rules and requests, in one run.

Not a test: it prints figures and fails (exit 1) only if Cedar and sharelaw fire different
rules. Needs the optional ``bench`` extra: ``pip install -e '.[bench]'``.

    python benchmarks/bench_peer.py                  # 2,000 requests, 3 rounds
    python benchmarks/bench_peer.py --requests 500

Each stage segment's rules become one Cedar policy set, one ``permit`` policy per rule
(``@id`` the rule id) whose ``when`` is the rule's condition translated literally: a fact is
``context["name"]``, ``in`` a disjunction of ``==``, ``not`` is ``!``, ``all``/``any`` are
``&&``/``||``. The requests are a seeded list (tests/strategies.py); the (segment, facts)
pairs a decision fires are recorded once, and Cedar evaluates the same pairs (the facts
the segment's rules read, as the request context) with policy sets parsed once. Its
"decision" is the firing of every stage, so the comparison flatters Cedar: sharelaw's
figure also covers validating the request, combining the stages and building the
explained Decision. First every pair is checked: the policies Cedar finds satisfied must be
exactly the rules sharelaw fires.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from _common import firings, machine

from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw.engine.pipeline import Engine  # noqa: E402
from sharelaw.rules.bundle import Bundle, Segment  # noqa: E402
from sharelaw.rules.model import All, AnyOf, Cond, Const, In, Not  # noqa: E402
from sharelaw.rules.reference import ReferenceEvaluator  # noqa: E402

try:
    import cedarpy
except ImportError:  # pragma: no cover - the optional extra
    sys.exit("bench_peer.py needs cedarpy: pip install -e '.[bench]'")


def cedar_value(v: object) -> str:
    return "true" if v is True else "false" if v is False else json.dumps(v)


def cedar(cond: Cond) -> str:
    if isinstance(cond, Const):
        return "true" if cond.value else "false"
    if isinstance(cond, In):
        tests = " || ".join(f'context[{json.dumps(cond.fact)}] == {cedar_value(v)}' for v in cond.values) or "false"
        return f"!({tests})" if cond.negated else f"({tests})"
    if isinstance(cond, Not):
        return f"!({cedar(cond.item)})"
    if isinstance(cond, All):
        return "(" + (" && ".join(cedar(c) for c in cond.items) or "true") + ")"
    if isinstance(cond, AnyOf):
        return "(" + (" || ".join(cedar(c) for c in cond.items) or "false") + ")"
    raise TypeError(cond)


def policies(segment: Segment) -> str:
    return "\n".join(f'@id("{r.id}")\npermit(principal, action, resource) when {{ {cedar(r.when)} }};'
                     for r in segment.rules)


class CedarEvaluator:
    def __init__(self) -> None:
        self.sets: dict[str, tuple[Any, tuple[str, ...], dict[str, int]]] = {}

    def prepare(self, segment: Segment) -> None:
        if segment.key not in self.sets:
            self.sets[segment.key] = (cedarpy.PolicySet.from_str(policies(segment)), segment.facts_read,
                                      {r.id: i for i, r in enumerate(segment.rules)})

    def request(self, segment: Segment, facts: dict[str, object]) -> dict[str, Any]:
        _, read, _ = self.sets[segment.key]
        return {"principal": 'User::"practitioner"', "action": 'Action::"decide"',
                "resource": f'Segment::"{segment.key}"', "context": {n: facts[n] for n in read}}

    def fire(self, segment: Segment, facts: dict[str, object]) -> list[str]:
        ps, _, order = self.sets[segment.key]
        result = cedarpy.is_authorized(self.request(segment, facts), ps, [])
        if result.diagnostics.errors:
            raise RuntimeError(f"cedar errors on {segment.key}: {result.diagnostics.errors}")
        names = result.diagnostics.id_annotations_by_reason
        return sorted((names[p] for p in result.diagnostics.reasons), key=order.__getitem__)


def p50(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("\n".join(machine()))
    print(f"cedarpy      {getattr(cedarpy, '__version__', None) or _version('cedarpy')}")
    print(f"command      python benchmarks/bench_peer.py --requests {args.requests} --rounds {args.rounds}")
    bundle = Bundle.load()
    requests = deterministic_request_dicts(args.requests, seed=4242)
    pairs = firings(bundle, requests)
    peer = CedarEvaluator()
    reference = ReferenceEvaluator()
    checked = fired = 0
    for calls in pairs:
        for segment, facts in calls:
            peer.prepare(segment)
            got, expected = peer.fire(segment, facts), reference.fire(segment, facts)
            if got != expected:
                print(f"DIFFERENT on {segment.key}: cedar {got}, sharelaw {expected}")
                sys.exit(1)
            checked += 1
            fired += len(got)
    print(f"agreement    {checked} firings ({len(bundle.rules)} rules, {len(peer.sets)} policy sets, "
          f"{fired} rules fired): Cedar and sharelaw fire the same rules on every one")

    configs: dict[str, Any] = {"default": Engine(bundle), "durable_only": Engine(bundle, cross_check=False)}
    try:
        configs["compiled"] = Engine(bundle, evaluator="compiled")  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        print(f"compiled     not available in this build ({exc})")
    cedar_requests = [[(peer.sets[s.key][0], peer.request(s, f)) for s, f in calls] for calls in pairs]
    for engine in configs.values():
        for r in requests:
            engine.decide(r)
    times: dict[str, list[float]] = {k: [] for k in ["cedar", *configs]}
    clock = time.perf_counter_ns
    for _ in range(args.rounds):
        samples = []
        for calls in cedar_requests:
            t0 = clock()
            for ps, req in calls:
                cedarpy.is_authorized(req, ps, [])
            samples.append(clock() - t0)
        times["cedar"].append(p50(samples))
        for name, engine in configs.items():
            samples = []
            decide = engine.decide
            for r in requests:
                t0 = clock()
                decide(r)
                samples.append(clock() - t0)
            times[name].append(p50(samples))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{'configuration':14} {'p50 µs':>8}  {'/ Cedar':>7}   rounds")
    for name, value in med.items():
        print(f"{name:14} {value:8.1f}  {value / med['cedar']:7.2f}   " + ", ".join(f"{t:.1f}" for t in times[name]))
    print("(Cedar: the firing of every stage; sharelaw: decide() end to end; same run, same requests; "
          "absolute figures are noisy on a shared machine)")
    for engine in configs.values():
        engine.close()


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    main()
