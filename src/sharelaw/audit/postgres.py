"""The shared store: one PostgreSQL database written by several service instances.

Each append is one transaction that first locks the head row (``SELECT ... FOR UPDATE``),
so appends from any number of processes and hosts are serialised into one chain. With
PostgreSQL's default ``synchronous_commit = on`` a commit is flushed to the write-ahead
log before ``record()`` returns. Needs psycopg 3 (``pip install 'sharelaw[postgres]'``).

The URL is a libpq connection URI, passed to psycopg unchanged, e.g.
``postgresql://user:password@host:5432/dbname`` (add
``?options=-csearch_path%3Dmyschema`` to keep the tables in a schema of their own).

Opened ``read_only`` (verify, head, show, export, replay), the session's transactions are
READ ONLY, and a role granted only SELECT on the four tables (and USAGE on their schema)
is enough: docs/security.md gives the grants.
"""

from __future__ import annotations

import threading

from .store import SCHEMA, AuditError, LogNotFound, Store, initial_rows

SCHEMA_LOCK_KEY = 0x5348_4C41_5544  # pg_advisory_xact_lock key while creating the tables


class PostgresStore(Store):
    _ph = "%s"
    _for_update = " FOR UPDATE"
    _snapshot_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def __init__(self, url: str, *, create: bool = True, read_only: bool = False) -> None:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - depends on the installation
            raise AuditError("a PostgreSQL audit log needs psycopg 3: pip install 'sharelaw[postgres]'") from None
        self.url = url
        self.read_only = read_only
        self._lock = threading.RLock()
        self._init_group_commit()
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise LogNotFound(f"cannot connect to the PostgreSQL audit log: {str(exc).strip()}") from None
        try:
            if read_only:
                self._conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            self._ensure_schema(create and not read_only)
        except BaseException:
            self._conn.close()
            raise

    def _table_exists(self) -> bool:
        return self._one("SELECT to_regclass('audit_records')")[0] is not None

    def _ensure_schema(self, create: bool) -> None:
        if self._table_exists():
            return
        if not create:
            raise LogNotFound("the PostgreSQL database holds no sharelaw audit log")
        try:
            self._conn.execute("BEGIN")
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            if not self._table_exists():
                for statement in SCHEMA:
                    self._conn.execute(statement)
                for statement, params in initial_rows():
                    self._conn.execute(self._sql(statement), params)
            self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _begin_append(self) -> None:
        self._execute("BEGIN")

    def _damage(self, exc: Exception) -> str | None:
        from psycopg import errors

        if isinstance(exc, (errors.UndefinedTable, errors.UndefinedColumn)):
            return f"the log's tables are not as a sharelaw audit log's ({str(exc).strip()}): its structure was altered"
        if isinstance(exc, errors.DataCorrupted):
            return f"the database reports damaged data ({str(exc).strip()})"
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
