"""The compiled evaluator: each segment's rules as one generated Python function.

``Engine(evaluator="compiled")`` fires rules with this instead of durable-rules. It decides
exactly as durable-rules does: tests/test_differential.py holds the two to the same fired
rules on 100,000 generated requests in CI, benchmarks/soak_differential.py on 1,000,000 or
more, and tests/test_golden_decisions.py to the same decisions byte for byte.

How a segment is compiled (``compile_segment``):

1. Every fact a rule can read has a finite vocabulary (rules/facts.py: an enum or a
   boolean). The segment picks the *dispatch fact*: the one that, fixed to each of its
   values, leaves the fewest rules that can still fire (summed over the values).
2. For each value, each rule's condition is partially evaluated with the dispatch fact
   fixed (``specialise``): a test of that fact becomes true or false and the condition is
   simplified. A rule whose condition becomes ``false`` cannot fire for that value and is
   left out: it costs nothing. One straight-line function per value tests the rest, in
   stage order, each fact read once into a local.
3. The segment's function looks up the dispatch fact's value and calls that value's
   function; a value outside the vocabulary (never, for a validated request) takes the
   general function, which tests every rule.

The source is generated from the validated condition tree only (fact names and values
come from the closed vocabulary and are embedded with ``repr``), then ``compile()``d
once per segment when the engine starts. ``CompiledSegment.source`` keeps it for a
reader (``sharelaw`` developers: print it to see what a segment does).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from ..errors import EngineError
from ..rules.bundle import Bundle, Segment
from ..rules.facts import FACTS
from ..rules.model import All, AnyOf, Cond, Const, In, Not, Rule, facts_in

Fire = Callable[[Mapping[str, object]], list[str]]

__all__ = ["CompiledEvaluator", "CompiledSegment", "compile_segment", "specialise"]


def _holds_value(cond: In, value: object) -> bool:
    found = any(value == v and type(value) is type(v) for v in cond.values)
    return found != cond.negated


def specialise(cond: Cond, fact: str, value: object) -> Cond:
    """``cond`` with ``fact`` fixed to ``value``, simplified: the same truth on every facts
    mapping where ``fact`` has that value."""
    if isinstance(cond, In):
        return Const(_holds_value(cond, value)) if cond.fact == fact else cond
    if isinstance(cond, Const):
        return cond
    if isinstance(cond, Not):
        inner = specialise(cond.item, fact, value)
        return Const(not inner.value) if isinstance(inner, Const) else Not(inner)
    conj = isinstance(cond, All)
    items: list[Cond] = []
    for c in cond.items:
        s = specialise(c, fact, value)
        if isinstance(s, Const):
            if s.value != conj:  # false in a conjunction, true in a disjunction: decides it
                return Const(s.value)
            continue  # true in a conjunction, false in a disjunction: drops out
        items.append(s)
    if not items:
        return Const(conj)
    if len(items) == 1:
        return items[0]
    return All(tuple(items)) if conj else AnyOf(tuple(items))


def _vocabulary(fact: str) -> tuple[object, ...] | None:
    spec = FACTS.get(fact)
    if spec is None:
        return None  # e.g. partner.discloser: a protocol's partner ids, not a closed vocabulary
    return (True, False) if spec.values is None else spec.values


class _Source:
    """Python source for conditions over facts held in locals (one local per fact)."""

    def __init__(self) -> None:
        self.consts: list[frozenset[object]] = []
        self.names: dict[str, str] = {}  # fact -> local, for the function being generated

    def local(self, fact: str) -> str:
        name = self.names.get(fact)
        if name is None:
            name = self.names[fact] = f"x{len(self.names)}"
        return name

    def expr(self, cond: Cond) -> str:
        if isinstance(cond, In):
            x = self.local(cond.fact)
            if len(cond.values) == 1 and isinstance(cond.values[0], str):
                return f"({x} {'!=' if cond.negated else '=='} {cond.values[0]!r})"
            # Fact values and condition values are both validated to the fact's type (str or
            # bool, never int), so set membership is exact (as in rules/reference.py).
            self.consts.append(frozenset(cond.values))
            return f"({x} {'not in' if cond.negated else 'in'} C{len(self.consts) - 1})"
        if isinstance(cond, Const):
            return "True" if cond.value else "False"
        if isinstance(cond, Not):
            return f"(not {self.expr(cond.item)})"
        joiner = " and " if isinstance(cond, All) else " or "
        return "(" + joiner.join(self.expr(c) for c in cond.items) + ")"


def _function(name: str, rules: Iterable[tuple[str, Cond]], src: _Source) -> list[str]:
    """Lines of ``def name(f)`` that returns the ids of the rules whose condition holds, in order.

    Each fact the function tests is read once, at the top, from the facts mapping: a fact the
    rules read and the facts lack raises ``KeyError``, as it does for durable-rules' fact."""
    src.names = {}
    body: list[str] = []
    for rule_id, cond in rules:
        if isinstance(cond, Const):
            if cond.value:
                body.append(f"    out.append({rule_id!r})")
            continue
        body.append(f"    if {src.expr(cond)}:")
        body.append(f"        out.append({rule_id!r})")
    reads = [f"    {local} = f[{fact!r}]" for fact, local in src.names.items()]
    return [f"def {name}(f):", *reads, "    out = []", *body, "    return out"]


