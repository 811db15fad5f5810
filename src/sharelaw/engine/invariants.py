"""The last check before a decision leaves the engine: its invariants (issue 10, item 2).

The pipeline computes a decision in many small steps. A step that raises is caught and
turned into ``EngineError``; a step that *returns a wrong value* (an empty basis list, a
``None`` citation, a rule id that is not in the bundle) would otherwise let a wrong
decision out. ``check_decision`` re-derives what docs/decision-semantics.md says must
hold of every finished decision, from the decision itself and the bundle that made it,
and raises ``EngineError`` naming each broken invariant. It never repairs a decision.

The invariants, with the section of docs/decision-semantics.md each comes from:

- the stages are the five of ``STAGE_ORDER``, in order; after stage 1 fails every later
  stage is ``not_evaluated``, and only then; stage 1 is never ``not_engaged`` (§4, §5);
- each stage's status agrees with its requirement results, and each requirement's status
  with the rules recorded behind it (§3, §4);
- the outcome agrees with the stage statuses and the strongest basis (§7);
- a sharing outcome (``may_share``, ``must_share``) has a stage-1 basis, stage 1 passed,
  and ``must_share`` rests on a ``duty``; the bases are ranked strongest first (§7, §9);
- ``decided_by`` is what §10 derives from the requirement results;
- every rule the decision relies on (``decided_by`` and ``basis``) is a shown finding,
  and every finding has at least one citation with non-empty text (§8);
- ``unverified`` is exactly the relied-on findings not tagged ``verified`` (§14);
- every rule id named anywhere in the decision is a rule of the bundle (or a protocol
  coverage note of a protocol the decision considered), and ``bundle_hash`` is the
  bundle's (§17).

The check costs a few microseconds per finding: it only walks the decision once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..decision import Decision
from ..errors import EngineError
from ..law.citations import CitedSource
if TYPE_CHECKING:
    from ..rules.bundle import Bundle

from ..vocab import BASIS_RANK, STAGE_ORDER, BasisKind, EffectKind, Outcome, Stage, StageStatus

_SHARING = (Outcome.MAY_SHARE, Outcome.MUST_SHARE)


def outcome_for(statuses: Iterable[StageStatus], basis: Sequence[Any]) -> Outcome:
    """The outcome of the stage statuses and the ranked stage-1 bases
    (docs/decision-semantics.md section 7): the one statement of the rule, which the
    pipeline decides by and the invariant check holds every decision to."""
    if StageStatus.FAIL in statuses:
        return Outcome.MUST_NOT_SHARE
    if StageStatus.REFER in statuses:
        return Outcome.REFER
    if basis and basis[0].kind is BasisKind.DUTY:
        return Outcome.MUST_SHARE
    return Outcome.MAY_SHARE


def check_decision(bundle: Bundle, decision: Decision, *, checked: Any = None) -> Decision:
    """Return ``decision`` unchanged if every invariant holds; else raise ``EngineError``.

    ``checked``: the skeleton (engine/skeleton.py) the decision was made from, when that
    skeleton's substance (stages, outcome, bases, ``decided_by``, ``unverified``, the rule ids
    named) already passed this whole check in an earlier decision. Then the decision is held
    to carrying exactly that substance, and what each decision adds (its findings' reasons
    and citations, the protocols it considered) is checked in full; a decision whose
    substance is not its skeleton's gets the whole check (and is refused either way)."""
    if checked is None:
        problems = list(_problems(bundle, decision))
    else:
        mismatch = _substance_mismatch(decision, checked)
        if mismatch is None:
            problems = list(_words_problems(bundle, decision))
        else:
            problems = list(_problems(bundle, decision)) or [
                f"the decision's {mismatch} is not what the stage results it was made from give"]
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise EngineError(f"decision failed its invariants, no decision is returned: {shown}{more}")
    return decision


