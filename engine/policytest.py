"""Run policy test files: decide each case with the real decide() and
Memory objects, exactly as `adieu evaluate` does, and compare the decision
with what the case expects (docs/policy-tests.md).

A case's customer is decided among the test file's population (the case's
record added to it, replacing one with the same customer_id), so
percentile() and mean() see that base; without a population the case's
customer is the whole base. Its memory of earlier runs (strikes,
pardons, registry exemptions, an offboarding case) is the case's own."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .coverage import Coverage
from .decide import Context, Decision, decide, figures, make_contexts
from .errors import InputError, Location
from .facts import to_json_value
from .policytest_load import TestCase, TestFile, load_test_file

SUFFIX = ".test.yaml"
# Fields compared as sets (order does not matter); other lists in order.
SET_FIELDS = ("fired", "shielded", "unknown", "missing", "holds", "holds_unknown", "exemptions",
              "new_strikes")
# Expected fields that name rules: a failure in one shows the named rules' figures.
RULE_FIELDS = ("fired", "shielded", "unknown", "new_strikes")


@dataclass
class Mismatch:
    """One expected field that the decision does not have."""

    field: str
    expected: Any
    actual: Any


@dataclass
class CaseResult:
    """A case's decision and how it differs from what was expected."""

    file: str
    name: str
    location: Location
    decision: Decision
    mismatches: list[Mismatch] = field(default_factory=list)
    # Figures of rules a failed expectation names that did not fire (so a
    # case expecting a rule to fire shows why it passed), by rule id.
    named_figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The case's own notes (TestCase.notes: which row a facts_from took).
    case_notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def figures(self) -> dict[str, dict[str, Any]]:
        """Figures of each rule that fired (shielded ones too), then of each
        other rule a failed expectation names, by rule id."""
        fired = {r.rule: r.figures for r in [*self.decision.fired, *self.decision.shielded]}
        return {**fired, **{k: v for k, v in self.named_figures.items() if k not in fired}}

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        return {"file": self.file, "line": self.location.line, "name": self.name,
                "passed": self.passed, "customer_id": d.customer_id, "outcome": d.outcome,
                "failures": [{"field": m.field, "expected": m.expected, "actual": m.actual}
                             for m in self.mismatches],
                "figures": self.figures()}


def actual_value(decision: Decision, name: str) -> Any:
    """The decision's value of an `expect:` field (lists sorted for set fields)."""
    d = decision
    value: Any
    if name in ("fired", "shielded", "unknown"):
        value = [r.rule for r in getattr(d, name)]
    elif name == "holds":  # holds whose condition held (or a rejected case's)
        value = [h["id"] for h in d.holds if "unknown" not in h]
    elif name == "holds_unknown":  # holds that held only because facts were missing
        value = [h["id"] for h in d.holds if "unknown" in h]
    elif name == "exemptions":
        value = [e["id"] for e in d.exemptions]
    else:
        value = getattr(d, name)
    return sorted(set(value)) if name in SET_FIELDS else value


def compare(decision: Decision, expect: dict[str, Any]) -> list[Mismatch]:
    """The expected fields whose value the decision does not have."""
    out = []
    for name, expected in expect.items():
        actual = actual_value(decision, name)
        want = sorted(set(expected)) if name in SET_FIELDS else expected
        if want != actual:
            out.append(Mismatch(name, want, actual))
    return out


def decide_case(test: TestFile, case: TestCase) -> Decision:
    """The decision for a case's customer, among the file's population."""
    return _decide_case(test, case)[0]


def _decide_case(test: TestFile, case: TestCase) -> tuple[Decision, Context]:
    cid = case.record.customer_id
    records = [r for r in test.population if r.facts.get("customer_id") != cid]
    records.append(case.record)
    contexts, population = make_contexts(test.policy, records, case.as_of)
    population.compute_all()
    return decide(test.policy, contexts[-1], case.as_of, case.memory), contexts[-1]


