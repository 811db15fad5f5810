"""The rule-file format (pydantic models, source of the JSON Schema) and the loaded forms.

A rule file is YAML with this shape (docs/rulesets.md explains each field)::

    format: sharelaw/ruleset@1
    id: national.vires
    stage: vires
    title: ...
    in_force: {from: 2000-03-01}
    requirements: [{id, title, when, unmet, ways_forward}]
    define: {name: condition}
    rules: [{id, title, in_force, priority, when, effect, citations, verification, reason}]
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from functools import cached_property
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..law.citations import Citation, VerificationTag
from ..vocab import (
    AgencyKind,
    BasisKind,
    ConditionCode,
    DutyDiscretion,
    DutySource,
    EffectKind,
    Interaction,
    Purpose,
    Stage,
    WayForward,
)

RULE_ID = r"^[a-z0-9][a-z0-9_.-]*$"
FORMAT = "sharelaw/ruleset@1"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InForce(_File):
    """Dates a rule (or file, or requirement) is in force: ``from`` and ``to`` inclusive."""

    start: date = Field(alias="from")
    end: date | None = Field(default=None, alias="to", description="Last day in force; omit while still in force.")
    source: str | None = Field(default=None, description="Where the dates come from (commencement order etc.).")
    verification: VerificationTag | None = Field(
        default=None, description="Verification of the dates, where it differs from the rule's own tag."
    )

    @model_validator(mode="after")
    def _ordered(self) -> "InForce":
        if self.end is not None and self.end < self.start:
            raise ValueError("in_force 'to' is before 'from'")
        return self

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


#: A condition, as written: ``true``, ``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``,
#: ``{use: name}``, or ``{fact: value}`` / ``{fact: {in: [...]}}`` / ``{fact: {not_in: [...]}}``
#: / ``{fact: {ne: value}}``. A mapping of several facts means all of them.
ConditionSource = Any


class EffectFile(_File):
    kind: EffectKind
    requirement: str | list[str] | None = Field(
        default=None, description="The requirement(s) of the stage this rule satisfies, fails or refers."
    )
    basis: BasisKind | None = Field(default=None, description="Stage 1 only: the kind of basis a satisfying rule gives.")
    required_by_law: bool = Field(
        default=False, description="Stage 1 only: the duty compels this disclosure, so it is required by law."
    )
    overrides_confidence: bool = Field(
        default=False,
        description="Stage 1 only: the gateway's own words say a disclosure under it breaches no obligation of "
        "confidence (e.g. PCSCA 2022 s16(3), DEA 2017 s40(7)).",
    )
    from_statute: bool | None = Field(
        default=None,
        description="Stage 1 only: whether the basis is conferred by an enactment. Defaults to true for a duty or "
        "a statutory power and false for a common law power; a court order is a duty but not statute.",
    )
    discretion: DutyDiscretion | None = Field(
        default=None,
        description="Stage-1 duties only: 'none' when the duty leaves the discloser no discretion (it must disclose "
        "once its conditions are met, with no exception to weigh, so HRA 1998 s6(2)(a) applies), 'qualified' when "
        "it carries its own exception or leaves a judgement (CA 1989 s47(10), Care Act 2014 s7). Omitted, a duty "
        "is treated as qualified (how sharelaw 0.2 treated every duty).",
    )
    subordinate: bool = Field(
        default=False,
        description="Stage-1 statutory bases only: the basis is in subordinate legislation (regulations), not in an "
        "Act. HRA 1998 s6(2)(a) excuses only what primary legislation compels.",
    )
    discretion_provision: str | None = Field(
        default=None,
        description="The provision that makes the duty unqualified or gives its exception, e.g. 'Children Act "
        "1989 s47(10)'. Required with discretion.",
    )
    conditions: list[ConditionCode] = Field(default_factory=list)
    ways_forward: list[WayForward] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="refers only: the request fields needed.")

    @property
    def duty_source(self) -> DutySource:
        """Where this rule's duty comes from, if it leaves no discretion."""
        if self.duty_discretion is not DutyDiscretion.NONE:
            return DutySource.NONE
        if not self.statutory:
            return DutySource.COURT_ORDER
        return DutySource.SUBORDINATE_LEGISLATION if self.subordinate else DutySource.PRIMARY_LEGISLATION

    @property
    def duty_discretion(self) -> DutyDiscretion:
        if self.basis is None or self.basis is not BasisKind.DUTY:
            return DutyDiscretion.NO_DUTY
        return self.discretion or DutyDiscretion.QUALIFIED

    @property
    def statutory(self) -> bool:
        if self.from_statute is not None:
            return self.from_statute
        return self.basis is not None and self.basis.value in ("duty", "express_power", "implied_power", "general_power")

    def requirement_ids(self) -> tuple[str, ...]:
        if self.requirement is None:
            return ()
        return (self.requirement,) if isinstance(self.requirement, str) else tuple(self.requirement)


