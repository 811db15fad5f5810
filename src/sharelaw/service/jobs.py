"""Long auditor work (verify, replay) run off the decision path, its state in files.

A job runs on one background thread of the worker that accepted it (never on the threads
that decide), and writes its state to ``JOBS_DIR/<id>.json``, so that any worker of the
same host can answer ``GET /v1/jobs/{id}``.

Bounded, as a long-running service must be:

- a worker holds at most ``max_jobs`` jobs, running or waiting; one more is refused
  (``JobsFull``: the service answers 429 with ``Retry-After``), never queued without end;
- a finished job's state is kept for ``retention_seconds`` after it finished, then removed
  (swept when a worker starts and whenever a job is submitted), so the directory does not
  grow for ever;
- a job whose worker ended before it finished (a crash, a restart, a shutdown that
  cancelled it) is not left "running" for ever: whoever reads it next sees it ``failed``,
  saying so, and the file is rewritten that way.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

_ID = re.compile(r"^[0-9a-f]{32}$")
_PRIVATE = "_worker"  # which process runs the job: in the file, never in what a caller is shown
_HOST = socket.gethostname()

MAX_JOBS = 4
RETENTION_SECONDS = 24 * 3600.0


class JobsFull(RuntimeError):
    """This worker already holds ``max_jobs`` jobs: try again later."""


class Jobs:
    def __init__(self, directory: str | None, *, max_jobs: int = MAX_JOBS,
                 retention_seconds: float = RETENTION_SECONDS) -> None:
        if max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, not {max_jobs}")
        if not retention_seconds > 0:
            raise ValueError(f"retention_seconds must be positive, not {retention_seconds}")
        self.dir = Path(directory or tempfile.mkdtemp(prefix="sharelaw-jobs-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_jobs = max_jobs
        self.retention_seconds = retention_seconds
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sharelaw-job")
        self._lock = threading.Lock()
        self._held = 0  # jobs of this worker running or waiting
        self.sweep()

    def submit(self, kind: str, work: Callable[[], tuple[bool, dict[str, Any]]], owner: str) -> dict[str, Any]:
        with self._lock:
            if self._held >= self.max_jobs:
                raise JobsFull(f"this worker already holds {self._held} auditor job(s), its limit (--max-jobs)")
            self._held += 1
        try:
            self.sweep()
            job_id = uuid.uuid4().hex
            state: dict[str, Any] = {"id": job_id, "kind": kind, "status": "running", "owner": owner,
                                     "started_at": _now(), "finished_at": None, "ok": None, "result": None,
                                     _PRIVATE: {"host": _HOST, "pid": os.getpid(), "started": _started(os.getpid())}}
            self._write(state)
        except BaseException:
            with self._lock:
                self._held -= 1
            raise

        def run() -> None:
            try:
                ok, result = work()
                state.update(status="done", ok=ok, result=result)
            except Exception as exc:  # noqa: BLE001 - the job reports its fault; the service goes on
                state.update(status="failed", ok=False, result={"error": f"{type(exc).__name__}: {exc}"})
            finally:
                state["finished_at"] = _now()
                try:
                    self._write(state)
                finally:
                    with self._lock:
                        self._held -= 1

        try:
            self._pool.submit(run)
        except BaseException as exc:  # the pool is shut down (a submit racing close()): the job never runs
            state.update(status="failed", ok=False, finished_at=_now(),
                         result={"error": f"the job could not be started: {type(exc).__name__}: {exc}"})
            with self._lock:
                self._held -= 1
            try:
                self._write(state)
            except OSError:
                pass  # its file says running; the worker is ending, so a reader will see it orphaned
            raise
        return _shown(state)

    def get(self, job_id: str) -> dict[str, Any] | None:
        if not _ID.match(job_id):
            return None
        path = self.dir / f"{job_id}.json"
        data = _read(path)
        if data is None:
            return None
        if data.get("status") == "running" and _orphaned(data):
            data.update(status="failed", ok=False, finished_at=_now(),
                        result={"error": "the worker that ran this job ended before it finished"})
            self._write(data)
        return _shown(data)

    def sweep(self) -> int:
        """Remove the state of jobs finished more than ``retention_seconds`` ago, and temporary
        files left by a worker that died while writing; returns how many files were removed."""
        horizon = time.time() - self.retention_seconds
        removed = 0
        for path in self.dir.iterdir():
            try:
                if path.suffix == ".tmp":
                    if path.stat().st_mtime < horizon:
                        path.unlink()
                        removed += 1
                    continue
                if path.suffix != ".json" or not _ID.match(path.stem) or path.stat().st_mtime >= horizon:
                    continue
                data = _read(path)
                if data is not None and data.get("status") == "running" and not _orphaned(data):
                    continue  # still running (a long replay): its file is rewritten when it ends
                finished = _finished(data)
                if finished is not None and finished >= horizon:
                    continue  # it finished after the stat above (a long job ending now): kept
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue  # another worker of the host swept it first
        return removed

    def _write(self, state: dict[str, Any]) -> None:
        path = self.dir / f"{state['id']}.json"
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with self._lock:
            tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _shown(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != _PRIVATE}


def _orphaned(state: dict[str, Any]) -> bool:
    """Whether a running job's worker, on this host, is gone (another host's: unknown, so no).

    A pid alone does not name a process: after a restart of the host or of a container (whose
    pids start again from 1, under the same host name) the dead worker's pid is soon another
    live process's, often the new worker's own. So the worker's start (boot and start time,
    ``_started``) is kept with its pid, and a pid now started otherwise is not that worker."""
    worker = state.get(_PRIVATE)
    if not isinstance(worker, dict) or worker.get("host") != _HOST or not isinstance(worker.get("pid"), int):
        return not isinstance(worker, dict)  # a file without a worker is from no live process
    try:
        os.kill(worker["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    started = worker.get("started")
    if isinstance(started, str):
        now = _started(worker["pid"])
        if now is not None and now != started:
            return True  # the pid is another process's now
    return False


def _started(pid: int) -> str | None:
    """When process ``pid`` started, as ``BOOT_ID:TICKS`` (Linux /proc); None where unknown."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        ticks = stat[stat.rindex(")") + 2:].split()[19]  # field 22, starttime (after the command's parentheses)
    except (OSError, ValueError, IndexError):
        return None
    return f"{boot}:{ticks}"


def _finished(state: dict[str, Any] | None) -> float | None:
    """When a job finished (seconds since the epoch), from its state; None if not stated."""
    value = state.get("finished_at") if state is not None else None
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
