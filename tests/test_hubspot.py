"""The hubspot source: CRM v3 API page dumps and the UI's CSV export.

The fixtures are written into tmp_path from the real formats, warts
included: pages linked by paging.next.after, v3 and v4 association shapes
on both sides, archived records, orphans, null properties, numbers as
text, an empty amount, epoch-millisecond dates, non-ASCII names."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import adieu.testing
from adieu.cli import cli
from adieu.errors import InputError
from adieu.sources import SourceContext
from adieu_plugins.hubspot_source import parse_date, read_hubspot
from adieu_plugins.hubspot_values import iso_from_epoch

AS_OF = "2026-11-01"  # the 12-month window is 2025-11-02 .. 2026-11-01


def epoch_ms(*args: int) -> str:
    moment = dt.datetime(*args, tzinfo=dt.timezone.utc)
    return str(int(moment.timestamp() * 1000))


def v3(kind: str, *ids: str) -> dict:
    return {"results": [{"id": i, "type": kind} for i in ids]}


def v4(*ids: int, type_id: int = 26) -> dict:
    return {"results": [{"toObjectId": i, "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]} for i in ids]}


def company(cid: str, props: dict, associations: dict | None = None,
            archived: bool = False, with_object_id: bool = True) -> dict:
    properties = {"createdate": "2019-03-04T10:15:00.000Z",
                  "hs_lastmodifieddate": "2026-10-01T08:00:00.000Z", **props}
    if with_object_id:
        properties["hs_object_id"] = cid
    item = {"id": cid, "properties": properties, "createdAt": "2019-03-04T10:15:00.000Z",
            "updatedAt": "2026-10-01T08:00:00.000Z", "archived": archived}
    if associations:
        item["associations"] = associations
    return item


def ticket(tid: str, created: str, stage: str | None, associations: dict | None = None,
           archived: bool = False) -> dict:
    item = {"id": tid, "properties": {"createdate": created, "hs_pipeline": "0",
                                      "hs_pipeline_stage": stage, "subject": f"Ticket {tid}",
                                      "hs_object_id": tid},
            "createdAt": created, "archived": archived}
    if associations:
        item["associations"] = associations
    return item


def deal(did: str, stage: str, closedate: str | None, amount: str | None,
         associations: dict | None = None, archived: bool = False) -> dict:
    item = {"id": did, "properties": {"dealname": f"Deal {did}", "dealstage": stage,
                                      "pipeline": "default", "closedate": closedate,
                                      "amount": amount, "hs_object_id": did},
            "archived": archived}
    if associations:
        item["associations"] = associations
    return item


def page(results: list, after: str | None = None) -> dict:
    out: dict = {"results": results}
    if after:
        out["paging"] = {"next": {"after": after, "link": "https://api.hubapi.com/crm/v3/"
                                  f"objects/x?after={after}"}}
    return out


COMPANY_PAGES = [
    page([
        # v3 associations on the company; ticket 11 twice (two association types).
        company("101", {"name": "Müller GmbH", "annualrevenue": "125000.50",
                        "numberofemployees": "250", "industry": "MACHINERY",
                        "hubspot_owner_id": "9001", "lifecyclestage": "customer",
                        "customer_health_score": "82", "domain": "mueller.de"},
                {"tickets": {"results": [{"id": "11", "type": "company_to_ticket"},
                                         {"id": "11", "type": "company_to_ticket_unlabeled"},
                                         {"id": "12", "type": "company_to_ticket"}]},
                 "deals": v3("company_to_deal", "21", "22", "23", "24", "25", "26", "29")}),
        # v4 associations; null properties; createdate in epoch milliseconds.
        company("102", {"name": "São Paulo Ltda", "annualrevenue": None,
                        "numberofemployees": None, "industry": None,
                        "customer_health_score": None, "lifecyclestage": "customer",
                        "createdate": epoch_ms(2019, 3, 4, 10, 15)},
                {"tickets": v4(14), "deals": v4(27, type_id=342)}),
        # Archived: not a customer; its ticket 15 is no orphan.
        company("103", {"name": "Gelöscht AG"}, {"tickets": v3("company_to_ticket", "15")},
                archived=True),
    ], after="104"),
    page([
        # No hs_object_id property: the id is used. No related records at all.
        company("104", {"name": "東京 株式会社", "annualrevenue": "9800000",
                        "numberofemployees": "1200", "industry": "RETAIL"},
                with_object_id=False),
        # Linked only from the ticket and deal side.
        company("105", {"name": 'Smith, "Jones" & Co', "annualrevenue": "",
                        "customer_health_score": "40"}),
    ]),
]

TICKET_PAGES = [
    page([
        ticket("11", "2026-03-01T09:00:00.000Z", "4"),             # in window, closed
        ticket("12", "2026-10-30T23:59:00.000Z", "1"),             # in window, open
        ticket("13", "2025-06-01T10:00:00.000Z", "2",              # old, open; v3 on ticket
               {"companies": v3("ticket_to_company", "101")}),
        ticket("14", "2026-01-15T08:00:00Z", "4"),                 # 102 via v4 on company
        ticket("15", "2026-02-01T08:00:00.000Z", "1"),             # archived company's
        ticket("17", "2026-02-01T08:00:00.000Z", "1",              # archived ticket
               {"companies": v3("ticket_to_company", "101")}, archived=True),
        ticket("18", "2026-02-01T08:00:00.000Z", "1",              # orphan: 999 not dumped
               {"companies": v3("ticket_to_company", "999")}),
    ], after="19"),
    page([
        ticket("16", epoch_ms(2026, 7, 1, 12), "3",                # epoch ms; v4 on ticket
               {"companies": v4(105, type_id=339)}),
    ]),
]

DEAL_PAGES = [
    page([
        deal("21", "closedwon", "2025-11-01T12:00:00.000Z", "10000"),   # as-of - 365: out
        deal("22", "closedwon", epoch_ms(2025, 11, 2, 9), "125000.50"),  # a day later: in
        deal("23", "appointmentscheduled", "2027-01-31T00:00:00.000Z", "50000"),  # open
        deal("24", "qualifiedtobuy", None, ""),                          # open, empty amount
        deal("25", "closedlost", "2026-05-01T00:00:00.000Z", "7000"),    # lost: no sum
        deal("26", "closedwon", "2026-05-01T00:00:00.000Z", "49999.50"),
        deal("27", "closedwon", "2026-02-01", "3000"),                   # 102 (v4)
        deal("28", "contractsent", None, "2500.25",
             {"companies": v3("deal_to_company", "105")}),
        deal("29", "closedwon", "2026-05-01T00:00:00.000Z", "999999",    # archived deal
             archived=True),
        deal("30", "closedwon", "2026-05-01T00:00:00.000Z", "1000"),     # orphan
    ]),
]

EXPECTED = {
    "101": {"tickets_12m": 2, "open_tickets": 2, "won_revenue_12m": 175000,
            "open_pipeline": 50000},
    "102": {"tickets_12m": 1, "open_tickets": 0, "won_revenue_12m": 3000, "open_pipeline": 0},
    "104": {"tickets_12m": 0, "open_tickets": 0, "won_revenue_12m": 0, "open_pipeline": 0},
    "105": {"tickets_12m": 1, "open_tickets": 1, "won_revenue_12m": 0,
            "open_pipeline": 2500.25},
}


def write_pages(folder: Path, kind: str, pages: list[dict]) -> None:
    for i, p in enumerate(pages, 1):
        (folder / f"{kind}_{i:04d}.json").write_text(
            json.dumps(p, indent=2, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    folder = tmp_path / "dump"
    folder.mkdir()
    write_pages(folder, "companies", COMPANY_PAGES)
    write_pages(folder, "tickets", TICKET_PAGES)
    write_pages(folder, "deals", DEAL_PAGES)
    (folder / "README.txt").write_text("saved by hubspot_dump.py\n", encoding="utf-8")
    return folder


EXPORT = (
    "Record ID,Company name,Company Domain Name,Create Date,Company owner,Annual Revenue,"
    "Industry,Number of Employees,Lifecycle Stage,Customer Health Score,About Us\r\n"
    '201,Müller GmbH,mueller.de,2019-03-04 10:15,Anna Schmidt,125000.5,MACHINERY,250,'
    'Customer,82,"Makes machines, ""big"" ones.\r\nSince 1950."\r\n'
    '202,東京 株式会社,tokyo.example,2021-07-01 00:00,Kenji Sato,,RETAIL,,Lead,,\r\n'
    '203,"Smith, ""Jones"" & Co",,2024-01-02 13:45,,12k,,,Customer,40,\r\n'
)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "hubspot-crm-exports-all-companies-2026-11-01.csv"
    path.write_bytes(b"\xef\xbb\xbf" + EXPORT.encode("utf-8"))
    return path


def facts(runner: CliRunner, source: str, *extra: str):
    result = runner.invoke(cli, ["facts", source, "--json", "--as-of", AS_OF, *extra])
    return result, (json.loads(result.stdout) if result.exit_code == 0 else None)


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["customer_id"]: row for row in rows}


def test_dump_gives_expected_facts_per_company(runner: CliRunner, dump: Path) -> None:
    result, rows = facts(runner, f"hubspot:{dump}")
    assert result.exit_code == 0, result.output
    got = by_id(rows)
    assert sorted(got) == ["101", "102", "104", "105"]  # 103 is archived
    for cid, expected in EXPECTED.items():
        for fact, value in expected.items():
            assert got[cid][fact] == value, (cid, fact, got[cid][fact])
    mueller = got["101"]
    assert mueller["name"] == "Müller GmbH"
    assert mueller["annual_revenue"] == 125000.5
    assert mueller["employees"] == 250
    assert mueller["industry"] == "MACHINERY"
    assert mueller["owner_id"] == "9001"
    assert mueller["account_type"] == "customer"
    assert mueller["customer_since"] == "2019-03-04"
    assert mueller["customer_health_score"] == "82"  # custom property by internal name
    assert got["104"]["name"] == "東京 株式会社"
    assert got["105"]["name"] == 'Smith, "Jones" & Co'


def test_nulls_are_missing_and_epoch_dates_are_read(runner: CliRunner, dump: Path) -> None:
    _, rows = facts(runner, f"hubspot:{dump}")
    sao = by_id(rows)["102"]
    assert sao["name"] == "São Paulo Ltda"
    for missing in ("annual_revenue", "employees", "industry", "customer_health_score"):
        assert missing not in sao
    assert sao["customer_since"] == "2019-03-04"  # createdate in epoch milliseconds
    assert "annual_revenue" not in by_id(rows)["105"]  # empty text is missing too


def test_provenance_names_files_and_records(runner: CliRunner, dump: Path) -> None:
    _, rows = facts(runner, f"hubspot:{dump}")
    prov = by_id(rows)["101"]["_provenance"]
    assert prov["tickets_12m"].startswith("tickets_0001.json: 2 tickets created "
                                          "2025-11-02..2026-11-01 (ids 11, 12)")
    assert "(ids 12, 13)" in prov["open_tickets"]
    assert "(ids 22, 26)" in prov["won_revenue_12m"] and "sum 175000" in \
        prov["won_revenue_12m"]
    assert "deal 24" in prov["open_pipeline"]  # the empty amount left out, said so
    assert "companies_0001.json row 1" in prov["name"]
    assert "tickets_0002.json: 1 ticket" in by_id(rows)["105"]["_provenance"]["tickets_12m"]
    assert by_id(rows)["104"]["_provenance"]["tickets_12m"].startswith("no tickets created")


def test_orphans_and_empty_amounts_are_rejects(runner: CliRunner, dump: Path) -> None:
    result, _ = facts(runner, f"hubspot:{dump}")
    rejects = [line for line in result.stderr.splitlines() if line.startswith("rejected:")]
    assert len(rejects) == 3, result.stderr
    text = "\n".join(rejects)
    assert "tickets_0001.json" in text and "row 7" in text
    assert "ticket 18 is associated with no company in the dump" in text
    assert "deal 30 is associated with no company in the dump" in text
    assert "deal 24 (company 101): no amount (left out of open_pipeline)" in text
    # archived ticket 17, archived deal 29 and the archived company's ticket 15: silent
    for quiet in ("ticket 15", "ticket 17", "deal 29", "deal 21", "deal 25"):
        assert quiet not in text


def test_limit_counts_customers_not_rejects(runner: CliRunner, dump: Path) -> None:
    result, rows = facts(runner, f"hubspot:{dump}", "--limit", "2")
    assert [row["customer_id"] for row in rows] == ["101", "102"]


def test_stage_options_change_what_counts(runner: CliRunner, dump: Path) -> None:
    _, rows = facts(runner, f"hubspot:{dump}", "-o", "ticket_closed_stages=4,3",
                    "-o", "deal_won_stages=closedwon,contractsent")
    got = by_id(rows)
    assert got["105"]["open_tickets"] == 0          # stage 3 now closed
    assert got["105"]["open_pipeline"] == 0         # contractsent now won (and closed) ...
    assert got["105"]["won_revenue_12m"] == 0       # ... but with no closedate: reported
    result, _ = facts(runner, f"hubspot:{dump}", "-o", "deal_won_stages=closedwon,contractsent")
    assert "deal 28 (company 105): no closedate (left out of won_revenue_12m)" in result.stderr


def test_missing_tickets_are_unknown_not_zero(runner: CliRunner, dump: Path) -> None:
    for path in dump.glob("tickets_*.json"):
        path.unlink()
    result, rows = facts(runner, f"hubspot:{dump}")
    assert result.exit_code == 0, result.output
    for row in rows:
        assert "tickets_12m" not in row and "open_tickets" not in row
    assert by_id(rows)["101"]["won_revenue_12m"] == 175000


@pytest.mark.parametrize("layout", ["array", "jsonl", "gzip"])
def test_several_pages_in_one_file(tmp_path: Path, runner: CliRunner, layout: str) -> None:
    folder = tmp_path / layout
    folder.mkdir()
    for kind, pages in (("companies", COMPANY_PAGES), ("tickets", TICKET_PAGES),
                        ("deals", DEAL_PAGES)):
        if layout == "array":
            (folder / f"{kind}.json").write_text(json.dumps(pages, indent=1), "utf-8")
        else:
            text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages)
            if layout == "gzip":
                (folder / f"{kind}.jsonl.gz").write_bytes(gzip.compress(text.encode()))
            else:
                (folder / f"{kind}.jsonl").write_text(text, "utf-8")
    result, rows = facts(runner, f"hubspot:{folder}")
    assert result.exit_code == 0, result.output
    got = by_id(rows)
    for cid, expected in EXPECTED.items():
        assert {k: got[cid][k] for k in expected} == expected
    assert result.stderr.count("rejected:") == 3


def test_ui_export_csv_by_label_mapping(runner: CliRunner, export: Path) -> None:
    # The export writes date-times in the account's time zone, without it:
    # the option names it (tests/test_datetime_utc.py has the cases).
    result, rows = facts(runner, f"hubspot:{export}", "-o", "timezone=Europe/Berlin")
    assert result.exit_code == 0, result.output
    got = by_id(rows)
    assert sorted(got) == ["201", "202"]
    mueller = got["201"]
    assert mueller["name"] == "Müller GmbH"
    assert mueller["owner"] == "Anna Schmidt"
    assert mueller["annual_revenue"] == 125000.5
    assert mueller["employees"] == 250
    assert mueller["industry"] == "MACHINERY"
    assert mueller["customer_since"] == "2019-03-04"
    assert mueller["account_type"] == "Customer"
    assert mueller["customer_health_score"] == "82"   # label in snake case
    assert mueller["about_us"] == 'Makes machines, "big" ones.\r\nSince 1950.'
    assert "tickets_12m" not in mueller  # no tickets in a UI export: unknown, not 0
    assert "customer_health_score" not in got["202"]
    assert "Record ID" in mueller["_provenance"]["customer_id"]
    # 12k is not a number: the row is rejected with the label named
    assert "'Annual Revenue'" in result.stderr and "row 3" in result.stderr


def test_evaluate_default_policy(runner: CliRunner, dump: Path, tmp_path: Path) -> None:
    db = tmp_path / "adieu.db"
    args = ["evaluate", "policies/default.yaml", "--source", f"hubspot:{dump}",
            "--as-of", AS_OF, "--db", str(db), "--json"]
    # HubSpot companies carry no revenue from us, no department hours and no
    # incident counts: the default policy's facts are missing, an error ...
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Error: {dump / 'companies_0001.json'}: no column for "
                                     "facts the policy uses: abuse_incidents_12m ")
    assert not db.exists()
    # ... unless allowed: then the run records them.
    result = runner.invoke(cli, [*args, "--allow-missing-facts"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out["decisions"]) == 4
    assert len(out["rejects"]) == 3
    assert {"revenue_12m", "late_payments_12m"} <= set(out["run"]["missing_facts"])


def test_conformance_kit(dump: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    text = json.dumps(COMPANY_PAGES[1], indent=2)
    (bad / "companies_0001.json").write_text(text[: len(text) // 2], encoding="utf-8")
    records = adieu.testing.check_source("hubspot", str(dump), bad_location=str(bad),
                                         as_of=dt.date(2026, 11, 1), min_records=4)
    facts_of = {r.customer_id: r.facts for r in records}
    assert facts_of["101"]["won_revenue_12m"] == 175000
    assert facts_of["102"]["customer_since"] == dt.date(2019, 3, 4)


def _no_runs(db: Path) -> bool:
    if not db.exists():
        return True
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
        return "runs" not in tables or not conn.execute("select count(*) from runs").fetchone()[0]


@pytest.mark.parametrize("case", ["truncated", "no_results", "truncated_array"])
def test_bad_pages_exit_2_with_file_line_column(runner: CliRunner, dump: Path,
                                                tmp_path: Path, case: str) -> None:
    target = dump / "tickets_0002.json"
    if case == "truncated":
        text = json.dumps(TICKET_PAGES[1], indent=2)
        text = text[: text.index('"hs_pipeline"') + 10]
    elif case == "no_results":
        text = json.dumps({"status": "error", "message": "rate limited"}, indent=2)
    else:
        target.unlink()
        target = dump / "tickets_0003.json"
        text = json.dumps(TICKET_PAGES, indent=2)[:-30]
    target.write_text(text, encoding="utf-8")
    if case == "no_results":
        where = f"{target}:1:1"
    else:
        with pytest.raises(json.JSONDecodeError) as info:
            json.loads(text)
        where = f"{target}:{info.value.lineno}:{info.value.colno}"
    db = tmp_path / "adieu.db"
    result = runner.invoke(cli, ["evaluate", "policies/default.yaml", "--source",
                                 f"hubspot:{dump}", "--as-of", AS_OF, "--db", str(db)])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert where in errors[0]
    assert ("truncated JSON" if case != "no_results" else 'no "results" list') in errors[0]
    assert _no_runs(db)


def test_incomplete_dump_is_an_error(runner: CliRunner, dump: Path) -> None:
    (dump / "companies_0002.json").unlink()  # page 1 says there is a next page
    result, _ = facts(runner, f"hubspot:{dump}")
    assert result.exit_code == 2
    assert "companies_0001.json" in result.stderr and "incomplete" in result.stderr


def test_reader_streams_and_reports_bad_locations(tmp_path: Path) -> None:
    context = SourceContext(dt.date(2026, 11, 1))
    with pytest.raises(InputError, match="no such folder"):
        next(read_hubspot(str(tmp_path / "nowhere"), context))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no companies"):
        next(read_hubspot(str(tmp_path / "empty"), context))


@pytest.mark.parametrize("text, expected", [
    ("2025-03-04", dt.date(2025, 3, 4)),
    ("2025-03-04T23:15:00.000Z", dt.date(2025, 3, 4)),
    ("2025-03-04T23:15:00.5+00:00", dt.date(2025, 3, 4)),
    ("2025-03-04T23:30:00-02:00", dt.date(2025, 3, 5)),   # to UTC
    ("1741130100000", dt.date(2025, 3, 4)),               # epoch ms text
    (1741130100000, dt.date(2025, 3, 4)),                 # epoch ms number
    ("", None), (None, None),
])
def test_parse_date(text, expected) -> None:
    assert parse_date(text) == expected


def test_parse_date_rejects_text() -> None:
    with pytest.raises(ValueError):
        parse_date("next week")


# --------------------------------------------------------------------------
# Numbers: every amount and epoch date is read by adieu's one strict rule
# (adieu.read_number: ASCII digits 0-9, no separators, below 60 digits) and
# summed exactly (adieu.add_exact), never rounded.
# --------------------------------------------------------------------------

def won_deals(tmp_path: Path, amounts: list, *, closedates: list | None = None,
              raw: str | None = None) -> Path:
    """Company 101 with one won deal (in the window) per amount: deal 21, 22, ...
    raw replaces the deals file's text."""
    folder = tmp_path / "numbers"
    folder.mkdir()
    write_pages(folder, "companies", [page([company("101", {"name": "Müller GmbH"})])])
    write_pages(folder, "tickets", [page([])])
    dates = closedates or ["2026-06-01T09:00:00.000Z"] * len(amounts)
    deals = [deal(str(21 + i), "closedwon", d, a, {"companies": v3("deal_to_company", "101")})
             for i, (a, d) in enumerate(zip(amounts, dates, strict=True))]
    write_pages(folder, "deals", [page(deals)])
    if raw is not None:
        (folder / "deals_0001.json").write_text(raw, encoding="utf-8")
    return folder


