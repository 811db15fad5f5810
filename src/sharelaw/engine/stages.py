"""The Engine: a request through the stages in legal order, to a checked Decision.

This module orchestrates; the rooms it calls each hold one concern:

- ``engine/combine.py``   the combination semantics (docs/decision-semantics.md, one
                          definition of each rule);
- ``engine/coverage.py``  which protocols a request considers and whether they cover it;
- ``engine/skeleton.py``  a decision's substance, computed once per distinct set of stage
                          results and reused (the memo keys are ``combine``'s inputs);
- ``engine/render.py``    findings, citations, the summary, placeholders: the request's words;
- ``engine/invariants.py`` the last check before a decision leaves (§7's outcome rule);
- the evaluators that fire a segment's rules: ``engine/durable.py`` (durable-rules, the
  only module that knows it), ``engine/compiled.py`` (generated Python) and
  ``rules/reference.py`` (the plain-Python reference, the cross-check's oracle).

The cross-check (docs/decision-semantics.md §15) runs the reference evaluator beside the
one deciding and refuses to decide if they disagree. ``cross_check`` is a rate: ``True``
(1.0, every decision: the default, and what tests and CI run), ``False`` (0.0) or a fraction
for production. Which decisions are checked is decided by a hash of what the rules see
(the normalised facts, the date and the protocols named), so the same request is always
checked or always not, and replay reproduces the choice; ``Decision.cross_checked`` says
whether this one was.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Mapping

from pydantic import ValidationError

from .._version import __version__
from ..decision import SCHEMA_VERSION, Decision, ProtocolResult, StageResult
from .. import request as _request_module
from ..errors import EngineError, RequestError, SharelawError
from ..law.eras import era_on
from ..request import SharingRequest, parse_request
from ..rules.bundle import Bundle, Segment
from ..rules.facts import request_facts
from ..rules.model import Rule
from ..rules.reference import ReferenceEvaluator
from ..vocab import STAGE_ORDER, Outcome, Stage, StageStatus
from .combine import StageRun, combine_active, establish, guard, not_evaluated, practices_yielding
from .coverage import Cover, check_powers, covers
from .invariants import check_decision
from .render import Output, Renderer, summary
from .memo import MEMO_SIZE, Memo
from .skeleton import Skeleton, StageKey, build_skeleton, with_reason

__all__ = ["Engine", "EVALUATORS", "validate_request"]

EvaluatorName = Literal["durable", "compiled", "reference"]
EVALUATORS: tuple[str, ...] = ("durable", "compiled", "reference")

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


def cross_check_rate(cross_check: bool | float) -> float:
    """``cross_check`` as a rate in [0, 1]; ``ValueError`` for anything else."""
    if cross_check is True or cross_check is False:
        return 1.0 if cross_check else 0.0
    if isinstance(cross_check, (int, float)) and 0.0 <= float(cross_check) <= 1.0:
        return float(cross_check)
    raise ValueError(f"cross_check must be True, False or a rate between 0 and 1, not {cross_check!r}")


def sampled(facts: Mapping[str, object], req: SharingRequest, rate: float) -> bool:
    """Whether a request falls in the cross-checked fraction ``rate``: a hash of what the
    rules see (normalised facts, date, protocols named), so the choice is the same for the
    same request on every run, machine and replay."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    text = "\x1f".join([req.as_at.isoformat(), repr(req.protocols), *(f"{k}={v}" for k, v in sorted(facts.items()))])
    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    return h < rate * 2**64


