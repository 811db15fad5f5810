"""RFC 9457 problem details (``application/problem+json``) carrying the CLI's error codes.

A request error carries exactly ``RequestError.to_dict()`` (``code``, ``count``,
``errors``: each ``loc``, ``message``, ``code``), what ``sharelaw decide --format json``
prints for the same input."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from ..errors import RequestError

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raised inside a route: becomes the problem response."""

    def __init__(self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def document(self) -> dict[str, Any]:
        return problem_document(self.status, self.code, self.detail, **self.extra)

    @classmethod
    def one_field(cls, code: str, loc: str, message: str, *, detail: str | None = None,
                  error_code: str | None = None) -> "Problem":
        """A 422 naming one bad field (a query parameter, a header): the document of a request
        error with one entry, ``detail`` (default: the message) on top."""
        return cls(422, code, message if detail is None else detail, count=1,
                   errors=[{"loc": loc, "message": message, "code": error_code or code}])

    @classmethod
    def from_request_error(cls, exc: RequestError, status: int = 422) -> "Problem":
        doc = exc.to_dict()
        detail = f"{doc['count']} error(s) in the request; nothing was decided or recorded"
        return cls(status, doc["code"], detail, count=doc["count"], errors=doc["errors"])


def problem_document(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"urn:sharelaw:problem:{code}", "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail, "code": code, **extra}


def problem_bytes(status: int, code: str, detail: str, **extra: Any) -> bytes:
    return json.dumps(problem_document(status, code, detail, **extra), ensure_ascii=False).encode("utf-8")


#: The problem document's JSON Schema, for the OpenAPI description.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "A stable error code, as the CLI prints it."},
        "count": {"type": "integer", "description": "How many field errors there are in all."},
        "errors": {
            "type": "array",
            "description": "The field errors (the first 100; count says how many in all).",
            "items": {"type": "object", "required": ["loc", "message", "code"],
                      "properties": {"loc": {"type": "string"}, "message": {"type": "string"},
                                     "code": {"type": "string"}}},
        },
    },
}
