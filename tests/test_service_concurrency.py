"""Several workers and instances writing one audit log under load, and a worker killed.

``sharelaw serve`` itself (the console command) with 4 workers on one SQLite log, and two
instances on one PostgreSQL log. Client threads post recorded decisions;
midway one worker is killed with SIGKILL. After: ``audit verify`` passes, and every
decision the client received a 200 for is in the log, with the request it answered."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from service_common import Server, example, make_tokens  # noqa: E402
from test_audit_common import pg_url  # noqa: E402,F401 - fixture
from test_service import cli  # noqa: E402

from sharelaw import AuditLog  # noqa: E402

THREADS = 6
PER_THREAD = 10
KILL_AFTER = 20


def serve(tokens: Path, log: str, workers: int) -> Server:
    return Server({}, cli_args=["--tokens", str(tokens), "--log", log, "--workers", str(workers), "--record"])


def load(urls: list[str], token: str, victim: Server) -> tuple[dict[str, str], int]:
    """Recorded decisions from THREADS clients; SIGKILL one of ``victim``'s workers after KILL_AFTER."""
    answered: dict[str, str] = {}
    failures = 0
    lock = threading.Lock()
    killed = threading.Event()

    def client(i: int) -> None:
        nonlocal failures
        with httpx.Client(base_url=urls[i % len(urls)], headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as c:
            for j in range(PER_THREAD):
                request_id = f"load-{i}-{j}"
                try:
                    r = c.post("/v1/decisions", json={**example(), "request_id": request_id})
                except httpx.TransportError:  # the killed worker's connection: no answer, so no claim
                    with lock:
                        failures += 1
                    continue
                with lock:
                    if r.status_code == 200:
                        answered[r.headers["decision-id"]] = request_id
                    else:
                        failures += 1
                    if len(answered) >= KILL_AFTER and not killed.is_set():
                        killed.set()
                        os.kill((victim.workers() or [victim.proc.pid])[0], signal.SIGKILL)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert killed.is_set(), "the load ended before a worker was killed"
    return answered, failures


def check_log(log: str, answered: dict[str, str]) -> None:
    code, out, err = cli("audit", "verify", log)
    assert code == 0, out + err
    with AuditLog.open(log, read_only=True) as opened:
        for decision_id, request_id in answered.items():
            assert opened.get(decision_id).request["request_id"] == request_id
        assert sum(1 for _ in opened.decisions()) >= len(answered)


def test_four_workers_one_sqlite_log_and_a_worker_killed(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    log = f"sqlite:///{tmp_path / 'audit.db'}"
    server = serve(tmp_path / "tokens.json", log, 4).wait_ready()
    try:
        before = server.workers()
        assert len(before) == 4
        answered, failures = load([server.url], tokens["decider"], server)
    finally:
        server.stop()
    assert len(answered) + failures == THREADS * PER_THREAD and len(answered) >= THREADS * PER_THREAD - 10
    check_log(log, answered)


def test_two_instances_one_postgresql_log_and_a_worker_killed(tmp_path: Path, pg_url: str) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    servers = [serve(tmp_path / "tokens.json", pg_url, 1) for _ in range(2)]  # one killed whole
    try:
        for s in servers:
            s.wait_ready()
        answered, failures = load([s.url for s in servers], tokens["decider"], servers[0])
    finally:
        for s in servers:
            s.stop()
    assert len(answered) >= KILL_AFTER
    check_log(pg_url, answered)
