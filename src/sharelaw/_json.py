"""The decision document as JSON text: what ``sharelaw decide --format json`` prints and the
service returns, byte for byte.

``json.dumps(indent=2, ensure_ascii=False)`` is the definition. orjson's two-space indent
writes the same bytes for a decision (strings, integers, booleans, null, lists and objects
in field order; a decision has no float, the one type the two encoders write differently:
tests/test_decision_json.py holds the two equal on generated decisions and checks that no
field of the decision schema is a number other than an integer) about 25 times faster, which
matters for a 30 KB decision served over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; json is the definition
    orjson = None  # type: ignore[assignment]


def decision_json(document: dict[str, Any]) -> str:
    """``document`` (a ``Decision.model_dump(mode="json")``) as indented JSON text, newline-ended."""
    if orjson is not None:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
