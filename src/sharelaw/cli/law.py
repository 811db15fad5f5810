"""``sharelaw law watch``: rules whose cited law changed after it was checked."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import (
    EXIT_INTERNAL,
    EXIT_OK,
    InputError,
    add_rules_option,
    iso_date,
    load_bundle,
    to_json,
)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    law = commands.add_parser("law", help="keep the law under the rules current")
    law_commands = law.add_subparsers(dest="law_command", required=True, metavar="COMMAND")
    w = law_commands.add_parser(
        "watch", help="list rules whose cited provisions changed after their checked_on",
        description="Reads legislation.gov.uk's changes feed for every Act and SI the rules cite, and each cited "
        "provision's XML, online (politely: identifying User-Agent, at most one request a second by default, "
        "responses cached for an hour) or from saved files (--from DIR). Exit 0 when nothing changed and "
        "everything was checked, 1 when a rule is flagged or some data could not be had.")
    w.add_argument("--from", dest="from_dir", metavar="DIR", help="read saved files (the site's paths) instead of the site")
    w.add_argument("--format", choices=["text", "json"], default="text")
    w.add_argument("--act", action="append", metavar="TYPE/YEAR/NUMBER",
                   help="watch only this Act or SI (e.g. ukpga/2004/31); repeatable")
    w.add_argument("--as-at", type=iso_date, metavar="YYYY-MM-DD",
                   help="read each provision's point-in-time XML for this day (default: the current version)")
    w.add_argument("--base-url", default=None, help="the site to ask (default https://www.legislation.gov.uk)")
    w.add_argument("--contact", help="an email or URL for the User-Agent (default: $SHARELAW_CONTACT or sharelaw's page)")
    w.add_argument("--min-interval", type=float, default=None, metavar="SECONDS",
                   help="seconds between requests (default 1.0; at least 0.1, the site's limit)")
    w.add_argument("--cache", metavar="DIR", help="response cache folder (default ~/.cache/sharelaw/lawwatch)")
    w.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    add_rules_option(w)
    w.set_defaults(run=run_watch)


def run_watch(args: argparse.Namespace) -> tuple[str, int]:
    try:
        from ..lawwatch import DirectorySource, render_text, watch
    except ImportError as exc:
        raise InputError([f"error: the law watch needs the watch extra ({exc.name} is missing): "
                          "pip install 'sharelaw[watch]'"]) from None
    from ..lawwatch.sources import (
        DEFAULT_INTERVAL,
        MIN_INTERVAL,
        SITE,
        default_cache_dir,
    )

    problems = []
    if args.from_dir and (args.base_url or args.cache or args.no_cache or args.min_interval is not None):
        problems.append("error: --from reads saved files: --base-url, --cache, --no-cache and --min-interval are for the site")
    if args.min_interval is not None and args.min_interval < MIN_INTERVAL:
        problems.append(f"error: --min-interval must be at least {MIN_INTERVAL} s (legislation.gov.uk allows "
                        "3,000 requests in 5 minutes)")
    if args.from_dir and not Path(args.from_dir).is_dir():
        problems.append(f"error: --from {args.from_dir}: not a folder")
    for act in args.act or []:
        if len(act.split("/")) != 3:
            problems.append(f"error: --act {act}: write TYPE/YEAR/NUMBER, e.g. ukpga/2004/31")
    if problems:
        raise InputError(problems)
    from ..rules.bundle import Bundle, default_ruleset_dir

    # the rules only, not an engine: nothing is decided here
    bundle = load_bundle(args.rules) if args.rules else Bundle.load(default_ruleset_dir())
    acts = set(args.act) if args.act else None
    if acts:
        from ..analysis.currency import cited_provisions

        cited = {"/".join((c.citation.legislation or "").split("/")[:3]) for c in cited_provisions(bundle)}
        unknown = sorted(acts - cited)
        if unknown:
            raise InputError([f"error: --act {a}: no rule cites it" for a in unknown])
    if args.from_dir:
        report = watch(bundle, DirectorySource(Path(args.from_dir)), as_at=args.as_at, acts=acts)
    else:
        from ..lawwatch import HttpSource

        try:
            import httpx  # noqa: F401
        except ImportError:
            raise InputError(["error: online law watch needs httpx: pip install 'sharelaw[watch]' (or use --from DIR)"]) from None
        cache = None if args.no_cache else Path(args.cache) if args.cache else default_cache_dir()
        with HttpSource(args.base_url or SITE, contact=args.contact, cache_dir=cache,
                        min_interval=DEFAULT_INTERVAL if args.min_interval is None else args.min_interval) as source:
            report = watch(bundle, source, as_at=args.as_at, acts=acts)
            report.requests = source.requests
    code = EXIT_OK if report.ok else EXIT_INTERNAL
    if args.format == "json":
        data = report.as_dict()
        data["rules_hash"] = bundle.content_hash
        data["requests"] = report.requests
        return to_json(data), code
    return render_text(report), code
