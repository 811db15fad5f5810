"""``sharelaw replay``: re-run the decisions of an audit log."""

from __future__ import annotations

import argparse
import sys

from ._common import (
    EXIT_INTERNAL,
    EXIT_OK,
    InputError,
    Progress,
    add_rules_option,
    damaged_log_verdict,
    default_engine,
    load_bundle,
    open_log,
    to_json,
)


def register(commands: argparse._SubParsersAction) -> None:
    replay = commands.add_parser(
        "replay", help="re-run the decisions of an audit log",
        description="Without --against: re-run every decision with the rules archived for it and confirm the "
        "result is byte-identical. With --against current (the shipped rules, or those given with --rules) or "
        "--against sha256:HASH (a bundle archived in the log): list the decisions whose outcome or basis would "
        "differ, stage by stage.",
    )
    replay.add_argument("log", metavar="LOG")
    replay.add_argument("--against", metavar="current|sha256:HASH")
    replay.add_argument("--format", choices=["text", "json"], default="text")
    replay.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress on stderr (default: when stderr is a terminal)")
    add_rules_option(replay)
    replay.set_defaults(run=run_replay)


@damaged_log_verdict
def run_replay(args: argparse.Namespace) -> tuple[str, int]:
    from ..audit import AuditError
    from ..audit.replay import compare, render, reproduce

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = Progress("replayed") if show else None
    with open_log(args.log, read_only=True) as log:
        check = log.verify()
        if not check.ok:
            out = to_json({"verify": check.to_dict()}) if args.format == "json" else check.render()
            return out, EXIT_INTERNAL
        if args.against is None:
            if args.rules:
                raise InputError(["error: --rules is for --against current"])
            report = reproduce(log, progress)
        else:
            if args.against == "current":
                bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
            elif args.against.startswith("sha256:"):
                if args.rules:
                    raise InputError(["error: --rules is for --against current"])
                try:
                    bundle = log.bundle(args.against)
                except AuditError as exc:
                    raise InputError([f"error: {exc}"]) from None
            else:
                raise InputError([f"error: --against takes 'current' or sha256:HASH, not {args.against!r}"])
            report = compare(log, bundle, progress)
    if progress is not None:
        progress.finish()
    out = to_json(report.to_dict()) if args.format == "json" else render(report)
    return out, EXIT_OK if report.ok else EXIT_INTERNAL
