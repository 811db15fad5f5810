"""``sharelaw prove``: the invariants, over every distinguishable request, or a counterexample.

The abstraction (stated in every report). The facts are finite (rules/facts.py) and a
decision depends on a request only through the facts the rules read. On each date
segment (the days between two changes of any rule, requirement, protocol or partner
signature), the prover splits the space of requests into *classes*: it branches on a
fact only where some condition of the stage being decided is still undetermined, and
only into the two sets of values that condition tells apart. Inside a class every
condition of every stage has one value, so every request in it gets the same decision;
one representative is decided with the engine's own combination code. Facts no rule
reads are left free. The classes partition the space of *valid* requests exactly
(``sharing_kind`` follows the purpose; consent, risk and data categories are constrained
as the request model constrains them), and the report checks that the classes add up to
the whole space. With protocols, the parties are drawn from each protocol's signed
partners (kinds as listed, purposes and actions it covers) and every class is decided
twice: with the protocol and under national law alone.

Invariants (each violation comes with a real request that shows it, confirmed by
deciding it through the public ``Engine``):

- ``no_power_no_sharing``: a public authority never shares without a stage-1 power;
- ``consent_refused_not_a_basis``: refused or withdrawn consent is never what a
  requirement rests on (rules whose basis is consent have "consent" in their id);
- ``special_category_needs_condition``: identifiable special category data is never
  shared unless a special-category condition of stage 4 is met;
- ``exemption_not_a_basis``: no exemption rule (".exemption" in its id) satisfies anything;
- ``protocol_only_narrows``: with a protocol the outcome is never more permissive than
  under national law alone (must_not_share < refer < may_share < must_share), a duty to
  share is never reduced, and no condition is dropped;
- ``decided``: every class gets an outcome (no internal error);
- ``outcomes_reachable``: each of the four outcomes occurs for some request.

Where a segment has more than ``max_classes`` classes, or enumerating it takes longer
than ``budget`` seconds, enumeration stops and the segment is also searched with
hypothesis (``examples`` requests drawn from the whole valid space, decided through the
public Engine, a counterexample shrunk): the report then says the segment was
*searched*, not *proved*, and how much of its space the enumeration covered. The
national space is about 10^17 valid fact combinations per segment, too many to exhaust
this way; a small protocol, or a rule set under test, often is exhausted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from ..engine.combine import (
    bases as _bases, combine as _combine, conditions as _conditions, establish as _establish, practices_yielding,
)
from ..engine.stages import Engine
from ..law.eras import SCOPE_START
from ..rules.bundle import Bundle, Segment, default_ruleset_dir
from ..rules.facts import FACTS
from ..rules.model import All, AnyOf, Cond, In, Not, Protocol, Rule, facts_in
from ..rules.reference import predicate
from .solver import VALIDITY_PARTS
from ..vocab import (
    PURPOSE_KIND,
    Purpose,
    BasisKind,
    DataCategory,
    EffectKind,
    Outcome,
    Stage,
    StageStatus,
    STAGE_ORDER,
)

INVARIANTS = (
    "no_power_no_sharing",
    "consent_refused_not_a_basis",
    "special_category_needs_condition",
    "exemption_not_a_basis",
    "protocol_only_narrows",
    "decided",
    "outcomes_reachable",
)
RANK = {Outcome.MUST_NOT_SHARE: 0, Outcome.REFER: 1, Outcome.MAY_SHARE: 2, Outcome.MUST_SHARE: 3}
_SPECIAL_COMMON = ("health", "mental_health", "sexual_health", "ethnic_origin", "religious_belief", "sex_life_orientation")
#: Special category data by era: "sensitive personal data" under DPA 1998 s2 included offences and not
#: genetic or biometric data; GDPR Art 9 (and DPA 2018 s35(8)) the reverse (offences are Art 10).
GDPR_START = date(2018, 5, 25)



if TYPE_CHECKING:
    from ..decision import Decision

#: The values each fact can still take.
Dom = dict[str, frozenset[Any]]

def special_categories(day: date) -> tuple[str, ...]:
    return _SPECIAL_COMMON + (("genetic_biometric",) if day >= GDPR_START else ("criminal_offence",))

SPECIAL_REQUIREMENTS = {"art9_condition", "sch3_condition", "part3_sensitive"}
ESTABLISHED = {name for name, spec in FACTS.items() if spec.from_stage is not Stage.VIRES}
_DATA = tuple(f"data.{c.value}" for c in DataCategory)
AGES = {"under_13": 9, "13_to_15": 14, "16_to_17": 17, "18_plus": 40, "unknown": "unknown"}
#: The practitioner's judgements a request records (every ``assessment.*`` fact).
JUDGEMENTS = tuple(name.removeprefix("assessment.") for name in FACTS if name.startswith("assessment."))


# ---------------------------------------------------------------------- three-valued logic


def _rewrite(cond: Cond) -> Cond:
    """``sharing_kind`` is a function of ``purpose``: read it as a condition on the purpose."""
    if isinstance(cond, In) and cond.fact == "sharing_kind":
        purposes = tuple(p.value for p, kind in PURPOSE_KIND.items() if kind.value in cond.values)
        return In("purpose", purposes or ("__none__",), cond.negated)
    if isinstance(cond, Not):
        return Not(_rewrite(cond.item))
    if isinstance(cond, (All, AnyOf)):
        return type(cond)(tuple(_rewrite(c) for c in cond.items))
    return cond


def _ev(cond: Cond, dom: Dom) -> bool | None:
    if isinstance(cond, In):
        d = dom[cond.fact]
        vals = cond.values
        inside = sum(1 for v in d if v in vals)
        if inside == 0:
            return cond.negated
        if inside == len(d):
            return not cond.negated
        return None
    if isinstance(cond, All):
        out: bool | None = True
        for c in cond.items:
            v = _ev(c, dom)
            if v is False:
                return False
            if v is None:
                out = None
        return out
    if isinstance(cond, AnyOf):
        out = False
        for c in cond.items:
            v = _ev(c, dom)
            if v is True:
                return True
            if v is None:
                out = None
        return out
    if isinstance(cond, Not):
        v = _ev(cond.item, dom)
        return None if v is None else not v
    return cond.value  # Const


def _open_leaf(cond: Cond, dom: Dom) -> In | None:
    """An undetermined leaf of an undetermined condition (the fact to split on)."""
    if isinstance(cond, In):
        return cond if _ev(cond, dom) is None else None
    if isinstance(cond, Not):
        return _open_leaf(cond.item, dom)
    if isinstance(cond, (All, AnyOf)):
        for c in cond.items:
            if _ev(c, dom) is None:
                return _open_leaf(c, dom)
    return None


# ---------------------------------------------------------------------- validity groups


@dataclass(frozen=True)
class _Group:
    facts: tuple[str, ...]
    valid: Callable[[tuple[Any, ...]], bool]


def _group_of(part: Cond) -> _Group:
    """A validity constraint of the solver (``solver.VALIDITY_PARTS``) as a group of facts."""
    names = tuple(sorted(facts_in(part)))
    if set(names) == set(_DATA):
        names = _DATA  # the data categories keep their vocabulary order (see _group_count)
    test = predicate(part)
    return _Group(names, lambda t: test(dict(zip(names, t))))


#: The request model's constraints between facts, from the one place that states them as
#: conditions; ``sharing_kind`` (the first part) is handled by reading it as the purpose.
BASE_GROUPS = tuple(_group_of(part) for part in VALIDITY_PARTS if "sharing_kind" not in facts_in(part))


def _group_count(g: _Group, dom: Dom) -> int:
    if g.facts == _DATA:  # at least one category: all minus all-false
        total = 1
        for f in g.facts:
            total *= len(dom[f])
        return total - (1 if all(False in dom[f] for f in g.facts) else 0)
    return sum(1 for t in itertools.product(*(sorted(dom[f], key=str) for f in g.facts)) if g.valid(t))


def _group_pick(g: _Group, dom: Dom) -> tuple[Any, ...] | None:
    if g.facts == _DATA:
        pick = [True if True in dom[f] else False for f in g.facts]
        return tuple(pick) if any(pick) else None
    return next((t for t in itertools.product(*(sorted(dom[f], key=str) for f in g.facts)) if g.valid(t)), None)


# ---------------------------------------------------------------------- worlds and results


@dataclass(frozen=True)
class _World:
    """What the later stages and the invariants need to know of the stages decided so far."""

    protocol: Protocol | None
    covered: bool
    established: tuple[Any, ...] = ()  # sorted (fact, value) pairs
    stopped: bool = False
    fail_seen: bool = False
    refer_seen: bool = False
    conditions: frozenset[str] = frozenset()
    special_met: bool = False

    @property
    def facts(self) -> dict[str, object]:
        return dict(self.established)


@dataclass
class _Summary:
    classes: int = 0
    covered: int = 0
    outcomes: set[str] = field(default_factory=set)
    violations: list[Any] = field(default_factory=list)  # (invariant, message, protocol, facts)


@dataclass
class Violation:
    invariant: str
    segment: str
    message: str
    request: dict[str, Any] | None = None
    confirmed: bool | None = None


@dataclass
class SegmentReport:
    label: str
    start: date
    end: date | None
    protocol: str | None
    classes: int = 0
    covered: int = 0
    space: int = 0
    mode: str = "proved"  # or "searched"
    examples: int = 0
    seconds: float = 0.0


@dataclass
class ProofResult:
    bundle_hash: str
    segments: list[SegmentReport] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    outcomes: set[str] = field(default_factory=set)
    seconds: float = 0.0
    partial: bool = False  # only some date segments (--as-at)

    @property
    def ok(self) -> bool:
        return not self.violations

    def status(self) -> dict[str, str]:
        failed = {v.invariant for v in self.violations}
        out = {inv: ("FAILED" if inv in failed else "holds") for inv in INVARIANTS}
        if self.partial and out["outcomes_reachable"] == "holds":
            out["outcomes_reachable"] = "not checked (only some dates)"
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "bundle_hash": self.bundle_hash,
            "abstraction": __doc__.split("The abstraction (stated in every report). ")[1].split("\n\n")[0].replace("\n", " "),
            "invariants": self.status(),
            "outcomes_reached": sorted(self.outcomes),
            "segments": [s.__dict__ | {"start": s.start.isoformat(), "end": s.end.isoformat() if s.end else None}
                         for s in self.segments],
            "classes": sum(s.classes for s in self.segments),
            "requests_covered": sum(s.covered for s in self.segments),
            "seconds": round(self.seconds, 2),
            "violations": [v.__dict__ for v in self.violations],
        }

    def text(self) -> str:
        out = [f"rules {self.bundle_hash[:19]}"]
        national = [s for s in self.segments if s.protocol is None]
        local = [s for s in self.segments if s.protocol is not None]
        for name, group in (("national law", national), ("with protocols", local)):
            if not group:
                continue
            proved = [s for s in group if s.mode == "proved"]
            searched = [s for s in group if s.mode != "proved"]
            out.append(f"{name}: {len(group)} date segment(s) in {sum(s.seconds for s in group):.1f}s")
            if proved:
                out.append(
                    f"  {len(proved)} proved exhaustively: {sum(s.classes for s in proved):,} request classes covering "
                    f"all {_sci(sum(s.space for s in proved))} valid fact combinations"
                )
            if searched:
                covered = sum(s.covered for s in searched)
                space = sum(s.space for s in searched)
                out.append(
                    f"  {len(searched)} too large to exhaust ({_sci(space)} valid fact combinations): enumerated "
                    f"{sum(s.classes for s in searched):,} classes covering {_sci(covered)} ({covered / space:.1e} of "
                    f"the space), then searched with {sum(s.examples for s in searched):,} hypothesis examples"
                )
        for inv, state in self.status().items():
            out.append(f"  {inv:36} {state}")
        out.append(f"  outcomes reached: {', '.join(sorted(self.outcomes))}")
        shown: dict[str, int] = {}
        for v in self.violations:
            shown[v.invariant] = shown.get(v.invariant, 0) + 1
            if shown[v.invariant] > 3:
                continue
            out.append("")
            out.append(f"COUNTEREXAMPLE {v.invariant} ({v.segment}): {v.message}")
            if v.request is not None:
                out.append("  request: " + json.dumps(v.request, sort_keys=True))
                if v.confirmed is not None:
                    out.append("  confirmed by deciding it through the Engine: " + ("yes" if v.confirmed else "NO"))
        extra = sum(max(0, n - 3) for n in shown.values())
        if extra:
            out.append(f"... and {extra} more counterexample(s) (--format json lists them all)")
        bounded = [s for s in self.segments if s.mode != "proved"]
        if not self.ok:
            verdict = "FAILED"
        elif bounded:
            verdict = (f"HOLD within the stated bounds ({len(bounded)} of {len(self.segments)} segment(s) searched, "
                       "not exhausted)")
        else:
            verdict = "PROVED exhaustively"
        out.append(f"{verdict}: {len(INVARIANTS)} invariants in {self.seconds:.1f}s")
        return "\n".join(out) + "\n"


def _sci(n: int) -> str:
    return f"{n:.2e}" if n >= 1e6 else str(n)


# ---------------------------------------------------------------------- the prover


class _Prover:
    def __init__(self, bundle: Bundle, max_classes: int, budget: float = 60.0, examples: int = 1000) -> None:
        self.bundle = bundle
        self.max_classes = max_classes
        self.budget = budget
        self.examples = examples
        self.engine = Engine(bundle, evaluator="reference", guard_protocols=False)
        self._rewritten: dict[str, Cond] = {}
        self._preds: dict[str, Callable[..., Any]] = {}

    # conditions of a stage, for a world
    def _cond(self, key: str, cond: Cond) -> Cond:
        found = self._rewritten.get(key)
        if found is None:
            found = self._rewritten[key] = _rewrite(cond)
        return found

    def _stage_items(self, day: date, stage: Stage, world: _World) -> tuple[Segment, Segment | None, list[Cond]]:
        seg = self.bundle.segment(stage, day)
        conds = [self._cond(r.id, r.when) for r in seg.rules]
        conds += [self._cond(f"rq:{rq.file}:{rq.id}", rq.when) for rq in seg.requirements]
        pseg = None
        if world.protocol is not None and world.covered:
            pseg = self.bundle.protocol_segment(world.protocol.id, stage, day)
            conds += [self._cond(r.id, r.when) for r in pseg.rules]
        return seg, pseg, conds

    def run_segment(self, rep: SegmentReport, day: date, protocol: Protocol | None, result: ProofResult) -> None:
        started = time.perf_counter()
        dom, groups = self._root(day, protocol)
        self.groups = groups
        self.day = day
        self._memo: dict[tuple[Any, ...], _Summary] = {}
        self._classes = 0
        self._gave_up = False
        self._deadline = started + self.budget
        self._relevant = self._relevance(day, protocol, groups)
        rep.space = self._count(dom, groups, set(dom))
        worlds = (_World(None, False),) + ((_World(protocol, True),) if protocol is not None else ())
        summary = self._explore(dom, 0, worlds)
        rep.classes = summary.classes
        rep.covered = summary.covered * self._count(dom, groups, set(dom) - self._relevant[0])
        rep.mode = "searched" if self._gave_up else "proved"
        result.outcomes |= summary.outcomes
        base = self._representative(dom, groups)
        kept: dict[str, int] = {}
        for inv, msg, prot, facts in summary.violations:
            kept[inv] = kept.get(inv, 0) + 1
            if kept[inv] > 5:  # a few counterexamples per invariant and segment are enough
                continue
            full = {**base, **facts}
            request = _request(full, day, prot)
            result.violations.append(Violation(inv, rep.label, msg, request, self._confirm(request, prot, msg)))
        rep.seconds = time.perf_counter() - started

    def _relevance(self, day: date, protocol: Protocol | None, groups: list[_Group]) -> list[set[str]]:
        """For each phase, the facts that the stages from it onwards (or the final checks) read."""
        leaf = {"discloser.public_authority", "data.identifiability", *_DATA}
        out: list[set[str]] = []
        later: set[str] = set(leaf)
        for stage in reversed(STAGE_ORDER):
            seg = self.bundle.segment(stage, day)
            conds = [r.when for r in seg.rules] + [rq.when for rq in seg.requirements]
            if protocol is not None:
                conds += [r.when for r in self.bundle.protocol_segment(protocol.id, stage, day).rules]
            for c in conds:
                later |= {f for f in facts_in(_rewrite(c)) if f not in ESTABLISHED}
            closed = set(later)
            for g in groups:
                if closed & set(g.facts):
                    closed |= set(g.facts)
            out.append(closed)
        return list(reversed(out)) + [set(leaf) | {f for g in groups if set(g.facts) & leaf for f in g.facts}]

    def _root(self, day: date, protocol: Protocol | None) -> tuple[Dom, list[_Group]]:
        dom: Dom = {}
        for name, spec in FACTS.items():
            if name in ESTABLISHED or name == "sharing_kind":
                continue
            dom[name] = frozenset((False, True)) if spec.is_bool else frozenset(spec.values or ())
        groups = list(BASE_GROUPS)
        if protocol is not None:
            signed = [p for p in protocol.partners if p.signed_on(day)]
            ids = frozenset(p.id for p in signed)
            dom["partner.discloser"] = ids
            dom["partner.recipient"] = ids
            dom["purpose"] = dom["purpose"] & frozenset(protocol.purposes)
            dom["interaction"] = dom["interaction"] & frozenset(protocol.interactions)
            kinds = {p.id: {k.value for k in p.kinds} for p in signed}
            groups.append(_Group(
                ("partner.discloser", "partner.recipient", "discloser.kind", "recipient.kind", "same_legal_entity"),
                lambda t, kinds=kinds: t[2] in kinds[t[0]]  # type: ignore[misc]
                and t[3] in kinds[t[1]] and t[4] == (t[0] == t[1]),
            ))
        return dom, groups

    def _count(self, dom: Dom, groups: list[_Group], facts: set[str]) -> int:
        """Valid fact combinations over ``facts`` (groups are wholly in or out)."""
        grouped = {f for g in groups for f in g.facts}
        total = 1
        for f in facts:
            if f not in grouped:
                total *= len(dom[f])
        for g in groups:
            if set(g.facts) <= facts:
                total *= _group_count(g, dom)
        return total

    def _feasible(self, dom: Dom) -> bool:
        return all(_group_pick(g, dom) is not None for g in self.groups)

    def _explore(self, dom: Dom, phase: int, worlds: tuple[_World, ...]) -> _Summary:
        relevant = self._relevant[phase]
        key = (phase, tuple((f, dom[f]) for f in sorted(relevant)), worlds)
        found = self._memo.get(key)
        if found is not None:
            return found
        if phase == len(STAGE_ORDER):
            summary = self._leaf(dom, worlds)
            self._memo[key] = summary
            return summary
        # The time budget bounds the enumeration, but every segment decides at least one
        # class first (on a slow or busy machine the budget could otherwise run out before
        # any class is decided, and the report would claim nothing was covered).
        if self._classes >= self.max_classes or (self._classes > 0 and time.perf_counter() > self._deadline):
            self._gave_up = True
            return _Summary()
        stage = STAGE_ORDER[phase]
        items: list[tuple[Segment, Segment | None] | None] = []
        for w in worlds:
            if w.stopped:
                items.append(None)
                continue
            seg, pseg, conds = self._stage_items(self.day, stage, w)
            overlay = {**dom, **{k: frozenset((v,)) for k, v in w.established}}
            for c in conds:
                if _ev(c, overlay) is None:
                    leaf = _open_leaf(c, overlay)
                    assert leaf is not None  # an open condition has an open leaf
                    vals = frozenset(leaf.values)
                    summary = _Summary()
                    for part in (dom[leaf.fact] & vals, dom[leaf.fact] - vals):
                        sub = {**dom, leaf.fact: part}
                        if self._feasible(sub):
                            child = self._explore(sub, phase, worlds)
                            summary.classes += child.classes
                            summary.covered += child.covered
                            summary.outcomes |= child.outcomes
                            summary.violations += child.violations
                    self._memo[key] = summary
                    return summary
            items.append((seg, pseg))
        # every condition of this stage is determined: decide it in each world
        rep_facts = self._representative(dom, self.groups)
        new_worlds = []
        found_violations = []
        for w, item in zip(worlds, items):
            if item is None:
                new_worlds.append(w)
                continue
            seg, pseg = item
            facts = {**rep_facts, **w.facts}
            fired = [r for r in seg.rules if self._pred(r)(facts)]
            requirements = list(seg.requirement_tests)
            practices = []
            if pseg is not None:
                requirements += list(pseg.requirement_tests)
                practices = [r for r in pseg.rules if self._pred(r)(facts)]
            yielded = practices_yielding(practices, facts)
            run = _combine(seg, requirements, fired + practices, facts, yielded)
            established = dict(facts)
            _establish(run, established)
            where = f" with {w.protocol.id}" if w.protocol else ""
            satisfied = [i for rq in run.requirements for i in rq.satisfied_by]
            refused = dom["consent.state"] & {"refused", "withdrawn"}
            relied = [i for i in satisfied if "consent" in i]
            if refused and relied:
                found_violations.append(("consent_refused_not_a_basis",
                                         f"consent refused or withdrawn, yet {relied} met a requirement{where}",
                                         w.protocol, {"consent.state": min(refused)}))
            exempt = [i for i in satisfied if ".exemption" in i]
            if exempt:
                found_violations.append(("exemption_not_a_basis", f"{exempt} met a requirement{where}", w.protocol, {}))
            covered = w.covered
            if stage is Stage.VIRES and w.protocol is not None and run.status is not StageStatus.FAIL:
                bases = {b.rule_id for b in _bases(run)}
                if bases and not bases & {ref.rule for ref in w.protocol.powers}:
                    covered = False
            new_worlds.append(_World(
                protocol=w.protocol,
                covered=covered,
                established=tuple(sorted((k, v) for k, v in established.items() if k in ESTABLISHED)),
                stopped=stage is Stage.VIRES and run.status is StageStatus.FAIL,
                fail_seen=w.fail_seen or run.status is StageStatus.FAIL,
                refer_seen=w.refer_seen or run.status is StageStatus.REFER,
                conditions=w.conditions | {c.code for c in _conditions(Outcome.MAY_SHARE, [run])},
                special_met=w.special_met or (stage is Stage.DATA_PROTECTION and any(
                    rq.id in SPECIAL_REQUIREMENTS and rq.status == "met" for rq in run.requirements)),
            ))
        child = self._explore(dom, phase + 1, tuple(new_worlds))
        dropped = self._relevant[phase] - self._relevant[phase + 1]
        scale = self._count(dom, self.groups, dropped) if dropped else 1
        fill = {f: rep_facts[f] for f in dropped}
        summary = _Summary(
            classes=child.classes,
            covered=child.covered * scale,
            outcomes=set(child.outcomes),
            violations=[(i, m, p, {**fill, **f}) for i, m, p, f in child.violations]
            + [(i, m, p, {**fill, **{k: rep_facts[k] for k in self._relevant[phase + 1]}, **f})
               for i, m, p, f in found_violations],
        )
        self._memo[key] = summary
        return summary

    def _pred(self, rule: Rule) -> Callable[[Mapping[str, object]], bool]:
        found = self._preds.get(rule.id)
        if found is None:
            found = self._preds[rule.id] = predicate(rule.when)
        return found

    def _representative(self, dom: Dom, groups: list[_Group]) -> dict[str, object]:
        facts: dict[str, object] = {f: min(v, key=str) for f, v in dom.items()}
        for g in groups:
            for f, v in zip(g.facts, _group_pick(g, dom) or ()):
                facts[f] = v
        facts["sharing_kind"] = _kind_of(str(facts["purpose"]))
        return facts

    # ------------------------------------------------------------------ a class decided

    def _leaf(self, dom: Dom, worlds: tuple[_World, ...]) -> _Summary:
        self._classes += 1
        facts = self._representative(dom, self.groups)
        out = _Summary(classes=1, covered=self._count(dom, self.groups, self._relevant[len(STAGE_ORDER)]))
        decided = [(self._outcome(w), w) for w in worlds]
        national, n_world = decided[0]
        out.outcomes.add(national.value)
        keep = {f: facts[f] for f in self._relevant[len(STAGE_ORDER)]}

        def violation(inv: str, msg: str, protocol: Protocol | None) -> None:
            out.violations.append((inv, msg, protocol, dict(keep)))

        # The checks are existential over the class: the facts no condition of this class
        # decided may take any value in their set, so a violation is looked for among them all.
        public = True in dom["discloser.public_authority"]
        personal = dom["data.identifiability"] & {"identifiable", "pseudonymised"}
        special = [c for c in special_categories(self.day) if True in dom[f"data.{c}"]]
        for outcome, w in decided:
            shares = outcome in (Outcome.MAY_SHARE, Outcome.MUST_SHARE)
            where = f" with {w.protocol.id}" if w.protocol else ""
            est = w.facts
            if shares and public and (
                est.get("vires.status") != StageStatus.PASS.value or est.get("vires.basis") == BasisKind.NONE.value
            ):
                keep["discloser.public_authority"] = True
                violation("no_power_no_sharing", f"a public authority gets {outcome.value}{where} without a stage-1 power", w.protocol)
            if shares and personal and special and not w.special_met:
                keep["data.identifiability"] = min(personal)
                keep[f"data.{special[0]}"] = True
                violation("special_category_needs_condition",
                          f"special category data ({special[0]}) gets {outcome.value}{where} with no special-category "
                          "condition met", w.protocol)
        for outcome, w in decided[1:]:
            assert w.protocol is not None  # the worlds after the first are the protocols'
            widened = RANK[outcome] > RANK[national] or (national is Outcome.MUST_SHARE and outcome is not Outcome.MUST_SHARE)
            if widened:
                violation("protocol_only_narrows",
                          f"national law alone gives {national.value}; with {w.protocol.id} it gives {outcome.value}", w.protocol)
            elif outcome is national and outcome is not Outcome.MUST_NOT_SHARE and n_world.conditions - w.conditions:
                violation("protocol_only_narrows",
                          f"with {w.protocol.id} the conditions {sorted(n_world.conditions - w.conditions)} are dropped", w.protocol)
        return out

    @staticmethod
    def _outcome(w: _World) -> Outcome:
        if w.fail_seen:
            return Outcome.MUST_NOT_SHARE
        if w.refer_seen:
            return Outcome.REFER
        if w.facts.get("vires.basis") == BasisKind.DUTY.value:
            return Outcome.MUST_SHARE
        return Outcome.MAY_SHARE

    def _confirm(self, request: dict[str, Any], protocol: Protocol | None, msg: str) -> bool | None:
        """Decide the counterexample through the public Engine (protocol guard off): is it real?"""
        try:
            got = self.engine.decide(request)
            national = self.engine.decide({**request, "protocols": []})
        except Exception:  # noqa: BLE001 - a counterexample the engine refuses is not confirmed
            return False
        if protocol is not None and "national law alone gives" in msg:
            return msg.endswith(f"gives {got.outcome.value}") and f"gives {national.outcome.value};" in msg
        return True


    # ------------------------------------------------------------------ bounded search

    def search(self, rep: SegmentReport, day: date, protocol: Protocol | None, result: ProofResult) -> None:
        """Where enumeration hit its bound: a hypothesis search of ``examples`` requests, decided
        through the public Engine, with the same invariants (a counterexample is shrunk)."""
        from hypothesis import HealthCheck, Phase, given, settings

        started = time.perf_counter()
        dom, groups = self._root(day, protocol)
        found: list[Violation] = []
        outcomes: set[str] = set()

        facts_in_space = _space_strategy(dom, groups)

        @settings(max_examples=self.examples, database=None, derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
        @given(facts_in_space)
        def holds(facts: dict[str, Any]) -> None:
            request = _request(facts, day, protocol)
            outcomes.add(self.engine.decide({**request, "protocols": []}).outcome.value)
            for inv, msg in self._check_decisions(request, protocol):
                found.append(Violation(inv, rep.label + " (search)", msg, request, True))
                raise AssertionError(msg)

        try:
            holds()
        except AssertionError:
            pass
        if found:
            result.violations.append(found[-1])  # the shrunk one
        result.outcomes |= outcomes
        rep.examples = self.examples
        rep.seconds += time.perf_counter() - started

    def reach(self, day: date, wanted: set[str], examples: int) -> set[str]:
        """Search national law on ``day`` for requests reaching the ``wanted`` outcomes; return those found."""
        from hypothesis import HealthCheck, Phase, given, settings

        dom, groups = self._root(day, None)
        facts_in_space = _space_strategy(dom, groups)
        found: set[str] = set()

        class _Done(Exception):
            pass

        @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        @given(facts_in_space)
        def look(facts: dict[str, Any]) -> None:
            outcome = self.engine.decide(_request(facts, day, None)).outcome.value
            if outcome in wanted:
                found.add(outcome)
                if found >= wanted:
                    raise _Done

        try:
            look()
        except _Done:
            pass
        return found

    def _check_decisions(self, request: dict[str, Any], protocol: Protocol | None) -> list[tuple[str, str]]:
        out = []
        try:
            national = self.engine.decide({**request, "protocols": []})
            decisions: list[tuple[Decision, Protocol | None]] = [(national, None)]
            if protocol is not None:
                decisions.append((self.engine.decide(request), protocol))
        except Exception as exc:  # noqa: BLE001
            return [("decided", f"no decision: {type(exc).__name__}: {exc}")]
        for d, prot in decisions:
            where = f" with {prot.id}" if prot else ""
            shares = d.outcome in (Outcome.MAY_SHARE, Outcome.MUST_SHARE)
            vires = d.stages[0]
            if shares and request["discloser"]["acts_as_public_authority"] and (
                vires.status is not StageStatus.PASS or not d.basis
            ):
                out.append(("no_power_no_sharing", f"a public authority gets {d.outcome.value}{where} without a stage-1 power"))
            satisfied = [i for st_ in d.stages for rq in st_.requirements for i in rq.satisfied_by]
            if request["consent"]["state"] in ("refused", "withdrawn") and [i for i in satisfied if "consent" in i]:
                out.append(("consent_refused_not_a_basis", f"refused or withdrawn consent met a requirement{where}"))
            if [i for i in satisfied if ".exemption" in i]:
                out.append(("exemption_not_a_basis", f"an exemption met a requirement{where}"))
            personal = request["data"]["identifiability"] in ("identifiable", "pseudonymised")
            if shares and personal and set(request["data"]["categories"]) & set(special_categories(d.as_at)):
                dp = d.stages[3]
                if not any(rq.id in SPECIAL_REQUIREMENTS and rq.status == "met" for rq in dp.requirements):
                    out.append(("special_category_needs_condition",
                                f"special category data gets {d.outcome.value}{where} with no special-category condition met"))
        if protocol is not None:
            with_p = decisions[1][0]
            if RANK[with_p.outcome] > RANK[national.outcome] or (
                national.outcome is Outcome.MUST_SHARE and with_p.outcome is not Outcome.MUST_SHARE
            ):
                out.append(("protocol_only_narrows",
                            f"national law alone gives {national.outcome.value}; with {protocol.id} it gives {with_p.outcome.value}"))
            elif with_p.outcome is national.outcome and {c.code for c in national.conditions} - {c.code for c in with_p.conditions}:
                out.append(("protocol_only_narrows", f"with {protocol.id} some conditions are dropped"))
        return out


def _space_strategy(dom: Dom, groups: list[_Group]) -> Any:
    """A hypothesis strategy for the valid fact vectors of a segment's space (uniform per fact
    or per validity group), each completed with the ``sharing_kind`` its purpose implies."""
    from hypothesis import strategies as st

    grouped = {f for g in groups for f in g.facts}
    choices = [
        (g.facts, [t for t in itertools.product(*(sorted(dom[f], key=str) for f in g.facts)) if g.valid(t)])
        for g in groups
    ]

    @st.composite
    def facts_in_space(draw: Any) -> dict[str, Any]:
        picked = {f: draw(st.sampled_from(sorted(v, key=str))) for f, v in dom.items() if f not in grouped}
        for names, valid in choices:
            picked.update(zip(names, draw(st.sampled_from(valid))))
        picked["sharing_kind"] = _kind_of(picked["purpose"])
        return picked

    return facts_in_space()


def _kind_of(purpose: str) -> str:
    return PURPOSE_KIND[Purpose(purpose)].value


def _request(facts: Mapping[str, Any], day: date, protocol: Protocol | None) -> dict[str, Any]:
    """A real request in the class whose representative facts are ``facts``."""
    def agency(role: str) -> dict[str, Any]:
        kind = facts[f"{role}.kind"]
        if protocol is not None:
            partner = next(p for p in protocol.partners if p.id == facts[f"partner.{role}"])
            entity = partner.legal_entity
        else:
            entity = "same-body" if facts["same_legal_entity"] else f"{role}-body"
        return {"kind": kind, "legal_entity": entity, "acts_as_public_authority": facts[f"{role}.public_authority"]}

    def judged(name: str) -> dict[str, str]:
        value = facts[f"assessment.{name}"]
        return {"value": value, "reason": "" if value == "not_assessed" else "recorded by the practitioner"}

    request: dict[str, Any] = {
        "as_at": day.isoformat(),
        "interaction": facts["interaction"],
        "discloser": agency("discloser"),
        "recipient": agency("recipient"),
        "subject": {"age": AGES[facts["subject.age_band"]], "adult_at_risk": facts["subject.adult_at_risk"],
                    "capacity": facts["subject.capacity"]},
        "purpose": facts["purpose"],
        "data": {"categories": [c.value for c in DataCategory if facts[f"data.{c.value}"]],
                 "identifiability": facts["data.identifiability"], "in_confidence": facts["data.in_confidence"],
                 "already_public": facts["data.already_public"],
                 "art89_safeguards": facts["data.art89_safeguards"]},
        "consent": {"state": facts["consent.state"], "given_by": facts["consent.given_by"]},
        "risk_of_harm": {"level": facts["risk.level"], "to": facts["risk.to"],
                         "other_person": facts["risk.other_person"]},
        "statutory_request": facts["statutory_request"],
        "assessment": {n: judged(n) for n in JUDGEMENTS},
        "protocols": [protocol.id] if protocol is not None else [],
    }
    return request


def _segments(bundle: Bundle, days: Iterable[date] | None) -> list[tuple[date, date | None]]:
    points = {d for d in bundle.boundaries() if d > SCOPE_START}
    for pid, p in bundle.protocols.items():
        for stage in Stage:
            points.update(d for d in bundle.protocol_boundaries(pid, stage) if d > SCOPE_START)
        for partner in p.partners:
            for d in (partner.signed, partner.withdrawn):
                if d is not None and d > SCOPE_START:
                    points.add(d)
    starts = [SCOPE_START, *sorted(points)]
    spans = [(s, (starts[i + 1] - timedelta(days=1)) if i + 1 < len(starts) else None) for i, s in enumerate(starts)]
    if days:
        wanted = list(days)
        spans = [sp for sp in spans if any(sp[0] <= d and (sp[1] is None or d <= sp[1]) for d in wanted)]
    return spans


class ProveUnavailable(ImportError):
    """``prove`` needs hypothesis, which ships in the ``prove`` extra (``pip install 'sharelaw[prove]'``)."""


def require_hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise ProveUnavailable(
            "sharelaw prove needs hypothesis for the date segments too large to enumerate: "
            "pip install 'sharelaw[prove]'") from None


@contextlib.contextmanager
def _hypothesis_home() -> Iterator[None]:
    """Hypothesis keeps a cache (and by default a database) in ./.hypothesis; ``prove`` must not
    write into the user's current directory, so for its run the home is the user's cache
    directory ($XDG_CACHE_HOME/sharelaw/hypothesis, default ~/.cache/...). The databases are
    off anyway (``database=None``): the search is derandomized, so a rerun finds the same."""
    import hypothesis.configuration as conf

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sharelaw" / "hypothesis"
    before = conf.__dict__.get("__hypothesis_home_directory")
    conf.set_hypothesis_home_dir(cache)
    try:
        yield
    finally:
        conf.set_hypothesis_home_dir(before)


def prove(paths: list[str | Path] | None = None, *, days: Iterable[date] | None = None,
          max_classes: int = 200_000, budget: float = 2.0, examples: int = 300,
          progress: Callable[[int, int, str], None] | None = None) -> ProofResult:
    """``progress(done, total, label)`` is called before each (segment, protocol) and at the end."""
    require_hypothesis()
    with _hypothesis_home():
        return _prove(paths, days=days, max_classes=max_classes, budget=budget, examples=examples,
                      progress=progress)


def _prove(paths: list[str | Path] | None, *, days: Iterable[date] | None, max_classes: int, budget: float,
           examples: int, progress: Callable[[int, int, str], None] | None) -> ProofResult:
    from .check import rule_files_under, with_national

    started = time.perf_counter()
    roots = [Path(p) for p in (paths or [])] or [default_ruleset_dir()]
    files, has_national = rule_files_under(roots)
    if not has_national:
        roots, files = with_national(roots, files)
    bundle = Bundle.load(*roots, only=set(files))
    prover = _Prover(bundle, max_classes, budget, examples)
    result = ProofResult(bundle.content_hash, partial=bool(days))
    jobs: list[tuple[date, date | None, str, Protocol | None]] = []
    for start, end in _segments(bundle, days):
        label = f"{start.isoformat()} to {end.isoformat() if end else 'now'}"
        worlds: list[Protocol | None] = [None]
        worlds += [p for p in bundle.protocols.values() if p.in_force.covers(start)
                   and any(x.signed_on(start) for x in p.partners)]
        jobs.extend((start, end, label, w) for w in worlds)
    for done, (start, end, label, protocol) in enumerate(jobs):
        if progress is not None:
            progress(done, len(jobs), label + (f" with {protocol.id}" if protocol else ""))
        rep = SegmentReport(label + (f" with {protocol.id}" if protocol else ""), start, end,
                            protocol.id if protocol else None)
        prover.run_segment(rep, start, protocol, result)
        if rep.mode == "searched":
            prover.search(rep, start, protocol, result)
        elif rep.covered != rep.space:
            result.violations.append(Violation(
                "decided", rep.label,
                f"the classes cover {rep.covered} of {rep.space} requests: the enumeration is not exhaustive"))
        result.segments.append(rep)
    missing = {o.value for o in Outcome} - result.outcomes
    if missing and not days:
        # Not met by the enumeration or the search: look for each missing outcome on purpose.
        for start, _ in reversed(_segments(bundle, None)):
            missing -= prover.reach(start, missing, examples * 20)
            if not missing:
                break
        result.outcomes |= {o.value for o in Outcome} - missing
    if progress is not None:
        progress(len(jobs), len(jobs), "done")
    if missing and not days:
        result.violations.append(Violation("outcomes_reachable", "all segments", f"no request reaches {sorted(missing)}"))
    result.seconds = time.perf_counter() - started
    return result
