"""One decision as a printable HTML page: the stages as a flow, each with its findings and
citations as links, the missing items and the ways forward (``sharelaw decide --format html``).

Self-contained (inline CSS and SVG, no script, no network). Every piece of text that can
carry words from the request is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..decision import Decision, Finding

STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "refer": "#f9a825", "not_engaged": "#78909c",
                  "not_evaluated": "#bdbdbd"}
OUTCOME_COLOURS = {"must_share": "#1b5e20", "may_share": "#2e7d32", "must_not_share": "#b71c1c", "refer": "#f57f17"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:960px;color:#222;line-height:1.45;padding:0 1rem}
.outcome{display:inline-block;color:#fff;padding:.3rem .8rem;border-radius:4px;font-size:1.4rem;font-weight:700}
h2{font-size:1.15rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:1.6rem}
.stage{border-left:6px solid #999;padding:.3rem .8rem;margin:.8rem 0;background:#fafafa}
.stage h3{margin:.2rem 0;font-size:1rem}.tag{font-size:.75rem;background:#ffe0b2;padding:0 .3rem;border-radius:3px}
.meta{color:#555;font-size:.85rem}ul{margin:.3rem 0}code{font-size:.85em}
.flow svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}.stage{page-break-inside:avoid}a{color:#000}a[href]:after{content:" <" attr(href) ">";font-size:.75em;color:#555}}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def flow_svg(decision: "Decision") -> str:
    """The stages in legal order as boxes joined by arrows, coloured by status."""
    stages = decision.stages
    w, h, gap = 170, 64, 34
    width = len(stages) * w + (len(stages) - 1) * gap + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="the stages as a flow" '
           f'width="{width}" height="{h + 40}" viewBox="0 0 {width} {h + 40}">']
    out.append('<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
               '<path d="M0,0 L10,4 L0,8 z" fill="#555"/></marker></defs>')
    for i, st in enumerate(stages):
        x = 10 + i * (w + gap)
        colour = STATUS_COLOURS.get(st.status.value, "#999")
        name, _, rest = st.title.partition(":")
        out.append(f'<rect x="{x}" y="10" width="{w}" height="{h}" rx="8" fill="{colour}" stroke="#333" stroke-width="1"/>')
        out.append(f'<text x="{x + w / 2}" y="32" text-anchor="middle" font-size="13" font-weight="700" '
                   f'fill="#fff" font-family="sans-serif">{_e(name if rest else st.stage.value)}</text>')
        out.append(f'<text x="{x + w / 2}" y="52" text-anchor="middle" font-size="11" fill="#fff" '
                   f'font-family="sans-serif">{_e(st.status.value.replace("_", " "))}</text>')
        if i:
            out.append(f'<line x1="{x - gap + 2}" y1="{10 + h / 2}" x2="{x - 3}" y2="{10 + h / 2}" stroke="#555" '
                       'stroke-width="2" marker-end="url(#arrow)"/>')
    out.append(f'<text x="10" y="{h + 32}" font-size="11" fill="#555" font-family="sans-serif">'
               f'{_e(decision.outcome.label)}: decided by {_e(", ".join(decision.decided_by) or "no rule")}</text>')
    out.append("</svg>")
    return "".join(out)


def _finding(f: "Finding") -> str:
    cites = []
    for c in f.citations:
        text = c.label + (f", {c.paragraph}" if c.paragraph else "")
        cites.append(f'<a href="{_e(c.url)}">{_e(text)}</a>' if c.url else _e(text))
    tag = "" if f.verification == "verified" else f' <span class="tag">{_e(str(f.verification).upper())}</span>'
    return (f"<li><b>{_e(f.effect.label)}</b>: {_e(f.reason)}{tag} ({'; '.join(cites)}) "
            f"<code>{_e(f.rule_id)}</code></li>")


def decision_html(decision: "Decision") -> str:
    d = decision
    parts: list[str] = []
    add = parts.append
    add("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>sharelaw decision: {_e(d.outcome.value)}</title><style>{CSS}</style></head><body>")
    add(f"<p><span class='outcome' style='background:{OUTCOME_COLOURS.get(d.outcome.value, '#555')}'>"
        f"{_e(d.outcome.label)}</span></p>")
    add(f"<p>{_e(d.summary)}</p>")
    add(f"<p class='meta'>Law as at {_e(d.as_at.isoformat())} ({_e(d.legal_era)})"
        + (f"; request {_e(d.request_id)}" if d.request_id else "") + ".</p>")
    add(f"<div class='flow'>{flow_svg(d)}</div>")
    if d.basis:
        add("<h2>Basis relied on</h2><ul>")
        add("".join(f"<li><b>{_e(b.kind.label)}</b>: {_e(b.title)} <code>{_e(b.rule_id)}</code></li>" for b in d.basis))
        add("</ul>")
    if d.missing:
        add("<h2>What is missing</h2><ul>")
        add("".join(f"<li><code>{_e(m.item)}</code>: {_e(m.question)}</li>" for m in d.missing))
        add("</ul>")
    if d.conditions:
        add("<h2>Conditions</h2><ul>" + "".join(f"<li>{_e(c.text)}</li>" for c in d.conditions) + "</ul>")
    if d.ways_forward:
        add("<h2>Ways forward</h2><ul>" + "".join(f"<li>{_e(w.text)}</li>" for w in d.ways_forward) + "</ul>")
    add("<h2>Stage by stage</h2>")
    by_stage: dict[str, list["Finding"]] = {}
    for f in d.findings:
        by_stage.setdefault(f.stage.value, []).append(f)
    for st in d.stages:
        colour = STATUS_COLOURS.get(st.status.value, "#999")
        add(f"<section class='stage' style='border-left-color:{colour}'><h3>{_e(st.title)}: {_e(st.status.label)}</h3>")
        findings = by_stage.get(st.stage.value, [])
        unmet = [rq for rq in st.requirements if rq.status == "unmet" and rq.reason]
        if findings or unmet:
            add("<ul>")
            add("".join(_finding(f) for f in findings))
            for rq in unmet:
                looked = (" Looked for: " + ", ".join(f"<code>{_e(r)}</code>" for r in rq.looked_for) + ".") if rq.looked_for else ""
                add(f"<li>{_e(rq.reason)}{looked}</li>")
            add("</ul>")
        add("</section>")
    if d.protocols:
        add("<h2>Protocols considered</h2><ul>")
        for p in d.protocols:
            gaps = f": {_e('; '.join(p.gaps))}" if p.gaps else ""
            add(f"<li>{_e(p.title)} ({_e(p.id)} v{_e(p.version)}): {'covers' if p.covers else 'does not cover'}{gaps}</li>")
        add("</ul>")
    if d.unverified:
        add("<p class='meta'><b>Relied on but not verified against the primary text</b>: "
            + ", ".join(f"<code>{_e(r)}</code>" for r in d.unverified)
            + ". Take advice before relying on them.</p>")
    add(f"<p class='meta'>sharelaw {_e(d.engine_version)}, rules {_e(d.bundle_hash)}, evaluator {_e(d.evaluator)}. "
        "Supports a decision; it is not legal advice.</p></body></html>\n")
    return "".join(parts)
