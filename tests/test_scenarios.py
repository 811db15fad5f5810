"""Runs every scenario in tests/scenarios/ and checks rule coverage: every rule has a
scenario that fires it and one at its limit (where it does not apply)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharelaw import Engine, scenarios

HERE = Path(__file__).parent / "scenarios"
SCENARIOS = scenarios.load([HERE])


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario(engine: Engine, scenario: scenarios.Scenario) -> None:
    result = scenarios.run(engine, scenario)
    assert result.passed, f"{scenario.file}:{scenario.line} {scenario.id}\n  " + "\n  ".join(map(str, result.failures))


def test_every_rule_fires_in_some_scenario_and_has_a_limit(engine: Engine) -> None:
    results = [scenarios.run(engine, s) for s in SCENARIOS]
    cov = scenarios.coverage(engine.bundle, SCENARIOS, results)
    assert not cov.never_fired, f"rules no scenario fires: {cov.never_fired}"
    assert not cov.no_limit, f"rules with no scenario at their limit: {cov.no_limit}"
