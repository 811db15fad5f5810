"""The decision service over HTTP (``sharelaw serve``, docs/service.md).

Needs the ``server`` extra (FastAPI and uvicorn): ``pip install 'sharelaw[server]'``.

    >>> from sharelaw.service import ServiceConfig, create_app    # doctest: +SKIP
    >>> app = create_app(ServiceConfig(tokens="tokens.json", log="sqlite:///decisions.db"))

Modules: ``config`` (what one service is started with), ``tokens`` (hashed bearer tokens
and roles), ``problems`` (RFC 9457 problem details), ``metrics`` (Prometheus text),
``jobs`` (long auditor work off the decision path), ``app`` (the routes), ``fast_route``
(``POST /v1/decisions``, the hot path, in front of the FastAPI app).
"""

from __future__ import annotations

from .config import ServiceConfig
from .tokens import Token, TokenFile, TokenError

__all__ = ["ServiceConfig", "Token", "TokenError", "TokenFile", "create_app"]


def create_app(config: ServiceConfig):  # type: ignore[no-untyped-def]
    """The ASGI application for ``config`` (imports FastAPI only when called)."""
    from .app import create_app as _create

    return _create(config)
