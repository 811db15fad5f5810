"""Where legislation data comes from: legislation.gov.uk (over HTTP) or saved files.

Saved files mirror the site's paths under a folder, so a folder saved from the site (or
the test fixtures) can also be served as the site: ``changes/affected/ukpga/2004/31/data.feed``,
``ukpga/2004/31/section/11/data.xml``. A query string (a feed's later pages,
``data.feed?page=2``) is kept in the file name after ``@`` (``data.feed@page=2``).

The HTTP client follows legislation.gov.uk's fair use policy (data-documentation,
fair-use.md): it identifies itself with a User-Agent that names sharelaw and a contact; it
waits at least ``min_interval`` seconds between requests (1 s by default, "a conservative
crawl rate (e.g. 10 requests per 5-10 seconds)"; never less than 0.1 s, their hard limit
of 3,000 requests in 5 minutes); it honours ``Retry-After`` on 429 and 503 once; and it
caches responses on disk for an hour (the site's own CDN TTL, api/caching.md), then
revalidates them with ``If-None-Match``/``If-Modified-Since``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from .._version import __version__

SITE = "https://www.legislation.gov.uk"
DEFAULT_CONTACT = "+https://pypi.org/project/sharelaw/"
MIN_INTERVAL = 0.1  # seconds: 3,000 requests in 5 minutes
DEFAULT_INTERVAL = 1.0
CACHE_TTL = 3600.0


class DataUnavailable(Exception):
    """The data for a path could not be had (not saved, 404, network error): never "no changes"."""


class Source(Protocol):
    label: str

    def get(self, path: str) -> bytes:
        """The body at ``path`` (``/changes/...`` or ``/ukpga/...``, with any query)."""
        ...


def local_name(path: str) -> str:
    """A site path (with query) as a relative file name."""
    parts = urlsplit(path)
    name = parts.path.lstrip("/")
    if parts.query:
        name += "@" + parts.query
    return name


def site_path(url: str) -> str:
    """The path and query of a link (the site's own absolute links, or a path)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class DirectorySource:
    """Saved responses under a folder (``sharelaw law watch --from DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def get(self, path: str) -> bytes:
        name = local_name(path)
        target = (self.root / name).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise DataUnavailable(f"{path}: outside {self.root}")
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise DataUnavailable(f"no saved file {self.root / name}") from None
        except OSError as exc:
            raise DataUnavailable(f"cannot read {self.root / name}: {exc.strerror}") from None


def user_agent(contact: str | None = None) -> str:
    return f"sharelaw-law-watch/{__version__} ({contact or os.environ.get('SHARELAW_CONTACT') or DEFAULT_CONTACT})"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sharelaw" / "lawwatch"


class RateLimiter:
    """At least ``interval`` seconds between the starts of consecutive requests."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last < self.interval:
                time.sleep(self.interval - (now - self._last))
            self._last = time.monotonic()


class HttpSource:
    """legislation.gov.uk (or a server at ``base_url`` serving the same paths) over httpx."""

    def __init__(self, base_url: str = SITE, *, contact: str | None = None, min_interval: float = DEFAULT_INTERVAL,
                 cache_dir: Path | None = None, cache_ttl: float = CACHE_TTL, timeout: float = 30.0) -> None:
        import httpx  # the `watch` extra

        if min_interval < MIN_INTERVAL:
            raise ValueError(f"min_interval {min_interval}s is below legislation.gov.uk's limit ({MIN_INTERVAL}s)")
        self.base_url = base_url.rstrip("/")
        self.label = self.base_url
        self.limiter = RateLimiter(min_interval)
        self.cache_dir = cache_dir
        self.cache_ttl = cache_ttl
        self.requests = 0  # made over the network (not served from the cache)
        self.cache_hits = 0
        self._httpx = httpx
        self._client = httpx.Client(
            headers={"User-Agent": user_agent(contact), "Accept": "application/xml, application/atom+xml"},
            timeout=timeout, follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cache_paths(self, url: str) -> tuple[Path, Path] | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(url.encode()).hexdigest()
        return self.cache_dir / f"{key}.body", self.cache_dir / f"{key}.json"

    def get(self, path: str) -> bytes:
        url = self.base_url + path
        cached = self._cache_paths(url)
        meta: dict[str, object] = {}
        body: bytes | None = None
        if cached and cached[0].exists() and cached[1].exists():
            try:
                meta = json.loads(cached[1].read_text())
                body = cached[0].read_bytes()
            except (OSError, ValueError):
                meta, body = {}, None
            fetched = meta.get("fetched")
            if body is not None and isinstance(fetched, (int, float)) and time.time() - fetched < self.cache_ttl:
                self.cache_hits += 1
                return body
        headers = {}
        if body is not None:
            if isinstance(meta.get("etag"), str):
                headers["If-None-Match"] = str(meta["etag"])
            if isinstance(meta.get("last_modified"), str):
                headers["If-Modified-Since"] = str(meta["last_modified"])
        response = self._request(url, headers)
        if response.status_code == 304 and body is not None:
            self._store(cached, url, body, response, meta)
            return body
        if response.status_code != 200:
            raise DataUnavailable(f"{url}: HTTP {response.status_code}")
        content: bytes = response.content
        self._store(cached, url, content, response, {})
        return content

    def _request(self, url: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        for attempt in (1, 2):
            self.limiter.wait()
            self.requests += 1
            try:
                response = self._client.get(url, headers=headers)
            except self._httpx.HTTPError as exc:
                raise DataUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None
            if response.status_code in (429, 503) and attempt == 1:
                try:
                    delay = min(float(response.headers.get("Retry-After", "5")), 300.0)
                except ValueError:
                    delay = 5.0
                time.sleep(max(delay, self.limiter.interval))
                continue
            return response
        return response

    def _store(self, cached: tuple[Path, Path] | None, url: str, body: bytes, response: object,
               old: dict[str, object]) -> None:
        if cached is None:
            return
        headers = getattr(response, "headers", {})
        meta = {
            "url": url, "fetched": time.time(),
            "etag": headers.get("ETag") or old.get("etag"),
            "last_modified": headers.get("Last-Modified") or old.get("last_modified"),
        }
        cached[0].parent.mkdir(parents=True, exist_ok=True)
        tmp = cached[0].with_suffix(".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, cached[0])
        cached[1].write_text(json.dumps(meta))


__all__ = ["DataUnavailable", "DirectorySource", "HttpSource", "RateLimiter", "Source", "SITE", "local_name",
           "site_path", "user_agent", "default_cache_dir", "MIN_INTERVAL", "DEFAULT_INTERVAL"]
