"""The pictures: matplotlib with the Agg renderer, no pyplot (no global state), no network.

Every function returns the image's bytes (``fmt`` "png" or "svg"). Output is
deterministic for the same input (no dates in the metadata, a fixed SVG hash salt).
"""

from __future__ import annotations

import io
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..rules.bundle import Bundle
    from .aggregate import Report

QUADRANT_COLOURS = {"ideal": "#2e7d32", "over-cautious": "#1565c0", "over-open": "#ef6c00", "chaotic": "#c62828"}
OUTCOME_COLOURS = {"must_share": "#1b5e20", "may_share": "#81c784", "refer": "#fbc02d", "must_not_share": "#b71c1c"}
ACTION_COLOURS = {"shared": "#1565c0", "withheld": "#6d4c41", "none": "#9e9e9e"}
STAGE_COLOURS = {"vires": "#5e35b1", "hra": "#00897b", "confidence": "#6d4c41", "data_protection": "#1e88e5",
                 "protocol": "#757575"}


def _figure(width: float, height: float, layout: Literal["constrained"] | None = "constrained") -> "Figure":
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - the report extra
        raise ImportError("the pictures need matplotlib: pip install 'sharelaw[report]'") from exc
    return Figure(figsize=(width, height), dpi=100, layout=layout)


def _save(fig: "Figure", fmt: str) -> bytes:
    import matplotlib

    buf = io.BytesIO()
    if fmt == "svg":
        with matplotlib.rc_context({"svg.hashsalt": "sharelaw", "svg.fonttype": "none"}):
            fig.savefig(buf, format="svg", metadata={"Date": None})
    elif fmt == "png":
        fig.savefig(buf, format="png", metadata={"Software": None}, dpi=110)
    else:
        raise ValueError(f"unknown image format {fmt!r}: png or svg")
    return buf.getvalue()


def quadrant_chart(report: "Report", fmt: str = "png") -> bytes:
    """Each placed group a point: x the inappropriate-withholding rate, y the inappropriate-sharing
    rate, with its intervals as error bars and its area by volume; the thresholds as lines."""
    t = report.options.thresholds
    fig = _figure(7.5, 6.0)
    ax = fig.add_subplot()
    placed = [g for g in report.groups if g.placement.quadrant is not None]
    top = max([0.5] + [g.sharing.high for g in placed] + [g.withholding.high for g in placed])
    lim = min(1.0, top * 1.1)
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.axvline(t.withholding, color="#555", linestyle="--", linewidth=1)
    ax.axhline(t.sharing, color="#555", linestyle="--", linewidth=1)
    # the quadrant names around the point where the thresholds cross
    around = {"ideal": (-6, -6, "right", "top"), "over-cautious": (6, -6, "left", "top"),
              "over-open": (-6, 6, "right", "bottom"), "chaotic": (6, 6, "left", "bottom")}
    for name, (dx, dy, ha, va) in around.items():
        ax.annotate(name, (t.withholding, t.sharing), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                    fontsize=12, color=QUADRANT_COLOURS[name], alpha=0.75, fontweight="bold")
    biggest = max([g.interactions for g in placed] + [1])
    for g in placed:
        assert g.sharing.value is not None and g.withholding.value is not None
        x, y = g.withholding.value, g.sharing.value
        colour = QUADRANT_COLOURS[g.placement.quadrant or "ideal"]
        ax.errorbar(x, y, xerr=[[x - g.withholding.low], [g.withholding.high - x]],
                    yerr=[[y - g.sharing.low], [g.sharing.high - y]], fmt="none", ecolor=colour, alpha=0.7,
                    capsize=3, linewidth=1.2)
        ax.scatter([x], [y], s=60 + 900 * g.interactions / biggest, color=colour, alpha=0.55, edgecolors="black",
                   linewidths=0.6, zorder=3)
        ax.annotate(g.name, (x, y), xytext=(7, 7), textcoords="offset points", fontsize=9)
    ax.set_xlabel("inappropriate withholding: must-share not shared (rate, 95% interval)")
    ax.set_ylabel("inappropriate sharing: shared when not cleared (rate, 95% interval)")
    unplaced = [g.name for g in report.groups if g.placement.quadrant is None]
    title = f"Appropriateness by {report.options.by}: thresholds {t.withholding:.0%} / {t.sharing:.0%}"
    ax.set_title(title, fontsize=11)
    if unplaced:
        ax.text(0.5, -0.16, "not placed (too few): " + ", ".join(unplaced[:8]) + (" ..." if len(unplaced) > 8 else ""),
                transform=ax.transAxes, ha="center", fontsize=8, color="#555")
    ax.grid(alpha=0.2)
    return _save(fig, fmt)


