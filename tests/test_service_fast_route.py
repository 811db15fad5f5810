"""``POST /v1/decisions`` through the fast route (service/fast_route.py) and through the FastAPI
route it stands in front of: the same answer, byte for byte and header for header, and the
same metrics, for a success and for every class of error; and the requests it leaves to
FastAPI are left to it untouched.

In process, at the ASGI level: each request is sent to the app ``create_app`` returns and,
the same request again, straight to its ``fallback`` (the FastAPI app with the bundle-hash
middleware), which is what served every request before the fast route. A spy on the fallback
says which of the two answered. (tests/test_service.py runs the same behaviour over real
HTTP, where the fast route answers.)"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from service_common import ROOT, example, make_tokens  # noqa: E402

from sharelaw import AuditLog  # noqa: E402
from sharelaw.engine.pipeline import Engine  # noqa: E402
from sharelaw.service.app import create_app  # noqa: E402
from sharelaw.service.config import ServiceConfig  # noqa: E402
from sharelaw.service.fast_route import FastDecisions  # noqa: E402

Headers = list[tuple[bytes, bytes]]


class Spy:
    """Wraps the fallback app: counts the requests it is given."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


def call(app: Any, body: bytes | list[bytes], *, query: bytes = b"", headers: Headers = (),  # type: ignore[assignment]
         method: str = "POST", path: str = "/v1/decisions", disconnect: bool = False) -> tuple[Any, ...]:
    """One request through ``app``: (status, headers, body, the exception raised or None)."""
    chunks = body if isinstance(body, list) else [body]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        messages = messages[:1]
        messages[0]["more_body"] = True
        messages.append({"type": "http.disconnect"})
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query,
             "headers": list(headers), "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8080), "state": {}}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> BaseException | None:
        try:
            await app(scope, receive, send)
        except Exception as exc:  # noqa: BLE001 - compared between the two routes
            return exc
        return None

    raised = asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], [tuple(h) for h in start["headers"]], body_out, raised


def normalised(answer: tuple[Any, ...]) -> tuple[Any, ...]:
    """The answer with what differs between any two calls (a new decision id, an error's log reference) masked."""
    status, headers, body, raised = answer
    ids = [v for k, v in headers if k == b"decision-id"]
    masked = [(k, b"ID" if k == b"decision-id" else v.replace(ids[0], b"ID") if ids else v) for k, v in headers]
    body = re.sub(rb"error [0-9a-f]{12}", b"error REF", body)
    return status, masked, body, type(raised).__name__ if raised else None


def counters(app: FastDecisions) -> dict[str, Counter[Any]]:
    m = app.service.metrics
    return {"decisions": Counter(m.decisions), "errors": Counter(m.errors), "appends": Counter(m.appends),
            "requests": Counter(m.requests), "count": Counter({"decided": m._count})}


def delta(after: dict[str, Counter[Any]], before: dict[str, Counter[Any]]) -> dict[str, Counter[Any]]:
    return {k: after[k] - before[k] for k in after}


def both(app: FastDecisions, body: bytes | list[bytes], *, fast: bool, **kw: Any) -> tuple[Any, ...]:
    """The request through the app and then through its fallback: the same answer and metrics; who answered."""
    spy = Spy(app.fallback)
    app.fallback = spy
    try:
        before = counters(app)
        via_app = call(app, body, **kw)
        middle = counters(app)
        served_by_fallback = spy.calls
        via_fastapi = call(spy.app, body, **kw)
        after = counters(app)
    finally:
        app.fallback = spy.app
    assert served_by_fallback == (0 if fast else 1), "fast route" if fast else "FastAPI route"
    assert normalised(via_app) == normalised(via_fastapi)
    assert delta(middle, before) == delta(after, middle)
    return via_app