def run_case(test: TestFile, case: TestCase, coverage: Coverage | None = None) -> CaseResult:
    decision, ctx = _decide_case(test, case)
    if coverage is not None:
        coverage.record(decision)
    mismatches = compare(decision, case.expect)
    named = {rule for m in mismatches if m.field in RULE_FIELDS
             for rule in [*_listed(m.expected), *_listed(m.actual)]}
    by_id = {rule.id: rule for rule in test.policy.rules}
    named_figures = {rule: figures(test.policy, by_id[rule], ctx)
                     for rule in sorted(named) if rule in by_id}
    return CaseResult(test.path, case.name, case.location, decision, mismatches,
                      named_figures, list(case.notes))


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def find_test_files(paths: Iterable[str]) -> list[str]:
    """The test files named or found (*.test.yaml under a directory, sorted).
    A path that is not there, or a directory with none, is an InputError."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(_walk(path))
            if not found:
                raise InputError(f"no *{SUFFIX} files under {p}", Location(p))
            out.extend(found)
        elif path.exists():
            out.append(str(path))  # not a regular file: the loader refuses it
        else:
            raise InputError("no such file or directory", Location(p))
    return list(dict.fromkeys(out))


def _walk(top: Path) -> Iterator[str]:
    """*.test.yaml files under top, not looking into hidden directories
    (.git, .venv, .tox), and only regular files (a FIFO or device named
    *.test.yaml is not a test file: reading it could wait forever)."""
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(SUFFIX) and os.path.isfile(path):
                yield path


def default_paths() -> list[str]:
    """`policies/` when the current directory has one, else `.`."""
    return ["policies"] if Path("policies").is_dir() else ["."]


@dataclass
class Untested:
    """A policy found under the searched directories that no test file
    tests: its coverage is 0%. coverage: its items, none covered (None
    when the policy is not valid: `adieu validate` says why)."""

    file: str
    coverage: Coverage | None

    def to_json(self) -> dict[str, Any]:
        if self.coverage is None:
            return {"policy_file": self.file, "policy_name": None, "percent": Decimal(0),
                    "covered": 0, "total": 0, "rules_percent": Decimal(0), "items": [],
                    "tested": False}
        return {**self.coverage.to_json(), "policy_file": self.file, "percent": Decimal(0),
                "rules_percent": Decimal(0), "tested": False}


@dataclass
class Report:
    """Every case result, the coverage of each policy tested, and the
    policies found that no test file tests."""

    results: list[CaseResult] = field(default_factory=list)
    coverage: dict[str, Coverage] = field(default_factory=dict)  # by policy file
    untested: list[Untested] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.passed)

    def find_untested(self, paths: Iterable[str]) -> None:
        """Note every policy under the directories among paths (the way
        filekinds.find_policies tells a policy from other YAML) that no
        test file run tests, so a policy added without tests is 0%, not
        left out of the report."""
        from .errors import AdieuError
        from .filekinds import find_policies
        from .policy import load_policy

        for file in find_policies(paths):
            if str(Path(file).resolve()) in self.coverage:
                continue
            try:
                coverage: Coverage | None = Coverage(load_policy(file))
            except AdieuError:
                coverage = None
            self.untested.append(Untested(file, coverage))


def run_files(files: list[str]) -> Report:
    """Load every file first (all problems at once), then run every case.
    Raises TestFileErrors / PolicyErrors from loading."""
    from .errors import AdieuError
    from .policytest_load import TestFileErrors

    loaded: list[TestFile] = []
    problems: list[InputError] = []
    policy_errors: list[AdieuError] = []
    for f in files:
        try:
            loaded.append(load_test_file(f))
        except TestFileErrors as exc:
            problems.extend(exc.errors)
        except AdieuError as exc:
            policy_errors.append(exc)
    if policy_errors:
        raise policy_errors[0]
    if problems:
        raise TestFileErrors(problems)
    report = Report()
    for test in loaded:
        key = str(Path(test.policy.file).resolve()) if Path(test.policy.file).exists() \
            else test.policy.file
        cov = report.coverage.setdefault(key, Coverage(test.policy))
        for case in test.cases:
            report.results.append(run_case(test, case, cov))
    return report


def failure_lines(result: CaseResult) -> Iterator[str]:
    """A failed case as text: where, expected vs actual per field, figures."""
    yield f"FAIL {result.location.file}:{result.location.line}: {result.name}"
    for m in result.mismatches:
        yield f"  {m.field}: expected {_shown(m.expected)}, got {_shown(m.actual)}"
        if m.field == "holds":
            for h in result.decision.holds:
                if "unknown" in h:
                    yield (f"    ({h['id']} held only because of missing facts: "
                           f"{', '.join(h['unknown'])}; expect it under holds_unknown)")
    figs = result.figures()
    if figs:
        yield "  figures:"
        for rule, values in figs.items():
            text = ", ".join(f"{k}={_shown(v)}" for k, v in values.items())
            yield f"    {rule}: {text}"
    notes = [*result.case_notes, *result.decision.notes]
    if notes:
        yield "  notes:"
        for note in notes:
            yield f"    {note}"


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(to_json_value(value))
