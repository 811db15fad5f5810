"""The stages in legal order, and how their findings combine into a Decision.

docs/decision-semantics.md states these rules in prose; this module is their only
implementation. In short:

1. Each stage declares requirements. A requirement is *failed* if any fired rule fails
   it, else *met* if any fired rule satisfies it, else *refer* if any fired rule refers
   it, else *unmet*. Fail closed: what no rule meets is not met.
2. A stage fails if any active requirement is failed or unmet, else refers if any is
   refer, else passes; with no active requirement it is not engaged, except stage 1,
   which then fails (nothing established a power).
3. Stage 1 failing means no power: ``must_not_share`` (ultra vires) and the later
   stages are not evaluated. Otherwise every stage is evaluated.
4. Any stage failed → ``must_not_share``; else any referred → ``refer``; else, if the
   strongest stage-1 basis is a duty → ``must_share``; else ``may_share``.
5. Protocols (the fifth, protocol stage) only narrow: a protocol covers a request when it
   is in force, both parties are signed partners of the kinds named, and the purpose,
   action and stage-1 basis are among those it lists. Only then do its practices fire;
   they may fail, refer or note, at the protocol stage or on a national requirement of
   stages 2 to 4. A duty to share prevails over a practice (it becomes a note), and a
   practice that would make a national requirement less strict is an ``EngineError``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Literal, Mapping

from pydantic import ValidationError

from .._version import __version__
from ..decision import (
    SCHEMA_VERSION,
    ProtocolRef,
    ProtocolResult,
    AttachedCondition,
    BasisFound,
    Decision,
    Finding,
    MissingItem,
    RequirementResult,
    StageResult,
    WayForwardItem,
)
from ..errors import EngineError, FieldError, RequestError, SharelawError
from ..law.citations import CitedSource
from ..law.eras import era_on
from ..request import SharingRequest, parse_request
from .. import request as _request_module
from ..rules.bundle import Bundle, Segment
from ..rules.facts import FACTS, MISSING_ITEMS, request_facts
from ..rules.model import Protocol, Requirement, Rule
from ..rules.reference import ReferenceEvaluator
from .invariants import check_decision, outcome_for
from ..vocab import (
    BASIS_RANK,
    STAGE_ORDER,
    BasisKind,
    ConditionCode,
    DutyDiscretion,
    DutySource,
    EffectKind,
    Outcome,
    Stage,
    StageStatus,
    WayForward,
)

_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")


@dataclass
class _StageRun:
    stage: Stage
    status: StageStatus
    requirements: list[RequirementResult] = field(default_factory=list)
    shown: list[Rule] = field(default_factory=list)
    fired: list[Rule] = field(default_factory=list)
    active: dict[str, Requirement] = field(default_factory=dict)
    yielded: set[str] = field(default_factory=set)  # practices that gave way to a duty to share


@dataclass
class _Cover:
    """One protocol considered for a request, and why it does (not) cover the sharing."""

    protocol: Protocol
    named: bool
    facts: dict[str, object]
    gaps: list[tuple[str, str, str]] = field(default_factory=list)  # (code, clause, text)

    @property
    def covers(self) -> bool:
        return not self.gaps


_REQUEST_SOURCE = _request_module.__file__


def _raised_by_a_validator(error: BaseException | None) -> bool:
    """Whether ``error`` was raised by request.py itself (a validator saying why the input is
    bad), not by something it called (a fault that pydantic turned into a field error)."""
    if error is None:
        return False
    tb = error.__traceback__
    if tb is None:
        return True  # raised without a traceback: only pydantic's own errors are
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename == _REQUEST_SOURCE


def validate_request(request: SharingRequest | Mapping[str, Any]) -> SharingRequest:
    """``parse_request``, with a fault inside validation an ``EngineError`` (issue 10, item 15).

    Bad input is a ``RequestError``, as from ``parse_request``. But an exception other than
    a ``RequestError`` (a ``TypeError`` in a validator, a ``MemoryError``...) is a fault, and so
    is a field error that pydantic made of an exception a validator did not raise itself (an
    ``AssertionError``, or a ``ValueError`` from deeper down): neither is the caller's fault, and
    neither may pass as a "request invalid" verdict."""
    try:
        req = parse_request(request)
    except RequestError as exc:
        validation = exc.__context__
        if isinstance(validation, ValidationError):
            for err in validation.errors(include_url=False):
                cause = (err.get("ctx") or {}).get("error")
                if err["type"] == "assertion_error" or (
                        err["type"] == "value_error" and isinstance(cause, BaseException)
                        and not _raised_by_a_validator(cause)):
                    raise EngineError(
                        f"internal error while validating the request, at {'.'.join(map(str, err['loc'])) or '<request>'}:"
                        f" {type(cause).__name__}: {cause}") from cause
        raise
    except SharelawError:
        raise
    except Exception as exc:  # noqa: BLE001 - a fault, never the caller's: fail closed
        raise EngineError(f"internal error while validating the request: {type(exc).__name__}: {exc}") from exc
    if not isinstance(req, SharingRequest):
        raise EngineError(f"internal error while validating the request: got {type(req).__name__}, not a request")
    return req


class Engine:
    """Decides sharing requests against a rule bundle. Thread-safe; reuse one instance.

    ``evaluator="durable"`` (the default) fires rules through durable-rules and, with
    ``cross_check=True``, checks every firing against the plain-Python reference
    evaluator: a disagreement raises ``EngineError`` instead of deciding.
    """

    def __init__(
        self,
        bundle: Bundle | None = None,
        *,
        evaluator: Literal["durable", "reference"] = "durable",
        cross_check: bool = True,
        guard_protocols: bool = True,
    ) -> None:
        self.bundle = bundle if bundle is not None else Bundle.load()
        # With the guard off (``sharelaw prove`` only), a practice that widens national law
        # takes effect instead of raising, so that the widening can be shown.
        self.guard_protocols = guard_protocols
        if evaluator == "durable":
            from .durable import DurableEvaluator

            self._primary: Any = DurableEvaluator()
            self._primary.prepare(self.bundle)
            self._oracle = ReferenceEvaluator() if cross_check else None
        elif evaluator == "reference":
            self._primary = ReferenceEvaluator()
            self._oracle = None
        else:
            raise ValueError(f"unknown evaluator {evaluator!r}")
        self.evaluator = evaluator

    # ------------------------------------------------------------------ public

    def decide(self, request: SharingRequest | Mapping[str, Any]) -> Decision:
        """Decide one request. Raises ``RequestError`` for bad input, ``EngineError`` on a fault."""
        req = validate_request(request)
        try:
            return self._decide(req)
        except SharelawError:
            raise
        except Exception as exc:  # noqa: BLE001 - fail closed: never a decision after a fault
            raise EngineError(f"internal error while deciding: {type(exc).__name__}: {exc}") from exc

    def fired(self, request: SharingRequest | Mapping[str, Any]) -> dict[Stage, list[str]]:
        """The rule ids each stage fired, in order (the differential-testing surface)."""
        req = validate_request(request)
        return {run.stage: [r.id for r in run.fired] for run in self._run(req)[0]}

    def protocol_rules(self) -> list[str]:
        return [r.id for p in self.bundle.protocols.values() for r in p.rules]

    def close(self) -> None:
        self._primary.close()

    # ------------------------------------------------------------------ stages

    def _fire(self, segment: Segment, facts: dict[str, object]) -> list[str]:
        ids = self._primary.fire(segment, facts)
        if self._oracle is not None:
            expected = self._oracle.fire(segment, facts)
            if ids != expected:
                raise EngineError(
                    f"evaluators disagree on {segment.key}: durable-rules fired {ids}, reference fired {expected}"
                )
        fired: list[str] = ids
        return fired

    def _run(self, req: SharingRequest) -> tuple[list[_StageRun], dict[str, object], list[_Cover]]:
        facts = request_facts(req)
        covers = self._covers(req)
        runs: list[_StageRun] = []
        stopped = False
        for stage in STAGE_ORDER:
            if stopped:
                runs.append(_StageRun(stage, StageStatus.NOT_EVALUATED))
                continue
            segment = self.bundle.segment(stage, req.as_at)
            fired = [self.bundle.rules[i] for i in self._fire(segment, facts)] if segment.rules else []
            requirements = list(segment.requirement_tests)
            practices: list[Rule] = []
            for cover in covers:
                if not cover.covers:
                    continue
                pseg = self.bundle.protocol_segment(cover.protocol.id, stage, req.as_at)
                requirements.extend(pseg.requirement_tests)
                if pseg.rules:
                    pfacts = {**facts, **cover.facts}
                    practices.extend(self.bundle.rules[i] for i in self._fire(pseg, pfacts))
            yielded: set[str] = set()
            if practices and facts.get("vires.basis") == BasisKind.DUTY.value:
                # A local agreement cannot override a duty to share: its objections become notes.
                yielded = {r.id for r in practices if r.effect.kind in (EffectKind.FAILS, EffectKind.REFERS)}
            run = _combine(segment, requirements, fired + practices, facts, yielded)
            if practices and stage is not Stage.PROTOCOL and self.guard_protocols:
                national = _combine(segment, requirements, fired, facts, set())
                _guard(national, run, practices)
            runs.append(run)
            _establish(run, facts)
            if stage is Stage.VIRES:
                stopped = run.status is StageStatus.FAIL
                self._check_powers(covers, run)
        return runs, facts, covers

    # ------------------------------------------------------------------ protocols

    def _covers(self, req: SharingRequest) -> list[_Cover]:
        """The protocols to consider: those the request names, else those both parties signed."""
        protocols = self.bundle.protocols
        if req.protocols is None:
            # Every protocol in force that either party has signed: it covers the sharing, or
            # the decision says why not (e.g. the other party has not signed).
            chosen = [
                (p, False) for p in protocols.values()
                if p.in_force.covers(req.as_at)
                and any(_signed_as(p, a, req.as_at) for a in (req.discloser, req.recipient))
            ]
        else:
            unknown = [
                FieldError(f"protocols[{i}]", f"no protocol '{pid}' in the rules (known: {', '.join(sorted(protocols)) or 'none'})", "unknown_protocol")
                for i, pid in enumerate(req.protocols) if pid not in protocols
            ]
            if unknown:
                raise RequestError(unknown)
            chosen = [(protocols[pid], True) for pid in dict.fromkeys(req.protocols)]
        return [self._cover(p, named, req) for p, named in chosen]

    @staticmethod
    def _cover(p: Protocol, named: bool, req: SharingRequest) -> _Cover:
        cover = _Cover(p, named, {})
        day = req.as_at
        if not p.in_force.covers(day):
            until = f" to {p.in_force.end.isoformat()}" if p.in_force.end else ""
            cover.gaps.append(("not_in_force", p.purpose_clause, f"{p.label} is in force from {p.in_force.start.isoformat()}{until}, not on {day.isoformat()}."))
        for role, agency in (("discloser", req.discloser), ("recipient", req.recipient)):
            who = agency.name or f"the {agency.kind.label}"
            partner = p.partner_for(agency.legal_entity)
            if partner is None:
                cover.gaps.append((f"{role}_not_partner", p.partners_clause, f"{who} ({agency.legal_entity}) is not a partner to the protocol."))
                continue
            clause = partner.clause or p.partners_clause
            cover.facts[f"partner.{role}"] = partner.id
            if agency.kind.value not in [k.value for k in partner.kinds]:
                kinds = ", ".join(k.label for k in partner.kinds)
                cover.gaps.append((f"{role}_kind", clause, f"{partner.name} is a partner only as {kinds}, not as {agency.kind.label}."))
            if partner.signed is None or partner.signed > day:
                when = f" by {day.isoformat()} (it signed on {partner.signed.isoformat()})" if partner.signed else ""
                cover.gaps.append((f"{role}_not_signed", clause, f"{partner.name} had not signed the protocol{when}." if when else f"{partner.name} has not signed the protocol."))
            elif partner.withdrawn is not None and partner.withdrawn <= day:
                cover.gaps.append((f"{role}_withdrawn", clause, f"{partner.name} withdrew from the protocol on {partner.withdrawn.isoformat()}."))
        if req.purpose.value not in p.purposes:
            cover.gaps.append(("purpose", p.purpose_clause, f"the protocol does not cover sharing for {req.purpose.label}."))
        if req.interaction.value not in p.interactions:
            cover.gaps.append(("interaction", p.purpose_clause, f"the protocol does not cover {req.interaction.label}."))
        return cover

    def _check_powers(self, covers: list[_Cover], vires: _StageRun) -> None:
        """After stage 1: a protocol covers only sharing on a power it relies on."""
        found = {b.rule_id for b in _bases(vires)}
        for cover in covers:
            if not cover.covers:
                continue
            listed = {ref.rule for ref in cover.protocol.powers}
            if not found:
                cover.gaps.append((
                    "powers", cover.protocol.powers_clause,
                    "no power to share was found, and the protocol covers only sharing on the powers it lists.",
                ))
            elif not found & listed:
                names = ", ".join(self.bundle.rules[r].title for r in sorted(found))
                cover.gaps.append((
                    "powers", cover.protocol.powers_clause,
                    f"the power relied on ({names}) is not one the protocol relies on.",
                ))

    def _decide(self, req: SharingRequest) -> Decision:
        runs, facts, covers = self._run(req)
        era = era_on(req.as_at)
        statuses = [r.status for r in runs]
        basis = _bases(runs[0])
        outcome = outcome_for(statuses, basis)

        render = _Renderer(req, facts)
        renderers: dict[str | None, _Renderer] = {c.protocol.id: render.for_protocol(c.protocol, c.facts) for c in covers}
        findings = [
            Finding.build(
                stage=run.stage,
                rule_id=r.id,
                title=r.title,
                effect=EffectKind.NOTES if r.id in run.yielded else r.effect.kind,
                requirements=[q for q in r.requirements if q in run.active],
                basis=r.effect.basis,
                reason=renderers.get(r.protocol, render)(r.reason) + (_YIELDED if r.id in run.yielded else ""),
                citations=self._citations(r, req.as_at),
                verification=r.verification,
                protocol=self._protocol_ref(r),
            )
            for run in runs
            for r in run.shown
        ]
        findings.extend(self._gap_findings(covers, req.as_at))
        stages = [
            StageResult.build(
                stage=run.stage,
                title=run.stage.label,
                status=run.status,
                requirements=[
                    rq if rq.reason is None else rq.model_copy(update={"reason": render(rq.reason)})
                    for rq in run.requirements
                ],
            )
            for run in runs
        ]
        decided_by = _decided_by(outcome, runs)
        missing = _missing(runs) if outcome is Outcome.REFER else []
        relied = set(decided_by) | {b.rule_id for b in basis}
        unverified = [
            r.id for run in runs for r in run.shown if r.id in relied and r.verification != "verified"
        ]
        return check_decision(self.bundle, Decision.build(
            outcome=outcome,
            summary=_summary(outcome, runs, basis, missing, render),
            as_at=req.as_at,
            legal_era=era.label,
            request_id=req.request_id,
            stages=stages,
            findings=findings,
            decided_by=decided_by,
            basis=basis,
            conditions=_conditions(outcome, runs),
            ways_forward=_ways_forward(outcome, runs, missing),
            missing=missing,
            unverified=unverified,
            protocols=[
                ProtocolResult.build(
                    id=c.protocol.id, title=c.protocol.title, version=c.protocol.version, named=c.named,
                    covers=c.covers, gaps=[f"clause {clause}: {text}" for _, clause, text in c.gaps],
                )
                for c in covers
            ],
            bundle_hash=self.bundle.content_hash,
            engine_version=__version__,
            evaluator=self.evaluator,
            schema_version=SCHEMA_VERSION,
        ))


    def _protocol_ref(self, rule: Rule) -> ProtocolRef | None:
        if rule.protocol is None:
            return None
        p = self.bundle.protocols[rule.protocol]
        return ProtocolRef.build(id=p.id, title=p.title, version=p.version, clause=rule.clause or "")

    @staticmethod
    def _gap_findings(covers: list[_Cover], as_at: date) -> list[Finding]:
        out = []
        for c in covers:
            if c.covers:
                continue
            p = c.protocol
            how = "named in the request" if c.named else "signed by one of the parties"
            for code, clause, text in c.gaps:
                out.append(Finding.build(
                    stage=Stage.PROTOCOL,
                    rule_id=f"{p.id}.coverage.{code}",
                    title=f"{p.label} does not cover this sharing",
                    effect=EffectKind.NOTES,
                    requirements=[],
                    basis=None,
                    reason=f"{p.label} ({how}) does not cover this sharing: {text[:1].upper() + text[1:]} "
                    "Its practices do not apply, and the decision rests on national law alone.",
                    citations=[p.citation(clause).resolve(as_at)],
                    verification="verified",
                    protocol=ProtocolRef.build(id=p.id, title=p.title, version=p.version, clause=clause),
                ))
        return out

    @staticmethod
    def _citations(rule: Rule, as_at: date) -> list[CitedSource]:
        """A rule's citations for a day: those valid then, resolved to point-in-time links."""
        return [c.resolve(as_at) for c in rule.citations if c.applies_on(as_at)] or [
            rule.citations[0].resolve(as_at)
        ]


