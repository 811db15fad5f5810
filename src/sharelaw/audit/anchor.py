"""Anchoring the log outside itself: signed heads and the published head a verify expects.

The chain uses no secret, so whoever can rewrite the whole log can rewrite its head too,
and the rewritten log verifies. What they cannot do is change a head already published
somewhere they do not control. ``audit head --sign KEY`` prints the head signed with an
Ed25519 key (the ``cryptography`` library: ``pip install 'sharelaw[sign]'``)::

    {"format": "sharelaw/audit-head@1", "hash": "sha256:...", "key": "ed25519:<base64>",
     "seq": 12, "signature": "<base64>", "signed_at": "2026-06-01T10:00:00.000000Z"}

The signature is over the canonical JSON of every field but ``signature``. ``audit verify
--expect-head FILE|HASH --public-key PUB`` then checks, besides the chain, that the log
still holds that head: the record at that ``seq`` has that hash. A signed head is only
accepted with the signer's public key given (a key carried in the file itself proves
nothing about who signed it).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .record import GENESIS_HASH, canonical, utc_iso
from .store import AuditError

HEAD_FORMAT = "sharelaw/audit-head@1"
HEAD_FIELDS = frozenset({"format", "seq", "hash", "signed_at", "key", "signature"})
HASH_RE = re.compile(r"sha256:[0-9a-f]{64}")
PLAIN_HEAD_RE = re.compile(r"(\d{1,18})[ :](sha256:[0-9a-f]{64})")
MAX_HEAD_BYTES = 64 * 1024


def _crypto() -> tuple[Any, Any]:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - depends on the installation
        raise AuditError("signed heads need the cryptography library: pip install 'sharelaw[sign]'") from None
    return serialization, ed25519


@dataclass(frozen=True)
class ExpectedHead:
    """A head published earlier: the log must hold a record at ``seq`` with ``hash``
    (``seq`` None: some record with that hash). ``signed_by`` names the key that signed it."""

    seq: int | None
    hash: str
    signed_by: str | None = None
    signed_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "signed_by": self.signed_by, "signed_at": self.signed_at}


# ---------------------------------------------------------------------- keys


def key_id(public_key: Any) -> str:
    serialization, _ = _crypto()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode("ascii")


def generate_key(private_path: str | os.PathLike[str], public_path: str | os.PathLike[str]) -> str:
    """Write a new Ed25519 key pair as PEM (the private key PKCS#8, mode 0600, never over an
    existing file; the public key SubjectPublicKeyInfo). Returns the key's id."""
    serialization, ed25519 = _crypto()
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    for path in (private_path, public_path):
        if Path(path).exists():
            raise AuditError(f"{path} exists: not overwritten")
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_pem)
        fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(public_pem)
    except OSError as exc:
        raise AuditError(f"cannot write the key: {exc.filename}: {exc.strerror or exc}") from None
    return key_id(key.public_key())


def _read_pem(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_HEAD_BYTES + 1)
    except OSError as exc:
        raise AuditError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_HEAD_BYTES:
        raise AuditError(f"the {what} {path} is too large to be a key")
    return data


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """An Ed25519 private key from a PEM file (sharelaw's keygen or ``openssl genpkey -algorithm ed25519``)."""
    serialization, ed25519 = _crypto()
    data = _read_pem(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuditError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise AuditError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Any:
    """An Ed25519 public key from a PEM file (or the private key's file, whose public half is used)."""
    serialization, ed25519 = _crypto()
    data = _read_pem(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise AuditError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise AuditError(f"{path} is not an Ed25519 key")
    return key


# ---------------------------------------------------------------------- heads


def sign_head(seq: int, digest: str, private_key: Any, at: datetime | None = None) -> dict[str, Any]:
    """The head (seq, hash) signed with ``private_key``, as the JSON object published."""
    body = {"format": HEAD_FORMAT, "seq": seq, "hash": digest,
            "signed_at": utc_iso(at or datetime.now(timezone.utc)), "key": key_id(private_key.public_key())}
    signature = private_key.sign(canonical(body))
    return {**body, "signature": base64.b64encode(signature).decode("ascii")}


def check_signed_head(data: dict[str, Any], public_key: Any) -> ExpectedHead:
    """Check a signed head against the signer's public key; the head it vouches for."""
    from cryptography.exceptions import InvalidSignature

    if set(data) != HEAD_FIELDS or data.get("format") != HEAD_FORMAT:
        raise AuditError(f"not a signed head ({HEAD_FORMAT} with fields {', '.join(sorted(HEAD_FIELDS))})")
    seq, digest = data["seq"], data["hash"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or not isinstance(digest, str) \
            or not HASH_RE.fullmatch(digest) or not isinstance(data["signed_at"], str):
        raise AuditError("the signed head's seq, hash or signed_at is malformed")
    expected_key = key_id(public_key)
    if data["key"] != expected_key:
        raise AuditError(f"the head was signed by {data['key']}, not by the key given ({expected_key})")
    try:
        signature = base64.b64decode(str(data["signature"]), validate=True)
        body = {k: v for k, v in data.items() if k != "signature"}
        public_key.verify(signature, canonical(body))
    except (InvalidSignature, binascii.Error, ValueError):
        raise AuditError("the head's signature does not verify with the key given: the head was altered "
                         "or not signed by that key") from None
    return ExpectedHead(seq, digest, signed_by=expected_key, signed_at=data["signed_at"])


def expected_head(spec: str, public_key_path: str | None = None) -> ExpectedHead:
    """What ``--expect-head`` names: ``sha256:HASH``, ``SEQ sha256:HASH`` (or ``SEQ:sha256:HASH``),
    or a file holding either (the output of ``audit head``) or a signed head (which then
    needs ``public_key_path``)."""
    text = spec.strip()
    if HASH_RE.fullmatch(text):
        return ExpectedHead(None, text)
    match = PLAIN_HEAD_RE.fullmatch(text)
    if match:
        return _plain(match)
    try:
        with open(spec, "rb") as fh:
            raw = fh.read(MAX_HEAD_BYTES + 1)
    except OSError as exc:
        raise AuditError(f"--expect-head takes sha256:HASH, 'SEQ sha256:HASH' or a file: cannot read {spec}: "
                         f"{exc.strerror or exc}") from None
    if len(raw) > MAX_HEAD_BYTES:
        raise AuditError(f"{spec} is too large to be a published head")
    try:
        content = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise AuditError(f"{spec} is not UTF-8 text") from None
    if HASH_RE.fullmatch(content):
        return ExpectedHead(None, content)
    match = PLAIN_HEAD_RE.fullmatch(content)
    if match:
        if public_key_path is not None:
            raise AuditError(f"{spec} is an unsigned head: --public-key is for a signed head (audit head --sign)")
        return _plain(match)
    try:
        data = json.loads(content)
    except ValueError:
        raise AuditError(f"{spec} holds neither a head ('SEQ sha256:HASH') nor a signed head (JSON)") from None
    if not isinstance(data, dict):
        raise AuditError(f"{spec} is not a signed head")
    if public_key_path is None:
        raise AuditError(f"{spec} is a signed head: give the signer's public key with --public-key PUB "
                         "(the key inside the file proves nothing about who signed it)")
    return check_signed_head(data, load_public_key(public_key_path))


def _plain(match: re.Match[str]) -> ExpectedHead:
    seq, digest = int(match.group(1)), match.group(2)
    if seq == 0 and digest != GENESIS_HASH:
        raise AuditError(f"the head of an empty log (seq 0) is {GENESIS_HASH}")
    return ExpectedHead(seq, digest)
