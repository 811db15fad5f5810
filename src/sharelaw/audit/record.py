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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    """The canonical JSON encoding of ``value``: the bytes that are stored and hashed."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


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

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def record_id(self) -> str:
        return self.body["record_id"]

    @property
    def decision_id(self) -> str:
        return self.body["decision_id"]

    @property
    def recorded_at(self) -> str:
        return self.body["recorded_at"]

    @property
    def actor(self) -> Actor:
        return Actor.model_validate(self.body["actor"])

    @property
    def prev_hash(self) -> str:
        return self.body["prev_hash"]

    # decision records
    @property
    def request(self) -> dict[str, Any]:
        return self.body["request"]

    @property
    def decision(self):
        """The stored decision as a ``Decision`` (decision records only)."""
        from ..decision import Decision

        return Decision.model_validate(self.body["decision"])

    @property
    def bundle_hash(self) -> str:
        return self.body["bundle_hash"]

    # action records
    @property
    def action(self) -> Action:
        return Action.model_validate(self.body["action"])

    def exported(self) -> dict[str, Any]:
        """The record as exported: its body with its hash (drop 'hash' and hash the canonical rest)."""
        return {**self.body, "hash": self.hash}

    def __repr__(self) -> str:
        return f"StoredRecord(seq={self.seq}, kind={self.kind!r}, record_id={self.record_id!r})"


def decision_body(
    *,
    seq: int,
    prev_hash: str,
    record_id: str,
    recorded_at: str,
    actor: Actor,
    request: dict[str, Any],
    decision: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "kind": "decision",
        "seq": seq,
        "prev_hash": prev_hash,
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


def action_body(
    *,
    seq: int,
    prev_hash: str,
    record_id: str,
    recorded_at: str,
    actor: Actor,
    decision_id: str,
    action: Action,
) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "kind": "action",
        "seq": seq,
        "prev_hash": prev_hash,
        "record_id": record_id,
        "decision_id": decision_id,
        "recorded_at": recorded_at,
        "actor": actor.model_dump(mode="json"),
        "action": action.body(),
    }