@dataclass(frozen=True)
class CompiledSegment:
    """One segment's generated function and what it was generated from."""

    key: str
    fire: Fire
    source: str
    dispatch: str | None  # the dispatch fact, if any
    tested: float  # mean number of rules tested per call, over the dispatch fact's values


def compile_segment(segment: Segment) -> CompiledSegment:
    rules: list[Rule] = list(segment.rules)
    read = sorted({f for r in rules for f in facts_in(r.when)})
    best: tuple[float, str, dict[object, list[tuple[str, Cond]]]] | None = None
    for fact in read:
        values = _vocabulary(fact)
        if not values:
            continue
        per_value = {v: [(r.id, specialise(r.when, fact, v)) for r in rules] for v in values}
        live = {v: [(rid, c) for rid, c in rs if c != Const(False)] for v, rs in per_value.items()}
        cost = sum(len(rs) for rs in live.values()) / len(values)
        if best is None or cost < best[0]:
            best = (cost, fact, live)
    src = _Source()
    lines: list[str] = []
    general = [(r.id, r.when) for r in rules]
    if best is not None and best[0] < len(rules):
        cost, fact, live = best
        table: list[str] = []
        for i, (value, value_rules) in enumerate(live.items()):
            fn = _function(f"v{i}", value_rules, src)
            lines += fn + [""]
            table.append(f"{value!r}: v{i}")
        lines += _function("general", general, src) + [""]
        lines += [f"TABLE = {{{', '.join(table)}}}", "", "def fire(f):",
                  f"    return TABLE.get(f[{fact!r}], general)(f)"]
        dispatch: str | None = fact
        tested = cost
    else:
        lines += _function("fire", general, src)
        dispatch = None
        tested = float(len(rules))
    source = "\n".join(lines) + "\n"
    namespace: dict[str, object] = {f"C{i}": c for i, c in enumerate(src.consts)}
    try:
        code = compile(source, f"<sharelaw compiled {segment.key}>", "exec")
        exec(code, namespace)  # noqa: S102 - source generated from the validated condition tree only
    except (RecursionError, SyntaxError, MemoryError) as exc:
        raise EngineError(f"could not compile the rules of {segment.key} to Python: {type(exc).__name__}: {exc}") from exc
    fire = namespace["fire"]
    return CompiledSegment(segment.key, fire, source, dispatch, tested)  # type: ignore[arg-type]


class CompiledEvaluator:
    """Fires a segment's rules through its compiled function (the same interface as
    ``DurableEvaluator`` and ``ReferenceEvaluator``). Thread-safe: compiled functions are
    pure; compiling is serialised."""

    name = "compiled"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._segments: dict[int, tuple[Segment, CompiledSegment]] = {}

    def compiled(self, segment: Segment) -> CompiledSegment:
        found = self._segments.get(id(segment))
        if found is None or found[0] is not segment:
            with self._lock:
                found = self._segments.get(id(segment))
                if found is None or found[0] is not segment:
                    found = (segment, compile_segment(segment))
                    self._segments[id(segment)] = found
        return found[1]

    def prepare(self, bundle: Bundle) -> None:
        """Compile every segment with rules now, so faults surface at start-up."""
        for segment in bundle.all_segments():
            if segment.rules:
                self.compiled(segment)

    def fire(self, segment: Segment, facts: Mapping[str, object]) -> list[str]:
        found = self._segments.get(id(segment))
        if found is not None and found[0] is segment:
            return found[1].fire(facts)
        return self.compiled(segment).fire(facts)

    def close(self) -> None:
        pass
