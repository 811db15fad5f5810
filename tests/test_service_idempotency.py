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
        metrics = client(server, tokens["auditor"]).get("/metrics").text
        assert "sharelaw_idempotent_replays_total 1\n" in metrics  # the first test to replay in this server
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


def test_the_same_token_id_of_another_identity_never_gets_the_first_ones_decision(tmp_path: Any) -> None:
    """Token ids are unique within one token file, not across the instances sharing a log: an
    instance whose token "app" is another agency's must not be given the first agency's
    recorded decision (nor record a second one under the key): it is refused, nothing recorded."""
    from sharelaw.service.tokens import new_token

    log = f"sqlite:///{tmp_path / 'audit.db'}"
    servers, secrets = [], []
    for agency in ("st-marys-primary", "northshire-gp"):
        tokens = tmp_path / f"{agency}.json"
        secrets.append(new_token(tokens, id="app", roles=["decider"], agency=agency, practitioner_role="DSL"))
        servers.append(Server({"tokens": str(tokens), "log": log, "jobs_dir": str(tmp_path / agency)}))
    try:
        for s in servers:
            s.wait_ready()
        with client(servers[0], secrets[0]) as c:
            first = c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "k"})
        assert first.status_code == 200, first.text
        before = _count(log)
        with client(servers[1], secrets[1]) as c:
            other = c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "k"})
        assert other.status_code == 422, other.text
        assert other.json()["code"] == "idempotency_key_reused" and "decision-id" not in other.headers
        assert _count(log) == before
    finally:
        for s in servers:
            s.stop()


def test_a_replay_after_the_rules_changed_names_the_rules_that_decided_it(tmp_path: Any) -> None:
    """The retry reaches an instance started with other rules: it is given the recorded decision,
    and its Sharelaw-Bundle-Hash header is that decision's, not the instance's current rules'."""
    import shutil

    from service_common import ROOT

    tokens = make_tokens(tmp_path / "tokens.json")
    rules = tmp_path / "rulesets"
    shutil.copytree(ROOT / "rulesets", rules)
    target = sorted((rules / "national").glob("*.yaml"))[0]
    target.write_text(target.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    log = f"sqlite:///{tmp_path / 'audit.db'}"
    config = {"tokens": str(tmp_path / "tokens.json"), "log": log, "jobs_dir": str(tmp_path / "jobs")}
    old = Server(config).wait_ready()
    try:
        with client(old, tokens["decider"]) as c:
            first = c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "k"})
    finally:
        old.stop()
    assert first.status_code == 200, first.text
    new = Server({**config, "rules": [str(rules)]}).wait_ready()
    try:
        with client(new, tokens["decider"]) as c:
            retry = c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "k"})
            fresh = c.post("/v1/decisions", json=example())
    finally:
        new.stop()
    assert fresh.headers["sharelaw-bundle-hash"] != first.headers["sharelaw-bundle-hash"]  # the rules did change
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    assert retry.headers.get_list("sharelaw-bundle-hash") == [first.headers["sharelaw-bundle-hash"]]
    assert retry.json()["bundle_hash"] == first.headers["sharelaw-bundle-hash"]


def test_a_batch_with_a_key_is_refused_not_recorded_as_if_the_key_were_honoured(served: Any) -> None:
    server, tokens, log = served
    before = _count(log)
    with client(server, tokens["decider"]) as c:
        r = c.post("/v1/decisions/batch?record=true", json={"requests": [example()]},
                   headers={"Idempotency-Key": "batch-1"})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "idempotency_key_unsupported" and r.json()["errors"][0]["loc"] == "header.idempotency-key"
    assert _count(log) == before


def test_attempts_with_one_key_racing_across_two_instances_on_one_postgresql_log_record_once(tmp_path: Any) -> None:
    """Two service instances (two processes, two connections) share one PostgreSQL log: the
    head row's lock serialises their appends, so the later one finds the record and is told
    DuplicateRecord (not a UNIQUE violation, which would be a 500), and every attempt gets it."""
    from test_audit_common import pg_admin, schema_url
    import uuid as uuid_module

    admin = pg_admin()
    schema = "idem_t_" + uuid_module.uuid4().hex[:12]
    admin.execute(f"CREATE SCHEMA {schema}")
    log = schema_url(schema)
    tokens = make_tokens(tmp_path / "tokens.json")
    servers = [Server({"tokens": str(tmp_path / "tokens.json"), "log": log, "jobs_dir": str(tmp_path / f"j{i}")})
               for i in range(2)]
    try:
        for s in servers:
            s.wait_ready()

        def attempt(i: int) -> httpx.Response:
            with client(servers[i % 2], tokens["decider"]) as c:
                return c.post("/v1/decisions?record=true", json=example(), headers={"Idempotency-Key": "pg-race"})

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(attempt, range(8)))
        assert [r.status_code for r in answers] == [200] * 8, [r.text[:200] for r in answers]
        assert len({r.headers["decision-id"] for r in answers}) == 1 and len({r.content for r in answers}) == 1
        assert _count(log) == 1
    finally:
        for s in servers:
            s.stop()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
