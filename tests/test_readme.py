"""The README's Python example shows what sharelaw returns today (its console output is
checked with every other runnable docs block by tests/test_docs_output.py)."""

from __future__ import annotations

import re
from pathlib import Path

import sharelaw

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


# The README's console examples are run by tests/test_docs_output.py (marked <!-- sharelaw:run -->).


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
