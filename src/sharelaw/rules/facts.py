"""The facts that rules see: a flat, normalised, finite vocabulary.

Every fact is either an enum (a string from a closed list) or a boolean. There are no
numbers and no nulls: "unknown" is an explicit value and ages are reduced to the bands
the law distinguishes. This keeps the durable-rules core away from its type pitfalls
(lexical number comparison, null and missing-field semantics) and keeps the space of
possible requests finite.

Facts named ``<stage>.*`` are established by an earlier stage and visible only to the
stages after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from ..request import SharingRequest
from ..vocab import (
    PURPOSE_KIND,
    AgeBand,
    AgencyKind,
    BasisKind,
    ConsentGiver,
    ConsentState,
    DataCategory,
    DutyDiscretion,
    DutySource,
    HarmLevel,
    HarmTo,
    Identifiability,
    PersonAtRisk,
    Interaction,
    Judgement,
    Purpose,
    SharingKind,
    Stage,
    StageStatus,
    StatutoryRequest,
    YesNoUnknown,
    age_band,
)


@dataclass(frozen=True)
class FactSpec:
    name: str
    values: tuple[str, ...] | None  # None for a boolean fact
    description: str
    from_stage: Stage = Stage.VIRES  # first stage whose rules may read it
    enum: type[Enum] | None = None

    @property
    def is_bool(self) -> bool:
        return self.values is None

    def label(self, value: object) -> str:
        if self.is_bool:
            return "yes" if value else "no"
        if self.enum is not None:
            return getattr(self.enum(value), "label", str(value))
        return str(value)


def _enum(name: str, enum: type[Enum], description: str, from_stage: Stage = Stage.VIRES) -> FactSpec:
    return FactSpec(name, tuple(m.value for m in enum), description, from_stage, enum)


def _bool(name: str, description: str, from_stage: Stage = Stage.VIRES) -> FactSpec:
    return FactSpec(name, None, description, from_stage)


_SPECS: list[FactSpec] = [
    _enum("interaction", Interaction, "Which sharing action of the decision matrix this is."),
    _enum("purpose", Purpose, "The purpose of the sharing."),
    _enum("sharing_kind", SharingKind, "Routine, service provision or child protection (derived from the purpose)."),
    _enum("discloser.kind", AgencyKind, "The kind of body that holds and would disclose the information."),
    _bool("discloser.public_authority", "The discloser acts as a public authority for this sharing."),
    _enum("recipient.kind", AgencyKind, "The kind of body that would receive the information."),
    _bool("recipient.public_authority", "The recipient acts as a public authority for this sharing."),
    _bool("same_legal_entity", "Discloser and recipient are the same legal person (e.g. two departments of one council)."),
    _enum("subject.age_band", AgeBand, "The person's age band."),
    _enum("subject.adult_at_risk", YesNoUnknown, "The person is an adult at risk."),
    _enum("subject.capacity", YesNoUnknown, "The person has capacity (or Gillick competence) to decide about this sharing."),
    *[_bool(f"data.{c.value}", f"The information includes {c.label}.") for c in DataCategory],
    _enum("data.identifiability", Identifiability, "Whether the information identifies the person."),
    _enum("data.in_confidence", YesNoUnknown, "The information was imparted in confidence."),
    _enum("data.already_public", YesNoUnknown, "The information is already in the public domain."),
    _enum("data.art89_safeguards", YesNoUnknown, "For research or statistics: the Article 89 safeguards are in place."),
    _enum("consent.state", ConsentState, "The state of consent to this sharing."),
    _enum("consent.given_by", ConsentGiver, "Who gave, refused or withdrew consent."),
    _enum("risk.level", HarmLevel, "The level of risk of harm."),
    _enum("risk.to", HarmTo, "Who is at risk."),
    _enum("risk.other_person", PersonAtRisk, "When another person is at risk: who they are."),
    _enum("statutory_request", StatutoryRequest, "The statutory request or order the disclosure answers."),
    _enum("assessment.necessary", Judgement, "Practitioner's judgement: the sharing is necessary."),
    _enum("assessment.proportionate", Judgement, "Practitioner's judgement: the sharing is proportionate."),
    _enum("assessment.minimum_necessary", Judgement, "Practitioner's judgement: only the minimum necessary is shared."),
    _enum("assessment.public_interest", Judgement, "Practitioner's judgement: the public interest outweighs confidence."),
    _enum("assessment.best_interests", Judgement, "Practitioner's judgement: the sharing is in the best interests of a person who lacks capacity (MCA 2005 s4)."),
    _enum("assessment.consent_unreasonably_withheld", Judgement, "Practitioner's judgement: consent was unreasonably withheld (DPA 1998 Sch 3 para 3(b))."),
    _enum("assessment.specified_objective", Judgement, "Practitioner's record: the sharing is for an objective specified under Digital Economy Act 2017 s35 for both bodies."),
    # established by stage 1 (vires)
    _enum("vires.status", StageStatus, "Outcome of stage 1.", Stage.HRA),
    _enum("vires.basis", BasisKind, "The strongest stage-1 basis found.", Stage.HRA),
    _bool("vires.statutory", "Stage 1 found a basis conferred by an enactment (a court order is not one).", Stage.HRA),
    _bool(
        "vires.public_function",
        "The discloser is a public authority exercising a function conferred by an enactment or a rule of law "
        "(a statutory basis, or a common law power such as the police's).",
        Stage.HRA,
    ),
    _bool(
        "vires.overrides_confidence",
        "A stage-1 gateway relied on says expressly that disclosing under it breaches no obligation of confidence.",
        Stage.HRA,
    ),
    _bool("vires.required_by_law", "A stage-1 duty compels this disclosure (it is required by law).", Stage.HRA),
    _enum(
        "vires.unqualified_duty_source",
        DutySource,
        "Where a stage-1 duty that leaves no discretion, and that compels this disclosure, comes from: an Act "
        "(HRA 1998 s6(2)(a)), regulations made under an Act, or a court order; 'none' if there is no such duty. "
        "One rule gives it, so the source and the absence of discretion are never those of two different bases.",
        Stage.HRA,
    ),
    _enum(
        "vires.duty_discretion",
        DutyDiscretion,
        "Whether a stage-1 duty relied on leaves the discloser no discretion ('none': HRA 1998 s6(2)(a)), carries "
        "its own exception or judgement ('qualified'), or no duty was found ('no_duty').",
        Stage.HRA,
    ),
    # established by stage 2 (HRA)
    _enum("hra.status", StageStatus, "Outcome of stage 2.", Stage.CONFIDENCE),
    # established by stage 3 (confidence)
    _enum("confidence.status", StageStatus, "Outcome of stage 3.", Stage.DATA_PROTECTION),
    # established by stage 4 (data protection), for the protocols
    _enum("data_protection.status", StageStatus, "Outcome of stage 4.", Stage.PROTOCOL),
]

FACTS: dict[str, FactSpec] = {spec.name: spec for spec in _SPECS}

#: Request fields a referral can name as missing, with the question to put to the practitioner.
MISSING_ITEMS: dict[str, str] = {
    "assessment.necessary": "Is the sharing necessary, with no less intrusive way to achieve the purpose? Record yes or no, with the reason.",
    "assessment.proportionate": "Is the sharing proportionate to its aim (a fair balance between the person's rights and the aim)? Record yes or no, with the reason.",
    "assessment.minimum_necessary": "Is only the minimum necessary information being shared? Record yes or no, with the reason.",
    "assessment.public_interest": "Does the public interest in sharing outweigh the public interest in confidence? Record yes or no, with the reason.",
    "risk_of_harm.level": "What level of risk of harm is there (welfare concern, significant harm, risk to life)?",
    "risk_of_harm.to": "Who is at risk?",
    "data.in_confidence": "Was the information imparted in confidence?",
    "data.already_public": "Is the information already in the public domain?",
    "subject.age": "How old is the person?",
    "subject.capacity": "Does the person have capacity (or, under 16, Gillick competence) to decide about this sharing?",
    "subject.adult_at_risk": "Is there reasonable cause to suspect the adult is at risk (care and support needs, abuse or neglect, unable to protect themselves)?",
    "purpose": "Which statutory function or legitimate aim does the sharing serve?",
    "statutory_request": "Which statutory request or order, if any, does the disclosure answer?",
    "consent.state": "Has the person (or someone able to consent for them) been asked, and do they consent to this sharing?",
    "consent.given_by": "Who gave, refused or withdrew consent, and do they have authority to decide for the person (a registered health and welfare attorney or a welfare deputy, for an adult who lacks capacity)?",
    "assessment.best_interests": "The person lacks capacity and nobody with authority decides for them: is the sharing in their best interests (Mental Capacity Act 2005 s4)? Record yes or no, with the reason and whom you consulted.",
    "assessment.consent_unreasonably_withheld": "Was the refusal of consent unreasonable, given the risk to another person's vital interests? Record yes or no, with the reason.",
    "data.art89_safeguards": "Are the safeguards for research and statistics in place (data minimisation, pseudonymisation where possible, no decisions about the individuals, no substantial damage or distress)?",
    "risk_of_harm.other_person": "Who is the other person at risk: a child, an adult at risk, or another adult?",
    "assessment.specified_objective": "Is the sharing for an objective specified in the regulations under Digital Economy Act 2017 s35 (for example multiple disadvantages, fuel poverty or water poverty) in relation to both bodies? Record yes or no, naming the objective.",
}

def request_facts(req: SharingRequest) -> dict[str, object]:
    """The normalised facts of a request: every fact in ``FACTS`` that is not stage-established.

    Values are the enum members' plain ``str`` values (``_value_``, the attribute ``.value``
    reads, without the property's cost: this runs on every decision)."""
    categories = set(req.data.categories)
    facts: dict[str, object] = {
        "interaction": req.interaction._value_,
        "purpose": req.purpose._value_,
        "sharing_kind": PURPOSE_KIND[req.purpose]._value_,
        "discloser.kind": req.discloser.kind._value_,
        "discloser.public_authority": req.discloser.public_authority,
        "recipient.kind": req.recipient.kind._value_,
        "recipient.public_authority": req.recipient.public_authority,
        "same_legal_entity": req.discloser.legal_entity == req.recipient.legal_entity,
        "subject.age_band": age_band(None if req.subject.age == "unknown" else req.subject.age)._value_,
        "subject.adult_at_risk": req.subject.adult_at_risk._value_,
        "subject.capacity": req.subject.capacity._value_,
        "data.identifiability": req.data.identifiability._value_,
        "data.in_confidence": req.data.in_confidence._value_,
        "data.already_public": req.data.already_public._value_,
        "data.art89_safeguards": req.data.art89_safeguards._value_,
        "consent.state": req.consent.state._value_,
        "consent.given_by": req.consent.given_by._value_,
        "risk.level": req.risk_of_harm.level._value_,
        "risk.to": req.risk_of_harm.to._value_,
        "risk.other_person": req.risk_of_harm.other._value_,
        "statutory_request": req.statutory_request._value_,
        "assessment.necessary": req.assessment.necessary.value._value_,
        "assessment.proportionate": req.assessment.proportionate.value._value_,
        "assessment.minimum_necessary": req.assessment.minimum_necessary.value._value_,
        "assessment.public_interest": req.assessment.public_interest.value._value_,
        "assessment.best_interests": req.assessment.best_interests.value._value_,
        "assessment.consent_unreasonably_withheld": req.assessment.consent_unreasonably_withheld.value._value_,
        "assessment.specified_objective": req.assessment.specified_objective.value._value_,
    }
    for name, c in _CATEGORY_FACTS:
        facts[name] = c in categories
    return facts


_CATEGORY_FACTS = tuple((f"data.{c.value}", c) for c in DataCategory)
