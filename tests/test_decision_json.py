"""The decision document written by orjson is byte-identical to json.dumps(indent=2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from strategies import deterministic_request_dicts  # noqa: E402

import sharelaw  # noqa: E402
from sharelaw._json import decision_json  # noqa: E402
from sharelaw.decision import Decision  # noqa: E402


def _reference(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_generated_decisions_are_written_byte_for_byte_as_json_dumps_writes_them() -> None:
    engine = sharelaw.default_engine()
    compared = 0
    for request in deterministic_request_dicts(2000, seed=11):
        try:
            document = engine.decide(request).model_dump(mode="json")
        except sharelaw.RequestError:
            continue
        assert decision_json(document) == _reference(document)
        compared += 1
    assert compared > 1000


def test_names_from_the_request_in_any_script_are_written_alike() -> None:
    # request text reaches the decision (names, request_id): non-ASCII, quotes, backslashes,
    # control characters (escaped by both), astral characters
    engine = sharelaw.default_engine()
    example = json.loads((Path(__file__).parents[1] / "examples" / "05-hospital-assists-s47-enquiry.json").read_text("utf-8"))
    for text in ["Ysgol Gymraeg Llanfair", "\"quoted\" \\ back", "\u00e9\u4e2d\U0001f600", "tab\there\x01", "\u2028\u2029"]:
        document = engine.decide({**example, "request_id": text}).model_dump(mode="json")
        assert decision_json(document) == _reference(document)


def _number_types(schema: Any, found: set[str]) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "number":
            found.add(json.dumps(schema, sort_keys=True))
        for value in schema.values():
            _number_types(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _number_types(value, found)


def test_the_decision_schema_has_no_float_the_two_encoders_would_write_differently() -> None:
    found: set[str] = set()
    _number_types(Decision.model_json_schema(mode="serialization"), found)
    assert found == set()
