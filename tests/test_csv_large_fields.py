"""Large valid fields: a long cell in a column no rule reads is valid CSV and is
read, up to a documented bound per field (MAX_FIELD_CHARS, 16 MiB of text)
that every reader parsing CSV shares (csv, salesforce, the hubspot UI
export). A field over the bound is refused as too large, naming the file,
the line and the bound; it is not called malformed, and nothing is stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF, CSV_HEADER, CSV_ROWS

from adieu.cli import cli
from adieu_plugins.csv_source import MAX_FIELD_CHARS

BOUND = f"{MAX_FIELD_CHARS:,} characters (16 MiB)"


def customers(path: Path, notes: str) -> Path:
    """Three customers with a notes column; the second one's notes is `notes`."""
    rows = [f"{row},{note}" for row, note in
            zip(CSV_ROWS[:3], ["short note", f'"{notes}"', ""], strict=True)]
    path.write_text("\n".join([CSV_HEADER + ",notes", *rows]) + "\n", encoding="utf-8")
    return path


def runs(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
        return conn.execute("select count(*) from runs").fetchone()[0] if "runs" in tables \
            else 0


def test_a_200000_character_cell_is_read_and_the_customers_decided(
        runner: CliRunner, policy_file: Path, tmp_path: Path, db_path: Path) -> None:
    notes = "Long call notes, with commas, \"quotes\"\nand line breaks. " * 3500
    notes = notes.replace('"', '""')[:200_000]
    data = customers(tmp_path / "customers.csv", notes)
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source", f"csv:{data}",
                                 "--as-of", AS_OF, "--db", str(db_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["run"]["customers"] == 3
    assert [d["customer_id"] for d in out["decisions"]] == ["C-KEEP", "C-WATCH", "C-MISS"]
    assert out["rejects"] == []
    assert runs(db_path) == 1


def test_a_cell_of_exactly_the_bound_is_read(runner: CliRunner, tmp_path: Path) -> None:
    data = customers(tmp_path / "customers.csv", "x" * MAX_FIELD_CHARS)
    result = runner.invoke(cli, ["facts", f"csv:{data}", "--json", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["customer_id"] for r in rows] == ["C-KEEP", "C-WATCH", "C-MISS"]


def test_a_cell_over_the_bound_is_too_large_exit_2_nothing_stored(
        runner: CliRunner, policy_file: Path, tmp_path: Path, db_path: Path) -> None:
    data = customers(tmp_path / "customers.csv", "x" * (MAX_FIELD_CHARS + 1))
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source", f"csv:{data}",
                                 "--as-of", AS_OF, "--db", str(db_path)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {data}:3: row 2: a field is too large: over {BOUND}, the bound on one "
        "field; the record starting at this line cannot be read (if no field should be that "
        "long, look for a quote that is never closed)\n")
    assert "malformed" not in result.stderr
    assert runs(db_path) == 0


def salesforce_export(folder: Path, description: str) -> Path:
    folder.mkdir()
    (folder / "Account.csv").write_text(
        "Id,IsDeleted,Name,Description,CreatedDate\n"
        "0015g00000Aa001AAA,false,Müller GmbH,short,2019-05-01T08:30:00.000Z\n"
        f'0015g00000Aa002AAA,false,Acme Ltd,"{description}",2020-01-01T00:00:00.000Z\n',
        encoding="utf-8")
    return folder


def hubspot_export(path: Path, about: str) -> Path:
    path.write_text("Record ID,Company name,About Us\n201,Müller GmbH,short\n"
                    f'202,Acme Ltd,"{about}"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["salesforce", "hubspot"])
def test_every_csv_reader_reads_large_cells(runner: CliRunner, tmp_path: Path,
                                            kind: str) -> None:
    text = "Säge, Hammer und Zange. " * 9000  # 216,000 characters in one quoted cell
    if kind == "salesforce":
        location, want = salesforce_export(tmp_path / "export", text), "0015g00000Aa002AAA"
    else:
        location, want = hubspot_export(tmp_path / "companies.csv", text), "202"
    result = runner.invoke(cli, ["facts", f"{kind}:{location}", "--json", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    rows = {r["customer_id"]: r for r in json.loads(result.stdout)}
    assert len(rows) == 2
    if kind == "hubspot":
        assert rows[want]["about_us"] == text.strip()


@pytest.mark.parametrize("kind", ["salesforce", "hubspot"])
def test_every_csv_reader_refuses_a_field_over_the_bound(
        runner: CliRunner, policy_file: Path, tmp_path: Path, db_path: Path,
        kind: str) -> None:
    text = "y" * (MAX_FIELD_CHARS + 1)
    if kind == "salesforce":
        location = salesforce_export(tmp_path / "export", text)
        file = location / "Account.csv"
    else:
        location = file = hubspot_export(tmp_path / "companies.csv", text)
    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source",
                                 f"{kind}:{location}", "--as-of", AS_OF, "--db", str(db_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {file}:3: row 2: a field is too large: over "
                                    f"{BOUND}, the bound on one field")
    assert "malformed" not in result.stderr
    assert runs(db_path) == 0


def test_the_documented_error_is_what_adieu_prints(runner: CliRunner, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    customers(Path("customers.csv"), "x" * (MAX_FIELD_CHARS + 1))
    result = runner.invoke(cli, ["facts", "csv:customers.csv"])
    assert result.exit_code == 2
    doc = (Path(__file__).parents[1] / "docs" / "sources.md").read_text(encoding="utf-8")
    assert f"\n{result.stderr}" in doc
