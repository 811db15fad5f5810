"""The law watch: which rules rest on legislation changed since its citation was checked.

``watch(bundle, source)`` reads legislation.gov.uk's changes feed for every Act and SI the
rules cite, and each cited provision's CLML, from ``HttpSource`` (the site, politely) or
``DirectorySource`` (saved files). ``sharelaw law watch`` is its command line; docs/law-watch.md
explains the output. Needs the ``watch`` extra (httpx) for online use only.
"""

from .clml import Effect, LegislationDataError, ProvisionVersion, parse_changes_feed, parse_provision, touches
from .sources import DataUnavailable, DirectorySource, HttpSource, RateLimiter, user_agent
from .watch import Finding, Watched, WatchReport, render_text, watch

__all__ = [
    "DataUnavailable", "DirectorySource", "Effect", "Finding", "HttpSource", "LegislationDataError",
    "ProvisionVersion", "RateLimiter", "WatchReport", "Watched", "parse_changes_feed", "parse_provision",
    "render_text", "touches", "user_agent", "watch",
]
