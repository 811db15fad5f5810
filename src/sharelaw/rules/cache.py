"""A cache of parsed rule files, so that a new process does not parse YAML again.

Parsing the YAML is most of what loading the rules costs (issue 11). What is cached, per
file, is what ``loader.read_yaml`` returns for it: the plain data and the line of every
key and item (for error messages). Everything after that (the pydantic models, the
conditions, every check across files, the content hash) is done again from the cached data
on every load, exactly as from freshly parsed YAML, so a bundle loaded through the cache is
the same bundle, with the same ``content_hash`` (computed from the rule files' own bytes,
which are always read), as one loaded without it.

- Key: sha256 of the file's bytes, the sharelaw version, this cache's format version and
  a fingerprint of the parsing code (``parser_fingerprint``); any change to a file's
  bytes, another sharelaw version or changed parsing code, is a miss.
- Where: ``$SHARELAW_CACHE_DIR``, else ``$XDG_CACHE_HOME/sharelaw``, else
  ``~/.cache/sharelaw``; entries are in its ``rules/`` folder (mode 0700), one JSON file a
  rule file (mode 0600). ``SHARELAW_NO_CACHE=1`` (or ``Bundle.load(cache=False)``) turns it off.
- Format: JSON (never pickle or marshal: reading an entry runs no code), with tagged values
  for what JSON lacks (dates, non-string keys...), and a sha256 of the payload in its header.
- Written atomically: a temporary file in the same folder, then ``os.replace``; two
  processes writing the same entry each write a whole file, and the last rename wins.
- Never trusted: an entry that cannot be read, is truncated or corrupt, fails its checksum,
  names another file hash or version, or is not owned by the user, is ignored (the file is
  parsed and the entry rewritten). A cache folder owned by another user, or writable by
  group or others, is not used at all. A cache that cannot be written (read-only disk, no
  home folder) is skipped without an error: it only ever saves time.
- Only files that parse cleanly are cached; a file with an error is parsed every time, so
  its errors are always those of the parser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from .._version import __version__

#: Bumped whenever what is cached, or how it is encoded, changes.
CACHE_FORMAT = "sharelaw-parsed-rules/1"

#: Entries kept in the folder; beyond this the oldest are removed when one is written.
MAX_ENTRIES = 256

_TAG = "\x00"  # the key of a tagged value; a mapping with such a key is itself tagged

Lines = dict[tuple[Any, ...], int]


def cache_dir() -> Path | None:
    """The folder entries live in, or None if caching is off (``SHARELAW_NO_CACHE=1``)."""
    if os.environ.get("SHARELAW_NO_CACHE", "") not in ("", "0"):
        return None
    base = os.environ.get("SHARELAW_CACHE_DIR")
    if base:
        return Path(base) / "rules"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "sharelaw" / "rules"
    try:
        home = Path.home()
    except (KeyError, RuntimeError):  # no home folder: no cache
        return None
    return home / ".cache" / "sharelaw" / "rules"


_PARSER_FINGERPRINT: str | None = None


def parser_fingerprint() -> str:
    """sha256 of the code that decides what a parse gives (``loader.py``, this module), so
    that an entry written by other code with the same version number (a development
    checkout, a patched install) is never read. Empty if the sources are not on disk."""
    global _PARSER_FINGERPRINT
    if _PARSER_FINGERPRINT is None:
        digest = hashlib.sha256()
        for name in ("loader.py", "cache.py"):
            try:
                digest.update(Path(__file__).with_name(name).read_bytes())
            except OSError:
                _PARSER_FINGERPRINT = ""
                return ""
        _PARSER_FINGERPRINT = digest.hexdigest()
    return _PARSER_FINGERPRINT


def entry_key(sha256: str) -> str:
    """The name of the entry for a file whose bytes have this sha256 (hex)."""
    material = f"{CACHE_FORMAT}\0{__version__}\0PyYAML {yaml.__version__}\0{parser_fingerprint()}\0{sha256}".encode()
    return hashlib.sha256(material).hexdigest()


# ------------------------------------------------------------------ encoding


def _encode(value: Any) -> Any:
    """Plain data as JSON-able values. Raises TypeError for anything YAML's safe
    constructor does not build (such a file is then simply not cached)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {_TAG: "float", "v": repr(value)}
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith(_TAG) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {_TAG: "map", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "v": [_encode(v) for v in value]}
    if isinstance(value, bytes):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot cache a {type(value).__name__}")


class _Corrupt(ValueError):
    """An entry that does not decode to what an entry can hold."""


_HASHABLE_KINDS = (str, int, float, bool, type(None), date, tuple, bytes)


def _hashable(key: Any) -> Any:
    if not isinstance(key, _HASHABLE_KINDS):
        raise _Corrupt("a mapping key that YAML could not have built")
    return key


def _tagged(obj: dict[str, Any]) -> Any:
    """``json.loads`` object hook: a tagged value back to its Python value."""
    if _TAG not in obj:
        return obj
    kind, v = obj.get(_TAG), obj.get("v")
    if len(obj) != 2:
        raise _Corrupt("a tagged value with extra fields")
    if kind == "date" and isinstance(v, str):
        return date.fromisoformat(v)
    if kind == "datetime" and isinstance(v, str):
        return datetime.fromisoformat(v)
    if kind == "float" and v in ("nan", "inf", "-inf"):
        return float(v)
    if kind == "map" and isinstance(v, list):
        if not all(isinstance(p, list) and len(p) == 2 for p in v):
            raise _Corrupt("a mapping that is not a list of pairs")
        return {_hashable(k): val for k, val in v}
    if kind == "tuple" and isinstance(v, list):
        return tuple(v)
    if kind == "set" and isinstance(v, list):
        return {_hashable(k) for k in v}
    if kind == "bytes" and isinstance(v, str):
        return base64.b64decode(v, validate=True)
    raise _Corrupt(f"an unknown tagged value {kind!r}")


