"""Long auditor work (verify, replay) run off the decision path, its state in files.

A job runs on one background thread of the worker that accepted it (never on the threads
that decide), and writes its state to ``JOBS_DIR/<id>.json``, so that any worker of the
same host can answer ``GET /v1/jobs/{id}``."""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

_ID = re.compile(r"^[0-9a-f]{32}$")


class Jobs:
    def __init__(self, directory: str | None) -> None:
        self.dir = Path(directory or tempfile.mkdtemp(prefix="sharelaw-jobs-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sharelaw-job")
        self._lock = threading.Lock()

    def submit(self, kind: str, work: Callable[[], tuple[bool, dict[str, Any]]], owner: str) -> dict[str, Any]:
        job_id = uuid.uuid4().hex
        state: dict[str, Any] = {"id": job_id, "kind": kind, "status": "running", "owner": owner,
                 "started_at": _now(), "finished_at": None, "ok": None, "result": None}
        self._write(state)

        def run() -> None:
            try:
                ok, result = work()
                state.update(status="done", ok=ok, result=result)
            except Exception as exc:  # noqa: BLE001 - the job reports its fault; the service goes on
                state.update(status="failed", ok=False, result={"error": f"{type(exc).__name__}: {exc}"})
            state["finished_at"] = _now()
            self._write(state)

        self._pool.submit(run)
        return state

    def get(self, job_id: str) -> dict[str, Any] | None:
        if not _ID.match(job_id):
            return None
        try:
            data: dict[str, Any] = json.loads((self.dir / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def _write(self, state: dict[str, Any]) -> None:
        path = self.dir / f"{state['id']}.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with self._lock:
            tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
