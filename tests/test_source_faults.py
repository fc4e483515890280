"""Three kinds of source fault the fuzzer found (tests/test_fuzz_sources.py),
each once an uncaught exception and now adieu's own located error (exit 2,
one line naming the file and where) or a rejected value:

- JSON nested deeper than adieu.jsontext.MAX_JSON_DEPTH (stdlib json's
  RecursionError at 1,000 levels): bounded before decoding;
- numbers whose exponent no Decimal can hold (1e+99999999999999999999:
  decimal.InvalidOperation), in JSON and in text cells, and numbers of
  100,000 digits;
- a zip whose central directory or member headers are garbled
  (NotImplementedError, IndexError ... from zipfile): "not a readable zip
  archive" from one guard, adieu.sourcefiles.zip_errors."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import test_hubspot as hs
import test_salesforce as sf
from click.testing import CliRunner

from adieu import InputError
from adieu.cli import cli
from adieu.decimals import read_number, to_number
from adieu.jsontext import MAX_JSON_DEPTH, loads, too_deep
from adieu.sourcefiles import open_zip, zip_errors

HUGE = "1e+99999999999999999999"   # Decimal() raises InvalidOperation
TINY = "-2.5E-99999999999999999999"


def facts(source: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["facts", source, "--json", "--as-of", sf.AS_OF])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    assert "unexpected error" not in lines[0] and "internal error" not in lines[0]
    return lines[0]


def dump_with(tmp_path: Path, text: str) -> Path:
    """A HubSpot dump whose second companies page is `text`."""
    folder = tmp_path / "dump"
    folder.mkdir()
    for kind, pages in (("companies", hs.COMPANY_PAGES), ("tickets", hs.TICKET_PAGES),
                        ("deals", hs.DEAL_PAGES)):
        hs.write_pages(folder, kind, pages)
    last = len(hs.COMPANY_PAGES)
    (folder / f"companies_{last:04d}.json").write_text(text, encoding="utf-8")
    return folder / f"companies_{last:04d}.json"


# -- 1. nesting --------------------------------------------------------------------------

def _last_page() -> dict:
    return hs.COMPANY_PAGES[-1]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 2, 1000, 100_000])
@pytest.mark.parametrize("form", ["array", "object", "in-results", "second-line"])
def test_deep_json_is_a_located_error(tmp_path, depth, form):
    page = json.dumps(_last_page())
    if form == "array":
        text = "[" * depth + "]" * depth
    elif form == "object":
        text = '{"a": ' * depth + "1" + "}" * depth
    elif form == "in-results":
        text = '{"results": ' + "[" * depth + "]" * depth + "}"
    else:  # JSON Lines: a good page, then a deep one on line 2
        text = page + "\n" + "[" * depth + "]" * depth
    path = dump_with(tmp_path, text)
    code, output = facts(f"hubspot:{path.parent}")
    line = error_line(output)
    assert code == 2
    assert f"{path}:{2 if form == 'second-line' else 1}:" in line, line
    assert f"nested more than {MAX_JSON_DEPTH}" in line


def test_nesting_within_the_bound_reads(tmp_path):
    # A property holding arrays 80 deep (the page itself adds about 5): no error.
    page = _last_page()
    deep = json.loads("[" * 80 + "]" * 80)
    record = dict(page["results"][0], properties={**page["results"][0]["properties"],
                                                   "notes": deep})
    path = dump_with(tmp_path, json.dumps({**page, "results": [record]}))
    code, output = facts(f"hubspot:{path.parent}")
    assert code == 0, output


def test_too_deep_skips_brackets_in_strings():
    assert too_deep("[" * 101 + "]" * 101) == 100
    assert too_deep("[" * 100 + "]" * 100) is None
    assert too_deep('["' + "[" * 300 + '"]') is None
    assert too_deep('["a\\"' + "[" * 300 + '"]') is None   # an escaped quote
    assert too_deep('["a\\\\"' + ",[" * 101) == 6 + 2 * 99 + 1  # an escaped backslash
    assert too_deep("{} " + "[" * 200) is None              # only the first value
    assert too_deep("  [[[", 2, limit=2) == 4


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "[" + HUGE + "]"])
def test_jsontext_loads_refuses_with_valueerror(text):
    with pytest.raises(ValueError):
        loads(text)


# -- 2. numbers out of range -------------------------------------------------------------

@pytest.mark.parametrize("number", [HUGE, TINY, "1E99999999999999999999"])
def test_json_number_beyond_decimal_is_a_located_error(tmp_path, number):
    path = dump_with(tmp_path, '{"results":\n  ' + number + "}")
    code, output = facts(f"hubspot:{path.parent}")
    line = error_line(output)
    assert code == 2
    assert f"{path}:2:3:" in line and "out of range" in line, line


def test_json_number_beyond_decimal_in_a_record(tmp_path):
    page = json.dumps(_last_page())
    text = page.replace('"results": [', '"results": [{"id": "9", "x": ' + HUGE + "}, ", 1)
    path = dump_with(tmp_path, text)
    code, output = facts(f"hubspot:{path.parent}")
    assert code == 2 and f"{path}:1:" in error_line(output)


def test_json_number_of_100000_digits_reads(tmp_path):
    page = _last_page()
    text = json.dumps(page)[:-1] + ', "n": 1' + "0" * 100_000 + ".5}"
    path = dump_with(tmp_path, text)
    code, output = facts(f"hubspot:{path.parent}")
    assert code == 0, output[-300:]


@pytest.mark.parametrize("text,reason", [
    (HUGE, "too large"), ("-" + HUGE, "too large"), (TINY, "too small"),
    ("1" + "0" * 100_000, "too large"), ("." + "0" * 100_000 + "1", "too small")])
def test_read_number_out_of_range_is_valueerror(text, reason):
    with pytest.raises(ValueError, match=reason):
        read_number(text)
    with pytest.raises(OverflowError, match=reason):
        to_number(text)


def test_zero_with_a_huge_exponent_is_zero():
    assert read_number("0e+99999999999999999999") == 0


def test_csv_cell_beyond_decimal_is_rejected_not_a_crash(tmp_path):
    lines = (Path(sf.__file__).parent.parent / "examples" / "customers.csv").read_text(
        encoding="utf-8").splitlines()[:3]
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("revenue_12m")] = HUGE
    path = tmp_path / "customers.csv"
    path.write_text("\n".join([lines[0], ",".join(row), lines[2]]) + "\n", encoding="utf-8")
    code, output = facts(f"csv:{path}")
    assert code in (0, 2), output
    if code == 2:
        assert "customers.csv" in error_line(output)
    else:
        assert "CUST-0002" in output


# -- 3. garbled zip ----------------------------------------------------------------------

def _zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sf.export_files().items():
            zf.writestr("WE_00D5g000000ABCD_1/" + name, data)
    return out.getvalue()


# (offset in the first central-directory entry, new byte, what zipfile raised)
CENTRAL = [(6, 127, "NotImplementedError"),   # version needed 12.7
           (46, 0, "IndexError"),             # empty file name: ZipInfo.is_dir
           (0, 0, "BadZipFile"),              # the entry's signature
           (28, 0xFF, "")]                    # file name length past the directory


@pytest.mark.parametrize("offset,value,raised", CENTRAL)
def test_garbled_central_directory_is_not_a_readable_zip(tmp_path, offset, value, raised):
    data = bytearray(_zip_bytes())
    data[data.find(b"PK\x01\x02") + offset] = value
    path = tmp_path / "export.zip"
    path.write_bytes(bytes(data))
    code, output = facts(f"salesforce:{path}")
    line = error_line(output)
    assert code == 2
    assert f"{path}: not a readable zip archive (" + raised in line, line
    with pytest.raises(InputError, match="not a readable zip archive"):
        open_zip(path, "export.zip")


def test_garbled_member_header_names_the_member(tmp_path):
    data = bytearray(_zip_bytes())
    data[0] = 0   # the first local header's signature: zipfile.open raises BadZipFile
    path = tmp_path / "export.zip"
    path.write_bytes(bytes(data))
    code, output = facts(f"salesforce:{path}")
    line = error_line(output)
    assert code == 2 and f"{path}:WE_00D5g000000ABCD_1/" in line, line


@pytest.mark.parametrize("exc", [NotImplementedError("zip file version 12.7"),
                                 IndexError("string index out of range"),
                                 ValueError("bad"), zipfile.BadZipFile("Bad CRC-32"),
                                 OSError("read"), EOFError(), RuntimeError("encrypted")])
def test_zip_errors_turns_every_zipfile_fault_into_inputerror(exc):
    with pytest.raises(InputError) as caught:
        with zip_errors("export.zip"):
            raise exc
    assert str(caught.value).startswith("export.zip: not a readable zip archive (")


def test_zip_errors_lets_adieus_own_error_through():
    own = InputError("unpacks to more than 1 bytes")
    with pytest.raises(InputError) as caught:
        with zip_errors("export.zip"):
            raise own
    assert caught.value is own
