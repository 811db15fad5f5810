"""The HTTP decision service, as a real server process on a free port, over HTTP (httpx).

Every endpoint, every role, and the 401/403/404/406/409/413/422/500 paths; a decision over
HTTP is byte-identical to ``sharelaw decide --format json``; the decision id joins the
audit record; the actor recorded is the token's identity."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from service_common import ROOT, Server, client, env, example, make_tokens  # noqa: E402

from sharelaw import AuditLog  # noqa: E402
from sharelaw.cli import main as cli_main  # noqa: E402

PROBLEM = "application/problem+json"
ACTION = {"outcome": "shared", "at": "2026-06-01T10:15:00+01:00", "form": "telephone", "consent": "not_obtained",
          "consulted": ["caldicott_guardian"], "reasons": "A child at risk of significant harm."}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("service")
    tokens = make_tokens(d / "tokens.json")
    log = f"sqlite:///{d / 'audit.db'}"
    config = {"tokens": str(d / "tokens.json"), "log": log, "max_batch": 5, "jobs_dir": str(d / "jobs")}
    server = Server(config, fault=True).wait_ready()
    yield server, tokens, log, d
    server.stop()


def cli(*argv: str) -> tuple[int, str, str]:
    """``sharelaw ARGV`` in this process (the same main() the console script runs)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli_main(list(argv))
    return code, out.getvalue(), err.getvalue()


def log_count(log: str) -> int:
    with AuditLog.open(log, read_only=True) as opened:
        return len(opened)


def problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"].startswith("urn:sharelaw:problem:")
    if code:
        assert body["code"] == code, body
    assert "outcome" not in body and "decision" not in body
    return body


