"""Control and format characters in ids and text facts. An id must read as
it is typed: one with a control or format character is rejected naming file,
row and field; ids and text facts are NFC and stripped (non-breaking spaces
too), so precomposed and decomposed forms are one customer; ids typed on the
command line are normalised the same way; and no command prints a control
character raw (ESC sequences, bidi overrides are escaped as \\x1b, \\u202e)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import before_final_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adieu.cli import cli
from adieu.safe_text import TerminalSafe, json_text, visible

ADIEU = Path(sys.executable).parent / "adieu"
AS_OF = "2026-11-02"
# Every customer is offboarded, so the summary lists every id decided.
POLICY = textwrap.dedent("""\
    version: 1
    name: everyone-goes
    rules:
      - id: all
        title: Everyone
        when: revenue_12m >= 0
        action: offboard
        severity: high
        explain: "{name} pays {revenue_12m}"
    exemptions:
      - id: pilot
        customers: ["Pilote\\u0301 "]
        rules: [all]
        reason: pilot
        approver: CEO
        expires: "2030-01-01"
    """)
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e"
                          "\u2066-\u2069\ufeff\u2028\u2029]")


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # quotes cells holding \r or \n
    writer.writerow(["customer_id", "name", "owner", "revenue_12m"])
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def run(*args: str, db: Path, color: bool = True):
    """The CLI with colour on: click would pass ESC sequences through as they
    are, so only adieu's own escaping keeps them off the output."""
    words = list(args)
    if args[0] != "facts":  # before a "--" that ends the options
        at = words.index("--") if "--" in words else len(words)
        words[at:at] = ["--db", str(db)]
    return CliRunner().invoke(cli, words, color=color)


def evaluate(policy: Path, data: Path, db: Path, *extra: str):
    return run("evaluate", str(policy), "--source", f"csv:{data}", "--as-of", AS_OF, *extra,
               db=db)


