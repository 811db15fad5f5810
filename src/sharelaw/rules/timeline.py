"""The law's timeline: what came into force, ended or changed between two dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..vocab import Stage
from .bundle import Bundle
from .model import Requirement, Rule


@dataclass
class Change:
    kind: str  # "started" | "ended" | "changed"
    rule: Rule | None = None
    requirement: Requirement | None = None
    before: list[str] = field(default_factory=list)  # citation labels that applied before (changed only)
    after: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        if self.rule:
            return self.rule.id
        assert self.requirement is not None  # a change is of a rule or of a requirement
        return f"{self.requirement.stage.value}:{self.requirement.id}"


def _citations(rule: Rule, day: date) -> list[str]:
    return [c.label for c in rule.citations if c.applies_on(day)]


def _in_force(bundle: Bundle, day: date) -> list[Rule]:
    """National rules and protocol practices in force on ``day``."""
    rules = [r for s in Stage for r in bundle.segment(s, day).rules]
    rules += [r for pid in bundle.protocols for s in Stage for r in bundle.protocol_segment(pid, s, day).rules]
    return rules


def diff(bundle: Bundle, start: date, end: date) -> list[Change]:
    """Rules and requirements in force on ``end`` but not ``start`` (started), the reverse
    (ended), and rules in force on both whose applicable citations differ (changed)."""
    before = {r.id: r for r in _in_force(bundle, start)}
    after = {r.id: r for r in _in_force(bundle, end)}
    changes: list[Change] = []
    for rid, rule in after.items():
        if rid not in before:
            changes.append(Change("started", rule=rule))
        elif _citations(rule, start) != _citations(rule, end):
            changes.append(Change("changed", rule=rule, before=_citations(rule, start), after=_citations(rule, end)))
    changes.extend(Change("ended", rule=rule) for rid, rule in before.items() if rid not in after)
    req_before = {(s, q.id, q.file) for s in Stage for q in bundle.segment(s, start).requirements}
    for s in Stage:
        for q in bundle.segment(s, end).requirements:
            if (s, q.id, q.file) not in req_before:
                changes.append(Change("started", requirement=q))
    req_after = {(s, q.id, q.file) for s in Stage for q in bundle.segment(s, end).requirements}
    for s in Stage:
        for q in bundle.segment(s, start).requirements:
            if (s, q.id, q.file) not in req_after:
                changes.append(Change("ended", requirement=q))
    order = {"started": 0, "ended": 1, "changed": 2}
    changes.sort(key=lambda c: (order[c.kind], c.id))
    return changes
