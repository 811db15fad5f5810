"""The decision route of two source trees, interleaved: both servers up at once, wrk on each in turn.

    python benchmarks/ab_http.py --before DIR [--rounds 6] [--seconds 5] [--connections 1]
        [--server-before uvicorn|granian] [--server-after uvicorn|granian] [--open-loop 0.5,0.8]

DIR is another tree of sharelaw (e.g. ``git archive COMMIT | tar -x -C DIR``). One 1-worker
``sharelaw serve`` from DIR and one from this tree are started side by side and pinned to
the same core, wrk (one thread, the six examples in turn) to the other; each round measures
before, then after, then in-process ``decide()`` (this tree, on the load generator's core).
The HTTP overhead per decision is the server's p50 less ``decide()``'s p50 of the same
round: a machine shared with other work moves all three together, so the per-round ratios
are what to read. Prints every round and the medians.

``--server-after granian`` (or ``--server-before``) serves that tree's app with granian
(PyPI ``granian``, a Rust HTTP server; not a dependency of sharelaw) instead of ``sharelaw
serve``'s uvicorn: ``sharelaw.service.app:app_from_env`` with the same default config, one
worker process under granian's supervisor, both pinned. ``--before . --server-after granian``
compares the two servers on this tree's app.
``--open-loop FRACTIONS`` adds, to every round, benchmarks/open_loop.py (32 connections,
pinned as wrk is) against each server at each fraction of the *before* server's wrk rate
of that round: both servers get the same absolute rate.
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

from bench_http import in_process, open_loop, pin_process, requests_, wrk  # noqa: E402
from service_common import free_port, make_tokens  # noqa: E402


def serve(tree: Path, tokens: Path, server: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    if server == "granian":  # the app sharelaw serve's workers build, from the same config, behind granian
        env["SHARELAW_SERVICE_CONFIG"] = json.dumps({"tokens": str(tokens),
                                                     "jobs_dir": tempfile.mkdtemp(prefix="sharelaw-jobs-")})
        cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--log-level", "warning", "sharelaw.service.app:app_from_env"]
    else:
        cmd = [sys.executable, "-m", "sharelaw", "serve", "--port", str(port), "--tokens", str(tokens)]
    proc = subprocess.Popen(cmd, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
    parser.add_argument("--server-before", choices=["uvicorn", "granian"],
                        help="uvicorn: sharelaw serve (default); granian: the same app behind granian")
    parser.add_argument("--server-after", choices=["uvicorn", "granian"], help="as --server-before, for this tree")
    parser.add_argument("--open-loop", type=lambda v: [float(x) for x in v.split(",")], default=[],
                        metavar="FRACTIONS", help="also open-loop runs at these fractions of before's wrk rate")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, load_cpu = cpus[0], cpus[-1]
    reqs = requests_()
    bodies = [json.dumps(r).encode() for r in reqs]
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as d:
        token = make_tokens(Path(d) / "tokens.json")["decider"]
        servers = {"before": serve(args.before.resolve(), Path(d) / "tokens.json", args.server_before),
                   "after": serve(ROOT, Path(d) / "tokens.json", args.server_after)}
        files = []
        for k, body in enumerate(bodies):
            files.append(Path(d) / f"body-{k}.json")
            files[-1].write_bytes(body)
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
                for fraction in args.open_loop:
                    for name, (_, url) in servers.items():
                        row[f"{name}@{fraction:g}"] = open_loop(url, token, files, fraction * row["before"]["rate"],
                                                                args.seconds, load_cpu)
                row["decide"] = in_process(reqs, 3000)
                rounds.append(row)
                b, a, dec = row["before"], row["after"], row["decide"]
                print(f"round {i + 1}: decide() p50 {dec['p50'] * 1000:.3f} ms; "
                      f"before p50 {b['p50'] * 1000:.3f} ms, {b['rate']:.0f}/s, overhead "
                      f"{(b['p50'] - dec['p50']) / dec['p50']:.2f}x; after p50 {a['p50'] * 1000:.3f} ms, "
                      f"{a['rate']:.0f}/s, overhead {(a['p50'] - dec['p50']) / dec['p50']:.2f}x; load {os.getloadavg()[0]:.2f}",
                      flush=True)
                for fraction in args.open_loop:
                    print("  open loop at " + "; ".join(
                        f"{name} {row[f'{name}@{fraction:g}']['achieved']:.0f}/s p50 "
                        f"{row[f'{name}@{fraction:g}']['p50'] * 1000:.2f} ms p99 "
                        f"{row[f'{name}@{fraction:g}']['p99'] * 1000:.2f} ms" for name in servers)
                        + f" ({fraction:.0%} of before's wrk rate)", flush=True)
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
    for fraction in args.open_loop:
        for name in ("before", "after"):
            key = f"{name}@{fraction:g}"
            print(f"  open loop at {fraction:.0%} of before's rate, {name:<6}: achieved {median(key, 'achieved'):.0f}/s, "
                  f"p50 {median(key, 'p50') * 1000:.2f} ms, p99 {median(key, 'p99') * 1000:.2f} ms (medians)")


if __name__ == "__main__":
    main()
