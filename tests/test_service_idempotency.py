"""``Idempotency-Key`` on recorded decisions: a retry after an unknown outcome records once.

Real server processes over HTTP (tests/service_common.py), a real SQLite log, and the
PostgreSQL log where configured (several workers sharing it)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx
import pytest

from service_common import Server, client, example, make_tokens
from sharelaw import AuditLog

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("idem")
    tokens = make_tokens(d / "tokens.json")
    log = f"sqlite:///{d / 'audit.db'}"
    server = Server({"tokens": str(d / "tokens.json"), "log": log, "jobs_dir": str(d / "jobs"),
                     "timeout_seconds": 1.0}, fault=True).wait_ready()
    yield server, tokens, log
    server.stop()


def _count(log: str) -> int:
    with AuditLog.open(log, read_only=True) as opened:
        return len(opened)


def test_a_retry_with_the_same_key_gets_the_first_recorded_decision_and_records_nothing(served: Any) -> None:
    server, tokens, log = served
    with client(server, tokens["decider"]) as c:
        before = _count(log)
        first = c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "retry-1"})
        assert first.status_code == 200, first.text
        assert "idempotent-replayed" not in first.headers
        again = c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "retry-1"})
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.headers["decision-id"] == first.headers["decision-id"]
        assert again.headers["location"] == first.headers["location"]
        assert again.content == first.content  # the same bytes as the first answer
        assert _count(log) == before + 1
        # the recorded decision is the one both answers name
        shown = c.get(first.headers["location"]).json()
        assert shown["record"]["decision_id"] == first.headers["decision-id"]


def test_the_same_key_with_another_request_is_refused_and_nothing_is_recorded(served: Any) -> None:
    server, tokens, log = served
    with client(server, tokens["decider"]) as c:
        assert c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "k-2"}).status_code == 200
        before = _count(log)
        other = example("06-gp-to-hospital-direct-care-2010.json")
        refused = c.post("/v1/decisions?record=true", json=other, headers={"Idempotency-Key": "k-2"})
        assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
        body = refused.json()
        assert body["code"] == "idempotency_key_reused" and body["errors"][0]["loc"] == "header.idempotency-key"
        assert _count(log) == before


def test_a_key_is_the_tokens_own_another_token_with_the_same_key_records_its_own(served: Any) -> None:
    server, tokens, log = served
    ids = []
    for who in ("decider", "decider2"):
        with client(server, tokens[who]) as c:
            r = c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "shared-key"})
            assert r.status_code == 200 and "idempotent-replayed" not in r.headers
            ids.append(r.headers["decision-id"])
    assert ids[0] != ids[1]


def test_a_malformed_or_repeated_key_is_a_422_naming_the_header(served: Any) -> None:
    server, tokens, log = served
    before = _count(log)
    with client(server, tokens["decider"]) as c:
        for headers in ({"Idempotency-Key": "x" * 256}, {"Idempotency-Key": "has space"}):
            r = c.post("/v1/decisions?record=true", json=example(), headers=headers)
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "idempotency_key_invalid"
            assert r.json()["errors"][0]["loc"] == "header.idempotency-key"
        r = c.post("/v1/decisions?record=true", json=example(),
                   headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")])
        assert r.status_code == 422 and r.json()["code"] == "idempotency_key_invalid"
    assert _count(log) == before


def test_without_recording_a_key_changes_nothing(served: Any) -> None:
    server, tokens, log = served
    before = _count(log)
    with client(server, tokens["decider"]) as c:
        plain = c.post("/v1/decisions", json=example())
        keyed = [c.post("/v1/decisions", json=example(), headers={"Idempotency-Key": "unrecorded"}) for _ in range(2)]
    assert [r.status_code for r in keyed] == [200, 200]
    assert all(r.content == plain.content and "idempotent-replayed" not in r.headers for r in keyed)
    assert keyed[0].headers["decision-id"] != keyed[1].headers["decision-id"]  # fresh ids: nothing joins
    assert _count(log) == before


def test_concurrent_attempts_with_one_key_record_once(served: Any) -> None:
    server, tokens, log = served
    before = _count(log)

    def attempt(_: int) -> httpx.Response:
        with client(server, tokens["decider"]) as c:
            return c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "race"})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert {r.status_code for r in answers} == {200}
    assert len({r.headers["decision-id"] for r in answers}) == 1
    assert len({r.content for r in answers}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 7
    assert _count(log) == before + 1


def test_a_retry_after_a_timeout_records_once(served: Any) -> None:
    """The first attempt takes longer than the service's timeout (503: the client does not know
    whether it was recorded); the retry with the same key gets the recorded decision."""
    server, tokens, log = served
    before = _count(log)
    slow = {**example(), "request_id": "inject-slow"}  # 3 s in the engine; the timeout is 1 s
    with client(server, tokens["decider"]) as c:
        first = c.post("/v1/decisions?record=true", json=slow, headers={"Idempotency-Key": "after-503"})
        assert first.status_code == 503, first.text
        import time

        deadline = time.monotonic() + 20
        while _count(log) == before and time.monotonic() < deadline:
            time.sleep(0.2)  # the first attempt goes on and is recorded after the 503
        assert _count(log) == before + 1
        retry = c.post("/v1/decisions?record=true", json=slow, headers={"Idempotency-Key": "after-503"})
        assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert _count(log) == before + 1
