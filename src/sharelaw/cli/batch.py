"""``sharelaw decide --batch FILE.jsonl|-``: one request per line in, one result per line out.

Each output line is a JSON object: ``{"line": N, "decision": {...}}`` when the request on line
N was decided, or ``{"line": N, "error": {...}}`` (the error document, ``sharelaw schema
error``) when it was not. A line is written only once its request is decided or refused, so
a fault never leaves a partial decision; a blank line is skipped (and says so on stderr). The
input is read a line at a time and each result written at once, so memory stays flat however
long the file. The exit status summarises: 0 every line decided, 2 some line invalid, 1 some
line met an internal error (1 wins over 2). A count is printed on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from ..engine.pipeline import Engine, validate_request
from ..errors import EngineError, Problem, RequestError
from ._common import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    MAX_REQUEST_BYTES,
    InputError,
    default_engine,
    error_document,
    load_bundle,
    parse_request,
)


def run_batch(args: argparse.Namespace) -> tuple[str, int]:
    if args.request is not None:
        raise InputError(["error: give either REQUEST.json or --batch FILE, not both"])
    if args.format not in ("text", "json"):
        raise InputError([f"error: --batch writes JSON Lines; --format {args.format} is for one request"])
    evaluator, rate = getattr(args, "evaluator", "durable"), getattr(args, "cross_check", 1.0)
    custom = bool(args.rules) or (evaluator, rate) != ("durable", 1.0)
    engine = (Engine(load_bundle(args.rules) if args.rules else None, evaluator=evaluator,  # type: ignore[arg-type]
                     cross_check=rate)
              if custom else default_engine())
    try:
        if args.batch == "-":
            return _run(sys.stdin.buffer, "standard input", engine, sys.stdout)
        try:
            fh = open(args.batch, "rb")
        except OSError as exc:
            raise InputError([f"error: cannot read {args.batch}: {exc.strerror or exc}"]) from None
        with fh:
            return _run(fh, args.batch, engine, sys.stdout)
    finally:
        if custom:
            engine.close()


def _run(source: IO[bytes], label: str, engine: Engine, out: IO[str]) -> tuple[str, int]:
    decided = refused = failed = 0
    number = 0
    while True:
        raw = source.readline(MAX_REQUEST_BYTES + 2)
        if not raw:
            break
        number += 1
        if len(raw) > MAX_REQUEST_BYTES + 1 and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of an over-long line, bounded reads
                raw = source.readline(MAX_REQUEST_BYTES)
            result = _error(number, "request_too_large", [Problem(
                "too_large", f"line {number} is larger than {MAX_REQUEST_BYTES} bytes; no sharing request is",
                file=label, line=number)])
            refused += 1
        elif not raw.strip():
            print(f"{label}:{number}: blank line skipped", file=sys.stderr)
            continue
        else:
            result, kind = _decide_line(raw, number, label, engine)
            decided += kind == "decided"
            refused += kind == "refused"
            failed += kind == "failed"
        out.write(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
        out.flush()  # each result as soon as it is known (a flush costs far less than a decision)
    out.flush()
    print(f"{decided} decided, {refused} refused (invalid), {failed} failed (internal error) "
          f"of {decided + refused + failed} request(s)", file=sys.stderr)
    code = EXIT_INTERNAL if failed else EXIT_INPUT if refused else EXIT_OK
    return "", code


def _decide_line(raw: bytes, number: int, label: str, engine: Engine) -> tuple[dict[str, Any], str]:
    try:
        request = validate_request(parse_request(raw.rstrip(b"\r\n"), f"{label} line {number}"))
        decision = engine.decide(request)
        return {"line": number, "decision": decision.model_dump(mode="json")}, "decided"
    except RequestError as exc:
        problems = [Problem(e.code, e.message, file=label, line=number, loc=e.loc) for e in exc.errors]
        return _error(number, exc.code, problems), "refused"
    except EngineError as exc:
        return _error(number, "internal_error", [Problem(exc.code, str(exc), file=label, line=number)]), "failed"
    except Exception as exc:  # noqa: BLE001 - never a decision after a fault
        return _error(number, "internal_error", [Problem("internal_error", f"{type(exc).__name__}: {exc}",
                                                         file=label, line=number)]), "failed"


def _error(number: int, code: str, problems: list[Problem]) -> dict[str, Any]:
    return {"line": number, "error": error_document(code, problems)}
