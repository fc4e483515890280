"""Read and check a policy test file (*.test.yaml, docs/policy-tests.md).

The file is YAML read by engine/yamlpos under the same rules and limits as
a policy (YAML 1.2 core schema, exact decimals, no anchors), checked
against schemas/policy-test.schema.json, then against its policy: every
rule, hold, exemption and fact it names must exist, every fact value must
have the fact's type, case names are unique. The files it names (`policy:`,
`population:` and `facts_from:` sources) must be inside its project
(policytest_files), and a population source must be read whole: a row the
source rejects is an error, not a smaller base. Every problem is an
InputError at the test file's file:line:col; all of a file's problems are
raised together (TestFileErrors, exit code 2). A policy that is not valid
raises its own PolicyErrors (exit code 1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from . import resources
from .cases import CaseMemory
from .errors import FileErrors, InputError, Location, PolicyError, did_you_mean
from .facts import Coercer, Record, fact_minimums
from .ledger import Memory, PardonedStrike, Strike
from .policy import CASE_HOLD, Exemption, Policy, load_policy
from .policy_schema import unknown_keys
from .policytest_files import facts_from, inside, population_source
from .yamlpos import (
    Positions,
    as_text,
    load_with_positions,
    quoted,
    read_text,
    schema_errors,
    schema_location,
    schema_message,
    shorten,
)


class TestFileErrors(FileErrors):
    """Every problem found in one test file; exit code 2."""

    __test__ = False  # not a pytest test class
    what = "test file"


@dataclass
class TestCase:
    """One case: a customer's facts and memory, an as-of date, what to expect."""

    __test__ = False

    name: str
    location: Location            # the case's `- name:` line in the test file
    as_of: dt.date
    record: Record
    memory: Memory
    expect: dict[str, Any]
    # What a failure shows besides the decision's notes (which row of a
    # facts_from source the case took when the id is on several rows).
    notes: list[str] = field(default_factory=list)


@dataclass
class TestFile:
    """A loaded test file: its policy, population and cases."""

    __test__ = False

    path: str
    policy: Policy
    population: list[Record] = field(default_factory=list)
    cases: list[TestCase] = field(default_factory=list)


class _Reader:
    def __init__(self, path: str, doc: dict[str, Any], pos: Positions):
        self.path, self.doc, self.pos = path, doc, pos
        self.dir = Path(path).parent
        self.errors: list[InputError] = []
        self.sources: dict[tuple[str, dt.date], Any] = {}  # (spec, as_of) -> Intake
        self.coercer: Coercer | None = None  # for the file's policy, made on first use
        self.root: tuple[Path, str] | None = None  # policytest_files.project_root, once

    def error(self, message: str, where: tuple, key: bool = False) -> None:
        self.errors.append(InputError(message, self.pos.at(where, key)))

    def date(self, value: str, where: tuple) -> dt.date | None:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.error(f"{value!r} is not a date (expected YYYY-MM-DD)", where)
            return None


def load_test_file(path: str | Path) -> TestFile:
    """Read, check and resolve one test file. Raises TestFileErrors (exit 2)
    with every problem at its file:line:col, or the policy's PolicyErrors."""
    file = str(path)
    try:
        text = read_text(path, "test file")
        doc, pos = load_with_positions(text, file)
    except PolicyError as exc:  # the YAML reader's errors: here, input errors
        raise TestFileErrors([InputError(exc.message, exc.location)]) from None
    except OSError as exc:
        raise TestFileErrors([InputError(f"cannot read test file: {exc.strerror}",
                                         Location(file))]) from None
    errors = _schema_findings(doc, pos, file)
    if errors:
        raise TestFileErrors(errors)
    reader = _Reader(file, doc, pos)
    policy = _policy(reader)
    population = _population(reader, policy)
    out = TestFile(file, policy, population)
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc["cases"]):
        where = ("cases", i)
        name = raw["name"]
        line = pos.at(where + ("name",)).line or 0
        if name in seen:
            reader.error(f"case name {name!r} is used twice (first on line {seen[name]})",
                         where + ("name",))
        seen.setdefault(name, line)
        if "::" in name:
            reader.error(f"case name {name!r} contains '::', which separates the parts of a "
                         "pytest test id (file.test.yaml::case), so pytest could not select "
                         "the case; write it another way, e.g. ': '", where + ("name",))
        case = _case(reader, policy, raw, where, i)
        if case is not None:
            out.cases.append(case)
    if reader.errors:
        raise TestFileErrors(sorted(reader.errors, key=_position))
    return out


