"""Auditor jobs are bounded: a worker's limit (429), retention, and jobs orphaned by a dead worker.

Real server processes over HTTP (tests/service_common.py); ``slow_jobs`` makes each job take
2 s more (tests/service_launcher.py), so that one is still running when the next call comes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service_common import Server, client, example, make_tokens
from sharelaw.service.jobs import Jobs, JobsFull

PROBLEM = "application/problem+json"


def _config(d: Path, **extra: Any) -> dict[str, Any]:
    return {"tokens": str(d / "tokens.json"), "log": f"sqlite:///{d / 'audit.db'}", "jobs_dir": str(d / "jobs"), **extra}


def _wait(c: httpx.Client, job_id: str) -> dict[str, Any]:
    for _ in range(300):
        state: dict[str, Any] = c.get(f"/v1/jobs/{job_id}").json()
        if state["status"] != "running":
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still running")


def test_a_worker_holds_at_most_max_jobs_and_refuses_more_with_429(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    server = Server(_config(tmp_path, max_jobs=1), slow_jobs=True).wait_ready()
    try:
        with client(server, tokens["decider"]) as c:
            assert c.post("/v1/decisions?record=true", json=example()).status_code == 200
        with client(server, tokens["auditor"]) as c:
            first = c.post("/v1/audit/verify")
            assert first.status_code == 202, first.text
            refused = c.post("/v1/replay")
            assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
            assert refused.headers["retry-after"] == "5"
            body = refused.json()
            assert body["code"] == "too_many_jobs" and "--max-jobs" in body["detail"]
            assert _wait(c, first.json()["id"])["ok"] is True
            # the first has finished: the worker takes the next one
            again = c.post("/v1/replay")
            assert again.status_code == 202, again.text
            assert _wait(c, again.json()["id"])["ok"] is True
    finally:
        server.stop()


def test_a_finished_job_is_removed_after_its_retention(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    server = Server(_config(tmp_path, job_retention_seconds=1.0)).wait_ready()
    try:
        with client(server, tokens["auditor"]) as c:
            job = c.post("/v1/audit/verify").json()
            assert _wait(c, job["id"])["status"] == "done"
            assert c.get(f"/v1/jobs/{job['id']}").status_code == 200  # kept while within its retention
            time.sleep(1.5)
            assert c.post("/v1/audit/verify").status_code == 202  # a submission sweeps
            gone = c.get(f"/v1/jobs/{job['id']}")
            assert gone.status_code == 404 and gone.json()["code"] == "job_not_found"
        assert [p.name for p in (tmp_path / "jobs").iterdir()] != []  # the new job's state is kept
    finally:
        server.stop()


def test_a_job_whose_worker_died_is_shown_failed_not_running_for_ever(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "tokens.json")
    first = Server(_config(tmp_path), slow_jobs=True).wait_ready()
    try:
        with client(first, tokens["auditor"]) as c:
            job = c.post("/v1/audit/verify").json()
            assert job["status"] == "running"
    finally:
        os.killpg(first.proc.pid, signal.SIGKILL)  # the worker dies with the job unfinished
        first.proc.wait(10)
        first.stop()
    stored = json.loads((tmp_path / "jobs" / f"{job['id']}.json").read_text())
    assert stored["status"] == "running"  # as the dead worker left it
    second = Server(_config(tmp_path)).wait_ready()
    try:
        with client(second, tokens["auditor"]) as c:
            state = c.get(f"/v1/jobs/{job['id']}").json()
        assert state["status"] == "failed" and state["ok"] is False and state["finished_at"]
        assert "ended before it finished" in state["result"]["error"]
        assert "_worker" not in state  # which process ran it is kept in the file only
        assert json.loads((tmp_path / "jobs" / f"{job['id']}.json").read_text())["status"] == "failed"
    finally:
        second.stop()


def test_jobs_refuse_a_limit_below_one_and_a_retention_that_is_not_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_jobs"):
        Jobs(str(tmp_path), max_jobs=0)
    with pytest.raises(ValueError, match="retention"):
        Jobs(str(tmp_path), retention_seconds=0)
    with pytest.raises(ValueError, match="retention"):
        Jobs(str(tmp_path), retention_seconds=float("nan"))


def test_a_job_that_fails_to_start_does_not_hold_a_place(tmp_path: Path) -> None:
    where = tmp_path / "jobs"
    jobs = Jobs(str(where), max_jobs=1)
    where.rmdir()
    where.write_text("not a directory")  # the job's state cannot be written
    with pytest.raises(OSError):
        jobs.submit("verify", lambda: (True, {}), "x")
    where.unlink()
    where.mkdir()
    done = jobs.submit("verify", lambda: (True, {}), "x")  # the failed start did not use the one place
    for _ in range(100):
        if (jobs.get(done["id"]) or {}).get("status") == "done":
            break
        time.sleep(0.05)
    assert (jobs.get(done["id"]) or {}).get("status") == "done"
    with pytest.raises(JobsFull):  # and the limit still holds
        import threading

        gate = threading.Event()
        jobs.submit("verify", lambda: (gate.wait(10), {}), "x")
        try:
            jobs.submit("verify", lambda: (True, {}), "x")
        finally:
            gate.set()
    jobs.close()