# ---------------------------------------------------------------------- combination


_YIELDED = (
    " This practice gives way: a duty to share applies, and a local protocol cannot override a duty. "
    "Record that the protocol's restriction was considered."
)
_RANK = {"failed": 0, "unmet": 0, "refer": 1, "met": 2}


def _signed_as(p: Protocol, agency: Any, day: date) -> bool:
    partner = p.partner_for(agency.legal_entity)
    return partner is not None and partner.signed_on(day) and agency.kind in partner.kinds


def _combine(
    segment: Segment,
    requirements: list[tuple[Requirement, Callable[..., Any]]],
    fired: list[Rule],
    facts: Mapping[str, object],
    yielded: set[str],
) -> _StageRun:
    active = {rq.id: rq for rq, test in requirements if test(facts)}
    results: list[RequirementResult] = []
    for rq in active.values():
        sat: list[str] = []
        fail: list[str] = []
        refer: list[str] = []
        for r in fired:
            if rq.id in r.requirements and r.id not in yielded:
                kind = r.effect.kind
                (sat if kind is EffectKind.SATISFIES else fail if kind is EffectKind.FAILS
                 else refer if kind is EffectKind.REFERS else []).append(r.id)
        unmet = "unmet" if rq.needs_satisfier else "met"
        status = "failed" if fail else "met" if sat else "refer" if refer else unmet
        results.append(
            RequirementResult.build(
                id=rq.id, title=rq.title, status=status, satisfied_by=sat, failed_by=fail, referred_by=refer,
                looked_for=list(segment.satisfiers.get(rq.id, ())) if status == "unmet" else [],
                reason=rq.unmet if status == "unmet" else None,
            )
        )
    if not results:
        # Stage 1 always needs a power: a bundle with no stage-1 requirement in force has
        # established nothing, and fails closed rather than letting the sharing through.
        status = StageStatus.FAIL if segment.stage is Stage.VIRES else StageStatus.NOT_ENGAGED
    elif any(r.status in ("failed", "unmet") for r in results):
        status = StageStatus.FAIL
    elif any(r.status == "refer" for r in results):
        status = StageStatus.REFER
    else:
        status = StageStatus.PASS
    referring = {r.id for r in results if r.status == "refer"}

    def shown(rule: Rule) -> bool:
        reqs = rule.requirements
        if not reqs:
            return True
        if rule.effect.kind is EffectKind.REFERS and rule.id not in yielded:
            return any(q in referring for q in reqs)
        return any(q in active for q in reqs)

    return _StageRun(segment.stage, status, results, [r for r in fired if shown(r)], fired, active, yielded)


