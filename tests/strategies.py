"""Generators of sharing requests for property, differential and concurrency tests.

Two generators over the same vocabulary and the same validity constraints:

- hypothesis strategies (``request_dicts``, ``requests``, ``invalid_request_dicts``),
  for property tests, which shrink a failure to a minimal request;
- ``random_request_dict(rng)`` / ``deterministic_request_dicts(n, seed)``, a plain
  ``random.Random`` generator, for tests and benchmarks that need a fixed, reproducible
  list of requests without hypothesis (``.example()`` is not for tests).

Every vocabulary is read from ``sharelaw.vocab``, so a value added there is generated
here without a change. The constraints mirror the model validators in
``sharelaw/request.py``: who gave consent is ``none`` exactly when no one gave, refused
or withdrew it; the person at risk is ``not_applicable`` when the level is ``none`` and
must be named when the level is known and not ``none``, and who the other person at risk
is only when it is another person; a recorded yes or no judgement gives a reason; data
categories are non-empty and unique; a welfare attorney decides only for a person aged 18
or over and a welfare deputy for one aged 16 or over.
"""

from __future__ import annotations

import copy
import random
import string
from datetime import date, timedelta
from typing import Any, Iterable

from hypothesis import strategies as st

from sharelaw.request import SharingRequest, parse_request
from sharelaw.vocab import (
    AgencyKind,
    ConsentGiver,
    ConsentState,
    DataCategory,
    HarmLevel,
    HarmTo,
    Identifiability,
    Interaction,
    Judgement,
    PersonAtRisk,
    Purpose,
    StatutoryRequest,
    YesNoUnknown,
)

FIRST_DAY = date(2000, 3, 1)
LAST_DAY = date(2027, 12, 31)

#: Dates where the law changes: the data protection eras (see sharelaw/law/eras.py), the
#: Human Rights Act, and commencement of gateways the rule files encode. Each is given
#: with the day before, so both sides of every change are drawn often.
_CHANGES = [
    date(2000, 3, 1),    # DPA 1998 (scope start)
    date(2000, 10, 2),   # Human Rights Act 1998
    date(2000, 10, 18),  # LGA 2000 s2
    date(2004, 6, 1),    # Education Act 2002 s175
    date(2005, 1, 18),   # CDA 1998 s115 registered social landlords
    date(2005, 4, 1),    # Children Act 2004 s10
    date(2005, 10, 1),   # Children Act 2004 s11
    date(2012, 2, 18),   # Localism Act 2011 s1
    date(2012, 4, 4),    # LGA 2000 s2 repealed in England
    date(2007, 10, 1),   # Mental Capacity Act 2005 ss1-20
    date(2013, 4, 1),    # local authority public health functions (NHS Act 2006 s2B)
    date(2015, 4, 1),    # Care Act 2014
    date(2015, 10, 1),   # Health and Social Care (Safety and Quality) Act 2015 s251B
    date(2018, 5, 25),   # GDPR and DPA 2018
    date(2021, 1, 1),    # UK GDPR
    date(2026, 2, 5),    # Data (Use and Access) Act 2025
]
BOUNDARY_DATES: tuple[date, ...] = tuple(
    sorted({d for c in _CHANGES for d in (c - timedelta(days=1), c) if FIRST_DAY <= d <= LAST_DAY})
)

#: Ages the law distinguishes (13, 16, 18) and their neighbours.
BOUNDARY_AGES = (0, 12, 13, 15, 16, 17, 18, 19, 65, 110)

#: A small pool of legal entities so that discloser and recipient sometimes coincide.
LEGAL_ENTITIES = ("city-council", "county-council", "rh-trust", "met-police", "st-marys-school", "acme-ltd")

CONSENT_NEEDS_GIVER = frozenset(
    {
        ConsentState.EXPLICIT_FOR_THIS,
        ConsentState.EARLIER_COVERING,
        ConsentState.IMPLIED_DIRECT_CARE,
        ConsentState.REFUSED,
        ConsentState.WITHDRAWN,
    }
)
GIVERS = tuple(g for g in ConsentGiver if g is not ConsentGiver.NONE)
HARM_TARGETS = tuple(t for t in HarmTo if t is not HarmTo.NOT_APPLICABLE)
JUDGEMENTS = (
    "necessary", "proportionate", "minimum_necessary", "public_interest", "best_interests",
    "consent_unreasonably_withheld",
)
#: The youngest age each consent giver may decide for (request.py: MCA 2005 s9(2)(c), s2(5)).
GIVER_MIN_AGE = {ConsentGiver.WELFARE_ATTORNEY: 18, ConsentGiver.WELFARE_DEPUTY: 16}


