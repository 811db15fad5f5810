"""What the two stores share: the tables and the append transaction.

Tables (the same in SQLite and PostgreSQL):

- ``audit_records(seq, record_id, kind, decision_id, body, hash)``: one row per record,
  ``body`` the canonical JSON text that ``hash`` covers; the other columns are indexes
  into it and are checked against it by ``verify``. Rows are only ever inserted.
- ``audit_head(id = 1, seq, hash)``: the last record's sequence number and hash, updated
  in the same transaction as each append. Appends lock this row, so they are serialised.
- ``audit_bundles(hash, sources)``: each rule bundle once, by content hash; ``sources``
  is the canonical JSON of {relative path: file text}.
- ``audit_meta(key, value)``: the store's format.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .chain import Row, iter_batches
from .record import GENESIS_HASH, StoredRecord, canonical, sha256

STORE_FORMAT = "sharelaw/audit-store@1"
BATCH = 500

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS audit_records (
        seq BIGINT PRIMARY KEY,
        record_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        decision_id TEXT NOT NULL,
        body TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_records_decision ON audit_records (decision_id)",
    """CREATE TABLE IF NOT EXISTS audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS audit_bundles (hash TEXT PRIMARY KEY, sources TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]


class AuditError(Exception):
    """A record cannot be appended, or the log cannot be used, for the reason given."""


class LogNotFound(AuditError):
    """There is no audit log at the URL given (and it was not to be created)."""


class LogDamaged(AuditError):
    """The store itself is damaged: the file is not a database, is truncated, or its
    structure (pages, tables, indexes) is corrupt. ``verify`` reports it as ``store_damaged``."""


