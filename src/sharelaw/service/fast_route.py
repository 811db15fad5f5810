"""``POST /v1/decisions``, the hot path, as a plain ASGI handler in front of the FastAPI app.

FastAPI's routing, dependency solving and exception middleware cost about 0.1-0.15 ms a
request (docs/performance.md, "HTTP service"), a quarter of a decision. ``FastDecisions``
answers the common case itself and gives every other request, untouched, to the FastAPI app
(``fallback``), whose route for ``POST /v1/decisions`` stays the reference and the OpenAPI
description. The common case is decided from the request line and headers alone, before a
byte of the body is read:

- exactly ``POST /v1/decisions`` (no root path), with no query string or exactly
  ``record=true`` or ``record=false``, and ``record`` allowed by the service's settings;
- a bearer token that is known and has the decider role (or admin), read as FastAPI's
  ``HTTPBearer`` reads it (the first ``Authorization`` header);
- no ``application/ld+json`` in the (first) ``Accept`` header, no ``Idempotency-Key``, and a
  ``Content-Length``, if any, of plain digits within the body limit.

Everything else (401, 403, a bad or unusual query, 409, 406, a declared 413, JSON-LD) is
answered by FastAPI, so those answers are FastAPI's by construction. Once the fast path has
taken a request, what can still happen is what happens after the body is read, and it is
done as the FastAPI route does it: the body read with the same limit (413 as soon as it is
exceeded), then ``Service.answer`` (the route's own code: 422 naming every bad field, 500
with no decision, 503 after the timeout, recording through the audit log), the headers of
``decision_headers``, the bundle hash last, and the same metrics (errors by code, requests
by route and status). Response bytes and headers are those of the FastAPI route
(tests/test_service_fast_route.py compares the two for each answer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, MutableMapping

from starlette.requests import ClientDisconnect

from .problems import MEDIA_TYPE as PROBLEM
from .problems import Problem, problem_bytes

if TYPE_CHECKING:
    from .app import Service

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTE = "/v1/decisions"
JSON = b"application/json"
#: The query strings the fast path reads itself, and what FastAPI makes of each (``bool | None``).
QUERIES: dict[bytes, bool | None] = {b"": None, b"record=true": True, b"record=false": False}


class FastDecisions:
    """ASGI: ``POST /v1/decisions`` in the common case; everything else to ``fallback``."""

    def __init__(self, fallback: ASGIApp, service: "Service", bundle_header: tuple[bytes, bytes],
                 decision_headers: Callable[[str, bool], dict[str, str]]) -> None:
        self.fallback = fallback
        self.service = service
        self.bundle_header = bundle_header
        self.decision_headers = decision_headers
        self.limit = service.config.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != ROUTE or scope.get("root_path"):
            await self.fallback(scope, receive, send)
            return
        taken = self.take(scope)
        if taken is None:
            await self.fallback(scope, receive, send)
            return
        token, wanted = taken
        service = self.service
        try:
            raw = await self.read_body(receive)
            decision_id, body, _ = await service.answer(raw, token, wanted)
        except Problem as exc:  # as the FastAPI app's Problem handler answers it
            service.metrics.error(exc.code)
            await self.respond(send, exc.status, problem_bytes(exc.status, exc.code, exc.detail, **exc.extra),
                               PROBLEM.encode(), exc.headers)
            return
        except Exception as exc:  # as Starlette's ServerErrorMiddleware with the app's handler: answer, then raise
            service.metrics.error("internal_error")
            await self.respond(send, 500, problem_bytes(500, "internal_error", f"internal error: {type(exc).__name__}"),
                               PROBLEM.encode(), None)
            raise
        await self.respond(send, 200, body, JSON, self.decision_headers(decision_id, wanted))

    def take(self, scope: Scope) -> tuple[Any, bool] | None:
        """(token, recorded) when this request is the common case, else None (FastAPI answers it)."""
        try:
            record = QUERIES[scope["query_string"]]
        except KeyError:
            return None
        authorization = accept = length = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
            if name == b"authorization":
                if authorization is None:
                    authorization = value
            elif name == b"accept":
                if accept is None:
                    accept = value
            elif name == b"content-length":
                if length is None:
                    length = value
            elif name == b"idempotency-key":
                return None  # a retry's key: the FastAPI route reads and checks it
        if authorization is None or (accept is not None and b"application/ld+json" in accept):
            return None
        if length is not None and not (length.isdigit() and int(length) <= self.limit):
            return None
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")  # fastapi.security.HTTPBearer
        credentials = credentials.strip()
        if not scheme or not credentials or scheme.lower() != "bearer":
            return None
        token = self.service.tokens.find(credentials)
        if token is None or not token.has("decider"):
            return None
        try:
            wanted = self.service.record_wanted(record)
        except Problem:
            return None
        return token, wanted

    async def read_body(self, receive: Receive) -> bytes:
        """The body, or 413 as soon as it exceeds the limit (app.read_body over Starlette's stream)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:
                    raise Problem(413, "request_too_large", f"the body is larger than {self.limit} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
            elif message["type"] == "http.disconnect":
                raise ClientDisconnect()

    async def respond(self, send: Send, status: int, body: bytes, media: bytes, headers: dict[str, str] | None) -> None:
        """As starlette.responses.Response sends it, with the bundle hash appended (app.BundleHeader)."""
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()] if headers else []
        raw += [(b"content-length", str(len(body)).encode()), (b"content-type", media), self.bundle_header]
        self.service.metrics.request(ROUTE, status)
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
