"""sharelaw: may, must or must not a public service agency in England share a person's
information with another agency? Decided stage by stage, citing the law, as at a date.

    >>> import sharelaw
    >>> decision = sharelaw.decide(request_dict)        # doctest: +SKIP
    >>> decision.outcome, decision.decided_by            # doctest: +SKIP

sharelaw supports a practitioner's decision; it does not give legal advice.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any, Mapping

from ._version import __version__

if TYPE_CHECKING:  # imported on first use (below), so that ``import sharelaw`` stays cheap
    from . import scenarios
    from .audit import AuditLog
    from .decision import Decision, Finding, StageResult
    from .engine.stages import Engine
    from .errors import EngineError, FieldError, RequestError, RulesetError, RulesetErrors, SharelawError
    from .law.eras import Era, era_on
    from .request import SharingRequest, parse_request
    from .rules.bundle import Bundle
    from .vocab import Outcome, Stage

#: Each public name and the module it comes from. ``import sharelaw`` imports none of them
#: (pydantic, the rules, the engine, the audit log and durable-rules cost about 0.3 s);
#: each module is imported the first time one of its names is used.
_LAZY = {
    "AuditLog": ".audit",
    "Bundle": ".rules.bundle",
    "Decision": ".decision",
    "Engine": ".engine.stages",
    "EngineError": ".errors",
    "Era": ".law.eras",
    "FieldError": ".errors",
    "Finding": ".decision",
    "Outcome": ".vocab",
    "RequestError": ".errors",
    "RulesetError": ".errors",
    "RulesetErrors": ".errors",
    "SharelawError": ".errors",
    "SharingRequest": ".request",
    "Stage": ".vocab",
    "StageResult": ".decision",
    "era_on": ".law.eras",
    "parse_request": ".request",
}

__all__ = sorted([*_LAZY, "__version__", "decide", "default_engine", "scenarios"])


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (PEP 562)."""
    if name == "scenarios":
        value: Any = importlib.import_module(".scenarios", __name__)
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The shared engine over the shipped national rules (created on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                # The module's own name (imported on first use), so that it can be replaced.
                engine_class = globals()["Engine"] if "Engine" in globals() else __getattr__("Engine")
                _default = engine_class()
    return _default


def decide(request: SharingRequest | Mapping[str, Any]) -> Decision:
    """Decide one request with the shipped national rules. See ``Engine.decide``."""
    return default_engine().decide(request)
