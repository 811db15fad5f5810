"""``sharelaw replay``: re-run the decisions of an audit log."""

from __future__ import annotations

import argparse

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


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay", help="re-run the decisions of an audit log",
        description="Without --against: re-run every decision with the rules archived for it and confirm the "
        "result is byte-identical. With --against current (the shipped rules, or those given with --rules) or "
        "--against sha256:HASH (a bundle archived in the log): list the decisions whose outcome or basis would "
        "differ, stage by stage.",
    )
    replay.add_argument("log", metavar="LOG")
    replay.add_argument("--against", metavar="current|sha256:HASH",
                        help="compare instead of reproduce: 'current' (the shipped rules, or --rules) or a bundle "
                        "archived in the log (sha256:HASH, as in the records' bundle_hash)")
    replay.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default) or json (the replay report)")
    replay.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress on stderr (default: when stderr is a terminal)")
    replay.add_argument("--evaluator", choices=["recorded", "durable", "compiled", "reference"], default="recorded",
                        help="re-decide with this evaluator (default: the one that made each decision; another "
                        "must decide the same, and the field naming the evaluator is then left out of the comparison)")
    replay.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="verify and replay in N processes, by seq range (default 1: in this process)")
    replay.add_argument("--dask", metavar="SCHEDULER|local",
                        help="verify and replay on a Dask cluster: a scheduler address (tcp://host:8786), or "
                        "'local' for a LocalCluster of --jobs workers on this machine; needs sharelaw[distributed]")
    replay.add_argument("--partition-size", type=int, default=0, metavar="RECORDS",
                        help="records per partition with --jobs/--dask (default: 4 partitions per job)")
    add_rules_option(replay)
    replay.set_defaults(run=run_replay)


def _evaluators() -> tuple[str, ...]:
    """The evaluators this engine has (i11's compiled path adds one)."""
    import typing

    from ..engine.pipeline import Engine

    hint = typing.get_type_hints(Engine.__init__).get("evaluator")
    return tuple(typing.get_args(hint)) or ("durable", "reference")


@damaged_log_verdict
def run_replay(args: argparse.Namespace) -> tuple[str, int]:
    from ..audit import AuditError
    from ..audit.replay import compare, render, reproduce

    problems = []
    if args.evaluator != "recorded" and args.evaluator not in _evaluators():
        problems.append(f"error: --evaluator {args.evaluator}: this sharelaw has no such evaluator "
                        f"(it has {', '.join(_evaluators())})")
    if args.jobs < 1:
        problems.append(f"error: --jobs takes a number of processes >= 1, not {args.jobs}")
    if args.partition_size < 0:
        problems.append(f"error: --partition-size takes a number of records >= 1, not {args.partition_size}")
    if args.against is None and args.rules:
        problems.append("error: --rules is for --against current")
    if problems:
        raise InputError(problems)
    evaluator = None if args.evaluator == "recorded" else args.evaluator
    if args.jobs > 1 or args.dask is not None:
        return _run_parallel(args, evaluator)
    progress: Progress | None = Progress("replayed", force=args.progress)
    if progress is not None and not progress.enabled:
        progress = None
    with open_log(args.log, read_only=True) as log:
        check = log.verify()
        if not check.ok:
            out = to_json({"verify": check.to_dict()}) if args.format == "json" else check.render()
            return out, EXIT_INTERNAL
        if args.against is None:
            if args.rules:
                raise InputError(["error: --rules is for --against current"])
            report = reproduce(log, progress, evaluator=evaluator)
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
            report = compare(log, bundle, progress, evaluator=evaluator)
    if progress is not None:
        progress.finish()
    out = to_json(report.to_dict()) if args.format == "json" else render(report)
    return out, EXIT_OK if report.ok else EXIT_INTERNAL


def _run_parallel(args: argparse.Namespace, evaluator: str | None) -> tuple[str, int]:
    """``--jobs N`` / ``--dask``: the same report as a serial replay, made by partitions."""
    from ..audit import AuditError, parallel
    from ..audit.replay import render

    against: object = None
    with open_log(args.log, read_only=True) as log:  # a missing log is exit 2, as in a serial replay
        url = log.url
        if args.against == "current":
            bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
            against = dict(bundle.sources)
        elif args.against is not None:
            if not args.against.startswith("sha256:"):
                raise InputError([f"error: --against takes 'current' or sha256:HASH, not {args.against!r}"])
            try:
                log.bundle(args.against)
            except AuditError as exc:
                raise InputError([f"error: {exc}"]) from None
            against = args.against
    mode = "reproduce" if args.against is None else "against"
    try:
        check, report = parallel.run(url, mode=mode, against=against, evaluator=evaluator, jobs=args.jobs,
                                     dask=args.dask, partition_size=args.partition_size)
    except ImportError as exc:
        raise InputError([f"error: --dask needs dask.distributed: pip install 'sharelaw[distributed]' ({exc})"]) \
            from None
    if not check.ok or report is None:
        out = to_json({"verify": check.to_dict()}) if args.format == "json" else check.render()
        return out, EXIT_INTERNAL
    out = to_json(report.to_dict()) if args.format == "json" else render(report)
    return out, EXIT_OK if report.ok else EXIT_INTERNAL
