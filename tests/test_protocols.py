"""Local information sharing protocols (``sharelaw/protocol@1``): what users rely on.

- acceptance: which protocol a decision considered, whether it covers the sharing, and the
  clause that says why not (the unsigned police, the withdrawn Connexions);
- narrowing: over generated requests between the example protocol's partners, a protocol
  never makes an outcome more permissive than national law alone, and never reduces a duty;
- a duty to share prevails over a practice (the practice becomes a note that gives way);
- the runtime guard against a practice that would relax a national requirement
  (tests/fixtures/protocols/widening/widening.yaml), and its static warning in ``sharelaw check``;
- the protocol error codes (tests/fixtures/bad/protocol_*.yaml, with ``# <- error`` on the
  offending line), through ``Bundle.load`` and ``sharelaw check --format json``;
- ``sharelaw check rulesets/`` and ``sharelaw test`` on the protocol alone.

The example protocol is rulesets/protocols/exampleton_cyp.yaml; its scenarios are in
tests/scenarios/protocol_exampleton.yaml.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharelaw.decision import SCHEMA_VERSION
from sharelaw import Engine, scenarios
from sharelaw.cli import main
from sharelaw.errors import EngineError, RequestError, RulesetErrors
from sharelaw.rules.bundle import Bundle, default_ruleset_dir
from sharelaw.vocab import ConditionCode, EffectKind, Outcome, Stage, StageStatus

try:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import as_at_dates, request_dicts
except ImportError:  # pragma: no cover - if tests/ becomes a package
    from tests.strategies import as_at_dates, request_dicts  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
WIDENING = FIXTURES / "protocols" / "widening" / "widening.yaml"
EXAMPLE = ROOT / "rulesets" / "protocols" / "exampleton_cyp.yaml"
SCENARIO_FILE = Path(__file__).parent / "scenarios" / "protocol_exampleton.yaml"
NATIONAL = default_ruleset_dir() / "national"
MARKER = "# <- error"

PID = "protocol.exampleton_cyp"
PROTOCOL_CODES = ["protocol_widens", "protocol_bad_stage", "protocol_unknown_power", "protocol_power_not_in_force"]

ENGINE = Engine()  # the shipped rules, durable-rules cross-checked by the reference evaluator
EXAMPLE_PROTOCOL = ENGINE.bundle.protocols[PID]


# ---------------------------------------------------------------------- requests

HOSPITAL = {"kind": "nhs_trust", "legal_entity": "exampleton-hospitals-nhs-trust", "name": "Exampleton Hospitals NHS Trust"}
CSC = {"kind": "la_childrens_social_care", "legal_entity": "exampleton-city-council", "name": "Exampleton City Council children's social care"}
POLICE = {"kind": "police", "legal_entity": "exampleshire-police", "name": "Exampleshire Police"}
CHARITY = {"kind": "voluntary_organisation", "legal_entity": "exampleton-young-peoples-trust", "name": "Exampleton Young People's Trust"}
YOT = {"kind": "youth_offending_team", "legal_entity": "exampleton-yot", "name": "Exampleton Youth Offending Team"}
CONNEXIONS = {"kind": "youth_support", "legal_entity": "connexions-exampleshire", "name": "Connexions Exampleshire"}
YES = {"value": "yes", "reason": "Recorded by the practitioner."}

#: The hospital trust asked by the council's children's social care for health information
#: about a child in need (national law alone: may share).
HOSPITAL_TO_CSC: dict[str, Any] = {
    "as_at": "2023-03-14",
    "interaction": "disclose_on_request",
    "discloser": HOSPITAL,
    "recipient": CSC,
    "subject": {"age": 9, "adult_at_risk": "no", "capacity": "no"},
    "purpose": "child_in_need",
    "data": {"categories": ["health", "identity_contact"], "identifiability": "identifiable", "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "explicit_for_this", "given_by": "parent"},
    "risk_of_harm": {"level": "welfare_concern", "to": "subject"},
    "statutory_request": "none",
    "assessment": {"necessary": YES, "proportionate": YES, "minimum_necessary": YES},
}

#: The council's children's social care offers the (unsigned) police information for a strategy discussion.
CSC_TO_POLICE: dict[str, Any] = {
    **HOSPITAL_TO_CSC,
    "interaction": "offer",
    "discloser": CSC,
    "recipient": POLICE,
    "purpose": "child_protection_enquiry",
    "data": {"categories": ["social_care_record", "identity_contact"], "identifiability": "identifiable", "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "unsafe_to_seek"},
    "risk_of_harm": {"level": "significant_harm", "to": "subject"},
    "assessment": {"necessary": YES, "proportionate": YES, "public_interest": YES},
}

#: The children's charity offers early help information without the young person's consent
#: (national law alone: may share; clause 7.3: the charity does not share).
CHARITY_TO_CSC: dict[str, Any] = {
    "as_at": "2023-03-14",
    "interaction": "offer",
    "discloser": CHARITY,
    "recipient": CSC,
    "subject": {"age": 15, "adult_at_risk": "no", "capacity": "yes"},
    "purpose": "early_help",
    "data": {"categories": ["identity_contact", "social_care_record"], "identifiability": "identifiable", "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "not_sought"},
    "risk_of_harm": {"level": "welfare_concern", "to": "subject"},
    "statutory_request": "none",
    "assessment": {"necessary": YES, "proportionate": YES, "public_interest": YES},
}

#: The youth offending team offers Connexions a 16-year-old's details (Connexions withdrew on 2011-04-01).
YOT_TO_CONNEXIONS: dict[str, Any] = {
    "as_at": "2010-06-01",
    "interaction": "offer",
    "discloser": YOT,
    "recipient": CONNEXIONS,
    "subject": {"age": 16, "adult_at_risk": "no", "capacity": "yes"},
    "purpose": "early_help",
    "data": {"categories": ["identity_contact", "education_record"], "identifiability": "identifiable", "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "explicit_for_this", "given_by": "subject"},
    "risk_of_harm": {"level": "welfare_concern", "to": "subject"},
    "statutory_request": "none",
    "assessment": {"necessary": YES, "proportionate": YES},
}

#: A private homecare agency offers an older person's health information to a carers' charity
#: for early help, consent not sought: national law says must not share at stage 4 (no
#: Article 9 condition), which the widening fixture's practice would turn into a referral.
HOMECARE_TO_CARERS: dict[str, Any] = {
    "as_at": "2022-06-01",
    "interaction": "offer",
    "discloser": {"kind": "private_company", "legal_entity": "widenham-homecare-ltd", "name": "Widenham Homecare Ltd"},
    "recipient": {"kind": "voluntary_organisation", "legal_entity": "widenham-carers-trust", "name": "Widenham Carers Trust"},
    "subject": {"age": 80, "adult_at_risk": "no", "capacity": "yes"},
    "purpose": "early_help",
    "data": {"categories": ["health", "identity_contact"], "identifiability": "identifiable", "in_confidence": "no", "already_public": "no"},
    "consent": {"state": "not_sought"},
    "risk_of_harm": {"level": "welfare_concern", "to": "subject"},
    "assessment": {"necessary": YES, "proportionate": YES},
}


def with_(base: dict[str, Any], **over: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out.update(copy.deepcopy(over))
    return out


def protocol_findings(decision, rule_prefix: str = PID + "."):
    return [f for f in decision.findings if f.protocol is not None and f.rule_id.startswith(rule_prefix)]


def practice_findings(decision):
    return [f for f in protocol_findings(decision) if ".coverage." not in f.rule_id]


def stage_status(decision, stage: Stage) -> StageStatus:
    return next(s.status for s in decision.stages if s.stage is stage)


def line_of(path: Path, needle: str) -> int:
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- acceptance


def test_the_shipped_rules_include_the_example_protocol():
    p = EXAMPLE_PROTOCOL
    assert p.version == "3.1"
    assert len(p.partners) == 8
    assert sorted(r.id for r in p.rules) == sorted(
        f"{PID}.{name}" for name in (
            "charity_consent_only", "charity_safeguarding_exception", "health_minimum_necessary",
            "secure_transfer", "onward_disclosure_and_retention",
        )
    )


@pytest.mark.parametrize("direction", ["to_police", "from_police"])
def test_a_signed_partner_and_the_unsigned_police_are_not_covered(direction):
    request = CSC_TO_POLICE if direction == "to_police" else with_(CSC_TO_POLICE, discloser=POLICE, recipient=CSC)
    role = "recipient" if direction == "to_police" else "discloser"
    decision = ENGINE.decide(request)

    (considered,) = decision.protocols
    assert considered.id == PID and considered.version == "3.1"
    assert considered.covers is False
    assert considered.named is False  # found because the council has signed it
    assert any(g.startswith("clause Schedule 1, item 5:") and "has not signed" in g for g in considered.gaps)

    gap = [f for f in protocol_findings(decision) if f.protocol.clause == "Schedule 1, item 5"]
    assert len(gap) == 1, [f.rule_id for f in decision.findings]
    (finding,) = gap
    assert finding.rule_id == f"{PID}.coverage.{role}_not_signed"
    assert finding.stage is Stage.PROTOCOL and finding.effect is EffectKind.NOTES
    assert "Exampleshire Police has not signed" in finding.reason
    assert "national law alone" in finding.reason
    assert finding.protocol.id == PID and finding.protocol.version == "3.1"
    # No practice applies: the decision rests on national law.
    assert practice_findings(decision) == []
    assert stage_status(decision, Stage.PROTOCOL) is StageStatus.NOT_ENGAGED
    national = ENGINE.decide(with_(request, protocols=[]))
    assert decision.outcome is national.outcome is Outcome.MAY_SHARE
    assert [s.status for s in decision.stages] == [s.status for s in national.stages]
    assert {c.code for c in decision.conditions} == {c.code for c in national.conditions}


def test_naming_the_protocol_does_not_cover_the_unsigned_police():
    decision = ENGINE.decide(with_(CSC_TO_POLICE, protocols=[PID]))
    (considered,) = decision.protocols
    assert considered.named is True and considered.covers is False
    (finding,) = [f for f in protocol_findings(decision) if f.protocol.clause == "Schedule 1, item 5"]
    assert "has not signed" in finding.reason and "named in the request" in finding.reason
    assert practice_findings(decision) == []
    assert decision.outcome is Outcome.MAY_SHARE


def test_signed_partners_are_covered_and_the_findings_cite_the_protocol_clause():
    decision = ENGINE.decide(HOSPITAL_TO_CSC)
    (considered,) = decision.protocols
    assert (considered.id, considered.version, considered.named, considered.covers, considered.gaps) == (
        PID, "3.1", False, True, [],
    )
    clauses = {f.rule_id: f.protocol.clause for f in practice_findings(decision)}
    assert clauses == {f"{PID}.secure_transfer": "9.1", f"{PID}.onward_disclosure_and_retention": "11.1 and 12.2"}
    for f in practice_findings(decision):
        assert f.protocol.id == PID and f.protocol.version == "3.1"
        assert f.protocol.title == EXAMPLE_PROTOCOL.title
        assert any(c.paragraph == f"clause {f.protocol.clause}" for c in f.citations)
    # national findings carry no protocol reference
    assert all(f.protocol is None for f in decision.findings if not f.rule_id.startswith("protocol."))
    assert decision.outcome is Outcome.MAY_SHARE
    assert stage_status(decision, Stage.PROTOCOL) is StageStatus.PASS
    codes = {c.code for c in decision.conditions}
    assert {
        ConditionCode.SECURE_TRANSFER, ConditionCode.NOMINATED_REPRESENTATIVE, ConditionCode.NO_ONWARD_DISCLOSURE,
        ConditionCode.RETENTION_LIMIT, ConditionCode.PROTOCOL_RECORDING,
    } <= codes
    # the decision as JSON (schema 2) carries the same
    data = decision.model_dump(mode="json")
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["protocols"][0]["covers"] is True
    assert {f["protocol"]["clause"] for f in data["findings"] if f["protocol"]} == {"9.1", "11.1 and 12.2"}


def test_health_information_without_the_minimum_necessary_is_referred():
    assessment = {"necessary": YES, "proportionate": YES}
    decision = ENGINE.decide(with_(HOSPITAL_TO_CSC, assessment=assessment))
    national = ENGINE.decide(with_(HOSPITAL_TO_CSC, assessment=assessment, protocols=[]))
    assert national.outcome is Outcome.MAY_SHARE
    assert decision.outcome is Outcome.REFER
    assert [m.item for m in decision.missing] == ["assessment.minimum_necessary"]
    assert decision.missing[0].rule_ids == [f"{PID}.health_minimum_necessary"]
    assert decision.decided_by == [f"{PID}.health_minimum_necessary"]
    (f,) = [f for f in practice_findings(decision) if f.rule_id.endswith("health_minimum_necessary")]
    assert f.effect is EffectKind.REFERS and f.protocol.clause == "8.2"


def test_the_charity_shares_only_with_the_young_persons_consent():
    national = ENGINE.decide(with_(CHARITY_TO_CSC, protocols=[]))
    assert national.outcome is Outcome.MAY_SHARE
    decision = ENGINE.decide(CHARITY_TO_CSC)
    assert decision.outcome is Outcome.MUST_NOT_SHARE
    assert decision.decided_by == [f"{PID}.charity_consent_only"]
    assert "clause 7.3" in decision.summary
    assert stage_status(decision, Stage.PROTOCOL) is StageStatus.FAIL
    consenting = ENGINE.decide(with_(CHARITY_TO_CSC, consent={"state": "explicit_for_this", "given_by": "subject"}))
    assert consenting.outcome is Outcome.MAY_SHARE


@pytest.mark.parametrize(("as_at", "covers"), [("2011-03-31", True), ("2011-04-01", False), ("2015-06-01", False)])
def test_connexions_is_not_covered_from_its_withdrawal(as_at, covers):
    decision = ENGINE.decide(with_(YOT_TO_CONNEXIONS, as_at=as_at))
    (considered,) = decision.protocols
    assert considered.covers is covers
    withdrawn = [f for f in protocol_findings(decision) if f.protocol.clause == "Schedule 1, item 8"]
    if covers:
        assert withdrawn == [] and considered.gaps == []
        assert {f.rule_id for f in practice_findings(decision)} == {
            f"{PID}.secure_transfer", f"{PID}.onward_disclosure_and_retention",
        }
    else:
        (finding,) = withdrawn
        assert finding.rule_id == f"{PID}.coverage.recipient_withdrawn"
        assert "withdrew from the protocol on 2011-04-01" in finding.reason
        assert considered.gaps == ["clause Schedule 1, item 8: Connexions Exampleshire withdrew from the protocol on 2011-04-01."]
        assert practice_findings(decision) == []
    assert decision.outcome is Outcome.MAY_SHARE


def test_an_unknown_protocol_is_a_request_error_naming_the_field():
    with pytest.raises(RequestError) as info:
        ENGINE.decide(with_(HOSPITAL_TO_CSC, protocols=["protocol.nowhere"]))
    (error,) = info.value.errors
    assert error.loc == "protocols[0]"
    assert "protocol.nowhere" in error.message and PID in error.message  # says which are known
    with pytest.raises(RequestError) as info:
        ENGINE.decide(with_(HOSPITAL_TO_CSC, protocols=[PID, "protocol.nowhere"]))
    assert [e.loc for e in info.value.errors] == ["protocols[1]"]


def test_cli_decide_exits_2_for_an_unknown_protocol(tmp_path, capsys):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(with_(HOSPITAL_TO_CSC, protocols=["protocol.nowhere"])), encoding="utf-8")
    code, out, err = run_cli(capsys, "decide", str(path))
    assert code == 2
    assert out == ""
    assert "protocols[0]" in err and "protocol.nowhere" in err
    code, out, _ = run_cli(capsys, "decide", str(path), "--format", "json")
    assert code == 2
    assert [e["loc"] for e in json.loads(out)["errors"]] == ["protocols[0]"]


def test_an_empty_protocol_list_means_national_law_alone():
    assessment = {"necessary": YES, "proportionate": YES}
    for request in (with_(HOSPITAL_TO_CSC, assessment=assessment), CHARITY_TO_CSC, CSC_TO_POLICE):
        decision = ENGINE.decide(with_(request, protocols=[]))
        assert decision.protocols == []
        assert all(f.protocol is None for f in decision.findings)
        assert stage_status(decision, Stage.PROTOCOL) is StageStatus.NOT_ENGAGED
        assert decision.outcome is Outcome.MAY_SHARE
        assert not any(rid.startswith("protocol.") for ids in ENGINE.fired(with_(request, protocols=[])).values() for rid in ids)


def test_parties_who_are_not_partners_consider_no_protocol():
    request = with_(CSC_TO_POLICE, discloser={"kind": "la_childrens_social_care", "legal_entity": "elsewhere-council"})
    decision = ENGINE.decide(request)
    assert decision.protocols == []
    assert all(f.protocol is None for f in decision.findings)


# ---------------------------------------------------------------------- narrowing

RANK = {Outcome.MUST_NOT_SHARE: 0, Outcome.REFER: 1, Outcome.MAY_SHARE: 2, Outcome.MUST_SHARE: 3}
_PARTNER_AGENCIES = [(p.legal_entity, k.value) for p in EXAMPLE_PROTOCOL.partners for k in p.kinds]
_PROTOCOL_DATES = [
    date(2006, 3, 31), date(2006, 4, 1), date(2006, 4, 9), date(2006, 4, 10), date(2011, 3, 31), date(2011, 4, 1),
]

#: Any in-scope day (boundaries often), and as often a day the protocol is in force.
_DATES = st.one_of(as_at_dates(extra=_PROTOCOL_DATES), st.dates(min_value=date(2006, 4, 10), max_value=date(2027, 12, 31)))


@st.composite
def partner_requests(draw) -> dict[str, Any]:
    """A generated request, its parties mostly mapped onto the example protocol's partners
    (as any kind a partner takes part as), its purpose often one the protocol covers."""
    req = copy.deepcopy(draw(request_dicts(dates=_DATES)))
    for role in ("discloser", "recipient"):
        if draw(st.integers(0, 7)):
            entity, kind = draw(st.sampled_from(_PARTNER_AGENCIES))
            req[role] = {**req[role], "legal_entity": entity, "kind": kind}
    if draw(st.integers(0, 3)):
        req["purpose"] = draw(st.sampled_from(EXAMPLE_PROTOCOL.purposes))
    if draw(st.integers(0, 4)) == 0:
        req["protocols"] = [PID]
    else:
        req.pop("protocols", None)
    return req


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(req=partner_requests())
def test_a_protocol_never_widens_national_law(req):
    with_protocols = ENGINE.decide(req)
    national = ENGINE.decide({**req, "protocols": []})
    got, base = with_protocols.outcome, national.outcome
    if base is Outcome.MUST_SHARE:
        assert got is Outcome.MUST_SHARE, "a duty to share prevails over a protocol"
    else:
        assert RANK[got] <= RANK[base], f"{base.value} became {got.value}"
    codes, national_codes = {c.code for c in with_protocols.conditions}, {c.code for c in national.conditions}
    if got is Outcome.MUST_NOT_SHARE:
        # a refusal keeps only the record of the decision
        assert codes >= national_codes & {ConditionCode.RECORD_DECISION}
    else:
        assert codes >= national_codes
    # the national stages decide the same (practices at later national stages may only add failures)
    for mine, theirs in zip(with_protocols.stages[:4], national.stages[:4]):
        if mine.status is not theirs.status:
            assert mine.status in (StageStatus.FAIL, StageStatus.REFER), (mine.stage, theirs.status, mine.status)
    if not any(p.covers for p in with_protocols.protocols):
        # a protocol that does not cover the sharing changes nothing but notes
        assert got is base
        assert [s.status for s in with_protocols.stages] == [s.status for s in national.stages]
        assert not practice_findings(with_protocols)


# ---------------------------------------------------------------------- duty prevails


def test_a_duty_to_share_prevails_over_the_charitys_consent_only_practice():
    request = with_(
        CHARITY_TO_CSC, interaction="disclose_on_request", purpose="child_protection_enquiry",
        consent={"state": "refused", "given_by": "subject"}, statutory_request="court_order",
    )
    decision = ENGINE.decide(request)
    assert decision.basis[0].kind.value == "duty"
    assert decision.outcome is Outcome.MUST_SHARE
    assert f"{PID}.charity_consent_only" in ENGINE.fired(request)[Stage.PROTOCOL]
    (finding,) = [f for f in practice_findings(decision) if f.rule_id == f"{PID}.charity_consent_only"]
    assert finding.effect is EffectKind.NOTES  # not fails
    assert "gives way" in finding.reason and "duty" in finding.reason
    assert finding.protocol.clause == "7.3"
    assert stage_status(decision, Stage.PROTOCOL) is StageStatus.PASS
    assert decision.ways_forward == [] and decision.missing == []
    # without the court order the same practice forbids the sharing
    assert ENGINE.decide(with_(request, statutory_request="none", assessment=CHARITY_TO_CSC["assessment"])).outcome is Outcome.MUST_NOT_SHARE


def test_a_duty_to_share_prevails_over_a_referring_practice():
    request = with_(HOSPITAL_TO_CSC, statutory_request="court_order", assessment={"necessary": YES, "proportionate": YES})
    decision = ENGINE.decide(request)
    assert decision.outcome is Outcome.MUST_SHARE
    (finding,) = [f for f in practice_findings(decision) if f.rule_id == f"{PID}.health_minimum_necessary"]
    assert finding.effect is EffectKind.NOTES and "gives way" in finding.reason
    assert decision.missing == []


# ---------------------------------------------------------------------- the runtime guard

PRACTICE = "protocol.widenham_carers.caldicott_referral"


@pytest.fixture(scope="module")
def widening_bundle() -> Bundle:
    return Bundle.load(NATIONAL, WIDENING)


def test_the_widening_fixture_loads_and_its_request_is_refused_by_national_law(widening_bundle):
    assert list(widening_bundle.protocols) == ["protocol.widenham_carers"]
    national = Engine(widening_bundle, evaluator="reference").decide(with_(HOMECARE_TO_CARERS, protocols=[]))
    assert national.outcome is Outcome.MUST_NOT_SHARE
    dp = next(s for s in national.stages if s.stage is Stage.DATA_PROTECTION)
    assert dp.status is StageStatus.FAIL
    assert {r.id: r.status for r in dp.requirements}["art9_condition"] == "unmet"


@pytest.mark.parametrize("evaluator", ["durable", "reference"])
def test_a_practice_that_would_widen_national_law_raises(widening_bundle, evaluator):
    engine = Engine(widening_bundle, evaluator=evaluator)
    with pytest.raises(EngineError) as info:
        engine.decide(HOMECARE_TO_CARERS)
    message = str(info.value)
    assert PRACTICE in message and "art9_condition" in message
    assert "unmet to refer" in message


def test_with_the_guard_off_the_widening_is_shown(widening_bundle):
    decision = Engine(widening_bundle, guard_protocols=False).decide(HOMECARE_TO_CARERS)
    assert decision.outcome is Outcome.REFER  # national law: must not share
    assert stage_status(decision, Stage.DATA_PROTECTION) is StageStatus.REFER
    assert [m.item for m in decision.missing] == ["assessment.necessary"]
    assert decision.missing[0].rule_ids == [PRACTICE]


def test_the_guard_lets_a_harmless_referral_through(widening_bundle):
    """Where national law meets art9_condition (explicit consent), the referral changes nothing."""
    engine = Engine(widening_bundle)
    request = with_(HOMECARE_TO_CARERS, consent={"state": "explicit_for_this", "given_by": "subject"})
    assert PRACTICE in engine.fired(request)[Stage.DATA_PROTECTION]
    decision = engine.decide(request)
    assert decision.outcome is engine.decide(with_(request, protocols=[])).outcome is Outcome.MAY_SHARE


def test_check_warns_that_the_widening_practice_may_widen(capsys):
    line = line_of(WIDENING, f"- id: {PRACTICE}")
    code, out, _ = run_cli(capsys, "check", str(WIDENING))
    assert code == 0
    assert re.search(rf"{WIDENING.name}:{line}:\d+: protocol_may_widen: warning: ", out)
    assert out.strip().splitlines()[-1].startswith("OK")
    code, out, _ = run_cli(capsys, "check", str(WIDENING), "--strict")
    assert code == 1
    code, out, _ = run_cli(capsys, "check", str(WIDENING), "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["shipped_national_rules_added"] is True
    assert [(d["code"], d["severity"], Path(d["file"]).name, d["line"], d["rule_id"]) for d in report["diagnostics"]] == [
        ("protocol_may_widen", "warning", WIDENING.name, line, PRACTICE),
    ]
    code, out, _ = run_cli(capsys, "check", str(WIDENING), "--format", "json", "--strict")
    assert code == 1 and json.loads(out)["ok"] is False


# ---------------------------------------------------------------------- error codes


def test_every_protocol_code_is_documented_and_has_a_fixture():
    from sharelaw.rules import loader

    documented = re.findall(r"``(protocol_[a-z_]+)``", loader.__doc__ or "")
    assert sorted(documented) == sorted(PROTOCOL_CODES)
    assert sorted(p.stem for p in BAD.glob("protocol_*.yaml")) == sorted(PROTOCOL_CODES)


@pytest.mark.parametrize("code", PROTOCOL_CODES)
def test_bad_protocol_reports_its_code_file_and_line(code):
    path = BAD / f"{code}.yaml"
    expected = line_of(path, MARKER)
    with pytest.raises(RulesetErrors) as info:
        Bundle.load(NATIONAL, path)
    errors = info.value.errors
    assert [e.code for e in errors] == [code], [e.render() for e in errors]
    (err,) = errors
    assert Path(err.file).name == path.name
    assert err.line == expected
    assert re.search(rf"{re.escape(path.name)}:{expected}(:\d+)?: {code}: ", err.render()), err.render()


@pytest.mark.parametrize("code", PROTOCOL_CODES)
def test_check_reports_the_bad_protocol_as_json(code, capsys):
    path = BAD / f"{code}.yaml"
    exit_code, out, _ = run_cli(capsys, "check", str(path), "--format", "json")
    assert exit_code == 1
    report = json.loads(out)
    assert report["ok"] is False and report["errors"] == 1
    assert [(d["code"], Path(d["file"]).name, d["line"], d["severity"]) for d in report["diagnostics"]] == [
        (code, path.name, line_of(path, MARKER), "error"),
    ]


PARTNER_WITHDRAWN_BEFORE_SIGNED = textwrap.dedent(
    """\
    format: sharelaw/protocol@1
    id: protocol.bad_withdrawal
    title: Bad protocol (a partner withdrew before it signed)
    version: "1"
    owner: Test partnership
    review_date: 2027-01-01
    in_force: {from: 2010-01-01}
    purpose: {clause: "2", summary: Early help., purposes: [early_help]}
    partners:
      clause: "3"
      bodies:
        - id: council
          name: Test City Council
          legal_entity: test-city-council
          kinds: [la_childrens_social_care]
          signed: 2010-01-01
        - id: trust  # <- error
          name: Test NHS Trust
          legal_entity: test-nhs-trust
          kinds: [nhs_trust]
          signed: 2010-01-01
          withdrawn: 2009-06-30
    powers:
      clause: "4"
      relies_on:
        - {rule: vires.ca1989.s17.child_in_need, clause: "4.1"}
    """
)


def test_a_partner_withdrawn_before_it_signed_is_a_schema_error(tmp_path, capsys):
    path = tmp_path / "withdrawn.yaml"
    path.write_text(PARTNER_WITHDRAWN_BEFORE_SIGNED, encoding="utf-8")
    with pytest.raises(RulesetErrors) as info:
        Bundle.load(NATIONAL, path)
    (err,) = info.value.errors
    assert (err.code, err.line) == ("ruleset_schema_error", line_of(path, MARKER))
    assert "trust" in err.message and "withdrew" in err.message
    code, out, _ = run_cli(capsys, "check", str(path), "--format", "json")
    assert code == 1
    assert [(d["code"], d["line"]) for d in json.loads(out)["diagnostics"]] == [("ruleset_schema_error", err.line)]


# ---------------------------------------------------------------------- the commands


def test_check_the_shipped_rules_is_clean(capsys):
    code, out, _ = run_cli(capsys, "check", str(ROOT / "rulesets"), "--today", "2026-12-02")  # review dates: as at a fixed day
    assert code == 0
    assert out.startswith("OK:") and "1 protocol(s); 0 error(s), 0 warning(s)" in out


def test_check_the_example_protocol_alone_adds_the_national_rules(capsys):
    code, out, _ = run_cli(capsys, "check", str(EXAMPLE), "--strict", "--today", "2026-12-02")
    assert code == 0
    assert "(with the shipped national rules)" in out and "0 error(s), 0 warning(s)" in out


def test_sharelaw_test_runs_the_protocol_scenarios_against_the_shipped_national_law(capsys):
    count = len(scenarios.load([SCENARIO_FILE]))
    assert count >= 10
    code, out, _ = run_cli(capsys, "test", str(ROOT / "rulesets" / "protocols"), str(SCENARIO_FILE))
    assert code == 0, out
    assert f"{count} passed, 0 failed" in out
    # every practice is fired and at its limit by these scenarios alone
    for rule in EXAMPLE_PROTOCOL.rules:
        assert f"never fired: {rule.id}" not in out
        assert f"no scenario at its limit: {rule.id}" not in out


# ---------------------------------------------------------------------- known bugs


def test_a_sharing_with_no_power_is_not_covered():
    # The council's education service offers Connexions a pupil's details for youth support in
    # 2010: both are signed partners and the purpose is listed, but no national power applies.
    request = with_(
        YOT_TO_CONNEXIONS, discloser={"kind": "la_education", "legal_entity": "exampleton-city-council"},
        purpose="youth_support_services",
    )
    decision = ENGINE.decide(request)
    assert decision.outcome is Outcome.MUST_NOT_SHARE
    assert stage_status(decision, Stage.VIRES) is StageStatus.FAIL
    (considered,) = decision.protocols
    assert considered.covers is False
    assert any(g.startswith("clause 4 and Schedule 2:") for g in considered.gaps)
