"""Properties every decision must have, whatever the rules say.

The rule files grow while the engine is built, so nothing here names a rule or expects a
legal outcome for a particular request. The tests assert invariants of the engine and of
the rule-writing conventions instead:

- the durable-rules evaluator, the plain-Python reference evaluator and the interpreted
  condition semantics (``holds``) agree on every fired rule, and durable-rules and the
  reference evaluator on the whole decision (the differential test, 10,000 requests);
- decisions are deterministic;
- the combination semantics documented in sharelaw/engine/combine.py hold (no power,
  no sharing; failed stage, no sharing; must share only on a duty; refer names what is
  missing);
- refused or withdrawn consent is never relied on; exemptions are never a basis;
- every finding is cited, dated and tagged;
- bad input and internal faults fail closed.

The semantic properties are checked on the reference evaluator's decisions. The
differential test asserts that the durable-rules decisions are identical to those
(except the ``evaluator`` field), so together they cover the durable path too while
keeping a disagreement between evaluators out of the semantic failures.
``test_default_engine_decides_every_valid_request`` checks the configuration users run
(durable with the cross-check on).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import GIVERS, _fit_giver, as_at_dates, deterministic_request_dicts, invalid_request_dicts, request_dicts, requests
except ImportError:  # pragma: no cover - if tests/ becomes a package
    from tests.strategies import (  # type: ignore[no-redef]
        GIVERS,
        _fit_giver,
        as_at_dates,
        deterministic_request_dicts,
        invalid_request_dicts,
        request_dicts,
        requests,
    )

from sharelaw.decision import Decision
from sharelaw.engine.durable import DurableEvaluator
from sharelaw.engine.render import plain_text
from sharelaw.engine.stages import Engine
from sharelaw.errors import EngineError, RequestError
from sharelaw.law.citations import LEGISLATION_BASE
from sharelaw.request import SharingRequest, parse_request
from sharelaw.rules.bundle import Bundle
from sharelaw.rules.reference import fire as spec_fire
from sharelaw.vocab import STAGE_ORDER, BasisKind, ConsentState, EffectKind, Outcome, Stage, StageStatus

BUNDLE = Bundle.load()
#: One engine per configuration, reused by every test (engines are built to be reused).
DURABLE = Engine(BUNDLE, evaluator="durable", cross_check=False)
REFERENCE = Engine(BUNDLE, evaluator="reference")
COMPILED = Engine(BUNDLE, evaluator="compiled", cross_check=False)
CHECKED = Engine(BUNDLE)  # the default: durable-rules, cross-checked by the reference evaluator


class _SpecEvaluator:
    """Fires rules with ``holds``, the interpreted specification of what a condition means
    (the reference evaluator runs conditions compiled to Python predicates)."""

    name = "spec"

    def fire(self, segment, facts):
        return spec_fire(segment.rules, facts)

    def close(self) -> None:
        pass


SPEC = Engine(BUNDLE, evaluator="reference")
assert hasattr(SPEC, "_primary"), "Engine internals changed: update _SpecEvaluator wiring"
SPEC._primary = _SpecEvaluator()

#: Requests whose dates include every date where some rule, requirement or file of the
#: bundle starts or stops being in force (and the day before), on top of the era dates.
_boundaries = BUNDLE.boundaries()
REQUESTS = requests(as_at_dates(_boundaries + [d - timedelta(days=1) for d in _boundaries]))

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SHARE = (Outcome.MAY_SHARE, Outcome.MUST_SHARE)
CONSENT_NOT_GIVEN = (ConsentState.REFUSED, ConsentState.WITHDRAWN)


def _dump(decision: Decision) -> dict:
    return decision.model_dump(mode="json", exclude={"evaluator", "cross_checked"})


def _status(decision: Decision, stage: Stage) -> StageStatus:
    return next(s.status for s in decision.stages if s.stage is stage)


# ------------------------------------------------------------------ differential

DIFFERENTIAL_EXAMPLES = 10_000


# THE 10,000-REQUEST DIFFERENTIAL TEST. durable-rules (C core, compiled JSON rulesets)
# against the plain-Python reference evaluator of the same rule files (compiled
# predicates) and the compiled evaluator (one generated function per segment, issue 11),
# and all against the interpreted specification ``holds``: every stage must fire the same
# rules in the same order, and the decisions must be identical (tests/test_differential.py
# runs compiled against durable-rules on 100,000 more).
@settings(
    max_examples=DIFFERENTIAL_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(req=REQUESTS)
def test_differential_durable_and_reference_fire_the_same_rules_and_decide_the_same(req: SharingRequest):
    fired_durable = DURABLE.fired(req)
    fired_reference = REFERENCE.fired(req)
    fired_compiled = COMPILED.fired(req)
    fired_spec = SPEC.fired(req)
    assert list(fired_durable) == list(STAGE_ORDER)
    for stage in STAGE_ORDER:
        assert fired_durable[stage] == fired_spec[stage], stage
        assert fired_reference[stage] == fired_spec[stage], stage
        assert fired_compiled[stage] == fired_spec[stage], stage
    assert _dump(DURABLE.decide(req)) == _dump(REFERENCE.decide(req)) == _dump(COMPILED.decide(req))


@PROPERTY
@given(req=REQUESTS)
def test_default_engine_decides_every_valid_request(req: SharingRequest):
    # The cross-check raises EngineError when the evaluators disagree: a valid request
    # must get a decision, and it must be the reference evaluator's decision.
    assert _dump(CHECKED.decide(req)) == _dump(REFERENCE.decide(req))


# ------------------------------------------------------------------ determinism

# Its own bundle load and its own compiled rulesets. (Loaded next to BUNDLE: the rule
# files may be edited while the tests run, and a later load would see other rules.)
FRESH = Engine(Bundle.load(), evaluator="durable", cross_check=False)
assert FRESH.bundle.content_hash == BUNDLE.content_hash, "rule files changed while the tests were loading"


@PROPERTY
@given(data=request_dicts())
def test_deciding_twice_and_on_another_engine_gives_the_same_decision(data: dict):
    first = DURABLE.decide(data).model_dump(mode="json")
    assert DURABLE.decide(data).model_dump(mode="json") == first
    assert DURABLE.decide(parse_request(data)).model_dump(mode="json") == first
    assert FRESH.decide(json.loads(json.dumps(data))).model_dump(mode="json") == first
    assert REFERENCE.decide(data).model_dump(mode="json") == REFERENCE.decide(data).model_dump(mode="json")


@settings(max_examples=15, deadline=None)
@given(req=REQUESTS)
def test_a_brand_new_engine_decides_like_a_used_one(req: SharingRequest):
    engine = Engine(BUNDLE, evaluator="durable", cross_check=False)  # new evaluator, compiles from scratch
    try:
        assert engine.decide(req).model_dump(mode="json") == DURABLE.decide(req).model_dump(mode="json")
    finally:
        engine.close()


# ------------------------------------------------------------------ combination semantics


@PROPERTY
@given(req=REQUESTS)
def test_no_power_no_sharing(req: SharingRequest):
    d = REFERENCE.decide(req)
    vires = _status(d, Stage.VIRES)
    if vires is StageStatus.FAIL:
        # combine.py rule 3: ultra vires, and nothing after stage 1 is looked at.
        assert d.outcome is Outcome.MUST_NOT_SHARE
        assert [s.status for s in d.stages[1:]] == [StageStatus.NOT_EVALUATED] * (len(STAGE_ORDER) - 1)
        assert all(f.stage is Stage.VIRES for f in d.findings)
        assert all(not s.requirements for s in d.stages[1:])
    if d.outcome in SHARE:
        assert vires is StageStatus.PASS
        assert d.basis, "a decision to share must name the power relied on"
        assert all(b.kind is not BasisKind.NONE for b in d.basis)
        finding_ids = {f.rule_id for f in d.findings if f.stage is Stage.VIRES and f.effect is EffectKind.SATISFIES}
        assert {b.rule_id for b in d.basis} <= finding_ids


@PROPERTY
@given(req=REQUESTS)
def test_outcome_follows_the_documented_semantics(req: SharingRequest):
    d = REFERENCE.decide(req)
    statuses = [s.status for s in d.stages]
    assert [s.stage for s in d.stages] == list(STAGE_ORDER)

    # combine.py rule 4, in full.
    if StageStatus.FAIL in statuses:
        expected = Outcome.MUST_NOT_SHARE
    elif StageStatus.REFER in statuses:
        expected = Outcome.REFER
    elif d.basis and d.basis[0].kind is BasisKind.DUTY:
        expected = Outcome.MUST_SHARE
    else:
        expected = Outcome.MAY_SHARE
    assert d.outcome is expected

    if d.outcome is Outcome.MUST_SHARE:
        assert d.basis[0].kind is BasisKind.DUTY
    if d.outcome is Outcome.REFER:
        assert d.missing, "a referral must say what the practitioner has to supply"
        ids = {f.rule_id for f in d.findings}
        for m in d.missing:
            assert m.question.strip()
            assert m.rule_ids and set(m.rule_ids) <= ids
    else:
        assert not d.missing
    if d.outcome is Outcome.MUST_NOT_SHARE:
        assert StageStatus.FAIL in statuses
    if d.outcome in SHARE:
        assert StageStatus.FAIL not in statuses and StageStatus.REFER not in statuses
        assert not d.ways_forward

    # Basis is strongest first, and decided_by names only rules found.
    ranks = [list(BasisKind).index(b.kind) for b in d.basis]
    assert ranks == sorted(ranks)
    assert set(d.decided_by) <= {f.rule_id for f in d.findings}


@PROPERTY
@given(req=REQUESTS)
def test_requirement_and_stage_statuses_are_consistent(req: SharingRequest):
    # combine.py rules 1 and 2: a requirement is failed if any rule fails it, else met
    # if any satisfies it, else refer, else unmet; the stage follows its requirements.
    d = REFERENCE.decide(req)
    for st_ in d.stages:
        for rq in st_.requirements:
            expected = (
                "failed" if rq.failed_by else "met" if rq.satisfied_by else "refer" if rq.referred_by else "unmet"
            )
            assert rq.status == expected
        kinds = {rq.status for rq in st_.requirements}
        if st_.status is StageStatus.NOT_EVALUATED:
            assert not st_.requirements
        elif not st_.requirements:
            assert st_.status is StageStatus.NOT_ENGAGED
        elif kinds & {"failed", "unmet"}:
            assert st_.status is StageStatus.FAIL
        elif "refer" in kinds:
            assert st_.status is StageStatus.REFER
        else:
            assert st_.status is StageStatus.PASS


# ------------------------------------------------------------------ consent and exemptions

# Naming convention of the rule files: a rule whose legal basis is the person's consent
# has "consent" in its id, and an exemption rule has ".exemption" in its id and only
# ever "notes" (an exemption disapplies a provision; it is never itself a lawful basis).


def _assert_consent_not_relied_on(d: Decision) -> None:
    satisfying = [f.rule_id for f in d.findings if f.effect is EffectKind.SATISFIES]
    assert not [r for r in satisfying if "consent" in r]
    assert not [b.rule_id for b in d.basis if "consent" in b.rule_id]
    if d.outcome in SHARE:
        assert not [r for r in d.decided_by if "consent" in r]
        # every requirement that let the sharing through was met by something other than consent
        for st_ in d.stages:
            for rq in st_.requirements:
                if rq.status == "met":
                    assert [r for r in rq.satisfied_by if "consent" not in r], rq.id


@st.composite
def _consent_not_given_dicts(draw):
    data = draw(request_dicts(dates=as_at_dates(_boundaries)))
    data["consent"] = _fit_giver({
        "state": draw(st.sampled_from(CONSENT_NOT_GIVEN)).value,
        "given_by": draw(st.sampled_from(GIVERS)).value,
    }, data["subject"]["age"])
    return data


@PROPERTY
@given(data=_consent_not_given_dicts())
def test_refused_or_withdrawn_consent_is_never_a_basis(data: dict):
    _assert_consent_not_relied_on(REFERENCE.decide(data))


def test_exemption_rules_only_ever_note():
    wrong = [r.id for r in BUNDLE.rules.values() if "exemption" in r.id and r.effect.kind is not EffectKind.NOTES]
    assert not wrong, f"exemption rules must have effect 'notes': {wrong}"


@PROPERTY
@given(req=REQUESTS)
def test_exemptions_are_never_a_lawful_basis(req: SharingRequest):
    d = REFERENCE.decide(req)
    assert not [f.rule_id for f in d.findings if f.effect is EffectKind.SATISFIES and ".exemption" in f.rule_id]
    assert not [b.rule_id for b in d.basis if ".exemption" in b.rule_id]
    if d.outcome in SHARE:
        assert not [r for r in d.decided_by if ".exemption" in r]


# ------------------------------------------------------------------ citations and tags


def _is_eur_lex(url: str) -> bool:
    return url.startswith("https://eur-lex.europa.eu/") or url.startswith("http://eur-lex.europa.eu/")


@PROPERTY
@given(req=REQUESTS)
def test_every_finding_is_cited_dated_and_tagged(req: SharingRequest):
    d = REFERENCE.decide(req)
    as_at = req.as_at.isoformat()
    ids = {f.rule_id for f in d.findings}
    for f in d.findings:
        assert f.citations, f"{f.rule_id} has no citation"
        for c in f.citations:
            assert c.label.strip()
            if c.kind == "legislation":
                assert c.url, f"{f.rule_id}: legislation cited without a link"
                if not _is_eur_lex(c.url):
                    assert c.url.startswith(LEGISLATION_BASE), (f.rule_id, c.url)
                    assert c.url.endswith("/" + as_at), (f.rule_id, c.url, "not point-in-time")
        assert f.verification in ("verified", "secondary", "unverified")
        # names are rendered as plain text (control characters made spaces, then trimmed), and
        # may themselves contain braces: remove them as rendered before looking for placeholders
        assert f.reason.strip() and "{" not in f.reason.replace(plain_text(req.discloser.name) or "\0", "").replace(
            plain_text(req.recipient.name) or "\0", ""
        ), f"{f.rule_id}: unrendered placeholder in {f.reason!r}"
    assert set(d.unverified) <= ids
    relied = set(d.decided_by) | {b.rule_id for b in d.basis}
    by_id = {f.rule_id: f for f in d.findings}
    for rule_id in d.unverified:
        assert by_id[rule_id].verification != "verified"
        assert rule_id in relied
    # ... and every unverified rule relied on is flagged.
    for rule_id in relied & ids:
        if by_id[rule_id].verification != "verified":
            assert rule_id in d.unverified


@PROPERTY
@given(req=REQUESTS)
def test_decision_round_trips_as_json(req: SharingRequest):
    d = REFERENCE.decide(req)
    text = d.model_dump_json()
    assert Decision.model_validate_json(text) == d
    assert d.as_at == req.as_at and d.request_id == req.request_id
    assert d.bundle_hash == BUNDLE.content_hash
    assert d.explain().startswith(f"# {d.outcome.label}")


# ------------------------------------------------------------------ bad input fails closed


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=invalid_request_dicts())
def test_bad_input_is_refused_with_reasons_or_decided(data):
    try:
        decision = DURABLE.decide(data)
    except RequestError as exc:
        assert exc.errors, "a RequestError must name at least one bad field"
        for e in exc.errors:
            assert e.loc and e.message and e.code
        json.dumps(exc.to_dict())
        return
    # Still valid after the damage: it must be a real decision on the parsed request.
    assert isinstance(decision, Decision)
    assert decision.outcome in set(Outcome)


@pytest.mark.parametrize("data", [None, [], "{}", 42, 3.5, True, b"{}", {"as_at": "2021-01-01"}, {}])
def test_non_requests_are_refused(data):
    with pytest.raises(RequestError) as info:
        DURABLE.decide(data)
    assert info.value.errors


def test_out_of_scope_date_is_refused_with_its_own_code():
    data = deterministic_request_dicts(1, seed=7)[0] | {"as_at": "2000-02-29"}
    with pytest.raises(RequestError) as info:
        DURABLE.decide(data)
    assert info.value.code == "request_out_of_scope"
    assert any(e.loc == "as_at" for e in info.value.errors)


# ------------------------------------------------------------------ internal faults fail closed

# Requests on which the evaluators agree: these tests are about faults, and a
# disagreement between evaluators is the differential test's finding, not theirs.
_FAULT_REQUESTS = [d for d in deterministic_request_dicts(80, seed=99) if DURABLE.fired(d) == REFERENCE.fired(d)][:40]


def _stages_run(data: dict) -> int:
    """Calls into the rule engine for ``data``: one per national stage evaluated (these requests
    involve no protocol partner, so the protocol stage fires nothing)."""
    decision = REFERENCE.decide(data)
    assert not decision.protocols
    return sum(
        1 for s in decision.stages
        if s.status is not StageStatus.NOT_EVALUATED and s.stage is not Stage.PROTOCOL
    )


class _Boom(RuntimeError):
    pass


def _patch_fire(monkeypatch, mutate, fault_at: int):
    """Make DurableEvaluator.fire misbehave on its ``fault_at``-th call (1-based)."""
    real = DurableEvaluator.fire
    calls = {"n": 0}

    def fire(self, segment, facts):
        calls["n"] += 1
        ids = real(self, segment, facts)
        return mutate(ids, segment) if calls["n"] == fault_at else ids

    monkeypatch.setattr(DurableEvaluator, "fire", fire)
    return calls


def _raise(ids, segment):
    raise _Boom("simulated fault in the core")


def _raise_engine_error(ids, segment):
    raise EngineError("simulated engine fault")


def _drop_last(ids, segment):
    return ids[:-1] if ids else [r.id for r in segment.rules[:1]]


def _add_unfired(ids, segment):
    extra = [r.id for r in segment.rules if r.id not in ids]
    return ids + extra[:1] if extra else ids[:-1]


def _duplicate(ids, segment):
    return ids + ids[-1:] if ids else [r.id for r in segment.rules[:1]]


def _reorder(ids, segment):
    return list(reversed(ids)) if len(set(ids)) > 1 else _drop_last(ids, segment)


def _unknown_rule(ids, segment):
    return ids + ["no.such.rule"]


def _assert_fails_closed(engine: Engine, monkeypatch, mutate) -> int:
    assert len(_FAULT_REQUESTS) >= 20
    tested = 0
    for data in _FAULT_REQUESTS:
        for fault_at in range(1, _stages_run(data) + 1):
            with monkeypatch.context() as m:
                calls = _patch_fire(m, mutate, fault_at)
                with pytest.raises(EngineError):
                    engine.decide(data)
                assert calls["n"] >= fault_at
            tested += 1
    # After the faults the same engine still decides correctly: no stale lock or session.
    for data in _FAULT_REQUESTS[:10]:
        assert _dump(engine.decide(data)) == _dump(REFERENCE.decide(data))
    return tested


@pytest.mark.parametrize("cross_check", [True, False])
@pytest.mark.parametrize("mutate", [_raise, _raise_engine_error, _unknown_rule])
def test_a_fault_in_the_durable_evaluator_never_yields_a_decision(monkeypatch, cross_check, mutate):
    engine = Engine(BUNDLE, cross_check=cross_check)
    try:
        assert _assert_fails_closed(engine, monkeypatch, mutate) > len(_FAULT_REQUESTS)
    finally:
        engine.close()


@pytest.mark.parametrize("mutate", [_drop_last, _add_unfired, _duplicate, _reorder])
def test_the_cross_check_refuses_a_wrong_rule_list(monkeypatch, mutate):
    engine = Engine(BUNDLE)  # default: cross-check on
    try:
        assert _assert_fails_closed(engine, monkeypatch, mutate) > len(_FAULT_REQUESTS)
    finally:
        engine.close()


def test_fault_in_request_facts_fails_closed(monkeypatch):
    import sharelaw.engine.stages as stages

    def broken(req):
        raise KeyError("simulated")

    monkeypatch.setattr(stages, "request_facts", broken)
    with pytest.raises(EngineError) as info:
        DURABLE.decide(_FAULT_REQUESTS[0])
    assert not isinstance(info.value, RequestError)


def test_a_core_that_starts_no_rule_is_never_trusted_again(monkeypatch):
    """If durable-rules reports a bad status after asserting a fact, the session is left alone
    (deleting it could crash the process) and the engine refuses every later decision."""
    import sharelaw.engine.durable as durable

    engine = Engine(cross_check=False)
    request = json.loads((Path(__file__).parent.parent / "examples" / "05-hospital-assists-s47-enquiry.json").read_text())
    real = durable._core

    class BadStatus:
        def __getattr__(self, name):
            return getattr(real, name)

        def assert_fact(self, handle, payload):
            return (7, real.assert_fact(handle, payload)[1])

    monkeypatch.setattr(durable, "_core", BadStatus())
    with pytest.raises(EngineError):
        engine.decide(request)
    monkeypatch.setattr(durable, "_core", real)
    with pytest.raises(EngineError, match="unknown state"):
        engine.decide(request)
    assert Engine(cross_check=False).decide(request).outcome  # a new engine works