class Store:
    """Base of the SQLite and PostgreSQL stores. Subclasses supply ``_conn``, ``_ph`` (the
    parameter placeholder), ``_begin`` (a transaction holding the append lock) and ``close``."""

    url: str
    _ph = "?"
    _lock: threading.RLock
    read_only: bool = False

    # ------------------------------------------------------------ subclass hooks

    def _begin_append(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _head_for_update(self) -> tuple[int, str]:
        row = self._one("SELECT seq, hash FROM audit_head WHERE id = 1" + self._for_update)
        if row is None:
            raise AuditError("the log's head row is missing: run 'sharelaw audit verify'")
        return int(row[0]), row[1]

    _for_update = ""

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _damage(self, exc: Exception) -> str | None:
        """Why ``exc``, raised by the database, means the store is damaged; None if it does
        not (a lock, a lost connection, a permission: raised as it is)."""
        return None

    def structure_problem(self) -> str | None:
        """A structural check of the store below the records (SQLite's ``quick_check``): what
        is wrong, or None."""
        return None

    # ------------------------------------------------------------ helpers

    def _sql(self, query: str) -> str:
        return query if self._ph == "?" else query.replace("?", self._ph)

    def _execute(self, query: str, params: tuple = ()) -> Any:
        with self._damage_as_log_damaged():
            return self._conn.execute(self._sql(query), params)

    def _one(self, query: str, params: tuple = ()) -> Any:
        with self._damage_as_log_damaged():
            return self._conn.execute(self._sql(query), params).fetchone()

    def _all(self, query: str, params: tuple = ()) -> list:
        with self._damage_as_log_damaged():
            return self._conn.execute(self._sql(query), params).fetchall()

    @contextmanager
    def _damage_as_log_damaged(self) -> Iterator[None]:
        """A database error that means the store is damaged becomes ``LogDamaged``."""
        try:
            yield
        except Exception as exc:
            reason = self._damage(exc)
            if reason is None:
                raise
            raise LogDamaged(reason) from None

    def _read(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            return fn()

    # ------------------------------------------------------------ append

    def append(
        self,
        make_body: Callable[[int, str], dict[str, Any]],
        bundle: tuple[str, dict[str, str]] | None = None,
        needs_decision: str | None = None,
    ) -> StoredRecord:
        """Append one record in one transaction under the append lock: read the head, build
        the body for the next seq and the head's hash, insert it (and its bundle if new),
        move the head, commit. Durable when this returns."""
        if self.read_only:
            raise AuditError(f"the audit log {self.url} is open read-only: nothing can be appended")
        with self._lock:
            return self._append(make_body, bundle, needs_decision)

    def _append(self, make_body, bundle, needs_decision) -> StoredRecord:
        # BEGIN inside the try: an exception landing just after it returns (KeyboardInterrupt)
        # still rolls back, so the log's write lock is never left held (issue 10, item 14).
        try:
            self._begin_append()
            seq, prev = self._head_for_update()
            if needs_decision is not None and self._one(
                "SELECT 1 FROM audit_records WHERE decision_id = ? AND kind = 'decision'", (needs_decision,)
            ) is None:
                raise AuditError(f"no decision {needs_decision} in this log")
            if bundle is not None and self._one("SELECT 1 FROM audit_bundles WHERE hash = ?", (bundle[0],)) is None:
                self._execute("INSERT INTO audit_bundles (hash, sources) VALUES (?, ?)",
                                   (bundle[0], canonical(bundle[1]).decode("utf-8")))
            body = make_body(seq + 1, prev)
            text = canonical(body).decode("utf-8")
            digest = sha256(text.encode("utf-8"))
            self._execute(
                "INSERT INTO audit_records (seq, record_id, kind, decision_id, body, hash) VALUES (?, ?, ?, ?, ?, ?)",
                (seq + 1, body["record_id"], body["kind"], body["decision_id"], text, digest),
            )
            self._execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq + 1, digest))
            self._commit()
        except BaseException:
            self._rollback()
            raise
        return StoredRecord(seq + 1, digest, text, body)

    def _commit(self) -> None:
        self._execute("COMMIT")

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - no transaction open, or the connection is gone
            pass

    _snapshot_sql = "BEGIN"

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the log (appends by others wait or stay unseen)."""
        with self._lock:
            try:
                self._execute(self._snapshot_sql)
                yield
            finally:
                self._rollback()

    def archive_bundle(self, bundle_hash: str, sources: dict[str, str]) -> None:
        """Archive a bundle outside a record's append (a no-op if it is already there)."""
        if self.read_only:
            raise AuditError(f"the audit log {self.url} is open read-only: nothing can be archived")
        with self._lock:
            try:
                self._begin_append()
                if self._one("SELECT 1 FROM audit_bundles WHERE hash = ?", (bundle_hash,)) is None:
                    self._execute("INSERT INTO audit_bundles (hash, sources) VALUES (?, ?)",
                                       (bundle_hash, canonical(sources).decode("utf-8")))
                self._commit()
            except BaseException:
                self._rollback()
                raise

    # ------------------------------------------------------------ reads

    def rows(self, after: int = 0) -> Iterator[Row]:
        def fetch(last: int) -> list[Row]:
            return self._read(lambda: [Row(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in self._all(
                "SELECT seq, record_id, kind, decision_id, body, hash FROM audit_records WHERE seq > ? ORDER BY seq LIMIT "
                + str(BATCH), (last,))])

        return iter_batches(lambda last: fetch(max(last, after)))

    def records(self, after: int = 0) -> Iterator[StoredRecord]:
        for row in self.rows(after):
            yield StoredRecord(row.seq, row.hash, row.body)

    def by_decision(self, decision_id: str) -> list[StoredRecord]:
        rows = self._read(lambda: self._all(
            "SELECT seq, hash, body FROM audit_records WHERE decision_id = ? ORDER BY seq", (decision_id,)))
        return [StoredRecord(int(r[0]), r[1], r[2]) for r in rows]

    def head(self) -> tuple[int, str] | None:
        row = self._read(lambda: self._one("SELECT seq, hash FROM audit_head WHERE id = 1"))
        return None if row is None else (int(row[0]), row[1])

    def count(self) -> int:
        return int(self._read(lambda: self._one("SELECT COUNT(*) FROM audit_records"))[0])

    def bundle_text(self, bundle_hash: str) -> str | None:
        row = self._read(lambda: self._one("SELECT sources FROM audit_bundles WHERE hash = ?", (bundle_hash,)))
        return None if row is None else row[0]

    def bundle_sources(self, bundle_hash: str) -> dict[str, str] | None:
        text = self.bundle_text(bundle_hash)
        return None if text is None else json.loads(text)

    def bundle_hashes(self) -> list[str]:
        return [r[0] for r in self._read(lambda: self._all("SELECT hash FROM audit_bundles ORDER BY hash"))]

    def has_bundle(self, bundle_hash: str) -> bool:
        return self._read(lambda: self._one("SELECT 1 FROM audit_bundles WHERE hash = ?", (bundle_hash,))) is not None


def initial_rows() -> list[tuple[str, tuple]]:
    """The rows a new log starts with: its head (nothing recorded) and its format."""
    return [
        ("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT DO NOTHING", (GENESIS_HASH,)),
        ("INSERT INTO audit_meta (key, value) VALUES ('format', ?) ON CONFLICT DO NOTHING", (STORE_FORMAT,)),
    ]
