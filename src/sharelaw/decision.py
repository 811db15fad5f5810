"""The decision: outcome, findings per stage in legal order, and everything needed to defend it."""

from __future__ import annotations

import re

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


from .law.citations import CitedSource, VerificationTag, trusted_builder
from .vocab import BasisKind, ConditionCode, EffectKind, Outcome, Stage, StageStatus, WayForward

SCHEMA_VERSION = "3"

IsoDate = Annotated[date, PlainSerializer(lambda d: d.isoformat(), return_type=str)]


class _Builder:
    """``Model.build(**fields)``: construct from trusted engine data without re-validating
    (see ``build_trusted``); the class's generated builder, looked up once per class."""

    def __get__(self, obj: object, cls: type) -> Any:
        return trusted_builder(cls)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    build: ClassVar[Any] = _Builder()


class ProtocolRef(_Out):
    """Where a finding comes from in a local protocol."""

    id: str
    title: str
    version: str
    clause: str


class ProtocolResult(_Out):
    """A protocol considered for this request: whether it covers the sharing, and why not."""

    id: str
    title: str
    version: str
    named: bool = Field(description="The request named it (else it was found: one of the parties has signed it).")
    covers: bool
    gaps: list[str] = Field(default_factory=list, description="Why it does not cover the sharing, clause by clause.")


class Finding(_Out):
    """One rule that fired, with its reason in the request's terms and its sources."""

    stage: Stage
    rule_id: str
    title: str
    effect: EffectKind
    requirements: list[str]
    basis: BasisKind | None = None
    reason: str
    citations: list[CitedSource]
    verification: VerificationTag
    protocol: ProtocolRef | None = Field(default=None, description="Set when a local protocol's clause gave the finding.")


class RequirementResult(_Out):
    id: str
    title: str
    status: Literal["met", "failed", "refer", "unmet"]
    satisfied_by: list[str] = Field(default_factory=list)
    failed_by: list[str] = Field(default_factory=list)
    referred_by: list[str] = Field(default_factory=list)
    looked_for: list[str] = Field(default_factory=list, description="Rules in force that could have met it.")
    reason: str | None = Field(default=None, description="Why it is unmet, when no rule met it.")


class StageResult(_Out):
    stage: Stage
    title: str
    status: StageStatus
    requirements: list[RequirementResult] = Field(default_factory=list)


class BasisFound(_Out):
    kind: BasisKind
    rule_id: str
    title: str


class MissingItem(_Out):
    item: str = Field(description="The request field to supply.")
    question: str
    rule_ids: list[str]


class AttachedCondition(_Out):
    code: ConditionCode
    text: str
    rule_ids: list[str]


class WayForwardItem(_Out):
    code: WayForward
    text: str


#: The characters that can make Markdown or HTML out of plain text inside a line: emphasis,
#: code, links and images, raw HTML and entities, table cells, strike-through, headings.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#~])")


def _md(text: str) -> str:
    """Plain text as Markdown that shows exactly that text: metacharacters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


class Decision(_Out):
    """sharelaw's answer. ``decided_by`` names the rules that determined the outcome."""

    outcome: Outcome
    summary: str
    as_at: IsoDate
    legal_era: str
    request_id: str | None = None
    stages: list[StageResult]
    findings: list[Finding]
    decided_by: list[str]
    basis: list[BasisFound] = Field(description="Stage-1 bases found, strongest first.")
    conditions: list[AttachedCondition]
    ways_forward: list[WayForwardItem]
    missing: list[MissingItem]
    unverified: list[str] = Field(description="Rules relied on whose law is not verified against the primary text.")
    protocols: list[ProtocolResult] = Field(default_factory=list, description="Protocols considered, and whether each covers the sharing.")
    bundle_hash: str
    engine_version: str
    schema_version: str = SCHEMA_VERSION
    evaluator: str = Field(description="What fired the rules: durable (durable-rules), compiled (the rules compiled to Python) or reference.")
    cross_checked: bool = Field(
        default=False,
        description="Every firing of this decision was checked against the reference evaluator and agreed "
        "(Engine cross_check: every decision by default, a sampled fraction in production). Absent in "
        "decisions made before 0.4: read as false.",
    )

    def explain(self) -> str:
        """The decision as readable Markdown: for a practitioner, and for the file.

        Text that can carry words from the request (the summary and the reasons, which
        name the parties) has every Markdown and HTML metacharacter escaped, so a name
        cannot add a heading, a link or an ``<img onerror>`` to the page it is rendered on."""
        out: list[str] = [f"# {self.outcome.label}", "", _md(self.summary), ""]
        out.append(f"*Law as at {self.as_at.isoformat()} ({self.legal_era}).*")
        out.append("")
        if self.basis:
            out.append("## Basis relied on")
            out.extend(f"- **{b.kind.label}**: {b.title} (`{b.rule_id}`)" for b in self.basis)
            out.append("")
        if self.missing:
            out.append("## What is missing")
            out.extend(f"- `{m.item}`: {m.question}" for m in self.missing)
            out.append("")
        if self.conditions:
            out.append("## Conditions")
            out.extend(f"- {c.text}" for c in self.conditions)
            out.append("")
        if self.ways_forward:
            out.append("## Ways forward")
            out.extend(f"- {w.text}" for w in self.ways_forward)
            out.append("")
        by_stage: dict[Stage, list[Finding]] = {}
        for f in self.findings:
            by_stage.setdefault(f.stage, []).append(f)
        out.append("## Rationale, stage by stage")
        for st in self.stages:
            out.append("")
            out.append(f"### {st.title}: {st.status.label}")
            for f in by_stage.get(st.stage, []):
                tag = "" if f.verification == "verified" else f" **[{f.verification.upper()}]**"
                cites = "; ".join(c.markdown() for c in f.citations)
                out.append(f"- {_md(f.reason)}{tag} ({cites}) `{f.rule_id}`")
            for rq in st.requirements:
                if rq.status == "unmet" and rq.reason:
                    looked = f" Looked for: {', '.join(f'`{r}`' for r in rq.looked_for)}." if rq.looked_for else ""
                    out.append(f"- {_md(rq.reason)}{looked}")
        if self.unverified:
            out.append("")
            out.append(
                "**Relied on but not verified against the primary text**: "
                + ", ".join(f"`{r}`" for r in self.unverified)
                + ". These rules rest on secondary sources or are unverified (see each finding's tag); "
                "take advice before relying on them."
            )
        out.append("")
        out.append(
            f"<sub>sharelaw {self.engine_version}, rules {self.bundle_hash[:19]}, evaluator {self.evaluator}. "
            "Supports a decision; it is not legal advice.</sub>"
        )
        return "\n".join(out) + "\n"
