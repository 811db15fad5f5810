"""1,000 decisions with a fault injected at a call site of the engine's dependencies
(issue 10): zero sharing outcomes after a fault, zero hangs, every failure an
EngineError, and unfaulted runs decide as without the harness. The soak
(benchmarks/soak_faults.py) runs the same harness 10,000 times and more."""

from __future__ import annotations

try:  # tests/ is not a package
    from fault_injection import SHARING, run_faults, sites
    from strategies import deterministic_request_dicts
except ImportError:  # pragma: no cover
    from tests.fault_injection import SHARING, run_faults, sites  # type: ignore[no-redef]
    from tests.strategies import deterministic_request_dicts  # type: ignore[no-redef]

from sharelaw.engine.pipeline import Engine
from sharelaw.errors import RequestError
from sharelaw.rules.bundle import Bundle

BUNDLE = Bundle.load()


def _sharing_requests(n: int) -> tuple[list[dict], list]:
    engine = Engine(BUNDLE)
    out, outcomes = [], []
    try:
        for data in deterministic_request_dicts(4000, seed=77):
            try:
                outcome = engine.decide(data).outcome
            except RequestError:
                continue
            if outcome in SHARING:
                out.append(data)
                outcomes.append(outcome)
            if len(out) == n:
                break
    finally:
        engine.close()
    return out, outcomes


def test_no_fault_ever_yields_a_decision_to_share():
    requests, baseline = _sharing_requests(120)
    assert len(requests) >= 50
    tally = run_faults(lambda: Engine(BUNDLE), requests, baseline, n=1000, seed=2026)
    assert tally.runs >= 950
    assert tally.injected >= 400, tally  # most runs really hit their fault
    assert not tally.sharing_after_fault, tally.sharing_after_fault[:5]
    assert not tally.wrong_error, tally.wrong_error[:5]
    assert not tally.hangs, tally.hangs[:5]
    assert not tally.changed_without_fault, tally.changed_without_fault[:5]
    assert tally.engine_errors >= tally.injected


def test_every_site_is_a_real_attribute():
    import sharelaw.engine.durable as durable

    for label, owner, attr in sites():
        if owner == "core":
            assert callable(getattr(durable._core, attr)), label
        elif owner != "lock":
            assert callable(getattr(owner, attr)), label
