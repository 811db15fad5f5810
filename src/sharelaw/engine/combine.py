"""How the rules that fired combine into requirement, stage and decision results.

docs/decision-semantics.md states these rules in prose; this module is their only
implementation (``outcome_for``, §7, is stated once in ``engine/invariants.py``, which
holds every decision to it). In short:

1. Each stage declares requirements. A requirement is *failed* if any fired rule fails
   it, else *met* if any fired rule satisfies it, else *refer* if any fired rule refers
   it, else *unmet*. Fail closed: what no rule meets is not met (``combine``, §3).
2. A stage fails if any active requirement is failed or unmet, else refers if any is
   refer, else passes; with no active requirement it is not engaged, except stage 1,
   which then fails (nothing established a power) (``combine``, §4).
3. Stage 1 failing means no power: ``must_not_share`` (ultra vires) and the later
   stages are not evaluated (``engine/stages.py``, §5).
4. Any stage failed → ``must_not_share``; else any referred → ``refer``; else, if the
   strongest stage-1 basis is a duty → ``must_share``; else ``may_share`` (``outcome_for``,
   §7; the bases ranked by ``bases``, §9).
5. A duty to share prevails over a protocol's practice (it *yields*: ``yielded``), and a
   practice that would make a national requirement less strict is an ``EngineError``
   (``guard``, §18).

The rest of a decision's substance is derived here too, one function each: what stage 1
established for the later stages (``establish``, §6), which findings are shown
(``StageRun.shown``, §8), ``decided_by`` (§10), the conditions (§11), the ways forward (§12)
and the missing items (§13). Nothing here renders text: that is ``engine/render.py``.
The lists inside the models built here are ``FrozenList``s: the engine shares these models
between the decisions made from one memoised result (engine/skeleton.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from ..decision import AttachedCondition, BasisFound, MissingItem, RequirementResult, WayForwardItem
from ..errors import EngineError
from ..rules.bundle import Segment
from ..rules.facts import MISSING_ITEMS
from ..rules.model import Requirement, Rule
from ..vocab import (
    BASIS_RANK, BasisKind, ConditionCode, DutyDiscretion, DutySource, EffectKind, Outcome, Stage, StageStatus,
    WayForward,
)
from .invariants import outcome_for
from .memo import FrozenList

__all__ = [
    "StageRun", "bases", "combine", "combine_active", "conditions", "decided_by", "establish", "guard", "missing", "outcome_for",
    "practices_yielding", "ways_forward",
]

RequirementTest = tuple[Requirement, Callable[[Mapping[str, object]], bool]]


@dataclass
class StageRun:
    """One stage's result: its status, its requirement results and the rules behind them."""

    stage: Stage
    status: StageStatus
    requirements: list[RequirementResult] = field(default_factory=list)
    shown: list[Rule] = field(default_factory=list)  # the fired rules that appear as findings (§8)
    fired: list[Rule] = field(default_factory=list)
    active: dict[str, Requirement] = field(default_factory=dict)
    yielded: set[str] = field(default_factory=set)  # practices that gave way to a duty to share


#: How strict a requirement status is, for the protocol guard: failed/unmet < refer < met.
_RANK = {"failed": 0, "unmet": 0, "refer": 1, "met": 2}


def not_evaluated(stage: Stage) -> StageRun:
    """A stage after a failed stage 1 (§5)."""
    return StageRun(stage, StageStatus.NOT_EVALUATED)


def practices_yielding(practices: Sequence[Rule], facts: Mapping[str, object]) -> set[str]:
    """The practices that give way (§18): under a duty to share, a local agreement cannot
    override the duty, so its objections (fails, refers) become notes."""
    if practices and facts.get("vires.basis") == BasisKind.DUTY.value:
        return {r.id for r in practices if r.effect.kind in (EffectKind.FAILS, EffectKind.REFERS)}
    return set()


def combine(
    segment: Segment,
    requirements: Iterable[RequirementTest],
    fired: Sequence[Rule],
    facts: Mapping[str, object],
    yielded: set[str],
) -> StageRun:
    """The requirement results and status of one stage (§3, §4) and the findings it shows (§8)."""
    return combine_active(segment, {rq.id: rq for rq, test in requirements if test(facts)}, fired, yielded)


