"""adieu validate."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
from pathlib import Path

import click

from ..errors import (
    InputError,
    Location,
    PolicyError,
    PolicyErrors,
    PolicyFileError,
    PolicyWarning,
)
from ..filekinds import file_kind
from ..lint import lint, lint_document
from ..mapping import MappingErrors, check_mapping_file
from ..plugins import registry
from ..policy import load_policy
from ..policytest_load import TestFileErrors, load_test_file
from ..safe_text import echo
from ..store import run_with_same_version
from .common import json_option, parse_date

EXCERPT_WIDTH = 100  # characters of the offending line shown around the column


@functools.lru_cache(maxsize=8)
def _lines(file: str, mtime_ns: int) -> list[str]:
    return Path(file).read_text(encoding="utf-8-sig").splitlines()


def source_excerpt(error: PolicyError) -> list[str]:
    """The offending line of the file with a caret under the column; a line
    longer than EXCERPT_WIDTH is cut around the column, marked with '...'.
    The file is read once for all its findings."""
    loc = error.location
    if loc is None or loc.file is None or loc.line is None:
        return []
    try:
        lines = _lines(loc.file, Path(loc.file).stat().st_mtime_ns)
    except (OSError, UnicodeDecodeError):
        return []
    if not 0 < loc.line <= len(lines):
        return []
    text, column = lines[loc.line - 1], loc.column
    if len(text) > EXCERPT_WIDTH:
        start = max(0, min((column or 1) - 1 - EXCERPT_WIDTH // 2, len(text) - EXCERPT_WIDTH))
        cut = text[start:start + EXCERPT_WIDTH]
        head, tail = ("..." if start else ""), ("..." if start + EXCERPT_WIDTH < len(text) else "")
        text = head + cut + tail
        column = column - start + len(head) if column else None
    out = [f"    {text}"]
    if column:
        out.append("    " + " " * (column - 1) + "^")
    return out


def history_db(option: str | None) -> str | None:
    """The database whose runs the policy version is checked against:
    --db (which must exist), else $ADIEU_DB if that file exists, else none."""
    if option is not None:
        if not Path(option).is_file():
            raise InputError(f"no database at {option}", Location(option))
        return option
    env = os.environ.get("ADIEU_DB")
    return env if env and Path(env).is_file() else None


def _check_other(path: str, kind: str) -> tuple[list[PolicyError], str | None]:
    """A policy test file (loaded as `adieu test` loads it, with its policy)
    or a mapping (against its schema): (findings, summary line if ok)."""
    try:
        if kind == "test":
            test_file = load_test_file(path)
            return [], (f"{path}: ok (policy test file: {len(test_file.cases)} cases; "
                        "`adieu test` runs them)")
        fields = check_mapping_file(path)
        return [], f"{path}: ok (mapping: {fields} fields)"
    except (TestFileErrors, MappingErrors) as exc:
        return [_finding(e, path) for e in exc.errors], None
    except PolicyErrors as exc:  # the test file's policy
        return list(exc.errors), None
    except InputError as exc:
        return [_finding(exc, path)], None


def _finding(e: InputError, path: str) -> PolicyError:
    """An error in a test or mapping file, as validate reports a policy's."""
    return PolicyError(e.message, e.location or Location(path))


def _position(e: PolicyError) -> tuple[int, int]:
    return (e.location.line or 0, e.location.column or 0) if e.location else (0, 0)


def _count(errors: int, warnings: int) -> str:
    parts = [f"{errors} error(s)"] if errors or not warnings else []
    return ", ".join(parts + ([f"{warnings} warning(s)"] if warnings else []))


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("policies", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.option("--strict", is_flag=True,
                  help="Treat warnings as errors: exit 1 if there is any.")
    @click.option("--as-of", "as_of", metavar="YYYY-MM-DD", callback=parse_date, default=None,
                  help="Check exemption expiry as of this date (default: today).")
    @click.option("--db", "db", metavar="PATH", default=None,
                  help="Warn if a run in this database stored the same policy name and "
                       "version with a different text (default: $ADIEU_DB if that file "
                       "exists; else no such check).")
    @json_option
    def validate(policies: tuple[str, ...], strict: bool, as_of: dt.date | None,
                 db: str | None, as_json: bool) -> None:
        """Check policy files for errors and lint them.

        Errors: schema, expressions, names, ids and cycles. Every error is
        reported as FILE:LINE:COL: message, with the offending line, all
        errors in one pass. Warnings (FILE:LINE:COL: warning: ...
        [code]) point at what is valid but probably not meant: an unused
        param, percentile(x, 0.9), a param "15%", an expired exemption, a
        condition that names no fact, a changed policy under an unchanged
        version. `# adieu ignore:CODE` on the line (or the line above)
        silences one. Exit 1 if any file has an error, or a warning with
        --strict; exit 2 if a file cannot be read (missing, no permission).
        """
        functions = registry().functions
        database = history_db(db)
        findings: list[PolicyError] = []
        summaries = []
        for path in policies:
            kind = file_kind(path)
            if kind != "policy" and os.path.isfile(path) and os.access(path, os.R_OK):
                found, summary = _check_other(path, kind)
                findings.extend(sorted(found, key=_position))
                summaries += [summary] if summary else []
                continue
            try:
                policy = load_policy(path, functions)
            except PolicyErrors as exc:
                found = list(exc.errors)
                if exc.document is not None:
                    found += lint_document(*exc.document)
                findings.extend(sorted(found, key=_position))
                continue
            earlier = None
            if database is not None:
                earlier = run_with_same_version(database, policy.name, policy.version,
                                                policy.sha256)
            warnings = lint(policy, as_of, earlier)
            findings.extend(warnings)
            if warnings and strict:
                continue
            note = f", {len(warnings)} warning(s)" if warnings else ""
            summaries.append(
                f"{path}: ok ({len(policy.rules)} rules, {len(policy.derive)} derived facts, "
                f"{len(policy.exemptions)} exemptions, {len(policy.holds)} holds){note}")
        n_warnings = sum(isinstance(e, PolicyWarning) for e in findings)
        n_errors = len(findings) - n_warnings
        if as_json:
            click.echo(json.dumps([{
                "file": e.location.file if e.location else None,
                "line": e.location.line if e.location else None,
                "column": e.location.column if e.location else None,
                "severity": "warning" if isinstance(e, PolicyWarning) else "error",
                "code": getattr(e, "code", None),
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
                echo(_count(n_errors, n_warnings), err=True)
        if any(isinstance(e, PolicyFileError) for e in findings):
            raise SystemExit(2)  # a file that cannot be read is an input error
        if n_errors or (strict and n_warnings):
            raise SystemExit(1)
