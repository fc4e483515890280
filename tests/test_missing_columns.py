"""A fact the policy uses that the source has no column for: an error naming
the header line, the missing facts and the nearest column names, exit 2,
nothing stored; allowed on purpose by --allow-missing-facts or the policy's
allow_missing_facts, and then recorded on the run. Near misses of facts that
are present are warnings on stderr."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import before_final_line

from adieu import SourceRecord
from adieu.cli import cli

ADIEU = Path(sys.executable).parent / "adieu"
AS_OF = "2026-11-02"

NPS_POLICY = textwrap.dedent("""\
    version: 1
    name: nps
    on_missing: keep
    facts:
      nps_score: {type: integer}
    rules:
      - id: detractor
        title: Unhappy in the latest survey
        when: nps_score < -50
        action: offboard
    """)
NPS_CSV = "customer_id,NPS Score,revenue_12m\nC1,-80,1000\nC2,40,2000\nC3,-90,3000\n"
NPS_ERROR = ("Error: customers.csv:1: no column for fact the policy uses: nps_score (rule "
             "'detractor'; did you mean 'NPS Score'?); map a column to it with --mapping, "
             "or allow it to be missing with --allow-missing-facts or the policy's "
             "allow_missing_facts\n")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def nps(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "nps.yaml", NPS_POLICY), write(tmp_path / "customers.csv", NPS_CSV)


def evaluate(runner: CliRunner, policy: Path, data: Path, db: Path, *extra: str):
    return runner.invoke(cli, ["evaluate", str(policy), "--source", f"csv:{data}",
                               "--as-of", AS_OF, "--db", str(db), *extra])


def runs(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select id, missing_facts from runs order by id").fetchall()


def test_the_nps_example_through_the_console_script(nps: tuple[Path, Path], tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    result = subprocess.run([str(ADIEU), "evaluate", "nps.yaml", "--source", "csv:customers.csv",
                             "--as-of", AS_OF, "--db", "adieu.db"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == NPS_ERROR
    assert result.stdout == ""
    assert not (tmp_path / "adieu.db").exists()  # nothing stored, not even a database


def test_an_existing_database_is_left_untouched(runner: CliRunner, nps: tuple[Path, Path],
                                                tmp_path: Path, policy_file: Path,
                                                customers_csv: Path):
    db = tmp_path / "adieu.db"
    assert evaluate(runner, policy_file, customers_csv, db).exit_code == 0
    with sqlite3.connect(db) as conn:
        before = [conn.execute(f"select * from {t}").fetchall()
                  for t in ("runs", "decisions", "rejects", "strikes", "audit")]
    result = evaluate(runner, *nps, db)
    assert result.exit_code == 2
    assert "no column for fact the policy uses: nps_score" in result.stderr
    with sqlite3.connect(db) as conn:
        after = [conn.execute(f"select * from {t}").fetchall()
                 for t in ("runs", "decisions", "rejects", "strikes", "audit")]
    assert after == before


def test_allowed_by_the_flag_and_recorded_on_the_run(runner: CliRunner, nps: tuple[Path, Path],
                                                     tmp_path: Path):
    db = tmp_path / "adieu.db"
    result = evaluate(runner, *nps, db, "--allow-missing-facts")
    assert result.exit_code == 0, result.output
    assert before_final_line(result.stderr) == (
        f"warning: {nps[1]}:1: no column for nps_score (rule 'detractor'; did you mean "
        "'NPS Score'?); allowed to be missing by --allow-missing-facts: every rule that "
        "needs it is unknown\n")
    assert "The source has no column for nps_score, allowed to be missing" in result.stdout
    assert runs(db) == [(1, '["nps_score"]')]
    with sqlite3.connect(db) as conn:
        decided = conn.execute("select outcome, missing from decisions").fetchall()
    assert decided == [("keep", '["nps_score"]')] * 3
    out = json.loads(evaluate(runner, *nps, tmp_path / "j.db", "--allow-missing-facts",
                              "--json").stdout)
    assert out["run"]["missing_facts"] == ["nps_score"]


def test_allowed_by_the_policy_and_recorded_on_the_run(runner: CliRunner,
                                                       nps: tuple[Path, Path], tmp_path: Path):
    policy = write(tmp_path / "allowing.yaml",
                   NPS_POLICY.replace("on_missing: keep\n",
                                      "on_missing: keep\nallow_missing_facts: [nps_score]\n"))
    db = tmp_path / "adieu.db"
    result = evaluate(runner, policy, nps[1], db)
    assert result.exit_code == 0, result.output
    assert "allowed to be missing by the policy's allow_missing_facts" in result.stderr
    assert runs(db) == [(1, '["nps_score"]')]


def test_the_policy_allows_only_the_facts_it_lists(runner: CliRunner, tmp_path: Path):
    policy = write(tmp_path / "p.yaml", NPS_POLICY.replace(
        "on_missing: keep\n", "on_missing: keep\nallow_missing_facts: [nps_score]\n") + (
        "  - id: late\n    when: late_payments_12m > 3\n    action: strike\n"))
    data = write(tmp_path / "c.csv", "customer_id,revenue_12m\nC1,10\n")
    db = tmp_path / "adieu.db"
    result = evaluate(runner, policy, data, db)
    assert result.exit_code == 2
    assert f"{data}:1: no column for fact the policy uses: late_payments_12m (rule 'late')" \
        in result.stderr
    assert "nps_score (" not in result.stderr.split("Error:")[1]
    assert not db.exists()


def test_allow_missing_facts_must_name_facts(runner: CliRunner, tmp_path: Path):
    policy = write(tmp_path / "p.yaml", NPS_POLICY.replace(
        "on_missing: keep\n", "on_missing: keep\nallow_missing_facts: [nps_scor, 7]\n"))
    result = runner.invoke(cli, ["validate", str(policy)])
    assert result.exit_code == 1
    assert f"{policy}:4:23: allow_missing_facts names 'nps_scor', which is not a fact " \
           "(did you mean 'nps_score'?)" in result.stdout
    # YAML reads 7 as a number; where text is expected adieu keeps the text "7"
    assert f"{policy}:4:33: allow_missing_facts names '7', which is not a fact" in result.stdout


def test_a_column_the_mapping_maps_to_the_fact_is_present(runner: CliRunner,
                                                         nps: tuple[Path, Path],
                                                         tmp_path: Path):
    mapping = write(tmp_path / "map.yaml", "version: 1\nfields:\n  NPS Score: nps_score\n")
    snake = write(tmp_path / "snake.yaml", "version: 1\nunmapped:\n  case: snake\n")
    for i, path in enumerate((mapping, snake)):
        db = tmp_path / f"m{i}.db"
        result = evaluate(runner, *nps, db, "--mapping", str(path), "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["run"]["missing_facts"] == []
        assert {d["customer_id"]: d["outcome"] for d in out["decisions"]} == \
            {"C1": "offboard", "C2": "keep", "C3": "offboard"}
        assert runs(db) == [(1, "[]")]


def test_a_fact_with_a_mapping_default_is_present(runner: CliRunner, tmp_path: Path):
    policy = write(tmp_path / "tier.yaml", textwrap.dedent("""\
        version: 1
        name: tier
        rules:
          - id: basic
            when: tier == "basic" and revenue_12m < 100
            action: flag
        """))
    data = write(tmp_path / "c.csv", "customer_id,revenue_12m\nC1,10\nC2,500\n")
    mapping = write(tmp_path / "map.yaml", textwrap.dedent("""\
        version: 1
        fields:
          Tier: {fact: tier, default: basic}
        """))
    result = evaluate(runner, policy, data, tmp_path / "a.db", "--mapping", str(mapping),
                      "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["run"]["missing_facts"] == []
    assert {d["customer_id"]: d["outcome"] for d in out["decisions"]} == \
        {"C1": "watch", "C2": "keep"}
    # Without the mapping, tier has no column and no default.
    result = evaluate(runner, policy, data, tmp_path / "b.db")
    assert result.exit_code == 2
    assert "no column for fact the policy uses: tier (rule 'basic')" in result.stderr


def test_an_empty_column_is_missing_data_not_a_missing_column(runner: CliRunner,
                                                             nps: tuple[Path, Path],
                                                             tmp_path: Path):
    data = write(tmp_path / "empty.csv", "customer_id,nps_score\nC1,\nC2,  \n")
    result = evaluate(runner, nps[0], data, tmp_path / "a.db", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["run"]["missing_facts"] == []
    assert [d["missing"] for d in out["decisions"]] == [["nps_score"], ["nps_score"]]


USES = {
    "derived fact 'ratio'": "derive:\n  ratio: nps_score / 10\nrules:\n"
                            "  - id: r\n    when: ratio < 0\n    action: flag\n",
    "rule 'r'": "rules:\n  - id: r\n    when: nps_score < 0\n    action: flag\n",
    "exemption 'e'": "rules:\n  - id: r\n    when: revenue_12m < 0\n    action: flag\n"
                     "exemptions:\n  - id: e\n    when: nps_score > 50\n    reason: x\n"
                     "    approver: y\n    expires: '2030-01-01'\n",
    "hold 'h'": "rules:\n  - id: r\n    when: revenue_12m < 0\n    action: flag\n"
                "holds:\n  - id: h\n    when: nps_score < 0\n    reason: x\n",
    "referral 1": "rules:\n  - id: r\n    when: revenue_12m < 0\n    action: offboard\n"
                  "timing:\n  referrals:\n    - when: nps_score > 0\n      vendors: [A]\n",
    "declared under facts": "rules:\n  - id: r\n    when: revenue_12m < 0\n    action: flag\n",
}
# A canonical fact used only in an explanation: shown as "unknown" to every
# customer without the check.
USES_CANONICAL = {
    "rule 'r' explanation": "rules:\n  - id: r\n    when: revenue_12m < 0\n    action: flag\n"
                            "    explain: \"{tier} customer\"\n",
}


@pytest.mark.parametrize("where", sorted(USES))
def test_every_use_of_a_fact_needs_its_column(runner: CliRunner, tmp_path: Path, where: str):
    policy = write(tmp_path / "p.yaml", "version: 1\nname: p\nfacts:\n  nps_score: "
                                        "{type: integer}\n" + USES[where])
    data = write(tmp_path / "c.csv", "customer_id,revenue_12m\nC1,10\n")
    result = evaluate(runner, policy, data, tmp_path / "a.db")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {data}:1: no column for fact the policy uses: "
                                    f"nps_score ({where}); ")


@pytest.mark.parametrize("where", sorted(USES_CANONICAL))
def test_a_fact_shown_only_in_an_explanation_needs_its_column(runner: CliRunner,
                                                              tmp_path: Path, where: str):
    policy = write(tmp_path / "p.yaml", "version: 1\nname: p\n" + USES_CANONICAL[where])
    data = write(tmp_path / "c.csv", "customer_id,revenue_12m\nC1,10\n")
    result = evaluate(runner, policy, data, tmp_path / "a.db")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {data}:1: no column for fact the policy uses: "
                                    f"tier ({where}); ")


def test_did_you_mean_offers_only_columns_that_are_no_other_fact(runner: CliRunner,
                                                                 tmp_path: Path):
    policy = write(tmp_path / "p.yaml", "version: 1\nname: p\nrules:\n  - id: r\n"
                                        "    when: revenue_12m < 100\n    action: flag\n")
    # won_revenue_12m is a fact of its own, not a misspelt revenue_12m.
    data = write(tmp_path / "c.csv", "customer_id,won_revenue_12m,Revenue 12M\nC1,10,5\n")
    result = evaluate(runner, policy, data, tmp_path / "a.db")
    assert result.exit_code == 2
    assert "revenue_12m (rule 'r'; did you mean 'Revenue 12M'?)" in result.stderr


def test_near_miss_of_a_fact_that_is_present_is_a_warning(runner: CliRunner, tmp_path: Path,
                                                         policy_file: Path,
                                                         customers_csv: Path):
    plain = evaluate(runner, policy_file, customers_csv, tmp_path / "a.db")
    lines = customers_csv.read_text(encoding="utf-8").splitlines()
    odd = write(tmp_path / "odd.csv", "\n".join(
        [lines[0] + ",revenue_12mo"] + [line + ",1" for line in lines[1:]]) + "\n")
    result = evaluate(runner, policy_file, odd, tmp_path / "b.db")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        f"warning: {odd}:1: column 'revenue_12mo' is not used, but it is close to fact "
        "revenue_12m, which comes from column 'revenue_12m'")
    # stdout is the same summary (but for the names of the source and database).
    assert result.stdout.replace(str(odd), "X").replace("b.db", "a.db") == \
        plain.stdout.replace(str(customers_csv), "X")
    assert "warning" not in result.stdout


def test_facts_warns_of_near_misses_on_stderr(runner: CliRunner, tmp_path: Path):
    data = write(tmp_path / "c.csv", "customer_id,revenue_12m,revenue_12mo,Late Payments 12m\n"
                                     "C1,10,11,2\n")
    result = runner.invoke(cli, ["facts", f"csv:{data}", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        f"warning: {data}:1: column 'revenue_12mo' is no canonical fact, but it is close to "
        "fact revenue_12m, which comes from column 'revenue_12m'",
        f"warning: {data}:1: column 'Late Payments 12m' is no canonical fact; did you mean "
        "fact late_payments_12m? (map it with --mapping)"]
    assert [set(r) for r in json.loads(result.stdout)] == \
        [{"customer_id", "revenue_12m", "revenue_12mo", "_provenance"}]


def test_a_source_without_customers_has_no_columns_to_judge(runner: CliRunner,
                                                            nps: tuple[Path, Path],
                                                            tmp_path: Path):
    data = write(tmp_path / "none.csv", "customer_id,revenue_12m\n")
    # --allow-empty: a run with no customer is otherwise refused (issue 12).
    result = evaluate(runner, nps[0], data, tmp_path / "a.db", "--json", "--allow-empty")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["customers"] == 0


# ---------------------------------------------------------------------------
# A fact a reader derives from another file: the error points at the file
# and header line that lack its columns (or at the export that lacks the
# file), names the missing source columns and the fact, and nothing else.
# ---------------------------------------------------------------------------

SF_AS_OF = "2026-11-01"
SF_FILES = {
    "Account.csv": ["Id,IsDeleted,Name", "0015A,false,Acme"],
    "Case.csv": ["Id,IsDeleted,AccountId,IsClosed,IsEscalated,CreatedDate",
                 "500A,false,0015A,false,true,2026-06-01T10:00:00.000Z"],
    "Opportunity.csv": ["Id,IsDeleted,AccountId,IsClosed,IsWon,CloseDate,Amount",
                        "006A,false,0015A,true,true,2026-06-01,1000"],
    "Contract.csv": ["Id,IsDeleted,AccountId,Status,StatusCode,EndDate",
                     "800A,false,0015A,Activated,Activated,2027-06-30"],
}


def sf_export(tmp_path: Path, drop: dict[str, tuple[str, ...]] | None = None,
              rows: bool = True, leave_out: tuple[str, ...] = ()) -> Path:
    """A small Data Export folder; `drop`: file -> columns to leave out of it;
    rows=False: related files with a header only; leave_out: files not there."""
    folder = tmp_path / "export"
    folder.mkdir()
    for name, lines in SF_FILES.items():
        if name in leave_out:
            continue
        table = [line.split(",") for line in lines]
        gone = (drop or {}).get(name, ())
        keep = [i for i, column in enumerate(table[0]) if column not in gone]
        table = [[cells[i] for i in keep] for cells in table]
        if not rows and name != "Account.csv":
            table = table[:1]
        (folder / name).write_text("".join(",".join(t) + "\r\n" for t in table),
                                   encoding="utf-8")
    return folder


def sf_policy(tmp_path: Path, *facts: str) -> Path:
    rules = "".join(f"  - id: r-{fact}\n    when: "
                    + (f"days_until({fact}) < 90" if fact == "contract_end" else f"{fact} > 0")
                    + "\n    action: flag\n" for fact in facts)
    return write(tmp_path / "p.yaml", f"version: 1\nname: sf\non_missing: keep\nrules:\n{rules}")


def sf_evaluate(runner: CliRunner, policy: Path, export: Path, tmp_path: Path, *extra: str):
    return runner.invoke(cli, ["evaluate", str(policy), "--source", f"salesforce:{export}",
                               "--as-of", SF_AS_OF, "--db", str(tmp_path / "sf.db"), *extra])


ADVICE = ("; add what is missing to the source, map a column to it with --mapping, or allow "
          "it to be missing with --allow-missing-facts or the policy's allow_missing_facts\n")


@pytest.mark.parametrize("rows", [True, False])
def test_a_derived_fact_whose_column_is_missing_names_that_file(
        runner: CliRunner, tmp_path: Path, rows: bool):
    # The tester's case: Case.csv has no IsEscalated column. With rows=False
    # Case.csv has a header only: still no column, not 0 for everyone.
    export = sf_export(tmp_path, {"Case.csv": ("IsEscalated",)}, rows=rows)
    result = sf_evaluate(runner, sf_policy(tmp_path, "escalated_cases_12m"), export, tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {export / 'Case.csv'}:1: no IsEscalated column in the header, so there is "
        "no fact escalated_cases_12m (rule 'r-escalated_cases_12m') for the policy" + ADVICE)
    assert "Account.csv" not in result.stderr
    assert not (tmp_path / "sf.db").exists()
    # Allowed: the warning points at the same place.
    result = sf_evaluate(runner, sf_policy(tmp_path, "escalated_cases_12m"), export, tmp_path,
                         "--allow-missing-facts")
    assert result.exit_code == 0, result.output
    assert f"warning: {export / 'Case.csv'}:1: no IsEscalated column in the header, so there " \
           "is no fact escalated_cases_12m (rule 'r-escalated_cases_12m') for the policy; " \
           "allowed to be missing by --allow-missing-facts" in result.stderr


@pytest.mark.parametrize("file, columns, fact, why", [
    ("Opportunity.csv", ("Amount",), "won_revenue_12m", "no Amount column"),
    ("Opportunity.csv", ("IsWon", "CloseDate"), "won_revenue_12m",
     "no columns IsWon and CloseDate"),
    ("Opportunity.csv", ("IsClosed",), "open_pipeline", "no IsClosed column"),
    ("Case.csv", ("CreatedDate",), "cases_12m", "no CreatedDate column"),
    ("Case.csv", ("IsClosed",), "open_cases", "no IsClosed column"),
    ("Contract.csv", ("Status", "StatusCode"), "contract_end",
     "no Status or StatusCode column"),
    ("Contract.csv", ("EndDate",), "contract_end", "no EndDate column"),
])
def test_every_derived_fact_points_at_its_own_file(runner: CliRunner, tmp_path: Path,
                                                   file: str, columns: tuple[str, ...],
                                                   fact: str, why: str):
    export = sf_export(tmp_path, {file: columns})
    result = sf_evaluate(runner, sf_policy(tmp_path, fact), export, tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"Error: {export / file}:1: {why} in the header, so there is no "
                             f"fact {fact} (rule 'r-{fact}') for the policy" + ADVICE)


def test_a_missing_related_file_is_named(runner: CliRunner, tmp_path: Path):
    export = sf_export(tmp_path, leave_out=("Case.csv",))
    result = sf_evaluate(runner, sf_policy(tmp_path, "open_cases"), export, tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"Error: {export}: no Case.csv in the export, so there is no "
                             "fact open_cases (rule 'r-open_cases') for the policy" + ADVICE)


def test_several_missing_facts_each_say_where(runner: CliRunner, tmp_path: Path):
    export = sf_export(tmp_path, {"Case.csv": ("IsEscalated",), "Opportunity.csv": ("Amount",)})
    policy = sf_policy(tmp_path, "escalated_cases_12m", "won_revenue_12m", "orders_12m")
    result = sf_evaluate(runner, policy, export, tmp_path)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()  # one line
    assert line.startswith(
        f"Error: {export / 'Case.csv'}:1: no IsEscalated column in the header, so there is no "
        "fact escalated_cases_12m (rule 'r-escalated_cases_12m') for the policy; "
        f"{export / 'Account.csv'}:1: no column for fact the policy uses: orders_12m (rule "
        f"'r-orders_12m'); {export / 'Opportunity.csv'}:1: no Amount column in the header, so "
        "there is no fact won_revenue_12m (rule 'r-won_revenue_12m') for the policy; ")


def test_the_same_in_a_zip(runner: CliRunner, tmp_path: Path):
    folder = sf_export(tmp_path, {"Case.csv": ("IsEscalated",)})
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"WE_00D_1/{path.name}")
    result = sf_evaluate(runner, sf_policy(tmp_path, "escalated_cases_12m"), export, tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {export}:WE_00D_1/Case.csv:1: no IsEscalated "
                                    "column in the header, so there is no fact "
                                    "escalated_cases_12m")


def test_any_reader_can_say_where_a_fact_was_expected(tmp_path: Path):
    # The mechanism is the reader's, not Salesforce's: a record with no
    # values and a provenance {source field: why} at a file and line.
    from adieu.columns import check_columns, header_location
    from adieu.intake import read_records
    from adieu.mapping import load_mapping
    from adieu.policy import canonical_facts, load_policy

    mapping_file = write(tmp_path / "m.yaml", "version: 1\nfields:\n"
                                              "  Late Payments: late_payments_12m\n")
    mapping = load_mapping(str(mapping_file), canonical_facts())
    records = [
        SourceRecord({}, "billing.jsonl", None, None,
                     provenance={"Late Payments": "no invoices.csv beside billing.jsonl"}),
        SourceRecord({"customer_id": "C1", "revenue_12m": "10"}, "billing.jsonl", 1, 1),
        SourceRecord({}, "billing.jsonl", None, None, warning="just a warning"),
    ]
    intake = read_records(iter(records), canonical_facts(), mapping)
    assert [r.customer_id for r in intake.records] == ["C1"]  # notes are no customers
    assert intake.rejects == [] and len(intake.warnings) == 1
    policy = load_policy(str(write(tmp_path / "p.yaml", textwrap.dedent("""\
        version: 1
        name: late
        rules:
          - id: late
            when: late_payments_12m > 2
            action: flag
        """))))
    check = check_columns(policy, intake.fields, mapping, header_location(intake.file),
                          absent=intake.absent)
    assert str(check.error.location) == "billing.jsonl"
    assert check.error.message.startswith(
        "no invoices.csv beside billing.jsonl, so there is no fact late_payments_12m "
        "(rule 'late') for the policy; add what is missing")


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_hubspot_says_which_pages_are_missing(runner: CliRunner, tmp_path: Path, kind: str):
    folder = tmp_path / "dump"
    folder.mkdir()
    write(folder / "companies_0001.json",
          '{"results": [{"id": "101", "properties": {"hs_object_id": "101"}}]}')
    other = "deals" if kind == "tickets" else "tickets"
    write(folder / f"{other}_0001.json", '{"results": []}')
    fact = "tickets_12m" if kind == "tickets" else "open_pipeline"
    result = runner.invoke(cli, ["evaluate", str(sf_policy(tmp_path, fact)), "--source",
                                 f"hubspot:{folder}", "--as-of", SF_AS_OF,
                                 "--db", str(tmp_path / "h.db")])
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"Error: {folder}: no {kind}*.json pages in the dump, so there "
                             f"is no fact {fact} (rule 'r-{fact}') for the policy" + ADVICE)