def exact_facts(runner: CliRunner, folder: Path):
    result = runner.invoke(cli, ["facts", f"hubspot:{folder}", "--json", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout, parse_float=Decimal)
    rejects = [line for line in result.stderr.splitlines() if line.startswith("rejected:")]
    return row, rejects


@pytest.mark.parametrize("amount, why", [
    ("1_000", "no digit separators"),
    ("1,000", "no digit separators"),
    ("٣", "'٣' (U+0663) is not one of the digits 0-9"),           # Arabic-Indic
    ("１２", "'１' (U+FF11) is not one of the digits 0-9"),          # full-width
    ("𝟙", "'𝟙' (U+1D7D9) is not one of the digits 0-9"),           # mathematical
    ("NaN", "not a plain number like 1234.5"),
    ("12k", "not a plain number like 1234.5"),
])
def test_amounts_in_other_forms_are_left_out_and_reported(
        runner: CliRunner, tmp_path: Path, amount: str, why: str) -> None:
    row, rejects = exact_facts(runner, won_deals(tmp_path, [amount, "5"]))
    assert row["won_revenue_12m"] == 5          # only the readable amount
    assert "deal 21" in row["_provenance"]["won_revenue_12m"].split("left out")[1]
    (reject,) = rejects
    assert reject.startswith(f"rejected: {tmp_path / 'numbers' / 'deals_0001.json'}: row 1: "
                             f"deal 21 (company 101): amount {amount!r}: not a plain number "
                             "like 1234.5")
    assert why in reject and reject.endswith("(left out of won_revenue_12m)")


def test_the_testers_amounts_sum_to_nothing_not_1003(runner: CliRunner, tmp_path: Path) -> None:
    row, rejects = exact_facts(runner, won_deals(tmp_path, ["1_000", "٣", "１２", "𝟙"]))
    assert row["won_revenue_12m"] == 0
    assert [r.split(": row ")[1][:1] for r in rejects] == ["1", "2", "3", "4"]


def test_epoch_milliseconds_in_other_digits_are_no_date(runner: CliRunner,
                                                        tmp_path: Path) -> None:
    fullwidth = "".join(chr(0xFF10 + int(c)) for c in epoch_ms(2026, 6, 1))
    row, rejects = exact_facts(runner, won_deals(
        tmp_path, ["100", "7"], closedates=[fullwidth, epoch_ms(2026, 6, 1)]))
    assert row["won_revenue_12m"] == 7
    (reject,) = rejects
    assert "deal 21 (company 101): closedate: expected a date" in reject
    with pytest.raises(ValueError):
        parse_date(fullwidth)
    with pytest.raises(ValueError):
        parse_date("1_741_130_100_000")
    assert iso_from_epoch(fullwidth) == fullwidth  # passed on as it is, not as a date
    assert iso_from_epoch("1741130100000") == "2025-03-04T23:15:00.000Z"


@pytest.mark.parametrize("amount", ["1e400", "1" * 61, "-1E+60"])
def test_an_absurd_amount_is_left_out_not_the_customer(runner: CliRunner, tmp_path: Path,
                                                       amount: str) -> None:
    # Before: the sum 1e400 rejected company 101 ("won_revenue_12m: value too large").
    row, rejects = exact_facts(runner, won_deals(tmp_path, [amount, "5"]))
    assert row["customer_id"] == "101" and row["won_revenue_12m"] == 5
    (reject,) = rejects
    assert "deal 21 (company 101): amount" in reject and "value too large" in reject


def test_an_amount_of_thousands_of_digits_as_a_json_number(runner: CliRunner,
                                                           tmp_path: Path) -> None:
    # Python's int() refuses over 4300 digits: the reader must not crash.
    folder = won_deals(tmp_path, ["AMOUNT", 5])
    path = folder / "deals_0001.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"AMOUNT"', "9" * 5000),
                    encoding="utf-8")
    row, rejects = exact_facts(runner, folder)
    assert row["won_revenue_12m"] == 5
    (reject,) = rejects
    assert "deal 21 (company 101): amount 9999" in reject and "value too large" in reject


