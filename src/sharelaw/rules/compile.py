"""Compile loaded rules to durable-rules JSON rulesets, laid out to stay within the core's limits.

Conditions are put in negation normal form first (durable-rules has no ``not``), ``in``
becomes an ``$or`` of equalities, and each rule's ``pri`` is its position in the
stage's order, so the core returns fired rules in exactly that order. A catch-all rule
with the lowest priority always fires last: it keeps the core off its "no rule fired"
path, which can crash when the session is deleted (see shared/engine-notes.md).

The layout of one stage segment (``plan``) is what keeps thousands of rules clear of the
core's limits, measured on durable-rules 2.0.28 and read from its source (src/rules):

- a rule's condition may hold at most 15 ``$and``/``$or`` operators (each appends two entries
  to a sequence of ``MAX_SEQUENCE_EXPRESSIONS`` = 32; error 113). A larger condition is cut
  into pieces that fire under the rule's one name (``pieces``); plain tests cost nothing;
- the alpha network is walked depth first on a stack of 64 nodes (error 303, "more than 64
  sibling tests"): every matching test under a node and every ``$or`` that ends at it are
  pushed together. ``Network`` models the network the core builds and bounds that stack;
- at most 256 rules may end at one node (identical conditions, error 108), 128 ``$or``
  (error 107), and 511 distinct tests may hang under one node (at 512 ``assert_fact`` loops
  forever);
- and the cost of one ``assert_fact`` grows with the tests under each node it visits.

So a segment's rules are *indexed* by the fact that best partitions them (``purpose``,
``discloser.kind``...): the rules whose condition requires ``fact`` to be one of some values
go only into the rulesets for those values, the rules that do not constrain it into rulesets
of their own. A request is asserted into the ruleset for its value and into those, and the
core still tests each rule's whole condition: the index only leaves out rules that cannot
fire, so the firing is exactly the same. An index route still too large is split into shards, each a ruleset that
the network model shows clear of every limit, and the shards' firings are merged in stage
order. Conjuncts are ordered by how many rules of the segment share them, so that the
network shares the common tests (a common conjunct is tested once, not once per rule).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from .model import All, AnyOf, Cond, Const, In, Not, Rule, facts_in

MARKER = "f__"
CATCH_ALL = "zz_catch_all"
CATCH_ALL_PRI = 65000

# ---------------------------------------------------------------- the core's limits
#: $and/$or operators in one rule (MAX_SEQUENCE_EXPRESSIONS 32, two entries each; error 113).
OPERATOR_LIMIT = 15
#: Kept for callers of 0.3.0: the core's expression-sequence limit, in entries.
EXPRESSION_LIMIT = 31
#: Alpha nodes on the matching stack at once (MAX_STACK_SIZE in events.c; error 303).
SIBLING_LIMIT = 64
#: Rules ending at one alpha node (BETA_LIST_LENGTH; error 108).
BETA_LIMIT = 256
#: $or nodes ending at one alpha node (NEXT_LIST_LENGTH; error 107).
FORWARD_LIMIT = 128
#: Distinct tests under one alpha node (NEXT_BUCKET_LENGTH 512: at 512 the core loops forever).
CHILD_LIMIT = 511
#: Rules in one ruleset (MAX_ACTIONS in rete.c).
RULE_LIMIT = 4096

#: What a shard is planned to, leaving a margin below each limit.
PLAN_SIBLINGS = 48
PLAN_BETAS = 192
PLAN_FORWARDS = 96
PLAN_CHILDREN = 255
PLAN_RULES = 1024
#: A route of more core rules than this is indexed further (or sharded): the cost of one
#: ``assert_fact`` grows with the tests in the ruleset.
INDEX_THRESHOLD = 96
#: An index must leave its largest route at most this share of the rules it splits.
INDEX_GAIN = 0.75
INDEX_DEPTH = 2


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


# ---------------------------------------------------------------- canonical trees
# A condition in negation normal form, flattened and simplified, as the core sees it:
#   ("t", key, op, value)   a test, op "eq" / "neq" / "ex" (the marker, for true)
#   ("and", items) / ("or", items)
# ``False`` is the test ``MARKER == 2`` (never true: the marker is always 1).

Test = tuple[Any, ...]  # ("t", key, op, value)
Tree = tuple[Any, ...]  # a Test, or ("and" | "or", (Tree, ...))
TRUE: Test = ("t", MARKER, "ex", 1)
FALSE: Test = ("t", MARKER, "eq", 2)


def _test_order(t: Test) -> tuple[str, str, str, str]:
    return (t[1], t[2], type(t[3]).__name__, str(t[3]))


def canon(cond: Cond) -> Tree:
    """The canonical tree of a condition already in negation normal form."""
    if isinstance(cond, Const):
        return TRUE if cond.value else FALSE
    if isinstance(cond, In):
        key = engine_key(cond.fact)
        values = sorted(dict.fromkeys(cond.values), key=lambda v: (type(v).__name__, str(v)))
        tests: list[Tree] = [("t", key, "neq" if cond.negated else "eq", v) for v in values]
        if not tests:
            return TRUE if cond.negated else FALSE
        if len(tests) == 1:
            return tests[0]
        return ("and", tuple(tests)) if cond.negated else ("or", tuple(tests))
    if isinstance(cond, (All, AnyOf)):
        kind = "and" if isinstance(cond, All) else "or"
        absorbing, neutral = (FALSE, TRUE) if kind == "and" else (TRUE, FALSE)
        items: list[Tree] = []
        for c in cond.items:
            t = canon(c)
            parts = t[1] if t[0] == kind else (t,)
            for p in parts:
                if p == absorbing:
                    return absorbing
                if p != neutral and p not in items:
                    items.append(p)
        if not items:
            return neutral
        if len(items) == 1:
            return items[0]
        return (kind, tuple(_sorted(items, {})))
    if isinstance(cond, Not):
        return canon(nnf(cond))
    raise TypeError(f"not a condition: {cond!r}")


def _sorted(items: Iterable[Tree], rank: Mapping[Test, int]) -> list[Tree]:
    """The order the core tests conjuncts in: what it visits costs, and a failed test ends the
    path. So equalities first (they rarely hold; the most shared first, so that rules share
    them), then ``in`` lists, then inequalities (they nearly always hold), then the rest."""
    def key(t: Tree) -> tuple[int, int, tuple[str, ...]]:
        if t[0] == "t":
            return (0 if t[2] == "eq" else 2, -rank.get(t, 0), _test_order(t))
        if t[0] == "or" and all(c[0] == "t" and c[2] == "eq" for c in t[1]):
            return (1, 0, (repr(t),))
        return (3, 0, (repr(t),))
    return sorted(items, key=key)


def _reorder(t: Tree, rank: Mapping[Test, int]) -> Tree:
    if t[0] == "t":
        return t
    return (t[0], tuple(_sorted((_reorder(c, rank) for c in t[1]), rank)))


def _tests(t: Tree) -> Iterable[Test]:
    if t[0] == "t":
        yield t
    else:
        for c in t[1]:
            yield from _tests(c)


def operators(t: Tree) -> int:
    """The $and/$or operators of a tree: what the core's expression limit counts."""
    if t[0] == "t":
        return 0
    return 1 + sum(operators(c) for c in t[1])


