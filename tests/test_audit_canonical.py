"""The fast canonical JSON encoder (orjson with sorted keys) gives the definition's bytes.

``record.canonical`` (json.dumps with sorted keys, compact separators, UTF-8 as itself,
no NaN) is the definition of what is hashed; ``canonical_fast`` is what the append and
verify paths use. These tests hold the two to the same bytes on 100,000 seeded records
shaped like audit records (non-ASCII, control characters, big integers, deep nesting,
real decisions), check that what orjson cannot reproduce falls back to the definition,
and pin the cases (floats) for which the fast path is not used.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import deterministic_request_dicts

from sharelaw import Engine
from sharelaw.audit.record import (
    Action,
    Actor,
    Prepared,
    action_fields,
    canonical,
    canonical_fast,
    decision_fields,
    parse_json,
    recanonical,
)
from sharelaw.decision import Decision
from sharelaw.request import SharingRequest

RECORDS = 100_000

_ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz_-",
    "".join(chr(c) for c in range(0x20)) + '"\\/\x7f',  # every control character, the escapes
    "éèàçœßøÆ£€✓—‘’“”",  # Latin-1 and beyond
    "\u2028\u2029\ufeff\u00ad\u200b",  # separators, BOM, soft hyphen, zero-width space
    "中文日本語한국어العربيةעברית",  # CJK, right-to-left
    "\U0001F600\U0001F4A9\U00010348\U0010FFFF\uE000\uFFFD",  # astral, private use, replacement
]
_INT_EDGES = [0, 1, -1, 2**31, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1,
              2**64, -(2**63) - 1, 10**30, -(10**40)]


def _text(rng: random.Random) -> str:
    n = rng.choice((0, 1, 2, 4, 9, 24))
    return "".join(rng.choice(rng.choice(_ALPHABETS)) for _ in range(n))


def _leaf(rng: random.Random):
    r = rng.random()
    if r < 0.45:
        return _text(rng)
    if r < 0.6:
        return rng.randint(-1000, 10**6)
    if r < 0.7:
        return rng.choice(_INT_EDGES)
    if r < 0.8:
        return rng.choice((True, False))
    return None


def _tree(rng: random.Random, depth: int):
    if depth <= 0 or rng.random() < 0.35:
        return _leaf(rng)
    if rng.random() < 0.5:
        return [_tree(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {_text(rng): _tree(rng, depth - 1) for _ in range(rng.randint(0, 4))}


def _record(rng: random.Random, i: int) -> dict:
    """A value shaped like an audit record body (fixed top-level keys, free content below)."""
    body = {"format": "sharelaw/audit-record@1", "kind": rng.choice(("decision", "action")), "seq": i + 1,
            "prev_hash": "sha256:" + rng.randbytes(32).hex(), "record_id": rng.randbytes(16).hex(),
            "decision_id": rng.randbytes(16).hex(), "recorded_at": "2026-06-01T10:00:00.000000Z",
            "actor": {"agency": _text(rng), "role": _text(rng), "person": rng.choice((None, _text(rng)))}}
    for key in ("request", "decision", "action"):
        if rng.random() < 0.7:
            body[key] = _tree(rng, rng.randint(1, 5))
    return body


def test_the_fast_encoder_gives_the_definitions_bytes_on_100000_records():
    rng = random.Random(20261202)
    for i in range(RECORDS):
        value = _record(rng, i)
        expected = canonical(value)
        assert canonical_fast(value) == expected, f"record {i}: {value!r}"
        # what verify does: read the stored bytes back and re-encode them
        parsed, has_float = parse_json(expected)
        assert not has_float and recanonical(parsed, has_float) == expected


def test_real_decision_records_encode_identically_and_prepared_bodies_splice_exactly():
    engine = Engine()
    actor = Actor(agency="St Mary’s — école", role="DSL ✓", person="Zoë")
    action = Action.model_validate({"outcome": "shared", "at": "2026-06-01T10:15:00+01:00", "form": "telephone",
                                    "consent": "not_obtained", "reasons": "£ é ✓ \u2028 \x01"})
    try:
        for n, req in enumerate(deterministic_request_dicts(150, seed=11)):
            decision = engine.decide(req).model_dump(mode="json")
            request = SharingRequest.model_validate(req).model_dump(mode="json")
            fields = decision_fields(record_id=f"{n:032x}", recorded_at="2026-06-01T10:00:00.000000Z", actor=actor,
                                     request=request, decision=decision)
            for prepared in (Prepared(fields), Prepared(action_fields(
                    record_id=f"{n:032x}", recorded_at="2026-06-01T10:00:00.000000Z", actor=actor,
                    decision_id="d" * 32, action=action))):
                for seq, prev in ((1, "sha256:" + "0" * 64), (10**12 + n, "sha256:" + "ab" * 32)):
                    body = prepared.body(seq, prev)
                    assert prepared.render(seq, prev) == canonical(body) == canonical_fast(body)
    finally:
        engine.close()


def _number_types(schema) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        if schema.get("type") == "number" or (isinstance(schema.get("type"), list) and "number" in schema["type"]):
            found.append(str(schema.get("title", schema)))
        for value in schema.values():
            found += _number_types(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _number_types(value)
    return found


@pytest.mark.parametrize("model", [SharingRequest, Decision, Actor, Action])
def test_what_is_recorded_has_no_float_field(model):
    """canonical_fast is used on model dumps without a float check: that holds only while the
    recorded models have no float (JSON Schema "number") anywhere. A new float field fails here."""
    assert _number_types(model.model_json_schema(mode="serialization")) == []


@pytest.mark.parametrize("value, why", [
    (2**64, "an integer beyond orjson's 64 bits"),
    (-(2**63) - 1, "an integer beyond orjson's 64 bits"),
    ({1: "a", 2: "b"}, "an int key (the definition writes it as a string)"),
    ({True: 1}, "a bool key"),
    (OrderedDict([("b", 1), ("a", 2)]), "a dict subclass"),
    (type("S", (str,), {})("x"), "a str subclass"),
    (type("I", (int,), {})(5), "an int subclass"),
    ([], "nesting beyond orjson's depth (255)"),
])
def test_what_orjson_cannot_reproduce_takes_the_definitions_path(value, why):
    deep = value
    if why.startswith("nesting"):
        for _ in range(300):
            deep = [deep]
    assert canonical_fast(deep) == canonical(deep), why


def test_strings_that_are_not_unicode_fail_as_the_definition_does():
    with pytest.raises(UnicodeEncodeError):
        canonical({"a": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        canonical_fast({"a": "\ud800"})


@pytest.mark.parametrize("value, orjson_writes", [
    (1e-05, b"0.00001"),  # the definition: 1e-05
    (float("nan"), b"null"),  # the definition refuses NaN
    (float("inf"), b"null"),  # and infinity
])
def test_floats_are_why_the_fast_path_is_not_for_them(value, orjson_writes):
    import orjson

    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == orjson_writes
    try:
        assert canonical(value) != orjson_writes
    except ValueError:
        pass  # NaN: refused by the definition


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20))
def test_a_body_with_floats_is_re_encoded_by_the_definition(value):
    """verify reads a stored body with parse_json: one holding a float goes the definition's
    way, so a body with 1e+16 in it is judged exactly as before."""
    text = canonical(value)
    parsed, has_float = parse_json(text)
    assert recanonical(parsed, has_float) == text
    assert has_float or canonical_fast(parsed) == text


def test_parse_json_flags_floats_and_constants():
    assert parse_json('{"a":1}') == ({"a": 1}, False)
    assert parse_json('{"a":1.5}')[1] is True
    assert parse_json('[NaN]')[1] is True
    assert json.loads('[1e16]') == parse_json('[1e16]')[0]
