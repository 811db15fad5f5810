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
from .record import GENESIS_HASH, Prepared, StoredRecord, canonical_fast, sha256

STORE_FORMAT = "sharelaw/audit-store@1"
BATCH = 500
MAX_GROUP = 1024  # records committed together at most (bounds a group's latency)

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


class DuplicateRecord(AuditError):
    """A record with this id is already in the log: the record was not appended again."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"a record {record_id} is already in this log; it was not appended again")
        self.record_id = record_id


class LogDamaged(AuditError):
    """The store itself is damaged: the file is not a database, is truncated, or its
    structure (pages, tables, indexes) is corrupt. ``verify`` reports it as ``store_damaged``."""


class Store:
    """Base of the SQLite and PostgreSQL stores. Subclasses supply ``_conn``, ``_ph`` (the
    parameter placeholder), ``_begin`` (a transaction holding the append lock) and ``close``."""

    url: str
    _ph = "?"
    _lock: threading.RLock
    _conn: Any  # a DB-API connection (sqlite3 or psycopg)
    read_only: bool = False

    def _init_group_commit(self) -> None:
        self._queue_lock = threading.Lock()  # guards the queue of waiting appends and who leads
        self._queue: list[_Pending] = []
        self._leading = False
        self._committed = False  # the last append transaction reached COMMIT

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

    def _execute(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        with self._damage_as_log_damaged():
            return self._conn.execute(self._sql(query), params)

    def _one(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        with self._damage_as_log_damaged():
            return self._conn.execute(self._sql(query), params).fetchone()

    def _all(self, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._damage_as_log_damaged():
            rows: list[Any] = self._conn.execute(self._sql(query), params).fetchall()
            return rows

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
        make_body: Callable[[int, str], dict[str, Any]] | Prepared,
        bundle: tuple[str, dict[str, str]] | None = None,
        needs_decision: str | None = None,
        unique_id: str | None = None,
    ) -> StoredRecord:
        """Append one record: durable when this returns.

        Group commit: appends that arrive while another thread of this process is committing
        wait in a queue; one of them (the leader) then appends every waiting record in one
        transaction under the append lock (read the head; for each record, build its body
        for the next seq and the previous hash, insert it and its bundle if new; move the
        head; commit) and wakes the others. A record is acknowledged (this returns) only
        after the commit that holds it. Other processes' appends are serialised by the
        database's lock as before. ``make_body`` is a ``Prepared`` body or a function of
        (seq, prev_hash) giving the body. ``unique_id``: the record's id, chosen by the caller
        (``AuditLog.record(record_id=...)``); if a record with that id is already in the log
        (or earlier in the same group), this one fails alone with ``DuplicateRecord``."""
        if self.read_only:
            raise AuditError(f"the audit log {self.url} is open read-only: nothing can be appended")
        pending = _Pending(make_body, bundle, needs_decision, unique_id)
        with self._queue_lock:
            self._queue.append(pending)
            if not self._leading:
                self._leading = True
                pending.lead = True
        if not pending.lead:
            try:
                pending.done.wait()
            except BaseException:  # interrupted while waiting: withdraw, or pass on the lead handed to us
                with self._queue_lock:
                    if pending in self._queue:
                        self._queue.remove(pending)
                    handed = pending.lead
                if handed:
                    self._hand_on()
                raise
        if pending.lead:
            self._lead(pending)
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _lead(self, own: "_Pending") -> None:
        """Commit the waiting records (this thread's among them) as one group, then pass the lead on."""
        with self._queue_lock:
            batch = self._queue[:MAX_GROUP]
            del self._queue[:MAX_GROUP]
        try:
            with self._lock:
                self._commit_group(batch)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit...: this thread stops; the others are retried
            own.error = exc
            with self._queue_lock:
                # Only those with no outcome yet: one that failed on its own (its decision is not
                # in the log) is told so and leaves, and one committed before the interrupt is
                # durable and told so; re-queuing either would append after its caller left or
                # append twice.
                self._queue[:0] = [p for p in batch if p is not own and p.result is None and p.error is None]
            raise
        finally:
            self._hand_on()
            for p in batch:
                if p is not own and (p.result is not None or p.error is not None):
                    p.done.set()

    def _hand_on(self) -> None:
        with self._queue_lock:
            if self._queue:
                nxt = self._queue[0]
                nxt.lead = True
                nxt.done.set()
            else:
                self._leading = False

    def _commit_group(self, batch: list["_Pending"]) -> None:
        """Append a group in one transaction. A record that cannot be appended (its decision is
        not in the log, its body cannot be built) fails alone; a database error fails the
        transaction, and then each record is tried in a transaction of its own."""
        try:
            self._append_group(batch)
        except Exception as exc:  # noqa: BLE001 - the whole transaction was rolled back
            if len(batch) == 1:
                batch[0].result = None
                batch[0].error = exc
                return
            for p in batch:
                p.result = p.error = None
                self._commit_group([p])

    def _append_group(self, batch: list["_Pending"]) -> None:
        # BEGIN inside the try: an exception landing just after it returns (KeyboardInterrupt)
        # still rolls back, so the log's write lock is never left held (issue 10, item 14).
        self._committed = False
        try:
            self._begin_append()
            seq, prev = self._head_for_update()
            rows: list[tuple[int, str, str, str, str, str]] = []
            decided: set[str] = set()
            bundles: set[str] = set()
            ids_here: set[str] = set()
            for p in batch:
                p.result = p.error = None
                if p.unique_id is not None:
                    if p.unique_id in ids_here or self._one(
                            "SELECT 1 FROM audit_records WHERE record_id = ?", (p.unique_id,)) is not None:
                        p.error = DuplicateRecord(p.unique_id)
                        continue
                if p.needs_decision is not None and p.needs_decision not in decided and self._one(
                    "SELECT 1 FROM audit_records WHERE decision_id = ? AND kind = 'decision'", (p.needs_decision,)
                ) is None:
                    p.error = AuditError(f"no decision {p.needs_decision} in this log")
                    continue
                try:
                    if isinstance(p.make_body, Prepared):
                        raw = p.make_body.render(seq + 1, prev)
                        body = p.make_body.body(seq + 1, prev)
                    else:
                        body = p.make_body(seq + 1, prev)
                        raw = canonical_fast(body)
                    ids = (str(body["record_id"]), str(body["kind"]), str(body["decision_id"]))
                    text = raw.decode("utf-8")
                except Exception as exc:  # noqa: BLE001 - this record's own fault: it alone fails
                    p.error = exc
                    continue
                if p.bundle is not None and p.bundle[0] not in bundles:
                    bundles.add(p.bundle[0])
                    if self._one("SELECT 1 FROM audit_bundles WHERE hash = ?", (p.bundle[0],)) is None:
                        self._execute("INSERT INTO audit_bundles (hash, sources) VALUES (?, ?)",
                                      (p.bundle[0], canonical_fast(p.bundle[1]).decode("utf-8")))
                if p.unique_id is not None and ids[0] != p.unique_id:
                    p.error = AuditError(f"the record's id {ids[0]} is not the one asked for ({p.unique_id})")
                    continue
                ids_here.add(ids[0])
                seq += 1
                digest = sha256(raw)
                rows.append((seq, ids[0], ids[1], ids[2], text, digest))
                if ids[1] == "decision":
                    decided.add(ids[2])
                p.result = StoredRecord(seq, digest, text, body)
                prev = digest
            if rows:
                with self._damage_as_log_damaged():
                    self._conn.cursor().executemany(self._sql(
                        "INSERT INTO audit_records (seq, record_id, kind, decision_id, body, hash) "
                        "VALUES (?, ?, ?, ?, ?, ?)"), rows)
                self._execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
            self._committed = False
            self._commit()
        except BaseException:
            if self._committed:  # an interrupt after COMMIT: the records are durable, their results stand
                raise
            self._rollback()
            for p in batch:
                p.result = None
            raise

    def _commit(self) -> None:
        self._execute("COMMIT")
        self._committed = True  # read by _append_group if an interrupt lands after this

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
                                       (bundle_hash, canonical_fast(sources).decode("utf-8")))
                self._commit()
            except BaseException:
                self._rollback()
                raise

    # ------------------------------------------------------------ reads

    def rows(self, after: int = 0) -> Iterator[Row]:
        def fetch(last: int) -> list[Row]:
            rows: list[Row] = self._read(lambda: [Row(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in self._all(
                "SELECT seq, record_id, kind, decision_id, body, hash FROM audit_records WHERE seq > ? ORDER BY seq LIMIT "
                + str(BATCH), (last,))])
            return rows

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


class _Pending:
    """An append waiting for the group commit that will hold it."""

    __slots__ = ("make_body", "bundle", "needs_decision", "unique_id", "done", "lead", "result", "error")

    def __init__(self, make_body: Callable[[int, str], dict[str, Any]] | Prepared,
                 bundle: tuple[str, dict[str, str]] | None, needs_decision: str | None,
                 unique_id: str | None = None) -> None:
        self.make_body = make_body
        self.bundle = bundle
        self.needs_decision = needs_decision
        self.unique_id = unique_id
        self.done = threading.Event()  # set when committed (or failed), or when handed the lead
        self.lead = False
        self.result: StoredRecord | None = None
        self.error: BaseException | None = None


def initial_rows() -> list[tuple[str, tuple[Any, ...]]]:
    """The rows a new log starts with: its head (nothing recorded) and its format."""
    return [
        ("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT DO NOTHING", (GENESIS_HASH,)),
        ("INSERT INTO audit_meta (key, value) VALUES ('format', ?) ON CONFLICT DO NOTHING", (STORE_FORMAT,)),
    ]