def _fit_giver(consent: dict[str, Any], age: int | str) -> dict[str, Any]:
    """Make the consent giver valid for the person's age (a valid request is wanted)."""
    giver = ConsentGiver(consent.get("given_by", "none"))
    if isinstance(age, int) and age < GIVER_MIN_AGE.get(giver, 0):
        consent = {**consent, "given_by": ConsentGiver.PARENT.value if age < 16 else ConsentGiver.SUBJECT.value}
    return consent


def _values(enum: Iterable) -> list[str]:
    return [m.value for m in enum]


# ---------------------------------------------------------------------------------
# hypothesis strategies
# ---------------------------------------------------------------------------------

_reason_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda s: s.strip())
_free_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


def as_at_dates(extra: Iterable[date] = ()) -> st.SearchStrategy[date]:
    """Any in-scope date, with a third of draws on a boundary (``extra`` adds more)."""
    boundaries = sorted(set(BOUNDARY_DATES) | {d for d in extra if FIRST_DAY <= d <= LAST_DAY})
    return st.one_of(
        st.dates(min_value=FIRST_DAY, max_value=LAST_DAY),
        st.dates(min_value=FIRST_DAY, max_value=LAST_DAY),
        st.sampled_from(boundaries),
    )


@st.composite
def agency_dicts(draw, entity: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": draw(st.sampled_from(_values(AgencyKind))),
        "legal_entity": entity if entity is not None else draw(st.sampled_from(LEGAL_ENTITIES)),
    }
    if draw(st.integers(0, 3)) == 0:
        out["acts_as_public_authority"] = draw(st.booleans())
    if draw(st.integers(0, 5)) == 0:
        # Names are rendered into reasons: include braces and placeholders on purpose.
        out["name"] = draw(st.one_of(_free_text, st.just("{purpose} {discloser}")))
    return out


def ages() -> st.SearchStrategy[int | str]:
    return st.one_of(st.integers(0, 110), st.sampled_from(BOUNDARY_AGES), st.just("unknown"))


@st.composite
def consent_dicts(draw) -> dict[str, Any]:
    state = draw(st.sampled_from(list(ConsentState)))
    if state in CONSENT_NEEDS_GIVER:
        return {"state": state.value, "given_by": draw(st.sampled_from(GIVERS)).value}
    if draw(st.booleans()):
        return {"state": state.value, "given_by": ConsentGiver.NONE.value}
    return {"state": state.value}


@st.composite
def risk_dicts(draw) -> dict[str, Any]:
    level = draw(st.sampled_from(list(HarmLevel)))
    if level is HarmLevel.NONE:
        to = HarmTo.NOT_APPLICABLE
    elif level is HarmLevel.UNKNOWN:
        to = draw(st.sampled_from(list(HarmTo)))
    else:
        to = draw(st.sampled_from(HARM_TARGETS))
    if to is HarmTo.NOT_APPLICABLE and draw(st.booleans()):
        return {"level": level.value}
    out = {"level": level.value, "to": to.value}
    if to is HarmTo.ANOTHER_PERSON and draw(st.booleans()):
        out["other_person"] = draw(st.sampled_from([p for p in PersonAtRisk if p is not PersonAtRisk.NOT_APPLICABLE])).value
    return out


@st.composite
def judgement_dicts(draw) -> dict[str, Any]:
    value = draw(st.sampled_from(list(Judgement)))
    if value is Judgement.NOT_ASSESSED:
        return dict(draw(st.sampled_from([{}, {"value": value.value}, {"value": value.value, "reason": "not yet"}])))
    return {"value": value.value, "reason": draw(_reason_text)}


@st.composite
def assessment_dicts(draw) -> dict[str, Any]:
    out = {}
    for name in JUDGEMENTS:
        if draw(st.integers(0, 4)):
            out[name] = draw(judgement_dicts())
    return out


