"""The report as text (a terminal), JSON (dashboards) and one self-contained HTML file."""

from __future__ import annotations

import base64
import html
import json
from datetime import date
from typing import TYPE_CHECKING

from .classify import LABELS, Klass

if TYPE_CHECKING:  # pragma: no cover
    from ..rules.bundle import Bundle
    from .aggregate import GroupRow, Report
    from .stats import Rate

CANNOT_KNOW = (
    "The log cannot know about interactions never put to sharelaw: information that was never "
    "offered or requested (not offering and not requesting are decisions too, domain.md section 4), "
    "decisions made without asking, or actions never recorded. A must-share decision with no action "
    "recorded within the period is counted as not passed on; everything else without an action is "
    "left unclassified. The rates describe what was recorded, and what was recorded is what "
    "practitioners entered (the log does not check that it is true)."
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _rate(r: "Rate") -> str:
    if r.n == 0:
        return "no cases"
    return f"{_pct(r.value)} [{_pct(r.low)}, {_pct(r.high)}] ({r.k}/{r.n})"


def _placement(g: "GroupRow") -> str:
    if g.placement.quadrant is None:
        return g.placement.note
    return g.placement.quadrant + ("" if g.placement.certain else f" (uncertain: {g.placement.note})")


def _hours(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} hours" if value < 48 else f"{value / 24:.1f} days"


def render_json(report: "Report") -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def render_text(report: "Report") -> str:
    o, t = report.options, report.options.thresholds
    d = report.as_dict()
    out = [f"Appropriateness report: {report.records} record(s), {report.decisions} decision(s), "
           f"{report.actions} action(s); by {o.by}."]
    filters = [f"{k} {v}" for k, v in d["filters"].items() if v]
    if filters:
        out.append("Filters: " + ", ".join(filters) + f" ({report.excluded} decision(s) outside them).")
    out.append(f"Non-action judged as of {d['as_of']}; period for acting {d['period_days']:g} day(s). "
               f"Thresholds: sharing {t.sharing:.0%}, withholding {t.withholding:.0%}; groups under "
               f"{t.min_n} are not placed; intervals Wilson {t.confidence:.0%}.")
    out.append("")
    header = f"{'group':<28} {'interactions':>12}  {'inappropriate sharing':<36} {'inappropriate withholding':<36} quadrant"
    out.append(header)
    for g in [*report.groups, report.overall]:
        out.append(f"{g.name[:28]:<28} {g.interactions:>12}  {_rate(g.sharing):<36} {_rate(g.withholding):<36} "
                   f"{_placement(g)}")
    out.append("")
    out.append("Classes (all groups):")
    for k in Klass:
        n = report.overall.classes.get(k.value, 0)
        if n:
            out.append(f"  {LABELS[k]:<52} {n:>8}")
    out.append("")
    out.append("By month (decided: must_share/may_share/must_not_share/refer; acted: shared/withheld/none):")
    for m, c in report.months.items():
        outcomes = "/".join(str(c.get("outcome:" + x, 0)) for x in ("must_share", "may_share", "must_not_share", "refer"))
        actions = "/".join(str(c.get("action:" + x, 0)) for x in ("shared", "withheld", "none"))
        bad = c.get("class:inappropriate_sharing", 0)
        badw = c.get("class:inappropriate_withholding", 0) + c.get("class:not_passed_on", 0)
        out.append(f"  {m}  decided {outcomes:<20} acted {actions:<16} inappropriate sharing {bad}, withholding {badw}")
    out.append("")
    tt = d["time_to_decide"]
    out.append(f"Time from first approach to decision ({tt['count']} with a first approach recorded): "
               f"median {_hours(tt['median_hours'])}, 90th percentile {_hours(tt['p90_hours'])}")
    out.append("  " + "; ".join(f"{k} {v}" for k, v in tt["bins"].items()))
    out.append("")
    out.append("Consulted (appropriate | inappropriate interactions):")
    names = sorted(set(report.consulted["appropriate"]) | set(report.consulted["inappropriate"]))
    for name in names:
        out.append(f"  {name:<26} {report.consulted['appropriate'].get(name, 0):>8} | "
                   f"{report.consulted['inappropriate'].get(name, 0):>8}")
    out.append("Confidence (appropriate | inappropriate):")
    for level in ("low", "medium", "high", "(not recorded)"):
        a, b = report.confidence["appropriate"].get(level, 0), report.confidence["inappropriate"].get(level, 0)
        if a or b:
            out.append(f"  {level:<26} {a:>8} | {b:>8}")
    out.append("")
    r = d["referrals"]
    out.append(f"Referrals: {r['resolved']} resolved by a later decision; unresolved: "
               + (", ".join(f"{LABELS[Klass(k)]} {v}" for k, v in r["unresolved"].items()) or "none"))
    if r["unresolved_missing_items"]:
        out.append("  missing in the unresolved: " + ", ".join(f"{k} {v}" for k, v in r["unresolved_missing_items"].items()))
    if report.late_actions:
        out.append(f"{report.late_actions} action(s) recorded after the period: counted as late, not reclassified.")
    out.append("")
    out.append("What the log cannot know: " + CANNOT_KNOW)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;border:1px solid #eee}.meta{color:#555;font-size:.9rem}
.note{background:#fff8e1;border-left:4px solid #fbc02d;padding:.5rem .8rem;font-size:.9rem}
.q-ideal{color:#2e7d32;font-weight:600}.q-over-cautious{color:#1565c0;font-weight:600}.q-over-open{color:#ef6c00;font-weight:600}.q-chaotic{color:#c62828;font-weight:600}
.svgbox svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}img,svg,table{page-break-inside:avoid}}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def inline_svg(svg: bytes) -> str:
    text = svg.decode("utf-8")
    return text[text.index("<svg"):]


def render_html(report: "Report", *, bundle: "Bundle | None" = None, law_until: date | None = None) -> str:
    """One HTML file, images embedded, readable offline. ``bundle``: also draw the law's
    timeline (the rules in force from 2000 to ``law_until``, by default the report's date)."""
    from .charts import law_timeline_chart, quadrant_chart, trends_chart

    d = report.as_dict()
    o, t = report.options, report.options.thresholds
    parts: list[str] = []
    add = parts.append
    add("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>sharelaw appropriateness report</title><style>{CSS}</style></head><body>")
    add("<h1>Appropriateness: what was done, against what the law allowed</h1>")
    add(f"<p class='meta'>{report.records} records: {report.decisions} decisions, {report.actions} actions. "
        f"Grouped by <b>{_e(o.by)}</b>. Non-action judged as of {_e(d['as_of'])}, period for acting "
        f"{d['period_days']:g} days. Thresholds: inappropriate sharing {t.sharing:.0%}, inappropriate withholding "
        f"{t.withholding:.0%}; groups with fewer than {t.min_n} cases in a rate are not placed; "
        f"{t.confidence:.0%} Wilson intervals.")
    filters = [f"{k} {v}" for k, v in d["filters"].items() if v]
    if filters:
        add(f" Filters: {_e(', '.join(filters))} ({report.excluded} decisions outside them).")
    add("</p>")
    add(f"<p class='note'><b>What the log cannot know.</b> {_e(CANNOT_KNOW)}</p>")

    add("<h2>Where each group falls</h2>")
    add(_img(quadrant_chart(report), "quadrant chart: inappropriate withholding against inappropriate sharing"))
    add("<table><tr><th>group</th><th>interactions</th><th>inappropriate sharing</th>"
        "<th>inappropriate withholding</th><th>quadrant</th></tr>")
    for g in [*report.groups, report.overall]:
        q = g.placement.quadrant
        cls = f" class='q-{q}'" if q else ""
        add(f"<tr><td>{_e(g.name)}</td><td class='n'>{g.interactions}</td><td>{_e(_rate(g.sharing))}</td>"
            f"<td>{_e(_rate(g.withholding))}</td><td{cls}>{_e(_placement(g))}</td></tr>")
    add("</table>")
    add("<table><tr><th>class</th><th>interactions</th></tr>")
    for k in Klass:
        n = report.overall.classes.get(k.value, 0)
        if n:
            add(f"<tr><td>{_e(LABELS[k])}</td><td class='n'>{n}</td></tr>")
    add("</table>")

    add("<h2>Outcomes and actions over time</h2>")
    if report.months:
        add(_img(trends_chart(report), "outcomes and actions by month"))

    tt = d["time_to_decide"]
    add("<h2>Time from first approach to decision</h2>")
    add(f"<p>{tt['count']} interactions recorded a first approach: median {_e(_hours(tt['median_hours']))}, "
        f"90th percentile {_e(_hours(tt['p90_hours']))}.</p><table><tr>")
    add("".join(f"<th>{_e(k)}</th>" for k in tt["bins"]) + "</tr><tr>")
    add("".join(f"<td class='n'>{v}</td>" for v in tt["bins"].values()) + "</tr></table>")

    add("<h2>What was consulted, and how confident practitioners were</h2>")
    add("<table><tr><th>consulted</th><th>appropriate interactions</th><th>inappropriate interactions</th></tr>")
    for name in sorted(set(report.consulted["appropriate"]) | set(report.consulted["inappropriate"])):
        add(f"<tr><td>{_e(name)}</td><td class='n'>{report.consulted['appropriate'].get(name, 0)}</td>"
            f"<td class='n'>{report.consulted['inappropriate'].get(name, 0)}</td></tr>")
    add("</table><table><tr><th>confidence</th><th>appropriate</th><th>inappropriate</th></tr>")
    for level in ("low", "medium", "high", "(not recorded)"):
        a, b = report.confidence["appropriate"].get(level, 0), report.confidence["inappropriate"].get(level, 0)
        if a or b:
            add(f"<tr><td>{_e(level)}</td><td class='n'>{a}</td><td class='n'>{b}</td></tr>")
    add("</table>")

    r = d["referrals"]
    add("<h2>Referrals</h2>")
    add(f"<p>{r['resolved']} referrals were resolved by a later decision on the same case. Unresolved:</p><table>")
    for k, v in r["unresolved"].items():
        add(f"<tr><td>{_e(LABELS[Klass(k)])}</td><td class='n'>{v}</td></tr>")
    add("</table>")
    if r["unresolved_missing_items"]:
        add("<p>What the unresolved referrals were missing:</p><table>")
        for k, v in r["unresolved_missing_items"].items():
            add(f"<tr><td><code>{_e(k)}</code></td><td class='n'>{v}</td></tr>")
        add("</table>")

    if bundle is not None:
        until = law_until or (report.as_of.date() if report.as_of else date.today())
        add("<h2>The law in force</h2><div class='svgbox'>")
        add(inline_svg(law_timeline_chart(bundle, until, fmt="svg")))
        add("</div>")
    add(f"<p class='meta'>Definitions: docs/appropriateness.md. Report format {_e(d['format'])}.</p>")
    add("</body></html>\n")
    return "".join(parts)

