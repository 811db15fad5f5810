"""What an audit record holds, and the one definition of canonical JSON.

Two kinds of record share one hash chain:

- a **decision record**: what sharelaw decided, on what facts (the canonical request),
  under which rules (the bundle's content hash), by which engine, for whom (the actor);
- an **action record**: what the practitioner then actually did about a decision (shared
  or withheld, when, how, with what consent, after consulting whom, and why): the fields
  of the practitioners' diary sheet. It names its decision by id and is appended later;
  nothing is ever updated in place.

Canonical JSON (``canonical``) is the only serialisation that is hashed or stored:
UTF-8, object keys sorted by code point, no insignificant whitespace, non-ASCII
characters written as themselves, no NaN or infinity. It is defined here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from ..decision import Decision

RECORD_FORMAT = "sharelaw/audit-record@1"
GENESIS_HASH = "sha256:" + "0" * 64  # prev_hash of the first record of every log

SharingForm = Literal["face_to_face", "telephone", "written", "electronic"]
ConsentObtained = Literal["obtained_for_this_occasion", "obtained_previously", "not_obtained"]
Consulted = Literal[
    "national_guidance",
    "local_guidance",
    "local_protocol",
    "data_protection_officer",
    "caldicott_guardian",
    "legal_adviser",
    "supervisor",
    "manager",
    "colleague",
    "none",
]
Scale = Literal["low", "medium", "high"]


def canonical(value: Any) -> bytes:
    """The canonical JSON encoding of ``value``: the bytes that are stored and hashed.

    This is the definition. ``canonical_fast`` gives the same bytes, faster, for the JSON
    values sharelaw itself builds (see there)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; without it, the definition is used
    _orjson = None  # type: ignore[assignment]
    _FAST_OPTIONS = 0
else:
    # Subclasses of str/int/dict/list, dates and times and dataclasses are handed to the
    # ``default`` hook, which refuses them, so that they take the definition's path.
    _FAST_OPTIONS = (_orjson.OPT_SORT_KEYS | _orjson.OPT_PASSTHROUGH_SUBCLASS | _orjson.OPT_PASSTHROUGH_DATETIME
                     | _orjson.OPT_PASSTHROUGH_DATACLASS)


def _refuse(value: Any) -> Any:
    raise TypeError(f"not a plain JSON value: {type(value).__name__}")


