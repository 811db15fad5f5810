"""The README's examples are real: its console output and the values its Python example
shows are what sharelaw prints and returns today."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import sharelaw

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def _console_blocks():
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        command, _, output = block.partition("\n")
        assert command.startswith("$ sharelaw "), command
        yield command[2:].split(), output


def test_every_console_example_prints_what_the_readme_shows():
    blocks = list(_console_blocks())
    assert blocks, "the README has no console example"
    for argv, expected in blocks:
        done = subprocess.run(
            [sys.executable, "-m", "sharelaw", *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected, (
            f"README output of `{' '.join(argv)}` is out of date: paste the real output of the command"
        )


def test_the_python_example_returns_what_the_readme_says():
    code = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    shown = re.findall(r"^(decision\.[\w.]+|\[m\.item for m in decision\.missing\])\s+# (.+)$", code, flags=re.M)
    assert shown, "the README's Python example shows no values"
    setup = "\n".join(line for line in code.splitlines() if not line.startswith(("decision.", "[m.item", "print(")))
    scope: dict = {"sharelaw": sharelaw}
    exec(setup, scope)  # noqa: S102 - the README's own example
    for expr, comment in shown:
        value = eval(expr, scope)  # noqa: S307
        assert repr(value) == comment or str(value) == comment or (
            hasattr(value, "value") and f"Outcome.{value.name}" == comment
        ), (expr, value, comment)