def _guard(national: _StageRun, run: _StageRun, practices: list[Rule]) -> None:
    """Fail closed if a protocol's practices made any national requirement less strict."""
    before = {r.id: r.status for r in national.requirements}
    for r in run.requirements:
        if r.id in before and _RANK[r.status] > _RANK[before[r.id]]:
            culprits = [p.id for p in practices if r.id in p.requirements]
            raise EngineError(
                f"protocol practice(s) {culprits} would turn national requirement '{r.id}' from "
                f"{before[r.id]} to {r.status}: a protocol can only narrow national law "
                "(run `sharelaw prove` on the protocol)"
            )


def _bases(vires: _StageRun) -> list[BasisFound]:
    met = {rq.id for rq in vires.requirements if rq.status == "met"}
    found = [
        r for r in vires.shown
        if r.effect.kind is EffectKind.SATISFIES and r.effect.basis is not None and set(r.requirements) & met
    ]
    found.sort(key=lambda r: (BASIS_RANK[r.effect.basis], r.priority, r.order))  # type: ignore[index]  # basis is not None: filtered above
    return [BasisFound.build(kind=r.effect.basis, rule_id=r.id, title=r.title) for r in found]


def _establish(run: _StageRun, facts: dict[str, object]) -> None:
    """Add what a stage established to the facts the next stages see."""
    if run.stage is Stage.VIRES:
        bases = _bases(run)
        facts["vires.status"] = run.status.value
        facts["vires.basis"] = bases[0].kind.value if bases else BasisKind.NONE.value
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