def to_json(t: Tree) -> dict[str, object]:
    if t[0] == "t":
        _, key, op, value = t
        if op == "eq":
            return {key: value}
        return {"$neq": {key: value}} if op == "neq" else {"$ex": {key: value}}
    return {"$and" if t[0] == "and" else "$or": [to_json(c) for c in t[1]]}


def compile_condition(cond: Cond) -> dict[str, object]:
    return to_json(canon(nnf(cond)))


#: A rule cut into more pieces than this is refused (cutting an ``all`` of ``any`` lists
#: multiplies them out: the pieces grow exponentially).
MAX_PIECES = 64


class _TooMany(Exception):
    pass


def pieces(t: Tree) -> list[Tree]:
    """Cut a tree into a disjunction of pieces that each fit the operator limit. A rule fires
    when any piece matches, exactly as when its whole condition does; the pieces fire under
    one name and are collapsed into one firing. Pieces are packed back into as few ``$or``
    as fit, so a large rule costs few core rules. A tree that cannot be cut, or only into
    more than ``MAX_PIECES``, is returned whole (the core then refuses it, and
    ``DurableEvaluator.prepare`` names the rule)."""
    try:
        return _pieces(t, [0])
    except _TooMany:
        return [t]


def _pieces(t: Tree, made: list[int]) -> list[Tree]:
    if operators(t) <= OPERATOR_LIMIT:
        made[0] += 1
        if made[0] > MAX_PIECES:
            raise _TooMany
        return [t]
    if t[0] == "or":
        cut = [p for c in t[1] for p in _pieces(c, made)]
    elif t[0] == "and":
        items = t[1]
        ors = [i for i, c in enumerate(items) if c[0] == "or"]
        if not ors:
            raise _TooMany
        idx = max(ors, key=lambda i: operators(items[i]))
        rest = items[:idx] + items[idx + 1:]
        cut = []
        for branch in items[idx][1]:
            merged = list(rest) + (list(branch[1]) if branch[0] == "and" else [branch])
            cut.extend(_pieces(("and", tuple(merged)), made))
    else:
        raise _TooMany
    packed: list[list[Tree]] = []
    for p in cut:
        cost = operators(p)
        if packed and 1 + sum(operators(q) for q in packed[-1]) + cost <= OPERATOR_LIMIT:
            packed[-1].append(p)
        else:
            packed.append([p])
    return [group[0] if len(group) == 1 else ("or", tuple(group)) for group in packed]


