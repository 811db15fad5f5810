"""``sharelaw report LOG``: the appropriateness of what was done, against what the law allowed."""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

from ._common import EXIT_INTERNAL, InputError, add_rules_option, iso_date, load_bundle, open_log


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a fraction between 0 and 1 (e.g. 0.1)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from 1 to 100000")
    return value


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from ..report import GROUPINGS

    report = commands.add_parser(
        "report", help="appropriateness: what practitioners did, against what the law allowed (docs/appropriateness.md)")
    report.add_argument("log", metavar="LOG", help="the audit log (sqlite:///PATH, a path, or postgresql://...)")
    report.add_argument("--from", dest="start", type=iso_date, metavar="YYYY-MM-DD",
                        help="only decisions recorded on or after this day (UTC)")
    report.add_argument("--to", dest="end", type=iso_date, metavar="YYYY-MM-DD",
                        help="only decisions recorded on or before this day (UTC)")
    report.add_argument("--agency", help="only decisions asked for by this agency")
    report.add_argument("--by", choices=GROUPINGS, default="agency",
                        help="group by the asking agency, the practitioner's role, the purpose, the acting "
                             "agency's kind, or the interaction (default: agency)")
    report.add_argument("--period", type=_positive, default=30, metavar="DAYS",
                        help="days within which a must-share decision must be acted on (default 30)")
    report.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD",
                        help="judge non-action as at the end of this day (default: the last record's time)")
    report.add_argument("--sharing-threshold", type=_fraction, default=0.10, metavar="RATE",
                        help="an inappropriate-sharing rate above this is a tendency to over-share (default 0.10)")
    report.add_argument("--withholding-threshold", type=_fraction, default=0.10, metavar="RATE",
                        help="an inappropriate-withholding rate above this is a tendency to over-withhold (default 0.10)")
    report.add_argument("--min-n", type=_positive, default=30, metavar="N",
                        help="groups with fewer than N cases in a rate are not placed (default 30)")
    report.add_argument("--confidence", type=_fraction, default=0.95, help="interval confidence (default 0.95)")
    report.add_argument("--format", choices=["text", "json"], default="text", help="what is printed")
    report.add_argument("--html", metavar="FILE", help="also write the self-contained HTML report to FILE")
    report.add_argument("--images", metavar="DIR", help="also write the charts as PNG files into DIR")
    report.add_argument("--verify", action="store_true", help="verify the log's chain first (exit 1 if damaged)")
    add_rules_option(report)
    report.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> str | tuple[str, int]:
    from ..audit import LogDamaged
    from ..report import Options, Thresholds, build, render_html, render_json, render_text

    try:
        options = Options(
            by=args.by, start=args.start, end=args.end, agency=args.agency, period=timedelta(days=args.period),
            as_of=datetime.combine(args.as_of, time.max, tzinfo=timezone.utc) if args.as_of else None,
            thresholds=Thresholds(args.sharing_threshold, args.withholding_threshold, args.min_n, args.confidence))
    except ValueError as exc:
        raise InputError([f"error: {exc}"]) from None
    if args.html and Path(args.html).is_dir():
        raise InputError([f"error: --html {args.html} is a directory: give a file name"])
    if args.images and Path(args.images).exists() and not Path(args.images).is_dir():
        raise InputError([f"error: --images {args.images} is not a directory"])
    bundle = load_bundle(args.rules) if args.rules else None
    try:
        with open_log(args.log, read_only=True) as log:
            if args.verify:
                check = log.verify()
                if not check.ok:
                    return check.render(), EXIT_INTERNAL
            report = build(log.records(), options)
    except LogDamaged as exc:
        return f"DAMAGED: {exc}\n", EXIT_INTERNAL
    if args.html or args.images:
        if bundle is None:
            import sharelaw

            bundle = sharelaw.default_engine().bundle
    if args.html:
        _write(Path(args.html), render_html(report, bundle=bundle).encode("utf-8"))
    if args.images:
        from ..report.charts import law_timeline_chart, quadrant_chart, trends_chart

        folder = Path(args.images)
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "quadrant.png", quadrant_chart(report))
        _write(folder / "trends.png", trends_chart(report))
        until = report.as_of.date() if report.as_of else None
        if until is not None and bundle is not None:
            _write(folder / "law-timeline.png", law_timeline_chart(bundle, until, fmt="png"))
    return render_json(report) if args.format == "json" else render_text(report)


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all: a temporary file beside it, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file would be, not mkstemp's 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