@st.composite
def request_dicts(draw, dates: st.SearchStrategy[date] | None = None) -> dict[str, Any]:
    """A valid request, as the JSON-like mapping a caller sends."""
    discloser = draw(agency_dicts())
    same = draw(st.integers(0, 3)) == 0
    recipient = draw(agency_dicts(entity=discloser["legal_entity"] if same else None))
    subject: dict[str, Any] = {"age": draw(ages())}
    for name in ("adult_at_risk", "capacity"):
        if draw(st.integers(0, 3)):
            subject[name] = draw(st.sampled_from(_values(YesNoUnknown)))
    req: dict[str, Any] = {
        "as_at": draw(dates if dates is not None else as_at_dates()).isoformat(),
        "interaction": draw(st.sampled_from(_values(Interaction))),
        "discloser": discloser,
        "recipient": recipient,
        "subject": subject,
        "purpose": draw(st.sampled_from(_values(Purpose))),
        "data": {
            "categories": draw(st.lists(st.sampled_from(_values(DataCategory)), min_size=1, unique=True)),
            "identifiability": draw(st.sampled_from(_values(Identifiability))),
            "in_confidence": draw(st.sampled_from(_values(YesNoUnknown))),
            "already_public": draw(st.sampled_from(_values(YesNoUnknown))),
        },
        "consent": _fit_giver(draw(consent_dicts()), subject["age"]),
        "risk_of_harm": draw(risk_dicts()),
    }
    if draw(st.booleans()):
        req["data"]["art89_safeguards"] = draw(st.sampled_from(_values(YesNoUnknown)))
    if draw(st.integers(0, 3)):
        req["statutory_request"] = draw(st.sampled_from(_values(StatutoryRequest)))
    if draw(st.integers(0, 4)):
        req["assessment"] = draw(assessment_dicts())
    if draw(st.integers(0, 4)) == 0:
        req["request_id"] = draw(_free_text)
    return req


def requests(dates: st.SearchStrategy[date] | None = None) -> st.SearchStrategy[SharingRequest]:
    """A valid ``SharingRequest``."""
    return request_dicts(dates).map(parse_request)


# ------------------------------------------------------------------ invalid input

_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), _free_text
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_free_text, inner, max_size=3)),
    max_leaves=6,
)

