"""Date-times with offsets count by their UTC date, in every source.

`2026-11-01T23:30:00-05:00` is 2026-11-02 in UTC: after an as-of date of
2026-11-01, though its local date is the as-of date itself; and
`2025-11-01T23:30:00-05:00` is 2025-11-02, inside the 12-month window that
ends on 2026-11-01 (the window starts after 2025-11-01). One parser,
adieu.utc_date, reads them all; a date-time without a zone is a reject
that names the field, unless the source's timezone option names its zone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from adieu import utc_date
from adieu.cli import cli
from adieu.facts import CONVERTERS
from adieu.mapping import FieldRule, convert, parse_iso_datetime
from adieu_plugins.hubspot_source import parse_date

AS_OF = "2026-11-01"            # the 12-month window: 2025-11-02 .. 2026-11-01
AFTER_AS_OF = "2026-11-01T23:30:00-05:00"    # 2026-11-02 in UTC: after the as-of date
INTO_WINDOW = "2025-11-01T23:30:00-05:00"    # 2025-11-02 in UTC: the window's first day


def facts(*args: str) -> tuple[dict[str, dict], str]:
    result = CliRunner().invoke(cli, ["facts", *args, "--json", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    return {row["customer_id"]: row for row in json.loads(result.stdout)}, result.stderr


def rejects(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("rejected:")]


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "day"), [
    ("2024-05-01", dt.date(2024, 5, 1)),                        # a date stays that date
    ("2024-05-01T23:30:00Z", dt.date(2024, 5, 1)),
    ("2024-05-01T23:30:00z", dt.date(2024, 5, 1)),
    ("2024-05-01T23:30:00-05:00", dt.date(2024, 5, 2)),         # +hh:mm
    ("2024-05-01T23:30:00-0500", dt.date(2024, 5, 2)),          # -hhmm
    ("2024-05-01T23:30:00-05", dt.date(2024, 5, 2)),            # -hh
    ("2024-05-02T00:30:00+0100", dt.date(2024, 5, 1)),          # +hhmm, to the day before
    ("2024-05-02T00:30:00+01:00", dt.date(2024, 5, 1)),
    ("2024-05-02T05:29:59+05:30", dt.date(2024, 5, 1)),
    ("2024-05-01 23:30:00-05:00", dt.date(2024, 5, 2)),         # a space for the T
    ("2024-05-01T23:30-05:00", dt.date(2024, 5, 2)),            # no seconds
    ("2024-05-01T12:00:00.000Z", dt.date(2024, 5, 1)),          # Salesforce, HubSpot
    ("2024-05-01T23:59:59.9-00:01", dt.date(2024, 5, 2)),       # 1 fraction digit
    ("2024-05-01T23:59:59.99-00:01", dt.date(2024, 5, 2)),
    ("2024-05-01T23:59:59.999999-00:01", dt.date(2024, 5, 2)),  # 6
    ("2024-05-01T23:59:59.9999999-00:01", dt.date(2024, 5, 2)),  # 7
    ("2024-05-01T23:59:59.123456789-05:00", dt.date(2024, 5, 2)),  # 9
    ("2024-05-01T23:59:59.999999999Z", dt.date(2024, 5, 1)),    # never rounded up a day
    ("2024-05-01T23:59:59,5Z", dt.date(2024, 5, 1)),            # a decimal comma
    ("2024-12-31T23:59:60Z", dt.date(2024, 12, 31)),            # a leap second
    ("  2024-05-01T23:30:00-05:00\n", dt.date(2024, 5, 2)),
])
def test_parser_takes_the_utc_date(text: str, day: dt.date) -> None:
    assert utc_date(text) == day
    assert parse_iso_datetime(text) == day          # the mapping's `format: iso`
    assert CONVERTERS["date"](text) == day          # a date fact (CSV cells)


@pytest.mark.parametrize("text", [
    "2024-05-01T23:30:00", "2024-05-01 23:30", "2024-05-01T23:30:00.123456",
])
def test_a_date_time_without_a_zone_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="date-time without a time zone") as info:
        utc_date(text)
    assert "+02:00" in str(info.value) and repr(text) in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("next tuesday", "expected a date YYYY-MM-DD or a date-time with a time zone"),
    ("", "expected a date YYYY-MM-DD"),
    ("2024-05-01T", "expected a date YYYY-MM-DD"),
    ("2024-05-01T25:00:00Z", "expected a real calendar date and time"),
    ("2024-02-30T10:00:00Z", "expected a real calendar date and time"),
    ("2024-13-01", "expected a real calendar date YYYY-MM-DD"),
    ("2024-05-01T10:00:00+24:00", "offset from -23:59 to +23:59"),
    ("2024-05-01T10:00:00+05:60", "offset from -23:59 to +23:59"),
    ("2024-05-01T10:00:00 +05:00", "expected a date YYYY-MM-DD"),
    ("2024-05-01T10:00:00+5", "expected a date YYYY-MM-DD"),
    ("0001-01-01T00:30:00+01:00", "from year 1 to 9999"),
    ("01/05/2024", "expected a date YYYY-MM-DD"),
    ("1714600000000", "expected a date YYYY-MM-DD"),            # epoch ms: HubSpot only
    ("\u0662\u0660\u0662\u0664-\u0660\u0665-\u0660\u0661", "expected a date"),  # not ASCII
])
def test_garbage_is_an_error_saying_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        utc_date(text)


def test_typed_values() -> None:
    aware = dt.datetime(2024, 5, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert utc_date(aware) == dt.date(2024, 5, 2)
    assert utc_date(dt.date(2024, 5, 1)) == dt.date(2024, 5, 1)
    with pytest.raises(ValueError, match="without a time zone"):
        utc_date(dt.datetime(2024, 5, 1, 23, 30))
    for bad in (True, 20240501, None):
        with pytest.raises(ValueError, match="expected a date"):
            utc_date(bad)
    berlin = __import__("zoneinfo").ZoneInfo("Europe/Berlin")
    assert utc_date("2024-05-02 00:30", berlin) == dt.date(2024, 5, 1)


def test_strptime_formats_with_a_zone_take_the_utc_date() -> None:
    rule = FieldRule("Closed", "contract_end", format="%d/%m/%Y %H:%M %z")
    assert convert(rule, "01/11/2026 23:30 -0500") == dt.date(2026, 11, 2)
    rule = FieldRule("Closed", "contract_end", format="%d/%m/%Y %H:%M")
    with pytest.raises(ValueError, match="date-time without a time zone: format .* add %z"):
        convert(rule, "01/11/2026 23:30")
    assert convert(FieldRule("Closed", "contract_end", format="%d/%m/%Y"),
                   "01/11/2026") == dt.date(2026, 11, 1)


OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m)))


def written(moment: dt.datetime, style: str, digits: int, sep: str) -> str:
    """An aware datetime as text in one offset style, with `digits` fraction digits."""
    minutes = int(moment.utcoffset().total_seconds() // 60)
    if style == "Z":
        moment, minutes = moment.astimezone(dt.timezone.utc), 0
    text = (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{sep}"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")
    if digits:
        text += "." + f"{moment.microsecond:06d}".ljust(9, "0")[:digits]
    sign, (h, m) = ("-" if minutes < 0 else "+"), divmod(abs(minutes), 60)
    if style == "Z":
        return text + "Z"
    if style == "+hh" and m == 0:
        return text + f"{sign}{h:02d}"
    if style == "+hhmm":
        return text + f"{sign}{h:02d}{m:02d}"
    return text + f"{sign}{h:02d}:{m:02d}"


@given(moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                           timezones=OFFSETS),
       style=st.sampled_from(["Z", "+hh:mm", "+hhmm", "+hh"]),
       digits=st.integers(min_value=0, max_value=9), sep=st.sampled_from(["T", " "]))
def test_round_trip_gives_the_utc_date(moment: dt.datetime, style: str, digits: int,
                                       sep: str) -> None:
    assert utc_date(written(moment, style, digits, sep)) == \
        moment.astimezone(dt.timezone.utc).date()


# ---------------------------------------------------------------------------
# Per source: the fact values
# ---------------------------------------------------------------------------

def test_csv_date_facts_take_the_utc_date(tmp_path: Path) -> None:
    data = tmp_path / "customers.csv"
    data.write_text("customer_id,last_order_date,contract_end,customer_since\n"
                    f"C-1,{AFTER_AS_OF},2026-12-31T23:59:59.5-0100,2019-05-01\n"
                    "C-2,2026-11-02T00:30:00+02:00,2027-01-01T00:00:00Z,2019-05-01T08:30Z\n",
                    encoding="utf-8")
    rows, err = facts(f"csv:{data}")
    assert rejects(err) == []
    assert rows["C-1"]["last_order_date"] == "2026-11-02"   # after the as-of date, in UTC
    assert rows["C-1"]["contract_end"] == "2027-01-01"
    assert rows["C-1"]["customer_since"] == "2019-05-01"    # a date stays that date
    assert rows["C-2"]["last_order_date"] == "2026-11-01"   # the as-of date, in UTC
    assert rows["C-2"]["contract_end"] == "2027-01-01"


def test_csv_mapping_format_iso_takes_the_utc_date(tmp_path: Path) -> None:
    data = tmp_path / "export.csv"
    data.write_text(f"Account,Last order\nA-1,{AFTER_AS_OF}\n", encoding="utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("version: 1\nfields:\n  Account: customer_id\n"
                       "  Last order: {fact: last_order_date, format: iso}\n", encoding="utf-8")
    rows, err = facts(f"csv:{data}", "--mapping", str(mapping))
    assert rows["A-1"]["last_order_date"] == "2026-11-02"


def test_csv_date_time_without_zone_is_a_reject_naming_the_field(tmp_path: Path) -> None:
    data = tmp_path / "customers.csv"
    data.write_text("customer_id,last_order_date\nC-1,2026-11-01T23:30:00\nC-2,2026-10-01\n",
                    encoding="utf-8")
    rows, err = facts(f"csv:{data}")
    assert sorted(rows) == ["C-2"]
    (reject,) = rejects(err)
    assert reject.startswith(f"rejected: {data}:2: row 1, field 'last_order_date': date-time "
                             "without a time zone: expected Z or an offset such as +02:00")
    assert reject.endswith("got '2026-11-01T23:30:00'")
    # Named on the command line, the zone makes it a date-time again.
    rows, err = facts(f"csv:{data}", "-o", "timezone=America/New_York")
    assert rejects(err) == []
    assert rows["C-1"]["last_order_date"] == "2026-11-02"   # 23:30 EST is 04:30 UTC


def test_an_unknown_timezone_option_is_an_input_error(tmp_path: Path) -> None:
    data = tmp_path / "customers.csv"
    data.write_text("customer_id\nC-1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["facts", f"csv:{data}", "-o", "timezone=Mars/Olympus"])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {data}: option timezone: unknown time zone "
                             "'Mars/Olympus'; expected an IANA name such as Europe/Berlin or "
                             "UTC, or an offset such as +02:00\n")


def salesforce(folder: Path) -> Path:
    """A Data Export with one account and date-times at -05:00 just before midnight."""
    folder.mkdir()
    acc = "0015g00000Aa001AAA"
    files = {
        "Account.csv": ["Id,IsDeleted,Name,CreatedDate,Last_Review__c",
                        f"{acc},false,Müller GmbH,{AFTER_AS_OF},2026-01-15T23:30:00.000-0500"],
        "Case.csv": ["Id,IsDeleted,AccountId,CreatedDate,IsClosed,IsEscalated",
                     f"5005g00000Cs001AAA,false,{acc},{INTO_WINDOW},true,false",    # in
                     f"5005g00000Cs002AAA,false,{acc},{AFTER_AS_OF},true,false",    # after
                     f"5005g00000Cs003AAA,false,{acc},2025-11-01T12:00:00.000Z,true,false"],
        "Opportunity.csv": ["Id,IsDeleted,AccountId,IsWon,IsClosed,CloseDate,Amount",
                            f"0065g00000Op001AAA,false,{acc},true,true,{INTO_WINDOW},100",
                            f"0065g00000Op002AAA,false,{acc},true,true,{AFTER_AS_OF},20"],
        "Contract.csv": ["Id,IsDeleted,AccountId,Status,StatusCode,EndDate",
                         f"8005g00000Ct001AAA,false,{acc},Activated,Activated,"
                         "2026-12-31T23:30:00-05:00"],
    }
    for name, rows in files.items():
        (folder / name).write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    return folder


def test_salesforce_windows_and_dates_use_the_utc_date(tmp_path: Path) -> None:
    rows, err = facts(f"salesforce:{salesforce(tmp_path / 'export')}")
    assert rejects(err) == []
    acc = rows["0015g00000Aa001AAA"]
    assert acc["cases_12m"] == 1              # INTO_WINDOW in; AFTER_AS_OF and 11-01Z out
    assert acc["won_revenue_12m"] == 100      # the same for CloseDate
    assert acc["contract_end"] == "2027-01-01"
    assert acc["customer_since"] == "2026-11-02"
    assert acc["last_review"] == "2026-01-16"  # a custom date-time field


def test_salesforce_date_time_without_zone_is_a_reject(tmp_path: Path) -> None:
    folder = salesforce(tmp_path / "export")
    case = folder / "Case.csv"
    case.write_text(case.read_text(encoding="utf-8").replace(INTO_WINDOW,
                                                             "2025-11-01T23:30:00"), "utf-8")
    rows, err = facts(f"salesforce:{folder}")
    assert rows["0015g00000Aa001AAA"]["cases_12m"] == 0
    (reject,) = rejects(err)
    assert "CreatedDate is '2025-11-01T23:30:00': date-time without a time zone" in reject
    assert reject.endswith("left out of cases_12m, escalated_cases_12m")


def hubspot_dump(folder: Path) -> Path:
    folder.mkdir()
    link = {"companies": {"results": [{"id": "101", "type": "ticket_to_company"}]}}
    pages = {
        "companies": [{"id": "101", "properties": {"name": "Müller GmbH",
                                                   "createdate": AFTER_AS_OF}}],
        "tickets": [
            {"id": "11", "properties": {"createdate": INTO_WINDOW, "hs_pipeline_stage": "4"},
             "associations": link},
            {"id": "12", "properties": {"createdate": AFTER_AS_OF, "hs_pipeline_stage": "4"},
             "associations": link},
            # epoch milliseconds: 2025-11-01T23:59:59.999Z (out), then the next ms (in)
            {"id": "13", "properties": {"createdate": "1762041599999",
                                        "hs_pipeline_stage": "4"}, "associations": link},
            {"id": "14", "properties": {"createdate": 1762041600000, "hs_pipeline_stage": "4"},
             "associations": link},
        ],
        "deals": [
            {"id": "21", "properties": {"dealstage": "closedwon", "closedate": INTO_WINDOW,
                                        "amount": "100"}, "associations": link},
            {"id": "22", "properties": {"dealstage": "closedwon",
                                        "closedate": "2026-11-01T23:30:00.000-0500",
                                        "amount": "20"}, "associations": link},
        ],
    }
    for kind, results in pages.items():
        (folder / f"{kind}_0001.json").write_text(json.dumps({"results": results}), "utf-8")
    return folder


def test_hubspot_dump_windows_and_dates_use_the_utc_date(tmp_path: Path) -> None:
    rows, err = facts(f"hubspot:{hubspot_dump(tmp_path / 'dump')}")
    assert rejects(err) == []
    company = rows["101"]
    assert company["tickets_12m"] == 2        # 11 and 14; 12 after as-of, 13 before the window
    assert "(ids 11, 14)" in company["_provenance"]["tickets_12m"]
    assert company["won_revenue_12m"] == 100  # 21 in; 22 closed after the as-of date in UTC
    assert company["customer_since"] == "2026-11-02"


def test_hubspot_parse_date() -> None:
    assert parse_date(AFTER_AS_OF) == dt.date(2026, 11, 2)
    assert parse_date("1762041599999") == dt.date(2025, 11, 1)
    assert parse_date(1762041600000) == dt.date(2025, 11, 2)
    with pytest.raises(ValueError, match="without a time zone"):
        parse_date("2026-11-01T23:30:00")


def test_hubspot_ui_export_needs_the_accounts_time_zone(tmp_path: Path) -> None:
    # The UI export writes date-times in the account's time zone, with none
    # given: "2026-11-01 23:30".
    export = tmp_path / "hubspot-crm-exports-all-companies-2026-11-01.csv"
    export.write_text("Record ID,Company name,Create Date\r\n201,Müller GmbH,2026-11-01 23:30\r\n"
                      "202,Acme Ltd,2024-03-04\r\n", encoding="utf-8")
    rows, err = facts(f"hubspot:{export}")
    assert sorted(rows) == ["202"]
    assert rows["202"]["customer_since"] == "2024-03-04"
    (reject,) = rejects(err)
    assert "row 1, field 'Create Date': date-time without a time zone" in reject
    assert "-o timezone=Area/City" in reject
    rows, err = facts(f"hubspot:{export}", "-o", "timezone=America/Chicago")
    assert rejects(err) == []
    assert rows["201"]["customer_since"] == "2026-11-02"   # 23:30 CST is 05:30 UTC
    rows, _ = facts(f"hubspot:{export}", "-o", "timezone=Europe/Berlin")
    assert rows["201"]["customer_since"] == "2026-11-01"   # 23:30 CET is 22:30 UTC


def test_the_documented_reject_is_what_adieu_prints(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("customers.csv").write_text("customer_id,last_order_date\nC-1,2026-11-01T23:30:00\n",
                                     encoding="utf-8")
    _, err = facts("csv:customers.csv")
    (reject,) = rejects(err)
    doc = (Path(__file__).parents[1] / "docs" / "sources.md").read_text(encoding="utf-8")
    assert f"\n{reject}\n" in doc
