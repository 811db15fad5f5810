"""The typed sharing request: what a caller asks sharelaw to decide.

Immutable, unknown fields rejected, "unknown" spelt out wherever a fact may be unknown.
``parse_request`` turns any mapping into a request or raises ``RequestError`` naming
every bad field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Mapping

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    ValidationError,
    field_validator,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import FieldError, RequestError
from .law.eras import SCOPE_START
from .vocab import (
    PUBLIC_AUTHORITY_BY_DEFAULT,
    AgencyKind,
    ConsentGiver,
    ConsentState,
    DataCategory,
    HarmLevel,
    HarmTo,
    Identifiability,
    PersonAtRisk,
    Interaction,
    Judgement,
    Purpose,
    StatutoryRequest,
    YesNoUnknown,
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _as_at(value: Any) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        parsed = value
    elif isinstance(value, str) and _ISO_DATE.match(value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_invalid", "'{value}' is not a real calendar date", {"value": value})
    else:
        raise PydanticCustomError("date_type", "must be a date written YYYY-MM-DD")
    if parsed < SCOPE_START:
        raise PydanticCustomError(
            "out_of_scope",
            "{day} is before 1 March 2000: the law before the Data Protection Act 1998 came into force "
            "is out of scope, and sharelaw does not guess it",
            {"day": parsed.isoformat()},
        )
    return parsed


AsAt = Annotated[
    date,
    PlainValidator(_as_at),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
    WithJsonSchema({
        "type": "string",
        "format": "date",
        "description": "YYYY-MM-DD, on or after 2000-03-01 (earlier law is out of scope).",
    }),
]


def _age(value: Any) -> int | Literal["unknown"]:
    if value == "unknown":
        return "unknown"
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("age_type", "must be a whole number of years, or 'unknown'")
    if not 0 <= value <= 130:
        raise PydanticCustomError("age_range", "must be between 0 and 130 (got {value})", {"value": value})
    return value


Age = Annotated[
    int | Literal["unknown"],
    PlainValidator(_age),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0, "maximum": 130}, {"const": "unknown"}]}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Agency(_Model):
    """A body taking part in the sharing."""

    kind: AgencyKind
    legal_entity: str = Field(
        min_length=1,
        max_length=200,
        description="Identifier of the legal person. Two departments of one council share one legal entity.",
    )
    name: str | None = Field(default=None, max_length=200)
    acts_as_public_authority: StrictBool | None = Field(
        default=None,
        description="Whether the body acts as a public authority for this sharing. Derived from the kind when omitted.",
    )

    @property
    def public_authority(self) -> bool:
        if self.acts_as_public_authority is not None:
            return self.acts_as_public_authority
        return PUBLIC_AUTHORITY_BY_DEFAULT[self.kind]


class Subject(_Model):
    """The person the information is about."""

    age: Age
    adult_at_risk: YesNoUnknown = Field(
        default=YesNoUnknown.UNKNOWN,
        description="Reasonable cause to suspect care and support needs, abuse or neglect, and inability to protect themselves.",
    )
    capacity: YesNoUnknown = Field(
        default=YesNoUnknown.UNKNOWN,
        description="Capacity (or, under 16, Gillick competence) to decide about this sharing.",
    )


class DataDescription(_Model):
    categories: tuple[DataCategory, ...] = Field(min_length=1)
    identifiability: Identifiability
    in_confidence: YesNoUnknown = Field(description="Imparted in circumstances importing an obligation of confidence.")
    already_public: YesNoUnknown = Field(description="The information is already in the public domain.")
    art89_safeguards: YesNoUnknown = Field(
        default=YesNoUnknown.UNKNOWN,
        description="For research or statistics: the safeguards for research are in place (UK GDPR Art 89(1) and "
        "DPA 2018 s19: data minimisation, pseudonymisation where possible, no measures or decisions about the "
        "individuals, no substantial damage or distress; DPA 1998 s33's relevant conditions before 25 May 2018).",
    )

    @field_validator("categories")
    @classmethod
    def _unique(cls, categories: tuple[DataCategory, ...]) -> tuple[DataCategory, ...]:
        # A field validator, so it runs (and is reported) even when another field is bad.
        if len(set(categories)) != len(categories):
            raise ValueError("categories must not repeat")
        return categories


class Consent(_Model):
    state: ConsentState = Field(
        description="Whether the person (or someone able to decide for them) consents to this sharing, or why "
        "consent was not sought. 'unsafe_to_seek': asking would increase the risk of harm; "
        "'would_prejudice_purpose': asking would prejudice the purpose (an investigation, the protection of the "
        "person); 'cannot_reasonably_obtain': the discloser cannot reasonably be expected to obtain it; "
        "'cannot_be_given': nobody can give it (the person lacks capacity and nobody has authority)."
    )
    given_by: ConsentGiver = Field(
        default=ConsentGiver.NONE,
        description="Who gave, refused or withdrew consent. For an adult who lacks capacity only a registered "
        "health and welfare attorney or a welfare deputy can decide for them; a relative or carer without that "
        "authority cannot ('relative_or_carer' records that they were asked, which is not consent).",
    )

    @model_validator(mode="after")
    def _giver(self) -> "Consent":
        needs_giver = self.state in {
            ConsentState.EXPLICIT_FOR_THIS,
            ConsentState.EARLIER_COVERING,
            ConsentState.IMPLIED_DIRECT_CARE,
            ConsentState.REFUSED,
            ConsentState.WITHDRAWN,
        }
        if needs_giver and self.given_by is ConsentGiver.NONE:
            raise ValueError(f"given_by must say who gave, refused or withdrew consent when state is '{self.state}'")
        if not needs_giver and self.given_by is not ConsentGiver.NONE:
            raise ValueError(f"given_by must be 'none' when state is '{self.state}'")
        return self


class RiskOfHarm(_Model):
    level: HarmLevel
    to: HarmTo = HarmTo.NOT_APPLICABLE
    other_person: PersonAtRisk | None = Field(
        default=None,
        description="When 'to' is 'another_person': who they are (a child, an adult at risk, another adult). "
        "Omitted, it is 'unknown' for another person and 'not_applicable' otherwise.",
    )

    @model_validator(mode="after")
    def _target(self) -> "RiskOfHarm":
        if self.level is HarmLevel.NONE and self.to is not HarmTo.NOT_APPLICABLE:
            raise ValueError("to must be 'not_applicable' when level is 'none'")
        if self.level not in (HarmLevel.NONE, HarmLevel.UNKNOWN) and self.to is HarmTo.NOT_APPLICABLE:
            raise ValueError(f"to must name who is at risk when level is '{self.level}'")
        if self.other_person is not None:
            if self.to is not HarmTo.ANOTHER_PERSON and self.other_person is not PersonAtRisk.NOT_APPLICABLE:
                raise ValueError("other_person describes another person at risk: give it only when to is 'another_person'")
            if self.to is HarmTo.ANOTHER_PERSON and self.other_person is PersonAtRisk.NOT_APPLICABLE:
                raise ValueError("other_person cannot be 'not_applicable' when to is 'another_person'")
        return self

    @property
    def other(self) -> PersonAtRisk:
        if self.other_person is not None:
            return self.other_person
        return PersonAtRisk.UNKNOWN if self.to is HarmTo.ANOTHER_PERSON else PersonAtRisk.NOT_APPLICABLE


class JudgementRecord(_Model):
    """A practitioner's recorded judgement. A yes or no must give its reason."""

    value: Judgement = Judgement.NOT_ASSESSED
    reason: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _reasoned(self) -> "JudgementRecord":
        if self.value is not Judgement.NOT_ASSESSED and not self.reason.strip():
            raise ValueError("a recorded judgement of yes or no must give its reason")
        return self


