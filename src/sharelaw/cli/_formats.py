"""Machine formats for CI: JUnit XML for ``sharelaw test``, SARIF 2.1.0 and GitHub Actions
workflow commands for ``sharelaw check`` (and any command that reports ``Problem``s)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..errors import Problem

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(file: str | None) -> str:
    """A path relative to the current directory where it is under it (what code scanning expects)."""
    if not file:
        return "<rules>"
    try:
        rel = os.path.relpath(file)
    except ValueError:
        return file.replace(os.sep, "/")
    return (file if rel.startswith("..") else rel).replace(os.sep, "/")


def sarif(problems: Sequence[Problem]) -> str:
    rules = sorted({p.code for p in problems})
    results: list[dict[str, Any]] = []
    for p in problems:
        region: dict[str, int] = {}
        if p.line is not None:
            region["startLine"] = p.line
            if p.column is not None:
                region["startColumn"] = p.column
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(p.file)}}
        if region:
            location["region"] = region
        result: dict[str, Any] = {
            "ruleId": p.code,
            "ruleIndex": rules.index(p.code),
            "level": "warning" if p.severity == "warning" else "error",
            "message": {"text": p.message + (f" [{p.rule_id}]" if p.rule_id else "")},
            "locations": [{"physicalLocation": location}],
        }
        if p.rule_id:
            result["properties"] = {"sharelawRule": p.rule_id}
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sharelaw", "version": __version__,
                # the codes are documented in docs/rulesets.md (error codes)
                "rules": [{"id": code, "name": code} for code in rules],
            }},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(problems: Sequence[Problem]) -> str:
    """One GitHub Actions workflow command per problem (``::error file=...,line=...::message``),
    which the runner shows as an annotation on the line."""
    out = []
    for p in problems:
        props = [f"file={_escape_property(_uri(p.file))}"] if p.file else []
        if p.line is not None:
            props.append(f"line={p.line}")
            if p.column is not None:
                props.append(f"col={p.column}")
        props.append(f"title={_escape_property(p.code)}")
        level = "warning" if p.severity == "warning" else "error"
        text = p.message + (f" [{p.rule_id}]" if p.rule_id else "")
        out.append(f"::{level} {','.join(props)}::{_escape_data(text)}")
    return "".join(line + "\n" for line in out)


def junit(suite: str, cases: Sequence[dict[str, Any]], seconds: float) -> str:
    """JUnit XML (the Jenkins/GitLab/GitHub reporters' dialect): one testcase per scenario,
    a <failure> for each that failed, listing every unmet expectation."""
    failures = sum(1 for c in cases if not c["passed"])
    root = ET.Element("testsuites", name="sharelaw", tests=str(len(cases)), failures=str(failures),
                      errors="0", time=f"{seconds:.3f}")
    suite_el = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                             errors="0", skipped="0", time=f"{seconds:.3f}")
    for c in cases:
        case = ET.SubElement(suite_el, "testcase", classname=_uri(c["file"]), name=c["id"],
                             file=_uri(c["file"]), line=str(c["line"] or 0), time=f"{c['seconds']:.3f}")
        if not c["passed"]:
            text = "\n".join(f"{m['what']}\n  - expected: {m['expected']}\n  + got:      {m['got']}"
                             for m in c["failures"])
            failure = ET.SubElement(case, "failure", message=f"{len(c['failures'])} expectation(s) not met",
                                    type="ScenarioFailed")
            failure.text = text
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
