"""A small finite-domain satisfiability checker over rule conditions.

Every fact has a finite domain (an enum's values, or ``(False, True)``), so whether a
condition can hold is decidable by search. ``satisfiable`` puts the condition in
negation normal form, turns each leaf into "fact is in this set of values", and
searches over *restrictions* of the facts' domains (not full assignments): a leaf
evaluates to True when every value still possible satisfies it, False when none does,
and Unknown otherwise; an ``all`` propagates its unit leaves into the domains, and the
search splits one fact's remaining values in two on an undecided leaf. Only facts the
conditions read are ever branched on, so the cost depends on the conditions, not on the
size of the vocabulary.

``VALIDITY`` is the constraint every real request satisfies between its facts (the
model validators of ``sharelaw.request``); ``validity_for`` is the part of it that
concerns a given set of facts, which is what the static checks conjoin to a query.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..rules.facts import FACTS
from ..rules.model import All, AnyOf, Cond, Const, In, Not, facts_in
from ..vocab import PURPOSE_KIND

__all__ = [
    "Domains",
    "VALIDITY",
    "VALIDITY_PARTS",
    "national_domains",
    "validity_for",
    "satisfiable",
    "implies",
    "equivalent",
    "facts_of",
]

Domains = Mapping[str, tuple[Any, ...]]

#: A condition in normal form: True, False, ('lit', fact, allowed) or (and|or, (formula, ...)).
Formula = Any


def national_domains() -> dict[str, tuple[Any, ...]]:
    """Every fact of ``FACTS`` with its possible values: ``(False, True)`` for a boolean."""
    return {name: ((False, True) if spec.is_bool else tuple(spec.values or ())) for name, spec in FACTS.items()}


# ------------------------------------------------------------------ validity


def _kind_of_purpose() -> Cond:
    by_kind: dict[str, list[str]] = {}
    for purpose, kind in PURPOSE_KIND.items():
        by_kind.setdefault(str(kind.value), []).append(str(purpose.value))
    return AnyOf(tuple(
        All((In("purpose", tuple(purposes)), In("sharing_kind", (kind,))))
        for kind, purposes in by_kind.items()
    ))


#: Consent states for which someone gave, refused or withdrew consent (request.Consent._giver).
_GIVEN_STATES = ("explicit_for_this", "earlier_covering", "implied_direct_care", "refused", "withdrawn")


def _consent_giver() -> Cond:
    # given_by is 'none' exactly when the state needs no giver.
    return AnyOf((
        All((In("consent.state", _GIVEN_STATES), In("consent.given_by", ("none",), negated=True))),
        All((In("consent.state", _GIVEN_STATES, negated=True), In("consent.given_by", ("none",)))),
    ))


def _risk_target() -> Cond:
    # request.RiskOfHarm._target: no risk, no one at risk; a known risk names who is at risk.
    return All((
        AnyOf((In("risk.level", ("none",), negated=True), In("risk.to", ("not_applicable",)))),
        AnyOf((In("risk.level", ("none", "unknown")), In("risk.to", ("not_applicable",), negated=True))),
    ))


def _giver_age() -> Cond:
    # request.SharingRequest._consistent: a welfare attorney decides only for a person of
    # 18 or over (MCA 2005 s9(2)(c)), a welfare deputy only for one of 16 or over (s2(5)).
    return All((
        Not(All((In("consent.given_by", ("welfare_attorney",)), In("subject.age_band", ("under_13", "13_to_15", "16_to_17"))))),
        Not(All((In("consent.given_by", ("welfare_deputy",)), In("subject.age_band", ("under_13", "13_to_15"))))),
    ))


def _other_person() -> Cond:
    # request.RiskOfHarm.other: who the other person at risk is, exactly when it is another person.
    return AnyOf((
        All((In("risk.to", ("another_person",)), In("risk.other_person", ("not_applicable",), negated=True))),
        All((In("risk.to", ("another_person",), negated=True), In("risk.other_person", ("not_applicable",)))),
    ))


def _some_category() -> Cond:
    # request.DataDescription.categories: at least one category (each becomes a data.* boolean).
    names = sorted(n for n, s in FACTS.items() if s.is_bool and n.startswith("data."))
    return AnyOf(tuple(In(n, (True,)) for n in names))


#: The parts of VALIDITY, each over a few facts; together, exactly the combinations of
#: request facts that ``parse_request`` accepts (as far as these facts go).
#: Parts that share a fact are joined into one part, so no two parts read the same fact
#: (prove picks a valid combination for each part on its own).
VALIDITY_PARTS: tuple[Cond, ...] = (
    _kind_of_purpose(),
    All((_consent_giver(), _giver_age())),
    All((_risk_target(), _other_person())),
    _some_category(),
)
assert all(
    not (facts_in(a) & facts_in(b)) for i, a in enumerate(VALIDITY_PARTS) for b in VALIDITY_PARTS[i + 1 :]
), "validity parts must not share a fact"

#: What every real request satisfies between its facts.
VALIDITY: Cond = All(VALIDITY_PARTS)


#: The facts a condition reads (one definition, in rules/bundle.py).
facts_of = facts_in


_PART_FACTS = tuple((part, frozenset(facts_of(part))) for part in VALIDITY_PARTS)


def validity_for(facts: Iterable[str], parts: Iterable[Cond] | None = None) -> Cond:
    """The conjunction of the validity parts that read any of ``facts``.

    Each part can be met whatever values the facts outside it take, so leaving out the
    parts a query does not touch changes nothing about its satisfiability.
    """
    wanted = set(facts)
    pairs = _PART_FACTS if parts is None else tuple((p, frozenset(facts_of(p))) for p in parts)
    chosen = tuple(p for p, fs in pairs if fs & wanted)
    return All(chosen) if chosen else Const(True)


# ------------------------------------------------------------------ normal form
#
# Internal formulas: True, False, ("lit", fact, frozenset) meaning "fact's value is in
# the set", ("and", children), ("or", children).

_TRUE = True
_FALSE = False


def _member(value: object, values: tuple[Any, ...]) -> bool:
    # Same comparison as reference.holds: equal and of the same type.
    return any(value == v and type(value) is type(v) for v in values)


def _normal(cond: Cond, domains: Domains, negate: bool = False) -> Formula:
    if isinstance(cond, In):
        try:
            domain = domains[cond.fact]
        except KeyError:
            raise KeyError(f"fact {cond.fact!r} has no domain") from None
        allowed = frozenset(v for v in domain if _member(v, cond.values) != (cond.negated != negate))
        return ("lit", cond.fact, allowed)
    if isinstance(cond, Not):
        return _normal(cond.item, domains, not negate)
    if isinstance(cond, Const):
        return cond.value != negate
    if isinstance(cond, (All, AnyOf)):
        conj = isinstance(cond, All) != negate
        return ("and" if conj else "or", tuple(_normal(c, domains, negate) for c in cond.items))
    raise TypeError(f"not a condition: {cond!r}")


def _simplify(f: Formula, dom: dict[str, Any]) -> Formula:
    """Evaluate ``f`` three-valued under the remaining values ``dom``; return True, False,
    or the formula with its decided parts removed."""
    if f is True or f is False:
        return f
    tag = f[0]
    if tag == "lit":
        left = dom[f[1]]
        inside = left & f[2]
        if not inside:
            return _FALSE
        if len(inside) == len(left):
            return _TRUE
        return f
    conj = tag == "and"
    out = []
    for child in f[1]:
        s = _simplify(child, dom)
        if s is True:
            if not conj:
                return _TRUE
            continue
        if s is False:
            if conj:
                return _FALSE
            continue
        if s[0] == tag:
            out.extend(s[1])
        else:
            out.append(s)
    if not out:
        return _TRUE if conj else _FALSE
    if len(out) == 1:
        return out[0]
    return (tag, tuple(out))


def _first_lit(f: Formula) -> Formula:
    while f[0] != "lit":
        f = f[1][0]
    return f


def _choose(f: Formula) -> Formula:
    """The leaf to split on: the first leaf of the shortest disjunction at the top."""
    if f[0] == "or":
        return _first_lit(f)
    best = None
    for child in f[1]:
        if child[0] == "or" and (best is None or len(child[1]) < len(best[1])):
            best = child
    return _first_lit(best if best is not None else f)


def _search(f: Formula, dom: dict[str, Any]) -> dict[str, Any] | None:
    while True:
        f = _simplify(f, dom)
        if f is True:
            return dom
        if f is False:
            return None
        if f[0] == "lit":
            dom = dict(dom)
            dom[f[1]] = dom[f[1]] & f[2]
            return dom
        if f[0] == "and":
            units = [c for c in f[1] if c[0] == "lit"]
            if units:
                dom = dict(dom)
                for _, fact, allowed in units:
                    dom[fact] = dom[fact] & allowed
                continue
        break
    _, fact, allowed = _choose(f)
    left = dom[fact]
    for part in (left & allowed, left - allowed):
        branch = dict(dom)
        branch[fact] = part
        found = _search(f, branch)
        if found is not None:
            return found
    return None


def satisfiable(cond: Cond, domains: Domains, *, assume: Cond | None = None) -> dict[str, Any] | None:
    """A witness: values for the facts ``cond`` and ``assume`` read under which both hold,
    or None if there is none. A fact read but missing from ``domains`` is a KeyError."""
    query = cond if assume is None else All((cond, assume))
    formula = _normal(query, domains)
    names = sorted(facts_of(query))
    dom = {name: frozenset(domains[name]) for name in names}
    found = _search(formula, dom)
    if found is None:
        return None
    witness = {}
    for name in names:
        witness[name] = next(v for v in domains[name] if v in found[name])
    return witness


def implies(a: Cond, b: Cond, domains: Domains, assume: Cond | None = None) -> bool:
    """Whether every assignment (satisfying ``assume``) under which ``a`` holds makes ``b`` hold."""
    return satisfiable(All((a, Not(b))), domains, assume=assume) is None


def equivalent(a: Cond, b: Cond, domains: Domains, assume: Cond | None = None) -> bool:
    return implies(a, b, domains, assume) and implies(b, a, domains, assume)