class Assessment(_Model):
    necessary: JudgementRecord = Field(
        default_factory=JudgementRecord,
        description="The sharing is necessary: there is no less intrusive way to achieve the purpose.",
    )
    proportionate: JudgementRecord = Field(
        default_factory=JudgementRecord,
        description="The interference with private life is proportionate to the aim (a fair balance).",
    )
    minimum_necessary: JudgementRecord = Field(
        default_factory=JudgementRecord,
        description="Only the minimum information necessary for the purpose is shared.",
    )
    public_interest: JudgementRecord = Field(
        default_factory=JudgementRecord,
        description="The public interest in sharing outweighs the public interest in confidence.",
    )
    best_interests: JudgementRecord = Field(
        default_factory=JudgementRecord,
        description="For a person aged 16 or over who lacks capacity to decide about this sharing, with no attorney or "
        "deputy deciding: the sharing is in their best interests, decided under Mental Capacity Act 2005 s4 "
        "(their wishes, feelings, beliefs and values, and the views of carers and others interested in their welfare).",
    )
    consent_unreasonably_withheld: JudgementRecord = Field(
        default_factory=JudgementRecord,
        description="Where consent was refused: the refusal was unreasonable, and sharing is needed to protect the "
        "vital interests of another person (Data Protection Act 1998 Sch 3 para 3(b); the UK GDPR has no such ground).",
    )
    specified_objective: JudgementRecord = Field(
        default_factory=JudgementRecord,
        description="For a disclosure under Digital Economy Act 2017 s35 (public service delivery): the sharing is for "
        "an objective specified in regulations (Digital Government (Disclosure of Information) Regulations 2018) in "
        "relation to both bodies, such as support for families with multiple disadvantages or fuel or water poverty. "
        "Record yes or no, naming the objective.",
    )