def _position(e: InputError) -> tuple[int, int]:
    loc = e.location
    return (loc.line or 0, loc.column or 0) if loc is not None else (0, 0)


def _schema_findings(doc: Any, pos: Positions, file: str) -> list[InputError]:
    if not isinstance(doc, dict):
        return [InputError("a test file is a mapping with `policy:` and `cases:` "
                           "(docs/policy-tests.md)", Location(file, 1, 1))]
    schema = resources.load_schema("policy-test.schema.json")
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for error in schema_errors(doc, pos, validator):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            out.extend(unknown_keys(error, path, pos, InputError))
            continue
        if error.validator == "required":
            message = error.message.replace("is a required property", "is required")
        elif error.validator == "enum":
            message = schema_message(error).split(" is not one of ")[0] + " is not one of " + \
                ", ".join(repr(v) for v in error.validator_value)
        elif error.validator == "pattern" and isinstance(error.instance, str):
            message = f"{error.instance!r} is not a date (expected YYYY-MM-DD)" \
                if "[0-9]{4}" in error.validator_value else \
                f"{error.instance!r} does not have the expected form"
        else:
            message = schema_message(error)
        where = _describe(doc, path)
        out.append(InputError(shorten(f"{where}: {message}"), schema_location(error, pos)))
    out.sort(key=_position)
    return out


def _describe(doc: dict[str, Any], path: tuple) -> str:
    """cases/3/expect/outcome -> "case 'abuse offboards', expect/outcome"."""
    if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
        cases = doc.get("cases")
        case = cases[path[1]] if isinstance(cases, list) and path[1] < len(cases) else None
        if isinstance(case, dict) and isinstance(case.get("name"), str):
            rest = "/".join(str(p) for p in path[2:])
            return f"case {case['name']!r}" + (f", {rest}" if rest else "")
    return "/".join(str(p) for p in path) or "top level"


def _policy(reader: _Reader) -> Policy:
    name = reader.doc["policy"]
    candidate = reader.dir / name
    bare = "/" not in name and "\\" not in name
    if not name.endswith((".yaml", ".yml")) and not (
            bare and resources.policy_path(name + ".yaml").is_file()):
        # Not any file on the machine (policy: /etc/passwd): a policy file.
        raise TestFileErrors([InputError(
            f"policy {quoted(name)} is not a .yaml or .yml file (nor a shipped policy: "
            "default, strict)", reader.pos.at(("policy",)))])
    if not (bare and not candidate.exists()) and not inside(reader, name, "policy", ("policy",)):
        raise TestFileErrors(reader.errors)  # and a file of the test file's project
    if candidate.exists() and not candidate.is_file():
        raise TestFileErrors([InputError(
            f"policy {candidate} is not a regular file (a directory, FIFO or device)",
            reader.pos.at(("policy",)))])
    if candidate.is_file() and name.endswith((".yaml", ".yml")):
        target: str | Path = candidate
    elif bare and \
            resources.policy_path(name if name.endswith((".yaml", ".yml"))
                                  else name + ".yaml").is_file():
        target = name  # a shipped policy by name (load_policy finds it)
    else:
        raise TestFileErrors([InputError(
            f"policy file not found: {candidate} (relative to the test file; shipped "
            "policies: default, strict)", reader.pos.at(("policy",)))])
    return load_policy(target)


def _coerce(reader: _Reader, policy: Policy, raw: dict[str, Any], where: tuple) -> dict[str, Any]:
    """Typed facts of a fact map (a case's or a population entry); problems
    are errors at the fact's line."""
    known = policy.facts
    for name in raw:
        if name not in known:
            reader.error(f"unknown fact {name!r}{did_you_mean(name, known)} (the policy's facts "
                         "and the canonical facts of schemas/customer.schema.json)",
                         where + (name,), key=True)
    if reader.coercer is None:
        reader.coercer = Coercer(known, fact_minimums(
            resources.load_schema("customer.schema.json")))
    # Text facts as the author wrote them: `customer_id: 007` is "007", not 7.
    given = {k: (as_text(v, reader.pos, where + (k,)) if known[k] == "string" else v)
             for k, v in raw.items() if k in known}
    facts, problems = reader.coercer.coerce(given)
    for p in problems:
        if p.field == "customer_id" and "missing" in p.reason and "customer_id" not in raw:
            continue  # no id given: the caller gives one
        reader.error(f"fact {p.field!r}: {p.reason}",
                     where + (p.field,) if p.field in raw else where)
    return facts