class Engine:
    """Decides sharing requests against a rule bundle. Thread-safe; reuse one instance.

    ``evaluator`` names what fires the rules: ``"durable"`` (the default: durable-rules),
    ``"compiled"`` (the rules compiled to Python, engine/compiled.py: the fast path, held
    equal to durable-rules by the differential tests) or ``"reference"`` (the plain-Python
    reference evaluator). ``cross_check`` (``True``, ``False`` or a rate in [0, 1]) checks
    that fraction of decisions' firings against the reference evaluator: a disagreement
    raises ``EngineError`` instead of deciding. The reference evaluator is never checked
    against itself. ``memo_size`` bounds the memos of what stage results decide
    (engine/skeleton.py; 0: derive everything for every request).
    """

    def __init__(
        self,
        bundle: Bundle | None = None,
        *,
        evaluator: EvaluatorName = "durable",
        cross_check: bool | float = True,
        guard_protocols: bool = True,
        prepare: Literal["eager", "lazy"] = "eager",
        memo_size: int = MEMO_SIZE,
    ) -> None:
        if evaluator not in EVALUATORS:
            raise ValueError(f"unknown evaluator {evaluator!r} (known: {', '.join(EVALUATORS)})")
        rate = cross_check_rate(cross_check)
        self.bundle = bundle if bundle is not None else Bundle.load()
        # With the guard off (``sharelaw prove`` only), a practice that widens national law
        # takes effect instead of raising, so that the widening can be shown.
        self._guard_protocols = guard_protocols
        if evaluator == "durable":
            from .durable import DurableEvaluator

            self._primary: Any = DurableEvaluator()
            # "lazy" (one-shot commands): each segment compiled when first reached; a rule the
            # core refuses is then a RulesetErrors from decide(), never a decision.
            self._primary.prepare(self.bundle, lazy=prepare == "lazy")
        elif evaluator == "compiled":
            from .compiled import CompiledEvaluator

            self._primary = CompiledEvaluator()
            self._primary.prepare(self.bundle)
        else:
            self._primary = ReferenceEvaluator()
            rate = 0.0
        self.cross_check_rate = rate
        self._oracle = ReferenceEvaluator() if rate > 0.0 else None
        self.evaluator = evaluator
        self._output = Output(self.bundle)
        # What the stage results decide, computed once per distinct set of them
        # (engine/skeleton.py); ``memo_size=0`` recomputes everything for every request.
        self._stage_memo: Memo[StageKey, StageRun] = Memo(memo_size)
        self._skeleton_memo: Memo[tuple[StageKey | None, ...], Skeleton] = Memo(memo_size)
        self._established: Memo[tuple[StageKey, object], dict[str, object]] = Memo(memo_size)

    # ------------------------------------------------------------------ public

    @property
    def guard_protocols(self) -> bool:
        """Read-only: memoised stage results were combined under this setting."""
        return self._guard_protocols

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

    def _fire(self, segment: Segment, facts: dict[str, object], check: bool) -> list[str]:
        ids: list[str] = self._primary.fire(segment, facts)
        if check:
            expected = self._oracle.fire(segment, facts)  # type: ignore[union-attr]
            if ids != expected:
                raise EngineError(
                    f"evaluators disagree on {segment.key}: {self._primary.name} fired {ids}, reference fired {expected}"
                )
        return ids

    def _run(self, req: SharingRequest) -> tuple[list[StageRun], dict[str, object], list[Cover], bool,
                                                 tuple[StageKey | None, ...]]:
        """Fire every stage in order and combine each stage's results (memoised by what
        ``combine`` reads: engine/skeleton.py). Returns the stage results, the facts (with
        what the stages established), the protocols considered, whether the firings were
        cross-checked, and each stage's memo key (None for a stage not evaluated)."""
        facts = request_facts(req)
        check = self._oracle is not None and sampled(facts, req, self.cross_check_rate)
        found_covers = covers(self.bundle, req)
        live = [c for c in found_covers if c.covers]
        rules = self.bundle.rules
        memo = self._stage_memo
        runs: list[StageRun] = []
        keys: list[StageKey | None] = []
        stopped = False
        for stage in STAGE_ORDER:
            if stopped:
                runs.append(not_evaluated(stage))
                keys.append(None)
                continue
            segment = self.bundle.segment(stage, req.as_at)
            fired_ids = self._fire(segment, facts, check) if segment.rules else []
            requirements = list(segment.requirement_tests)
            practice_ids: list[str] = []
            scopes: list[str] = []
            for cover in live:
                if not cover.covers:  # check_powers may have found a gap after stage 1
                    continue
                pseg = self.bundle.protocol_segment(cover.protocol.id, stage, req.as_at)
                if pseg.requirements:
                    requirements.extend(pseg.requirement_tests)
                    scopes.append(pseg.key)
                if pseg.rules:
                    practice_ids.extend(self._fire(pseg, {**facts, **cover.facts}, check))
            positions = tuple(i for i, (_, test) in enumerate(requirements) if test(facts))
            practices = [rules[i] for i in practice_ids]
            yielded = practices_yielding(practices, facts)
            key: StageKey = (segment.key, tuple(scopes), positions, tuple(fired_ids), tuple(practice_ids),
                             tuple(sorted(yielded)))
            run = memo.get(key)
            if run is None:
                active = {requirements[i][0].id: requirements[i][0] for i in positions}
                fired = [rules[i] for i in fired_ids]
                run = combine_active(segment, active, fired + practices, yielded)
                if practices and stage is not Stage.PROTOCOL and self._guard_protocols:
                    guard(combine_active(segment, active, fired, set()), run, practices)
                memo.put(key, run)
            runs.append(run)
            keys.append(key)
            if stage is Stage.VIRES:
                # What stage 1 established: ``establish`` reads the stage result and one
                # request fact, so it runs once for each pair and its writes are reused.
                authority = facts["discloser.public_authority"]
                found = self._established.get((key, authority))
                if found is None:
                    found = {"discloser.public_authority": authority}
                    establish(run, found)
                    del found["discloser.public_authority"]
                    self._established.put((key, authority), found)
                facts.update(found)
            else:
                establish(run, facts)
            if stage is Stage.VIRES:
                stopped = run.status is StageStatus.FAIL
                check_powers(self.bundle, found_covers, run)
        return runs, facts, found_covers, check, tuple(keys)

    # ------------------------------------------------------------------ the decision

    def _decide(self, req: SharingRequest) -> Decision:
        runs, facts, found_covers, checked, keys = self._run(req)
        skeleton = self._skeleton_memo.get(keys)
        fresh = skeleton is None
        if skeleton is None:
            skeleton = build_skeleton(runs, self._output)
        output = self._output
        render = Renderer(req, facts)
        renderers = {c.protocol.id: render.for_protocol(c.protocol, c.facts) for c in found_covers}
        findings = output.render_findings(skeleton.findings, render, renderers, req.as_at)
        if found_covers:
            findings.extend(output.gap_findings(found_covers, req.as_at))
        stages = [
            st.fixed if st.fixed is not None else StageResult.build(
                stage=st.stage,
                title=st.title,
                status=st.status,
                requirements=[
                    rq if rq.reason is None else with_reason(rq, render(rq.reason))
                    for rq in st.requirements
                ],
            )
            for st in skeleton.stages
        ]
        decision = check_decision(self.bundle, Decision.build(
            outcome=skeleton.outcome,
            summary=summary(skeleton.outcome, runs, skeleton.basis, skeleton.missing, render),
            as_at=req.as_at,
            legal_era=era_on(req.as_at).label,
            request_id=req.request_id,
            stages=stages,
            findings=findings,
            decided_by=list(skeleton.decided_by),
            basis=list(skeleton.basis),
            conditions=list(skeleton.conditions),
            ways_forward=list(skeleton.ways_forward),
            missing=list(skeleton.missing),
            unverified=list(skeleton.unverified),
            protocols=[
                ProtocolResult.build(
                    id=c.protocol.id, title=c.protocol.title, version=c.protocol.version, named=c.named,
                    covers=c.covers, gaps=[f"clause {clause}: {text}" for _, clause, text in c.gaps],
                )
                for c in found_covers
            ],
            bundle_hash=self.bundle.content_hash,
            engine_version=__version__,
            evaluator=self.evaluator,
            cross_checked=checked,
            schema_version=SCHEMA_VERSION,
        ), checked=None if fresh else skeleton)
        if fresh:
            # only a skeleton whose substance passed the invariant check is reused
            self._skeleton_memo.put(keys, skeleton)
        return decision
