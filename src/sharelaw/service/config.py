"""What one service process is started with: rules, log, tokens, limits, engine options.

``sharelaw serve`` hands the configuration to each uvicorn worker through the environment
variable ``SHARELAW_SERVICE_CONFIG`` (JSON), since workers are separate processes that
each load the rules once.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

ENV_VAR = "SHARELAW_SERVICE_CONFIG"


@dataclass(frozen=True)
class ServiceConfig:
    #: The hashed-token file (``sharelaw token new``); required: every endpoint but the probes needs a token.
    tokens: str
    #: Rule files or directories instead of the shipped rules.
    rules: list[str] = field(default_factory=list)
    #: The audit log URL (a SQLite path, ``sqlite:///PATH`` or ``postgresql://...``); None: no recording.
    log: str | None = None
    #: Record every decision unless the caller says ``?record=false`` (needs ``log``).
    record_default: bool = False
    #: Record every decision, and refuse ``?record=false`` with a 422 problem (``--record required``; needs ``log``).
    record_required: bool = False
    #: Engine options, passed through to ``Engine`` as given.
    evaluator: str = "durable"
    cross_check: bool | float = True
    #: Limits.
    max_body_bytes: int = 1 << 20          # one request: the CLI's limit (cli._common.MAX_REQUEST_BYTES)
    max_batch_body_bytes: int = 16 << 20
    max_batch: int = 100
    timeout_seconds: float = 30.0
    #: Where auditor jobs (verify, replay) keep their state, shared by the workers of one host.
    jobs_dir: str | None = None
    #: Auditor jobs one worker holds, running or waiting; one more is a 429 (``--max-jobs``).
    max_jobs: int = 4
    #: How long a finished job's state is kept, in seconds (``--job-retention``).
    job_retention_seconds: float = 24 * 3600.0

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "ServiceConfig":
        env = os.environ if environ is None else environ
        text = env.get(ENV_VAR)
        if not text:
            raise RuntimeError(f"{ENV_VAR} is not set: start the service with `sharelaw serve`")
        data: dict[str, Any] = json.loads(text)
        return cls(**data)
