"""Appropriateness reports: what practitioners did, measured against what the law allowed.

    >>> from sharelaw.audit import AuditLog                               # doctest: +SKIP
    >>> from sharelaw.report import Options, build, render_text           # doctest: +SKIP
    >>> with AuditLog.open("decisions.db", read_only=True) as log:        # doctest: +SKIP
    ...     report = build(log.records(), Options(by="agency"))
    >>> print(render_text(report))                                        # doctest: +SKIP

``classify`` holds the one definition of each class of interaction; ``stats`` the Wilson
intervals and the quadrants; ``aggregate`` the single streaming pass; ``render`` text, JSON
and HTML; ``charts`` the pictures (matplotlib, the ``report`` extra); ``decision_html`` one
decision as a printable page. See docs/appropriateness.md.
"""

from __future__ import annotations

from .aggregate import GROUPINGS, Aggregator, Options, Report, build
from .classify import Klass, classify
from .decision_html import decision_html
from .render import render_html, render_json, render_text
from .stats import Thresholds, wilson

__all__ = [
    "GROUPINGS",
    "Aggregator",
    "Klass",
    "Options",
    "Report",
    "Thresholds",
    "build",
    "classify",
    "decision_html",
    "render_html",
    "render_json",
    "render_text",
    "wilson",
]
