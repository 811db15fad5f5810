"""decide --batch keeps memory flat in the file size: peak RSS of `sharelaw decide --batch`
on N and 10*N lines, each run in its own process, as a ratio measured in the same run.

    python benchmarks/bench_batch_memory.py [N]      (default N=200)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("0*.json"))


def peak_rss_kib(lines: int, folder: Path) -> tuple[int, float]:
    path = folder / f"batch-{lines}.jsonl"
    requests = [json.dumps(json.loads(p.read_text(encoding="utf-8"))) for p in EXAMPLES]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(lines):
            fh.write(requests[i % len(requests)] + "\n")
    script = ("import resource, sys; from sharelaw.cli import main; code = main(sys.argv[1:]); "
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, "decide", "--batch", str(path)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    return int(done.stderr.strip().splitlines()[-1]), seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        small, t_small = peak_rss_kib(n, Path(tmp))
        large, t_large = peak_rss_kib(10 * n, Path(tmp))
    print(f"{n:>7} lines: peak RSS {small / 1024:7.1f} MiB, {t_small:6.1f} s")
    print(f"{10 * n:>7} lines: peak RSS {large / 1024:7.1f} MiB, {t_large:6.1f} s")
    print(f"ratio of peak RSS (10x the lines): {large / small:.2f}  (flat memory: close to 1)")


if __name__ == "__main__":
    main()
