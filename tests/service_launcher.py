"""Start the real decision service for the tests, optionally with an injected fault.

    python tests/service_launcher.py PORT CONFIG_JSON [--fault] [--slow-jobs]

``--fault`` makes the engine raise (inside ``Engine._decide``, where a real fault would
be) for a request whose request_id is ``inject-fault`` (and take 3 s for ``inject-slow``), so that the tests and the
schemathesis run can see the 500 path. ``--slow-jobs`` makes every auditor job take 2 s
more, so that a test can see a worker's job limit and a job orphaned by its worker. The fault lives here, in the tests only: the
shipped service has no hook a request could trigger."""

from __future__ import annotations

import json
import sys

import uvicorn

from sharelaw.engine.pipeline import Engine
from sharelaw.service.app import create_app
from sharelaw.service.config import ServiceConfig

FAULT_REQUEST_ID = "inject-fault"
SLOW_REQUEST_ID = "inject-slow"  # takes 3 s: for the request timeout


def install_fault() -> None:
    original = Engine._decide

    def faulty(self: Engine, req):  # type: ignore[no-untyped-def]
        if req.request_id == FAULT_REQUEST_ID:
            raise ZeroDivisionError("injected fault")
        if req.request_id == SLOW_REQUEST_ID:
            import time

            time.sleep(3)
        return original(self, req)

    Engine._decide = faulty  # type: ignore[method-assign]


def install_slow_jobs() -> None:
    from sharelaw.service.jobs import Jobs

    original = Jobs.submit

    def slow(self: Jobs, kind, work, owner):  # type: ignore[no-untyped-def]
        def slower():  # type: ignore[no-untyped-def]
            import time

            time.sleep(2)
            return work()

        return original(self, kind, slower, owner)

    Jobs.submit = slow  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    port, config = int(argv[0]), ServiceConfig(**json.loads(argv[1]))
    if "--fault" in argv[2:]:
        install_fault()
    if "--slow-jobs" in argv[2:]:
        install_slow_jobs()
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1:])
