"""The ``sharelaw`` command line.

    sharelaw decide REQUEST.json [--format text|json|markdown] [--rules PATH]...
    sharelaw decide --batch FILE.jsonl|- [--rules PATH]...
    sharelaw schema request|decision|ruleset|scenario|protocol|error
    sharelaw rules list [--as-at YYYY-MM-DD] [--stage STAGE] [--format text|json] [--rules PATH ...]
    sharelaw rules diff --from YYYY-MM-DD --to YYYY-MM-DD [--format text|json] [--rules PATH ...]
    sharelaw check [PATH ...] [--format text|json|sarif|github] [--strict]
    sharelaw prove [PATH ...] [--as-at YYYY-MM-DD ...] [--budget S] [--examples N] [--max-classes N] [--format text|json] [--progress|--no-progress]
    sharelaw test PATH... [--require-full-coverage] [--format text|json|junit] [-k PATTERN] [-v]
    sharelaw audit record LOG REQUEST.json --agency AGENCY --role ROLE [--person ID] [--rules PATH]...
    sharelaw audit act LOG DECISION_ID ACTION.json --agency AGENCY --role ROLE [--person ID]
    sharelaw audit verify LOG [--format text|json] [--expect-head FILE|HASH [--public-key PUB]]
    sharelaw audit show LOG DECISION_ID
    sharelaw audit export LOG [--format jsonl|csv] [--output FILE]
    sharelaw audit head LOG [--sign KEY]
    sharelaw audit keygen KEY [--public PUB]
    sharelaw replay LOG [--against current|sha256:HASH] [--rules PATH ...] [--format text|json] [--progress|--no-progress]
    sharelaw serve --tokens FILE [--host H] [--port P] [--workers N] [--log URL] [--record [required]] [--rules PATH ...]
    sharelaw token new --tokens FILE --id NAME --role ROLE [--agency A --practitioner-role R]
    sharelaw report LOG [--from D] [--to D] [--agency A] [--by agency|role|purpose|kind|interaction] [--format text|json] [--html FILE]
    sharelaw rules timeline --to YYYY-MM-DD --out FILE.svg|FILE.png
    sharelaw --version

Exit codes: 0 done; 2 invalid input (request, JSON, rule or scenario files, or usage),
with every problem listed on stderr; 1 internal error, or for ``test``, a scenario that
failed (or, with --require-full-coverage, a rule left uncovered), for ``audit verify`` a
damaged log, for ``replay`` a decision not reproduced (or not decidable under the rules
compared against). A decision is printed only with exit code 0. LOG is an audit log URL:
``sqlite:///PATH``, a plain path to a SQLite file, or ``postgresql://...`` (docs/audit.md).

One module per command group (``decide``, ``rules``, ``authoring``, ``audit``, ``replay``);
each has a ``register(commands)`` that adds its subcommands. ``_common`` holds what they
share, ``_render`` the terminal output.
"""

from __future__ import annotations

import argparse
import sys

from .._version import __version__
from ..errors import EngineError, Problem, RequestError, RulesetError, with_columns
from . import audit, authoring, decide, law, replay, report, rules, serve
from ._common import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    InputError,
    error_document,
    report_problems,
    report_request_error,
    to_json,
)

#: The command groups, in the order ``--help`` lists them.
COMMAND_GROUPS = [decide, rules, authoring, audit, replay, serve, law, report]


EPILOG = """\
examples:
  sharelaw decide examples/05-hospital-assists-s47-enquiry.json
  sharelaw decide --batch requests.jsonl > decisions.jsonl
  sharelaw rules list --as-at 2022-06-01 --stage vires
  sharelaw check my_protocol.yaml --format sarif > check.sarif
  sharelaw test my_protocol.yaml scenarios/ -k consent -v
  sharelaw audit record audit.db request.json --agency city-hospital --role nurse
  sharelaw replay audit.db --against current

exit codes:
  0  done
  1  internal error; or a check that failed: a scenario (test), an error (check), an
     invariant (prove), a damaged log (audit verify), a decision not reproduced (replay)
  2  invalid input or usage: every problem listed on stderr, in the form
     file:line:col: code: message [rule id]; under --format json also on stdout as an
     error document (sharelaw schema error)

Run 'sharelaw COMMAND --help' for a command's options. Documentation: README.md, docs/.
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    json_output = getattr(args, "format", None) == "json"
    try:
        output = args.run(args)
        code = EXIT_OK
        if isinstance(output, tuple):  # (output, exit code): commands whose result sets the status
            output, code = output
    except RequestError as exc:
        source = getattr(args, "request", None)
        report_request_error(exc, json_output=json_output,
                             file="<stdin>" if source == "-" else source if isinstance(source, str) else None)
        return EXIT_INPUT
    except InputError as exc:
        report_problems(exc.code, exc.problems, json_output=json_output, lines=exc.lines)
        return EXIT_INPUT
    except RulesetError as exc:
        problems = with_columns(exc.problems())
        if getattr(args, "rules", None) or getattr(args, "paths", None):
            # the user's rule files (e.g. an engine limit found when the engine starts)
            print("error: the rules given are invalid:", file=sys.stderr)
            report_problems("rules_invalid", problems, json_output=json_output)
            return EXIT_INPUT
        print("internal error: the shipped rules are invalid:", file=sys.stderr)
        report_problems("internal_error", problems, json_output=json_output)
        return EXIT_INTERNAL
    except EngineError as exc:
        print(f"internal error: {exc}", file=sys.stderr)
        if json_output:
            sys.stdout.write(to_json(error_document("internal_error", [Problem(exc.code, str(exc))])))
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - never a decision after a fault
        print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if json_output:
            sys.stdout.write(to_json(error_document(
                "internal_error", [Problem("internal_error", f"{type(exc).__name__}: {exc}")])))
        return EXIT_INTERNAL
    # Printed only once everything has succeeded, so a failure never leaves partial output.
    sys.stdout.write(output)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharelaw",
        description="Decide whether a public agency in England may, must or must not share a person's "
        "information, stage by stage, citing the law. Supports a decision; it is not legal advice.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sharelaw {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser
