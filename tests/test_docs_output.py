"""The documentation's examples are real (issue 14): every console block in README.md and
docs/*.md marked ``<!-- sharelaw:run -->`` is run from the repository root and its output
compared with what the page shows, ignoring hashes, ids, timings and today's date
(scripts/regen_docs.py, the one mechanism that also rewrites them:
``python scripts/regen_docs.py``)."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("regen_docs", ROOT / "scripts" / "regen_docs.py")
assert _spec and _spec.loader
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)

MARKED = [(path, command, shown) for path in regen.RUNNABLE_DOCS
          for _, _, pairs in regen.blocks(path.read_text("utf-8")) for command, shown in pairs]


def test_the_readme_and_the_docs_have_runnable_examples():
    pages = {path.name for path, _, _ in MARKED}
    assert {"README.md", "writing-a-protocol.md"} <= pages


@pytest.mark.parametrize("path, command, shown", MARKED,
                         ids=[f"{p.name}:{c[:60]}" for p, c, _ in MARKED])
def test_a_marked_example_prints_what_the_page_shows(path, command, shown):
    real = regen.run_command(command)
    if regen.normalise(real) != regen.normalise(shown):
        diff = "".join(difflib.unified_diff(shown.splitlines(True), real.splitlines(True), "shown", "real"))
        pytest.fail(f"{path.relative_to(ROOT)}: `$ {command}` prints something else now "
                    f"(run python scripts/regen_docs.py):\n{diff}")


def test_the_checker_ignores_only_what_varies():
    shown = "rules sha256:" + "a" * 64 + " in 1.15s, id 123e4567-e89b-12d3-a456-426614174000\n"
    real = "rules sha256:" + "b" * 64 + " in 0.20s, id 00000000-0000-0000-0000-000000000001\n"
    assert regen.normalise(shown) == regen.normalise(real)
    assert regen.normalise("MUST SHARE\n") != regen.normalise("MAY SHARE\n")


def test_a_changed_output_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- sharelaw:run -->\n```console\n$ sharelaw schema error; echo $?\nnot what it prints\n```\n",
                    encoding="utf-8")
    (stale,) = regen.stale_blocks(page)
    assert stale[0] == "sharelaw schema error; echo $?" and stale[2].endswith("\n0\n")
    # regenerating fixes it, and then nothing is stale
    page.write_text(regen.regenerate(page.read_text(encoding="utf-8")), encoding="utf-8")
    assert regen.stale_blocks(page) == []
