"""sharelaw: may, must or must not a public service agency in England share a person's
information with another agency? Decided stage by stage, citing the law, as at a date.

    >>> import sharelaw
    >>> decision = sharelaw.decide(request_dict)        # doctest: +SKIP
    >>> decision.outcome, decision.decided_by            # doctest: +SKIP

sharelaw supports a practitioner's decision; it does not give legal advice.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from ._version import __version__
from .decision import Decision, Finding, StageResult
from .engine.pipeline import Engine
from .errors import EngineError, FieldError, RequestError, RulesetError, RulesetErrors, SharelawError
from .law.eras import Era, era_on
from .request import SharingRequest, parse_request
from .rules.bundle import Bundle
from .audit import AuditLog
from . import scenarios
from .vocab import Outcome, Stage

__all__ = sorted(
    [
        "AuditLog",
        "Bundle",
        "Decision",
        "Engine",
        "EngineError",
        "Era",
        "FieldError",
        "Finding",
        "Outcome",
        "RequestError",
        "RulesetError",
        "RulesetErrors",
        "SharelawError",
        "SharingRequest",
        "Stage",
        "StageResult",
        "__version__",
        "decide",
        "default_engine",
        "era_on",
        "parse_request",
        "scenarios",
    ]
)

_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The shared engine over the shipped national rules (created on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Engine()
    return _default


def decide(request: SharingRequest | Mapping[str, Any]) -> Decision:
    """Decide one request with the shipped national rules. See ``Engine.decide``."""
    return default_engine().decide(request)
