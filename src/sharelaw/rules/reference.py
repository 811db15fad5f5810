"""The plain-Python reference evaluator: the differential oracle for the durable-rules engine.

It reads the same loaded rules and evaluates their conditions directly. It is also
used at run time to cross-check every decision (see engine/pipeline.py).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .bundle import Segment
from .model import All, AnyOf, Cond, Const, In, Not, Rule


def holds(cond: Cond, facts: Mapping[str, object]) -> bool:
    if isinstance(cond, In):
        value = facts[cond.fact]
        found = any(value == v and type(value) is type(v) for v in cond.values)
        return found != cond.negated
    if isinstance(cond, All):
        return all(holds(c, facts) for c in cond.items)
    if isinstance(cond, AnyOf):
        return any(holds(c, facts) for c in cond.items)
    if isinstance(cond, Not):
        return not holds(cond.item, facts)
    if isinstance(cond, Const):
        return cond.value
    raise TypeError(f"not a condition: {cond!r}")


def fire(rules: Sequence[Rule], facts: Mapping[str, object]) -> list[str]:
    """Ids of the rules whose conditions hold, in stage order (rules are pre-sorted)."""
    return [r.id for r in rules if holds(r.when, facts)]


class ReferenceEvaluator:
    """Evaluator interface over ``fire``: the same shape as engine.durable.DurableEvaluator."""

    name = "reference"

    def fire(self, segment: Segment, facts: Mapping[str, object]) -> list[str]:
        return fire(segment.rules, facts)

    def close(self) -> None:
        pass
