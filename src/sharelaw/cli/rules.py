"""``sharelaw rules list`` and ``sharelaw rules diff``."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from ..rules.bundle import Bundle
from ..rules.model import Rule
from ..vocab import Stage
from ._common import (
    InputError,
    add_rules_option,
    default_engine,
    iso_date,
    load_bundle,
    scope_date,
    to_json,
)
from ._render import render_rule_table


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = commands.add_parser("rules", help="inspect the rules")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    listing = rules_commands.add_parser("list", help="list the rules, optionally only those in force on a day")
    listing.add_argument("--as-at", type=iso_date, metavar="YYYY-MM-DD", help="only rules in force on this day")
    listing.add_argument("--stage", choices=[s.value for s in Stage], help="only the rules of this stage")
    listing.add_argument("--format", choices=["text", "json"], default="text",
                         help="text (default, a table) or json (the rules and the bundle hash)")
    add_rules_option(listing, many=True)
    listing.set_defaults(run=run_rules_list)
    changes = rules_commands.add_parser("diff", help="what came into force, ended or changed between two dates")
    changes.add_argument("--from", dest="start", type=scope_date, required=True, metavar="YYYY-MM-DD")
    changes.add_argument("--to", dest="end", type=scope_date, required=True, metavar="YYYY-MM-DD")
    changes.add_argument("--format", choices=["text", "json"], default="text",
                         help="text (default) or json (every change, with its citations)")
    add_rules_option(changes, many=True)
    changes.set_defaults(run=run_rules_diff)
    timeline = rules_commands.add_parser("timeline", help="draw which rules of each stage were in force, 2000 to a date")
    timeline.add_argument("--out", required=True, metavar="FILE.svg|FILE.png", help="the picture to write")
    timeline.add_argument("--to", dest="end", type=scope_date, metavar="YYYY-MM-DD",
                          help="the last day drawn (default: today)")
    add_rules_option(timeline)
    timeline.set_defaults(run=run_rules_timeline)


def run_rules_list(args: argparse.Namespace) -> str:
    bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
    document = list_document(bundle, args.as_at, args.stage)
    if args.format == "json":
        return to_json(document)
    return render_rule_table(document["rules"])


def list_document(bundle: Bundle, as_at: date | None, stage: str | None = None) -> dict[str, Any]:
    """What ``rules list --format json`` prints (and the service's ``GET /v1/rules``)."""
    stages = [Stage(stage)] if stage else list(Stage)
    rules: list[Rule] = []
    for each in stages:
        if as_at is None:
            rules.extend(bundle.by_stage[each])
            rules.extend(r for p in bundle.protocols.values() for r in p.rules if r.stage is each)
        else:
            rules.extend(bundle.segment(each, as_at).rules)
            for pid in bundle.protocols:
                rules.extend(bundle.protocol_segment(pid, each, as_at).rules)
    rows = [
        {
            "id": r.id,
            "stage": r.stage.value,
            "protocol": r.protocol,
            "from": r.in_force.start.isoformat(),
            "to": r.in_force.end.isoformat() if r.in_force.end else None,
            "verification": r.verification,
            "title": r.title,
        }
        for r in rules
    ]
    return {"as_at": as_at.isoformat() if as_at else None, "bundle_hash": bundle.content_hash, "rules": rows}


def run_rules_diff(args: argparse.Namespace) -> str:
    if args.end < args.start:
        raise InputError(["error: --to is before --from"])
    bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
    document = diff_document(bundle, args.start, args.end)
    if args.format == "json":
        return to_json(document)
    rows = document["changes"]
    from ..law.eras import era_on

    out = [f"The law from {args.start.isoformat()} ({era_on(args.start).label}) "
           f"to {args.end.isoformat()} ({era_on(args.end).label}):"]
    for kind, mark, heading in (("started", "+", "Came into force"), ("ended", "-", "Ended"), ("changed", "~", "Changed")):
        group = [r for r in rows if r["change"] == kind]
        out.append("")
        out.append(f"{heading} ({len(group)}):")
        for r in group:
            out.append(f"  {mark} {r['id']} [{r['stage']}]: {r['title']}")
            if "citation" in r:
                dates = f"in force {r['from']} to {r['to'] or 'now'}"
                tag = "" if r["verification"] == "verified" else f" [{r['verification'].upper()}]"
                out.append(f"      {dates}{tag}; {r['citation']['label']} <{r['citation']['url']}>")
            if r.get("citations_before"):
                out.append(f"      cited before: {'; '.join(r['citations_before'])}")
                out.append(f"      cited after:  {'; '.join(r['citations_after'])}")
    out.append("")
    out.append(f"rules {bundle.content_hash}")
    return "\n".join(out) + "\n"


def diff_document(bundle: Bundle, start: date, end: date) -> dict[str, Any]:
    """What ``rules diff --format json`` prints (and the service's ``GET /v1/rules/diff``)."""
    from ..rules.timeline import diff

    changes = diff(bundle, start, end)

    def cite(rule: Rule, day: date) -> dict[str, Any]:
        sources = [c.resolve(day) for c in rule.citations if c.applies_on(day)] or [rule.citations[0].resolve(day)]
        return {"label": sources[0].label, "url": sources[0].url}

    rows: list[dict[str, Any]] = []
    for c in changes:
        if c.rule is not None:
            day = start if c.kind == "ended" else end
            rows.append({
                "change": c.kind, "id": c.rule.id, "stage": c.rule.stage.value, "title": c.rule.title,
                "from": c.rule.in_force.start.isoformat(),
                "to": c.rule.in_force.end.isoformat() if c.rule.in_force.end else None,
                "verification": c.rule.verification, "citation": cite(c.rule, day),
                "citations_before": c.before or None, "citations_after": c.after or None,
            })
        else:
            assert c.requirement is not None  # a change is of a rule or of a requirement
            rows.append({"change": c.kind, "id": c.id, "stage": c.requirement.stage.value,
                         "title": f"requirement: {c.requirement.title}"})
    return {"from": start.isoformat(), "to": end.isoformat(), "bundle_hash": bundle.content_hash, "changes": rows}


def run_rules_timeline(args: argparse.Namespace) -> str:
    from ..report.charts import law_timeline_chart
    from .report import _write

    fmt = args.out.rsplit(".", 1)[-1].lower() if "." in args.out else ""
    if fmt not in ("svg", "png"):
        raise InputError([f"error: --out {args.out}: name an .svg or .png file"])
    bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
    from datetime import datetime, timezone
    from pathlib import Path

    end = args.end or datetime.now(timezone.utc).date()  # a picture, not a decision: today by default
    _write(Path(args.out), law_timeline_chart(bundle, end, fmt=fmt))
    return f"wrote {args.out}: the rules in force from 2000-03-01 to {end.isoformat()} (rules {bundle.content_hash})\n"
