"""CSV for machines (`--csv`): one row per customer, every field in its own
column, and a list-valued field as a JSON array in one cell.

A list is never joined with a separator: reasons and notes contain ";" and
",", quotes and line breaks. A JSON array in a cell is what sqlite-utils and
Datasette users know (sqlite-utils stores a list as JSON text and its
`--csv` writes that text as it is; SQLite's json_each() takes it apart).
Cells are quoted as RFC 4180 says (a cell with a comma, quote or line
break is quoted, quotes doubled; here also one with ";" or a tab, the
other list separators of spreadsheets), so csv.reader reads every value
back exactly. Empty lists are `[]`, never an empty cell.

Formula cells (CSV injection, OWASP: https://owasp.org/www-community/attacks/CSV_Injection;
also OWASP ASVS 1.2.10, CWE-1236): a spreadsheet that opens the file runs
a cell beginning with `=`, `+`, `-` or `@` as a formula (=HYPERLINK(...)
sends data away, =cmd|... runs a program), and also one beginning with a
tab or carriage return before such a character. Every cell every `--csv`
writes, header row included, goes through `neutral`: such a cell gets a
leading `'` (the mark spreadsheets read as "this is text"), as does one
beginning with NUL (ASVS). A plain number (`-12.5`, `+3`: `[+-]?[0-9]+(.[0-9]+)?`
as adieu formats numbers) is left as it is, so numbers stay numbers. A
list or object cell starts with `[` or `{` and is never touched.
`--allow-formulas` writes every cell as it is, for programs.

Control characters: a C0 or C1 control other than tab, line feed and
carriage return (ESC, BEL, NUL, DEL, CSI U+009B ...) is written as its
escape (`\\x1b`) in every cell, to a file or a pipe too: intake refuses
them in ids and text facts, so one can only come from a policy's text or
a database edited by hand, and `adieu evaluate --csv | head` must not let
it set a terminal's title or hide text. Tab, line breaks and format
characters (bidi marks, zero-width joiners: right-to-left names and emoji
need them) stay exact; on a terminal (TerminalSafe) every hidden
character is escaped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

from .. import decimals
from ..decide import Decision
from ..factshow import csv_value
from ..safe_text import TerminalSafe, json_text

# First characters a spreadsheet acts on (OWASP CSV Injection), and NUL (ASVS 1.2.10).
FORMULA_STARTS = frozenset("=+-@\t\r\0")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
# C0/C1 controls other than tab, LF and CR: escaped in every CSV cell.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _escaped(match: re.Match) -> str:
    return f"\\x{ord(match.group()):02x}"

DECISION_COLUMNS = ("run_id", "customer_id", "outcome", "base_outcome", "severity", "strikes",
                    "fired", "reasons", "shielded", "shielded_by", "missing", "effective_date",
                    "timing_basis", "referrals")


def cell(value: Any) -> Any:
    """One value as a CSV cell: None is empty, a list or dict is JSON text
    (safe_text.json_text: controls and bidi marks as \\u escapes, the same value),
    a number is plain digits (never 1E+3), anything else as it is."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):  # hidden characters as \u escapes
        return json_text(list(value) if isinstance(value, tuple) else value)
    if isinstance(value, Decimal):
        return decimals.plain_text(value)
    return value


def neutral(value: Any) -> Any:
    """`value` (a cell as `cell` gives it) made safe for a spreadsheet: text
    beginning with one of FORMULA_STARTS gets a leading `'` unless it is a
    plain number ("-12.5", "+3"); anything else is returned as it is.
    "=HYPERLINK(\"http://x\")" -> "'=HYPERLINK(\"http://x\")", "-3" -> "-3"."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS \
            and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvWriter:
    """The one way adieu writes `--csv`: RFC 4180 (cells joined by ",",
    "\n" line ends, a cell quoted, its quotes doubled, when it holds a
    comma, quote, line break, ";" or tab: a spreadsheet whose list
    separator is ";" (most of Europe) or tab would otherwise split
    "x;=HYPERLINK(..)" into a formula cell); C0/C1 controls escaped;
    every cell through `neutral` unless `allow_formulas`; hidden
    characters escaped when `stream` is a terminal (TerminalSafe).
    csv.reader reads every cell back as written."""

    def __init__(self, stream: TextIO, allow_formulas: bool = False):
        self.stream = TerminalSafe(stream)
        self.allow_formulas = allow_formulas

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row of cells (each as `cell` would give it)."""
        cells = [without_controls(v) for v in row]
        if not self.allow_formulas:
            cells = [neutral(v) for v in cells]
        self.stream.write(",".join(_field(v) for v in cells) + "\n")


# Characters that make a cell quoted: RFC 4180's, and the other list separators.
_QUOTED = re.compile('[,";\t\r\n]')


def _field(value: Any) -> str:
    text = "" if value is None else str(value)
    return '"' + text.replace('"', '""') + '"' if _QUOTED.search(text) else text


def without_controls(value: Any) -> Any:
    """Text with each C0/C1 control other than tab, LF and CR written as
    its escape (ESC ]0;t BEL -> the text \\x1b]0;t\\x07); other values as they are."""
    return _CONTROLS.sub(_escaped, value) if isinstance(value, str) else value


def decision_row(d: Decision, run_id: int | None) -> list[Any]:
    """A decision as the cells of DECISION_COLUMNS: `fired` and `reasons`
    pair up by position (the rule, its explanation), as do `shielded` and
    `shielded_by` (the rule, the exemption)."""
    return [cell(v) for v in (
        run_id, d.customer_id, d.outcome, d.base_outcome, d.severity, d.strikes,
        [r.rule for r in d.fired], d.reasons, [r.rule for r in d.shielded],
        [r.shielded_by for r in d.shielded], d.missing, d.effective_date, d.timing_basis,
        d.referrals)]


def write_decisions(decisions: Iterable[Decision], run_id: int | None, stream: TextIO,
                    allow_formulas: bool = False) -> None:
    """The decisions as CSV with a header row of DECISION_COLUMNS (CsvWriter:
    formula cells neutralised unless allow_formulas)."""
    writer = CsvWriter(stream, allow_formulas)
    writer.writerow(DECISION_COLUMNS)
    for d in decisions:
        writer.writerow(decision_row(d, run_id))


def write_facts(rows: list[dict[str, Any]], stream: TextIO,
                allow_formulas: bool = False) -> None:
    """Facts rows (customer_id, the facts by name, "_provenance") as CSV:
    one column per fact in order of first appearance, each value as the
    policy sees it (factshow.csv_value: true/false, exact digits, ISO
    dates; empty when missing), then `_provenance`,
    a JSON object (fact -> where it came from). CsvWriter: formula cells
    neutralised unless allow_formulas."""
    names = ["customer_id"]
    for row in rows:
        for key in row:
            if key not in names and key != "_provenance":
                names.append(key)
    writer = CsvWriter(stream, allow_formulas)
    writer.writerow([*names, "_provenance"])
    for row in rows:
        writer.writerow([cell(csv_value(row.get(n))) for n in names]
                        + [cell(row.get("_provenance") or {})])
