"""Decisions and rule tables as text for a terminal."""

from __future__ import annotations

from typing import Any

from ..decision import Decision
from ..engine.render import plain_text


def render_text(d: Decision) -> str:
    """A compact summary of a decision, for a terminal."""
    out = [f"{d.outcome.label} ({d.outcome.value})", d.summary, f"Law as at {d.as_at.isoformat()} ({d.legal_era})."]
    if d.request_id:
        out.append(f"Request: {plain_text(d.request_id)}")
    sections = [
        ("Basis", [f"{b.kind.label}: {b.title} [{b.rule_id}]" for b in d.basis]),
        ("Missing", [f"{m.item}: {m.question}" for m in d.missing]),
        ("Conditions", [c.text for c in d.conditions]),
        ("Ways forward", [w.text for w in d.ways_forward]),
    ]
    for heading, items in sections:
        if items:
            out.append("")
            out.append(f"{heading}:")
            out.extend(f"  - {item}" for item in items)
    for stage in d.stages:
        out.append("")
        out.append(f"{stage.title}: {stage.status.label}")
        for f in d.findings:
            if f.stage is not stage.stage:
                continue
            tag = "" if f.verification == "verified" else f" [{f.verification.upper()}]"
            out.append(f"  - {f.rule_id}{tag}: {f.reason}")
            if f.citations:
                cite = f.citations[0]
                where = f", {cite.paragraph}" if cite.paragraph else ""
                out.append(f"    {cite.label}{where}" + (f" <{cite.url}>" if cite.url else ""))
        for rq in stage.requirements:
            if rq.status == "unmet" and rq.reason:
                out.append(f"  - unmet: {rq.reason}")
                if rq.looked_for:
                    out.append(f"    looked for: {', '.join(rq.looked_for)}")
    if d.unverified:
        out.append("")
        out.append("Relied on but not verified against the primary text: " + ", ".join(d.unverified))
    out.append("")
    out.append(f"sharelaw {d.engine_version}, rules {d.bundle_hash}, evaluator {d.evaluator}. Not legal advice.")
    return "\n".join(out) + "\n"


def render_rule_table(rows: list[dict[str, Any]]) -> str:
    columns = ["id", "stage", "from", "to", "verification", "title"]
    table = [columns] + [[row[c] or "-" for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns) - 1)]
    lines = ["  ".join([cell.ljust(w) for cell, w in zip(line, widths)] + [line[-1]]) for line in table]
    return "\n".join(lines) + "\n" + f"{len(rows)} rule(s)\n"
