"""Compile loaded rules to durable-rules JSON rulesets (one per stage and date segment).

Conditions are put in negation normal form first (durable-rules has no ``not``), ``in``
becomes an ``$or`` of equalities, and each rule's ``pri`` is its position in the
stage's order, so the core returns fired rules in exactly that order. A catch-all rule
with the lowest priority always fires last: it keeps the core off its "no rule fired"
path, which can crash when the session is deleted (see shared/engine-notes.md).
"""

from __future__ import annotations

from typing import Any, Iterable

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


def _json(cond: Cond) -> dict[str, Any]:
    if isinstance(cond, Const):
        return {"$ex": {MARKER: 1}} if cond.value else {MARKER: 2}
    if isinstance(cond, In):
        key = engine_key(cond.fact)
        if cond.negated:
            tests: list[dict[str, Any]] = [{"$neq": {key: v}} for v in cond.values]
            return tests[0] if len(tests) == 1 else {"$and": tests}
        alternatives: list[dict[str, Any]] = [{key: v} for v in cond.values]
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
    items = [_json(c) for c in cond.items]  # type: ignore[union-attr]
    if len(items) == 1:
        return items[0]
    return {"$and": items} if isinstance(cond, All) else {"$or": items}


def compile_condition(cond: Cond) -> dict[str, Any]:
    return _json(nnf(cond))


#: durable-rules refuses a rule whose condition has more than 31 expressions (error 113,
#: MAX_SEQUENCE_EXPRESSIONS). Counting every test and every $and/$or as one expression
#: keeps a margin below the core's own count.
EXPRESSION_LIMIT = 31


def _count(j: dict[str, Any]) -> int:
    items = j.get("$and") or j.get("$or")
    return 1 + sum(_count(i) for i in items) if isinstance(items, list) else 1


def _splittable(c: Cond) -> bool:
    return isinstance(c, AnyOf) or (isinstance(c, In) and not c.negated and len(c.values) > 1)


def _flat(cond: All) -> tuple[Cond, ...]:
    """The conjuncts of a conjunction, with nested conjunctions spliced in."""
    out: list[Cond] = []
    for c in cond.items:
        out.extend(_flat(c) if isinstance(c, All) else (c,))
    return tuple(out)


def pieces(cond: Cond) -> list[Cond]:
    """Split a condition (in negation normal form) into a disjunction of pieces that each fit
    within the core's expression limit. A rule fires when any piece matches, exactly as when
    its whole condition does; the pieces fire under one name and are collapsed into one firing.
    A condition that cannot be split is returned whole (the core then refuses it, and
    ``DurableEvaluator.prepare`` names the rule)."""
    if _count(_json(cond)) <= EXPRESSION_LIMIT:
        return [cond]
    if isinstance(cond, AnyOf):
        return [p for c in cond.items for p in pieces(c)]
    if isinstance(cond, All):
        items = _flat(cond)
        candidates = [i for i, c in enumerate(items) if _splittable(c)]
        if not candidates:
            return [cond]
        idx = max(candidates, key=lambda i: _count(_json(items[i])))
        chosen = items[idx]
        branches = chosen.items if isinstance(chosen, AnyOf) else tuple(In(chosen.fact, (v,)) for v in chosen.values)  # type: ignore[union-attr]  # a candidate is an AnyOf or a multi-valued In
        rest = items[:idx] + items[idx + 1 :]
        return [p for b in branches for p in pieces(All(rest + (b,)))]
    return [cond]


def compile_rules(rules: Iterable[Rule]) -> tuple[dict[str, Any], list[str]]:
    """Return the durable-rules JSON ruleset and the rule ids by engine rule name index.

    A rule is ``r<position>``; a rule too large for the core is split into pieces named
    ``r<position>_<k>`` with the same priority (see ``pieces``)."""
    definition: dict[str, dict[str, Any]] = {}
    ids: list[str] = []
    for position, rule in enumerate(rules):
        parts = pieces(nnf(rule.when))
        if len(parts) == 1:
            definition[f"r{position}"] = {"pri": position, "all": [{"m": _json(parts[0])}]}
        else:
            for k, part in enumerate(parts):
                definition[f"r{position}_{k}"] = {"pri": position, "all": [{"m": _json(part)}]}
        ids.append(rule.id)
    definition[CATCH_ALL] = {"pri": CATCH_ALL_PRI, "all": [{"m": {"$ex": {MARKER: 1}}}]}
    return definition, ids


def engine_fact(facts: dict[str, object], read: Iterable[tuple[str, str]]) -> dict[str, object]:
    """The fact asserted into the core: only the facts the rules read (``(name, key)`` pairs)."""
    fact = {key: facts[name] for name, key in read}
    fact[MARKER] = 1
    return fact
