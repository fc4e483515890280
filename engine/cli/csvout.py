"""CSV for machines (`--csv`): one row per customer, every field in its own
column, and a list-valued field as a JSON array in one cell.

A list is never joined with a separator: reasons and notes contain ";" and
",", quotes and line breaks. A JSON array in a cell is what sqlite-utils and
Datasette users know (sqlite-utils stores a list as JSON text and its
`--csv` writes that text as it is; SQLite's json_each() takes it apart).
Cells are quoted by Python's csv module (RFC 4180: a cell with a comma,
quote or line break is quoted, quotes doubled), so csv.reader reads every
value back exactly. Empty lists are `[]`, never an empty cell."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

from .. import decimals, jsontext
from ..decide import Decision
from ..safe_text import TerminalSafe

DECISION_COLUMNS = ("run_id", "customer_id", "outcome", "base_outcome", "severity", "strikes",
                    "fired", "reasons", "shielded", "shielded_by", "missing", "effective_date",
                    "timing_basis", "referrals")


def cell(value: Any) -> Any:
    """One value as a CSV cell: None is empty, a list or dict is JSON text,
    a number is plain digits (never 1E+3), anything else as it is."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return jsontext.dumps(list(value) if isinstance(value, tuple) else value)
    if isinstance(value, Decimal):
        return decimals.plain_text(value)
    return value


def decision_row(d: Decision, run_id: int | None) -> list[Any]:
    """A decision as the cells of DECISION_COLUMNS: `fired` and `reasons`
    pair up by position (the rule, its explanation), as do `shielded` and
    `shielded_by` (the rule, the exemption)."""
    return [cell(v) for v in (
        run_id, d.customer_id, d.outcome, d.base_outcome, d.severity, d.strikes,
        [r.rule for r in d.fired], d.reasons, [r.rule for r in d.shielded],
        [r.shielded_by for r in d.shielded], d.missing, d.effective_date, d.timing_basis,
        d.referrals)]


def write_decisions(decisions: Iterable[Decision], run_id: int | None, stream: TextIO) -> None:
    """The decisions as CSV with a header row of DECISION_COLUMNS. Hidden
    characters are escaped only on a terminal (a file or pipe gets the values
    as they are)."""
    writer = csv.writer(TerminalSafe(stream), lineterminator="\n")
    writer.writerow(DECISION_COLUMNS)
    for d in decisions:
        writer.writerow(decision_row(d, run_id))


def write_facts(rows: list[dict[str, Any]], stream: TextIO) -> None:
    """Facts rows (customer_id, the facts by name, "_provenance") as CSV:
    one column per fact in order of first appearance, then `_provenance`,
    a JSON object (fact -> where it came from)."""
    names = ["customer_id"]
    for row in rows:
        for key in row:
            if key not in names and key != "_provenance":
                names.append(key)
    writer = csv.writer(TerminalSafe(stream), lineterminator="\n")
    writer.writerow([*names, "_provenance"])
    for row in rows:
        writer.writerow([cell(row.get(n)) for n in names] + [cell(row.get("_provenance") or {})])
