"""Every `--csv` output keeps each field in its own column and a list as a
JSON array in one cell, so reasons that contain ";", ",", quotes and line
breaks read back exactly with csv.reader."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli

# A reason with every character that a joined list would make ambiguous.
NASTY = 'a; b, "c"\nd'

POLICY = textwrap.dedent("""\
    version: "1"
    name: csvout
    rules:
      - id: late
        title: Late payer
        when: late_payments_12m >= 3
        action: strike
        explain: "{name}"
      - id: also
        title: 'Second; rule, "quoted"'
        when: late_payments_12m >= 3
        action: strike
      - id: costly
        title: Costly
        when: hours_support_12m > 100
        action: strike
    exemptions:
      - id: reference-2030
        customers: [C-EX]
        rules: [costly]
        reason: Reference
        approver: CEO
        expires: "2030-01-01"
    timing:
      referrals:
        - vendors: ["Smith, Jones; Co", "Plain Ltd"]
    """)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    with open(tmp_path / "c.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "late_payments_12m", "hours_support_12m", "name"])
        w.writerow(["C-1", "5", "1", NASTY])
        w.writerow(["C-EX", "0", "500", "x"])
        w.writerow(["C-MISS", "", "1", "y"])
    return {"policy": str(tmp_path / "p.yaml"), "src": f"csv:{tmp_path / 'c.csv'}",
            "db": str(tmp_path / "c.db")}


def _rows(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in body)
    return [dict(zip(header, r, strict=True)) for r in body]


def _evaluate(files: dict[str, str]) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(cli, ["evaluate", files["policy"], "--source", files["src"],
                                      "--as-of", "2026-11-02", "--db", files["db"], "--csv"])
    assert result.exit_code == 0, result.output
    return {r["customer_id"]: r for r in _rows(result.stdout)}


def test_reasons_and_rule_ids_have_their_own_columns(files) -> None:
    row = _evaluate(files)["C-1"]
    assert json.loads(row["fired"]) == ["late", "also"]
    assert json.loads(row["reasons"]) == [NASTY, 'Second; rule, "quoted"']
    assert row["strikes"] == "2"


def test_every_list_column_is_a_json_array(files) -> None:
    rows = _evaluate(files)
    for row in rows.values():
        for column in ("fired", "reasons", "shielded", "shielded_by", "missing", "referrals"):
            assert isinstance(json.loads(row[column]), list), (column, row[column])
    ex = rows["C-EX"]
    assert (json.loads(ex["shielded"]), json.loads(ex["shielded_by"])) == \
        (["costly"], ["reference-2030"])
    assert json.loads(ex["fired"]) == [] and ex["fired"] == "[]"
    assert json.loads(rows["C-MISS"]["missing"]) == ["late_payments_12m"]


def test_scalar_columns_keep_their_commas(files) -> None:
    (Path(files["policy"])).write_text(
        POLICY.replace("action: strike\n    explain", "action: offboard\n    explain", 1),
        encoding="utf-8")
    row = _evaluate(files)["C-1"]
    assert row["outcome"] == "offboard"
    assert json.loads(row["referrals"]) == ["Smith, Jones; Co", "Plain Ltd"]
    assert row["timing_basis"].startswith("60-day notice period")
    assert row["effective_date"] == "2027-01-01"


def test_facts_csv_reads_back_exactly(files) -> None:
    result = CliRunner().invoke(cli, ["facts", files["src"], "--csv", "--as-of", "2026-11-02"])
    assert result.exit_code == 0, result.output
    rows = {r["customer_id"]: r for r in _rows(result.stdout)}
    assert list(next(iter(rows.values()))) == ["customer_id", "late_payments_12m",
                                               "hours_support_12m", "name", "_provenance"]
    assert rows["C-1"]["name"] == NASTY
    assert rows["C-MISS"]["late_payments_12m"] == ""  # missing: an empty cell
    provenance = json.loads(rows["C-1"]["_provenance"])
    assert set(provenance) >= {"late_payments_12m", "name"}
