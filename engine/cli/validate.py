"""adieu validate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import PolicyError, PolicyErrors
from ..plugins import registry
from ..policy import load_policy
from ..safe_text import echo
from .common import json_option


def source_excerpt(error: PolicyError) -> list[str]:
    """The offending line of the file with a caret under the column."""
    loc = error.location
    if loc is None or loc.file is None or loc.line is None:
        return []
    try:
        lines = Path(loc.file).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    if not 0 < loc.line <= len(lines):
        return []
    text = lines[loc.line - 1]
    out = [f"    {text}"]
    if loc.column:
        out.append("    " + " " * (loc.column - 1) + "^")
    return out


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("policies", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @json_option
    def validate(policies: tuple[str, ...], as_json: bool) -> None:
        """Check policy files: schema, expressions, names, ids and cycles.

        Every error is reported as FILE:LINE:COL: message, with the offending
        line, all errors in one pass. Exit 1 if any file has an error.
        """
        functions = registry().functions
        findings, summaries = [], []
        for path in policies:
            try:
                policy = load_policy(path, functions)
            except PolicyErrors as exc:
                findings.extend(exc.errors)
                continue
            summaries.append(
                f"{path}: ok ({len(policy.rules)} rules, {len(policy.derive)} derived facts, "
                f"{len(policy.exemptions)} exemptions, {len(policy.holds)} holds)")
        if as_json:
            click.echo(json.dumps([{
                "file": e.location.file if e.location else None,
                "line": e.location.line if e.location else None,
                "column": e.location.column if e.location else None,
                "message": e.message} for e in findings], indent=2))
        else:
            for e in findings:
                echo(str(e))
                for line in source_excerpt(e):
                    echo(line)
            for s in summaries:
                echo(s)
            if findings:
                sys.stdout.flush()  # the count comes after the findings, also in a shared pipe
                echo(f"{len(findings)} error(s)", err=True)
        if findings:
            raise SystemExit(1)