def trends_chart(report: "Report", fmt: str = "png") -> bytes:
    """Outcomes (the law's answers) and actions (what was done), month by month."""
    months = list(report.months)
    fig = _figure(9.0, 5.5)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    xs = list(range(len(months)))

    def stacked(ax: Any, prefix: str, colours: dict[str, str], title: str) -> None:
        bottom = [0] * len(months)
        for key, colour in colours.items():
            values = [report.months[m].get(prefix + key, 0) for m in months]
            ax.bar(xs, values, bottom=bottom, color=colour, label=key.replace("_", " "), width=0.8)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_ylabel("interactions")
        ax.grid(axis="y", alpha=0.2)

    stacked(ax1, "outcome:", OUTCOME_COLOURS, "What the law allowed (decision outcome), by month decided")
    stacked(ax2, "action:", ACTION_COLOURS, "What was done (last action within the period)")
    step = max(1, len(months) // 12)
    ax2.set_xticks(xs[::step], months[::step], rotation=45, fontsize=8)
    return _save(fig, fmt)


def law_timeline_chart(bundle: "Bundle", end: date, fmt: str = "svg", start: date | None = None) -> bytes:
    """Which rules of each stage were in force from 2000 to ``end``, one bar per rule, with the
    boundaries of the data protection eras marked."""
    from ..law.eras import ERAS, SCOPE_START
    from ..vocab import Stage

    start = start or SCOPE_START
    lanes: list[tuple[str, list[Any]]] = []
    for st in Stage:
        rules = [r for r in bundle.by_stage[st] if r.in_force.start <= end and
                 (r.in_force.end is None or r.in_force.end >= start)]
        if st is Stage.PROTOCOL or not rules:
            continue
        lanes.append((st.value, sorted(rules, key=lambda r: (r.in_force.start, r.id))))
    protocol_rules = [r for p in bundle.protocols.values() for r in p.rules
                      if r.in_force.start <= end and (r.in_force.end is None or r.in_force.end >= start)]
    if protocol_rules:
        lanes.append(("protocol", sorted(protocol_rules, key=lambda r: (r.in_force.start, r.id))))
    rows = sum(len(rules) for _, rules in lanes)
    height = 1.8 + 0.1 * rows + 0.3 * len(lanes)
    fig = _figure(12.0, height, layout=None)  # laid out by hand: constrained layout redraws every label
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 1.2 / height, bottom=0.45 / height,
                        hspace=0.5 * max(1, len(lanes)) / max(1.0, height - 1.65))
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # untyped

    axes = list(fig.subplots(len(lanes), 1, sharex=True, squeeze=False,
                             height_ratios=[max(3, len(r)) for _, r in lanes])[:, 0]) if lanes else []
    x0, x1 = mdates.date2num(start), mdates.date2num(end)
    for ax, (stage, rules) in zip(axes, lanes):
        colour = STAGE_COLOURS.get(stage, "#555")
        from matplotlib.colors import to_rgba

        lefts = [float(mdates.date2num(max(r.in_force.start, start))) for r in rules]
        rights = [float(mdates.date2num(min(r.in_force.end, end))) if r.in_force.end else x1 for r in rules]
        ax.barh(range(len(rules)), [max(b - a, 1.0) for a, b in zip(lefts, rights)], left=lefts, height=0.8,
                color=[to_rgba(colour, 0.55 if r.verification == "verified" else 0.22) for r in rules])
        for i, (r, a) in enumerate(zip(rules, lefts)):
            ax.text(a + 20, i, r.id, fontsize=4.6, va="center", ha="left", color="#111", clip_on=True)
        ax.set_yticks([])
        ax.set_ylim(len(rules) - 0.5, -0.5)
        title = Stage(stage).label
        ax.set_title(f"{title} ({len(rules)} rules)", fontsize=8, loc="left", pad=2)
        for span in ERAS[1:]:
            if start < span.start <= end:
                ax.axvline(mdates.date2num(span.start), color="#c62828", linestyle="--", linewidth=0.9)
    if lanes:
        short = {"dpa1998": "DPA 1998", "eu_gdpr_dpa2018": "EU GDPR + DPA 2018", "uk_gdpr_dpa2018": "UK GDPR",
                 "uk_gdpr_duaa2025": "UK GDPR + DUAA 2025"}
        for n, span in enumerate(s for s in ERAS if s.start <= end):
            x = mdates.date2num(max(span.start, start))
            right = x > x0 + 0.85 * (x1 - x0)
            axes[0].annotate(short.get(span.era.value, span.era.label), (x, 1.0), xycoords=("data", "axes fraction"),
                             xytext=(-2 if right else 2, 12 + 9 * (n % 3)), textcoords="offset points", fontsize=7,
                             color="#c62828", annotation_clip=False, ha="right" if right else "left")
        axes[-1].set_xlim(x0, x1)
        axes[-1].xaxis.set_major_locator(mdates.YearLocator(2))
        axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        fig.suptitle(f"The law in force, {start.isoformat()} to {end.isoformat()}: one bar per rule, by stage "
                     "(pale: not verified against the primary text; red: data protection eras)", fontsize=10)
    return _save(fig, fmt)