class SharingRequest(_Model):
    """A request for a sharing decision, as at a date."""

    as_at: AsAt = Field(description="The date whose law applies. sharelaw never reads the clock.")
    interaction: Interaction
    discloser: Agency
    recipient: Agency
    subject: Subject
    purpose: Purpose
    data: DataDescription
    consent: Consent
    risk_of_harm: RiskOfHarm
    statutory_request: StatutoryRequest = StatutoryRequest.NONE
    assessment: Assessment = Field(default_factory=Assessment)
    protocols: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=200)], ...] | None = Field(
        default=None,
        description="Ids of the information sharing protocols the sharing relies on. Omit to apply every protocol "
        "in force that either party has signed (the decision says why one does not cover the sharing); [] for national "
        "law alone. A protocol can only narrow national law.",
    )
    request_id: str | None = Field(default=None, max_length=200, description="The caller's reference, echoed back.")

    @model_validator(mode="after")
    def _consistent(self) -> "SharingRequest":
        problem = _giver_age_problem(self.consent.given_by.value, self.subject.age)
        if problem:
            raise ValueError(problem)
        return self


def _giver_age_problem(giver: object, age: object) -> str | None:
    """Who can decide for whom, by age (MCA 2005): the one check across request parts."""
    if not isinstance(age, int) or isinstance(age, bool):
        return None
    if giver == ConsentGiver.WELFARE_ATTORNEY.value and age < 18:
        return ("consent.given_by cannot be 'welfare_attorney' for a person under 18: only a person aged 18 or over "
                "can make a lasting power of attorney (Mental Capacity Act 2005 s9(2)(c))")
    if giver == ConsentGiver.WELFARE_DEPUTY.value and age < 16:
        return ("consent.given_by cannot be 'welfare_deputy' for a child under 16: the Mental Capacity Act 2005 "
                "powers are not exercisable for a person under 16 (s2(5))")
    return None


def _cross_part_errors(data: Mapping[str, Any], errors: list[FieldError]) -> list[FieldError]:
    """The checks across request parts, run on the raw request when some other field is bad
    (pydantic runs a model's own cross-field check only once every field is valid), so that
    every bad field is named at once. A check whose fields are themselves bad is not run: their
    own errors say what to fix first."""
    bad = {e.loc for e in errors}
    consent, subject = data.get("consent"), data.get("subject")
    if not isinstance(consent, Mapping) or not isinstance(subject, Mapping):
        return []
    if {"consent.given_by", "subject.age", "consent", "subject"} & bad:
        return []
    problem = _giver_age_problem(consent.get("given_by"), subject.get("age"))
    return [FieldError(loc="<request>", message=problem, code="value_error")] if problem else []


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<request>"


def errors_from_validation(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        out.append(FieldError(loc=_loc(err["loc"]), message=message, code=err["type"]))
    return out


def parse_request(data: Mapping[str, Any] | SharingRequest) -> SharingRequest:
    """Validate ``data`` into a ``SharingRequest``, or raise ``RequestError`` listing every error."""
    if isinstance(data, SharingRequest):
        return data
    if not isinstance(data, Mapping):
        raise RequestError([FieldError("<request>", "a request must be a JSON object", "type_error")])
    try:
        return SharingRequest.model_validate(data)
    except ValidationError as exc:
        errors = errors_from_validation(exc)
        if not any(e.loc == "<request>" for e in errors):
            errors += _cross_part_errors(data, errors)
        code = "request_out_of_scope" if any(e.code == "out_of_scope" for e in errors) else None
        raise RequestError(errors, code=code) from None
