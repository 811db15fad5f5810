"""Helpers for the HTTP service tests: tokens, a real server process on a free port, a client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from sharelaw.service.tokens import new_token

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = Path(__file__).resolve().parent / "service_launcher.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tokens(path: Path) -> dict[str, str]:
    """One token per role, plus a second decider (another agency)."""
    return {
        "decider": new_token(path, id="school-app", roles=["decider"], agency="st-marys-primary",
                             practitioner_role="designated safeguarding lead"),
        "decider2": new_token(path, id="gp-app", roles=["decider"], agency="northshire-gp", practitioner_role="GP"),
        "auditor": new_token(path, id="ico-auditor", roles=["auditor"]),
        "admin": new_token(path, id="ops", roles=["admin"], agency="northshire-county-council",
                           practitioner_role="service owner"),
    }


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + e.get("PYTHONPATH", "")
    return e


class Server:
    """A real server process: ``sharelaw serve`` (cli=True) or the test launcher (fault injection)."""

    def __init__(self, config: dict[str, Any], *, fault: bool = False, cli_args: list[str] | None = None,
                 port: int | None = None, slow_jobs: bool = False) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if cli_args is not None:
            cmd = [sys.executable, "-m", "sharelaw", "serve", "--port", str(self.port), *cli_args]
        else:
            cmd = ([sys.executable, str(LAUNCHER), str(self.port), json.dumps(config)] + (["--fault"] if fault else [])
                   + (["--slow-jobs"] if slow_jobs else []))
        self.proc = subprocess.Popen(cmd, env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{out}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not become ready")

    def workers(self) -> list[int]:
        """The pids of the uvicorn worker processes (children of the supervisor)."""
        pids = []
        for child in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split():
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
                pids.append(int(child))
        return pids

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


def client(server: Server, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def example(name: str = "05-hospital-assists-s47-enquiry.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / name).read_text(encoding="utf-8"))
    return data
