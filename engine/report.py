"""Rendering diagnostics: compiler-style text, a versioned JSON object, GitHub annotations.

Rendering is separate from finding: the CLI, CI and the server pick a view of the same
``Diagnostic`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
import orjson

from schedsync.engine.diagnostics import Diagnostic

JSON_VERSION = 1
FORMATS = ("text", "json", "github")


@dataclass(frozen=True)
class Summary:
    files: int
    schedules: int

    def line(self, diagnostics: Sequence[Diagnostic]) -> str:
        errors = sum(1 for d in diagnostics if d.is_error)
        warnings = len(diagnostics) - errors
        verdict = "invalid" if errors else "valid"
        return (
            f"{verdict}: {_count(errors, 'error')}, {_count(warnings, 'warning')} "
            f"in {_count(self.files, 'file')} ({_count(self.schedules, 'valid schedule')})"
        )


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render(
    diagnostics: Sequence[Diagnostic], fmt: str, summary: Summary, *, file_prefix: str = ""
) -> str:
    if fmt == "json":
        return render_json(diagnostics, summary)
    if fmt == "github":
        return render_github(diagnostics, summary, file_prefix=file_prefix)
    return render_text(diagnostics, summary)


def render_text(diagnostics: Sequence[Diagnostic], summary: Summary) -> str:
    """``file:line:col: error[code]: message`` plus indented details; styled for click."""
    blocks = [_text_block(d) for d in diagnostics]
    blocks.append(click.style(summary.line(diagnostics), bold=True))
    return "\n\n".join(blocks)


def _text_block(d: Diagnostic) -> str:
    colour = "red" if d.is_error else "yellow"
    where = f"{d.file}:{d.line}:{d.column}" if d.line else d.file
    head = (
        click.style(f"{where}:", bold=True)
        + " "
        + click.style(f"{d.severity.value}[{d.code}]:", fg=colour, bold=True)
        + " "
        + d.message
    )
    lines = [head]
    for label, value in (
        ("at", d.path),
        ("expected", d.expected),
        ("found", d.found),
        ("fix", d.fix),
    ):
        if value:
            styled = click.style(value, fg="green") if label == "fix" else value
            lines.append(f"  {label + ':':<10}{styled}")
    return "\n".join(lines)


def as_dict(d: Diagnostic) -> dict[str, Any]:
    return {
        "severity": d.severity.value,
        "code": d.code,
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "path": d.path,
        "message": d.message,
        "expected": d.expected,
        "found": d.found,
        "fix": d.fix,
    }


def render_json(diagnostics: Sequence[Diagnostic], summary: Summary) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    payload = {
        "version": JSON_VERSION,
        "valid": errors == 0,
        "summary": {
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "files": summary.files,
            "schedules": summary.schedules,
        },
        "diagnostics": [as_dict(d) for d in diagnostics],
    }
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()


def _escape_data(text: str) -> str:
    # GitHub's workflow-command rules (toolkit/packages/core/src/command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(
    diagnostics: Sequence[Diagnostic], summary: Summary, *, file_prefix: str = ""
) -> str:
    """``::error file=…,line=…,col=…,title=…::message`` lines for GitHub Actions.

    ``file_prefix`` is the repository folder relative to the workspace, because GitHub
    resolves annotation paths from the checkout's root.
    """
    lines = []
    for d in diagnostics:
        path = f"{file_prefix.rstrip('/')}/{d.file}" if file_prefix else d.file
        props = [f"file={_escape_property(path)}"]
        if d.line:
            props += [f"line={d.line}", f"col={d.column}"]
        props.append(f"title={_escape_property(f'{d.code}: {d.path}' if d.path else d.code)}")
        details = [d.message]
        details += [
            f"{label}: {value}"
            for label, value in (("expected", d.expected), ("found", d.found), ("fix", d.fix))
            if value
        ]
        command = "error" if d.is_error else "warning"
        lines.append(f"::{command} {','.join(props)}::{_escape_data(chr(10).join(details))}")
    lines.append(summary.line(diagnostics))
    return "\n".join(lines)