def _problems(bundle: Bundle, d: Decision) -> Iterable[str]:
    rules = bundle.rules

    # -------------------------------------------------------------- stages (§4, §5)
    stages = list(d.stages or ())
    if [getattr(s, "stage", None) for s in stages] != list(STAGE_ORDER):
        yield f"stages are {[getattr(s, 'stage', None) for s in stages]}, not {list(STAGE_ORDER)}"
        return  # nothing below can be read reliably
    statuses = [s.status for s in stages]
    stopped = statuses[0] is StageStatus.FAIL
    if statuses[0] in (StageStatus.NOT_ENGAGED, StageStatus.NOT_EVALUATED):
        yield f"stage 1 is {statuses[0].value}: stage 1 is always evaluated and never not engaged"
    for st in stages[1:]:
        if stopped and st.status is not StageStatus.NOT_EVALUATED:
            yield f"stage 1 failed but {st.stage.value} is {st.status.value}, not not_evaluated"
        if not stopped and st.status is StageStatus.NOT_EVALUATED:
            yield f"{st.stage.value} is not_evaluated although stage 1 did not fail"
    for st in stages:
        yield from _stage_problems(st)

    # -------------------------------------------------------------- outcome (§7, §9)
    basis = list(d.basis or ())
    for i, b in enumerate(basis):
        if not isinstance(getattr(b, "kind", None), BasisKind) or b.kind is BasisKind.NONE:
            yield f"basis[{i}] has no kind of basis ({getattr(b, 'kind', None)!r})"
            return
    ranks = [BASIS_RANK[b.kind] for b in basis]
    if ranks != sorted(ranks):
        yield f"bases are not ranked strongest first: {[b.kind.value for b in basis]}"
    expected = outcome_for(statuses, basis)
    if d.outcome is not expected:
        yield (
            f"outcome {getattr(d.outcome, 'value', d.outcome)!r} disagrees with the stage statuses "
            f"{[s.value for s in statuses]} and basis {[b.kind.value for b in basis]}: it must be {expected.value}"
        )
    if d.outcome in _SHARING:
        if not basis:
            yield f"{d.outcome.value} with no stage-1 basis: no power, no sharing"
        if statuses[0] is not StageStatus.PASS:
            yield f"{d.outcome.value} although stage 1 is {statuses[0].value}"
    if d.outcome is Outcome.MUST_SHARE and not (basis and basis[0].kind is BasisKind.DUTY):
        yield "must_share without a duty as the strongest stage-1 basis"

    # -------------------------------------------------------------- decided_by (§10)
    decided_by = list(d.decided_by or ())
    derived: list[str] = []
    for st in stages:
        for rq in st.requirements:
            if d.outcome is Outcome.MUST_NOT_SHARE:
                ids = rq.failed_by
            elif d.outcome is Outcome.REFER:
                ids = rq.referred_by if rq.status == "refer" else []
            else:
                ids = rq.satisfied_by
            derived.extend(i for i in ids if i not in derived)
    if decided_by != derived:
        yield f"decided_by {decided_by} is not what the requirement results give ({derived})"
    if d.outcome in _SHARING or d.outcome is Outcome.REFER:
        if not decided_by:
            yield f"{d.outcome.value} with an empty decided_by"

    # -------------------------------------------------------------- findings (§8, §14)
    yield from _words_problems(bundle, d)
    findings: dict[str, Any] = {}  # what a decision holds, checked attribute by attribute
    for f in d.findings or ():
        rid = getattr(f, "rule_id", None)
        if isinstance(rid, str) and rid:
            findings.setdefault(rid, f)

    relied = list(dict.fromkeys([*decided_by, *(b.rule_id for b in basis)]))
    for rid in relied:
        if rid not in rules:
            yield f"relied-on rule {rid!r} is not a rule of the bundle"
        if rid not in findings:
            yield f"relied-on rule {rid!r} is not among the findings"
    for b in basis:
        found = findings.get(b.rule_id)
        if found is not None and (found.stage is not Stage.VIRES or found.effect is not EffectKind.SATISFIES
                                  or found.basis is not b.kind):
            yield f"basis {b.rule_id!r} is not a stage-1 finding satisfying with basis {b.kind.value}"
    not_verified = [rid for rid in relied if rid in findings and findings[rid].verification != "verified"]
    if set(d.unverified or ()) != set(not_verified):
        yield f"unverified {list(d.unverified or ())} is not the relied-on rules not verified ({not_verified})"

    # -------------------------------------------------------------- rule ids (§17)
    for st in stages:
        for rq in st.requirements:
            for rid in (*rq.satisfied_by, *rq.failed_by, *rq.referred_by, *rq.looked_for):
                if rid not in rules:
                    yield f"requirement {st.stage.value}.{rq.id} names {rid!r}, which is not a rule of the bundle"
    for c in d.conditions or ():
        for rid in c.rule_ids:
            if rid not in rules:
                yield f"condition {c.code.value} names {rid!r}, which is not a rule of the bundle"
    for m in d.missing or ():
        for rid in m.rule_ids:
            if rid not in rules:
                yield f"missing item {m.item} names {rid!r}, which is not a rule of the bundle"