class RuleFile(_File):
    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1)
    in_force: InForce
    priority: int = Field(default=100, ge=0, le=60000, description="Order of findings within a stage, lowest first.")
    when: ConditionSource = Field(description="The condition over facts under which the rule fires.")
    effect: EffectFile
    citations: list[Citation] = Field(default_factory=list)
    verification: VerificationTag
    reason: str = Field(min_length=1, description="Plain-English reason; {fact.name} placeholders use the request.")
    notes: str | None = None
    review_by: date | None = Field(
        default=None, description="When the rule is next due for review; defaults to its file's review_by."
    )


class RequirementFile(_File):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str = Field(min_length=1)
    when: ConditionSource = True
    in_force: InForce | None = None
    unmet: str = Field(min_length=1, description="Reason given when no rule satisfies the requirement.")
    ways_forward: list[WayForward] = Field(default_factory=list)


class RulesetFile(_File):
    format: Literal["sharelaw/ruleset@1"]
    id: str = Field(pattern=RULE_ID)
    stage: Stage
    title: str = Field(min_length=1)
    description: str | None = None
    in_force: InForce
    review_by: date | None = Field(
        default=None, description="When the file's rules are next due for review (a rule may give its own)."
    )
    requirements: list[RequirementFile] = Field(default_factory=list)
    define: dict[str, ConditionSource] = Field(default_factory=dict)
    rules: list[RuleFile] = Field(default_factory=list)

    @model_validator(mode="after")
    def _national(self) -> "RulesetFile":
        if self.stage is Stage.PROTOCOL:
            raise ValueError("a ruleset file holds national law; write local rules as a sharelaw/protocol@1 file")
        return self


# ----------------------------------------------------------------------------------
# Definitions files: conditions shared by every file of a bundle.
# ----------------------------------------------------------------------------------

DEFINITIONS_FORMAT = "sharelaw/definitions@1"


class FunctionFile(_File):
    """A function a public body performs, and the purposes that serve it (many to many).

    A function becomes the shared definition ``function.<id>``, true when the request's
    purpose is one of ``purposes``. Powers are keyed on functions, so a purpose reaches
    every power for every function it serves.
    """

    title: str = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    citations: list[Citation] = Field(default_factory=list)
    notes: str | None = None


class DefinitionsFile(_File):
    format: Literal["sharelaw/definitions@1"]
    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1)
    description: str | None = None
    functions: dict[str, FunctionFile] = Field(default_factory=dict)
    define: dict[str, ConditionSource] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> "DefinitionsFile":
        for name in self.functions:
            if not re.match(r"^[a-z0-9_]+$", name):
                raise ValueError(f"function id {name!r} must be lower case letters, digits and underscores")
        for name in self.define:
            if name.startswith("function."):
                raise ValueError(f"definition {name!r}: names starting 'function.' are reserved for functions")
        return self


# ----------------------------------------------------------------------------------
# Protocol files: a local information sharing protocol in the 4P shape.
# ----------------------------------------------------------------------------------

PROTOCOL_FORMAT = "sharelaw/protocol@1"
PARTNER_ID = r"^[a-z0-9][a-z0-9_]*$"


class PurposeSection(_File):
    """The first P: what the protocol is for."""

    clause: str = Field(min_length=1, description="The protocol's clause that states its purposes.")
    summary: str = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1, description="The purposes of sharing the protocol covers.")
    interactions: list[Interaction] = Field(
        default_factory=lambda: list(Interaction), description="The sharing actions it covers (all by default)."
    )


class Partner(_File):
    """A signatory body. A partner who has not signed (or has withdrawn) is not covered."""

    id: str = Field(pattern=PARTNER_ID, description="Short id used in practices (``partner.discloser: id``).")
    name: str = Field(min_length=1)
    legal_entity: str = Field(min_length=1, description="Matched against the request's discloser/recipient legal_entity.")
    kinds: list[AgencyKind] = Field(min_length=1, description="The kinds of body it takes part as.")
    signed: date | None = Field(default=None, description="Date it signed; omit if it has not signed.")
    withdrawn: date | None = Field(default=None, description="Date its withdrawal took effect (not covered from then).")
    clause: str | None = Field(default=None, description="Where the protocol lists it (defaults to the partners clause).")
    note: str | None = None

    @model_validator(mode="after")
    def _dates(self) -> "Partner":
        if self.withdrawn is not None and self.signed is None:
            raise ValueError(f"partner '{self.id}' has a withdrawn date but never signed")
        if self.withdrawn is not None and self.signed is not None and self.withdrawn <= self.signed:
            raise ValueError(f"partner '{self.id}' withdrew on or before the day it signed")
        return self

    def signed_on(self, day: date) -> bool:
        return self.signed is not None and self.signed <= day and (self.withdrawn is None or day < self.withdrawn)