def _decided_by(outcome: Outcome, runs: list[_StageRun]) -> list[str]:
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


def _missing(runs: list[_StageRun]) -> list[MissingItem]:
    items: dict[str, list[str]] = {}
    for run in runs:
        referring = {rq.id for rq in run.requirements if rq.status == "refer"}
        for r in run.shown:
            if r.effect.kind is EffectKind.REFERS and set(r.requirements) & referring and r.id not in run.yielded:
                for item in r.effect.missing:
                    ids = items.setdefault(item, [])
                    if r.id not in ids:
                        ids.append(r.id)
    return [MissingItem.build(item=k, question=MISSING_ITEMS[k], rule_ids=v) for k, v in items.items()]


def _conditions(outcome: Outcome, runs: list[_StageRun]) -> list[AttachedCondition]:
    found: dict[ConditionCode, list[str]] = {}
    for run in runs:
        for r in run.shown:
            if r.effect.kind in (EffectKind.SATISFIES, EffectKind.NOTES):
                for code in r.effect.conditions:
                    found.setdefault(code, []).append(r.id)
    if outcome is Outcome.MUST_NOT_SHARE:
        found = {k: v for k, v in found.items() if k is ConditionCode.RECORD_DECISION}
    return [AttachedCondition.build(code=k, text=k.label, rule_ids=v) for k, v in found.items()]


