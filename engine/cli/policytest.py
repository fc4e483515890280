"""adieu test: run policy test files, report failures and coverage."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click

from ..coverage import Coverage, shown_percent
from ..decimals import plain_text
from ..policytest import (
    Report,
    Untested,
    default_paths,
    failure_lines,
    find_test_files,
    run_files,
)
from ..safe_text import echo, json_text
from .common import json_option


def _percent(ctx: click.Context | None, param: Any, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value.strip().rstrip("%"))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not 0 <= number <= 100:
        raise click.BadParameter(f"{value!r} is not a percentage from 0 to 100")
    return number


def register(cli: click.Group) -> None:
    @cli.command(name="test")
    @click.argument("paths", nargs=-1, type=click.Path())
    @click.option("--coverage-min", "coverage_min", metavar="PERCENT", callback=_percent,
                  default=None,
                  help="Exit 1 if a policy's coverage (rules, exemptions, holds and "
                       "timing branches together) is below PERCENT; a policy in a searched "
                       "directory that no test file tests is at 0%.")
    @json_option
    def test(paths: tuple[str, ...], coverage_min: Decimal | None, as_json: bool) -> None:
        """Run the policy test files in PATHS and report failures and coverage.

        PATHS are *.test.yaml files or directories searched for them
        (default: ./policies if there is one, else the current directory).
        A policy file in PATHS stands for the test files that name it,
        searched for in its project (the nearest folder holding .git or
        pyproject.toml); a mapping file in PATHS is skipped. A policy found
        in a searched directory, or named, that no test file tests is
        listed at 0% coverage ("no test file tests this policy"), so
        --coverage-min fails for it.
        Each case decides one customer with the file's policy, as
        `adieu evaluate` would, and checks the fields under `expect:`. A
        failure shows the case (file:line), expected against actual, the
        figures of the rules that fired or that a failed expectation names,
        and the decision's notes.
        Coverage lists, per policy, the rules, exemptions, holds and timing
        branches no case exercised, with their policy line
        (docs/policy-tests.md). Exit 0 when every case passes, 1 when one
        fails or coverage is below --coverage-min, 2 when a test file is
        not valid (errors as FILE:LINE:COL) or not there.
        """
        searched = list(paths) or default_paths()
        files, policies = find_test_files(searched)
        report = run_files(files)
        report.find_untested(searched, policies)
        low: list[Coverage | Untested] = [
            c for c in report.coverage.values()
            if coverage_min is not None and c.percent() < coverage_min]
        low += [u for u in report.untested if coverage_min is not None and coverage_min > 0]
        if as_json:
            click.echo(json_text(_as_json(report, coverage_min, low), indent=2))
        else:
            _print(report, files, coverage_min, low)
        if report.failed or low:
            raise SystemExit(1)


def _as_json(report: Report, coverage_min: Decimal | None,
             low: list[Coverage | Untested]) -> dict[str, Any]:
    return {"passed": len(report.results) - report.failed, "failed": report.failed,
            "coverage_min": coverage_min,
            "ok": not report.failed and not low,
            "cases": [r.to_json() for r in report.results],
            "coverage": [{**c.to_json(), "tested": True} for c in report.coverage.values()]
            + [u.to_json() for u in report.untested],
            "not_searched": report.not_followed}


def _print(report: Report, files: list[str], coverage_min: Decimal | None,
           low: list[Coverage | Untested]) -> None:
    for result in report.results:
        if not result.passed:
            for line in failure_lines(result):
                echo(line)
    for cov in report.coverage.values():
        kinds = []
        for kind, label in (("rule", "rules"), ("exemption", "exemptions"),
                            ("hold", "holds"), ("timing", "timing")):
            done, total = cov.counts(kind)
            if total:
                kinds.append(f"{label} {done}/{total}")
        echo(f"coverage of {cov.policy.file}: {plain_text(shown_percent(cov.percent()))}% "
             f"({cov.covered}/{cov.total}: {', '.join(kinds)})")
        for item in cov.missed():
            echo(f"  not covered: {item.kind} {item.name} ({item.file}:{item.line})")
        if cov in low:
            echo(f"  below --coverage-min {plain_text(coverage_min)}%")
    for untested in report.untested:
        why = "no test file tests this policy" if untested.coverage is not None else \
            f"no test file tests this policy, and it is not valid: adieu validate {untested.file}"
        echo(f"coverage of {untested.file}: 0.0% ({why})")
        if untested in low:
            echo(f"  below --coverage-min {plain_text(coverage_min)}%")
    for folder in report.not_followed:
        echo(f"not searched: {folder} (a symlink to a folder outside the project)")
    passed = len(report.results) - report.failed
    echo(f"{len(files)} file(s), {len(report.results)} case(s): {passed} passed, "
         f"{report.failed} failed")