# ---------------------------------------------------------------- the network model


class _Node:
    __slots__ = ("children", "forwards", "betas", "peak")

    def __init__(self) -> None:
        self.children: dict[Test, _Node] = {}
        self.forwards: list[_Node] = []
        self.betas = 0
        self.peak = 0


@dataclass
class Headroom:
    """How close one ruleset (or the worst of several) comes to each limit of the core."""

    rules: int = 0  # core rules (pieces and the catch-all included)
    siblings: int = 0  # the matching stack's worst case (limit 64)
    operators: int = 0  # the most $and/$or in one core rule (limit 15)
    betas: int = 0  # the most rules ending at one node (limit 256)
    forwards: int = 0  # the most $or ending at one node (limit 128)
    children: int = 0  # the most distinct tests under one node (limit 511)

    LIMITS = {"rules": RULE_LIMIT, "siblings": SIBLING_LIMIT, "operators": OPERATOR_LIMIT, "betas": BETA_LIMIT,
              "forwards": FORWARD_LIMIT, "children": CHILD_LIMIT}
    PLAN = {"rules": PLAN_RULES, "siblings": PLAN_SIBLINGS, "operators": OPERATOR_LIMIT, "betas": PLAN_BETAS,
            "forwards": PLAN_FORWARDS, "children": PLAN_CHILDREN}

    def within(self, limits: Mapping[str, int]) -> bool:
        return all(getattr(self, k) <= v for k, v in limits.items())

    def worst(self, other: "Headroom") -> "Headroom":
        return Headroom(**{k: max(getattr(self, k), getattr(other, k)) for k in self.LIMITS})

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.LIMITS}


class Network:
    """The alpha network durable-rules builds for a ruleset (rete.c: ``createAlpha``,
    ``findAlpha``, ``linkAlpha``), to bound what the core will meet before it is asked.

    A test under a node is shared by every rule that reaches that node with it; an ``$or``
    creates a fresh forward node that each of its branches links to; a rule's beta hangs
    on the node its condition ends at."""

    def __init__(self) -> None:
        self.root = _Node()
        self.nodes = [self.root]  # in creation order: every node after the nodes that lead to it
        self.rules = 0
        self.operators = 0

    def add(self, tree: Tree) -> None:
        self._insert(tree, self.root).betas += 1
        self.rules += 1
        self.operators = max(self.operators, operators(tree))

    def _new(self) -> _Node:
        node = _Node()
        self.nodes.append(node)
        return node

    def _insert(self, t: Tree, parent: _Node) -> _Node:
        if t[0] == "t":
            node = parent.children.get(t)
            if node is None:
                node = parent.children[t] = self._new()
            return node
        if t[0] == "and":
            for c in t[1]:
                parent = self._insert(c, parent)
            return parent
        ends = [self._insert(c, parent) for c in t[1]]
        forward = self._new()  # the core makes it first; made last here, the order stays topological
        for end in ends:
            end.forwards.append(forward)
        return forward

    def headroom(self) -> Headroom:
        h = Headroom(rules=self.rules, operators=self.operators)
        for n in reversed(self.nodes):  # every node after all the nodes it leads to
            h.betas = max(h.betas, n.betas)
            h.forwards = max(h.forwards, len(n.forwards))
            h.children = max(h.children, len(n.children))
            # how many nodes the core can push at once when it visits n: every forward (an
            # $or ending here is pushed untested), at most one equality per fact (a fact has
            # one value), every inequality, the marker's existence test
            eq_keys = {t[1] for t in n.children if t[2] == "eq"}
            pushed = len(n.forwards) + len(eq_keys) + sum(1 for t in n.children if t[2] != "eq")
            if pushed:
                below = max([c.peak for c in n.children.values()] + [c.peak for c in n.forwards])
                n.peak = max(pushed, pushed - 1 + below)
        h.siblings = self.root.peak
        return h


