"""The command line through click's CliRunner: evaluate and explain, their
outputs, and their errors (one line, the right exit code, nothing written)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import AS_OF, CSV_HEADER, CSV_ROWS, before_final_line

from adieu.cli import cli
from adieu.plugins import registry

COUNTS = {"keep": 1, "watch": 2, "warn": 1, "final_notice": 1, "offboard": 2, "exempt": 1,
          "held": 1}


def evaluate(runner: CliRunner, policy: Path, csv_path: Path, db: Path | None, *extra: str) \
        -> Result:
    args = ["evaluate", str(policy), "--source", f"csv:{csv_path}", "--as-of", AS_OF]
    if db is not None:
        args += ["--db", str(db)]
    return runner.invoke(cli, [*args, *extra])


def runs(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("select * from runs order by id")]
    finally:
        conn.close()


# -- evaluate -------------------------------------------------------------------

def test_evaluate_writes_a_run(runner: CliRunner, policy_file: Path, customers_csv: Path,
                               db_path: Path) -> None:
    result = evaluate(runner, policy_file, customers_csv, db_path)
    assert result.exit_code == 0, result.output
    (run,) = runs(db_path)
    assert json.loads(run["counts"]) == COUNTS
    assert (run["customers"], run["rejected"]) == (9, 1)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Run 1: policy 'tiny' v3 (sha256 {run['policy_sha256'][:12]}) "
                               f"over csv:{customers_csv} as of {AS_OF}")
    assert lines[1] == (f"9 customers decided, 1 rows rejected, 7 new strikes; "
                        f"stored in {db_path}")
    for outcome, n in COUNTS.items():
        assert f"  {outcome:<12}  {n:>6}" in lines
    assert "  C-OFF  [high] effective 2026-12-15 (contract end)" in lines


def test_rejected_rows_on_stderr_and_in_the_table(runner: CliRunner, policy_file: Path,
                                                  customers_csv: Path, db_path: Path) -> None:
    result = evaluate(runner, policy_file, customers_csv, db_path)
    assert result.exit_code == 0
    assert before_final_line(result.stderr) == (
        f"rejected: {customers_csv}:11: row 10, field 'revenue_12m': "
        "expected a number like 1234.5, got '12k'\n")
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("select file, row, line, customer_id, field, value from rejects"
                            ).fetchall()
    finally:
        conn.close()
    assert rows == [(str(customers_csv), 10, 11, "C-BAD", "revenue_12m", "12k")]


def test_strict_with_a_bad_row_writes_nothing(runner: CliRunner, policy_file: Path,
                                              customers_csv: Path, db_path: Path) -> None:
    result = evaluate(runner, policy_file, customers_csv, db_path, "--strict")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == \
        "Error: 1 rejected row(s) with --strict; nothing written"
    assert result.stdout == ""
    assert not db_path.exists()


def test_strict_with_an_existing_database_adds_no_run(runner: CliRunner, evaluated: Path,
                                                      policy_file: Path,
                                                      customers_csv: Path) -> None:
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source",
                                 f"csv:{customers_csv}", "--as-of", "2026-11-09", "--db",
                                 str(evaluated), "--strict"])
    assert result.exit_code == 2
    assert len(runs(evaluated)) == 1


def test_strict_with_clean_rows(runner: CliRunner, policy_file: Path, good_csv: Path,
                                db_path: Path) -> None:
    result = evaluate(runner, policy_file, good_csv, db_path, "--strict")
    assert result.exit_code == 0, result.output
    assert before_final_line(result.stderr) == ""
    assert len(runs(db_path)) == 1


def test_json_output(runner: CliRunner, policy_file: Path, customers_csv: Path,
                     db_path: Path) -> None:
    result = evaluate(runner, policy_file, customers_csv, db_path, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["run"]["id"] == 1
    assert data["run"]["counts"] == COUNTS
    assert data["run"]["as_of"] == AS_OF
    assert data["run"]["customers"] == 9
    outcomes = {d["customer_id"]: d["outcome"] for d in data["decisions"]}
    assert outcomes["C-FINAL"] == "final_notice"
    assert outcomes["C-EXEMPT"] == "exempt"
    off = next(d for d in data["decisions"] if d["customer_id"] == "C-OFF")
    assert off["effective_date"] == "2026-12-15"
    assert [r["rule"] for r in off["fired"]] == ["cost-high", "late", "escalations"]
    assert [(r["row"], r["field"]) for r in data["rejects"]] == [(10, "revenue_12m")]


def test_csv_output(runner: CliRunner, policy_file: Path, customers_csv: Path,
                    db_path: Path) -> None:
    result = evaluate(runner, policy_file, customers_csv, db_path, "--csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 9
    assert list(rows[0]) == ["run_id", "customer_id", "outcome", "base_outcome", "severity",
                             "strikes", "fired", "reasons", "shielded", "shielded_by",
                             "missing", "effective_date", "timing_basis", "referrals"]
    by_id = {r["customer_id"]: r for r in rows}
    assert (by_id["C-EXEMPT"]["shielded"], by_id["C-EXEMPT"]["shielded_by"]) == \
        ('["cost-high"]', '["strategic"]')
    assert by_id["C-MISS"]["missing"] == '["revenue_12m"]'
    assert by_id["C-OFF"]["effective_date"] == "2026-12-15"
    assert by_id["C-FINAL"]["fired"] == '["cost-high","late"]'
    assert json.loads(by_id["C-FINAL"]["reasons"]) == \
        ["Cost 5,000 is 500% of revenue 1,000.", "5 late payments (limit 3)."]
    assert {r["run_id"] for r in rows} == {"1"}


def test_json_and_csv_together(runner: CliRunner, policy_file: Path, customers_csv: Path,
                               db_path: Path) -> None:
    result = evaluate(runner, policy_file, customers_csv, db_path, "--json", "--csv")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: choose one of --json and --csv\n")
    assert not db_path.exists()


# -- evaluate errors ------------------------------------------------------------

def test_unknown_source_kind(runner: CliRunner, policy_file: Path, db_path: Path) -> None:
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source", "xls:book.xls",
                                 "--db", str(db_path)])
    assert result.exit_code == 2
    known = ", ".join(sorted(registry().sources))
    assert "csv" in registry().sources
    assert result.output == (f"Error: unknown source kind 'xls' in 'xls:book.xls' "
                             f"(known kinds: {known})\n")
    assert not db_path.exists()


def test_source_without_a_kind(runner: CliRunner, policy_file: Path, db_path: Path) -> None:
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source", "customers.csv",
                                 "--db", str(db_path)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: source 'customers.csv' must be KIND:LOCATION")
    assert result.output.count("\n") == 1


def test_missing_csv_file(runner: CliRunner, policy_file: Path, tmp_path: Path,
                          db_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = evaluate(runner, policy_file, missing, db_path)
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {missing}: cannot open")
    assert result.output.endswith(": No such file or directory\n")
    assert result.output.count("\n") == 1
    assert not db_path.exists()


def test_csv_without_customer_id(runner: CliRunner, policy_file: Path, tmp_path: Path,
                                 db_path: Path) -> None:
    path = tmp_path / "noid.csv"
    path.write_text("id,revenue_12m\n1,2\n", encoding="utf-8")
    result = evaluate(runner, policy_file, path, db_path)
    assert result.exit_code == 2
    assert result.output == (f"Error: {path}:1: no customer_id column in the header; "
                             "found: id, revenue_12m\n")
    assert not db_path.exists()


def test_invalid_policy_writes_nothing(runner: CliRunner, tmp_path: Path,
                                       customers_csv: Path, db_path: Path) -> None:
    from conftest import POLICY

    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace("when: late_payments_12m >= late_limit",
                                  "when: late_paymnts_12m >= late_limit"), encoding="utf-8")
    result = evaluate(runner, bad, customers_csv, db_path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}:20:11: unknown name 'late_paymnts_12m' (not a fact, param or derived fact) "
        "(did you mean 'late_payments_12m'?)",
        "        when: late_paymnts_12m >= late_limit",
        "              ^",
    ]
    assert not db_path.exists()


@pytest.mark.parametrize("value", ["2026-02-30", "yesterday", "02/11/2026"])
def test_bad_as_of(runner: CliRunner, policy_file: Path, customers_csv: Path, db_path: Path,
                   value: str) -> None:
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source",
                                 f"csv:{customers_csv}", "--as-of", value, "--db", str(db_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == \
        f"Error: Invalid value for '--as-of': '{value}' is not a date YYYY-MM-DD"
    assert not db_path.exists()


def test_adieu_db_environment_variable(runner: CliRunner, policy_file: Path,
                                       customers_csv: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env_db = tmp_path / "from-env.db"
    monkeypatch.setenv("ADIEU_DB", str(env_db))
    monkeypatch.chdir(tmp_path)
    result = evaluate(runner, policy_file, customers_csv, None)
    assert result.exit_code == 0, result.output
    assert len(runs(env_db)) == 1
    assert not (tmp_path / "adieu.db").exists()
    shown = runner.invoke(cli, ["explain", "C-OFF"])
    assert shown.exit_code == 0
    assert shown.stdout.startswith("C-OFF: OFFBOARD  (run 1, ")


def test_default_database_in_the_current_directory(runner: CliRunner, policy_file: Path,
                                                   customers_csv: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = evaluate(runner, policy_file, customers_csv, None)
    assert result.exit_code == 0
    assert len(runs(tmp_path / "adieu.db")) == 1


# -- explain --------------------------------------------------------------------

def test_explain_shows_the_figures(runner: CliRunner, evaluated: Path) -> None:
    result = runner.invoke(cli, ["explain", "C-FINAL", "--db", str(evaluated)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"C-FINAL: FINAL_NOTICE  (run 1, policy 'tiny' v3, as of {AS_OF})"
    assert "  active strikes: 2 (new this run: cost-high, late)" in lines
    assert "  cost_ratio = 5" in lines
    assert "  cost-high [strike, high]: FIRED" in lines
    assert '    "Cost 5,000 is 500% of revenue 1,000."' in lines
    assert "    cost_ratio 5 > max_cost_ratio 1: true, exceeds by 4" in lines
    assert "    late_payments_12m 5 >= late_limit 3: true, exceeds by 2" in lines
    assert "    escalations_12m 0 >= 4: false, 4 short of the threshold" in lines


def test_explain_margins(runner: CliRunner, evaluated: Path) -> None:
    lines = runner.invoke(cli, ["explain", "C-KEEP", "--db", str(evaluated)]).stdout
    lines = lines.splitlines()
    assert "    cost_ratio 0.05 > max_cost_ratio 1: false, 0.95 short of the threshold" in lines
    assert "    abuse_incidents_12m 0 > 0: false, at the threshold" in lines
    lines = runner.invoke(cli, ["explain", "C-WARN", "--db", str(evaluated)]).stdout
    assert "    late_payments_12m 5 >= late_limit 3: true, exceeds by 2" in lines.splitlines()


def test_explain_missing_and_shielded(runner: CliRunner, evaluated: Path) -> None:
    missing = runner.invoke(cli, ["explain", "C-MISS", "--db", str(evaluated)]).stdout
    assert "  missing facts: revenue_12m" in missing.splitlines()
    assert "    cost_ratio unknown > max_cost_ratio 1: unknown (missing: revenue_12m)" in \
        missing.splitlines()
    exempt = runner.invoke(cli, ["explain", "C-EXEMPT", "--db", str(evaluated)]).stdout
    assert exempt.startswith("C-EXEMPT: EXEMPT  (run 1, ")
    assert "  rules alone say: warn" in exempt.splitlines()
    assert ("  cost-high [strike, high]: FIRED (would have fired; shielded by exemption "
            "strategic)") in exempt.splitlines()


def test_explain_offboard_timing(runner: CliRunner, evaluated: Path) -> None:
    lines = runner.invoke(cli, ["explain", "C-OFF", "--db", str(evaluated)]).stdout.splitlines()
    assert "  effective 2026-12-15 (contract end), phase-out from 2026-12-01" in lines
    assert "  referrals: Other Ltd" in lines


def test_explain_json(runner: CliRunner, evaluated: Path) -> None:
    result = runner.invoke(cli, ["explain", "C-FINAL", "--db", str(evaluated), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["run_id"], data["as_of"], data["policy_name"], data["stored_outcome"]) == \
        (1, AS_OF, "tiny", "final_notice")
    assert data["decision"]["outcome"] == "final_notice"
    assert data["derived"] == {"cost": 5000, "cost_ratio": 5.0}
    rules = {r["rule"]: r for r in data["rules"]}
    assert list(rules) == ["cost-high", "late", "escalations", "abuse", "outgrown"]
    assert rules["cost-high"]["status"] == "fired"
    assert rules["cost-high"]["when"] == "cost_ratio > max_cost_ratio"
    condition = rules["cost-high"]["condition"]
    assert {k: condition[k] for k in ("left", "left_value", "op", "right", "right_value",
                                      "result", "margin")} == {
        "left": "cost_ratio", "left_value": 5.0, "op": ">", "right": "max_cost_ratio",
        "right_value": 1.0, "result": "true", "margin": "exceeds by 4"}
    assert rules["escalations"]["status"] == "passed"
    assert rules["escalations"]["condition"]["margin"] == "4 short of the threshold"


def test_explain_json_breaks_down_and_or(runner: CliRunner, tmp_path: Path,
                                         customers_csv: Path, db_path: Path) -> None:
    from conftest import POLICY

    policy = tmp_path / "andor.yaml"
    policy.write_text(POLICY.replace("when: escalations_12m >= 4",
                                     "when: escalations_12m >= 4 and not outgrown"),
                      encoding="utf-8")
    assert evaluate(runner, policy, customers_csv, db_path).exit_code == 0
    data = json.loads(runner.invoke(cli, ["explain", "C-OFF", "--db", str(db_path),
                                          "--json"]).stdout)
    condition = next(r for r in data["rules"] if r["rule"] == "escalations")["condition"]
    assert (condition["op"], condition["result"]) == ("and", "true")
    first, second = condition["parts"]
    assert (first["left_value"], first["right_value"], first["margin"]) == \
        (6, 4, "exceeds by 2")
    assert (second["op"], second["result"]) == ("not", "true")
    assert second["parts"][0]["result"] == "false"


def test_explain_unknown_customer(runner: CliRunner, evaluated: Path) -> None:
    result = runner.invoke(cli, ["explain", "NOPE", "--db", str(evaluated)])
    assert result.exit_code == 2
    assert result.output == "Error: customer 'NOPE' has no decision in run 1\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_explain_without_a_database(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = runner.invoke(cli, ["explain", "C-OFF", "--db", str(missing)])
    assert result.exit_code == 2
    assert result.output == (f"Error: {missing}: no database at {missing} (run `adieu "
                             "evaluate` first, or pass --db)\n")
    assert not missing.exists()


def test_explain_picks_a_run(runner: CliRunner, evaluated: Path, policy_file: Path,
                             tmp_path: Path) -> None:
    # a second run, later, in which C-WARN pays on time
    changed = tmp_path / "later.csv"
    rows = [r.replace("C-WARN,standard,10000,10,5", "C-WARN,standard,10000,10,0")
            for r in CSV_ROWS]
    changed.write_text("\n".join([CSV_HEADER, *rows]) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source", f"csv:{changed}",
                                 "--as-of", "2027-03-01", "--db", str(evaluated)])
    assert result.exit_code == 0, result.output
    latest = runner.invoke(cli, ["explain", "C-WARN", "--db", str(evaluated)]).stdout
    assert latest.startswith("C-WARN: WARN  (run 2, policy 'tiny' v3, as of 2027-03-01)")
    assert "    late_payments_12m 0 >= late_limit 3: false, 3 short of the threshold" in latest
    first = runner.invoke(cli, ["explain", "C-WARN", "--db", str(evaluated), "--run", "1"])
    assert first.stdout.startswith(f"C-WARN: WARN  (run 1, policy 'tiny' v3, as of {AS_OF})")
    assert "    late_payments_12m 5 >= late_limit 3: true, exceeds by 2" in first.stdout
    none = runner.invoke(cli, ["explain", "C-WARN", "--db", str(evaluated), "--run", "7"])
    assert none.exit_code == 2
    assert none.output == "Error: no run 7 in the database\n"


def test_version(runner: CliRunner) -> None:
    from adieu import __version__

    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"adieu, version {__version__}\n"


@pytest.mark.parametrize("text", ["20261101", "2026-W44-7", "2026W447", "2026-11-1",
                                  "2026-11-01T00:00"])
def test_dates_on_the_command_line_are_yyyy_mm_dd_only(runner, policy_file, good_csv,
                                                        tmp_path, text):
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source", f"csv:{good_csv}",
                                 "--as-of", text, "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2
    assert f"'{text}' is not a date YYYY-MM-DD" in result.output
    assert not (tmp_path / "a.db").exists()


RUN_COMMANDS = [
    ["explain", "C-KEEP", "--run", "{}"],
    ["pending", "--run", "{}"],
    ["approve", "C-KEEP", "--by", "Someone Else", "--run", "{}"],
    ["reject", "C-KEEP", "--by", "Someone Else", "--run", "{}"],
    ["diff", "--run", "{}", "--run", "1"],
    ["segments", "--run", "{}"],
    ["report", "--html", "r.html", "--run", "{}"],
    ["brief", "C-KEEP", "--run", "{}"],
    ["replay", "--", "{}"],
]


@pytest.mark.parametrize("value", ["99999999999999999999999", str(2**63), "0", "-1"])
@pytest.mark.parametrize("command", RUN_COMMANDS, ids=lambda c: c[0])
def test_every_run_id_out_of_range_is_a_usage_error(runner: CliRunner, evaluated: Path,
                                                    command: list[str], value: str,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A run id SQLite cannot hold (beyond 2**63 - 1) was an OverflowError
    ("unexpected error"); every --run (and replay's RUN_ID) takes 1 to 2**63 - 1."""
    monkeypatch.chdir(tmp_path)
    name, *rest = command
    result = runner.invoke(cli, [name, "--db", str(evaluated), *(a.format(value) for a in rest)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"'{value}' is not a run id (1 to 9,223,372,036,854,775,807)" in result.output
    assert not (tmp_path / "r.html").exists()
    result = runner.invoke(cli, [name, "--db", str(evaluated),
                                 *(a.format(2**63 - 1) for a in rest)])
    assert result.exit_code == 2, (result.output, result.exception)  # not there: no crash
    assert name in ("approve", "reject") or "9223372036854775807" in result.output