def canonical_fast(value: Any) -> bytes:
    """``canonical(value)``, byte for byte, about six times faster (orjson with sorted keys), for
    a value made only of dict (str keys), list, tuple, str, int, bool and None: what
    ``model_dump(mode="json")`` of sharelaw's models gives (they have no float fields; a test
    holds them to that) and what ``parse_json`` reads from a body with no float in it.

    Where orjson cannot give the definition's bytes it refuses, and the definition is used:
    integers outside [-2**63, 2**64), keys that are not str, nesting deeper than 255,
    strings that are not valid Unicode (lone surrogates: the definition then raises
    ``UnicodeEncodeError``), and subclasses of str, int, dict and list, dates, times and
    dataclasses. Not for floats: orjson writes ``0.00001`` where the definition writes
    ``1e-05``, and NaN and infinity as ``null`` where the definition refuses them (tests/test_audit_canonical.py
    shows both); callers with floats use ``canonical``."""
    if _orjson is None:  # pragma: no cover
        return canonical(value)
    try:
        return _orjson.dumps(value, default=_refuse, option=_FAST_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return canonical(value)


class _FloatSeen(Exception):
    pass


def parse_json(text: str | bytes) -> tuple[Any, bool]:
    """``json.loads(text)`` and whether it held a float (or NaN/Infinity): a value without
    one can be re-encoded with ``canonical_fast``."""
    seen = False

    def flag(token: str) -> float:
        nonlocal seen
        seen = True
        return float(token)

    return json.loads(text, parse_float=flag, parse_constant=flag), seen


def recanonical(value: Any, has_float: bool) -> bytes:
    """The canonical bytes of a value read by ``parse_json``."""
    return canonical(value) if has_float else canonical_fast(value)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def utc_iso(moment: datetime) -> str:
    """A timezone-aware datetime as UTC ISO 8601 with microseconds and 'Z'."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time must carry its timezone (for example 2026-06-01T09:30:00+01:00)")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Model):
    """Who asked for the decision or reports the action: their agency and role."""

    agency: str = Field(min_length=1, description="The agency (legal entity or service) acting.")
    role: str = Field(min_length=1, description="The practitioner's role, e.g. 'designated safeguarding lead'.")
    person: str | None = Field(default=None, description="An identifier of the person, if the agency records one.")

    @field_validator("agency", "role")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the agency or role, not be blank")
        return value


class Action(_Model):
    """What the practitioner actually did about a decision: the diary sheet (domain.md section 7)."""

    outcome: Literal["shared", "withheld"]
    at: datetime = Field(description="When the information was shared, or the decision to withhold it taken.")
    form: SharingForm | None = Field(default=None, description="How it was shared; required when shared.")
    consent: ConsentObtained = Field(description="Consent actually obtained for this sharing.")
    consulted: list[Consulted] = Field(default_factory=list, description="Whom or what was consulted.")
    reasons: str = Field(min_length=1, description="The main factors behind the decision, in the practitioner's words.")
    what: str | None = Field(default=None, description="What was shared.")
    with_whom: str | None = Field(default=None, description="With whom it was shared (person, role, agency).")
    formal: bool | None = Field(default=None, description="A formal (recorded) exchange, or informal.")
    first_approach_at: datetime | None = Field(default=None, description="When the first approach was made.")
    confidence: Scale | None = Field(default=None, description="The practitioner's confidence in the decision.")
    trust_in_other: Scale | None = Field(default=None, description="Trust in the other professional.")

    @field_validator("at", "first_approach_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("a time must carry its timezone (for example 2026-06-01T09:30:00+01:00)")
        if value is not None:
            try:  # the record keeps times in UTC: a time at the edge of the calendar may not convert
                value.astimezone(timezone.utc)
            except (OverflowError, ValueError):
                raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Action":
        if self.outcome == "shared" and self.form is None:
            raise ValueError("form is required when the information was shared")
        if self.outcome == "withheld" and (self.form is not None or self.what is not None):
            raise ValueError("form and what are for information that was shared; this action withheld it")
        if len(set(self.consulted)) != len(self.consulted):
            raise ValueError("consulted lists an entry twice")
        if "none" in self.consulted and len(self.consulted) > 1:
            raise ValueError("consulted: 'none' cannot be combined with other entries")
        if self.first_approach_at is not None and self.first_approach_at > self.at:
            raise ValueError("first_approach_at is after the action")
        return self

    def body(self) -> dict[str, Any]:
        """The action as stored: times in UTC."""
        data = self.model_dump(mode="json")
        data["at"] = utc_iso(self.at)
        data["first_approach_at"] = utc_iso(self.first_approach_at) if self.first_approach_at else None
        return data


class StoredRecord:
    """One record as read back from a log: its body (a dict), the stored canonical text and hash."""

    __slots__ = ("seq", "hash", "text", "_body")

    def __init__(self, seq: int, hash: str, text: str, body: dict[str, Any] | None = None) -> None:
        self.seq = seq
        self.hash = hash
        self.text = text
        self._body = body

    @property
    def body(self) -> dict[str, Any]:
        if self._body is None:
            self._body = json.loads(self.text)
        return self._body

    def with_body_parsed(self) -> tuple[dict[str, Any], bool]:
        """The body, and whether it holds a float (see ``parse_json``)."""
        body, has_float = parse_json(self.text)
        self._body = body
        return body, has_float

    @property
    def kind(self) -> str:
        value: str = self.body["kind"]
        return value

    @property
    def record_id(self) -> str:
        value: str = self.body["record_id"]
        return value

    @property
    def decision_id(self) -> str:
        value: str = self.body["decision_id"]
        return value

    @property
    def recorded_at(self) -> str:
        value: str = self.body["recorded_at"]
        return value

    @property
    def actor(self) -> Actor:
        return Actor.model_validate(self.body["actor"])

    @property
    def prev_hash(self) -> str:
        value: str = self.body["prev_hash"]
        return value

    # decision records
    @property
    def request(self) -> dict[str, Any]:
        value: dict[str, Any] = self.body["request"]
        return value

    @property
    def decision(self) -> "Decision":
        """The stored decision as a ``Decision`` (decision records only)."""
        from ..decision import Decision

        return Decision.model_validate(self.body["decision"])

    @property
    def bundle_hash(self) -> str:
        value: str = self.body["bundle_hash"]
        return value

    # action records
    @property
    def action(self) -> Action:
        return Action.model_validate(self.body["action"])

    def exported(self) -> dict[str, Any]:
        """The record as exported: its body with its hash (drop 'hash' and hash the canonical rest)."""
        return {**self.body, "hash": self.hash}

    def __repr__(self) -> str:
        return f"StoredRecord(seq={self.seq}, kind={self.kind!r}, record_id={self.record_id!r})"


class Prepared:
    """A record's body encoded ahead of the append, but for ``seq`` and ``prev_hash``, which
    only the append (holding the log's lock) knows. Canonical JSON sorts the top-level keys,
    and every record has keys before ``prev_hash`` (action/actor ... kind) and between it and
    ``seq`` (record_id, recorded_at ...), so the body is the two encoded parts with the two
    values spliced in: the same bytes as ``canonical`` of the whole body, without encoding
    the request and decision while the lock is held."""

    __slots__ = ("fields", "_before", "_between")

    def __init__(self, fields: dict[str, Any]) -> None:
        if "seq" in fields or "prev_hash" in fields:
            raise ValueError("a prepared body leaves out seq and prev_hash")
        before = {k: v for k, v in fields.items() if k < "prev_hash"}
        between = {k: v for k, v in fields.items() if "prev_hash" < k < "seq"}
        if not before or not between or any(k > "seq" for k in fields):
            raise ValueError("a record body has keys before prev_hash and between it and seq, and none after seq")
        self.fields = fields
        self._before = canonical_fast(before)[:-1] + b',"prev_hash":'
        self._between = b"," + canonical_fast(between)[1:-1] + b',"seq":'

    def render(self, seq: int, prev_hash: str) -> bytes:
        """The canonical body for this seq and prev_hash."""
        return b"".join((self._before, canonical_fast(prev_hash), self._between, str(int(seq)).encode("ascii"), b"}"))

    def body(self, seq: int, prev_hash: str) -> dict[str, Any]:
        return {**self.fields, "seq": seq, "prev_hash": prev_hash}

    @property
    def record_id(self) -> str:
        return str(self.fields["record_id"])

    @property
    def kind(self) -> str:
        return str(self.fields["kind"])

    @property
    def decision_id(self) -> str:
        return str(self.fields["decision_id"])


def decision_fields(
    *,
    record_id: str,
    recorded_at: str,
    actor: Actor,
    request: dict[str, Any],
    decision: dict[str, Any],
) -> dict[str, Any]:
    """A decision record's body but for ``seq`` and ``prev_hash`` (see ``Prepared``)."""
    return {
        "format": RECORD_FORMAT,
        "kind": "decision",
        "record_id": record_id,
        "decision_id": record_id,
        "recorded_at": recorded_at,
        "actor": actor.model_dump(mode="json"),
        "as_at": decision["as_at"],
        "request": request,
        "decision": decision,
        "bundle_hash": decision["bundle_hash"],
        "engine_version": decision["engine_version"],
        "schema_version": decision["schema_version"],
    }


def action_fields(
    *,
    record_id: str,
    recorded_at: str,
    actor: Actor,
    decision_id: str,
    action: Action,
) -> dict[str, Any]:
    """An action record's body but for ``seq`` and ``prev_hash`` (see ``Prepared``)."""
    return {
        "format": RECORD_FORMAT,
        "kind": "action",
        "record_id": record_id,
        "decision_id": decision_id,
        "recorded_at": recorded_at,
        "actor": actor.model_dump(mode="json"),
        "action": action.body(),
    }


def decision_body(*, seq: int, prev_hash: str, record_id: str, recorded_at: str, actor: Actor,
                  request: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    return {"seq": seq, "prev_hash": prev_hash, **decision_fields(
        record_id=record_id, recorded_at=recorded_at, actor=actor, request=request, decision=decision)}


def action_body(*, seq: int, prev_hash: str, record_id: str, recorded_at: str, actor: Actor, decision_id: str,
                action: Action) -> dict[str, Any]:
    return {"seq": seq, "prev_hash": prev_hash, **action_fields(
        record_id=record_id, recorded_at=recorded_at, actor=actor, decision_id=decision_id, action=action)}