def wait_job(c: httpx.Client, r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 202, r.text
    href = r.headers["location"]
    for _ in range(300):
        state: dict[str, Any] = c.get(href).json()
        if state["status"] != "running":
            return state
        time.sleep(0.1)
    raise AssertionError("job did not finish")


ENDPOINTS = [
    ("POST", "/v1/decisions"), ("POST", "/v1/decisions/batch"), ("GET", "/v1/decisions/abc"),
    ("POST", "/v1/decisions/abc/actions"), ("GET", "/v1/rules"), ("GET", "/v1/rules/diff?from=2020-01-01&to=2021-01-01"),
    ("GET", "/v1/schema/request"), ("GET", "/v1/audit/head"), ("POST", "/v1/audit/verify"), ("POST", "/v1/replay"),
    ("GET", "/v1/jobs/0123456789abcdef0123456789abcdef"), ("GET", "/metrics"), ("GET", "/openapi.json"),
]


def test_probes_need_no_token_and_every_response_names_the_bundle(setup: Any) -> None:
    server, _, _, _ = setup
    with client(server, None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["log"] == "reachable"
        bundle = ready.json()["bundle_hash"]
        assert bundle.startswith("sha256:")
        for method, path in ENDPOINTS:
            assert c.request(method, path).headers["sharelaw-bundle-hash"] == bundle


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_every_endpoint_but_the_probes_needs_a_known_token(setup: Any, method: str, path: str) -> None:
    server, _, _, _ = setup
    with client(server, None) as c:
        r = c.request(method, path, content=b"{}")
        problem(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"].startswith("Bearer")
    with client(server, "shl_not-a-token") as c:
        problem(c.request(method, path, content=b"{}"), 401, "token_invalid")


def test_roles(setup: Any) -> None:
    """decider: decide, batch, actions; auditor: log, verify, replay, metrics; admin: all."""
    server, tokens, _, _ = setup
    decider_only = [("POST", "/v1/decisions"), ("POST", "/v1/decisions/batch"), ("POST", "/v1/decisions/x/actions")]
    auditor_only = [("GET", "/v1/audit/head"), ("POST", "/v1/audit/verify"), ("POST", "/v1/replay"),
                    ("GET", "/metrics"), ("GET", "/v1/jobs/0123456789abcdef0123456789abcdef")]
    both = [("GET", "/v1/rules"), ("GET", "/v1/schema/decision"), ("GET", "/openapi.json")]
    with client(server, tokens["decider"]) as c:
        for method, path in auditor_only:
            problem(c.request(method, path), 403, "forbidden")
        for method, path in both:
            assert c.request(method, path).status_code == 200
    with client(server, tokens["auditor"]) as c:
        for method, path in decider_only:
            problem(c.request(method, path, json=example()), 403, "forbidden")
        for method, path in both:
            assert c.request(method, path).status_code == 200
    with client(server, tokens["admin"]) as c:
        assert c.post("/v1/decisions", json=example()).status_code == 200
        assert c.get("/v1/audit/head").status_code == 200
        assert c.get("/metrics").status_code == 200


def test_a_decision_over_http_is_byte_identical_to_the_cli(setup: Any) -> None:
    server, tokens, _, _ = setup
    examples = sorted((ROOT / "examples").glob("0*.json"))
    with client(server, tokens["decider"]) as c:
        for path in examples:
            r = c.post("/v1/decisions", content=path.read_bytes())
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            code, out, _ = cli("decide", str(path), "--format", "json")
            assert code == 0 and r.content == out.encode("utf-8"), path.name
    # and once through the real console command, in its own process
    proc = subprocess.run([sys.executable, "-m", "sharelaw", "decide", str(examples[0]), "--format", "json"],
                          env=env(), cwd=ROOT, capture_output=True, timeout=120, check=True)
    with client(server, tokens["decider"]) as c:
        assert c.post("/v1/decisions", content=examples[0].read_bytes()).content == proc.stdout


def test_a_recorded_decision_id_joins_the_audit_record_with_the_tokens_actor(setup: Any) -> None:
    server, tokens, log, _ = setup
    with client(server, tokens["decider"]) as c:
        r = c.post("/v1/decisions?record=true", json=example())
        assert r.status_code == 200
        decision_id = r.headers["decision-id"]
        assert r.headers["location"] == f"/v1/decisions/{decision_id}"
        shown = c.get(f"/v1/decisions/{decision_id}").json()
    with AuditLog.open(log, read_only=True) as opened:
        rec = opened.get(decision_id)
        assert rec.body["decision"] == json.loads(r.content)
        assert rec.body["actor"] == {"agency": "st-marys-primary", "role": "designated safeguarding lead",
                                     "person": "school-app"}
        assert shown["record"] == rec.exported() and shown["actions"] == []
    code, out, _ = cli("audit", "show", log, decision_id)
    assert code == 0 and json.loads(out) == shown
    # unrecorded: an id, but nothing appended
    with client(server, tokens["decider"]) as c:
        before = log_count(log)
        r = c.post("/v1/decisions", json=example())
        assert r.status_code == 200 and "location" not in r.headers and len(r.headers["decision-id"]) == 32
        assert log_count(log) == before
        problem(c.get(f"/v1/decisions/{r.headers['decision-id']}"), 404, "decision_not_found")


def test_actions_on_a_recorded_decision(setup: Any) -> None:
    server, tokens, log, _ = setup
    with client(server, tokens["decider"]) as c:
        decision_id = c.post("/v1/decisions?record=true", json=example()).headers["decision-id"]
        r = c.post(f"/v1/decisions/{decision_id}/actions", json=ACTION)
        assert r.status_code == 201, r.text
        done = r.json()
        assert done["decision_id"] == decision_id
        shown = c.get(f"/v1/decisions/{decision_id}").json()
        assert [a["record_id"] for a in shown["actions"]] == [done["record_id"]]
        assert shown["actions"][0]["actor"]["person"] == "school-app"
        before = log_count(log)
        bad = problem(c.post(f"/v1/decisions/{decision_id}/actions", json={"outcome": "maybe", "at": "noon"}),
                      422, "action_invalid")
        assert {e["loc"] for e in bad["errors"]} >= {"outcome", "at", "consent", "reasons"}
        problem(c.post(f"/v1/decisions/{decision_id}/actions", content=b'{"outcome": "shared", "outcome": "withheld"}'),
                422, "request_duplicate_key")
        problem(c.post("/v1/decisions/nope/actions", json=ACTION), 404, "decision_not_found")
        assert log_count(log) == before
    with client(server, tokens["decider2"]) as c:  # another agency's token: not its decision
        problem(c.post(f"/v1/decisions/{decision_id}/actions", json=ACTION), 403, "forbidden")
        problem(c.get(f"/v1/decisions/{decision_id}"), 403, "forbidden")
    with client(server, tokens["auditor"]) as c:
        assert c.get(f"/v1/decisions/{decision_id}").json()["actions"][0]["record_id"] == done["record_id"]


@pytest.mark.parametrize("body", [
    b'{"as_at": "2026-13-01", "interaction": "gossip"}',
    b'{"request_id": "a", "request_id": "b"}',
    b"not json",
    b"[1, 2]",
    json.dumps({**example(), "subject": {"age": -4}}).encode("utf-16"),
])
def test_an_invalid_request_is_a_422_naming_every_field_as_the_cli_does(setup: Any, tmp_path: Path, body: bytes) -> None:
    server, tokens, log, _ = setup
    before = log_count(log)
    with client(server, tokens["decider"]) as c:
        got = problem(c.post("/v1/decisions?record=true", content=body), 422)
    (tmp_path / "r.json").write_bytes(body)
    code, out, _ = cli("decide", str(tmp_path / "r.json"), "--format", "json")
    expected = json.loads(out)
    assert code == 2
    assert (got["code"], got["count"]) == (expected["code"], expected["count"])
    assert [{k: e[k] for k in ("loc", "code")} for e in got["errors"]] == \
        [{k: e[k] for k in ("loc", "code")} for e in expected["errors"]]
    assert [e["message"] for e in got["errors"]] == [
        e["message"].replace(str(tmp_path / "r.json"), "the request body") for e in expected["errors"]]
    assert log_count(log) == before


def test_limits_413_and_batch_size(setup: Any) -> None:
    server, tokens, _, _ = setup
    with client(server, tokens["decider"]) as c:
        big = json.dumps({**example(), "request_id": "x" * (1 << 20)}).encode()
        problem(c.post("/v1/decisions", content=big), 413, "request_too_large")
        problem(c.post("/v1/decisions", content=iter([big])), 413, "request_too_large")  # chunked: no length
        problem(c.post("/v1/decisions/batch", json={"requests": [example()] * 6}), 422, "batch_too_large")


def test_an_internal_fault_is_a_500_with_no_decision_and_nothing_recorded(setup: Any) -> None:
    server, tokens, log, _ = setup
    before = log_count(log)
    with client(server, tokens["decider"]) as c:
        body = problem(c.post("/v1/decisions?record=true", json={**example(), "request_id": "inject-fault"}),
                       500, "engine_error")
        # the fault's own text stays in the server's log: the client gets an id to quote
        assert "injected fault" not in body["detail"] and "ZeroDivisionError" not in body["detail"]
        assert re.search(r"error [0-9a-f]{12}", body["detail"]) and "decision-id" not in c.headers
        assert log_count(log) == before
        batch = c.post("/v1/decisions/batch?record=true",
                       json={"requests": [example(), {**example(), "request_id": "inject-fault"}]}).json()
        assert [r["status"] for r in batch["results"]] == [200, 500]
        assert "decision" not in batch["results"][1] and batch["results"][1]["problem"]["code"] == "engine_error"
        assert log_count(log) == before + 1
        metrics = client(server, tokens["auditor"]).get("/metrics").text
        assert 'sharelaw_errors_total{code="engine_error"}' in metrics


def test_batch_answers_each_request_on_its_own(setup: Any) -> None:
    server, tokens, log, _ = setup
    raw = (b'{"requests": [' + json.dumps(example()).encode() + b', {"as_at": "x"}, {"a": 1, "a": 2}, '
           + json.dumps(example("01-council-health-data-to-marketing-company.json")).encode() + b"]}")
    with client(server, tokens["decider"]) as c:
        r = c.post("/v1/decisions/batch?record=true", content=raw)
        assert r.status_code == 200, r.text
        out = r.json()
    assert [x["status"] for x in out["results"]] == [200, 422, 422, 200] and out["decided"] == 2
    assert out["results"][2]["problem"]["code"] == "request_duplicate_key"
    assert out["results"][2]["problem"]["errors"][0]["loc"] == "a"
    code, single, _ = cli("decide", str(ROOT / "examples" / "05-hospital-assists-s47-enquiry.json"), "--format", "json")
    assert out["results"][0]["decision"] == json.loads(single)
    with AuditLog.open(log, read_only=True) as opened:
        for x in (out["results"][0], out["results"][3]):
            assert opened.get(x["decision_id"]).body["decision"] == x["decision"]
    with client(server, tokens["decider"]) as c:
        problem(c.post("/v1/decisions/batch", content=b'{"requests": {}}'), 422, "batch_invalid")
        problem(c.post("/v1/decisions/batch", content=b'{"requests": [], "requests": []}'), 422, "request_duplicate_key")


def test_rules_diff_and_schemas_are_the_cli_documents(setup: Any) -> None:
    server, tokens, _, _ = setup
    with client(server, tokens["auditor"]) as c:
        for query, argv in ((f"?as_at=2010-06-01", ["--as-at", "2010-06-01"]), ("", [])):
            code, out, _ = cli("rules", "list", "--format", "json", *argv)
            assert c.get("/v1/rules" + query).content == out.encode()
        code, out, _ = cli("rules", "diff", "--from", "2012-01-01", "--to", "2020-01-01", "--format", "json")
        assert c.get("/v1/rules/diff?from=2012-01-01&to=2020-01-01").content == out.encode()
        for which in ("request", "decision"):
            assert c.get(f"/v1/schema/{which}").content == cli("schema", which)[1].encode()
        problem(c.get("/v1/rules/diff?from=2020-01-01&to=2012-01-01"), 422, "parameters_invalid")
        problem(c.get("/v1/rules?as_at=1999-01-01"), 422, "parameters_invalid")
        problem(c.get("/v1/rules?as_at=June"), 422, "parameters_invalid")
        problem(c.get("/v1/schema/ruleset-x"), 422, "parameters_invalid")
        problem(c.get("/v1/nowhere"), 404, "not_found")


def test_auditor_head_verify_replay(setup: Any) -> None:
    server, tokens, log, _ = setup
    with client(server, tokens["decider"]) as c:
        assert c.post("/v1/decisions?record=true", json=example()).status_code == 200
    with client(server, tokens["auditor"]) as c:
        head = c.get("/v1/audit/head").json()
        code, out, _ = cli("audit", "head", log)
        assert out == f"{head['seq']} {head['hash']}\n"
        verified = wait_job(c, c.post("/v1/audit/verify"))
        assert verified["status"] == "done" and verified["ok"] is True
        assert verified["result"]["ok"] is True and verified["result"]["records"] >= head["seq"]
        replayed = wait_job(c, c.post("/v1/replay"))
        assert replayed["ok"] is True, replayed
        against = wait_job(c, c.post("/v1/replay?against=current"))
        assert against["ok"] is True and against["kind"] == "replay"
        problem(c.post("/v1/replay?against=yesterday"), 422, "parameters_invalid")
        problem(c.get("/v1/jobs/" + "0" * 32), 404, "job_not_found")
    with client(server, tokens["admin"]) as c:  # an admin reads any job; another auditor's job is not found
        assert c.get(f"/v1/jobs/{against['id']}").json()["ok"] is True


def test_metrics_count_decisions_latency_errors_and_appends(setup: Any) -> None:
    server, tokens, _, _ = setup
    with client(server, tokens["decider"]) as c:
        c.post("/v1/decisions?record=true", json=example())
        c.post("/v1/decisions", content=b"{")
    text = client(server, tokens["auditor"]).get("/metrics").text
    assert 'sharelaw_decisions_total{outcome="must_share"}' in text
    assert "sharelaw_decision_seconds_bucket{le=\"+Inf\"}" in text and "sharelaw_decision_seconds_count" in text
    assert 'sharelaw_errors_total{code="request_not_json"}' in text
    assert 'sharelaw_log_appends_total{kind="decision"}' in text


def test_openapi_and_a_docs_page_with_no_outside_assets(setup: Any) -> None:
    server, tokens, _, _ = setup
    with client(server, tokens["decider"]) as c:
        doc = c.get("/openapi.json").json()
        assert {"/v1/decisions", "/v1/decisions/batch", "/v1/decisions/{decision_id}", "/v1/decisions/{decision_id}/actions",
                "/v1/rules", "/v1/rules/diff", "/v1/schema/{which}", "/v1/audit/head", "/v1/audit/verify",
                "/v1/replay", "/healthz", "/readyz", "/metrics"} <= set(doc["paths"])
        assert doc["components"]["schemas"]["SharingRequest"]["type"] == "object"
    with client(server, None) as c:
        page = c.get("/docs")
        assert page.status_code == 200 and "<script src=\"/docs/app.js\">" in page.text
        assert "http://" not in page.text and "https://" not in page.text
        js = c.get("/docs/app.js")
        assert js.status_code == 200 and "fetch('/openapi.json'" in js.text and "https://" not in js.text


def test_json_ld_by_content_negotiation(setup: Any) -> None:
    server, tokens, _, _ = setup
    with client(server, tokens["decider"]) as c:
        r = c.post("/v1/decisions", json=example(), headers={"Accept": "application/ld+json"})
    import sharelaw
    from sharelaw.dpv import decision_jsonld

    assert r.headers["content-type"] == "application/ld+json"
    # The request is described too (purpose, data, consent, parties), as `decide --format jsonld` does.
    request = sharelaw.parse_request(example())
    assert r.json() == json.loads(json.dumps(decision_jsonld(sharelaw.decide(example()), request)))
    assert any("purpose" in key.lower() for key in json.dumps(r.json()).split('"'))


def test_record_needs_a_log_and_a_slow_decision_is_a_503(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    server = Server({"tokens": str(tmp_path / "tokens.json"), "timeout_seconds": 1.0}, fault=True).wait_ready()
    slow = {**example(), "request_id": "inject-slow"}  # 3 s in the engine
    try:
        with client(server, tokens["decider"]) as c:
            problem(c.post("/v1/decisions?record=true", json=example()), 409, "log_not_configured")
            assert c.post("/v1/decisions", json=example()).status_code == 200
            # A small unrecorded decision is decided on the event loop (docs/service.md, "Limits"): it
            # cannot be cut short, so the 503 comes when it ends, and its decision is dropped.
            started = time.monotonic()
            problem(c.post("/v1/decisions", json=slow), 503, "timeout")
            assert time.monotonic() - started >= 2.9
            # A body over 64 KiB (here: whitespace) is decided on a thread: 503 at the timeout.
            started = time.monotonic()
            problem(c.post("/v1/decisions", content=json.dumps(slow).encode() + b" " * (65 << 10)), 503, "timeout")
            assert time.monotonic() - started < 2.5
        with client(server, tokens["auditor"]) as c:
            problem(c.get("/v1/audit/head"), 409, "log_not_configured")
    finally:
        server.stop()


def test_probes_and_decisions_answer_while_a_batch_decides(tmp_path: Path) -> None:
    """A batch decides on a thread: the event loop, which decides single requests itself, stays free."""
    import threading

    tokens = make_tokens(tmp_path / "tokens.json")
    server = Server({"tokens": str(tmp_path / "tokens.json"), "max_batch": 400}).wait_ready()
    other = example("01-council-health-data-to-marketing-company.json")
    try:
        with client(server, tokens["decider"]) as c:
            alone = c.post("/v1/decisions", json=other)
            assert alone.status_code == 200
            result: list[httpx.Response] = []
            batch = threading.Thread(target=lambda: result.append(
                client(server, tokens["decider"]).post("/v1/decisions/batch", json={"requests": [example()] * 400})))
            batch.start()
            during: list[bytes] = []
            while batch.is_alive():
                assert c.get("/healthz").status_code == 200
                r = c.post("/v1/decisions", json=other)
                assert r.status_code == 200, r.text
                if batch.is_alive():
                    during.append(r.content)
            batch.join()
        assert result[0].status_code == 200 and result[0].json()["decided"] == 400
        assert during and all(body == alone.content for body in during)
    finally:
        server.stop()


def test_record_required_records_every_decision_and_refuses_record_false(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    db = tmp_path / "audit.db"
    server = Server({}, cli_args=["--tokens", str(tmp_path / "tokens.json"), "--log", str(db), "--record",
                                  "required"]).wait_ready()
    log = f"sqlite:///{db}"
    try:
        with client(server, tokens["decider"]) as c:
            for path in ("/v1/decisions?record=false", "/v1/decisions/batch?record=false"):
                body = problem(c.post(path, json=example() if "batch" not in path else {"requests": [example()]}),
                               422, "record_required")
                assert body["errors"] == [{"loc": "query.record", "code": "record_required", "message":
                                           "this service records every decision (--record required): "
                                           "record=false is refused"}]
            assert log_count(log) == 0  # nothing decided, nothing recorded
            for path in ("/v1/decisions", "/v1/decisions?record=true"):
                r = c.post(path, json=example())
                assert r.status_code == 200 and r.headers["location"] == f"/v1/decisions/{r.headers['decision-id']}"
                with AuditLog.open(log, read_only=True) as opened:
                    assert opened.get(r.headers["decision-id"]).body["decision"] == r.json()
            out = c.post("/v1/decisions/batch", json={"requests": [example()]}).json()
            assert out["results"][0]["recorded"] is True and log_count(log) == 3
    finally:
        server.stop()


def test_token_new_prints_the_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    import hashlib
    import stat

    path = tmp_path / "tokens.json"
    code, out, _ = cli("token", "new", "--tokens", str(path), "--id", "app", "--role", "decider",
                       "--agency", "st-marys-primary", "--practitioner-role", "DSL")
    token = out.strip()
    assert code == 0 and token.startswith("shl_") and len(token) > 40
    text = path.read_text()
    assert token not in text and hashlib.sha256(token.encode()).hexdigest() in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cli("token", "new", "--tokens", str(path), "--id", "app", "--role", "auditor")[0] == 2  # id taken
    code, _, err = cli("token", "new", "--tokens", str(path), "--id", "x", "--role", "decider")
    assert code == 2 and "--agency" in err  # a decider's records need its agency and role
    code, out, _ = cli("token", "list", "--tokens", str(path))
    assert out == "app\tdecider\tst-marys-primary\tDSL\n"


def test_serve_refuses_a_bad_token_file_or_log_before_starting(tmp_path: Path) -> None:
    code, _, err = cli("serve", "--tokens", str(tmp_path / "missing.json"))
    assert code == 2 and "no token file" in err
    (tmp_path / "t.json").write_text('{"tokens": "x"}')
    assert cli("serve", "--tokens", str(tmp_path / "t.json"))[0] == 2
    make_tokens(tmp_path / "ok.json")
    code, _, err = cli("serve", "--tokens", str(tmp_path / "ok.json"), "--log", "ftp://nowhere")
    assert code == 2 and "unknown audit log URL scheme" in err
    assert cli("serve", "--tokens", str(tmp_path / "ok.json"), "--record")[0] == 2  # --record needs --log
    assert cli("serve", "--tokens", str(tmp_path / "ok.json"), "--record", "required")[0] == 2
    code, _, err = cli("serve", "--tokens", str(tmp_path / "ok.json"), "--record", "always")
    assert code == 2 and "invalid choice" in err


def test_the_socket_bound_for_worker_processes_has_nodelay() -> None:
    # With --workers N the accepted connections inherit TCP_NODELAY from this socket; without
    # it every keep-alive response waited ~40 ms for the client's delayed ACK (bench_http.py)
    import socket

    import uvicorn

    from sharelaw.cli.serve import _nodelay_listener

    original = uvicorn.Config.bind_socket
    try:
        _nodelay_listener(uvicorn)
        sock = uvicorn.Config("sharelaw.service.app:app_from_env", host="127.0.0.1", port=0).bind_socket()
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            sock.close()
    finally:
        uvicorn.Config.bind_socket = original  # type: ignore[method-assign]


def test_a_token_file_with_one_hash_for_two_identities_is_refused(tmp_path: Path) -> None:
    from sharelaw.service.tokens import TokenError, TokenFile, new_token

    path = tmp_path / "tokens.json"
    new_token(path, id="a", roles=["auditor"])
    data = json.loads(path.read_text("utf-8"))
    data["tokens"].append({**data["tokens"][0], "id": "b", "roles": ["admin"]})
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(TokenError, match="same token hash"):
        TokenFile.load(path)


def test_writing_a_token_file_does_not_follow_a_link_at_a_fixed_temporary_name(tmp_path: Path) -> None:
    from sharelaw.service.tokens import new_token

    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched", "utf-8")
    (tmp_path / "tokens.json.tmp").symlink_to(target)
    new_token(tmp_path / "tokens.json", id="a", roles=["auditor"])
    assert target.read_text("utf-8") == "untouched"
    assert oct((tmp_path / "tokens.json").stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.txt", "tokens.json", "tokens.json.tmp"]
