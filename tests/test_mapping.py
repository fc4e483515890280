"""Mapping files and the CSV source's options: renamed columns, units,
date formats, defaults, booleans, delimiters, encodings, gzip; errors that
name the mapping file's line or the data file's row and field."""

from __future__ import annotations

import gzip
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.errors import InputError
from adieu.mapping import MappingErrors, load_mapping, snake_case
from adieu.policy import canonical_facts

HEADER = "Account Number;Revenue (kEUR);Contract end;Strategic?;Tier;Zone\n"
ROWS = [
    "A-1;12,5;31/12/2026;x;;Nord\n",  # "12,5" is not a number: rejected
    "A-2;40;15/01/2027;;premium;Süd\n",
    "A-3;7.25;;no;;Ouest\n",
]
MAPPING = textwrap.dedent("""\
    # yaml-language-server: $schema=../schemas/mapping.schema.json
    version: 1
    options:
      delimiter: ";"
    fields:
      Account Number: customer_id
      Revenue (kEUR): {fact: revenue_12m, scale: 1000, unit: EUR}
      Contract end: {fact: contract_end, format: "%d/%m/%Y"}
      Strategic?: {fact: reference_account, true_values: ["x", "yes"], false_values: ["no"]}
      Tier: {fact: tier, default: standard}
      Zone: {fact: sales_zone, type: string}
    unmapped:
      keep: false
    """)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def facts_json(args: list[str]) -> tuple[list[dict], str, int]:
    result = CliRunner().invoke(cli, ["facts", *args, "--json", "--as-of", "2026-11-01"])
    data = json.loads(result.stdout) if result.exit_code == 0 else []
    return data, result.stderr, result.exit_code


def test_mapping_renames_scales_parses_dates_booleans_and_defaults(tmp_path: Path):
    data = write(tmp_path / "export.csv", HEADER + "".join(ROWS))
    mapping = write(tmp_path / "map.yaml", MAPPING)
    rows, err, code = facts_json([f"csv:{data}", "--mapping", str(mapping)])
    assert code == 0, err
    by_id = {r["customer_id"]: r for r in rows}
    assert set(by_id) == {"A-2", "A-3"}
    assert by_id["A-2"]["revenue_12m"] == 40000
    assert by_id["A-2"]["contract_end"] == "2027-01-15"
    assert by_id["A-2"]["tier"] == "premium"
    assert by_id["A-2"]["sales_zone"] == "Süd"
    assert "reference_account" not in by_id["A-2"]  # empty cell: missing, not false
    assert by_id["A-3"]["revenue_12m"] == 7250
    assert by_id["A-3"]["reference_account"] is False
    assert by_id["A-3"]["tier"] == "standard"  # the default
    assert "contract_end" not in by_id["A-3"]
    assert by_id["A-2"]["_provenance"]["revenue_12m"].endswith("row 2, Revenue (kEUR)")
    assert "field 'Revenue (kEUR)'" in err and "row 1" in err and "'12,5'" in err


def test_unknown_mapping_target_names_the_mapping_line(tmp_path: Path):
    text = MAPPING.replace("Account Number: customer_id", "Account Number: custmer_id")
    mapping = write(tmp_path / "map.yaml", text)
    with pytest.raises(MappingErrors) as info:
        load_mapping(mapping, canonical_facts())
    (error,) = info.value.errors
    line = text.splitlines().index("  Account Number: custmer_id") + 1
    assert error.location.line == line
    assert error.location.column == len("  Account Number: ") + 1
    assert "unknown mapping target 'custmer_id'" in error.message
    assert "did you mean 'customer_id'" in error.message


def test_mapping_schema_errors_name_the_line(tmp_path: Path):
    text = MAPPING.replace("scale: 1000", "scale: lots")
    mapping = write(tmp_path / "map.yaml", text)
    result = CliRunner().invoke(cli, ["facts", f"csv:{mapping}", "--mapping", str(mapping)])
    assert result.exit_code == 2
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "scale: lots" in t)
    assert f"map.yaml:{line}:" in result.stderr


def test_mapping_type_clash_with_a_canonical_fact(tmp_path: Path):
    mapping = write(tmp_path / "map.yaml", "version: 1\nfields:\n  Rev: {fact: revenue_12m, "
                    "type: date}\n")
    with pytest.raises(MappingErrors, match="'revenue_12m' is a number, not a date"):
        load_mapping(mapping, canonical_facts())


def test_snake_case():
    assert snake_case("Foo_Bar") == "foo_bar"
    assert snake_case("AnnualRevenue") == "annual_revenue"
    assert snake_case("Customer Health Score") == "customer_health_score"
    assert snake_case("NPS (last 12m)") == "nps_last_12m"


CANONICAL = ("customer_id,name,revenue_12m,contract_end,notes\r\n"
             "C1,\"Müller, \"\"Die\"\" GmbH\",1000,2027-01-31,\"two\r\nlines, with comma\"\r\n"
             "C2,Café Noir,2000.5,,\r\n")


