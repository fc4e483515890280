"""Several sources in one run, end to end with the installed `adieu`
script: --source repeated (evaluate and facts), records joined by customer
id (full outer join), each fact's provenance stored, a conflict between
sources a reject naming both (or resolved by --prefer), a customer in only
some sources decided on what is there, and a second run of the same date
over other sources leaving the first's strikes alone."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_salesforce import MUELLER, SOCIETE, TOKYO, export_files, write_zip

ADIEU = Path(sys.executable).parent / "adieu"
AS_OF = "2026-11-01"

POLICY = """\
version: 1
name: multi
on_missing: watch
params:
  late_limit: 3
  escalation_limit: 2
rules:
  - id: late-payments
    title: Pays late
    when: late_payments_12m >= late_limit
    action: strike
    severity: medium
    explain: "{late_payments_12m} late payments"
  - id: escalations
    title: Escalates often
    when: escalated_cases_12m >= escalation_limit
    action: strike
    severity: medium
    explain: "{escalated_cases_12m} escalated cases"
"""

# Billing keys its customers by the Salesforce account id.
BILLING = f"""\
customer_id,revenue_12m,late_payments_12m
{MUELLER},125000.00,4
{TOKYO},9800000,0
C-ONLY,500,5
"""


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ADIEU_DB", "ADIEU_RAISE_ERRORS")}
    return subprocess.run([str(ADIEU), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "billing.csv").write_text(BILLING, encoding="utf-8")
    write_zip(tmp_path / "export.zip", export_files())
    return tmp_path


def evaluate(work: Path, *args: str, code: int = 0) -> dict:
    out = run(work, "evaluate", "policy.yaml", "--db", "a.db", "--as-of", AS_OF, "--json",
              *args)
    assert out.returncode == code, out.stderr
    return json.loads(out.stdout) if code == 0 else {"stderr": out.stderr}


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def of(result: dict, cid: str) -> dict:
    return next(d for d in result["decisions"] if d["customer_id"] == cid)


def test_billing_csv_and_a_salesforce_export_are_joined_by_customer_id(work: Path):
    result = evaluate(work, "--source", "csv:billing.csv", "--source", "salesforce:export.zip")
    decided = {d["customer_id"]: d for d in result["decisions"]}
    # Full outer join: billing's C-ONLY, Salesforce's Société and Acme, both's Müller.
    assert set(decided) == {MUELLER, TOKYO, SOCIETE, "0015g00000Aa005AAA", "C-ONLY"}
    # Müller: late payments from billing, escalations from Salesforce: two strikes.
    assert sorted(decided[MUELLER]["new_strikes"]) == ["escalations", "late-payments"]
    assert decided[MUELLER]["outcome"] == "final_notice"
    # In billing only: decided on what is there; escalations are unknown.
    only = decided["C-ONLY"]
    assert only["new_strikes"] == ["late-payments"] and only["missing"] == \
        ["escalated_cases_12m"]
    assert [u["rule"] for u in only["unknown"]] == ["escalations"]
    # In Salesforce only: late payments are unknown.
    assert decided[SOCIETE]["missing"] == ["late_payments_12m"]
    assert result["run"]["source"] == "csv:billing.csv + salesforce:export.zip"
    assert result["run"]["sources"] == ["csv:billing.csv", "salesforce:export.zip"]
    run_row = query(work / "a.db", "select source, sources from runs")
    assert run_row == [("csv:billing.csv + salesforce:export.zip",
                        '["csv:billing.csv","salesforce:export.zip"]')]
    # Each fact's provenance is stored with the decision; source_file/row
    # are the first source's.
    [(file, row, provenance)] = query(
        work / "a.db", "select source_file, source_row, provenance from decisions "
                       "where customer_id = ?", MUELLER)
    provenance = json.loads(provenance)
    assert (file, row) == ("billing.csv", 1)
    assert provenance["late_payments_12m"] == "csv:billing.csv row 1, late_payments_12m"
    assert provenance["escalated_cases_12m"].startswith(
        "salesforce:export.zip:WE_00D5g000000ABCD_1/case.csv: 2 rows")
    explained = json.loads(run(work, "explain", MUELLER, "--db", "a.db", "--json").stdout)
    assert explained["provenance"] == provenance
    [(file, row)] = query(work / "a.db", "select source_file, source_row from decisions "
                                         "where customer_id = ?", SOCIETE)
    assert (file, row) == ("export.zip:WE_00D5g000000ABCD_1/Account.csv", 2)


def test_a_single_source_run_stores_no_provenance_column(work: Path):
    evaluate(work, "--source", "csv:billing.csv", "--allow-missing-facts")
    assert query(work / "a.db", "select distinct provenance from decisions") == [(None,)]
    assert query(work / "a.db", "select sources from runs") == [('["csv:billing.csv"]',)]


TWO = "customer_id,revenue_12m,escalated_cases_12m\n"


def test_a_fact_two_sources_disagree_on_is_a_reject_naming_both(work: Path):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},126000,3\n{TOKYO},9800000.00,0\n",
                                  encoding="utf-8")
    out = run(work, "evaluate", "policy.yaml", "--db", "a.db", "--as-of", AS_OF,
              "--source", "csv:billing.csv", "--source", "csv:crm.csv")
    assert out.returncode == 0, out.stderr
    assert ("rejected: billing.csv:2: row 1, field 'revenue_12m': sources disagree on "
            "revenue_12m: csv:billing.csv row 1 has 125000.00, csv:crm.csv row 1 has 126000 "
            "(fix one, or rank them with --prefer)") in out.stderr.splitlines()
    # Müller is not decided; Tokyo's equal values (9800000 and 9800000.00) are fine.
    decided = {r[0] for r in query(work / "a.db", "select customer_id from decisions")}
    assert decided == {TOKYO, "C-ONLY"}
    assert query(work / "a.db", "select file, row, customer_id, field, value from rejects") \
        == [("billing.csv", 1, MUELLER, "revenue_12m", "125000.00")]


def test_prefer_resolves_a_conflict_by_the_order_given(work: Path):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},126000,3\n", encoding="utf-8")
    both = ("--source", "csv:billing.csv", "--source", "csv:crm.csv")
    result = evaluate(work, *both, "--prefer", "csv:crm.csv")
    assert result["rejects"] == []
    [facts] = query(work / "a.db", "select facts from decisions where customer_id = ?",
                    MUELLER)
    assert json.loads(facts[0])["revenue_12m"] == 126000
    [prov] = query(work / "a.db", "select provenance from decisions where customer_id = ?",
                   MUELLER)
    assert json.loads(prov[0])["revenue_12m"] == "csv:crm.csv row 1, revenue_12m"
    # By kind, where the kinds tell the sources apart.
    (work / "sizes.csv").write_text(f"customer_id,annual_revenue\n{MUELLER},1\n",
                                    encoding="utf-8")
    args = ("facts", "csv:sizes.csv", "salesforce:export.zip", "--as-of", AS_OF, "--json")
    out = run(work, *args, "--prefer", "salesforce,csv")
    rows = {r["customer_id"]: r for r in json.loads(out.stdout)}
    assert rows[MUELLER]["annual_revenue"] == 125000
    out = run(work, *args, "--prefer", "csv")  # the listed one beats one not listed
    rows = {r["customer_id"]: r for r in json.loads(out.stdout)}
    assert rows[MUELLER]["annual_revenue"] == 1
    out = run(work, *args)
    assert MUELLER not in {r["customer_id"] for r in json.loads(out.stdout)}
    assert "sources disagree on annual_revenue: csv:sizes.csv row 1 has 1, salesforce:" \
        "export.zip:WE_00D5g000000ABCD_1/Account.csv row 1 has 125000.00" in out.stderr


@pytest.mark.parametrize("args, message", [
    (("--source", "csv:billing.csv", "--source", "csv:crm.csv", "--prefer", "csv"),
     "Error: --prefer 'csv' names 2 sources; name one as KIND:LOCATION "
     "(csv:billing.csv, csv:crm.csv)"),
    (("--source", "csv:billing.csv", "--source", "csv:crm.csv", "--prefer", "hubspot"),
     "Error: --prefer 'hubspot' names none of the sources (csv:billing.csv, csv:crm.csv)"),
    (("--source", "csv:billing.csv", "--source", "csv:crm.csv", "--mapping", "m.yaml"),
     "Error: 1 --mapping for 2 --source: give one --mapping per --source, in the same "
     "order (`--mapping -` keeps a source kind's own mapping), or none"),
    (("--source", "csv:billing.csv", "--source", "csv:billing.csv"),
     "Error: source 'csv:billing.csv' is given twice"),
])
def test_ambiguous_combinations_are_usage_errors(work: Path, args, message):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},126000,3\n", encoding="utf-8")
    out = run(work, "evaluate", "policy.yaml", "--db", "a.db", "--as-of", AS_OF, *args)
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == message
    assert not (work / "a.db").exists()


def test_mappings_pair_with_sources_in_order(work: Path):
    (work / "crm.csv").write_text("Account,Escalations\n" + f"{MUELLER},3\n",
                                  encoding="utf-8")
    (work / "crm.yaml").write_text(
        "fields:\n  Account: customer_id\n  Escalations: escalated_cases_12m\n",
        encoding="utf-8")
    result = evaluate(work, "--source", "csv:billing.csv", "--source", "csv:crm.csv",
                      "--mapping", "-", "--mapping", "crm.yaml")
    assert sorted(of(result, MUELLER)["new_strikes"]) == ["escalations", "late-payments"]


def test_a_fact_no_source_has_is_missing_but_one_source_having_it_is_enough(work: Path):
    (work / "crm.csv").write_text("customer_id,name\n" + f"{MUELLER},Müller\n",
                                  encoding="utf-8")
    out = run(work, "evaluate", "policy.yaml", "--db", "a.db", "--as-of", AS_OF,
              "--source", "csv:billing.csv", "--source", "csv:crm.csv")
    assert out.returncode == 2
    assert out.stderr.startswith("Error: billing.csv:1: none of the 2 sources has a column "
                                 "for fact the policy uses: escalated_cases_12m "
                                 "(rule 'escalations')")
    # With Salesforce as well, every fact has a column somewhere.
    evaluate(work, "--source", "csv:billing.csv", "--source", "csv:crm.csv",
             "--source", "salesforce:export.zip")


def test_a_customer_rejected_in_one_source_is_not_decided_on_another(work: Path):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},125000,many\n", encoding="utf-8")
    result = evaluate(work, "--source", "csv:billing.csv", "--source", "csv:crm.csv")
    assert MUELLER not in {d["customer_id"] for d in result["decisions"]}
    reasons = [(r["file"], r["reason"]) for r in result["rejects"]]
    assert reasons[0][0] == "crm.csv" and "expected a whole number" in reasons[0][1]
    assert reasons[1] == ("billing.csv", f"not decided: the record of {MUELLER} in "
                                         "csv:crm.csv row 1 was rejected")


def test_duplicate_ids_within_one_source_stay_rejects(work: Path):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},125000,3\n{MUELLER},125000,3\n",
                                  encoding="utf-8")
    result = evaluate(work, "--source", "csv:billing.csv", "--source", "csv:crm.csv")
    assert [(r["file"], r["row"], r["reason"]) for r in result["rejects"]] == \
        [("crm.csv", 2, "duplicate customer_id, first seen at row 1")]
    assert of(result, MUELLER)["strikes"] == 2


def test_a_second_run_of_the_same_date_over_another_source_supersedes_nothing(work: Path):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},125000,3\nC-ONLY,500,0\n",
                                  encoding="utf-8")
    first = evaluate(work, "--source", "csv:billing.csv", "--allow-missing-facts")
    assert of(first, MUELLER)["new_strikes"] == ["late-payments"]
    assert of(first, "C-ONLY")["new_strikes"] == ["late-payments"]
    second = evaluate(work, "--source", "csv:crm.csv", "--allow-missing-facts")
    # The first run's strike is memory: Müller now has two, C-ONLY keeps its one.
    assert of(second, MUELLER)["new_strikes"] == ["escalations"]
    assert of(second, MUELLER)["strikes"] == 2
    assert of(second, "C-ONLY")["strikes"] == 1
    assert query(work / "a.db", "select count(*) from strikes where superseded_by_run "
                                "is not null") == [(0,)]
    # A third run over both judges both rules again on the same date: its
    # strikes replace the two earlier runs' (superseded), no double count.
    third = evaluate(work, "--source", "csv:billing.csv", "--source", "csv:crm.csv")
    assert sorted(of(third, MUELLER)["new_strikes"]) == ["escalations", "late-payments"]
    assert of(third, MUELLER)["strikes"] == 2 and of(third, MUELLER)["repeat_strikes"] == []
    assert query(work / "a.db", "select rule, run_id, superseded_by_run from strikes where "
                                f"customer_id = '{MUELLER}' order by id") == \
        [("late-payments", 1, 3), ("escalations", 2, 3), ("late-payments", 3, None),
         ("escalations", 3, None)]
    # The next day, the strikes count once each.
    nextday = run(work, "evaluate", "policy.yaml", "--db", "a.db", "--as-of", "2026-11-02",
                  "--json", "--source", "csv:billing.csv", "--source", "csv:crm.csv")
    assert of(json.loads(nextday.stdout), MUELLER)["strikes"] == 2
    assert run(work, "audit", "verify", "--db", "a.db").returncode == 0


def test_a_run_over_the_same_sources_again_still_supersedes(work: Path):
    evaluate(work, "--source", "csv:billing.csv", "--allow-missing-facts")
    (work / "billing.csv").write_text(BILLING.replace(",4\n", ",0\n"), encoding="utf-8")
    again = evaluate(work, "--source", "csv:billing.csv", "--allow-missing-facts")
    assert of(again, MUELLER)["strikes"] == 0
    assert query(work / "a.db", "select customer_id, superseded_by_run from strikes "
                                "order by id") == [(MUELLER, 2), ("C-ONLY", 2), ("C-ONLY", None)]


def test_facts_joins_two_sources_and_shows_provenance(work: Path):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},125000,3\n", encoding="utf-8")
    out = run(work, "facts", "csv:billing.csv", "--source", "csv:crm.csv", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["customer_id"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {MUELLER, TOKYO, "C-ONLY"}
    assert rows[MUELLER]["escalated_cases_12m"] == 3
    assert rows[MUELLER]["_provenance"]["escalated_cases_12m"] == \
        "csv:crm.csv row 1, escalated_cases_12m"
    assert rows[MUELLER]["_provenance"]["late_payments_12m"] == \
        "csv:billing.csv row 1, late_payments_12m"
    text = run(work, "facts", "csv:billing.csv", "csv:crm.csv").stdout
    assert "  escalated_cases_12m = 3    [csv:crm.csv row 1, escalated_cases_12m]" in \
        text.splitlines()
    # A conflict is the same reject as in evaluate.
    (work / "crm.csv").write_text(TWO + f"{MUELLER},1,3\n", encoding="utf-8")
    out = run(work, "facts", "csv:billing.csv", "csv:crm.csv")
    assert "sources disagree on revenue_12m: csv:billing.csv row 1 has 125000.00, " \
           "csv:crm.csv row 1 has 1" in out.stderr
    assert run(work, "facts").returncode == 2


def test_a_mapping_default_yields_to_a_value_another_source_read(work: Path):
    (work / "crm.csv").write_text(TWO + f"{MUELLER},125000,3\nC-NEW,10,0\n",
                                  encoding="utf-8")
    (work / "billing.yaml").write_text(
        "fields:\n  customer_id: customer_id\n  revenue_12m: revenue_12m\n"
        "  late_payments_12m: late_payments_12m\n"
        "  escalated_cases_12m: {fact: escalated_cases_12m, default: 0}\n",
        encoding="utf-8")
    out = run(work, "facts", "csv:billing.csv", "csv:crm.csv", "--mapping", "billing.yaml",
              "--mapping", "-", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["customer_id"]: r for r in json.loads(out.stdout)}
    assert "disagree" not in out.stderr
    assert rows[MUELLER]["escalated_cases_12m"] == 3  # read by crm, not billing's default 0
    assert rows[MUELLER]["_provenance"]["escalated_cases_12m"] == \
        "csv:crm.csv row 1, escalated_cases_12m"
    assert rows[TOKYO]["escalated_cases_12m"] == 0  # only the default says anything
