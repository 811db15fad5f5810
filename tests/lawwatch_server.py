"""A real HTTP server serving saved legislation.gov.uk responses (tests/fixtures/legislation/).

    python tests/lawwatch_server.py ROOT LOG

Serves ROOT's files at the site's paths, a query string mapped to ``@query`` in the file
name (as ``sharelaw.lawwatch.sources.local_name`` saves them), with an ETag so that a client
can revalidate. Appends one JSON line per request to LOG (time, path, User-Agent, status)
and prints the port it listens on.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(sys.argv[1]).resolve()
LOG = Path(sys.argv[2])


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        name = parts.path.lstrip("/") + (f"@{parts.query}" if parts.query else "")
        target = (ROOT / name).resolve()
        status, body, etag = 404, b"<html>Not found</html>", None
        if target.is_relative_to(ROOT) and target.is_file():
            body = target.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            status = 304 if self.headers.get("If-None-Match") == etag else 200
        with LOG.open("a") as log:
            log.write(json.dumps({"t": time.monotonic(), "path": self.path, "ua": self.headers.get("User-Agent"),
                                  "status": status}) + "\n")
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/xml")
        if status == 304:
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