def test_sums_are_exact_past_28_digits(runner: CliRunner, tmp_path: Path) -> None:
    row, rejects = exact_facts(runner, won_deals(
        tmp_path, ["12345678901234567890.123456789", "0.000000002"]))
    assert rejects == []
    assert row["won_revenue_12m"] == Decimal("12345678901234567890.123456791")
    assert row["_provenance"]["won_revenue_12m"].endswith("sum 12345678901234567890.123456791")


@pytest.mark.parametrize("amounts, why", [
    (["1e59", "0.000001"], "the exact result needs more than 60 significant digits"),
    (["9e59", "9e59"], "value too large (over 60 digits)"),
])
def test_a_sum_that_cannot_be_exact_is_unknown_and_reported(
        runner: CliRunner, tmp_path: Path, amounts: list[str], why: str) -> None:
    folder = won_deals(tmp_path, [*amounts, "5"])
    row, rejects = exact_facts(runner, folder)
    assert "won_revenue_12m" not in row              # unknown: not rounded, not a part
    assert row["open_pipeline"] == 0                 # the company's other figures stay
    (record,) = [r for r in read_hubspot(str(folder), SourceContext(dt.date(2026, 11, 1)))
                 if r.values.get("hs_object_id") == "101" and not r.error]
    assert "won_revenue_12m" in record.values and record.values["won_revenue_12m"] is None
    assert record.provenance["won_revenue_12m"].endswith(f"; sum unknown: {why} (adding 22)")
    (reject,) = rejects
    assert reject.endswith(f"row 2: deal 22 (company 101): won_revenue_12m of company 101 "
                           f"cannot be summed exactly with this amount: {why}; it is "
                           "unknown, not rounded")


