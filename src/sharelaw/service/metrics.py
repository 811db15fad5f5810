"""Prometheus text exposition: decisions by outcome, latency, errors, log appends.

Counted per worker process (each worker serves ``/metrics`` for itself; with several
workers, scrape each instance with one worker or sum what the scrapes return)."""

from __future__ import annotations

import os
import threading
from collections import Counter

#: Decision latency buckets, in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.decisions: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.appends: Counter[str] = Counter()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.replays = 0
        self._bucket_counts = [0] * len(BUCKETS)
        self._sum = 0.0
        self._count = 0

    def decided(self, outcome: str, seconds: float) -> None:
        with self._lock:
            self.decisions[outcome] += 1
            self._sum += seconds
            self._count += 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self._bucket_counts[i] += 1

    def error(self, code: str) -> None:
        with self._lock:
            self.errors[code] += 1

    def appended(self, kind: str) -> None:
        with self._lock:
            self.appends[kind] += 1

    def replayed(self) -> None:
        with self._lock:
            self.replays += 1

    def request(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[(route, status)] += 1

    def render(self) -> str:
        with self._lock:
            out = [
                "# HELP sharelaw_decisions_total Decisions made, by outcome.",
                "# TYPE sharelaw_decisions_total counter",
            ]
            out += [f'sharelaw_decisions_total{{outcome="{o}"}} {n}' for o, n in sorted(self.decisions.items())]
            out += ["# HELP sharelaw_decision_seconds Time to decide one request (validation and engine).",
                    "# TYPE sharelaw_decision_seconds histogram"]
            out += [f'sharelaw_decision_seconds_bucket{{le="{b}"}} {n}' for b, n in zip(BUCKETS, self._bucket_counts)]
            out += [f'sharelaw_decision_seconds_bucket{{le="+Inf"}} {self._count}',
                    f"sharelaw_decision_seconds_sum {self._sum:.6f}", f"sharelaw_decision_seconds_count {self._count}"]
            out += ["# HELP sharelaw_errors_total Requests refused or failed, by problem code.",
                    "# TYPE sharelaw_errors_total counter"]
            out += [f'sharelaw_errors_total{{code="{c}"}} {n}' for c, n in sorted(self.errors.items())]
            out += ["# HELP sharelaw_log_appends_total Records appended to the audit log, by kind.",
                    "# TYPE sharelaw_log_appends_total counter"]
            out += [f'sharelaw_log_appends_total{{kind="{k}"}} {n}' for k, n in sorted(self.appends.items())]
            out += ["# HELP sharelaw_idempotent_replays_total Recorded decisions given again for a retried "
                    "Idempotency-Key (nothing decided or appended).",
                    "# TYPE sharelaw_idempotent_replays_total counter",
                    f"sharelaw_idempotent_replays_total {self.replays}"]
            out += ["# HELP sharelaw_http_requests_total HTTP requests answered, by route and status.",
                    "# TYPE sharelaw_http_requests_total counter"]
            out += [f'sharelaw_http_requests_total{{route="{r}",status="{s}"}} {n}'
                    for (r, s), n in sorted(self.requests.items())]
            out += ["# HELP sharelaw_worker_info The worker process answering.", "# TYPE sharelaw_worker_info gauge",
                    f'sharelaw_worker_info{{pid="{os.getpid()}"}} 1']
        return "\n".join(out) + "\n"
