"""Suite-wide settings: the parsed-rules cache (rules/cache.py) goes to a folder of this
run's own, never the user's ~/.cache, unless a test sets one itself."""

from __future__ import annotations

import os
import tempfile

if "SHARELAW_CACHE_DIR" not in os.environ:
    os.environ["SHARELAW_CACHE_DIR"] = tempfile.mkdtemp(prefix="sharelaw-test-cache-")
