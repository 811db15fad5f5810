"""Shared fixtures and helpers for the audit-log tests (imported by tests/test_audit_*.py).

PostgreSQL: the tests use the server named by SHARELAW_TEST_PG_URL (``.ci/run`` starts
one from Debian's package and sets it), or postgresql://sharelaw:sharelaw@127.0.0.1:5432/sharelaw_test.
Each test gets a schema of its own. Without a server the PostgreSQL tests are skipped,
except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

try:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import deterministic_request_dicts
except ImportError:  # pragma: no cover
    from tests.strategies import deterministic_request_dicts  # type: ignore[no-redef]

from sharelaw.engine.pipeline import Engine

DEFAULT_PG_URL = "postgresql://sharelaw:sharelaw@127.0.0.1:5432/sharelaw_test"
ACTOR = {"agency": "st-marys-primary", "role": "designated safeguarding lead"}
ACTION = {
    "outcome": "shared",
    "at": "2026-06-01T10:15:00+01:00",
    "form": "telephone",
    "consent": "not_obtained",
    "consulted": ["caldicott_guardian", "local_protocol"],
    "reasons": "A child at risk of significant harm; consent would have put the child at risk. £ é ✓",
    "what": "Attendance record and the teacher's observations",
    "with_whom": "Duty social worker, Northshire children's social care",
}


def pg_base_url() -> str:
    return os.environ.get("SHARELAW_TEST_PG_URL") or DEFAULT_PG_URL


def _pg_unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
    pytest.skip(f"no PostgreSQL server for the audit tests ({reason}); set SHARELAW_TEST_PG_URL or run .ci/run")


def pg_admin():
    """A psycopg connection to the test database, or skip/fail."""
    try:
        import psycopg
    except ImportError as exc:
        _pg_unavailable(f"psycopg is not installed: {exc}")
    try:
        return psycopg.connect(pg_base_url(), autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001
        _pg_unavailable(f"cannot connect to {pg_base_url()}: {str(exc).strip()}")


def schema_url(schema: str) -> str:
    base = pg_base_url()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote('-csearch_path=' + schema)}"


@pytest.fixture
def pg_url():
    """A libpq URL whose tables live in a fresh schema, dropped afterwards."""
    admin = pg_admin()
    schema = "audit_t_" + uuid.uuid4().hex[:12]
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(schema)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def log_url(request, tmp_path):
    """An empty audit log URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        yield request.getfixturevalue("pg_url")


_ENGINE: Engine | None = None


def engine() -> Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine()
    return _ENGINE


def decided(n: int, seed: int = 4242) -> list[tuple[dict, object]]:
    """``n`` (request, decision) pairs from the seeded request generator."""
    e = engine()
    return [(r, e.decide(r)) for r in deterministic_request_dicts(n, seed=seed)]