def combine_active(
    segment: Segment,
    active: dict[str, Requirement],
    fired: Sequence[Rule],
    yielded: set[str],
) -> StageRun:
    """``combine``, given the stage's active requirements (those whose ``when`` holds, by id)."""
    results: list[RequirementResult] = []
    for rq in active.values():
        sat: list[str] = []
        fail: list[str] = []
        refer: list[str] = []
        for r in fired:
            if rq.id in r.requirements and r.id not in yielded:
                kind = r.effect.kind
                if kind is EffectKind.SATISFIES:
                    sat.append(r.id)
                elif kind is EffectKind.FAILS:
                    fail.append(r.id)
                elif kind is EffectKind.REFERS:
                    refer.append(r.id)
        unmet = "unmet" if rq.needs_satisfier else "met"
        status = "failed" if fail else "met" if sat else "refer" if refer else unmet
        results.append(
            RequirementResult.build(
                id=rq.id, title=rq.title, status=status, satisfied_by=FrozenList(sat), failed_by=FrozenList(fail),
                referred_by=FrozenList(refer),
                looked_for=FrozenList(segment.satisfiers.get(rq.id, ()) if status == "unmet" else ()),
                reason=rq.unmet if status == "unmet" else None,
            )
        )
    if not results:
        # Stage 1 always needs a power: a bundle with no stage-1 requirement in force has
        # established nothing, and fails closed rather than letting the sharing through.
        status_ = StageStatus.FAIL if segment.stage is Stage.VIRES else StageStatus.NOT_ENGAGED
    elif any(r.status in ("failed", "unmet") for r in results):
        status_ = StageStatus.FAIL
    elif any(r.status == "refer" for r in results):
        status_ = StageStatus.REFER
    else:
        status_ = StageStatus.PASS
    referring = {r.id for r in results if r.status == "refer"}

    def shown(rule: Rule) -> bool:
        reqs = rule.requirements
        if not reqs:
            return True
        if rule.effect.kind is EffectKind.REFERS and rule.id not in yielded:
            return any(q in referring for q in reqs)
        return any(q in active for q in reqs)

    return StageRun(segment.stage, status_, results, [r for r in fired if shown(r)], list(fired), active, yielded)


def guard(national: StageRun, run: StageRun, practices: Sequence[Rule]) -> None:
    """Fail closed if a protocol's practices made any national requirement less strict (§18)."""
    before = {r.id: r.status for r in national.requirements}
    for r in run.requirements:
        if r.id in before and _RANK[r.status] > _RANK[before[r.id]]:
            culprits = [p.id for p in practices if r.id in p.requirements]
            raise EngineError(
                f"protocol practice(s) {culprits} would turn national requirement '{r.id}' from "
                f"{before[r.id]} to {r.status}: a protocol can only narrow national law "
                "(run `sharelaw prove` on the protocol)"
            )


def bases(vires: StageRun) -> list[BasisFound]:
    """The stage-1 bases found, strongest first (§9)."""
    met = {rq.id for rq in vires.requirements if rq.status == "met"}
    found = [
        r for r in vires.shown
        if r.effect.kind is EffectKind.SATISFIES and r.effect.basis is not None and set(r.requirements) & met
    ]
    found.sort(key=lambda r: (BASIS_RANK[r.effect.basis], r.priority, r.order))  # type: ignore[index]
    return [BasisFound.build(kind=r.effect.basis, rule_id=r.id, title=r.title) for r in found]