class PartnersSection(_File):
    """The second P: who the partners are."""

    clause: str = Field(min_length=1)
    bodies: list[Partner] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "PartnersSection":
        for attr in ("id", "legal_entity"):
            seen: set[str] = set()
            for p in self.bodies:
                value = getattr(p, attr)
                if value in seen:
                    raise ValueError(f"two partners share the {attr.replace('_', ' ')} '{value}'")
                seen.add(value)
        return self


class PowerRef(_File):
    rule: str = Field(pattern=RULE_ID, description="The id of a national stage-1 rule that gives a basis.")
    clause: str = Field(min_length=1)
    note: str | None = None


class PowersSection(_File):
    """The third P: the national gateways the protocol relies on (stage-1 rule ids)."""

    clause: str = Field(min_length=1)
    relies_on: list[PowerRef] = Field(min_length=1)


class PracticeFile(_File):
    """The fourth P: one practice (a rule) the protocol adds. It may fail, refer or note; never satisfy."""

    id: str = Field(pattern=RULE_ID)
    clause: str = Field(min_length=1, description="The protocol clause this practice encodes.")
    title: str = Field(min_length=1)
    stage: Stage = Field(
        default=Stage.PROTOCOL,
        description="The stage it refines: the protocol stage (default), or a national stage after stage 1 whose "
        "requirement it names.",
    )
    in_force: InForce | None = Field(default=None, description="Defaults to the protocol's dates.")
    priority: int = Field(default=100, ge=0, le=60000)
    when: ConditionSource = True
    effect: EffectFile
    citations: list[Citation] = Field(default_factory=list, description="Law it rests on, beyond the clause itself.")
    verification: VerificationTag = Field(
        default="verified", description="Whether the encoding was checked against the signed protocol text."
    )
    reason: str = Field(min_length=1)
    notes: str | None = None


class ProtocolFile(_File):
    format: Literal["sharelaw/protocol@1"]
    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    review_date: date
    in_force: InForce
    url: str | None = Field(default=None, pattern=r"^https?://")
    description: str | None = None
    purpose: PurposeSection
    partners: PartnersSection
    powers: PowersSection
    define: dict[str, ConditionSource] = Field(default_factory=dict)
    practices: list[PracticeFile] = Field(default_factory=list)


# ----------------------------------------------------------------------------------
# Loaded forms: conditions as a small AST, rules with their source position.
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class In:
    """``fact`` is (or, if ``negated``, is not) one of ``values``."""

    fact: str
    values: tuple[object, ...]
    negated: bool = False


@dataclass(frozen=True)
class All:
    items: tuple["Cond", ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple["Cond", ...]


@dataclass(frozen=True)
class Not:
    item: "Cond"


@dataclass(frozen=True)
class Const:
    value: bool


Cond = In | All | AnyOf | Not | Const


def facts_in(cond: Cond) -> set[str]:
    """The facts a condition reads."""
    if isinstance(cond, In):
        return {cond.fact}
    if isinstance(cond, Not):
        return facts_in(cond.item)
    if isinstance(cond, (All, AnyOf)):
        return set().union(*(facts_in(c) for c in cond.items))
    return set()


@dataclass(frozen=True)
class Rule:
    id: str
    stage: Stage
    title: str
    in_force: InForce
    priority: int
    when: Cond
    effect: EffectFile
    citations: tuple[Citation, ...]
    verification: str
    reason: str
    file: str
    line: int | None
    order: int  # definition order within the stage, across files
    source: RuleFile | PracticeFile = field(repr=False, compare=False)
    protocol: str | None = None  # the protocol id, for a protocol's practice
    clause: str | None = None  # the protocol clause a practice encodes

    @cached_property
    def requirements(self) -> tuple[str, ...]:
        return self.effect.requirement_ids()


@dataclass(frozen=True)
class Requirement:
    id: str
    stage: Stage
    title: str
    when: Cond
    in_force: InForce
    unmet: str
    ways_forward: tuple[WayForward, ...]
    file: str
    line: int | None
    needs_satisfier: bool = True  # False for a protocol's own requirement: met unless a practice objects


@dataclass(frozen=True, eq=False)
class Protocol:
    """A loaded information sharing protocol: its 4P sections, and its practices as rules."""

    id: str
    title: str
    version: str
    owner: str
    review_date: date
    in_force: InForce
    url: str | None
    file: str
    line: int | None
    purposes: tuple[str, ...]
    interactions: tuple[str, ...]
    purpose_clause: str
    partners: tuple[Partner, ...]
    partners_clause: str
    powers: tuple[PowerRef, ...]
    powers_clause: str
    power_lines: tuple[int | None, ...]
    rules: tuple[Rule, ...]
    requirement: Requirement
    model: ProtocolFile = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.title} (version {self.version})"

    def citation(self, clause: str) -> Citation:
        return Citation(guidance=self.label, paragraph=f"clause {clause}", url=self.url)

    def partner_for(self, legal_entity: str) -> Partner | None:
        return next((p for p in self.partners if p.legal_entity == legal_entity), None)
