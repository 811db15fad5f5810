"""Properties of the legal model added with schema 3 (issue 9), on generated requests.

- A duty that leaves no discretion (HRA 1998 s6(2)(a)), or a court order, never has a
  decision referred for want of an Article 8 judgement, and a practitioner's "not
  proportionate" never makes stage 2 fail.
- Valid consent to the sharing is never referred for an Article 8 judgement.
- Removing one gateway from the rules never turns a sharing that another power also
  supports into a stage-1 refusal (a purpose is not welded to one gateway).
- A closed-list gateway never grants a power to a body outside its list.

The first two read the rule data (which duties say ``discretion: none``) rather than
naming rules, so they keep holding as rules are added; each also checks that the
generated requests actually reached the case it is about, so it cannot pass vacuously.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

try:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import random_request_dict
except ImportError:  # pragma: no cover
    from tests.strategies import random_request_dict  # type: ignore[no-redef]

from sharelaw.engine.pipeline import Engine
from sharelaw.errors import RequestError
from sharelaw.rules.bundle import Bundle
from sharelaw.vocab import BasisKind, DutyDiscretion, Outcome, Stage, StageStatus

BUNDLE = Bundle.load()
ENGINE = Engine(BUNDLE, evaluator="reference")
ART8_JUDGEMENTS = {"assessment.necessary", "assessment.proportionate"}
N = 3000


def _stage(decision, stage: Stage):
    return next(s for s in decision.stages if s.stage is stage)


def _requests(seed: int, n: int = N, **overrides):
    rng = random.Random(seed)
    for _ in range(n):
        data = random_request_dict(rng)
        for key, choices in overrides.items():
            if rng.random() < 0.6:
                data[key] = rng.choice(choices)
        try:
            yield data, ENGINE.decide(data)
        except RequestError:
            continue


def _no_discretion_duty(decision) -> bool:
    return any(
        BUNDLE.rules[b.rule_id].effect.duty_discretion is DutyDiscretion.NONE for b in decision.basis
    ) and _stage(decision, Stage.VIRES).status is StageStatus.PASS


def test_a_duty_without_discretion_is_never_referred_for_an_article_8_judgement():
    reached = 0
    for data, decision in _requests(9001, statutory_request=["court_order", "sab_s45_request", "s16h_request"]):
        if not _no_discretion_duty(decision):
            continue
        reached += 1
        hra = _stage(decision, Stage.HRA)
        necessary = next((r for r in hra.requirements if r.id == "art8_necessary"), None)
        assert necessary is None or necessary.status == "met", (data, necessary)
        asked = {m.item for m in decision.missing if any(BUNDLE.rules[r].stage is Stage.HRA for r in m.rule_ids)}
        assert not asked & ART8_JUDGEMENTS, (data, asked)
        if all(_stage(decision, s).status in (StageStatus.PASS, StageStatus.NOT_ENGAGED)
               for s in (Stage.CONFIDENCE, Stage.DATA_PROTECTION, Stage.PROTOCOL)):
            assert decision.outcome is not Outcome.REFER, data
    assert reached >= 20, f"only {reached} generated requests reached a duty without discretion"


def test_valid_consent_is_never_referred_for_an_article_8_judgement():
    reached = 0
    consents = [{"state": "explicit_for_this", "given_by": "subject"}, {"state": "earlier_covering", "given_by": "subject"},
                {"state": "implied_direct_care", "given_by": "subject"}]
    for data, decision in _requests(9002, consent=consents, purpose=["direct_care", "early_help", "adult_care_support"]):
        fired = {f.rule_id for f in decision.findings}
        if "hra.art8.consent" not in fired:
            continue
        reached += 1
        asked = {m.item for m in decision.missing if any(BUNDLE.rules[r].stage is Stage.HRA for r in m.rule_ids)}
        assert not asked & ART8_JUDGEMENTS, (data, asked)
        assert "hra.art8.consent_not_relied_on" not in fired, data
    assert reached >= 20, f"only {reached} generated requests reached valid consent"


def _without(bundle: Bundle, rule_id: str) -> Bundle:
    """National law with one rule taken out (protocols left out: they may rely on it)."""
    files = [replace(f, rules=[r for r in f.rules if r.id != rule_id]) for f in bundle.files]
    out = Bundle(files, bundle._digests, bundle.sources)
    out.definitions = bundle.definitions
    return out


@pytest.mark.parametrize("seed", [11, 12])
def test_removing_one_gateway_never_refuses_what_another_power_supports(seed):
    """Each stage-1 basis rule removed in turn: where another basis supported the sharing,
    stage 1 still passes, so the decision is never must_not_share for want of a power."""
    engines: dict[str, Engine] = {}
    reached = 0
    for data, decision in _requests(seed, n=1500, protocols=[[]]):
        if decision.outcome not in (Outcome.MAY_SHARE, Outcome.MUST_SHARE) or len(decision.basis) < 2:
            continue
        reached += 1
        for basis in decision.basis:
            rule = BUNDLE.rules[basis.rule_id]
            engine = engines.get(rule.id)
            if engine is None:
                engine = engines[rule.id] = Engine(_without(BUNDLE, rule.id), evaluator="reference")
            after = engine.decide(data)
            assert _stage(after, Stage.VIRES).status is StageStatus.PASS, (rule.id, data)
            assert after.basis, (rule.id, data)
            # A power with no special effect on the later stages changes nothing else.
            eff = rule.effect
            if (eff.basis is not BasisKind.DUTY and not eff.overrides_confidence
                    and {b.kind for b in after.basis} & {BasisKind.EXPRESS_POWER, BasisKind.IMPLIED_POWER, BasisKind.GENERAL_POWER}):
                assert after.outcome is not Outcome.MUST_NOT_SHARE, (rule.id, data)
    assert reached >= 20, f"only {reached} generated sharings had two or more bases"


# ------------------------------------------------------------------ closed lists

_COUNCIL = {"la_childrens_social_care", "la_adult_social_care", "la_housing", "la_education", "la_other"}
_NHS = {"nhs_trust", "integrated_care_board"}


def _s115_relevant_authorities(day) -> set[str]:
    """CDA 1998 s115(2), written here from the statute (not from the rule files): police,
    local authorities, probation and the health commissioners from 1998; registered
    social landlords from 18 January 2005; fire and rescue authorities from 1 August 2007."""
    from datetime import date

    kinds = {"police", "probation", "integrated_care_board"} | _COUNCIL
    if day >= date(2005, 1, 18):
        kinds.add("housing_association")
    if day >= date(2007, 8, 1):
        kinds.add("fire_and_rescue")
    return kinds


#: Each closed-list gateway: which party the list constrains, and the list on a date.
CLOSED_LISTS = {
    # CA 1989 s47(11): local authorities, housing authorities, the NHS bodies.
    "vires.ca1989.s47_9.duty_to_assist": ("discloser", lambda day: _COUNCIL | _NHS),
    # CA 1989 s27(3): local (education, housing) authorities, health authorities, NHS trusts.
    "vires.ca1989.s27.request_for_help": ("discloser", lambda day: _COUNCIL | _NHS),
    # CDA 1998 s115(2): the relevant authorities of the day.
    "vires.cda1998.s115.crime_and_disorder": ("recipient", _s115_relevant_authorities),
    "vires.cda1998.s115.social_landlord": ("recipient", _s115_relevant_authorities),
    "vires.cda1998.s115.fire_and_rescue": ("recipient", _s115_relevant_authorities),
    # DEA 2017 Sch 4: councils, fire, police, schools and academies, FE, the Secretaries of State; no NHS body.
    "vires.dea2017.s35.public_service_delivery": ("both", lambda day: _COUNCIL | {
        "fire_and_rescue", "police", "maintained_school", "academy", "fe_college", "prison", "probation"}),
    # Care Act 2014 s6(7): councils, NHS bodies, police, prisons, probation.
    "vires.care2014.s7.request": ("both", lambda day: _COUNCIL | _NHS | {"police", "prison", "probation"}),
    # OMA 2007 s14(1)-(2), (8): probation providers, and the listed persons among the kinds
    # (relevant local authorities, chief officers of police, the prison service); no NHS
    # body, school, youth offending team or charity.
    "vires.oma2007.s14.offender_management": ("both", lambda day: _COUNCIL | {"police", "prison", "probation"}),
    # CA 2004 s16E(3) with SI 2018/789 Sch: the public-body relevant agencies; no GP
    # practice or fire and rescue authority.
    "vires.ca2004.s16g_4.relevant_agency": ("discloser", lambda day: {
        "academy", "maintained_school", "fe_college", "nhs_trust", "prison", "probation", "youth_offending_team"}),
}


def test_a_closed_list_gateway_never_grants_to_a_body_outside_its_list():
    from datetime import date as _date

    missing = set(CLOSED_LISTS) - set(BUNDLE.rules)
    assert not missing, f"closed-list gateways renamed or removed: {missing}"
    overrides = {
        "statutory_request": ["s47_enquiry", "s27_request", "care_act_s7_request", "none"],
        "purpose": ["child_protection_enquiry", "child_in_need", "crime_prevention_detection",
                    "public_service_delivery", "adult_care_support", "protect_person",
                    "safeguarding_partnership"],
        "assessment": [{"specified_objective": {"value": "yes", "reason": "an objective in SI 2018/912"}}],
    }
    granted = 0
    for data, decision in _requests(9003, n=6000, **overrides):
        day = _date.fromisoformat(data["as_at"])
        for basis in decision.basis:
            if basis.rule_id not in CLOSED_LISTS:
                continue
            granted += 1
            party, listed = CLOSED_LISTS[basis.rule_id]
            for role in (("discloser", "recipient") if party == "both" else (party,)):
                kind = data[role]["kind"]
                assert kind in listed(day), (basis.rule_id, role, kind, data["as_at"])
    assert granted >= 20, f"only {granted} generated requests reached a closed-list gateway"


# Commencement dates read in the commencement order itself (legalize-uk mirror of
# legislation.gov.uk): the rule's first day, and the order its in_force source must name.
COMMENCEMENTS = {
    # SI 2008/504 art 3(f): "section 14 (disclosure for offender management purposes)",
    # 1 April 2008, England and Wales.
    "vires.oma2007.s14.offender_management": ("2008-04-01", "SI 2008/504"),
    # SI 2018/497 regs 3(g), 5-6: every area's implementation date by 30 September 2019.
    "vires.ca2004.s16g_4.relevant_agency": ("2019-10-01", "SI 2018/497"),
    "vires.ca2004.s16h.partner_request": ("2018-06-29", "SI 2018/497"),
}


@pytest.mark.parametrize("rule_id", sorted(COMMENCEMENTS))
def test_a_commencement_read_in_the_order_is_dated_and_tagged_from_it(rule_id):
    first_day, order = COMMENCEMENTS[rule_id]
    window = BUNDLE.rules[rule_id].in_force
    assert window.start.isoformat() == first_day
    assert order in (window.source or "") and window.verification in (None, "verified"), window


def test_a_power_read_into_a_duty_to_act_in_accordance_with_arrangements_is_flagged_as_a_reading():
    # CA 2004 s16G(4) is a duty to act in accordance with the partners' arrangements, for
    # the relevant agencies the partners choose (s16E(1)(b)); no provision confers a power
    # to disclose. A decision resting on the implied power must say it rests on a reading.
    request = {
        "as_at": "2022-06-01", "interaction": "offer",
        "discloser": {"kind": "nhs_trust", "legal_entity": "t"},
        "recipient": {"kind": "la_childrens_social_care", "legal_entity": "c"},
        "subject": {"age": 10, "adult_at_risk": "no", "capacity": "no"},
        "purpose": "safeguarding_partnership",
        "data": {"categories": ["identity_contact"], "identifiability": "identifiable",
                 "in_confidence": "yes", "already_public": "no"},
        "consent": {"state": "not_sought"},
        "risk_of_harm": {"level": "welfare_concern", "to": "subject"},
        "protocols": [],
    }
    decision = ENGINE.decide(request)
    assert "vires.ca2004.s16g_4.relevant_agency" in {b.rule_id for b in decision.basis}
    assert "vires.ca2004.s16g_4.relevant_agency" in decision.unverified