def _ways_forward(outcome: Outcome, runs: list[_StageRun], missing: list[MissingItem]) -> list[WayForwardItem]:
    if outcome in (Outcome.MAY_SHARE, Outcome.MUST_SHARE):
        return []
    codes: list[WayForward] = []
    if missing and any(m.item.startswith("assessment.") for m in missing):
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


def _summary(outcome: Outcome, runs: list[Any], basis: list[Any], missing: list[Any], render: _Renderer) -> str:
    who = render("{discloser} and {recipient}", capitalise=False)
    if outcome is Outcome.MUST_NOT_SHARE:
        if runs[0].status is StageStatus.FAIL and not any(rq.failed_by for rq in runs[0].requirements):
            return render(
                "No power to share was found: {discloser} must not share this information with {recipient}. "
                "Without a power the sharing would be ultra vires, and consent cannot cure that."
            )
        failed = next(r for r in runs if r.status is StageStatus.FAIL)
        if failed.stage is Stage.PROTOCOL:
            by = [r for r in failed.shown if r.effect.kind is EffectKind.FAILS and r.id not in failed.yielded]
            clauses = "; ".join(f"{r.title} (clause {r.clause})" for r in by)
            return render(
                "{discloser} must not share this information with {recipient}: an information sharing protocol "
                f"they have both signed forbids it ({clauses}), whatever national law would allow."
            )
        reqs = [rq.title for rq in failed.requirements if rq.status in ("failed", "unmet")]
        return render(
            "{discloser} must not share this information with {recipient}: "
            f"{failed.stage.label} is not satisfied ({'; '.join(reqs)})."
        )
    if outcome is Outcome.REFER:
        items = ", ".join(m.item for m in missing) or "a fact or judgement"
        return f"No decision yet for {who}: the practitioner must supply {items} before the law can be applied."
    if outcome is Outcome.MUST_SHARE:
        return render(
            f"{{discloser}} must share this information with {{recipient}}: {basis[0].title} applies and every "
            "stage passes, so withholding it would be inappropriate. Share subject to the conditions below."
        )
    strongest = basis[0].title if basis else "the bases found"
    return render(
        f"{{discloser}} may share this information with {{recipient}}, relying on {strongest}, "
        "subject to the conditions below."
    )


