"""A pytest plugin that runs policy test files (docs/policy-tests.md).

Installed with adieu through the `pytest11` entry point, so `pytest`
collects every file named *.test.yaml under the paths it searches (its
`testpaths` or the command line): one test item per case, named by the
case, failing with the same text as `adieu test` (expected against actual,
the figures, the notes). Nothing else is collected: a project without
*.test.yaml files sees no change. A test file that is not valid is a
collection error with its FILE:LINE:COL messages. Coverage is `adieu
test`'s job; the plugin runs cases only. `-p no:adieu` turns it off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUFFIX = ".test.yaml"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect *.test.yaml files (pytest >= 7 hook signature)."""
    if file_path.name.endswith(SUFFIX):
        return PolicyTestFile.from_parent(parent, path=file_path)
    return None


class PolicyTestError(Exception):
    """A policy test case failed; the message is `adieu test`'s text for it."""


class PolicyTestFile(pytest.File):
    """One *.test.yaml file: a test item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        from .errors import AdieuError
        from .policytest_load import load_test_file

        try:
            test = load_test_file(self.path)
        except AdieuError as exc:
            raise self.CollectError(str(exc)) from None
        for case in test.cases:
            yield PolicyTestItem.from_parent(self, name=case.name, test=test, case=case)


class PolicyTestItem(pytest.Item):
    """One case of a policy test file."""

    def __init__(self, *, test: Any, case: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.test, self.case = test, case

    def runtest(self) -> None:
        from .policytest import failure_lines, run_case

        result = run_case(self.test, self.case)
        if not result.passed:
            raise PolicyTestError("\n".join(failure_lines(result)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, PolicyTestError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, (self.case.location.line or 1) - 1, f"policy test: {self.name}"