def test_the_documented_amount_rejects_are_what_adieu_prints(runner: CliRunner,
                                                             tmp_path: Path) -> None:
    doc = " ".join((Path(__file__).parents[1] / "docs" / "sources.md")
                   .read_text(encoding="utf-8").split())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, rejects = exact_facts(runner, won_deals(tmp_path / "a", ["1_000"]))
    _, more = exact_facts(runner, won_deals(tmp_path / "b", ["1e59", "0.000001"]))
    for reject in (rejects[0], more[0]):
        message = reject.split(": row ")[1].split(": ", 1)[1]
        assert f"`{message}`" in doc, message


def test_a_json_number_id_of_a_huge_exponent_is_text_not_a_hang(runner: CliRunner,
                                                                tmp_path: Path) -> None:
    # int(Decimal("1e100000000")) would build a number of 100 million digits.
    folder = won_deals(tmp_path, ["5"])
    path = folder / "companies_0002.json"
    path.write_text('{"results": [{"id": 1e100000000, "properties": {"name": "Huge"}}]}',
                    encoding="utf-8")
    pages_ = json.loads((folder / "companies_0001.json").read_text(encoding="utf-8"))
    pages_["paging"] = {"next": {"after": "102"}}
    (folder / "companies_0001.json").write_text(json.dumps(pages_), encoding="utf-8")
    result = runner.invoke(cli, ["facts", f"hubspot:{folder}", "--json", "--as-of", AS_OF],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(r["customer_id"] for r in json.loads(result.stdout)) == ["101", "1E+100000000"]