@pytest.mark.parametrize("variant", ["utf-8", "utf-8-bom", "cp1252", "gzip", "semicolon"])
def test_csv_variants_give_the_same_facts(tmp_path: Path, variant: str):
    text, args = CANONICAL, []
    if variant == "utf-8-bom":
        data = write(tmp_path / "c.csv", "\ufeff" + text)
    elif variant == "cp1252":
        data = write(tmp_path / "c.csv", text, "cp1252")
        args = ["-o", "encoding=cp1252"]
    elif variant == "gzip":
        data = tmp_path / "c.csv.gz"
        data.write_bytes(gzip.compress(text.encode("utf-8")))
    elif variant == "semicolon":
        data = write(tmp_path / "c.csv", text.replace(",", ";").replace("Müller; ", "Müller, ")
                     .replace("lines; with", "lines, with"))
        args = ["-o", "delimiter=;"]
    else:
        data = write(tmp_path / "c.csv", text)
    rows, err, code = facts_json([f"csv:{data}", *args])
    assert code == 0, err
    assert [r["customer_id"] for r in rows] == ["C1", "C2"]
    assert rows[0]["name"] == 'Müller, "Die" GmbH'
    assert rows[0]["revenue_12m"] == 1000
    assert rows[0]["contract_end"] == "2027-01-31"
    assert rows[1]["revenue_12m"] == 2000.5
    assert rows[1]["name"] == "Café Noir"
    # the second record starts on line 4: the first one's quoted cell spans two lines
    assert rows[1]["_provenance"]["name"].endswith("row 2, name")


def test_wrong_delimiter_is_one_clear_line(tmp_path: Path):
    data = write(tmp_path / "c.csv", CANONICAL.replace(",", ";"))
    result = CliRunner().invoke(cli, ["facts", f"csv:{data}"])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {data}:1: no customer_id column in the header (is the "
                             "delimiter right? set -o delimiter=...); found: customer_id;name;"
                             "revenue_12m;contract_end;notes\n")


def test_undecodable_bytes_name_the_file_and_suggest_the_encoding(tmp_path: Path):
    data = write(tmp_path / "c.csv", CANONICAL, "cp1252")
    result = CliRunner().invoke(cli, ["facts", f"csv:{data}"])
    assert result.exit_code == 2
    assert str(data) in result.stderr and "encoding=cp1252" in result.stderr
    assert result.stderr.count("\n") == 1


def test_corrupt_gzip_is_an_input_error(tmp_path: Path):
    data = tmp_path / "c.csv.gz"
    data.write_bytes(gzip.compress(CANONICAL.encode())[:30])
    result = CliRunner().invoke(cli, ["facts", f"csv:{data}"])
    assert result.exit_code == 2
    assert str(data) in result.stderr


def test_bad_option_value(tmp_path: Path):
    data = write(tmp_path / "c.csv", CANONICAL)
    result = CliRunner().invoke(cli, ["facts", f"csv:{data}", "-o", "encoding=ebcdic"])
    assert result.exit_code == 2
    assert "unknown encoding 'ebcdic'" in result.stderr
    result = CliRunner().invoke(cli, ["facts", f"csv:{data}", "-o", "nonsense"])
    assert result.exit_code == 2
    assert "must be KEY=VALUE" in result.stderr


def test_mapping_convert_errors_are_rejects_naming_the_source_field(tmp_path: Path):
    data = write(tmp_path / "export.csv", HEADER + "A-9;5;2026-12-31;x;;Nord\n")
    mapping = write(tmp_path / "map.yaml", MAPPING)
    db = tmp_path / "a.db"
    # The export has revenue, tier and contract end, not the hours and
    # incident counts the default policy also uses: allowed to be missing.
    result = CliRunner().invoke(cli, ["evaluate", "default", "--source", f"csv:{data}",
                                      "--mapping", str(mapping), "--db", str(db),
                                      "--as-of", "2026-11-01", "--strict",
                                      "--allow-missing-facts"])
    assert result.exit_code == 2
    assert "field 'Contract end'" in result.stderr
    assert "expected a date in format %d/%m/%Y, got '2026-12-31'" in result.stderr
    assert not db.exists()


def test_default_csv_mapping_ships_and_loads():
    from adieu.plugins import registry

    kind = registry().sources["csv"]
    mapping = load_mapping(kind.mapping, canonical_facts())
    assert mapping.keep_unmapped and mapping.options["delimiter"] == ","


def test_mapping_file_that_is_not_yaml(tmp_path: Path):
    mapping = write(tmp_path / "map.yaml", "fields: [unclosed\n")
    with pytest.raises(InputError) as info:
        load_mapping(mapping, canonical_facts())
    assert info.value.location.file == str(mapping)
    assert info.value.location.line == 2
