"""The decision route of two source trees, interleaved: both servers up at once, wrk on each in turn.

    python benchmarks/ab_http.py --before DIR [--rounds 6] [--seconds 5] [--connections 1]

DIR is another tree of sharelaw (e.g. ``git archive COMMIT | tar -x -C DIR``). One 1-worker
``sharelaw serve`` from DIR and one from this tree are started side by side and pinned to
the same core, wrk (one thread, the six examples in turn) to the other; each round measures
before, then after, then in-process ``decide()`` (this tree, on the load generator's core).
The HTTP overhead per decision is the server's p50 less ``decide()``'s p50 of the same
round: a machine shared with other work moves all three together, so the per-round ratios
are what to read. Prints every round and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402

from bench_http import in_process, pin_process, requests_, wrk  # noqa: E402
from service_common import free_port, make_tokens  # noqa: E402


def serve(tree: Path, tokens: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "sharelaw", "serve", "--port", str(port), "--tokens", str(tokens)],
                            env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server from {tree} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other tree (its src/ is served)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, load_cpu = cpus[0], cpus[-1]
    reqs = requests_()
    bodies = [json.dumps(r).encode() for r in reqs]
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as d:
        token = make_tokens(Path(d) / "tokens.json")["decider"]
        servers = {"before": serve(args.before.resolve(), Path(d) / "tokens.json"),
                   "after": serve(ROOT, Path(d) / "tokens.json")}
        try:
            for proc, _ in servers.values():
                pin_process(proc.pid, server_cpu)
            os.sched_setaffinity(0, {load_cpu})
            for name, (_, url) in servers.items():  # warm both
                wrk(url, token, bodies, 1, 1, Path(d) / f"warm-{name}.lua", load_cpu)
            for i in range(args.rounds):
                row: dict[str, Any] = {}
                for name, (_, url) in servers.items():
                    row[name] = wrk(url, token, bodies, args.seconds, args.connections, Path(d) / f"{name}.lua",
                                    load_cpu)
                row["decide"] = in_process(reqs, 3000)
                rounds.append(row)
                b, a, dec = row["before"], row["after"], row["decide"]
                print(f"round {i + 1}: decide() p50 {dec['p50'] * 1000:.3f} ms; "
                      f"before p50 {b['p50'] * 1000:.3f} ms, {b['rate']:.0f}/s, overhead "
                      f"{(b['p50'] - dec['p50']) / dec['p50']:.2f}x; after p50 {a['p50'] * 1000:.3f} ms, "
                      f"{a['rate']:.0f}/s, overhead {(a['p50'] - dec['p50']) / dec['p50']:.2f}x; load {os.getloadavg()[0]:.2f}",
                      flush=True)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(20)

    def median(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    dec = median("decide", "p50")
    print(f"\nmedians over {len(rounds)} rounds, wrk {args.connections} connection(s), {args.seconds:g} s each: "
          f"decide() p50 {dec * 1000:.3f} ms")
    for name in ("before", "after"):
        over = [(r[name]["p50"] - r["decide"]["p50"]) / r["decide"]["p50"] for r in rounds]
        print(f"  {name:<6}: p50 {median(name, 'p50') * 1000:.3f} ms, p99 {median(name, 'p99') * 1000:.3f} ms, "
              f"{median(name, 'rate'):.0f} decisions/s; overhead over decide() "
              f"{(median(name, 'p50') - dec) * 1000:.3f} ms, per round median {statistics.median(over):.2f}x "
              f"(range {min(over):.2f}-{max(over):.2f}x)")


if __name__ == "__main__":
    main()