def plain_text(text: str | None) -> str:
    """Free text from a request (a name), safe to put in a rationale: every control or
    format character (newline, tab, escape, bidirectional override, ...) becomes a space
    and runs of spaces one, so a name can neither start a line of its own (forging
    "MUST SHARE") nor drive a terminal (ANSI escapes) nor reorder what is shown."""
    if not text:
        return ""
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(cleaned.split())


class _Renderer:
    """Fills ``{fact.name}`` placeholders with the request's values, as plain English."""

    _parsed: dict[str, list[str]] = {}

    def __init__(self, req: SharingRequest, facts: Mapping[str, object]) -> None:
        self.facts = facts
        self.values: dict[str, str] = {
            "discloser": plain_text(req.discloser.name) or f"the {req.discloser.kind.label}",
            "recipient": plain_text(req.recipient.name) or f"the {req.recipient.kind.label}",
            "as_at": req.as_at.isoformat(),
        }

    def for_protocol(self, protocol: Protocol, partner_ids: Mapping[str, object]) -> "_Renderer":
        """The same renderer, also filling ``{partner.discloser}``/``{partner.recipient}`` with partner names."""
        other = object.__new__(_Renderer)
        other.facts = self.facts
        other.values = dict(self.values)
        for name, pid in partner_ids.items():
            partner = next((p for p in protocol.partners if p.id == pid), None)
            if partner is not None:
                other.values[name] = partner.name
        return other

    def _value(self, name: str) -> str:
        found = self.values.get(name)
        if found is None:
            spec = FACTS.get(name)
            found = spec.label(self.facts[name]) if spec is not None and name in self.facts else "{" + name + "}"
            self.values[name] = found
        return found

    def __call__(self, text: str, capitalise: bool = True) -> str:
        parts = self._parsed.get(text)
        if parts is None:
            parts = _PLACEHOLDER.split(text)  # literal, name, literal, name, ...
            self._parsed[text] = parts
        out = "".join(p if i % 2 == 0 else self._value(p) for i, p in enumerate(parts))
        return out[:1].upper() + out[1:] if capitalise else out