# ---------------------------------------------------------------- one ruleset


@dataclass
class Shard:
    """One durable-rules ruleset: some of a segment's rules, by position in the segment.

    Its core rules are named by their index in the shard (``r<k>``, pieces ``r<k>_<j>``, with
    ``pri`` k), so the same rules compile to the same ruleset in every date segment they are
    in force in: ``key`` (their ids) lets the evaluator compile it once."""

    positions: tuple[int, ...]
    key: tuple[str, ...]
    definition: dict[str, dict[str, object]]
    facts: tuple[str, ...]  # the facts its rules read: all the asserted fact needs to hold
    headroom: Headroom


def _core_rules(k: int, tree: Tree) -> list[tuple[str, Tree]]:
    parts = pieces(tree)
    if len(parts) == 1:
        return [(f"r{k}", parts[0])]
    return [(f"r{k}_{j}", p) for j, p in enumerate(parts)]


#: Compiled shards by the ids of their rules (one per evaluator, so per bundle).
ShardCache = dict[tuple[str, ...], Shard]


def _build(positions: Sequence[int], trees: Sequence[Tree], facts: Sequence[frozenset[str]], ids: Sequence[str],
           cache: ShardCache | None = None) -> Shard:
    key = tuple(ids[p] for p in positions)
    found = cache.get(key) if cache is not None else None
    if found is not None:
        return Shard(tuple(positions), key, found.definition, found.facts, found.headroom)
    definition: dict[str, dict[str, object]] = {}
    network = Network()
    for k, p in enumerate(positions):
        for name, part in _core_rules(k, trees[p]):
            definition[name] = {"pri": k, "all": [{"m": to_json(part)}]}
            network.add(part)
    definition[CATCH_ALL] = {"pri": CATCH_ALL_PRI, "all": [{"m": to_json(TRUE)}]}
    network.add(TRUE)
    read = sorted(set().union(*(facts[p] for p in positions))) if positions else []
    shard = Shard(tuple(positions), key, definition, tuple(read), network.headroom())
    if cache is not None:
        cache[key] = shard
    return shard


def _shards(positions: Sequence[int], trees: Sequence[Tree], facts: Sequence[frozenset[str]], ids: Sequence[str],
            cache: ShardCache | None) -> list[Shard]:
    """The rules at ``positions`` as few rulesets as keep clear of the limits (halving)."""
    if not positions:
        return []
    shard = _build(positions, trees, facts, ids, cache)
    if len(positions) <= 1 or shard.headroom.within(Headroom.PLAN):
        return [shard]
    half = len(positions) // 2
    return _shards(positions[:half], trees, facts, ids, cache) + _shards(positions[half:], trees, facts, ids, cache)


# ---------------------------------------------------------------- the index


@dataclass
class Route:
    """Where a request goes: a leaf of shards, or an index on one fact.

    An index sends a request to the route for its value of ``fact`` (the rules that require
    that value) and always to ``rest`` (the rules that do not constrain the fact)."""

    shards: list[Shard] = field(default_factory=list)
    fact: str | None = None  # indexed on this fact (a name in the facts, not the engine key)
    routes: dict[object, "Route"] = field(default_factory=dict)
    rest: "Route | None" = None

    def select(self, facts: Mapping[str, object]) -> list[Shard]:
        """The shards a request with these facts is asserted into."""
        if self.fact is None:
            return self.shards
        out = self.rest.select(facts) if self.rest is not None else []
        route = self.routes.get(facts[self.fact])
        return out + route.select(facts) if route is not None else out

    def leaves(self) -> Iterable["Route"]:
        if self.fact is None:
            yield self
            return
        for r in self.routes.values():
            yield from r.leaves()
        if self.rest is not None:
            yield from self.rest.leaves()

    def all_shards(self) -> list[Shard]:
        return [s for leaf in self.leaves() for s in leaf.shards]

    def most_per_request(self) -> int:
        if self.fact is None:
            return len(self.shards)
        rest = self.rest.most_per_request() if self.rest is not None else 0
        return rest + max((r.most_per_request() for r in self.routes.values()), default=0)


@dataclass
class Plan:
    """A segment's rules laid out in durable-rules rulesets."""

    ids: list[str]
    route: Route
    rules: int

    def shards(self) -> list[Shard]:
        return self.route.all_shards()

    def headroom(self) -> Headroom:
        h = Headroom()
        for s in self.shards():
            h = h.worst(s.headroom)
        return h

    def routes(self) -> int:
        return sum(1 for _ in self.route.leaves())

    def max_shards_per_request(self) -> int:
        return self.route.most_per_request()

    def core_rules(self) -> int:
        return sum(s.headroom.rules for s in self.shards())


