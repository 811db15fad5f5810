"""Property-based fuzzing of the service's OpenAPI document with schemathesis.

The real server (the test launcher, with the fault that the request_id ``inject-fault``
triggers) is fuzzed over HTTP: every operation, well over 1,000 generated calls, every
check schemathesis has (no 5xx, status codes, content types, headers and bodies valid
against the document, invalid input refused, auth enforced) except one:
``positive_data_acceptance``, which expects every schema-valid request to be accepted. A
JSON Schema cannot say what request.py checks across fields (a date before the law's
scope, consent that names no one, a shared action with no form), so the service rightly
refuses some schema-valid requests with a 422 naming the field; that is fail-closed, not a
defect. Then the injected fault is asked for once: it is the one 5xx, and carries no decision.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("schemathesis")
httpx = pytest.importorskip("httpx")

from service_common import Server, client, env, example, make_tokens  # noqa: E402

MIN_CALLS = 1000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("fuzz")
    tokens = make_tokens(d / "tokens.json")
    # The log on a memory file system where there is one: fuzzing appends hundreds of
    # records, and the durability of each (an fsync) is tested elsewhere.
    shm = Path("/dev/shm")
    log_dir = Path(os.path.join(shm, f"sharelaw-fuzz-{os.getpid()}")) if shm.is_dir() else d
    log_dir.mkdir(exist_ok=True)
    server = Server({"tokens": str(d / "tokens.json"), "log": str(log_dir / "audit.db")}, fault=True).wait_ready()
    yield server, tokens, d
    server.stop()
    for f in log_dir.glob("audit.db*"):
        f.unlink()


def test_schemathesis_finds_no_5xx_and_every_response_matches_the_document(served: Any) -> None:
    server, tokens, d = served
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
           "-H", f"Authorization: Bearer {tokens['admin']}", "--checks", "all",
           "--exclude-checks", "positive_data_acceptance", "--max-examples", "20", "--seed", "12",
           "--workers", "1", "--request-timeout", "30", "--no-color"]
    proc = subprocess.run(cmd, env=env(), cwd=d, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    generated = re.search(r"(\d+) generated", out)
    assert generated and int(generated.group(1)) >= MIN_CALLS, out[-2000:]
    print(f"schemathesis: {generated.group(0)} calls")  # shown with -s or -rA
    assert "Tested: 14" in out or "Selected: 14/14" in out, out[-2000:]


def test_the_injected_fault_is_the_only_5xx_and_carries_no_decision(served: Any) -> None:
    server, tokens, _ = served
    with client(server, tokens["decider"]) as c:
        r = c.post("/v1/decisions", json={**example(), "request_id": "inject-fault"})
        assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
        assert set(r.json()) == {"type", "title", "status", "detail", "code"}
        assert "decision-id" not in r.headers