def test_nul_in_an_id_through_the_console_script(policy: Path, tmp_path: Path):
    write_csv(tmp_path / "customers.csv", [["C1", "Acme", "Ann", "10"],
                                           ["C2\x00", "Nul Co", "Ann", "20"]])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}

    def adieu(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ADIEU), *args, "--db", "adieu.db"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    result = adieu("evaluate", "p.yaml", "--source", "csv:customers.csv", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert before_final_line(result.stderr) == (
        "rejected: customers.csv:3: row 2, field 'customer_id': "
        "customer_id contains a control character (U+0000)\n")
    assert "1 customers decided, 1 rows rejected" in result.stdout
    assert "\n  C1  [high]" in result.stdout and "C2" not in result.stdout
    # The reject keeps the cell as it was: it is the evidence.
    with sqlite3.connect(tmp_path / "adieu.db") as conn:
        assert conn.execute("select customer_id, field, value from rejects").fetchall() == \
            [("C2\x00", "customer_id", "C2\x00")]
    assert adieu("explain", "C1").returncode == 0


@pytest.mark.parametrize("cid, what", [
    ("C\x01", "a control character (U+0001)"),
    ("C\x1b[2J", "a control character (U+001B)"),
    ("C\x7f", "a control character (U+007F)"),
    ("C\x85", "a control character (U+0085)"),        # C1, and whitespace to Python
    ("C\x9b31m", "a control character (U+009B)"),     # C1 CSI
    ("C7\x1f", "a control character (U+001F)"),       # not stripped as whitespace
    ("C\u202e7", "an invisible formatting character (U+202E)"),
    ("C\u202a7", "an invisible formatting character (U+202A)"),
    ("C\u20667", "an invisible formatting character (U+2066)"),
    ("C\u20697", "an invisible formatting character (U+2069)"),
    ("C\u200b7", "an invisible formatting character (U+200B)"),
    ("C\u200d7", "an invisible formatting character (U+200D)"),
    ("\ufeffC7", "an invisible formatting character (U+FEFF)"),
    ("C\u00a07", "a character that does not print (U+00A0)"),  # inside: not stripped
    ("C\u20287", "a character that does not print (U+2028)"),
    # printable to Unicode, but shown as nothing: "C-1\ufe0f" would read as C-1
    ("C-1\ufe0f", "a character that shows as nothing (U+FE0F)"),
    ("C-2\u034f", "a character that shows as nothing (U+034F)"),
    ("C-3\u3164", "a character that shows as nothing (U+3164)"),
    ("C-4\u2800", "a character that shows as nothing (U+2800)"),
    ("C-5\u115f", "a character that shows as nothing (U+115F)"),
    ("C-6\U000e0041", "an invisible formatting character (U+E0041)"),
])
def test_ids_that_would_not_read_as_typed_are_rejected(policy: Path, tmp_path: Path,
                                                       cid: str, what: str):
    data = write_csv(tmp_path / "c.csv", [["C1", "Acme", "Ann", "10"], [cid, "X", "Ann", "5"]])
    result = evaluate(policy, data, tmp_path / "a.db", "--json")
    assert result.exit_code == 0, result.output
    assert before_final_line(result.stderr) == (f"rejected: {data}:3: row 2, field 'customer_id': "
                             f"customer_id contains {what}\n")
    out = json.loads(result.stdout)
    assert [d["customer_id"] for d in out["decisions"]] == ["C1"]
    assert out["rejects"][0]["value"] == cid  # stored raw
    assert not RAW_CONTROLS.search(result.stderr)


def test_an_escape_sequence_in_a_company_name_never_reaches_the_output_raw(
        policy: Path, tmp_path: Path):
    evil = "\x1b[2J\x1b[31mEvil Corp\x1b[0m"
    data = write_csv(tmp_path / "c.csv", [["C1", evil, "Ann", "10"], ["C2", "Good", "Bo", "5"]])
    db = tmp_path / "a.db"
    outputs = [evaluate(policy, data, db),
               run("facts", f"csv:{data}", db=db), run("facts", f"csv:{data}", "--json", db=db),
               run("facts", f"csv:{data}", "--csv", db=db), run("pending", db=db),
               run("explain", "C2", db=db)]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
    # The row is rejected naming the field; the reject shows the value escaped.
    assert before_final_line(outputs[0].stderr) == (
        f"rejected: {data}:2: row 1, field 'name': name contains "
        "a control character (U+001B)\n")
    assert "C1" not in outputs[0].stdout
    # A number cell with an escape sequence: the error quotes it escaped.
    data = write_csv(tmp_path / "n.csv", [["C3", "N", "Ann", "12\x1b[2J"]])
    result = evaluate(policy, data, tmp_path / "n.db")
    assert "got '12\\x1b[2J'" in result.stderr and "\x1b" not in result.stderr


def test_format_characters_in_text_facts_are_kept_and_shown_escaped(policy: Path,
                                                                     tmp_path: Path):
    name = "\u202eevil.exe"
    data = write_csv(tmp_path / "c.csv", [["C1", name, "Ann\u2066x", "10"]])
    db = tmp_path / "a.db"
    result = evaluate(policy, data, db)
    assert result.exit_code == 0, result.output
    assert "      - all: \\u202eevil.exe pays 10" in result.stdout
    with sqlite3.connect(db) as conn:  # stored as read
        facts = json.loads(conn.execute("select facts from decisions").fetchone()[0])
    assert facts["name"] == name and facts["owner"] == "Ann\u2066x"
    explain = run("explain", "C1", db=db).stdout
    assert '"\\u202eevil.exe pays 10"' in explain
    pending = run("pending", db=db).stdout
    assert "owner: Ann\\u2066x" in pending
    shown = run("facts", f"csv:{data}", "--json", db=db).stdout
    assert "\\u202e" in shown and not RAW_CONTROLS.search(shown)
    assert json.loads(shown)[0]["name"] == name  # the JSON still reads back exactly
    for text in (explain, pending, shown, result.stdout):
        assert not RAW_CONTROLS.search(text)
    # Machine CSV output keeps the value for a file or pipe; a terminal gets it escaped.
    piped = run("facts", f"csv:{data}", "--csv", db=db).stdout
    assert name in piped
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    TerminalSafe(tty).write(f"C1,{name}\n")
    assert tty.getvalue() == "C1,\\u202eevil.exe\n"


def test_text_facts_keep_tabs_and_line_breaks_and_reject_other_controls(policy: Path,
                                                                       tmp_path: Path):
    data = write_csv(tmp_path / "c.csv", [["C1", "Two\r\nlines\tand a tab", "Ann", "10"],
                                          ["C2", "Bell\x07", "Ann", "10"],
                                          ["C3", "Us\x1f", "Ann", "10"]])
    result = evaluate(policy, data, tmp_path / "a.db", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [d["customer_id"] for d in out["decisions"]] == ["C1"]
    assert [(r["row"], r["field"], r["reason"]) for r in out["rejects"]] == [
        (2, "name", "name contains a control character (U+0007)"),
        (3, "name", "name contains a control character (U+001F)")]
    summary = evaluate(policy, data, tmp_path / "b.db").stdout
    assert "- all: Two\\x0d\\x0alines\\x09and a tab pays 10" in summary


def test_precomposed_and_decomposed_ids_are_one_customer(policy: Path, tmp_path: Path):
    data = write_csv(tmp_path / "c.csv", [["Caf\u00e9", "Pre", "Ann", "10"],
                                          ["Cafe\u0301", "De", "Ann", "20"],
                                          ["Zoe\u0308", "Zo\u0308e", "Ann", "30"]])
    db = tmp_path / "a.db"
    result = evaluate(policy, data, db, "--json")
    out = json.loads(result.stdout)
    assert [d["customer_id"] for d in out["decisions"]] == ["Caf\u00e9", "Zo\u00eb"]
    assert [(r["row"], r["customer_id"], r["value"], r["reason"]) for r in out["rejects"]] == \
        [(2, "Caf\u00e9", "Cafe\u0301", "duplicate customer_id, first seen at row 1")]
    with sqlite3.connect(db) as conn:
        facts = json.loads(conn.execute("select facts from decisions where customer_id = ?",
                                        ["Zo\u00eb"]).fetchone()[0])
    assert facts["name"] == "Z\u00f6e"  # text facts are NFC too
    for typed in ("Caf\u00e9", "Cafe\u0301"):  # either form, typed, finds it
        shown = run("explain", typed, db=db)
        assert shown.exit_code == 0, shown.output
        assert shown.stdout.startswith("Caf\u00e9: OFFBOARD")


def test_padded_ids_are_stripped_and_found_by_their_typed_form(policy: Path, tmp_path: Path):
    data = write_csv(tmp_path / "c.csv", [["\u00a0C5 ", "Nb", "Ann", "10"],
                                          ["\tC6\u3000", "Wide", "Ann", "10"],
                                          ["Pilot\u00e9", "Shielded", "Ann", "10"]])
    db = tmp_path / "a.db"
    result = evaluate(policy, data, db)
    assert result.exit_code == 0, result.output
    assert "\n  C5  [high]" in result.stdout and "\n  C6  [high]" in result.stdout
    for typed in ("C5", " C5", "C5\u00a0", "\u2003C5\n"):
        assert run("explain", typed, db=db).stdout.startswith("C5: OFFBOARD")
    assert run("approve", "\u00a0C5 ", "--run", "1", "--by", "Rev", db=db).stdout == \
        "C5 (case 1, run 1): offboarding approved by Rev, effective 2027-01-01\n"
    assert run("history", " C5", db=db).stdout.startswith(f"{AS_OF}  run 1  offboard")
    recorded = run("exempt", " C6\u00a0", "--all", "--reason", "r", "--approver", "a",
                   "--until", "2027-01-01", db=db)
    assert recorded.stdout.startswith("exemption registry-1 recorded for C6: all rules")
    with sqlite3.connect(db) as conn:
        assert conn.execute("select customer_id from exemptions").fetchall() == [("C6",)]
        # The policy lists the decomposed, padded form: it names the same customer.
        assert conn.execute("select outcome from decisions where customer_id = ?",
                            ["Pilot\u00e9"]).fetchone() == ("exempt",)


def test_a_policy_exemption_listing_an_id_nobody_can_type_is_a_finding(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(POLICY.replace('["Pilote\\u0301 "]', '["C1", "C\\u202e2"]'),
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{path}:12:23: exemption 'pilot': customer id contains an invisible formatting "
        "character (U+202E)")


def test_the_owner_typed_in_another_unicode_form_is_still_the_owner(policy: Path,
                                                                    tmp_path: Path):
    data = write_csv(tmp_path / "c.csv", [["C1", "A", "Jos\u00e9 Pe\u00f1a", "10"]])
    db = tmp_path / "a.db"
    evaluate(policy, data, db)
    for by in ("Jose\u0301 Pen\u0303a", "JOS\u00c9 PE\u00d1A\u00a0"):
        result = run("approve", "C1", "--run", "1", "--by", by, db=db)
        assert result.exit_code == 2, result.output
        assert "is the account owner of C1" in result.stderr


@pytest.mark.parametrize("owner", [
    "Chloe\u00a0Martin", "Chloe\u2003Martin", "Chloe\tMartin", "Chloe  Martin",
    "Chlo\u200be Martin", "Chloe Martin\ufe0f", "chlo\u00e9 martin", "Martin, Chloe",
    "MARTIN,CHLOE", "\uff23hloe Martin",
])
def test_the_owner_cannot_review_under_another_spelling_of_the_name(policy: Path,
                                                                    tmp_path: Path,
                                                                    owner: str):
    """Spaces of any kind, invisible characters, accents, case, full-width
    letters and "Last, First" do not make the owner somebody else."""
    data = write_csv(tmp_path / "c.csv", [["C1", "A", owner, "10"]])
    db = tmp_path / "a.db"
    assert evaluate(policy, data, db).exit_code == 0
    result = run("approve", "C1", "--run", "1", "--by", "Chloe Martin", db=db)
    assert result.exit_code == 2, result.output
    assert result.stderr.endswith("is the account owner of C1 and may not review its "
                                  "offboarding; an independent reviewer must approve or "
                                  "reject it\n")
    other = run("approve", "C1", "--run", "1", "--by", "Chloe Marti", db=db)
    assert other.exit_code == 0, other.output


@pytest.mark.parametrize("args", [
    ("approve", "C1", "--run", "1", "--by", "Mary Smith\x1b[2K"),
    ("approve", "C1", "--run", "1", "--by", "Mary\u202eSmith"),
    ("approve", "C1", "--run", "1", "--by", "Mary Smith\u2028x"),
    ("approve", "C1", "--run", "1", "--by", "Mary\u034fSmith"),
    ("strikes", "pardon", "C1", "all", "--by", "Eve\x9b31m", "--reason", "r"),
    ("exempt", "C1", "--all", "--reason", "r", "--approver", "A\u2066",
     "--until", "2030-01-01"),
])
def test_names_typed_for_the_record_may_not_hide_anything(policy: Path, tmp_path: Path,
                                                          args: tuple):
    data = write_csv(tmp_path / "c.csv", [["C1", "A", "Ann", "10"]])
    db = tmp_path / "a.db"
    assert evaluate(policy, data, db).exit_code == 0
    result = run(*args, db=db)
    assert result.exit_code == 2, result.output
    assert "may not contain a" in result.stderr
    assert not RAW_CONTROLS.search(result.stderr)


@pytest.mark.parametrize("owner, typed", [
    ("Jos\u00e9 N\u00fa\u00f1ez", "N\u00fa\u00f1ez Jos\u00e9"),
    ("Anne-Marie O'Neil", "anne marie oneil"), ("Anne-Marie O'Neil", "Anne-Marie O\u2019Neil"),
    ("\u0141ukasz Nowak", "Lukasz Nowak"), ("S\u00f8ren Kierkegaard", "Soeren Kierkegaard"),
    ("\u0110or\u0111e Bala\u0161evi\u0107", "Djordje Balasevic"),
    ("\u0110or\u0111e Bala\u0161evi\u0107", "Dorde Balasevic"),
    ("\u00c6r\u00f8sk\u00f8bing", "Aeroskobing"), ("\u674e \u5c0f\u9f8d", "\u674e\u5c0f\u9f8d"),
    ("Mary Jane Smith", "mary.jane.smith"), ("Mary Jane Smith", "Mary-Jane Smith"),
])
def test_the_owner_cannot_review_under_a_transliterated_or_reordered_name(
        policy: Path, tmp_path: Path, owner: str, typed: str):
    data = write_csv(tmp_path / "c.csv", [["C1", "A", owner, "10"]])
    db = tmp_path / "a.db"
    assert evaluate(policy, data, db).exit_code == 0
    result = run("approve", "C1", "--run", "1", "--by", typed, db=db)
    assert result.exit_code == 2, result.output
    assert "is the account owner of C1" in result.stderr


def test_explain_and_replay_json_escape_hidden_characters(policy: Path, tmp_path: Path):
    data = write_csv(tmp_path / "c.csv", [["C1", "Acme\u202e\u2028Co", "Ann", "10"]])
    db = tmp_path / "a.db"
    assert evaluate(policy, data, db).exit_code == 0
    explained = run("explain", "C1", "--json", db=db)
    assert explained.exit_code == 0, explained.output
    assert "\u202e" not in explained.stdout and "\u2028" not in explained.stdout
    assert "\\u202e\\u2028" in explained.stdout
    assert json.loads(explained.stdout)["facts"]["name"] == "Acme\u202e\u2028Co"


def test_text_in_the_policy_is_compared_in_nfc(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        name: nfc
        params:
          home: "Cafe\\u0301"
        rules:
          - id: literal
            when: name == "Cafe\\u0301"
            action: flag
          - id: listed
            when: name in ["Cafe\\u0301", "x"]
            action: flag
          - id: param
            when: name == home
            action: flag
        """), encoding="utf-8")
    data = write_csv(tmp_path / "c.csv", [["C1", "Caf\u00e9", "Ann", "10"]])
    result = evaluate(path, data, tmp_path / "a.db", "--json")
    assert result.exit_code == 0, result.output
    (decision,) = json.loads(result.stdout)["decisions"]
    assert [r["rule"] for r in decision["fired"]] == ["literal", "listed", "param"]


def test_an_id_typed_with_controls_is_quoted_escaped(policy: Path, tmp_path: Path):
    data = write_csv(tmp_path / "c.csv", [["C1", "A", "Ann", "10"]])
    db = tmp_path / "a.db"
    evaluate(policy, data, db)
    for args in (["history", "C\x1b[2J"], ["explain", "C\x1b[2J"], ["strikes", "C\x1b[2J"]):
        result = run(*args, db=db)
        assert "C\\x1b[2J" in result.output, result.output
        assert "\x1b" not in result.stdout + result.stderr


def test_typed_reasons_and_names_are_listed_escaped(tmp_path: Path, policy_file: Path,
                                                   customers_csv: Path):
    db = tmp_path / "a.db"
    assert evaluate(policy_file, customers_csv, db).exit_code == 0
    typed = [("strikes", "pardon", "C-WARN", "late", "--by", "Eve",
              "--reason", "\x1b[31mr\u202e"),
             ("exempt", "C-KEEP", "--all", "--reason", "\x1b]0;pwned\x07", "--approver",
              "A", "--until", "2030-01-01")]
    for args in typed:
        assert run(*args, db=db).exit_code == 0
    outputs = {name: run(*args, db=db).stdout for name, args in {
        "strikes": ("strikes", "C-WARN", "--as-of", AS_OF),
        "history": ("history", "C-WARN"),
        "exemptions": ("exemptions", "--as-of", AS_OF)}.items()}
    assert "by Eve (\\x1b[31mr\\u202e)" in outputs["strikes"]
    assert "pardoned: late of 2026-11-02 by Eve (\\x1b[31mr\\u202e)" in outputs["history"]
    assert "approved by A: \\x1b]0;pwned\\x07" in outputs["exemptions"]
    for text in outputs.values():
        assert not RAW_CONTROLS.search(text)


def test_visible_and_json_text():
    assert visible("plain \\x1b text, caf\u00e9") == "plain \\x1b text, caf\u00e9"
    assert visible("a\x00b\x1b[1m\u202ec\U000e0001\n") == "a\\x00b\\x1b[1m\\u202ec\\U000e0001\\x0a"
    assert visible("two\nlines", keep="\n") == "two\nlines"
    text = json_text({"k": "\u202e\x7f\U000e0001\u00e9"})
    assert text == '{"k":"\\u202e\\u007f\\udb40\\udc01\u00e9"}'
    assert json.loads(text) == {"k": "\u202e\x7f\U000e0001\u00e9"}


SUMMARY_ID = re.compile(r"^  (.+)  \[high\] effective ", re.MULTILINE)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.characters(blacklist_categories=("Cs",)),
    st.sampled_from(["\x00", "\x1b", "\x1b[31m", "\x85", "\x9b", "\u202e", "\u2066", "\u200b",
                     "\ufeff", "\u00a0", "\u3000", " ", "\t", "\n", "\r", "e\u0301", "\u00e9",
                     '"', ",", "-", "\\x1b", "\u2028"])), min_size=1, max_size=8).map("".join))
def test_every_id_evaluate_prints_can_be_explained(policy: Path, cid: str):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = write_csv(folder / "c.csv", [[cid, "N", "Ann", "10"]])
        db = folder / "a.db"
        result = evaluate(policy, data, db)
        assert not RAW_CONTROLS.search(result.stdout + result.stderr)
        if result.exit_code == 2:  # rejected: a run with no customer is refused (issue 12)
            assert "no customer to decide: every row was rejected (1)" in result.stderr
            return
        assert result.exit_code == 0, result.output
        printed = SUMMARY_ID.findall(result.stdout)
        if not printed:  # shielded by the policy's exemption: not offboard
            assert "exempt             1" in result.stdout
            return
        assert "0 rows rejected" in result.stdout
        (shown,) = printed
        explained = run("explain", "--", shown, db=db)
        assert explained.exit_code == 0, (cid, shown, explained.output)
        assert explained.stdout.startswith(f"{shown}: OFFBOARD")