def _required(t: Tree, key: str) -> frozenset[object] | None:
    """The values ``key`` must take for the tree to hold, if its top level requires some."""
    if t[0] == "t":
        return frozenset((t[3],)) if t[1] == key and t[2] == "eq" else None
    if t[0] == "or":
        items = t[1]
        if all(c[0] == "t" and c[1] == key and c[2] == "eq" for c in items):
            return frozenset(c[3] for c in items)
        return None
    found: frozenset[object] | None = None
    for c in t[1]:
        r = _required(c, key)
        if r is not None:
            found = r if found is None else found & r
    return found


def _route(positions: list[int], trees: Sequence[Tree], facts: Sequence[frozenset[str]], ids: Sequence[str],
           names: Mapping[str, str], used: frozenset[str], depth: int, cache: ShardCache | None) -> Route:
    size = len(positions)
    if size > INDEX_THRESHOLD and depth < INDEX_DEPTH:
        best: tuple[int, int, str] | None = None
        candidates: set[str] = set()
        for p in positions:
            for t in _tests(trees[p]):
                if t[2] == "eq" and t[1] != MARKER and t[1] not in used:
                    candidates.add(t[1])
        for key in sorted(candidates):
            needs = [_required(trees[p], key) for p in positions]
            found: set[object] = set().union(*(r for r in needs if r is not None))
            if not found:
                continue
            free = sum(1 for r in needs if r is None)
            largest = max(sum(1 for r in needs if r is not None and v in r) for v in found)
            # what a request is asserted into at worst: the rules that do not constrain the fact,
            # and those that require its value
            cost = (free + largest, len(found), key)
            if best is None or cost < best:
                best = cost
        if best is not None and best[0] <= INDEX_GAIN * size:
            key = best[2]
            required = {p: _required(trees[p], key) for p in positions}
            values = sorted(set().union(*(r for r in required.values() if r is not None)),
                            key=lambda v: (type(v).__name__, str(v)))
            inner = used | {key}
            routes = {
                v: _route([p for p in positions if v in (required[p] or ())],
                          trees, facts, ids, names, inner, depth + 1, cache)
                for v in values
            }
            rest = _route([p for p in positions if required[p] is None], trees, facts, ids, names, inner, depth + 1,
                          cache)
            return Route(fact=names[key], routes=routes, rest=rest)
    return Route(shards=_shards(positions, trees, facts, ids, cache))


@lru_cache(maxsize=16384)
def _tree(cond: Cond) -> Tree:
    """The canonical tree of a rule's condition (rules recur in many date segments)."""
    return canon(nnf(cond))


def plan(rules: Sequence[Rule], cache: ShardCache | None = None) -> Plan:
    """Lay out a segment's rules (in stage order) in durable-rules rulesets: indexed by the
    facts that partition them best, each route cut into shards clear of the core's limits."""
    trees = [_tree(r.when) for r in rules]
    rank: Counter[Test] = Counter()
    for t in trees:
        rank.update(set(_tests(t)))
    trees = [_reorder(t, rank) for t in trees]
    read = [frozenset(facts_in(r.when)) for r in rules]
    names = {engine_key(n): n for f in read for n in f}
    ids = [r.id for r in rules]
    route = _route(list(range(len(rules))), trees, read, ids, names, frozenset(), 0, cache)
    return Plan(ids, route, len(rules))


def compile_rules(rules: Iterable[Rule]) -> tuple[dict[str, dict[str, object]], list[str]]:
    """The rules as one durable-rules JSON ruleset (no index, no shards), and the rule ids by
    engine rule name index. A rule is ``r<position>``; a rule too large for the core is cut
    into pieces named ``r<position>_<k>`` with the same priority (see ``pieces``)."""
    rules = list(rules)
    trees = [canon(nnf(r.when)) for r in rules]
    shard = _build(range(len(rules)), trees, [frozenset(facts_in(r.when)) for r in rules],
                   [r.id for r in rules])
    return shard.definition, [r.id for r in rules]


def engine_fact(facts: Mapping[str, object], read: Iterable[tuple[str, str]]) -> dict[str, object]:
    """The fact asserted into the core: only the facts the rules read (``(name, key)`` pairs)."""
    fact = {key: facts[name] for name, key in read}
    fact[MARKER] = 1
    return fact
