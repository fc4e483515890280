"""The `salesforce` source: a weekly Data Export (zip or folder) read end to
end through the command line, with the warts of the real format: quoted
multi-line text, BOM, CRLF, non-ASCII names, deleted rows, orphans, empty
amounts, date-times with milliseconds, members in a sub-folder of the zip."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import sqlite3
import textwrap
import tracemalloc
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import adieu_plugins.salesforce_source as sf
from adieu import InputError, SourceContext
from adieu.cli import cli
from adieu.testing import check_plugin, check_source

AS_OF = "2026-11-01"  # the 12-month window is 2025-11-02 .. 2026-11-01
DEFAULT_POLICY = str(Path(__file__).resolve().parents[1] / "policies" / "default.yaml")

MUELLER = "0015g00000Aa001AAA"
SOCIETE = "0015g00000Aa002AAA"
TOKYO = "0015g00000Aa003AAA"
DELETED = "0015g00000Aa004AAA"
ACME = "0015g00000Aa005AAA"
NOBODY = "0015g00000ZZ999AAA"
OWNER = "0055g00000Own01AAA"

ACCOUNT_HEADER = ["Id", "IsDeleted", "MasterRecordId", "Name", "Type", "ParentId",
                  "BillingStreet", "BillingCity", "BillingCountry", "Phone", "Industry",
                  "AnnualRevenue", "NumberOfEmployees", "OwnerId", "CreatedDate",
                  "CreatedById", "LastModifiedDate", "Description", "Strategic_Tier__c",
                  "Last_Review__c", "Reference_Customer__c"]


def account(id_, name, *, deleted="false", type_="Customer - Direct", industry="",
            revenue="", employees="", created="2020-01-01T00:00:00.000Z", description="",
            tier="", review="", reference="false"):
    return [id_, deleted, "", name, type_, "", "Hauptstraße 1\nHof 2", "Köln", "DE",
            "+49 221 0", industry, revenue, employees, OWNER, created, OWNER,
            "2026-10-30T07:00:00.000Z", description, tier, review, reference]


ACCOUNTS = [
    account(MUELLER, "Müller GmbH", industry="Manufacturing", revenue="125000.00",
            employees="250", created="2019-05-01T08:30:00.000Z",
            description='Key account, "do not call" before 10:00.\r\nSecond line, with, commas',
            tier="Gold", review="2025-03-04", reference="true"),
    account(SOCIETE, "Société Générale", type_="Customer - Channel", industry="Banking",
            created="2021-02-10T23:59:59.000Z", review="2026-01-15T09:00:00.000Z"),
    account(TOKYO, "東京商事株式会社", industry="Retail", revenue="9800000",
            employees="1200", tier="Silver"),
    account(DELETED, "Old Deleted Co", deleted="true"),
    account(ACME, "Acme Ltd", type_="Prospect", review=""),
]

CASE_HEADER = ["Id", "IsDeleted", "CaseNumber", "ContactId", "AccountId", "Type", "Status",
               "Subject", "Priority", "Description", "IsClosed", "ClosedDate", "IsEscalated",
               "OwnerId", "CreatedDate"]


def case(id_, account_id, created, *, closed="true", escalated="false", deleted="false",
         description=""):
    return [id_, deleted, id_[-4:], "", account_id, "Problem", "Closed" if closed == "true"
            else "New", "Printer on fire", "High", description, closed,
            "" if closed == "false" else created, escalated, OWNER, created]


CASES = [
    # Müller: the window boundary (as-of minus 365 days is out, a day later is in,
    # after as-of is out, the as-of day itself is in).
    case("5005g00000Cs001AAA", MUELLER, "2025-11-01T10:15:00.000Z", escalated="true"),
    case("5005g00000Cs002AAA", MUELLER, "2025-11-02T10:15:00.000Z", escalated="true"),
    case("5005g00000Cs003AAA", MUELLER, "2026-03-04T10:15:00.000Z", closed="false",
         description='Customer says: "it\'s broken, again".\r\nSee, also, case 0001.'),
    case("5005g00000Cs004AAA", MUELLER, "2026-11-02T00:00:00.000Z", closed="false"),
    case("5005g00000Cs005AAA", MUELLER, "2026-11-01T23:59:59.000Z", escalated="true"),
    case("5005g00000Cs006AAA", MUELLER, "2026-05-01T10:00:00.000Z", closed="false",
         escalated="true", deleted="true"),
    case("5005g00000Cs007AAA", SOCIETE, "2026-06-01T12:00:00.000Z", closed="false"),
    case("5005g00000Cs008AAA", DELETED, "2026-06-01T12:00:00.000Z", closed="false"),
    case("5005g00000Cs009AAA", NOBODY, "2026-06-01T12:00:00.000Z"),   # orphan
    case("5005g00000Cs010AAA", "", "2026-06-02T12:00:00.000Z"),       # orphan, no account
    case("5005g00000Cs011AAA", "0015g00000ZZ998AAA", "2026-06-01T12:00:00.000Z",
         deleted="true"),                                               # deleted: not an orphan
]

OPP_HEADER = ["Id", "IsDeleted", "AccountId", "Name", "Description", "StageName", "Amount",
              "Probability", "CloseDate", "Type", "IsClosed", "IsWon", "ForecastCategory",
              "OwnerId", "CreatedDate"]


def opp(id_, account_id, amount, close, *, won=False, closed=None, deleted="false"):
    closed = won if closed is None else closed
    stage = "Closed Won" if won else ("Closed Lost" if closed else "Negotiation/Review")
    return [id_, deleted, account_id, f"Deal {id_[-4:]}", "Renewal, 3 years\n\"big\"", stage,
            amount, "100" if won else "50", close, "Existing Business",
            "true" if closed else "false", "true" if won else "false", "Closed",
            OWNER, "2025-01-01T00:00:00.000Z"]


OPPORTUNITIES = [
    opp("0065g00000Op001AAA", MUELLER, "125000.00", "2026-02-15", won=True),
    opp("0065g00000Op002AAA", MUELLER, "99999.00", "2025-11-01", won=True),  # window: out
    opp("0065g00000Op003AAA", MUELLER, "", "2026-10-01", won=True),          # empty: reported
    opp("0065g00000Op004AAA", MUELLER, "40000.50", "2027-01-31"),            # open
    opp("0065g00000Op005AAA", MUELLER, "", "2027-02-28"),                    # open, empty
    opp("0065g00000Op006AAA", MUELLER, "", "2026-05-01", closed=True),       # lost: irrelevant
    opp("0065g00000Op007AAA", MUELLER, "1250.25", "2026-09-30", won=True),
    opp("0065g00000Op008AAA", MUELLER, "5000", "2026-05-01", won=True, deleted="true"),
    opp("0065g00000Op009AAA", SOCIETE, "10000", "2027-03-31"),               # open
    opp("0065g00000Op010AAA", "0015g00000ZZ997AAA", "100", "2026-05-01", won=True),  # orphan
    opp("0065g00000Op011AAA", ACME, "5000", "2026-11-01", won=True),         # as-of day: in
]

CONTRACT_HEADER = ["Id", "AccountId", "IsDeleted", "ContractNumber", "StartDate", "EndDate",
                   "ContractTerm", "Status", "StatusCode", "OwnerId", "CreatedDate"]

CONTRACTS = [
    ["8005g00000Ct001AAA", MUELLER, "false", "00000101", "2024-04-01", "2027-03-31", "36",
     "Activated", "Activated", OWNER, "2024-03-01T00:00:00.000Z"],
    ["8005g00000Ct002AAA", MUELLER, "false", "00000102", "2024-01-01", "2026-12-31", "36",
     "Activated", "Activated", OWNER, "2024-01-01T00:00:00.000Z"],
    ["8005g00000Ct003AAA", MUELLER, "false", "00000103", "2026-01-01", "2029-01-01", "36",
     "Draft", "Draft", OWNER, "2026-01-01T00:00:00.000Z"],
    ["8005g00000Ct004AAA", MUELLER, "true", "00000104", "2027-01-01", "2030-01-01", "36",
     "Activated", "Activated", OWNER, "2026-01-01T00:00:00.000Z"],
    # A relabelled status: StatusCode alone says it is activated.
    ["8005g00000Ct005AAA", SOCIETE, "false", "00000105", "2024-07-01", "2027-06-30", "36",
     "Signed and running", "Activated", OWNER, "2024-06-01T00:00:00.000Z"],
    # An export without the StatusCode value: Status alone is enough.
    ["8005g00000Ct006AAA", ACME, "false", "00000106", "2026-01-16", "2027-01-15", "12",
     "Activated", "", OWNER, "2026-01-01T00:00:00.000Z"],
]


def csv_bytes(header, rows, encoding="utf-8", bom=False):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # Salesforce writes CRLF
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


def export_files(encoding="utf-8", accounts=ACCOUNTS):
    """File name -> bytes, as the Data Export names them (Case in lower case
    here: names may differ in case)."""
    return {
        "Account.csv": csv_bytes(ACCOUNT_HEADER, accounts, encoding, bom=encoding == "utf-8"),
        "case.csv": csv_bytes(CASE_HEADER, CASES, encoding),
        "Opportunity.csv": csv_bytes(OPP_HEADER, OPPORTUNITIES, encoding),
        "Contract.csv": csv_bytes(CONTRACT_HEADER, CONTRACTS, encoding),
        "Contact.csv": csv_bytes(["Id", "AccountId", "LastName"], [["003A", MUELLER, "Ng"]]),
        "CaseComment.csv": csv_bytes(["Id", "ParentId", "CommentBody"], [["00aA", "x", "hi"]]),
    }


def write_zip(path: Path, files: dict[str, bytes], folder="WE_00D5g000000ABCD_1/",
              method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(folder + name, data)
    return path


@pytest.fixture
def export_zip(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "export.zip", export_files())


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "unzipped"
    folder.mkdir()
    for name, data in export_files().items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def corrupt_zip(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.zip"
    path.write_bytes(b"PK\x03\x04" + bytes(random.Random(7).randrange(256) for _ in range(300)))
    return path


def facts_of(runner: CliRunner, location: Path, *extra: str) -> tuple[dict, str]:
    result = runner.invoke(cli, ["facts", f"salesforce:{location}", "--json",
                                 "--as-of", AS_OF, *extra])
    assert result.exit_code == 0, result.output + result.stderr
    rows = json.loads(result.stdout)
    return {r["customer_id"]: r for r in rows}, result.stderr


# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------

def test_facts_per_account(export_zip: Path):
    facts, _ = facts_of(CliRunner(), export_zip)
    assert sorted(facts) == sorted([MUELLER, SOCIETE, TOKYO, ACME])  # deleted one left out
    m = facts[MUELLER]
    assert m["name"] == "Müller GmbH"
    assert m["owner_id"] == OWNER
    assert m["industry"] == "Manufacturing"
    assert m["account_type"] == "Customer - Direct"
    assert m["annual_revenue"] == 125000 and m["employees"] == 250
    assert m["customer_since"] == "2019-05-01"
    # Cases: 2025-11-01 is out, 2025-11-02 in, 2026-03-04 in, 2026-11-02 (after
    # as-of) out, 2026-11-01 in; the deleted case counts nowhere.
    assert m["cases_12m"] == 3
    assert m["open_cases"] == 2
    assert m["escalated_cases_12m"] == 2
    # Won: 125000.00 + 1250.25 (the one closed 2025-11-01 is out, the empty
    # amount is left out, the deleted one is skipped); open: 40000.50 + empty.
    assert m["won_revenue_12m"] == pytest.approx(126250.25)
    assert m["open_pipeline"] == pytest.approx(40000.5)
    assert m["contract_end"] == "2027-03-31"  # latest activated; the draft is ignored
    assert m["strategic_tier"] == "Gold"
    assert m["last_review"] == "2025-03-04"

    s = facts[SOCIETE]
    assert s["name"] == "Société Générale"
    assert (s["cases_12m"], s["open_cases"], s["escalated_cases_12m"]) == (1, 1, 0)
    assert (s["won_revenue_12m"], s["open_pipeline"]) == (0, 10000)
    assert s["contract_end"] == "2027-06-30"  # by StatusCode
    assert s["customer_since"] == "2021-02-10"  # the UTC date of the date-time
    assert s["last_review"] == "2026-01-15"  # a custom date-time field, parsed
    # Empty cells are missing facts, never 0 or "".
    for missing in ("strategic_tier", "annual_revenue", "employees"):
        assert missing not in s

    t = facts[TOKYO]
    assert t["name"] == "東京商事株式会社"
    assert t["annual_revenue"] == 9800000 and t["employees"] == 1200
    # No related rows at all: counts and sums are 0, the contract end is missing.
    assert (t["cases_12m"], t["open_cases"], t["escalated_cases_12m"]) == (0, 0, 0)
    assert (t["won_revenue_12m"], t["open_pipeline"]) == (0, 0)
    assert "contract_end" not in t

    a = facts[ACME]
    assert a["won_revenue_12m"] == 5000  # closed on the as-of day: in
    assert a["contract_end"] == "2027-01-15"  # by Status, StatusCode empty
    assert "last_review" not in a


def test_only_custom_fields_and_mapped_columns_become_facts(export_zip: Path):
    facts, _ = facts_of(CliRunner(), export_zip)
    m = facts[MUELLER]
    for column in ("BillingCity", "Phone", "Description", "IsDeleted", "billing_city"):
        assert column not in m
    assert "strategic_tier" in m and "Strategic_Tier__c" not in m


def test_provenance_names_file_rows_and_counts(export_zip: Path):
    facts, _ = facts_of(CliRunner(), export_zip)
    prov = facts[MUELLER]["_provenance"]
    case_file = f"{export_zip}:WE_00D5g000000ABCD_1/case.csv"
    opp_file = f"{export_zip}:WE_00D5g000000ABCD_1/Opportunity.csv"
    assert prov["cases_12m"] == f"{case_file}: 3 rows (rows 2, 3, 5)"
    assert prov["escalated_cases_12m"] == f"{case_file}: 2 rows (rows 2, 5)"
    assert prov["won_revenue_12m"] == f"{opp_file}: sum of Amount over 2 rows (rows 1, 7)"
    assert "Contract.csv row 1, EndDate" in prov["contract_end"]
    assert prov["name"].endswith("Account.csv row 1, Name")
    assert facts[TOKYO]["_provenance"]["cases_12m"] == f"{case_file}: 0 rows"


def test_many_rows_provenance_is_short(tmp_path: Path):
    cases = [case(f"5005g0000{i:05d}AAAA", MUELLER, "2026-06-01T00:00:00.000Z")
             for i in range(40)]
    files = {**export_files(), "case.csv": csv_bytes(CASE_HEADER, cases)}
    facts, _ = facts_of(CliRunner(), write_zip(tmp_path / "e.zip", files))
    assert facts[MUELLER]["cases_12m"] == 40
    assert facts[MUELLER]["_provenance"]["cases_12m"].endswith(": 40 rows (rows 1, 2, 3, ...)")


def test_orphans_and_empty_amounts_are_reported_not_dropped(export_zip: Path):
    _, stderr = facts_of(CliRunner(), export_zip)
    lines = [line for line in stderr.splitlines() if line.startswith("rejected: ")]
    case_file = f"{export_zip}:WE_00D5g000000ABCD_1/case.csv"
    opp_file = f"{export_zip}:WE_00D5g000000ABCD_1/Opportunity.csv"
    assert any(line.startswith(f"rejected: {case_file}:") and "row 9:" in line
               and f"AccountId {NOBODY} matches no account" in line for line in lines)
    assert any(f"{case_file}:" in line and "row 10:" in line and "AccountId is empty" in line
               for line in lines)
    assert any(f"{opp_file}:" in line and "row 10:" in line
               and "AccountId 0015g00000ZZ997AAA matches no account" in line for line in lines)
    assert any(f"{opp_file}:" in line and "row 3:" in line
               and "Amount is empty; left out of won_revenue_12m" in line for line in lines)
    assert any(f"{opp_file}:" in line and "row 5:" in line
               and "Amount is empty; left out of open_pipeline" in line for line in lines)
    # Nothing else: not the deleted rows, not the rows of the deleted account,
    # not the lost opportunity whose amount does not count anywhere.
    assert len(lines) == 5, lines
    assert DELETED not in stderr and "ZZ998" not in stderr


def test_folder_and_zip_give_the_same_facts(export_zip: Path, export_dir: Path):
    runner = CliRunner()
    from_zip, zip_err = facts_of(runner, export_zip)
    from_dir, dir_err = facts_of(runner, export_dir)

    def strip(facts):
        return {k: {n: v for n, v in r.items() if n != "_provenance"} for k, r in facts.items()}

    assert strip(from_zip) == strip(from_dir)
    assert zip_err.count("rejected:") == dir_err.count("rejected:") == 5
    assert f"{export_dir / 'case.csv'}:" in dir_err


def test_members_at_the_zip_root(tmp_path: Path, export_zip: Path):
    root = write_zip(tmp_path / "root.zip", export_files(), folder="")
    facts, _ = facts_of(CliRunner(), root)
    assert facts[MUELLER]["cases_12m"] == 3
    assert facts[MUELLER]["_provenance"]["cases_12m"].startswith(f"{root}:case.csv: ")


def test_cp1252_export(tmp_path: Path):
    accounts = [a for a in ACCOUNTS if a[0] != TOKYO]  # 東京 has no cp1252 form
    path = write_zip(tmp_path / "cp.zip", export_files("cp1252", accounts))
    facts, _ = facts_of(CliRunner(), path, "-o", "encoding=cp1252")
    assert facts[MUELLER]["name"] == "Müller GmbH"
    assert facts[SOCIETE]["name"] == "Société Générale"
    # Read as UTF-8 by mistake: one line naming the file and the way out.
    result = CliRunner().invoke(cli, ["facts", f"salesforce:{path}", "--as-of", AS_OF])
    assert result.exit_code == 2
    assert "Account.csv" in result.stderr and "encoding=cp1252" in result.stderr


def test_missing_related_files_leave_their_facts_missing(tmp_path: Path):
    files = {k: v for k, v in export_files().items() if k in ("Account.csv", "case.csv")}
    facts, _ = facts_of(CliRunner(), write_zip(tmp_path / "part.zip", files))
    m = facts[MUELLER]
    assert m["cases_12m"] == 3
    for fact in ("won_revenue_12m", "open_pipeline", "contract_end"):
        assert fact not in m


def test_a_column_missing_from_the_header_is_reported_and_leaves_the_fact_missing(
        tmp_path: Path):
    keep = [i for i, c in enumerate(CASE_HEADER) if c != "IsEscalated"]
    header = [CASE_HEADER[i] for i in keep]
    rows = [[r[i] for i in keep] for r in CASES]
    files = {**export_files(), "case.csv": csv_bytes(header, rows)}
    facts, stderr = facts_of(CliRunner(), write_zip(tmp_path / "fls.zip", files))
    assert facts[MUELLER]["cases_12m"] == 3
    assert "escalated_cases_12m" not in facts[MUELLER]
    assert "no IsEscalated column in the header; escalated_cases_12m is left missing" in stderr


def test_unreadable_related_values_are_reported(tmp_path: Path):
    cases = [case("5005g00000Cs001AAA", MUELLER, "01/06/2026"),
             case("5005g00000Cs002AAA", MUELLER, "2026-06-01T00:00:00.000Z", closed="maybe")]
    opps = [opp("0065g00000Op001AAA", MUELLER, "12k", "2026-02-15", won=True)]
    files = {**export_files(), "case.csv": csv_bytes(CASE_HEADER, cases),
             "Opportunity.csv": csv_bytes(OPP_HEADER, opps)}
    facts, stderr = facts_of(CliRunner(), write_zip(tmp_path / "bad.zip", files))
    m = facts[MUELLER]
    assert (m["cases_12m"], m["open_cases"], m["won_revenue_12m"]) == (1, 0, 0)
    assert "CreatedDate is '01/06/2026'" in stderr
    assert "IsClosed is 'maybe'" in stderr
    assert "Amount is '12k'" in stderr and "left out of won_revenue_12m" in stderr


# ---------------------------------------------------------------------------
# Evaluate
# ---------------------------------------------------------------------------

def test_evaluate_default_policy(export_zip: Path, tmp_path: Path):
    db = tmp_path / "adieu.db"
    args = ["evaluate", DEFAULT_POLICY, "--source", f"salesforce:{export_zip}",
            "--as-of", AS_OF, "--db", str(db), "--json"]
    # A Data Export has no revenue from us, no department hours, no incident
    # counts: the default policy's facts are not there. Said once, exit 2,
    # nothing stored, with the custom field that looks like one of them.
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2
    assert not db.exists()
    error = refused.stderr.strip()
    assert error.startswith(f"Error: {export_zip}:WE_00D5g000000ABCD_1/Account.csv:1: "
                            "no column for facts the policy uses: abuse_incidents_12m ")
    assert "reference_account (exemption 'strategic-accounts'; did you mean " \
           "'Reference_Customer__c'?)" in error
    assert "\n" not in error
    # Allowed on purpose: the rules that need them are unknown, reported as
    # missing data, and the run records which facts the source lacked.
    result = CliRunner().invoke(cli, [*args, "--allow-missing-facts"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["run"]["customers"] == 4
    assert out["run"]["rejected"] == 5
    assert {"revenue_12m", "hours_support_12m", "tier"} <= set(out["run"]["missing_facts"])
    assert "contract_end" not in out["run"]["missing_facts"]  # not used by an expression
    assert {d["customer_id"] for d in out["decisions"]} == {MUELLER, SOCIETE, TOKYO, ACME}
    assert all("revenue_12m" in d["missing"] for d in out["decisions"])
    with sqlite3.connect(db) as conn:
        facts = json.loads(conn.execute(
            "select facts from decisions where customer_id = ?", (MUELLER,)).fetchone()[0])
        stored = json.loads(conn.execute("select missing_facts from runs").fetchone()[0])
    assert facts["cases_12m"] == 3 and facts["contract_end"] == "2027-03-31"
    assert stored == out["run"]["missing_facts"]


POLICY = textwrap.dedent("""\
    version: 1
    name: crm
    facts:
      strategic_tier: {type: string}
      last_review: {type: date}
      reference_customer: {type: boolean}
    rules:
      - id: busy-support
        title: Many escalated cases
        when: cases_12m >= 3 and escalated_cases_12m >= 2
        action: flag
      - id: stale-review
        title: Review overdue
        when: days_since(last_review) > 365
        action: flag
      - id: reference
        title: Reference customer
        when: reference_customer and strategic_tier == "Gold"
        action: flag
      - id: pipeline
        title: Open pipeline
        when: open_pipeline > 20000 and won_revenue_12m > 100000
        action: flag
    """)


def test_contract_end_is_a_column_even_when_no_account_has_an_activated_contract(
        tmp_path: Path):
    drafts = [[*c[:7], "Draft", "Draft", *c[9:]] for c in CONTRACTS]
    files = {**export_files(), "Contract.csv": csv_bytes(CONTRACT_HEADER, drafts)}
    export = write_zip(tmp_path / "drafts.zip", files)
    policy = tmp_path / "ending.yaml"
    policy.write_text(textwrap.dedent("""\
        version: 1
        name: ending
        rules:
          - id: ending-soon
            when: days_until(contract_end) < 90
            action: flag
        """), encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", str(policy), "--source",
                                      f"salesforce:{export}", "--as-of", AS_OF,
                                      "--db", str(tmp_path / "d.db"), "--json"])
    assert result.exit_code == 0, result.output  # a missing value, not a missing column
    out = json.loads(result.stdout)
    assert out["run"]["missing_facts"] == []
    assert all(d["missing"] == ["contract_end"] for d in out["decisions"])
    # Without Contract.csv the export has no such column: an error naming
    # the export and the missing file, not Account.csv.
    del files["Contract.csv"]
    partial = write_zip(tmp_path / 'n.zip', files)
    result = CliRunner().invoke(cli, ["evaluate", str(policy), "--source",
                                      f"salesforce:{partial}", "--as-of", AS_OF,
                                      "--db", str(tmp_path / "e.db")])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {partial}: no Contract.csv in the export, so there is no fact contract_end "
        "(rule 'ending-soon') for the policy; ")


def test_custom_fields_are_typed_for_policies(export_zip: Path, tmp_path: Path):
    policy = tmp_path / "crm.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", str(policy), "--source",
                                      f"salesforce:{export_zip}", "--as-of", AS_OF,
                                      "--db", str(tmp_path / "db.sqlite"), "--json"])
    assert result.exit_code == 0, result.output
    decisions = {d["customer_id"]: d for d in json.loads(result.stdout)["decisions"]}
    fired = {cid: {r["rule"] for r in d["fired"]} for cid, d in decisions.items()}
    assert fired[MUELLER] == {"busy-support", "stale-review", "reference", "pipeline"}
    assert fired[SOCIETE] == set()  # reviewed 2026-01-15: not stale; not a reference
    assert "last_review" in decisions[ACME]["missing"]  # empty custom field: missing


# ---------------------------------------------------------------------------
# Conformance and bad input
# ---------------------------------------------------------------------------

def test_conformance_kit(export_zip: Path, corrupt_zip: Path, export_dir: Path):
    check_plugin(sf)
    records = check_source("salesforce", str(export_zip), bad_location=str(corrupt_zip))
    assert len(records) == 4
    assert len(check_source(sf, str(export_dir))) == 4


def _bad(runner: CliRunner, location: Path, tmp_path: Path) -> str:
    db = tmp_path / "bad.db"
    result = runner.invoke(cli, ["evaluate", DEFAULT_POLICY, "--source",
                                 f"salesforce:{location}", "--as-of", AS_OF, "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert not db.exists()  # nothing written
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_corrupt_zip(corrupt_zip: Path, tmp_path: Path):
    line = _bad(CliRunner(), corrupt_zip, tmp_path)
    assert str(corrupt_zip) in line and "not a readable zip archive" in line


def test_truncated_zip(export_zip: Path, tmp_path: Path):
    cut = tmp_path / "cut.zip"
    cut.write_bytes(export_zip.read_bytes()[:600])
    line = _bad(CliRunner(), cut, tmp_path)
    assert str(cut) in line and "not a readable zip archive" in line


def test_damaged_member_names_member_and_row(tmp_path: Path):
    many = CASES + [case(f"5005g0000{i:05d}AAAA", MUELLER, "2026-06-01T00:00:00.000Z",
                         description="long text, " * 20) for i in range(500)]
    files = {**export_files(), "case.csv": csv_bytes(CASE_HEADER, many)}
    path = write_zip(tmp_path / "crc.zip", files, method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.rindex(b"Printer on fire")  # near the end of case.csv, stored as is
    data[at] = ord("p")  # same length, still CSV: only the checksum tells
    path.write_bytes(bytes(data))
    line = _bad(CliRunner(), path, tmp_path)
    assert f"{path}:WE_00D5g000000ABCD_1/case.csv:" in line
    assert "corrupt zip data, noticed after row " in line and "Bad CRC-32" in line


def test_zip_without_account_csv(tmp_path: Path):
    files = {k: v for k, v in export_files().items() if k != "Account.csv"}
    path = write_zip(tmp_path / "noacc.zip", files)
    line = _bad(CliRunner(), path, tmp_path)
    assert str(path) in line and "no Account.csv in the export" in line
    assert "Opportunity.csv" in line  # what was found instead


def test_missing_location_and_bad_encoding(tmp_path: Path, export_zip: Path):
    line = _bad(CliRunner(), tmp_path / "nowhere.zip", tmp_path)
    assert "nowhere.zip" in line and "no such file or folder" in line
    result = CliRunner().invoke(cli, ["facts", f"salesforce:{export_zip}", "-o",
                                      "encoding=ebcdic"])
    assert result.exit_code == 2 and "unknown encoding 'ebcdic'" in result.stderr


def test_account_csv_without_id_column(tmp_path: Path):
    files = {**export_files(), "Account.csv": csv_bytes(["Name", "Industry"], [["X", "Y"]])}
    path = write_zip(tmp_path / "noid.zip", files)
    line = _bad(CliRunner(), path, tmp_path)
    assert "Account.csv:1" in line and "no Id column" in line


# ---------------------------------------------------------------------------
# Memory: per-account numbers, not rows (counted, not timed)
# ---------------------------------------------------------------------------

def test_related_rows_are_folded_into_per_account_totals(tmp_path: Path):
    accounts = [f"0015g0000{i:05d}AAAA" for i in range(100)]
    rnd = random.Random(1)
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "Account.csv").write_bytes(csv_bytes(
        ACCOUNT_HEADER, [account(a, f"Account {i}") for i, a in enumerate(accounts)]))
    with open(folder / "Case.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(CASE_HEADER)
        for i in range(50_000):
            writer.writerow(case(f"5005g{i:013d}", accounts[i % 100],
                                 f"2026-{rnd.randint(1, 10):02d}-15T10:00:00.000Z",
                                 description="A long description, " * 5))
    size = (folder / "Case.csv").stat().st_size
    as_of = dt.date.fromisoformat(AS_OF)

    with sf.Export(str(folder)) as export:
        related = sf.aggregate_related(export, as_of)
    assert len(related.totals) == 100
    assert sum(t.tallies["cases_12m"].count for t in related.totals.values()) == 50_000
    assert all(len(t.tallies["cases_12m"].rows) <= sf.SAMPLE_ROWS
               for t in related.totals.values())

    tracemalloc.start()
    try:
        records = sf.read_salesforce(str(folder), SourceContext(as_of))
        count = sum(1 for r in records if r.error is None and not r.is_note)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100
    assert peak < size / 10, (peak, size)


def test_reader_streams_and_raises_input_error_lazily(corrupt_zip: Path):
    records = sf.read_salesforce(str(corrupt_zip), SourceContext(dt.date(2026, 11, 1)))
    assert iter(records) is records
    with pytest.raises(InputError) as info:
        next(records)
    assert info.value.location.file == str(corrupt_zip)


def test_unzipped_into_a_sub_folder_and_duplicate_files(tmp_path: Path):
    folder = tmp_path / "download"
    (folder / "WE_00D5g000000ABCD_1").mkdir(parents=True)
    for name, data in export_files().items():
        (folder / "WE_00D5g000000ABCD_1" / name).write_bytes(data)
    facts, _ = facts_of(CliRunner(), folder)
    assert facts[MUELLER]["cases_12m"] == 3
    # Two exports in one place: which Account.csv is meant is not guessed.
    (folder / "ACCOUNT.CSV").write_bytes(export_files()["Account.csv"])
    line = _bad(CliRunner(), folder, tmp_path)
    assert "appears twice" in line and "WE_00D5g000000ABCD_1/Account.csv" in line


def test_left_out_amounts_are_stored_as_rejects_of_their_customer(export_zip: Path,
                                                                   tmp_path: Path):
    result = CliRunner().invoke(cli, ["evaluate", DEFAULT_POLICY, "--source",
                                      f"salesforce:{export_zip}", "--as-of", AS_OF,
                                      "--db", str(tmp_path / "r.db"), "--json",
                                      "--allow-missing-facts"])
    assert result.exit_code == 0, result.output
    rejects = json.loads(result.stdout)["rejects"]
    amounts = [r for r in rejects if "Amount is empty" in r["reason"]]
    assert [(r["row"], r["customer_id"]) for r in amounts] == [(3, MUELLER), (5, MUELLER)]
    orphans = [r for r in rejects if "matches no account" in r["reason"]]
    assert {(r["file"].rsplit("/", 1)[-1], r["row"]) for r in orphans} == \
        {("case.csv", 9), ("Opportunity.csv", 10)}


# ---------------------------------------------------------------------------
# Numbers: Amount is read by adieu's one strict rule (adieu.read_number:
# ASCII digits 0-9, no separators, below 60 digits) and summed exactly
# (adieu.add_exact), never rounded.
# ---------------------------------------------------------------------------

def won_amounts(tmp_path: Path, amounts: list[str]) -> Path:
    """The export with Müller's opportunities replaced by won ones (in the
    window) of these amounts, rows 1, 2, ..."""
    opps = [opp(f"0065g00000Op{n:03d}AAA", MUELLER, amount, "2026-06-01", won=True)
            for n, amount in enumerate(amounts, 1)]
    files = {**export_files(), "Opportunity.csv": csv_bytes(OPP_HEADER, opps)}
    return write_zip(tmp_path / "numbers.zip", files)


def exact_facts(location: Path) -> tuple[dict, list[str]]:
    result = CliRunner().invoke(cli, ["facts", f"salesforce:{location}", "--json",
                                      "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    rows = {r["customer_id"]: r for r in json.loads(result.stdout, parse_float=Decimal)}
    rejects = [line for line in result.stderr.splitlines()
               if line.startswith("rejected:") and "Opportunity.csv" in line]
    return rows[MUELLER], rejects


@pytest.mark.parametrize("amount, why", [
    ("1_000", "no digit separators"),
    ("1 000", "no digit separators"),
    ("١٢", "'١' (U+0661) is not one of the digits 0-9"),            # Arabic-Indic
    ("１２", "'１' (U+FF11) is not one of the digits 0-9"),          # full-width
    ("𝟙", "'𝟙' (U+1D7D9) is not one of the digits 0-9"),
    ("Infinity", "not a plain number like 1234.5"),
])
def test_amounts_in_other_forms_are_left_out_and_reported(tmp_path: Path, amount: str,
                                                          why: str) -> None:
    row, rejects = exact_facts(won_amounts(tmp_path, [amount, "5"]))
    assert row["won_revenue_12m"] == 5
    (reject,) = rejects
    assert f"Opportunity.csv:2: row 1: Amount is {amount!r}: not a plain number" in reject
    assert why in reject and reject.endswith("; left out of won_revenue_12m")


def test_the_testers_amounts_sum_to_nothing_not_1012(tmp_path: Path) -> None:
    row, rejects = exact_facts(won_amounts(tmp_path, ["1_000", "١٢"]))
    assert row["won_revenue_12m"] == 0
    assert len(rejects) == 2


@pytest.mark.parametrize("amount", ["1e400", "1" * 61, "-9.5e60"])
def test_an_absurd_amount_is_left_out_not_the_account(tmp_path: Path, amount: str) -> None:
    # Before: 1e400 rejected the whole account ("won_revenue_12m: value too large").
    row, rejects = exact_facts(won_amounts(tmp_path, [amount, "5"]))
    assert row["won_revenue_12m"] == 5 and row["name"] == "Müller GmbH"
    (reject,) = rejects
    assert f"row 1: Amount is {amount!r}: value too large (over 60 digits); left out of " \
        "won_revenue_12m" in reject


def test_sums_are_exact_past_28_digits(tmp_path: Path) -> None:
    row, rejects = exact_facts(won_amounts(tmp_path, ["12345678901234567890.123456789",
                                                      "0.000000002"]))
    assert rejects == []
    assert row["won_revenue_12m"] == Decimal("12345678901234567890.123456791")


@pytest.mark.parametrize("amounts, why", [
    (["1e59", "0.000001"], "the exact result needs more than 60 significant digits"),
    (["9e59", "9e59"], "value too large (over 60 digits)"),
])
def test_a_sum_that_cannot_be_exact_is_unknown_and_reported(
        tmp_path: Path, amounts: list[str], why: str) -> None:
    location = won_amounts(tmp_path, [*amounts, "5"])
    row, rejects = exact_facts(location)
    assert "won_revenue_12m" not in row       # unknown: never rounded, never a part
    assert row["open_pipeline"] == 0          # the account's other figures stay
    (reject,) = rejects
    assert reject.endswith(f"Opportunity.csv:4: row 2: Amount {amounts[1]!r} cannot be added "
                           f"to the account's won_revenue_12m exactly: {why}; "
                           "won_revenue_12m is unknown, not rounded")
    context = SourceContext(dt.date(2026, 11, 1))
    (record,) = [r for r in sf.read_salesforce(str(location), context)
                 if r.values.get("Id") == MUELLER and not r.error]
    assert "won_revenue_12m" in record.values and record.values["won_revenue_12m"] is None
    assert record.provenance["won_revenue_12m"].endswith(
        f"; the sum is unknown: {why} (adding row 2)")


def test_the_reject_names_the_account(tmp_path: Path) -> None:
    location = won_amounts(tmp_path, ["9e59", "9e59"])
    result = CliRunner().invoke(cli, ["evaluate", DEFAULT_POLICY, "--source",
                                      f"salesforce:{location}", "--as-of", AS_OF,
                                      "--db", str(tmp_path / "r.db"), "--json",
                                      "--allow-missing-facts"])
    assert result.exit_code == 0, result.output
    rejects = json.loads(result.stdout)["rejects"]
    assert [(r["row"], r["customer_id"], r["reason"].split(":")[0]) for r in rejects
            if "cannot be added" in r["reason"]] == [
        (2, MUELLER, "Amount '9e59' cannot be added to the account's won_revenue_12m exactly")]


def test_the_documented_amount_rejects_are_what_adieu_prints(tmp_path: Path) -> None:
    doc = " ".join((Path(__file__).parents[1] / "docs" / "sources.md")
                   .read_text(encoding="utf-8").split())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, rejects = exact_facts(won_amounts(tmp_path / "a", ["1e400"]))
    _, more = exact_facts(won_amounts(tmp_path / "b", ["1e59", "0.000001"]))
    for reject in (rejects[0], more[0]):
        message = reject.split(": row ")[1].split(": ", 1)[1]
        assert f": {message}`" in doc, message
