"""An open-loop load generator at a steady rate, latency counted from each request's scheduled time.

    python benchmarks/open_loop.py URL TOKEN --rate R --seconds S [--connections C] BODY.json ...

Request i is due at ``start + i / R``, whatever happened to the requests before it (open
loop: the rate does not fall when the server slows, unlike a closed loop or h2load's
``--rps``). Its latency runs from when it was due to when its whole response has been read,
so time spent waiting for a free connection, or behind a slow answer, counts
(coordinated omission corrected, as wrk2 does). The bodies are POSTed to /v1/decisions in
turn over C keep-alive HTTP/1.1 connections opened before the clock starts; a request waits
for a free connection if all C are busy (its latency still counting). One asyncio thread
(uvloop when installed): run it pinned to a core the server does not use (``taskset``).
The timer wakes up to about a millisecond late; how late each request left is printed
too (``send_lag``), and is inside its latency. Prints one JSON object.

    python benchmarks/open_loop.py --canned PORT SIZE

serves a canned answer of SIZE bytes to every request, at once: the generator's own
latency floor at a rate, when pinned as the service would be.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Coroutine, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def uvloop_run(work: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


async def read_message(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 message (a request or a response) read whole; returns its head."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return head


async def run(url: str, token: str, bodies: list[bytes], rate: float, seconds: float, connections: int,
              ) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [(f"POST /v1/decisions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies]
    n = max(1, int(rate * seconds))
    due_times: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    streams = [await asyncio.open_connection(host, port) for _ in range(connections)]

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while True:
            i, due = await due_times.get()
            if i < 0:
                return
            lags.append(time.perf_counter() - due)
            writer.write(requests[i % len(requests)])
            head = await read_message(reader)
            latencies.append(time.perf_counter() - due)
            if not head.startswith(b"HTTP/1.1 200 "):
                errors += 1

    workers = [asyncio.create_task(connection(r, w)) for r, w in streams]
    start = time.perf_counter() + 0.05
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due_times.put_nowait((i, due))
    for _ in workers:
        due_times.put_nowait((-1, 0.0))
    await asyncio.gather(*workers)
    wall = time.perf_counter() - start
    for _, writer in streams:
        writer.close()
    return {"requests": n, "rate": rate, "achieved": n / wall, "errors": errors, "p50": pct(latencies, 0.5),
            "p90": pct(latencies, 0.9), "p99": pct(latencies, 0.99), "p999": pct(latencies, 0.999),
            "max": max(latencies), "send_lag_p50": pct(lags, 0.5), "send_lag_p99": pct(lags, 0.99)}


async def canned(port: int, size: int) -> None:
    """A stand-in server: every request answered at once with ``size`` bytes (the generator's own floor)."""
    body = b"x" * size
    answer = f"HTTP/1.1 200 OK\r\ncontent-length: {size}\r\ncontent-type: application/json\r\n\r\n".encode() + body

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await read_message(reader)
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    if sys.argv[1:2] == ["--canned"]:  # open_loop.py --canned PORT SIZE
        uvloop_run(canned(int(sys.argv[2]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("bodies", nargs="+", type=Path)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    bodies = [p.read_bytes() for p in args.bodies]
    work = run(args.url, args.token, bodies, args.rate, args.seconds, args.connections)
    result = uvloop_run(work)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
