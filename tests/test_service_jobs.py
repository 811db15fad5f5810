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


def test_a_running_job_whose_pid_is_now_another_process_is_shown_failed(tmp_path: Path) -> None:
    """After a host or container restart the dead worker's pid is soon another live process's
    (here: this very process, as a restarted worker's often is): the job is not left running."""
    from sharelaw.service import jobs as jobs_module

    job_id = "ab" * 16
    (tmp_path / f"{job_id}.json").write_text(json.dumps({
        "id": job_id, "kind": "replay", "status": "running", "owner": "ico-auditor", "started_at": "x",
        "finished_at": None, "ok": None, "result": None,
        "_worker": {"host": jobs_module._HOST, "pid": os.getpid(), "started": "another-boot:1"}}), encoding="utf-8")
    jobs = Jobs(str(tmp_path))
    try:
        state = jobs.get(job_id)
        assert state is not None and state["status"] == "failed", state
        assert "_worker" not in state
        # this process's own running jobs stay running
        import threading

        release = threading.Event()

        def work() -> tuple[bool, dict[str, Any]]:
            release.wait(30)
            return True, {}

        mine = jobs.submit("verify", work, "ico-auditor")
        assert (jobs.get(mine["id"]) or {})["status"] == "running"
        release.set()
    finally:
        jobs.close()


def test_a_long_job_finishing_while_a_sweep_looks_at_its_old_file_keeps_its_result(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep stats a long job's file (written when it started, older than the retention),
    the job then finishes and writes its result, and the sweep reads that: the result is kept."""
    from sharelaw.service import jobs as jobs_module

    jobs = Jobs(str(tmp_path), retention_seconds=60)
    try:
        import threading

        release = threading.Event()

        def work() -> tuple[bool, dict[str, Any]]:
            release.wait(30)
            return True, {"n": 1}

        state = jobs.submit("verify", work, "ico-auditor")
        path = tmp_path / f"{state['id']}.json"
        old = time.time() - 3600
        os.utime(path, (old, old))  # started an hour ago, still running
        real_read = jobs_module._read

        def read_as_the_job_ends(p: Path) -> Any:
            if p == path and not release.is_set():
                release.set()
                for _ in range(300):  # the job writes its result now, between the sweep's stat and read
                    if (real_read(p) or {}).get("status") == "done":
                        break
                    time.sleep(0.01)
            return real_read(p)

        monkeypatch.setattr(jobs_module, "_read", read_as_the_job_ends)
        jobs.sweep()
        monkeypatch.setattr(jobs_module, "_read", real_read)
        shown = jobs.get(state["id"])
        assert shown is not None and shown["status"] == "done" and shown["result"] == {"n": 1}
    finally:
        jobs.close()


def test_a_job_submitted_after_close_is_refused_and_does_not_hold_a_place(tmp_path: Path) -> None:
    jobs = Jobs(str(tmp_path / "jobs"), max_jobs=1)
    jobs.close()
    with pytest.raises(RuntimeError):
        jobs.submit("verify", lambda: (True, {}), "x")
    (state_file,) = (tmp_path / "jobs").glob("*.json")
    assert json.loads(state_file.read_text())["status"] == "failed"  # never left "running"
    assert jobs._held == 0