def _population(reader: _Reader, policy: Policy) -> list[Record]:
    spec = reader.doc.get("population")
    if spec is None:
        return []
    as_of = reader.date(reader.doc["as_of"], ("as_of",)) if "as_of" in reader.doc else None
    if isinstance(spec, str):
        return population_source(reader, policy, spec, as_of or dt.date(2000, 1, 1))
    out = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(spec):
        where = ("population", i)
        facts = _coerce(reader, policy, raw, where)
        line = reader.pos.at(where).line or 0
        if "customer_id" not in raw:
            reader.error("population entry has no customer_id", where)
        elif facts.get("customer_id") in seen:
            reader.error(f"customer_id {facts['customer_id']!r} is used twice in the population "
                         f"(first on line {seen[facts['customer_id']]})", where + ("customer_id",))
        elif "customer_id" in facts:
            seen[facts["customer_id"]] = line
        out.append(Record(facts, reader.path, line=reader.pos.at(where).line))
    return out


def _case(reader: _Reader, policy: Policy, raw: dict[str, Any], where: tuple,
          index: int) -> TestCase | None:
    before = len(reader.errors)
    as_of_text = raw.get("as_of", reader.doc.get("as_of"))
    if as_of_text is None:
        reader.error("case has no as_of and the file gives none", where + ("name",))
        return None
    as_of = reader.date(as_of_text, where + ("as_of",) if "as_of" in raw else ("as_of",))
    if as_of is None:
        return None
    facts: dict[str, Any] = {}
    if "base" in raw:
        fixtures = reader.doc.get("fixtures") or {}
        if raw["base"] not in fixtures:
            reader.error(f"no fixture {raw['base']!r}{did_you_mean(raw['base'], fixtures)} "
                         "under `fixtures:`", where + ("base",))
        else:
            facts.update(_coerce(reader, policy, fixtures[raw["base"]],
                                 ("fixtures", raw["base"])))
    notes: list[str] = []
    if "facts_from" in raw:
        facts.update(facts_from(reader, policy, raw["facts_from"], where + ("facts_from",),
                                 as_of, notes))
    own = raw.get("facts") or {}
    facts.update(_coerce(reader, policy, own, where + ("facts",)))
    for name, value in own.items():
        if value is None:  # null: the fact is missing (removes a base's value)
            facts.pop(name, None)
    facts.setdefault("customer_id", f"TEST-{index + 1}")
    memory = _memory(reader, policy, raw, where, as_of, facts["customer_id"])
    expect = raw["expect"]
    _check_expect(reader, policy, expect, where + ("expect",), raw)
    if len(reader.errors) > before:
        return None
    return TestCase(raw["name"], reader.pos.at(where + ("name",)), as_of,
                    Record(facts, reader.path, line=reader.pos.at(where).line), memory, expect,
                    notes)


def _rule_id(reader: _Reader, policy: Policy, rid: str, where: tuple) -> None:
    known = [r.id for r in policy.rules]
    if rid not in known:
        reader.error(f"unknown rule {rid!r}{did_you_mean(rid, known)} (not in policy "
                     f"{policy.name})", where)


def _rule_ids(reader: _Reader, policy: Policy, ids: list[str], where: tuple) -> None:
    for j, rid in enumerate(ids):
        _rule_id(reader, policy, rid, where + (j,))


# The dates of a case's memory that record what happened in earlier runs:
# none of them can be after the as-of date of the run that remembers them.
PAST_CASE_DATES = {"opened_as_of": "case opened as of", "reviewed_on": "case reviewed on",
                   "review_as_of": "case reviewed in the run as of"}


def _past(reader: _Reader, text: str, what: str, as_of: dt.date, where: tuple) \
        -> dt.date | None:
    """A memory date (a strike recorded, a case opened or reviewed): an
    error at its line when it is after the case's as-of date, as evaluate's
    memory never holds one (the run that recorded it was as of that day)."""
    day = reader.date(text, where)
    if day is not None and day > as_of:
        reader.error(f"{what} {day.isoformat()}, after the case's as-of date "
                     f"{as_of.isoformat()}", where)
        return None
    return day


