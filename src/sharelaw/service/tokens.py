"""Bearer tokens: a file of hashed tokens, each with an identity and roles.

The file (JSON, written by ``sharelaw token new``) never holds a token itself, only its
SHA-256: a token is 32 random bytes, so a fast hash cannot be searched back to it, and the
lookup by hash does not compare secrets byte by byte. ::

    {"format": "sharelaw-tokens/1",
     "tokens": [{"id": "school-dsl-app", "sha256": "...", "roles": ["decider"],
                 "agency": "st-marys-primary", "practitioner_role": "designated safeguarding lead",
                 "person": null}]}

Roles: ``decider`` (decide, batch, record actions, read back its own decisions),
``auditor`` (read the log, verify, replay, metrics), ``admin`` (everything).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FORMAT = "sharelaw-tokens/1"
ROLES = ("decider", "auditor", "admin")
PREFIX = "shl_"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenError(ValueError):
    """A token file that cannot be used, or a token that cannot be added."""


@dataclass(frozen=True)
class Token:
    id: str
    sha256: str
    roles: tuple[str, ...]
    agency: str | None = None
    practitioner_role: str | None = None
    person: str | None = None

    def actor(self) -> dict[str, Any]:
        """The actor recorded for what this token does: its identity, never the request body's claim."""
        return {"agency": self.agency or self.id, "role": self.practitioner_role or ",".join(self.roles),
                "person": self.person or self.id}

    def has(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenFile:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self._by_hash = {t.sha256: t for t in tokens}
        if len(self._by_hash) != len(tokens):  # one token, two identities: refuse, never pick one
            raise TokenError("two entries have the same token hash; each token must name one identity")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "TokenFile":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TokenError(f"no token file {path}: make one with `sharelaw token new --tokens {path} ...`") from None
        except (OSError, ValueError) as exc:
            raise TokenError(f"cannot read the token file {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tokens"), list):
            raise TokenError(f"{path} is not a sharelaw token file (format {FORMAT})")
        tokens = []
        for i, entry in enumerate(data["tokens"]):
            try:
                token = Token(id=entry["id"], sha256=entry["sha256"], roles=tuple(entry["roles"]),
                              agency=entry.get("agency"), practitioner_role=entry.get("practitioner_role"),
                              person=entry.get("person"))
            except (KeyError, TypeError):
                raise TokenError(f"{path}: token {i} needs id, sha256 and roles") from None
            if not re.fullmatch(r"[0-9a-f]{64}", token.sha256):
                raise TokenError(f"{path}: token {token.id!r} has no SHA-256 hex digest")
            bad = [r for r in token.roles if r not in ROLES]
            if bad or not token.roles:
                raise TokenError(f"{path}: token {token.id!r} has unknown roles {bad} (known: {', '.join(ROLES)})")
            tokens.append(token)
        ids = [t.id for t in tokens]
        if len(set(ids)) != len(ids):
            raise TokenError(f"{path}: a token id appears twice")
        return cls(tokens)

    def find(self, presented: str) -> Token | None:
        return self._by_hash.get(digest(presented))


def new_token(path: str | os.PathLike[str], *, id: str, roles: list[str], agency: str | None = None,
              practitioner_role: str | None = None, person: str | None = None) -> str:
    """Add a token to the file (created, mode 0600, if absent); return the token, shown once."""
    if not _ID.match(id):
        raise TokenError(f"the token id {id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise TokenError(f"unknown roles {bad} (known: {', '.join(ROLES)})")
    if "decider" in roles and not (agency and practitioner_role):
        raise TokenError("a decider token records decisions as its agency and role: give --agency and --practitioner-role")
    file = Path(path)
    existing: list[dict[str, Any]] = []
    if file.exists():
        TokenFile.load(file)  # refuse to extend a file that is not one
        existing = json.loads(file.read_text(encoding="utf-8"))["tokens"]
        if any(e["id"] == id for e in existing):
            raise TokenError(f"{path} already has a token {id!r}")
    token = PREFIX + secrets.token_urlsafe(32)
    entry = asdict(Token(id=id, sha256=digest(token), roles=tuple(roles), agency=agency,
                         practitioner_role=practitioner_role, person=person))
    entry["roles"] = list(roles)
    text = json.dumps({"format": FORMAT, "tokens": existing + [entry]}, indent=2, ensure_ascii=False) + "\n"
    # A new temporary file of our own (mkstemp: O_EXCL, mode 0600), never a fixed name that a
    # symlink or an existing file with wider permissions could be waiting at.
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return token