def establish(run: StageRun, facts: dict[str, object]) -> None:
    """Add what a stage established to the facts the next stages see (§6)."""
    if run.stage is Stage.VIRES:
        found = bases(run)
        facts["vires.status"] = run.status.value
        facts["vires.basis"] = found[0].kind.value if found else BasisKind.NONE.value
        met = {rq.id for rq in run.requirements if rq.status == "met"}
        basis_rules = [r for r in run.shown if r.effect.basis is not None and set(r.requirements) & met]
        facts["vires.statutory"] = any(r.effect.statutory for r in basis_rules)
        facts["vires.public_function"] = bool(facts["discloser.public_authority"]) and any(
            r.effect.statutory or r.effect.basis is BasisKind.COMMON_LAW for r in basis_rules
        )
        facts["vires.overrides_confidence"] = any(r.effect.overrides_confidence for r in basis_rules)
        facts["vires.required_by_law"] = any(
            r.effect.required_by_law and set(r.requirements) & met for r in run.shown
        )
        # HRA 1998 s6(2)(a): a met duty that leaves no discretion. If several duties are met,
        # one without discretion is enough: the authority could not have acted differently.
        discretions = {r.effect.duty_discretion for r in basis_rules}
        # The strongest source among the met duties that leave no discretion and compel this
        # disclosure, each taken from one rule (never the source of one basis with the
        # discretion of another).
        sources = {r.effect.duty_source for r in basis_rules if r.effect.required_by_law}
        facts["vires.unqualified_duty_source"] = next(
            (s.value for s in (DutySource.PRIMARY_LEGISLATION, DutySource.SUBORDINATE_LEGISLATION, DutySource.COURT_ORDER)
             if s in sources), DutySource.NONE.value)
        facts["vires.duty_discretion"] = (
            DutyDiscretion.NONE.value if DutyDiscretion.NONE in discretions
            else DutyDiscretion.QUALIFIED.value if DutyDiscretion.QUALIFIED in discretions
            else DutyDiscretion.NO_DUTY.value
        )
    elif run.stage is Stage.HRA:
        facts["hra.status"] = run.status.value
    elif run.stage is Stage.CONFIDENCE:
        facts["confidence.status"] = run.status.value
    elif run.stage is Stage.DATA_PROTECTION:
        facts["data_protection.status"] = run.status.value


def decided_by(outcome: Outcome, runs: Sequence[StageRun]) -> list[str]:
    """The rules that determined the outcome (§10)."""
    out: list[str] = []
    for run in runs:
        for rq in run.requirements:
            if outcome is Outcome.MUST_NOT_SHARE:
                ids = rq.failed_by
            elif outcome is Outcome.REFER:
                ids = rq.referred_by if rq.status == "refer" else []
            else:
                ids = rq.satisfied_by
            out.extend(i for i in ids if i not in out)
    return out


def missing(runs: Sequence[StageRun]) -> list[MissingItem]:
    """What the practitioner must supply before the law can be applied (§13)."""
    items: dict[str, list[str]] = {}
    for run in runs:
        referring = {rq.id for rq in run.requirements if rq.status == "refer"}
        for r in run.shown:
            if r.effect.kind is EffectKind.REFERS and set(r.requirements) & referring and r.id not in run.yielded:
                for item in r.effect.missing:
                    ids = items.setdefault(item, [])
                    if r.id not in ids:
                        ids.append(r.id)
    return [MissingItem.build(item=k, question=MISSING_ITEMS[k], rule_ids=FrozenList(v)) for k, v in items.items()]


def conditions(outcome: Outcome, runs: Sequence[StageRun]) -> list[AttachedCondition]:
    """The conditions attached to the sharing (§11)."""
    found: dict[ConditionCode, list[str]] = {}
    for run in runs:
        for r in run.shown:
            if r.effect.kind in (EffectKind.SATISFIES, EffectKind.NOTES):
                for code in r.effect.conditions:
                    found.setdefault(code, []).append(r.id)
    if outcome is Outcome.MUST_NOT_SHARE:
        found = {k: v for k, v in found.items() if k is ConditionCode.RECORD_DECISION}
    return [AttachedCondition.build(code=k, text=k.label, rule_ids=FrozenList(v)) for k, v in found.items()]


def ways_forward(outcome: Outcome, runs: Sequence[StageRun], missing_: Sequence[MissingItem]) -> list[WayForwardItem]:
    """What could change a refusal or a referral (§12)."""
    if outcome in (Outcome.MAY_SHARE, Outcome.MUST_SHARE):
        return []
    codes: list[WayForward] = []
    if missing_ and any(m.item.startswith("assessment.") for m in missing_):
        codes.append(WayForward.RECORD_ASSESSMENT)
    for run in runs:
        if run.status not in (StageStatus.FAIL, StageStatus.REFER):
            continue
        for r in run.shown:
            if r.id not in run.yielded:
                codes.extend(r.effect.ways_forward)
        for rq in run.requirements:
            if rq.status != "met":
                codes.extend(run.active[rq.id].ways_forward)
    seen: list[WayForward] = []
    for c in codes:
        if c not in seen:
            seen.append(c)
    return [WayForwardItem.build(code=c, text=c.label) for c in seen]