def bearer(token: str) -> Headers:
    return [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("fast")
    tokens = make_tokens(d / "tokens.json")
    log = f"sqlite:///{d / 'audit.db'}"
    app = create_app(ServiceConfig(tokens=str(d / "tokens.json"), log=log, jobs_dir=str(d / "jobs"),
                                   max_body_bytes=64 << 10))
    assert isinstance(app, FastDecisions)
    yield app, tokens, log
    app.service.close()


def test_a_decision_is_the_same_bytes_headers_and_metrics_through_either_route(served: Any) -> None:
    app, tokens, _ = served
    for path in sorted((ROOT / "examples").glob("0*.json")):
        status, headers, body, _ = both(app, path.read_bytes(), fast=True, headers=bearer(tokens["decider"]))
        assert status == 200 and json.loads(body)["outcome"], path.name
        assert [k for k, _ in headers] == [b"decision-id", b"content-length", b"content-type", b"sharelaw-bundle-hash"]
    # the body in several chunks, an admin token, record=false, the scheme in capitals: still the fast route
    raw = json.dumps(example()).encode()
    both(app, [raw[:100], raw[100:2000], raw[2000:]], fast=True, headers=bearer(tokens["admin"]), query=b"record=false")
    both(app, raw, fast=True, headers=[(b"authorization", f"BEARER  {tokens['decider']} ".encode())])


def test_a_recorded_decision_goes_to_the_audit_log_as_through_the_fastapi_route(served: Any) -> None:
    app, tokens, log = served
    status, headers, body, _ = both(app, json.dumps(example()).encode(), fast=True, query=b"record=true",
                                    headers=bearer(tokens["decider"]))
    got = dict(headers)
    assert status == 200 and got[b"location"] == b"/v1/decisions/" + got[b"decision-id"]
    assert [k for k, _ in headers][:2] == [b"decision-id", b"location"]
    with AuditLog.open(log, read_only=True) as opened:
        rec = opened.get(got[b"decision-id"].decode())
        assert rec.body["decision"] == json.loads(body)
        assert rec.body["actor"]["person"] == "school-app"


@pytest.mark.parametrize("body", [
    b'{"as_at": "2026-13-01", "interaction": "gossip"}',
    b'{"request_id": "a", "request_id": "b"}',
    b"not json",
    b"[1, 2]",
    b"",
    json.dumps({**example(), "subject": {"age": -4}}).encode("utf-16"),
])
def test_an_invalid_body_is_the_same_422_through_either_route(served: Any, body: bytes) -> None:
    app, tokens, log = served
    with AuditLog.open(log, read_only=True) as opened:
        before = len(opened)
    status, headers, out, _ = both(app, body, fast=True, query=b"record=true", headers=bearer(tokens["decider"]))
    assert status == 422 and dict(headers)[b"content-type"] == b"application/problem+json"
    assert json.loads(out)["count"] >= 1 and b"decision-id" not in dict(headers)
    with AuditLog.open(log, read_only=True) as opened:
        assert len(opened) == before


def test_a_body_over_the_limit_is_the_same_413_declared_or_not(served: Any) -> None:
    app, tokens, _ = served
    big = json.dumps({**example(), "request_id": "x" * (64 << 10)}).encode()
    chunks = [big[i:i + 16384] for i in range(0, len(big), 16384)]
    # no Content-Length (chunked): read until the limit is passed, by the fast route
    assert both(app, chunks, fast=True, headers=bearer(tokens["decider"]))[0] == 413
    # declared too large: known before the body, left to FastAPI
    declared = bearer(tokens["decider"]) + [(b"content-length", str(len(big)).encode())]
    assert both(app, big, fast=False, headers=declared)[0] == 413
    odd = bearer(tokens["decider"]) + [(b"content-length", "²".encode("latin-1"))]
    both(app, b"{}", fast=False, headers=odd)  # not plain digits: FastAPI's answer, whatever it is


@pytest.mark.parametrize("case", ["no token", "unknown token", "not bearer", "auditor", "bad record", "two params",
                                  "json-ld", "trailing slash", "get"])
def test_what_the_fast_route_leaves_to_fastapi_is_answered_by_it(served: Any, case: str) -> None:
    app, tokens, _ = served
    raw = json.dumps(example()).encode()
    kw: dict[str, Any] = {"headers": bearer(tokens["decider"])}
    if case == "no token":
        kw["headers"] = []
    elif case == "unknown token":
        kw["headers"] = bearer("shl_not-a-token")
    elif case == "not bearer":
        kw["headers"] = [(b"authorization", f"Basic {tokens['decider']}".encode())]
    elif case == "auditor":
        kw["headers"] = bearer(tokens["auditor"])
    elif case == "bad record":
        kw["query"] = b"record=maybe"
    elif case == "two params":
        kw["query"] = b"record=true&record=false"
    elif case == "json-ld":
        kw["headers"] = bearer(tokens["decider"]) + [(b"accept", b"application/ld+json")]
    elif case == "trailing slash":
        kw["path"] = "/v1/decisions/"
    elif case == "get":
        kw["method"] = "GET"
    status = both(app, raw, fast=False, **kw)[0]
    expected = {"no token": 401, "unknown token": 401, "not bearer": 401, "auditor": 403, "bad record": 422,
                "two params": 200, "json-ld": 200, "trailing slash": 307, "get": 405}[case]
    assert status == expected


def test_an_engine_fault_is_the_same_500_with_no_decision_and_a_disconnect_the_same_fault(
        served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, tokens, log = served
    original = Engine._decide

    def faulty(self: Engine, req: Any) -> Any:
        if req.request_id == "inject-fault":
            raise ZeroDivisionError("injected fault")
        return original(self, req)

    monkeypatch.setattr(Engine, "_decide", faulty)
    with AuditLog.open(log, read_only=True) as opened:
        before = len(opened)
    for query in (b"", b"record=true"):
        status, headers, body, _ = both(app, json.dumps({**example(), "request_id": "inject-fault"}).encode(),
                                        fast=True, query=query, headers=bearer(tokens["decider"]))
        assert status == 500 and json.loads(body)["code"] == "engine_error" and b"decision-id" not in dict(headers)
    with AuditLog.open(log, read_only=True) as opened:
        assert len(opened) == before
    # the client gone before the whole body came: Starlette's ClientDisconnect, a 500 and the fault raised
    status, _, body, raised = both(app, json.dumps(example()).encode(), fast=True, disconnect=True,
                                   headers=bearer(tokens["decider"]))
    assert status == 500 and json.loads(body)["code"] == "internal_error" and type(raised).__name__ == "ClientDisconnect"


def test_the_timeout_is_the_same_503_on_the_loop_and_on_a_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    app = create_app(ServiceConfig(tokens=str(tmp_path / "tokens.json"), log=f"sqlite:///{tmp_path / 'a.db'}",
                                   timeout_seconds=0.2, jobs_dir=str(tmp_path / "jobs")))
    original = Engine._decide

    def slow(self: Engine, req: Any) -> Any:
        if req.request_id == "inject-slow":
            time.sleep(0.5)
        return original(self, req)

    monkeypatch.setattr(Engine, "_decide", slow)
    try:
        raw = json.dumps({**example(), "request_id": "inject-slow"}).encode()
        for query in (b"", b"record=true"):  # decided on the loop; recorded, on a thread
            status, _, body, _ = both(app, raw, fast=True, query=query, headers=bearer(tokens["decider"]))
            assert status == 503 and json.loads(body)["code"] == "timeout"
    finally:
        app.service.close()


def test_record_settings_are_the_same_through_either_route(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    raw = json.dumps(example()).encode()
    required = create_app(ServiceConfig(tokens=str(tmp_path / "tokens.json"), log=f"sqlite:///{tmp_path / 'r.db'}",
                                        record_default=True, record_required=True, jobs_dir=str(tmp_path / "j1")))
    no_log = create_app(ServiceConfig(tokens=str(tmp_path / "tokens.json"), jobs_dir=str(tmp_path / "j2")))
    try:
        h = bearer(tokens["decider"])
        body = both(required, raw, fast=False, query=b"record=false", headers=h)[2]
        assert json.loads(body)["code"] == "record_required"
        for query in (b"", b"record=true"):
            status, headers, _, _ = both(required, raw, fast=True, query=query, headers=h)
            assert status == 200 and b"location" in dict(headers)
        assert json.loads(both(no_log, raw, fast=False, query=b"record=true", headers=h)[2])["code"] == "log_not_configured"
        assert both(no_log, raw, fast=True, query=b"record=false", headers=h)[0] == 200
    finally:
        required.service.close()
        no_log.service.close()


def test_metrics_render_the_fast_routes_decisions_under_the_routes_path(served: Any) -> None:
    app, tokens, _ = served
    call(app, json.dumps(example()).encode(), headers=bearer(tokens["decider"]))
    call(app, b"{", headers=bearer(tokens["decider"]))
    text = app.service.metrics.render()
    assert 'sharelaw_http_requests_total{route="/v1/decisions",status="200"}' in text
    assert 'sharelaw_http_requests_total{route="/v1/decisions",status="422"}' in text
    assert 'sharelaw_errors_total{code="request_not_json"}' in text