def encode_entry(sha256: str, data: Any, lines: Lines) -> bytes:
    """The bytes of an entry: a header line (format, version, file hash, payload hash), then
    the payload (the data and the line index) as JSON."""
    payload = json.dumps(
        {"data": _encode(data), "lines": [[line, *path] for path, line in lines.items()]},
        ensure_ascii=False, separators=(",", ":"), allow_nan=False,
    ).encode("utf-8")
    header = json.dumps({
        "format": CACHE_FORMAT, "version": __version__, "parser": parser_fingerprint(), "source_sha256": sha256,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }, separators=(",", ":")).encode("utf-8")
    return header + b"\n" + payload


def decode_entry(blob: bytes, sha256: str) -> tuple[Any, Lines]:
    """The data and line index in an entry for the file with this sha256; ``_Corrupt``
    (a ``ValueError``) for anything else."""
    header_bytes, sep, payload = blob.partition(b"\n")
    if not sep:
        raise _Corrupt("no header")
    try:
        header = json.loads(header_bytes)
    except ValueError:
        raise _Corrupt("an unreadable header") from None
    expected = {"format": CACHE_FORMAT, "version": __version__, "parser": parser_fingerprint(),
                "source_sha256": sha256, "payload_sha256": hashlib.sha256(payload).hexdigest()}
    if header != expected:
        raise _Corrupt("the header names another file, version or payload")
    try:
        body = json.loads(payload, object_hook=_tagged)
    except (ValueError, TypeError, RecursionError) as exc:
        raise _Corrupt(f"an unreadable payload: {exc}") from None
    if not isinstance(body, dict) or set(body) != {"data", "lines"} or not isinstance(body["lines"], list):
        raise _Corrupt("a payload of the wrong shape")
    try:
        lines: Lines = {tuple(item[1:]): item[0] for item in body["lines"]}
    except (TypeError, IndexError, KeyError):
        raise _Corrupt("a line index entry of the wrong shape") from None
    if not {type(v) for v in lines.values()} <= {int}:
        raise _Corrupt("a line that is not a number")
    return body["data"], lines


# ------------------------------------------------------------------ the folder


def _usable(folder: Path) -> bool:
    """Whether ``folder`` is a folder of ours that no one else can write into."""
    try:
        st = os.stat(folder)
    except OSError:
        return False
    uid = os.getuid() if hasattr(os, "getuid") else None
    return (stat.S_ISDIR(st.st_mode) and (uid is None or st.st_uid == uid)
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


class ParseCache:
    """Entries in one folder. Every failure to read or write is a miss, never an error."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._checked: bool | None = None
        self.hits = 0
        self.misses = 0
        self.writes = 0

    @classmethod
    def default(cls) -> "ParseCache | None":
        folder = cache_dir()
        return cls(folder) if folder is not None else None

    def _ready(self, create: bool) -> bool:
        if self._checked is None or (create and not self._checked):
            if create:
                try:
                    self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                except OSError:
                    pass
            self._checked = _usable(self.folder)
        return self._checked

    def get(self, sha256: str) -> tuple[Any, Lines] | None:
        """The cached data and lines of the file with this sha256, or None (a miss)."""
        found = self._get(sha256)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def _get(self, sha256: str) -> tuple[Any, Lines] | None:
        if not self._ready(create=False):
            return None
        path = self.folder / f"{entry_key(sha256)}.json"
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
                return None
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            return decode_entry(b"".join(chunks), sha256)
        except ValueError:
            return None

    def put(self, sha256: str, data: Any, lines: Lines) -> bool:
        """Store an entry (atomically). False, and nothing raised, if it cannot be written."""
        try:
            blob = encode_entry(sha256, data, lines)
        except (TypeError, ValueError, RecursionError):  # something JSON cannot hold: not cached
            return False
        if not self._ready(create=True):
            return False
        import tempfile  # only when writing (its imports cost a few ms)

        target = self.folder / f"{entry_key(sha256)}.json"
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.folder)  # mode 0600
        except OSError:
            return False
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
            os.replace(tmp, target)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        self.writes += 1
        self._prune()
        return True

    def _prune(self) -> None:
        """Keep at most ``MAX_ENTRIES`` entries: remove the oldest, and temporary files an
        interrupted writer left more than an hour ago (best effort)."""
        try:
            with os.scandir(self.folder) as it:
                names = list(it)
            now = time.time()
            for e in names:
                if e.name.startswith(".tmp-") and now - e.stat().st_mtime > 3600:
                    os.unlink(e.path)
            entries = [e for e in names if e.name.endswith(".json") and not e.name.startswith(".")]
            if len(entries) <= MAX_ENTRIES:
                return
            entries.sort(key=lambda e: e.stat().st_mtime)
            for e in entries[: len(entries) - MAX_ENTRIES]:
                os.unlink(e.path)
        except OSError:
            pass
