"""The requests in examples/ decide as examples/expected.json says (the README points users there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sharelaw

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text())


def test_every_example_has_an_expectation() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json") if p.name != "expected.json") == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(name: str) -> None:
    expected = EXPECTED[name]
    decision = sharelaw.decide(json.loads((EXAMPLES / name).read_text()))
    assert decision.outcome.value == expected["outcome"], decision.explain()
    for stage, status in expected.get("stages", {}).items():
        assert next(s.status.value for s in decision.stages if s.stage.value == stage) == status
    if "missing" in expected:
        assert [m.item for m in decision.missing] == expected["missing"]
    if "basis" in expected:
        assert decision.basis[0].kind.value == expected["basis"]
    # every example's rationale cites the law on every finding
    assert all(f.citations for f in decision.findings)


def test_stage1_failure_still_says_which_powers_were_looked_for() -> None:
    decision = sharelaw.decide(json.loads((EXAMPLES / "01-council-health-data-to-marketing-company.json").read_text()))
    power = decision.stages[0].requirements[0]
    assert power.status == "unmet"
    assert "vires.lga1972.s111.incidental" in power.looked_for
    assert "ultra vires" in decision.summary
    assert "Looked for" in decision.explain()


def test_withdrawn_consent_is_not_relied_on() -> None:
    decision = sharelaw.decide(json.loads((EXAMPLES / "03-withdrawn-consent-was-the-only-basis.json").read_text()))
    relied = set(decision.decided_by) | {b.rule_id for b in decision.basis}
    assert not any("consent" in rid and "refused" not in rid for rid in relied)
    assert any(f.rule_id == "confidence.consent_refused_or_withdrawn" for f in decision.findings)
    assert {w.code.value for w in decision.ways_forward} >= {"anonymise"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_decisions_are_valid_models(name: str) -> None:
    """The engine builds decisions without re-validating them (for speed); prove they are valid."""
    decision = sharelaw.decide(json.loads((EXAMPLES / name).read_text()))
    dumped = decision.model_dump(mode="json")
    assert sharelaw.Decision.model_validate(dumped).model_dump(mode="json") == dumped
    # byte for byte too: an engine-built decision serialises exactly as a validated one
    assert sharelaw.Decision.model_validate_json(decision.model_dump_json()).model_dump_json() == decision.model_dump_json()
