"""Exceptions raised by sharelaw. Imports nothing else from the package.

Every error carries a stable ``code`` that callers and tools can match on. Input
errors subclass ``ValueError`` so that ordinary ``except ValueError`` handling
works; engine faults do not, because they are never the caller's fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any


class SharelawError(Exception):
    """Base class of every error raised by sharelaw."""

    code = "sharelaw_error"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a request."""

    loc: str
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message} [{self.code}]"


#: How many field errors a message or an error document lists; the rest are counted, so that
#: a request with millions of bad entries gives bounded output (issue 10, item 5).
MAX_LISTED_ERRORS = 100


class RequestError(SharelawError, ValueError):
    """A request was invalid. ``errors`` names every bad field; nothing was decided.

    The message and ``to_dict()`` list the first ``MAX_LISTED_ERRORS`` and count the rest;
    ``errors`` holds them all."""

    code = "request_invalid"

    def __init__(self, errors: list[FieldError], code: str | None = None) -> None:
        self.errors = list(errors)
        if code:
            self.code = code
        lines = "\n".join(f"  - {e}" for e in self.errors[:MAX_LISTED_ERRORS])
        if len(self.errors) > MAX_LISTED_ERRORS:
            lines += f"\n  ... and {len(self.errors) - MAX_LISTED_ERRORS} more error(s) not listed"
        super().__init__(f"{self.code}: {len(self.errors)} error(s) in the request\n{lines}")

    def problems(self, file: str | None = None) -> list[Problem]:
        """Every field error as a ``Problem`` (``file`` the request file, if any)."""
        return [Problem(e.code, e.message, file=file, loc=e.loc) for e in self.errors]

    def to_dict(self) -> dict[str, Any]:
        """``errors`` lists at most ``MAX_LISTED_ERRORS``; ``count`` is how many there are in all."""
        return {
            "code": self.code,
            "count": len(self.errors),
            "errors": [{"loc": e.loc, "message": e.message, "code": e.code} for e in self.errors[:MAX_LISTED_ERRORS]],
        }


@dataclass(frozen=True)
class Problem:
    """One problem in the one error format every command prints (issue 14):

        file:line:col: code: message [rule id]

    (the parts not known left out), and as JSON the same fields (``to_dict``) in the error
    document of ``--format json`` (``sharelaw schema error``). ``loc`` is the field of a
    request or scenario, ``severity`` "error" or "warning" (``sharelaw check``)."""

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    rule_id: str | None = None
    loc: str | None = None
    severity: str = "error"

    def render(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where = f"{where or '<input>'}:{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        head = f"{where}: " if where else ""
        kind = "warning: " if self.severity == "warning" else ""
        loc = f"{self.loc}: " if self.loc else ""
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{head}{self.code}: {kind}{loc}{self.message}{rule}"

    def __str__(self) -> str:
        return self.render()

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule_id": self.rule_id,
            "loc": self.loc,
            "severity": self.severity,
        }


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of ``choices`` to a misspelt ``word``, or ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def column_of(text: str, line: int) -> int | None:
    """The 1-based column where the content of ``line`` starts (after indentation and any
    YAML list dashes): the column of the key a loader error at that line is about."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    content = lines[line - 1]
    i = 0
    while i < len(content) and (content[i] == " " or (content[i] == "-" and content[i + 1: i + 2] in (" ", ""))):
        i += 1
    return i + 1 if i < len(content) else None


def with_columns(problems: Iterable[Problem]) -> list[Problem]:
    """``problems`` with the column filled in where the file and line are known and the
    column is not (the loaders record lines; the column is read from the file's text)."""
    texts: dict[str, str | None] = {}
    out = []
    for p in problems:
        if p.column is None and p.line is not None and p.file:
            if p.file not in texts:
                try:
                    with open(p.file, encoding="utf-8") as fh:
                        texts[p.file] = fh.read()
                except (OSError, UnicodeDecodeError, ValueError):
                    texts[p.file] = None
            text = texts[p.file]
            if text is not None:
                p = replace(p, column=column_of(text, p.line))
        out.append(p)
    return out


class RulesetError(SharelawError, ValueError):
    """A rule file is invalid. Carries a stable code and, where known, file, rule, line and column."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        rule_id: str | None = None,
        column: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.rule_id = rule_id
        super().__init__(self.render())

    def problem(self) -> Problem:
        return Problem(self.code, self.message, file=self.file or "<ruleset>", line=self.line,
                       column=self.column, rule_id=self.rule_id)

    def problems(self) -> list[Problem]:
        """Every error, as ``Problem`` (one for a single error; ``RulesetErrors`` lists all)."""
        return [self.problem()]

    def render(self) -> str:
        return self.problem().render()

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule_id": self.rule_id,
        }


class RulesetErrors(RulesetError):
    """Several rule-file errors found in one load; ``errors`` lists each."""

    def __init__(self, errors: list[RulesetError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.code, first.message, file=first.file, line=first.line, rule_id=first.rule_id)

    def problems(self) -> list[Problem]:
        errors = getattr(self, "errors", None)
        if not errors:
            return super().problems()
        return [p for e in errors for p in e.problems()]

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems())


class EngineError(SharelawError, RuntimeError):
    """An internal fault. Never accompanied by a decision: the engine fails closed."""

    code = "engine_error"
