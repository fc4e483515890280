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


def find_test_files(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """The test files named or found (*.test.yaml under a directory, sorted),
    and the policy files named. A named file that is a policy (what
    filekinds.file_kind and `adieu validate` call a policy: not named
    *.test.yaml nor *.mapping.yaml, no test or mapping schema modeline)
    stands for the test files that name it in
    `policy:`, searched for under its project (policytest_files.project_root:
    the nearest folder holding .git or pyproject.toml, else its folder), so
    `adieu test billing/policy.yaml` (what the pre-commit hook passes for a
    changed policy) runs its tests, or lists it at 0% when none names it. A
    named mapping file (*.mapping.yaml: adieu validate checks it) has no
    tests. A path that is not there, or a directory with no test file, is an
    InputError."""
    from .filekinds import file_kind, is_policy

    out: list[str] = []
    policies: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(_walk(path))
            if not found:
                raise InputError(f"no *{SUFFIX} files under {p}", Location(p))
            out.extend(found)
        elif not path.exists():
            raise InputError("no such file or directory", Location(p))
        elif path.is_file() and file_kind(p) == "policy":
            if not is_policy(p):
                raise InputError("neither a policy test file (*.test.yaml) nor a policy "
                                 "(a policy has name, version and rules, or names the "
                                 "policy schema on its first line)", Location(p))
            policies.append(p)
            out.extend(tests_of(p))
        elif path.is_file() and file_kind(p) == "mapping":
            continue
        else:
            out.append(str(path))  # not a regular file: the loader refuses it
    return list(dict.fromkeys(out)), list(dict.fromkeys(policies))


def tests_of(policy_file: str) -> list[str]:
    """The test files under the policy's project (policytest_files.project_root)
    whose `policy:` names this file (relative to the test file, symlinks
    resolved), sorted. A test file that cannot be read names none."""
    from .policytest_files import project_root

    target = Path(policy_file).resolve()
    root, _words = project_root(policy_file)
    return [os.path.relpath(test) for test in sorted(_walk(root))
            if _policy_named(test) == target]


def _policy_named(test_file: str) -> Path | None:
    """The policy file a test file's `policy:` names (resolved), or None
    (a shipped policy by name, a test file that cannot be read)."""
    from .errors import AdieuError
    from .yamlpos import load_with_positions, read_text

    try:
        doc, _pos = load_with_positions(read_text(test_file, "test file"), test_file)
        name = doc.get("policy") if isinstance(doc, dict) else None
        if not isinstance(name, str) or not name.endswith((".yaml", ".yml")):
            return None
        target = (Path(test_file).parent / name).resolve()
    except (AdieuError, OSError, RuntimeError, ValueError):
        return None
    return target if target.is_file() else None


def _walk(top: Path) -> Iterator[str]:
    """*.test.yaml files under top, not looking into hidden directories
    (.git, .venv, .tox), following symlinked directories inside the
    project as filekinds.walk does, and only regular files (a FIFO or
    device named *.test.yaml is not a test file: reading it could wait
    forever)."""
    from .filekinds import walk

    for path in walk(top):
        if path.endswith(SUFFIX) and os.path.isfile(path):
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
    # Symlinked folders under the searched directories not searched (they
    # lead outside the project).
    not_followed: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.passed)

    def find_untested(self, paths: Iterable[str], named: Iterable[str] = ()) -> None:
        """Note every policy under the directories among paths (the way
        filekinds.find_policies tells a policy from other YAML), and every
        policy file named, that no test file run tests, so a policy added
        without tests is 0%, not left out of the report."""
        from .errors import AdieuError
        from .filekinds import find_policies
        from .policy import load_policy

        for file in dict.fromkeys([*find_policies(paths, self.not_followed), *named]):
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
