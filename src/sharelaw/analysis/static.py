"""Static checks of a loaded bundle (``sharelaw check``): rules that can never matter.

The loader rejects rule files that are malformed; these checks find rule files that
load but cannot mean what their authors meant. They reason about conditions exactly,
with the finite-domain solver of ``analysis/solver.py``, over the requests that can really
occur (``solver.VALIDITY``), segment by segment (the rules and requirements of one
stage in force over a range of days). Only days on or after ``SCOPE_START`` (1 March
2000) count: no request can be made for an earlier day.

Diagnostic codes (stable; match on them, not on messages):

- ``ruleset_unreachable_rule`` (warning): a rule that can never take effect: its
  condition cannot hold for any real request, or no requirement it names can be active
  when it fires, in every segment (on or after the scope start) where it is in force.
- ``ruleset_shadowed_rule`` (warning): a ``satisfies`` or ``refers`` rule that decides
  nothing, because whenever it fires (and its requirement is active) a ``fails`` rule on
  the same requirement fires too (or, for ``refers``, a ``fails`` or ``satisfies`` rule),
  in every segment where it can take effect.
- ``ruleset_contradiction`` (error): a ``satisfies`` and a ``fails`` rule on the same
  requirement that read exactly the same facts and can both fire for one request: the
  same facts were given opposite answers. Reported on the later rule.
- ``ruleset_date_gap``: (a) days on which a stage has no requirement in force (an
  error for stage 1, which then fails closed for everyone; a warning for a later stage,
  which is then not engaged), or (b) days on which a requirement is in force but no rule
  that could satisfy it while it applies is, so every request it applies to fails the
  stage (an error).
  A later stage's gap is not reported where the rules say why: a rule naming no
  requirement, in force only on days without one, fires for every request there.
  Date gaps are checked on national segments only: a protocol's segments (those with a
  ``scope``) only narrow the law, and outside its dates a protocol simply does not apply.

Besides ``solver.VALIDITY``, queries assume ``ESTABLISHED_PARTS``: what the facts an
earlier stage establishes always satisfy (stage 1 passed or referred; no stage is seen
as not evaluated; a public function only for a public authority).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Iterable, Literal, Mapping

from ..law.eras import SCOPE_START
from ..vocab import EffectKind, Stage
from ..rules.bundle import Bundle, Segment
from ..rules.facts import FACTS
from ..rules.model import All, AnyOf, Cond, In, Not, Requirement, Rule
from .solver import VALIDITY_PARTS, facts_of, national_domains, satisfiable

__all__ = ["Diagnostic", "analyse", "CODES"]

CODES = ("ruleset_unreachable_rule", "ruleset_shadowed_rule", "ruleset_contradiction", "ruleset_date_gap")

Severity = Literal["error", "warning"]


def _established_parts() -> tuple[Cond, ...]:
    parts: list[Cond] = []
    for stage in Stage:
        name = f"{stage.value}.status"
        if name in FACTS:
            # Stage 1 never ends not engaged, and the stages after a failed stage 1 are
            # not run; no rule ever sees not_evaluated (docs/rulesets.md).
            never = ("fail", "not_engaged", "not_evaluated") if stage is Stage.VIRES else ("not_evaluated",)
            parts.append(In(name, never, negated=True))
    if "vires.public_function" in FACTS:
        # vires.public_function is set only for a discloser acting as a public authority.
        parts.append(AnyOf((In("vires.public_function", (False,)), In("discloser.public_authority", (True,)))))
    return tuple(parts)


#: What the facts established by earlier stages satisfy whenever a later stage reads them.
ESTABLISHED_PARTS: tuple[Cond, ...] = _established_parts()
_ASSUMED = tuple((p, frozenset(facts_of(p))) for p in VALIDITY_PARTS + ESTABLISHED_PARTS)
DomainsArg = Mapping[str, tuple[Any, ...]] | Callable[[Segment], Mapping[str, tuple[Any, ...]]] | None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    file: str | None
    line: int | None
    rule_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "rule_id": self.rule_id,
        }

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else (self.file or "<bundle>")
        rule = f" (rule {self.rule_id})" if self.rule_id else ""
        return f"{where}: {self.severity}: {self.code}: {self.message}{rule}"


def _fmt(start: date, end: date | None) -> str:
    return f"{start.isoformat()} to {end.isoformat()}" if end is not None else f"{start.isoformat()} onwards"


def _in_scope(seg: Segment) -> bool:
    return seg.end is None or seg.end >= SCOPE_START


def _scope_start(seg: Segment) -> date:
    return SCOPE_START if seg.start is None or seg.start < SCOPE_START else seg.start


def _ranges(segs: Iterable[Segment]) -> list[tuple[date, date | None]]:
    """Merge consecutive in-scope segments (of one stage) into (start, end) day ranges."""
    out: list[list[Any]] = []
    for seg in sorted(segs, key=lambda s: s.index):
        start = _scope_start(seg)
        if out and out[-1][1] is not None and out[-1][1] + timedelta(days=1) == start:
            out[-1][1] = seg.end
        else:
            out.append([start, seg.end])
    return [(a, b) for a, b in out]


class _Checker:
    def __init__(self, bundle: Bundle, segments: list[Segment], domains: DomainsArg) -> None:
        self.bundle = bundle
        self.segments = [s for s in segments if _in_scope(s)]
        # The rules by id, from the segments themselves (a caller's segments may hold rules
        # that are not in the bundle, e.g. a protocol's).
        self.rules: dict[str, Rule] = {r.id: r for s in self.segments for r in s.rules}
        if domains is None:
            national = national_domains()
            self._domains: Callable[[Segment], Mapping[str, tuple[Any, ...]]] = lambda seg: national
        elif callable(domains):
            self._domains = domains
        else:
            fixed = domains
            self._domains = lambda seg: fixed
        self._keep: list[Any] = []  # domains seen, so that their ids stay unique
        self._cache: dict[tuple[Any, ...], bool] = {}
        self._facts: dict[int, frozenset[str]] = {}
        self._reqs: dict[int, list[Requirement]] = {}

    # ---------------------------------------------------------------- solving

    def domains(self, seg: Segment) -> Mapping[str, tuple[Any, ...]]:
        d = self._domains(seg)
        if not any(d is k for k in self._keep):
            self._keep.append(d)
        return d

    def facts(self, cond: Cond) -> frozenset[str]:
        found = self._facts.get(id(cond))
        if found is None:
            found = frozenset(facts_of(cond))
            self._facts[id(cond)] = found
            self._keep.append(cond)
        return found

    def sat(self, key: tuple[Any, ...], seg: Segment, *conds: Cond) -> bool:
        """Whether the conditions can hold together for a real request. ``key`` names the
        query (by rule ids and requirement objects), so repeated queries are not re-solved."""
        doms = self.domains(seg)
        full = (id(doms),) + key
        found = self._cache.get(full)
        if found is None:
            query = All(tuple(conds))
            read: set[str] = set()
            for c in conds:
                read |= self.facts(c)
            parts = tuple(p for p, fs in _ASSUMED if fs & read and all(f in doms for f in fs))
            found = satisfiable(query, doms, assume=All(parts) if parts else None) is not None
            self._cache[full] = found
        return found

    # ---------------------------------------------------------------- helpers

    def reqs(self, seg: Segment) -> list[Requirement]:
        """The requirements a segment's rules act on: its own, and for a protocol's segment
        (one with a ``scope``) also the national ones of its stage in force on its days."""
        found = self._reqs.get(id(seg))
        if found is None:
            found = list(seg.requirements)
            if getattr(seg, "scope", None) is not None and seg.stage in Stage:
                lo = seg.start or date.min
                bounds = self.bundle.boundaries_of(seg.stage)
                for index in range(len(bounds) + 1):
                    nat = self.bundle.segment_at(seg.stage, index)
                    if (nat.end is None or nat.end >= lo) and (seg.end is None or nat.start is None or nat.start <= seg.end):
                        found += [q for q in nat.requirements if not any(q is x for x in found)]
            self._reqs[id(seg)] = found
            self._keep.append(seg)
        return found

    def reqs_named(self, rule: Rule, seg: Segment) -> list[Requirement]:
        return [q for q in self.reqs(seg) if q.id in rule.requirements]

    def live(self, rule: Rule, q: Requirement, seg: Segment) -> bool:
        """The rule can fire while ``q`` is active (so its effect on ``q`` applies)."""
        return self.sat(("live", rule.id, id(q)), seg, rule.when, q.when)

    def fires(self, rule: Rule, seg: Segment) -> bool:
        return self.sat(("fires", rule.id), seg, rule.when)

    def cover(self, rule: Rule, q: Requirement, seg: Segment, stronger: list[Rule]) -> list[Rule]:
        """An irreducible subset of ``stronger`` that still always fires with ``rule``: the
        rules to name as shadowing it."""
        kept = list(stronger)
        for r in list(kept):
            rest = [x for x in kept if x is not r]
            if rest and not self.sat(
                ("shadow", rule.id, id(q), tuple(sorted(x.id for x in rest))),
                seg, rule.when, q.when, Not(AnyOf(tuple(x.when for x in rest))),
            ):
                kept = rest
        return kept

    # ---------------------------------------------------------------- checks

    def unreachable(self) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        where: dict[str, list[Segment]] = {}
        for seg in self.segments:
            for r in seg.rules:
                where.setdefault(r.id, []).append(seg)
        for rule_id, segs in where.items():
            rule = self.rules[rule_id]
            can_fire = False
            takes_effect = False
            named_in_force = False
            for seg in segs:
                if not self.fires(rule, seg):
                    continue
                can_fire = True
                if not rule.requirements:
                    takes_effect = True
                    break
                reqs = self.reqs_named(rule, seg)
                named_in_force = named_in_force or bool(reqs)
                if any(self.live(rule, q, seg) for q in reqs):
                    takes_effect = True
                    break
            if takes_effect:
                continue
            named = ", ".join(rule.requirements)
            if not can_fire:
                msg = "the rule's condition cannot hold for any valid request, so it never fires"
            elif not named_in_force:
                msg = f"no requirement it names ({named}) is in force while the rule is, so its effect never applies"
            else:
                msg = (f"the rule's condition never holds while a requirement it names ({named}) applies, "
                       "so its effect never applies")
            out.append(Diagnostic("ruleset_unreachable_rule", "warning", msg, rule.file, rule.line, rule.id))
        return out

    def shadowed(self) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        verdicts: dict[str, list[Any]] = {}  # rule id -> [live pairs, shadowed pairs, shadowing rule ids]
        for seg in self.segments:
            for rule in seg.rules:
                kind = rule.effect.kind
                if kind not in (EffectKind.SATISFIES, EffectKind.REFERS):
                    continue
                state = verdicts.setdefault(rule.id, [0, 0, []])
                for q in self.reqs_named(rule, seg):
                    if not self.live(rule, q, seg):
                        continue
                    state[0] += 1
                    stronger = [
                        r for r in seg.rules
                        if r.id != rule.id and q.id in r.requirements
                        and (r.effect.kind is EffectKind.FAILS
                             or (kind is EffectKind.REFERS and r.effect.kind is EffectKind.SATISFIES))
                    ]
                    if not stronger:
                        continue
                    key = ("shadow", rule.id, id(q), tuple(sorted(r.id for r in stronger)))
                    if not self.sat(key, seg, rule.when, q.when, Not(AnyOf(tuple(r.when for r in stronger)))):
                        state[1] += 1
                        for r in self.cover(rule, q, seg, stronger):
                            if r.id not in state[2]:
                                state[2].append(r.id)
        for rule_id, (live, shadow, by) in verdicts.items():
            if live and live == shadow:
                rule = self.rules[rule_id]
                beaten = "failed" if all(self.rules[b].effect.kind is EffectKind.FAILS for b in by) else "decided"
                msg = (f"whenever this {rule.effect.kind.value} rule fires, its requirement is {beaten} by "
                       f"{', '.join(by)}, so it never decides anything")
                out.append(Diagnostic("ruleset_shadowed_rule", "warning", msg, rule.file, rule.line, rule.id))
        return out

    def contradictions(self) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        done: set[tuple[str, str]] = set()
        for seg in self.segments:
            for q in self.reqs(seg):
                on_q = [r for r in seg.rules if q.id in r.requirements]
                sats = [r for r in on_q if r.effect.kind is EffectKind.SATISFIES]
                fails = [r for r in on_q if r.effect.kind is EffectKind.FAILS]
                for s in sats:
                    for f in fails:
                        pair = (s.id, f.id)
                        if pair in done or self.facts(s.when) != self.facts(f.when):
                            continue
                        if self.sat(("both", s.id, f.id, id(q)), seg, s.when, f.when, q.when):
                            done.add(pair)
                            later, other = (f, s) if f.order > s.order else (s, f)
                            msg = (f"this {later.effect.kind.value} rule and {other.effect.kind.value} rule "
                                   f"{other.id} ({other.file}:{other.line}) read the same facts and both fire "
                                   f"for some requests, giving requirement '{q.id}' opposite answers")
                            out.append(Diagnostic("ruleset_contradiction", "error", msg, later.file, later.line, later.id))
        return out

    def gaps(self) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        timelines: dict[Stage, list[Segment]] = {}
        for seg in self.segments:
            if getattr(seg, "scope", None) is None:  # national law only
                timelines.setdefault(seg.stage, []).append(seg)
        for stage, segs in timelines.items():
            vires = stage is Stage.VIRES
            if not vires and not any(s.requirements for s in segs):
                # A stage that declares no requirement is simply never engaged: only
                # stage 1 must always have one.
                continue
            empty = [s for s in segs if not s.requirements]
            if not vires:
                empty = [s for s in empty if not self._explained(s, segs)]
            for start, end in _ranges(empty):
                file, line = self._gap_location(stage, segs, start, end)
                if vires:
                    msg = (f"stage {stage.value} has no requirement in force from {_fmt(start, end)}: "
                           "every request on those days fails closed (no power can be found)")
                    severity: Severity = "error"
                else:
                    msg = (f"stage {stage.value} has no requirement in force from {_fmt(start, end)}: "
                           "the stage is not engaged for any request on those days")
                    severity = "warning"
                out.append(Diagnostic("ruleset_date_gap", severity, msg, file, line))
            # (b) requirements nobody can meet
            unmeetable: dict[int, tuple[Requirement, list[Segment]]] = {}
            for seg in segs:
                for q in seg.requirements:
                    if not self.sat(("active", id(q)), seg, q.when):
                        continue  # never active: it decides nothing
                    if any(
                        r.effect.kind is EffectKind.SATISFIES and q.id in r.requirements and self.live(r, q, seg)
                        for r in seg.rules
                    ):
                        continue
                    unmeetable.setdefault(id(q), (q, []))[1].append(seg)
            for q, qsegs in unmeetable.values():
                for start, end in _ranges(qsegs):
                    msg = (f"requirement '{q.id}' is in force from {_fmt(start, end)} but no rule that could "
                           "satisfy it is: every request it applies to fails the stage")
                    out.append(Diagnostic("ruleset_date_gap", "error", msg, q.file, q.line))
        return out

    def _explained(self, seg: Segment, segs: list[Segment]) -> bool:
        """A later stage's gap is deliberate when a rule naming no requirement fires for
        every request on those days and is in force only on days without a requirement
        (e.g. a note that the Act was not yet in force)."""
        with_reqs = {r.id for s in segs if s.requirements for r in s.rules}
        return any(
            not r.requirements and r.id not in with_reqs
            and not self.sat(("always", r.id), seg, Not(r.when))
            for r in seg.rules
        )

    def _gap_location(self, stage: Stage, segs: list[Segment], start: date, end: date | None) -> tuple[str | None, int | None]:
        """Where to report a gap in a stage's timeline: the requirement whose dates end just
        before it, else the one whose dates begin just after it, else the stage's file in
        force then (line 1)."""
        windows = []
        seen: list[Requirement] = []
        for seg in segs:
            for q in seg.requirements:
                if any(q is x for x in seen):
                    continue
                seen.append(q)
                lo, hi = q.in_force.start, q.in_force.end
                outer = self.bundle.file_windows.get(q.file)
                if outer is not None:
                    lo = max(lo, outer.start)
                    hi = outer.end if hi is None else (hi if outer.end is None else min(hi, outer.end))
                windows.append((lo, hi, q))
        before = [w for w in windows if w[1] is not None and w[1] < start]
        if before:
            q = max(before, key=lambda w: w[1] or w[0])[2]  # w[1] is not None: filtered above
            return q.file, q.line
        after = [w for w in windows if end is not None and w[0] > end]
        if after:
            q = min(after, key=lambda w: w[0])[2]
            return q.file, q.line
        covering = [f for f in self.bundle.files if f.model.stage is stage and f.model.in_force.covers(start)]
        if covering:
            return covering[0].path, 1
        return None, None

    def not_in_scope(self) -> list[Diagnostic]:
        out = []
        for rule in self.bundle.rules.values():
            ends = [e for e in (rule.in_force.end, getattr(self.bundle.file_windows.get(rule.file), "end", None)) if e]
            if ends and min(ends) < SCOPE_START:
                msg = f"the rule is in force only before {SCOPE_START.isoformat()}, a day no request can be made for"
                out.append(Diagnostic("ruleset_unreachable_rule", "warning", msg, rule.file, rule.line, rule.id))
        return out


def all_segments(bundle: Bundle) -> list[Segment]:
    """Every (stage, index) segment of the bundle."""
    return [
        bundle.segment_at(stage, index)
        for stage in Stage
        for index in range(len(bundle.boundaries_of(stage)) + 1)
    ]


def analyse(
    bundle: Bundle,
    *,
    segments: Iterable[Segment] | None = None,
    domains: DomainsArg = None,
) -> list[Diagnostic]:
    """Static checks over ``segments`` (default: every segment of ``bundle``).

    ``domains`` gives each fact's possible values: a mapping, or a function of the
    segment (for segments whose rules read facts beyond the national vocabulary); the
    default is ``solver.national_domains()``. Sorted by (file, line, code).
    """
    segs = all_segments(bundle) if segments is None else list(segments)
    checker = _Checker(bundle, segs, domains)
    found = checker.unreachable() + checker.shadowed() + checker.contradictions() + checker.gaps()
    if segments is None:
        found += checker.not_in_scope()
    return sorted(found, key=lambda d: (d.file or "", d.line or 0, d.code, d.message))
