"""``sharelaw serve`` (the HTTP decision service, docs/service.md) and ``sharelaw token``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._common import (
    InputError,
    add_rules_option,
    cross_check_option,
    load_bundle,
    seconds,
    whole_number,
)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="serve decisions over HTTP (needs the 'server' extra)",
                                description="Serve decisions over HTTP: POST /v1/decisions and the rest of "
                                "docs/service.md. Every endpoint but /healthz and /readyz needs a bearer token "
                                "from the --tokens file (make one with 'sharelaw token new').")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=whole_number(0, 65535), default=8080, help="default 8080")
    serve.add_argument("--workers", type=whole_number(1, 64), default=1,
                       help="worker processes (each loads the rules once; default 1)")
    serve.add_argument("--tokens", required=True, metavar="FILE", help="the file of hashed tokens")
    serve.add_argument("--log", metavar="URL", help="the audit log: a SQLite path, sqlite:///PATH or postgresql://... "
                       "(several instances may share one PostgreSQL log)")
    serve.add_argument("--record", nargs="?", const="default", choices=["default", "required"], default=None,
                       metavar="required", help="record every decision unless the caller says ?record=false; "
                       "'--record required': every decision, and ?record=false is refused with a 422 (needs --log)")
    serve.add_argument("--no-record", dest="record", action="store_const", const=None,
                       help="record only when the caller says ?record=true (the default)")
    serve.add_argument("--evaluator", choices=["durable", "compiled", "reference"], default="durable",
                       help="the engine's evaluator, passed through to Engine (default durable)")
    serve.add_argument("--cross-check", type=cross_check_option, default=True, metavar="true|false|FRACTION",
                       help="cross-check firings against the reference evaluator (default true)")
    serve.add_argument("--max-body-bytes", type=whole_number(1024, 64 << 20), default=1 << 20,
                       help="the largest request body (default 1 MiB, the CLI's limit)")
    serve.add_argument("--max-batch", type=whole_number(1, 10_000), default=100,
                       help="the most requests in one batch (default 100)")
    serve.add_argument("--max-batch-body-bytes", type=whole_number(1024, 1 << 30), default=16 << 20,
                       help="the largest batch body (default 16 MiB)")
    serve.add_argument("--timeout", type=seconds, default=30.0, metavar="SECONDS",
                       help="answer 503 after this long (default 30)")
    serve.add_argument("--jobs-dir", metavar="DIR", help="where auditor jobs keep their state (default: a new "
                       "temporary directory shared by this instance's workers)")
    serve.add_argument("--max-jobs", type=whole_number(1, 1000), default=4,
                       help="auditor jobs (verify, replay) one worker holds, running or waiting; one more is "
                       "refused with 429 (default 4)")
    serve.add_argument("--job-retention", type=seconds, default=24 * 3600.0, metavar="SECONDS",
                       help="how long a finished job's state is kept (default 86400: a day)")
    add_rules_option(serve, many=True)
    serve.set_defaults(run=run_serve)

    token = commands.add_parser("token", help="make and list the service's bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    new = token_commands.add_parser("new", help="add a token; prints it once (only its hash is stored)")
    new.add_argument("--tokens", required=True, metavar="FILE", help="the token file (created, mode 0600)")
    new.add_argument("--id", required=True, help="the token's identity, recorded as the actor")
    new.add_argument("--role", dest="roles", action="append", required=True, choices=["decider", "auditor", "admin"],
                     help="a role (repeatable)")
    new.add_argument("--agency", help="the agency its decisions are recorded for (required for decider)")
    new.add_argument("--practitioner-role", help="the practitioner's role recorded (required for decider)")
    new.add_argument("--person", help="an identifier of the person, if recorded (default: the token id)")
    new.set_defaults(run=run_token_new)
    listing = token_commands.add_parser("list", help="list the tokens' ids and roles (never the tokens)")
    listing.add_argument("--tokens", required=True, metavar="FILE")
    listing.set_defaults(run=run_token_list)


def _nodelay_listener(uvicorn: Any) -> None:
    """Set TCP_NODELAY on the socket uvicorn binds for its worker processes.

    The workers receive the listening socket rebuilt without its protocol number, so
    asyncio does not set TCP_NODELAY on the connections they accept (it checks
    ``sock.proto == IPPROTO_TCP``); a response's headers and body then leave as two
    writes and Nagle holds the second until the client's delayed ACK: ~40 ms on every
    keep-alive request (measured: 48 ms against 5 ms). Linux passes the option from the
    listening socket to every accepted one.
    """
    import socket

    bind = uvicorn.Config.bind_socket

    def bind_socket(self: Any) -> socket.socket:
        sock: socket.socket = bind(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    uvicorn.Config.bind_socket = bind_socket


def run_serve(args: argparse.Namespace) -> str:
    try:
        import uvicorn
    except ImportError:
        raise InputError(["error: sharelaw serve needs the server extra: pip install 'sharelaw[server]'"]) from None
    from ..service.config import ENV_VAR, ServiceConfig
    from ..service.tokens import TokenError, TokenFile

    if args.record and not args.log:
        raise InputError(["error: --record records decisions in the log given with --log"])
    try:
        TokenFile.load(args.tokens)
    except TokenError as exc:
        raise InputError([f"error: --tokens: {exc}"]) from None
    if args.log:  # fail here, once, rather than in every worker
        from ._common import open_log

        open_log(args.log, create=True).close()
    bundle = load_bundle(args.rules) if args.rules else None
    config = ServiceConfig(
        tokens=os.path.abspath(args.tokens), rules=[os.path.abspath(p) for p in args.rules or []], log=args.log,
        record_default=args.record is not None, record_required=args.record == "required",
        evaluator=args.evaluator, cross_check=args.cross_check,
        max_body_bytes=args.max_body_bytes, max_batch=args.max_batch, max_batch_body_bytes=args.max_batch_body_bytes,
        timeout_seconds=args.timeout, jobs_dir=args.jobs_dir or _jobs_dir(),
        max_jobs=args.max_jobs, job_retention_seconds=args.job_retention,
    )
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "warning",
                               "timeout_graceful_shutdown": 10}
    if args.workers == 1:
        from ..service.app import create_app

        uvicorn.run(create_app(config, bundle), **options)
    else:
        os.environ[ENV_VAR] = config.to_env()
        _nodelay_listener(uvicorn)
        uvicorn.run("sharelaw.service.app:app_from_env", factory=True, workers=args.workers, **options)
    return ""


def _jobs_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="sharelaw-jobs-")


def run_token_new(args: argparse.Namespace) -> str:
    from ..service.tokens import TokenError, new_token

    try:
        token = new_token(args.tokens, id=args.id, roles=args.roles, agency=args.agency,
                          practitioner_role=args.practitioner_role, person=args.person)
    except TokenError as exc:
        raise InputError([f"error: {exc}"]) from None
    return f"{token}\n"


def run_token_list(args: argparse.Namespace) -> str:
    from ..service.tokens import TokenError, TokenFile

    try:
        tokens = TokenFile.load(args.tokens).tokens
    except TokenError as exc:
        raise InputError([f"error: {exc}"]) from None
    return "".join(f"{t.id}\t{','.join(t.roles)}\t{t.agency or '-'}\t{t.practitioner_role or '-'}\n" for t in tokens)
