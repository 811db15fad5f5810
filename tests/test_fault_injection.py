"""1,000 decisions with a fault injected at a call site of the engine's dependencies
(issue 10): zero sharing outcomes after a fault, zero hangs, every failure an
EngineError, and unfaulted runs decide as without the harness. The soak
(benchmarks/soak_faults.py) runs the same harness 10,000 times and more."""

from __future__ import annotations

try:  # tests/ is not a package
    from fault_injection import run_faults, sharing_requests, sites
except ImportError:  # pragma: no cover
    from tests.fault_injection import run_faults, sharing_requests, sites  # type: ignore[no-redef]

from sharelaw.engine.stages import Engine
from sharelaw.rules.bundle import Bundle

BUNDLE = Bundle.load()


def test_no_fault_ever_yields_a_decision_to_share():
    requests, baseline = sharing_requests(BUNDLE, 120, seed=77, pool=4000)
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
