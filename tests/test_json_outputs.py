"""Every `--json` output against its schema (schemas/*.output.schema.json),
from the real commands over examples/scenario (its first months, run
in-process: the whole run.sh takes a minute), and its names against the
database's column names (docs/database.md)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from referencing import Registry, Resource

from adieu.cli import cli
from adieu.resources import data_root

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "examples" / "scenario"
SCHEMAS = data_root() / "schemas"
REVIEWER = "Mara Lind"


def _schemas() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMAS.glob("*.json"))}


def _registry() -> Registry:
    """Every shipped schema under its $id, so `decision.schema.json#/$defs/...`
    resolves whatever base the $id values use."""
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in _schemas().values())


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = _schemas()[name]
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def adieu(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (args, result.output, result.stderr)
    return result.stdout


class Scenario:
    """The scenario's first seven months in a tmp folder: db (a case
    approved, an exemption, a pardon), pending_db (a copy taken while
    CUST-A's case waited for review), and the stdout of the July run's
    `evaluate --json`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.db = str(folder / "scenario.db")
        self.pending_db = str(folder / "pending.db")
        self.policy = str(SCENARIO / "scenario.yaml")
        self.evaluate_json = ""

    def snapshot(self, day: str) -> str:
        return f"csv:{SCENARIO / 'snapshots' / f'{day}.csv'}"

    def build(self) -> None:
        db = ["--db", self.db]
        adieu("exempt", "CUST-E", "--rules", "cost-exceeds-revenue", "--reason",
              "Reference account", "--approver", "Chief Commercial Officer", "--until",
              "2027-01-01", "--new-customer", *db)
        for month in range(1, 8):
            day = f"2026-{month:02d}-01"
            out = adieu("evaluate", self.policy, "--source", self.snapshot(day), "--as-of", day,
                        *db, *(["--json"] if month == 7 else []))
            if month == 3:
                adieu("strikes", "pardon", "CUST-G", "late-payments", "--by", "Gustav Berg",
                      "--reason", "our invoicing error", *db)
            if month == 5:
                adieu("exempt", "CUST-I", "--all", "--reason", "Strategic reference",
                      "--approver", "CEO", "--until", "2026-08-15", *db)
            if month == 6:
                shutil.copy(self.db, self.pending_db)
                adieu("approve", "CUST-A", "--run", "6", "--by", REVIEWER, "--note",
                      "three strikes", *db)
            if month == 7:
                self.evaluate_json = out


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    built = Scenario(tmp_path_factory.mktemp("json-outputs"))
    built.build()
    return built


def _policy_with_a_lower_limit(folder: Path) -> str:
    text = (SCENARIO / "scenario.yaml").read_text(encoding="utf-8")
    assert "late_payment_limit: 3" in text
    path = folder / "lower.yaml"
    path.write_text(text.replace("late_payment_limit: 3", "late_payment_limit: 2"),
                    encoding="utf-8")
    return str(path)


def _broken_policy(folder: Path) -> str:
    path = folder / "broken.yaml"
    path.write_text("name: broken\nversion: 1\nrules:\n  - id: a\n    when: late >\n",
                    encoding="utf-8")
    return str(path)


# (label, schema, the command's arguments: {db}, {pending_db}, {policy},
# {lower}, {broken}, {july} are filled in; exit code)
COMMANDS = [
    ("evaluate dry run", "evaluate.output.schema.json",
     ["evaluate", "{policy}", "--source", "{august}", "--as-of", "2026-08-01", "--dry-run",
      "--db", "{db}", "--json"], 0),
    ("explain", "explain.output.schema.json", ["explain", "CUST-A", "--db", "{db}", "--json"], 0),
    ("explain exempt", "explain.output.schema.json",
     ["explain", "CUST-I", "--run", "6", "--db", "{db}", "--json"], 0),
    ("facts", "facts.output.schema.json", ["facts", "{july}", "--json"], 0),
    ("history approved", "history.output.schema.json",
     ["history", "CUST-A", "--db", "{db}", "--json"], 0),
    ("history exempt", "history.output.schema.json",
     ["history", "CUST-I", "--db", "{db}", "--json"], 0),
    ("history pardoned", "history.output.schema.json",
     ["history", "CUST-G", "--db", "{db}", "--json"], 0),
    ("pending", "pending.output.schema.json", ["pending", "--db", "{pending_db}", "--json"], 0),
    ("strikes", "strikes.output.schema.json",
     ["strikes", "CUST-I", "--as-of", "2026-07-01", "--db", "{db}", "--json"], 0),
    ("strikes pardoned", "strikes.output.schema.json",
     ["strikes", "CUST-G", "--as-of", "2026-07-01", "--db", "{db}", "--json"], 0),
    ("exemptions", "exemptions.output.schema.json",
     ["exemptions", "--as-of", "2026-07-01", "--db", "{db}", "--json"], 0),
    ("audit export", "audit-export.output.schema.json",
     ["audit", "export", "--db", "{db}", "--json"], 0),
    ("audit verify", "audit-verify.output.schema.json",
     ["audit", "verify", "--db", "{db}", "--json"], 0),
    ("runs", "runs.output.schema.json", ["runs", "--db", "{db}", "--json"], 0),
    ("diff runs", "diff.output.schema.json",
     ["diff", "--run", "1", "--run", "7", "--db", "{db}", "--json"], 0),
    ("diff policies", "diff.output.schema.json",
     ["diff", "{policy}", "{lower}", "--source", "{july}", "--as-of", "2026-07-01",
      "--db", "{db}", "--json"], 0),
    ("segments", "segments.output.schema.json", ["segments", "--db", "{db}", "--json"], 0),
    ("plugins", "plugins.output.schema.json", ["plugins", "--json"], 0),
    ("policies", "policies.output.schema.json", ["policies", "--json"], 0),
    ("validate", "validate.output.schema.json", ["validate", "{policy}", "--json"], 0),
    ("validate findings", "validate.output.schema.json", ["validate", "{broken}", "--json"], 1),
    ("test", "test.output.schema.json",
     ["test", str(ROOT / "policies" / "strict.test.yaml"), "--json"], 0),
    ("replay", "replay.output.schema.json", ["replay", "6", "--db", "{db}", "--json"], 0),
]


def run_command(scenario: Scenario, args: list[str], code: int) -> Any:
    values = {"db": scenario.db, "pending_db": scenario.pending_db, "policy": scenario.policy,
              "july": scenario.snapshot("2026-07-01"),
              "august": scenario.snapshot("2026-08-01"),
              "lower": _policy_with_a_lower_limit(scenario.folder),
              "broken": _broken_policy(scenario.folder)}
    return json.loads(adieu(*(a.format(**values) for a in args), code=code))


@pytest.mark.parametrize("label, schema, args, code", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_output_matches_its_schema(scenario: Scenario, label: str, schema: str,
                                   args: list[str], code: int) -> None:
    data = run_command(scenario, args, code)
    assert data or label == "validate", f"{label}: an empty output proves little"
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in validator(schema).iter_errors(data)]
    assert errors == []


def test_stored_evaluate_matches_its_schema(scenario: Scenario) -> None:
    data = json.loads(scenario.evaluate_json)
    validator("evaluate.output.schema.json").validate(data)
    assert data["run"]["id"] == 7 and data["run"]["policy_name"] == "scenario"


def test_audit_export_json_lines_match_the_schema(scenario: Scenario) -> None:
    lines = adieu("audit", "export", "--db", scenario.db).splitlines()
    entries = [json.loads(line) for line in lines]
    validator("audit-export.output.schema.json").validate(entries)
    assert entries == run_command(scenario, ["audit", "export", "--db", "{db}", "--json"], 0)


def test_every_output_schema_is_checked_and_valid() -> None:
    outputs = {name for name in _schemas() if name.endswith(".output.schema.json")}
    assert outputs == {c[1] for c in COMMANDS}
    for name, schema in _schemas().items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert schema["$id"].endswith(name), name


def test_schemas_are_strict(scenario: Scenario) -> None:
    """A renamed key (the old names among them) fails validation."""
    data = json.loads(scenario.evaluate_json)
    check = validator("evaluate.output.schema.json")
    for where, old, new in ((data["run"], "policy_name", "policy"),
                            (data["run"], "rejected", "rejected_rows"),
                            (data["decisions"][0], "outcome", "result"),
                            (data["decisions"][0]["facts"], "customer_id", None)):
        value = where.pop(old)
        if new is not None:
            where[new] = value
            assert not check.is_valid(data), f"{old} renamed {new} passed"
            del where[new]
        where[old] = value
    assert check.is_valid(data)
    pending = run_command(scenario, ["pending", "--db", "{pending_db}", "--json"], 0)
    pending[0]["case"] = pending[0].pop("case_id")
    assert not validator("pending.output.schema.json").is_valid(pending)


def _columns(db: str, table: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[1] for row in conn.execute(f"pragma table_info({table})")}


def test_names_match_the_database_columns(scenario: Scenario) -> None:
    db = scenario.db
    runs, decisions = _columns(db, "runs"), _columns(db, "decisions")
    evaluate = json.loads(scenario.evaluate_json)
    assert set(evaluate["run"]) - {"already_recorded", "dry_run"} <= runs
    assert set(evaluate["run"]) - {"already_recorded", "dry_run", "id"} == \
        {"policy_name", "policy_version", "policy_sha256", "source", "sources", "plugins",
         "as_of", "counts", "customers", "rejected", "new_strikes", "missing_facts",
         "made_by"}
    for d in evaluate["decisions"]:
        assert set(d) - {"name", "owner", "owner_id"} <= decisions
    for r in evaluate["rejects"]:
        assert set(r) <= _columns(db, "rejects")
    listed = run_command(scenario, ["runs", "--db", "{db}", "--json"], 0)["runs"]
    assert set(listed[0]) <= runs
    strikes = run_command(scenario, ["strikes", "CUST-G", "--as-of", "2026-07-01", "--db",
                                     "{db}", "--json"], 0)
    assert set(strikes[0]) - {"status", "set_aside_by"} <= _columns(db, "strikes")
    exemptions = run_command(scenario, ["exemptions", "--as-of", "2026-07-01", "--db",
                                        "{db}", "--json"], 0)
    assert {e["customer_id"]: e["rules"] for e in exemptions} == \
        {"CUST-E": ["cost-exceeds-revenue"], "CUST-I": None}  # NULL: every rule
    assert set(exemptions[0]) <= _columns(db, "exemptions")
    exported = run_command(scenario, ["audit", "export", "--db", "{db}", "--json"], 0)
    assert set(exported[0]) == _columns(db, "audit")
    history = run_command(scenario, ["history", "CUST-A", "--db", "{db}", "--json"], 0)
    assert set(history["cases"][0]) - {"events"} == _columns(db, "cases")
    assert set(history["strikes"][0]) <= _columns(db, "strikes")
    july = history["runs"][-1]
    assert (july["policy_name"], july["policy_version"], july["strikes"]) == \
        ("scenario", "2026.1", 3)
    explained = run_command(scenario, ["explain", "CUST-A", "--db", "{db}", "--json"], 0)
    assert set(explained["case"]) == _columns(db, "cases")
    assert explained["policy_name"] == "scenario"
    assert set(explained["decision"]) <= decisions
    pending = run_command(scenario, ["pending", "--db", "{pending_db}", "--json"], 0)
    assert [(p["case_id"], p["run_id"], p["customer_id"]) for p in pending] == \
        [(1, 6, "CUST-A")]
    replayed = run_command(scenario, ["replay", "6", "--db", "{db}", "--json"], 0)
    assert replayed["policy_name"] == "scenario"


def _json_in_strings(value: Any, path: str = "$") -> list[str]:
    """Where a string holds a JSON object or array (JSON inside JSON)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _json_in_strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _json_in_strings(v, f"{path}[{i}]")]
    if isinstance(value, str) and value[:1] in "[{":
        try:
            json.loads(value)
        except ValueError:
            return []
        return [path]
    return []


# audit export: a payload copies table rows whose JSON columns are text
# there, and the entry's hash covers that text (tested below).
@pytest.mark.parametrize("label, schema, args, code",
                         [c for c in COMMANDS if c[0] != "audit export"],
                         ids=[c[0] for c in COMMANDS if c[0] != "audit export"])
def test_no_json_text_inside_the_json(scenario: Scenario, label: str, schema: str,
                                      args: list[str], code: int) -> None:
    assert _json_in_strings(run_command(scenario, args, code)) == []


def test_audit_export_payloads_are_objects_that_still_hash(scenario: Scenario) -> None:
    """payload is an object, not JSON text in a string; its canonical JSON
    is the stored text, so every hash can be recomputed from the export."""
    from adieu.audit import entry_hash
    from adieu.audit_export import stored_payload_text

    exported = run_command(scenario, ["audit", "export", "--db", "{db}", "--json"], 0)
    with sqlite3.connect(scenario.db) as conn:
        stored = dict(conn.execute("select seq, payload from audit"))
    kinds = set()
    for entry in exported:
        assert isinstance(entry["payload"], dict)
        kinds.add(entry["kind"])
        text = stored_payload_text(entry["payload"])
        assert text == stored[entry["seq"]]
        assert entry_hash({**entry, "payload": text}) == entry["hash"]
    assert {"run", "decisions", "strike", "case", "pardon", "exemption", "rejects"} <= kinds
    approved = next(e for e in exported if e["kind"] == "case"
                    and e["payload"]["event"] == "approved")
    assert (approved["payload"]["case"]["reviewer"], approved["payload"]["case"]["state"]) \
        == (REVIEWER, "approved")
    pardon = next(e for e in exported if e["kind"] == "pardon")
    assert (pardon["payload"]["by"], pardon["payload"]["rule"]) == \
        ("Gustav Berg", "late-payments")
    lines = adieu("audit", "export", "--db", scenario.db).splitlines()
    assert all(isinstance(json.loads(line)["payload"], dict) for line in lines)


def test_evaluate_json_carries_facts_name_and_owner(scenario: Scenario) -> None:
    decisions = json.loads(scenario.evaluate_json)["decisions"]
    alder = next(d for d in decisions if d["customer_id"] == "CUST-A")
    assert (alder["name"], alder["owner"], alder["owner_id"]) == \
        ("Alder Retail Ltd", "Ana Ruiz", None)
    assert alder["facts"]["revenue_12m"] == 43750 and alder["facts"]["owner"] == "Ana Ruiz"
    with sqlite3.connect(scenario.db) as conn:
        stored = dict(conn.execute("select customer_id, facts from decisions where run_id = 7"))
    assert {d["customer_id"]: d["facts"] for d in decisions} == \
        {k: json.loads(v) for k, v in stored.items()}
    dry = run_command(scenario, COMMANDS[0][2], 0)  # a dry run: decisions from its spool
    assert dry["run"]["id"] is None and dry["run"]["dry_run"] is True
    alder = next(d for d in dry["decisions"] if d["customer_id"] == "CUST-A")
    assert (alder["name"], alder["owner"], alder["facts"]["name"]) == \
        ("Alder Retail Ltd", "Ana Ruiz", "Alder Retail Ltd")


def test_docs_link_every_output_schema() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text[text.index("## JSON output"):]
    for name in _schemas():
        if name.endswith(".output.schema.json") or name == "decision.schema.json":
            assert f"(../schemas/{name})" in section, name