#: Values that are wrong for most fields, chosen to hit the type pitfalls of the core:
#: booleans for numbers, numbers as strings, nulls, enum values in the wrong case.
_BAD_VALUES = [
    None, True, False, 0, 1, -1, 131, 3.5, "", " ", "12", "YES", "Yes", "true", "unknown ",
    "none", [], {}, ["health", "health"], "2000-02-29", "1999-12-31", "2000-02-30", "2021-13-01",
    "20210101", "2021-1-1", "2021-01-01T00:00:00", "a" * 300, "not_a_value",
]


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _set(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return obj


def _delete(obj: Any, path: tuple) -> Any:
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return obj


@st.composite
def invalid_request_dicts(draw) -> Any:
    """Requests damaged in one to three places (most invalid, some still valid), or
    arbitrary JSON. Callers must accept either a ``RequestError`` or a decision."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(_json_values, st.dictionaries(_free_text, _json_values, max_size=5)))
    req = copy.deepcopy(draw(request_dicts()))  # never mutate a drawn value in place
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(req)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "extra", "scramble"]))
        if action == "delete" and path:
            req = _delete(req, path)
        elif action == "extra" and isinstance(_get(req, path), dict):
            _get(req, path)[draw(st.sampled_from(["extra", "Purpose", "as_at ", "id"]))] = draw(_json_scalars)
        elif action == "scramble":
            req = _set(req, path, draw(_json_values))
        else:
            req = _set(req, path, copy.deepcopy(draw(st.sampled_from(_BAD_VALUES))))
    return req


def _get(obj: Any, path: tuple) -> Any:
    for key in path:
        obj = obj[key]
    return obj


# ---------------------------------------------------------------------------------
# deterministic generator (no hypothesis): same vocabulary, same constraints
# ---------------------------------------------------------------------------------


def _random_date(rng: random.Random) -> date:
    if rng.random() < 0.3:
        return rng.choice(BOUNDARY_DATES)
    return FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))


def _random_agency(rng: random.Random, entity: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": rng.choice(_values(AgencyKind)), "legal_entity": entity or rng.choice(LEGAL_ENTITIES)}
    if rng.random() < 0.25:
        out["acts_as_public_authority"] = rng.random() < 0.5
    if rng.random() < 0.2:
        out["name"] = "".join(rng.choice(string.ascii_letters + " {}.") for _ in range(rng.randrange(1, 30)))
    return out


def random_request_dict(rng: random.Random) -> dict[str, Any]:
    """One valid request drawn from ``rng``: reproducible for a given seed."""
    discloser = _random_agency(rng)
    recipient = _random_agency(rng, discloser["legal_entity"] if rng.random() < 0.25 else None)
    age: int | str = rng.choice(["unknown", rng.choice(BOUNDARY_AGES), rng.randrange(0, 111), rng.randrange(0, 111)])
    subject: dict[str, Any] = {"age": age}
    for name in ("adult_at_risk", "capacity"):
        if rng.random() < 0.75:
            subject[name] = rng.choice(_values(YesNoUnknown))
    state = rng.choice(list(ConsentState))
    consent: dict[str, Any] = {"state": state.value}
    if state in CONSENT_NEEDS_GIVER:
        consent["given_by"] = rng.choice(GIVERS).value
    level = rng.choice(list(HarmLevel))
    if level is HarmLevel.NONE:
        risk: dict[str, Any] = {"level": level.value}
    elif level is HarmLevel.UNKNOWN:
        risk = {"level": level.value, "to": rng.choice(_values(HarmTo))}
    else:
        risk = {"level": level.value, "to": rng.choice(HARM_TARGETS).value}
    if risk.get("to") == HarmTo.ANOTHER_PERSON.value and rng.random() < 0.5:
        risk["other_person"] = rng.choice([p for p in PersonAtRisk if p is not PersonAtRisk.NOT_APPLICABLE]).value
    assessment: dict[str, Any] = {}
    for name in JUDGEMENTS:
        value = rng.choice(list(Judgement))
        if value is Judgement.NOT_ASSESSED:
            if rng.random() < 0.5:
                assessment[name] = {"value": value.value}
        else:
            assessment[name] = {"value": value.value, "reason": f"recorded reason {rng.randrange(1000)}"}
    categories = _values(DataCategory)
    req: dict[str, Any] = {
        "as_at": _random_date(rng).isoformat(),
        "interaction": rng.choice(_values(Interaction)),
        "discloser": discloser,
        "recipient": recipient,
        "subject": subject,
        "purpose": rng.choice(_values(Purpose)),
        "data": {
            "categories": rng.sample(categories, rng.randrange(1, len(categories) + 1)),
            "identifiability": rng.choice(_values(Identifiability)),
            "in_confidence": rng.choice(_values(YesNoUnknown)),
            "already_public": rng.choice(_values(YesNoUnknown)),
            "art89_safeguards": rng.choice(_values(YesNoUnknown)),
        },
        "consent": _fit_giver(consent, age),
        "risk_of_harm": risk,
        "statutory_request": rng.choice(_values(StatutoryRequest)),
        "assessment": assessment,
    }
    if rng.random() < 0.2:
        req["request_id"] = f"case-{rng.randrange(10**6)}"
    return req


def deterministic_request_dicts(n: int, seed: int = 20240601) -> list[dict[str, Any]]:
    """``n`` valid requests, the same list for the same ``seed`` on every run and machine."""
    rng = random.Random(seed)
    return [random_request_dict(rng) for _ in range(n)]


# ---------------------------------------------------------------------- parsed YAML (issue 11: the parse cache)

from datetime import timezone  # noqa: E402 - kept with the one strategy that needs it

_yaml_keys = st.one_of(
    st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.dates(), st.sampled_from(["\x00", "\x00a", "v"]),
)
_yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.sampled_from([float("inf"), float("-inf")]),
    st.text(max_size=20), st.dates(), st.datetimes(timezones=st.sampled_from([None, timezone.utc])).map(lambda d: d.replace(fold=0)), st.binary(max_size=8),
)


def parsed_yaml_values() -> st.SearchStrategy[Any]:
    """What YAML's safe constructor can build: scalars, dates, bytes, lists, mappings with
    keys of any scalar kind (including keys that look like the cache's own tag), sets, pairs."""
    return st.recursive(
        _yaml_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(_yaml_keys, inner, max_size=4),
            st.sets(_yaml_keys, max_size=3),
            st.lists(st.tuples(st.text(max_size=4), inner), max_size=3),
        ),
        max_leaves=20,
    )
