"""The plain-Python reference evaluator: the differential oracle for the durable-rules engine.

``holds`` interprets a condition tree directly: it is the specification of what a
condition means. ``predicate`` compiles the same tree once into a Python function for
speed (it is what runs on every decision, as the cross-check and for requirements);
tests check that the two agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .model import All, AnyOf, Cond, Const, In, Not, Rule

if TYPE_CHECKING:
    from ..errors import RulesetError

Predicate = Callable[[Mapping[str, object]], bool]


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


def _source(cond: Cond, consts: list[Any]) -> str:
    if isinstance(cond, In):
        consts.append(frozenset(cond.values))
        # Fact values and condition values are both validated to the fact's type (str or
        # bool, never int), so set membership is exact.
        return f"(f[{cond.fact!r}] {'not in' if cond.negated else 'in'} c[{len(consts) - 1}])"
    if isinstance(cond, Const):
        return "True" if cond.value else "False"
    if isinstance(cond, Not):
        return f"(not {_source(cond.item, consts)})"
    joiner = " and " if isinstance(cond, All) else " or "
    return "(" + joiner.join(_source(c, consts) for c in cond.items) + ")"


def predicate(cond: Cond) -> Predicate:
    """Compile a condition into ``f(facts) -> bool`` with the same meaning as ``holds``."""
    consts: list[Any] = []
    body = _source(cond, consts)
    test: Callable[[Mapping[str, object]], bool] = eval(  # noqa: S307 - source built from validated AST only
        f"lambda f, c=c: {body}", {"c": tuple(consts)})
    return test


def predicate_error(rule: Rule) -> RulesetError | None:
    """A ``ruleset_engine_limit`` error if the rule's condition cannot be compiled (nested
    deeper than Python's parser or stack allows), else None."""
    from ..errors import RulesetError

    try:
        predicate(rule.when)
        holds(rule.when, {})
    except KeyError:
        return None  # evaluated as far as the first fact: it compiles and it runs
    except (RecursionError, SyntaxError, MemoryError) as exc:
        return RulesetError(
            "ruleset_engine_limit",
            f"this rule's condition is nested too deeply to evaluate ({type(exc).__name__}); "
            "flatten it (any/all lists instead of nesting, or definitions)",
            file=rule.file, line=rule.line, rule_id=rule.id)
    return None


def fire(rules: Sequence[Rule], facts: Mapping[str, object]) -> list[str]:
    """Ids of the rules whose conditions hold, in stage order (rules are pre-sorted)."""
    return [r.id for r in rules if holds(r.when, facts)]


class ReferenceEvaluator:
    """Evaluator interface over compiled predicates: the same shape as engine.durable.DurableEvaluator."""

    name = "reference"

    def fire(self, segment: Any, facts: Mapping[str, object]) -> list[str]:
        return [rule_id for rule_id, test in segment.predicates if test(facts)]

    def close(self) -> None:
        pass
