"""What a request's stage results decide, before any word of the request is put in: the skeleton.

A decision has two kinds of content. Its substance (the stage and requirement results,
the outcome, the bases, ``decided_by``, the conditions, the ways forward, what is missing,
what is unverified, which rules are shown as findings and with which effect) is a function
of the stage results alone: which rules fired and which requirements were active in which
date segments (``engine/combine.py``). Its words (the parties' names in the reasons and
the summary, the point-in-time citations for the day, the request id, the protocols
considered) come from the request itself (``engine/render.py``).

Many requests share their stage results: the engine computes the substance once for each
distinct set of stage results and keeps it here (``Skeleton``), and for every request fills
in only the words. The memo keys (``stage_key``, ``skeleton_key``) are the *inputs* of
``combine``, not a summary of them: the segment (which fixes its rules, requirements and
"looked for" lists), the protocol segments whose requirements were added, which
requirements were active, the rules and practices that fired, in order, and the practices
that gave way to a duty. Two requests with the same key get ``combine`` results that are
equal by construction; tests/test_skeleton.py decides the same requests with and without
the memo and compares the decisions byte for byte.

The memos are bounded (``engine/memo.py``: ``MEMO_SIZE`` entries each), so memory stays
flat however many distinct requests are decided; and they belong to one ``Engine``, whose
bundle fixes what a segment key means.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

from ..decision import (
    AttachedCondition, BasisFound, MissingItem, ProtocolRef, RequirementResult, StageResult, WayForwardItem,
)
from ..rules.model import Rule
from ..vocab import EffectKind, Outcome, Stage, StageStatus
from .combine import StageRun, bases, conditions, decided_by, missing, outcome_for, ways_forward
from .memo import FrozenList
from .render import Output, Renderer

__all__ = ["FindingSpec", "Skeleton", "StageKey", "StageSpec", "build_skeleton", "with_reason"]

#: (segment key, protocol segment keys, active requirement positions, fired rule ids,
#:  fired practice ids, practices that gave way): everything ``combine`` reads.
StageKey = tuple[str, tuple[str, ...], tuple[int, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class FindingSpec:
    """One finding's substance: everything but its reason's words and its citations."""

    stage: Stage
    rule: Rule
    effect: EffectKind
    requirements: list[str]
    gave_way: bool
    protocol: ProtocolRef | None


@dataclass(frozen=True)
class StageSpec:
    """One stage's result: built once if no requirement reason needs the request's words."""

    stage: Stage
    status: StageStatus
    requirements: tuple[RequirementResult, ...]
    fixed: StageResult | None  # the whole StageResult, when nothing in it is rendered

    @property
    def title(self) -> str:
        return self.stage.label


@dataclass(frozen=True)
class Skeleton:
    """The substance of every decision whose stage results are these (see the module docstring).

    The lists here are shared by every decision made from the skeleton; each decision gets
    its own copy of each list (``Engine._decide``), and the models in them are frozen."""

    runs: tuple[StageRun, ...]
    outcome: Outcome
    basis: list[BasisFound]
    decided_by: list[str]
    missing: list[MissingItem]
    conditions: list[AttachedCondition]
    ways_forward: list[WayForwardItem]
    unverified: list[str]
    findings: tuple[FindingSpec, ...]
    stages: tuple[StageSpec, ...]

    @cached_property
    def finding_ids(self) -> frozenset[str]:
        return frozenset(f.rule.id for f in self.findings)


def build_skeleton(runs: Sequence[StageRun], output: Output) -> Skeleton:
    """The substance of a decision from its stage results (docs/decision-semantics.md §7-§14)."""
    basis = bases(runs[0])
    outcome = outcome_for([r.status for r in runs], basis)
    decided = decided_by(outcome, runs)
    missing_ = missing(runs) if outcome is Outcome.REFER else []
    relied = set(decided) | {b.rule_id for b in basis}
    unverified = [r.id for run in runs for r in run.shown if r.id in relied and r.verification != "verified"]
    findings: list[FindingSpec] = []
    for run in runs:
        active = run.active
        yielded = run.yielded
        for r in run.shown:
            gave_way = r.id in yielded
            findings.append(FindingSpec(
                stage=run.stage,
                rule=r,
                effect=EffectKind.NOTES if gave_way else r.effect.kind,
                requirements=[q for q in r.requirements if q in active],
                gave_way=gave_way,
                protocol=output.protocol_ref(r),
            ))
    stages: list[StageSpec] = []
    for run in runs:
        reqs = tuple(run.requirements)
        rendered = any(rq.reason is not None and Renderer.has_placeholders(rq.reason) for rq in reqs)
        fixed = None
        if not rendered:
            fixed = StageResult.build(
                stage=run.stage, title=run.stage.label, status=run.status,
                requirements=FrozenList(
                    rq if rq.reason is None else with_reason(rq, rq.reason[:1].upper() + rq.reason[1:])
                    for rq in reqs))
        stages.append(StageSpec(run.stage, run.status, reqs, fixed))
    return Skeleton(
        runs=tuple(runs),
        outcome=outcome,
        basis=basis,
        decided_by=decided,
        missing=missing_,
        conditions=conditions(outcome, runs),
        ways_forward=ways_forward(outcome, runs, missing_),
        unverified=unverified,
        findings=tuple(findings),
        stages=tuple(stages),
    )


def with_reason(rq: RequirementResult, reason: str) -> RequirementResult:
    """``rq`` with its reason in the words shown to the reader (rendered, or capitalised when it
    has no placeholder: what the renderer would make of it)."""
    built: RequirementResult = RequirementResult.build(**{**rq.__dict__, "reason": reason})
    return built
