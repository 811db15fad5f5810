"""Shared by the durable-rules benchmarks: the machine, and the firings a set of requests makes."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sharelaw._version import __version__  # noqa: E402
from sharelaw.engine.pipeline import Engine  # noqa: E402
from sharelaw.rules.bundle import Bundle, Segment  # noqa: E402
from sharelaw.rules.reference import ReferenceEvaluator  # noqa: E402


def machine() -> list[str]:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown"
    try:
        durable = metadata.version("durable-rules")
    except metadata.PackageNotFoundError:
        durable = "unknown"
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        commit = head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return [
        f"commit       {commit}",
        f"platform     {platform.platform()}",
        f"cpu          {model}; os.cpu_count() = {os.cpu_count()}",
        f"python       {platform.python_implementation()} {platform.python_version()}",
        f"sharelaw     {__version__}; durable-rules {durable}",
    ]


class _Recorder(ReferenceEvaluator):
    """The reference evaluator, recording every (segment, facts) the pipeline fires."""

    def __init__(self) -> None:
        self.calls: list[tuple[Segment, dict[str, object]]] = []

    def fire(self, segment: Segment, facts: Any) -> list[str]:
        self.calls.append((segment, dict(facts)))  # the pipeline adds to facts after each stage
        return super().fire(segment, facts)


def firings(bundle: Bundle, requests: list[dict[str, Any]]) -> list[list[tuple[Segment, dict[str, object]]]]:
    """For each request, the (segment, facts) pairs the engine fires, in order."""
    engine = Engine(bundle, evaluator="reference")
    recorder = _Recorder()
    engine._primary = recorder  # the pipeline's evaluator slot
    out = []
    for r in requests:
        recorder.calls = []
        engine.fired(r)
        out.append(recorder.calls)
    return out


class CountingCore:
    """Stands in for ``durable._core``, counting the calls into the C core."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.counts: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._real, name)
        counts = self.counts

        def counted(*a: Any) -> Any:
            counts[name] = counts.get(name, 0) + 1
            return fn(*a)

        return counted
