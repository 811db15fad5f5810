"""Compatibility: the engine was one module, ``engine/pipeline.py``, until 0.4.

It is now split into rooms (see ``engine/stages.py``): ``stages`` (the Engine and its
orchestration), ``combine`` (the combination semantics of docs/decision-semantics.md),
``coverage`` (protocols) and ``render`` (findings, citations, summary). This module
re-exports the names code imported from here; new code imports from the rooms.
"""

from __future__ import annotations

from .combine import (  # noqa: F401
    StageRun as _StageRun,
    bases as _bases,
    combine as _combine,
    conditions as _conditions,
    decided_by as _decided_by,
    establish as _establish,
    guard as _guard,
    missing as _missing,
    ways_forward as _ways_forward,
)
from .coverage import Cover as _Cover  # noqa: F401
from .render import Renderer as _Renderer, plain_text, summary as _summary  # noqa: F401
from .stages import Engine, validate_request

__all__ = ["Engine", "plain_text", "validate_request"]
