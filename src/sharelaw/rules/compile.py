"""Compile loaded rules to durable-rules JSON rulesets (one per stage and date segment).

Conditions are put in negation normal form first (durable-rules has no ``not``), ``in``
becomes an ``$or`` of equalities, and each rule's ``pri`` is its position in the
stage's order, so the core returns fired rules in exactly that order. A catch-all rule
with the lowest priority always fires last: it keeps the core off its "no rule fired"
path, which can crash when the session is deleted (see shared/engine-notes.md).
"""

from __future__ import annotations

from typing import Iterable

from .model import All, AnyOf, Cond, Const, In, Not, Rule

MARKER = "f__"
CATCH_ALL = "zz_catch_all"
CATCH_ALL_PRI = 65000


def engine_key(fact: str) -> str:
    return fact.replace(".", "__")


def nnf(cond: Cond, negate: bool = False) -> Cond:
    """Push negation down to the leaves."""
    if isinstance(cond, Not):
        return nnf(cond.item, not negate)
    if isinstance(cond, Const):
        return Const(cond.value != negate)
    if isinstance(cond, In):
        return In(cond.fact, cond.values, cond.negated != negate) if negate else cond
    if isinstance(cond, All):
        items = tuple(nnf(c, negate) for c in cond.items)
        return AnyOf(items) if negate else All(items)
    if isinstance(cond, AnyOf):
        items = tuple(nnf(c, negate) for c in cond.items)
        return All(items) if negate else AnyOf(items)
    raise TypeError(f"not a condition: {cond!r}")


def _json(cond: Cond) -> dict:
    if isinstance(cond, Const):
        return {"$ex": {MARKER: 1}} if cond.value else {MARKER: 2}
    if isinstance(cond, In):
        key = engine_key(cond.fact)
        if cond.negated:
            tests = [{"$neq": {key: v}} for v in cond.values]
            return tests[0] if len(tests) == 1 else {"$and": tests}
        tests = [{key: v} for v in cond.values]
        return tests[0] if len(tests) == 1 else {"$or": tests}
    items = [_json(c) for c in cond.items]  # type: ignore[union-attr]
    if len(items) == 1:
        return items[0]
    return {"$and": items} if isinstance(cond, All) else {"$or": items}


def compile_condition(cond: Cond) -> dict:
    return _json(nnf(cond))


def compile_rules(rules: Iterable[Rule]) -> tuple[dict, list[str]]:
    """Return the durable-rules JSON ruleset and the rule ids by engine rule name index."""
    definition: dict[str, dict] = {}
    ids: list[str] = []
    for position, rule in enumerate(rules):
        definition[f"r{position}"] = {"pri": position, "all": [{"m": compile_condition(rule.when)}]}
        ids.append(rule.id)
    definition[CATCH_ALL] = {"pri": CATCH_ALL_PRI, "all": [{"m": {"$ex": {MARKER: 1}}}]}
    return definition, ids


def engine_fact(facts: dict[str, object], read: Iterable[tuple[str, str]]) -> dict[str, object]:
    """The fact asserted into the core: only the facts the rules read (``(name, key)`` pairs)."""
    fact = {key: facts[name] for name, key in read}
    fact[MARKER] = 1
    return fact