def _memory(reader: _Reader, policy: Policy, raw: dict[str, Any], where: tuple,
            as_of: dt.date, cid: str) -> Memory:
    memory = Memory()
    for j, s in enumerate(raw.get("strikes") or []):
        at = where + ("strikes", j)
        _rule_id(reader, policy, s["rule"], at + ("rule",))
        day = _past(reader, s["recorded_on"], "strike recorded on", as_of, at + ("recorded_on",))
        if day is not None:
            memory.strikes.append(Strike(s["rule"], day))
    for j, p in enumerate(raw.get("pardoned") or []):
        _rule_id(reader, policy, p["rule"], where + ("pardoned", j, "rule"))
        memory.pardoned.append(PardonedStrike(p["rule"], as_of, p.get("pardoned_by", "test")))
    policy_exemptions = {e.id for e in policy.exemptions}
    for j, e in enumerate(raw.get("exemptions") or []):
        at = where + ("exemptions", j)
        if e["id"] in policy_exemptions:  # the decision could not tell the two apart
            reader.error(f"registry exemption id {e['id']!r} is the id of an exemption of "
                         f"policy {policy.name} (a registry id is registry-N, as `adieu "
                         "exempt` gives it)", at + ("id",))
        if e.get("rules") is not None:
            _rule_ids(reader, policy, e["rules"], at + ("rules",))
        expires = reader.date(e["expires"], at + ("expires",))
        if expires is not None:
            memory.exemptions.append(Exemption(
                e["id"], None, frozenset([cid]),
                None if e.get("rules") is None else frozenset(e["rules"]),
                e["reason"], e["approver"], expires, "registry"))
    if "case" in raw:
        c = raw["case"]
        at = where + ("case",)
        for key in ("effective_date", "phase_out_start"):  # dates to come: any day
            if key in c:
                reader.date(c[key], at + (key,))
        for key, what in PAST_CASE_DATES.items():  # memory: on or before the as-of date
            if key in c:
                _past(reader, c[key], what, as_of, at + (key,))
        _rule_ids(reader, policy, c.get("fired") or [], at + ("fired",))
        if c["state"] in ("approved", "rejected") and "reviewer" not in c:
            reader.error(f"a {c['state']} case needs `reviewer:`", at + ("state",))
        if c["state"] in ("proposed", "approved") and "effective_date" not in c:
            reader.error(f"a {c['state']} case needs `effective_date:`", at + ("state",))
        reviewed = c.get("reviewed_on", as_of.isoformat() if c["state"] != "proposed" else None)
        memory.case = CaseMemory(
            c.get("id", 1), c["state"], c.get("opened_as_of", as_of.isoformat()),
            c.get("effective_date"), c.get("phase_out_start", c.get("effective_date")),
            c.get("timing_basis", "set by the test case"), tuple(c.get("fired") or ()),
            c.get("reviewer"), reviewed, c.get("review_as_of", c.get("opened_as_of")))
    return memory


def _check_expect(reader: _Reader, policy: Policy, expect: dict[str, Any], where: tuple,
                  raw: dict[str, Any]) -> None:
    for key in ("fired", "shielded", "unknown", "new_strikes"):
        if key in expect:
            _rule_ids(reader, policy, expect[key], where + (key,))
    for key in ("holds", "holds_unknown"):  # a case's hold is never unknown
        known = [h.id for h in policy.holds] + ([CASE_HOLD] if key == "holds" else [])
        for j, hid in enumerate(expect.get(key) or []):
            if hid not in known:
                reader.error(f"unknown hold {hid!r}{did_you_mean(hid, known)} (holds of policy "
                             f"{policy.name}: {', '.join(known) or 'none'})", where + (key, j))
    if "exemptions" in expect:
        known = [e.id for e in policy.exemptions] + [e["id"] for e in raw.get("exemptions") or []]
        for j, eid in enumerate(expect["exemptions"]):
            if eid not in known:
                reader.error(f"unknown exemption {eid!r}{did_you_mean(eid, known)}",
                             where + ("exemptions", j))
    if "missing" in expect:
        for j, name in enumerate(expect["missing"]):
            if name not in policy.facts:
                reader.error(f"unknown fact {name!r}{did_you_mean(name, policy.facts)}",
                             where + ("missing", j))
    for key in ("effective_date", "phase_out_start"):
        if isinstance(expect.get(key), str):
            reader.date(expect[key], where + (key,))