def _substance_mismatch(d: Decision, sk: Any) -> str | None:
    """Which part of ``d``'s substance is not its (checked) skeleton's, or None.

    The lists of a skeleton are copied into each decision, holding the same frozen models,
    so these comparisons are mostly identity checks."""
    if d.outcome is not sk.outcome:
        return "outcome"
    for name in ("basis", "decided_by", "unverified", "conditions", "ways_forward", "missing"):
        if getattr(d, name) != getattr(sk, name):
            return name
    if len(d.stages) != len(sk.stages):
        return "stages"
    for got, want in zip(d.stages, sk.stages):
        if got is want.fixed:
            continue
        if got.stage is not want.stage or got.status is not want.status or len(got.requirements) != len(want.requirements):
            return f"stage {want.stage.value}"
        for a, b in zip(got.requirements, want.requirements):
            if a is not b and (a.id, a.status, a.satisfied_by, a.failed_by, a.referred_by, a.looked_for) != (
                    b.id, b.status, b.satisfied_by, b.failed_by, b.referred_by, b.looked_for):
                return f"stage {want.stage.value} requirement {b.id}"
    findings = d.findings
    if len(findings) < len(sk.findings):
        return "findings"
    for f, spec in zip(findings, sk.findings):
        r = spec.rule
        if (f.rule_id != r.id or f.stage is not spec.stage or f.effect is not spec.effect
                or f.basis is not r.effect.basis or f.verification != r.verification
                or f.requirements != spec.requirements or f.protocol is not spec.protocol):
            return f"finding {r.id}"
    for f in findings[len(sk.findings):]:
        if f.rule_id in sk.finding_ids:
            return f"finding {f.rule_id}"  # only coverage notes follow the skeleton's findings
    return None


def _words_problems(bundle: Bundle, d: Decision) -> Iterable[str]:
    """What each decision adds to its skeleton's substance: the findings' reasons and
    citations (§8), the protocols considered and their coverage notes (§18), the bundle (§17)."""
    rules = bundle.rules
    protocols = bundle.protocols
    considered = {getattr(p, "id", None) for p in (d.protocols or ())}
    for i, f in enumerate(d.findings or ()):
        rid = getattr(f, "rule_id", None)
        if not isinstance(rid, str) or not rid:
            yield f"findings[{i}] has no rule id"
            continue
        if rid not in rules and not _coverage_note(rid, f, protocols, considered):
            yield f"finding {rid!r} is not a rule of the bundle"
        if not isinstance(getattr(f, "reason", None), str) or not f.reason.strip():
            yield f"finding {rid!r} has no reason"
        yield from _citation_problems(rid, getattr(f, "citations", None))
    for pid in considered:
        if pid not in protocols:
            yield f"protocol {pid!r} is not a protocol of the bundle"
    if d.bundle_hash != bundle.content_hash:
        yield f"bundle_hash {d.bundle_hash!r} is not the bundle's ({bundle.content_hash})"


def _stage_problems(st: Any) -> Iterable[str]:
    name = st.stage.value
    results = list(st.requirements or ())
    for rq in results:
        if rq.status == "failed" and not rq.failed_by:
            yield f"{name}.{rq.id} is failed but no rule failed it"
        elif rq.status == "met" and rq.failed_by:
            yield f"{name}.{rq.id} is met although {rq.failed_by} failed it"
        elif rq.status == "refer" and (not rq.referred_by or rq.failed_by or rq.satisfied_by):
            yield f"{name}.{rq.id} is refer but its rules disagree (failed by {rq.failed_by}, met by {rq.satisfied_by}, referred by {rq.referred_by})"
        elif rq.status == "unmet" and (rq.failed_by or rq.satisfied_by or rq.referred_by):
            yield f"{name}.{rq.id} is unmet although rules speak to it"
        elif rq.status not in ("failed", "met", "refer", "unmet"):
            yield f"{name}.{rq.id} has status {rq.status!r}"
    if st.status is StageStatus.NOT_EVALUATED:
        if results:
            yield f"{name} is not_evaluated but reports requirement results"
        return
    if not results:
        expected = StageStatus.FAIL if st.stage is Stage.VIRES else StageStatus.NOT_ENGAGED
    elif any(rq.status in ("failed", "unmet") for rq in results):
        expected = StageStatus.FAIL
    elif any(rq.status == "refer" for rq in results):
        expected = StageStatus.REFER
    else:
        expected = StageStatus.PASS
    if st.status is not expected:
        yield f"{name} is {getattr(st.status, 'value', st.status)} but its requirement results make it {expected.value}"


def _citation_problems(rid: str, citations: Any) -> Iterable[str]:
    if not citations:
        yield f"finding {rid!r} has no citation"
        return
    for j, c in enumerate(citations):
        if not isinstance(c, CitedSource):
            yield f"finding {rid!r} citation {j} is {type(c).__name__}, not a citation"
        elif not isinstance(c.label, str) or not c.label.strip():
            yield f"finding {rid!r} citation {j} has no text"


def _coverage_note(rid: str, finding: Any, protocols: Any, considered: set[Any]) -> bool:
    """A finding the engine makes itself: a protocol that was considered does not cover the sharing."""
    ref = getattr(finding, "protocol", None)
    return (
        ref is not None
        and ref.id in protocols
        and ref.id in considered
        and rid.startswith(f"{ref.id}.coverage.")
        and finding.effect is EffectKind.NOTES
        and finding.stage is Stage.PROTOCOL
    )
