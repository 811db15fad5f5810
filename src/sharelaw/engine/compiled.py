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


_FALSE = Const(False)


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


def _function(name: str, rules: Iterable[tuple[object, Cond]], src: _Source) -> list[str]:
    """Lines of ``def name(f)`` that returns the tokens (rule ids or positions) of the rules
    whose condition holds, in order.

    Each fact the function tests is read once, at the top, from the facts mapping: a fact the
    rules read and the facts lack raises ``KeyError``, as it does for durable-rules' fact."""
    src.names = {}
    body: list[str] = []
    for token, cond in rules:
        if isinstance(cond, Const):
            if cond.value:
                body.append(f"    out.append({token!r})")
            continue
        body.append(f"    if {src.expr(cond)}:")
        body.append(f"        out.append({token!r})")
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


def compile_segment(segment: Segment, memo: dict[tuple[str, str, object], Cond] | None = None) -> CompiledSegment:
    """The segment's function (see the module docstring). ``memo`` keeps rules specialised
    per (rule id, fact, value) across the segments of one bundle, which share most rules."""
    memo = {} if memo is None else memo

    def special(r: Rule, fact: str, value: object) -> Cond:
        key = (r.id, fact, value)
        found = memo.get(key)
        if found is None:
            found = memo[key] = specialise(r.when, fact, value)
        return found

    rules: list[Rule] = list(segment.rules)
    reads = [facts_in(r.when) for r in rules]
    best: tuple[float, str] | None = None
    for fact in sorted(set().union(*reads)) if reads else ():
        values = _vocabulary(fact)
        if not values:
            continue
        # Only the rules that read the fact change when it is fixed; the others all stay.
        reading = [r for r, rd in zip(rules, reads) if fact in rd]
        n_alive = sum(special(r, fact, v) != _FALSE for v in values for r in reading)
        cost = len(rules) - len(reading) + n_alive / len(values)
        if best is None or cost < best[0]:
            best = (cost, fact)
    src = _Source()
    lines: list[str] = []
    if best is not None and best[0] < len(rules):
        # Rules that read the dispatch fact: specialised, one function per value, giving
        # positions. The others: one function for all values. Merged back into stage order.
        cost, fact = best
        readers = [(i, r) for i, (r, rd) in enumerate(zip(rules, reads)) if fact in rd]
        others = [(i, r.when) for i, (r, rd) in enumerate(zip(rules, reads)) if fact not in rd]
        table: list[str] = []
        for k, value in enumerate(_vocabulary(fact) or ()):
            alive = [(i, c) for i, r in readers if (c := special(r, fact, value)) != _FALSE]
            lines += _function(f"v{k}", alive, src) + [""]
            table.append(f"{value!r}: v{k}")
        lines += _function("readers", [(i, r.when) for i, r in readers], src) + [""]
        lines += _function("others", others, src) + [""]
        lines += [
            f"TABLE = {{{', '.join(table)}}}",
            f"IDS = {tuple(r.id for r in rules)!r}",
            "",
            "def fire(f):",
            f"    a = TABLE.get(f[{fact!r}], readers)(f)",
            "    b = others(f)",
            "    if b:",
            "        if a:",
            "            a += b",
            "            a.sort()",
            "        else:",
            "            a = b",
            "    return [IDS[i] for i in a]",
        ]
        dispatch: str | None = fact
        tested = cost
    else:
        lines += _function("fire", [(r.id, r.when) for r in rules], src)
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
        self._memo: dict[tuple[str, str, object], Cond] = {}

    def compiled(self, segment: Segment) -> CompiledSegment:
        found = self._segments.get(id(segment))
        if found is None or found[0] is not segment:
            with self._lock:
                found = self._segments.get(id(segment))
                if found is None or found[0] is not segment:
                    found = (segment, compile_segment(segment, self._memo))
                    self._segments[id(segment)] = found
        return found[1]

    def prepare(self, bundle: Bundle) -> None:
        """Compile every segment with rules now, so faults surface at start-up."""
        for segment in bundle.all_segments():
            if segment.rules:
                self.compiled(segment)
        self._memo.clear()  # only needed while compiling

    def fire(self, segment: Segment, facts: Mapping[str, object]) -> list[str]:
        found = self._segments.get(id(segment))
        if found is not None and found[0] is segment:
            return found[1].fire(facts)
        return self.compiled(segment).fire(facts)

    def close(self) -> None:
        pass
