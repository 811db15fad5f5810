"""The finished decision is checked before it leaves the engine (issue 10, item 2).

An internal step that *returns a wrong value* instead of raising (an empty basis list, a
``None`` or empty citation, a rule id that is not in the bundle, an outcome that
disagrees with the stages) must give ``EngineError``, never a decision. Each test
injects one such fault into a real engine deciding a real example request, and first
shows that the same request decides normally without the fault.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import sharelaw.engine.render as render
import sharelaw.engine.skeleton as skeleton
import sharelaw.engine.stages as stages
from sharelaw.decision import Decision
from sharelaw.engine.invariants import check_decision
from sharelaw.engine.stages import Engine
from sharelaw.errors import EngineError
from sharelaw.law.citations import CitedSource
from sharelaw.rules.bundle import Bundle
from sharelaw.vocab import BasisKind, Outcome, StageStatus

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUNDLE = Bundle.load()
ENGINE = Engine(BUNDLE)  # the configuration users run: durable-rules, cross-checked


def _example(n: str) -> dict:
    return json.loads(next(EXAMPLES.glob(f"{n}-*.json")).read_text())


MUST_SHARE = _example("05")  # NHS trust assisting s47 enquiries: a duty
MAY_SHARE = _example("06")  # GP referral for direct care, 2010
MUST_NOT_SHARE = _example("01")  # no power
REFER = _example("04")  # proportionality not recorded


def _refuses(request: dict, match: str, engine: Engine = ENGINE) -> None:
    """With a fault injected, deciding ``request`` raises EngineError naming the broken invariant."""
    with pytest.raises(EngineError, match=match) as info:
        engine.decide(request)
    assert "invariants" in str(info.value)


def _only_in_decide(real, wrong):
    """Wrap an internal step so that only the call building the decision's substance (its
    skeleton, engine/skeleton.py) returns ``wrong(result)``."""

    def step(*args, **kwargs):
        result = real(*args, **kwargs)
        return wrong(result) if sys._getframe(1).f_code.co_name == "build_skeleton" else result

    return step


def _engine(kind: str, request_: dict) -> Engine:
    """``fresh``: an engine that has decided nothing (the decision's substance is computed and
    checked whole); ``warm``: one that has decided ``request_`` already (its substance comes from
    the memo, and the decision is held to it)."""
    if kind == "fresh":
        return Engine(BUNDLE)
    ENGINE.decide(request_)
    return ENGINE


ENGINES = pytest.mark.parametrize("kind", ["fresh", "warm"])


@pytest.mark.parametrize(
    "request_, outcome", [(MUST_SHARE, Outcome.MUST_SHARE), (MAY_SHARE, Outcome.MAY_SHARE)], ids=["must", "may"]
)
def test_a_sharing_decision_with_an_empty_basis_list_is_refused(monkeypatch, request_, outcome):
    assert ENGINE.decide(request_).outcome is outcome
    monkeypatch.setattr(skeleton, "bases", _only_in_decide(skeleton.bases, lambda found: []))
    _refuses(request_, "no stage-1 basis", Engine(BUNDLE))


@pytest.mark.parametrize("bad", [[], [None]], ids=["no-citation", "None-citation"])
@pytest.mark.parametrize("request_", [MUST_SHARE, MAY_SHARE, MUST_NOT_SHARE, REFER], ids=["must", "may", "not", "refer"])
def test_a_finding_without_a_citation_is_refused(monkeypatch, request_, bad):
    ENGINE.decide(request_)
    # Citations are cached per (rule, day) by each engine: fault a fresh one's resolution.
    monkeypatch.setattr(render, "citations", lambda rule, as_at: list(bad))
    _refuses(request_, "citation", Engine(BUNDLE))


def test_a_relied_on_citation_with_no_text_is_refused(monkeypatch):
    decision = ENGINE.decide(MUST_SHARE)
    duty = decision.basis[0].rule_id
    real = render.citations

    def blank(rule, as_at):
        cites = real(rule, as_at)
        return [c.model_copy(update={"label": " "}) for c in cites] if rule.id == duty else cites

    monkeypatch.setattr(render, "citations", blank)
    _refuses(MUST_SHARE, f"{duty}.*no text", Engine(BUNDLE))


@ENGINES
def test_must_share_without_a_duty_is_refused(monkeypatch, kind):
    """An outcome computed wrongly (here: must_share for a power, not a duty) never leaves."""
    decision = ENGINE.decide(MAY_SHARE)
    assert decision.basis[0].kind is not BasisKind.DUTY
    engine = _engine(kind, MAY_SHARE)
    real = Decision.build

    def build(**values):
        return real(**{**values, "outcome": Outcome.MUST_SHARE})

    monkeypatch.setattr(stages.Decision, "build", build)
    _refuses(MAY_SHARE, "must_share without a duty", engine)


@ENGINES
@pytest.mark.parametrize("wrong", [Outcome.MAY_SHARE, Outcome.MUST_SHARE, Outcome.REFER])
def test_an_outcome_that_disagrees_with_the_stages_is_refused(monkeypatch, wrong, kind):
    assert ENGINE.decide(MUST_NOT_SHARE).stages[0].status is StageStatus.FAIL
    engine = _engine(kind, MUST_NOT_SHARE)
    real = Decision.build
    monkeypatch.setattr(stages.Decision, "build", lambda **v: real(**{**v, "outcome": wrong}))
    _refuses(MUST_NOT_SHARE, "disagrees with the stage statuses", engine)


@ENGINES
def test_a_stage_status_that_disagrees_with_its_requirements_is_refused(monkeypatch, kind):
    """A stage reported as passed while its requirement is unmet (here stage 1: no power):
    built wrongly with the substance (fresh), or replaced after it (warm)."""
    engine = _engine(kind, MUST_NOT_SHARE)
    real = stages.StageResult.build

    def build(**values):
        return real(**{**values, "status": StageStatus.PASS})

    monkeypatch.setattr(stages.StageResult, "build", build)
    if kind == "warm":
        real_decision = Decision.build

        def swap(**values):
            return real_decision(**{**values, "stages": [build(**s.__dict__) for s in values["stages"]]})

        monkeypatch.setattr(stages.Decision, "build", swap)
    _refuses(MUST_NOT_SHARE, "requirement results make it fail", engine)


def test_a_rule_not_in_the_bundle_is_refused(monkeypatch):
    monkeypatch.setattr(skeleton, "decided_by", lambda outcome, runs: ["no.such.rule"])
    _refuses(REFER, "'no.such.rule' is not a rule of the bundle", Engine(BUNDLE))


def test_a_decision_is_held_to_the_substance_of_its_checked_skeleton(monkeypatch):
    """A warm engine's decision carries exactly the substance of the skeleton that passed the
    whole check: a changed part that is still consistent on its own is refused too."""
    ENGINE.decide(MUST_SHARE)
    real = Decision.build
    monkeypatch.setattr(stages.Decision, "build", lambda **v: real(**{**v, "conditions": []}))
    _refuses(MUST_SHARE, "conditions")


def test_a_finding_for_a_rule_not_in_the_bundle_is_refused(monkeypatch):
    real = render.Finding.build
    monkeypatch.setattr(render.Finding, "build", lambda **v: real(**{**v, "rule_id": v["rule_id"] + ".forged"}))
    _refuses(MUST_SHARE, r"\.forged' is not a rule of the bundle")


@ENGINES
def test_unverified_law_relied_on_cannot_be_dropped(monkeypatch, kind):
    assert ENGINE.decide(MUST_SHARE).unverified  # the duty rests partly on unverified law
    engine = _engine(kind, MUST_SHARE)
    real = Decision.build
    monkeypatch.setattr(stages.Decision, "build", lambda **v: real(**{**v, "unverified": []}))
    _refuses(MUST_SHARE, "unverified", engine)


def test_a_decision_from_other_rules_is_refused():
    """The rules that decided it must be the bundle's: a decision is checked against its own bundle."""
    decision = ENGINE.decide(MUST_SHARE)
    assert check_decision(BUNDLE, decision) is decision
    with pytest.raises(EngineError, match="bundle_hash"):
        check_decision(BUNDLE, decision.model_copy(update={"bundle_hash": "sha256:" + "0" * 64}))


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("0*.json")))
def test_every_example_passes_its_invariants(name):
    decision = ENGINE.decide(json.loads((EXAMPLES / name).read_text()))
    assert check_decision(BUNDLE, decision) is decision


def test_the_engine_still_decides_after_a_refused_decision(monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(skeleton, "bases", _only_in_decide(skeleton.bases, lambda found: []))
        fresh = Engine(BUNDLE)
        with pytest.raises(EngineError):
            fresh.decide(MUST_SHARE)
    assert fresh.decide(MUST_SHARE).outcome is Outcome.MUST_SHARE
    assert ENGINE.decide(MUST_SHARE).outcome is Outcome.MUST_SHARE
