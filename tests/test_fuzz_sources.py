"""Fuzz targets: each source adapter through `adieu facts SOURCE --json`
(reader, mapping, intake), in process. Inputs: random bytes, and files built
from a good one and then broken: CSV with ragged rows, stray quotes, BOMs,
NULs, huge fields, mixed newlines, invalid UTF-8; a Salesforce Data Export
(zip and folder) with one member broken or the zip itself cut or garbled; a
HubSpot dump with one page's JSON given wrong types, deep nesting, huge
numbers, cut short or not UTF-8, and a HubSpot UI export CSV broken.

The command either succeeds (exit 0: the damage was a reject or harmless) or
exits 2 with adieu's one-line error naming the file; never an uncaught
exception, never "unexpected error", never a hang (the profile's deadline)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import test_hubspot as hs
import test_salesforce as sf
from click.testing import CliRunner
from fuzzing import targets
from fuzzing.strategies import broken_csv, broken_json
from hypothesis import strategies as st

from adieu.cli import cli

REPO = Path(__file__).resolve().parent.parent
_EXAMPLE = (REPO / "examples" / "customers.csv").read_text(encoding="utf-8").splitlines()
CSV_HEADER, CSV_ROW = _EXAMPLE[0].split(","), _EXAMPLE[1].split(",")
SF_FILES = sf.export_files()
HS_PAGES = {"companies": hs.COMPANY_PAGES, "tickets": hs.TICKET_PAGES, "deals": hs.DEAL_PAGES}


def facts_must_cope(source: str, name: str) -> None:
    """`adieu facts source --json`: exit 0, or exit 2 with a one-line error
    naming `name` (the file); any other exception fails the target."""
    result = CliRunner().invoke(cli, ["facts", source, "--json", "--as-of", sf.AS_OF])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    text = result.output
    assert result.exit_code in (0, 2), (result.exit_code, text)
    if result.exit_code == 2:
        assert "unexpected error" not in text, text
        error = [line for line in text.splitlines() if line.startswith("Error:")]
        assert error, text
        assert name in error[-1], text


def _split(data: bytes) -> tuple[list[str], list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return rows[0], rows[1] if len(rows) > 1 else [""] * len(rows[0])


# -- csv -----------------------------------------------------------------------------

def check_csv_bytes(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("csv") / "customers.csv"
    path.write_bytes(data)
    facts_must_cope(f"csv:{path}", "customers.csv")


test_csv_random_bytes, test_csv_random_bytes_fuzz = targets(
    data=st.binary(max_size=400))(check_csv_bytes)
test_csv_broken, test_csv_broken_fuzz = targets(
    data=broken_csv(CSV_HEADER, CSV_ROW))(check_csv_bytes)


# -- salesforce ----------------------------------------------------------------------

_SF_MEMBER = st.sampled_from(sorted(SF_FILES))
_sf_broken_member = _SF_MEMBER.flatmap(lambda m: st.tuples(st.just(m), st.one_of(
    broken_csv(*_split(SF_FILES[m])), st.binary(max_size=300))))


def check_salesforce(tmp_path_factory, member: tuple[str, bytes], as_zip: bool) -> None:
    name, data = member
    files = {**SF_FILES, name: data}
    base = tmp_path_factory.mktemp("sf")
    if as_zip:
        location = sf.write_zip(base / "export.zip", files)
    else:
        location = base / "export"
        location.mkdir()
        for n, d in files.items():
            (location / n).write_bytes(d)
    facts_must_cope(f"salesforce:{location}", "export")


test_salesforce_member, test_salesforce_member_fuzz = targets(
    member=_sf_broken_member, as_zip=st.booleans())(check_salesforce)


def _zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in SF_FILES.items():
            zf.writestr("WE_00D5g000000ABCD_1/" + name, data)
    return out.getvalue()


_ZIP = _zip_bytes()


@st.composite
def _garbled_zip(draw) -> bytes:
    data = bytearray(_ZIP)
    how = draw(st.sampled_from(["cut", "flip", "splice"]))
    if how == "cut":
        return bytes(data[:draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data)
    i = draw(st.integers(0, len(data)))
    return bytes(data[:i]) + draw(st.binary(max_size=40)) + bytes(data[i:])


def check_salesforce_zip(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("sfz") / "export.zip"
    path.write_bytes(data)
    facts_must_cope(f"salesforce:{path}", "export.zip")


test_salesforce_zip, test_salesforce_zip_fuzz = targets(
    data=_garbled_zip())(check_salesforce_zip)


# -- hubspot ---------------------------------------------------------------------

_hs_page = st.sampled_from([(k, i) for k, pages in sorted(HS_PAGES.items())
                            for i in range(len(pages))]).flatmap(
    lambda ki: st.tuples(st.just(ki), st.one_of(broken_json(HS_PAGES[ki[0]][ki[1]]),
                                                st.binary(max_size=200))))


def check_hubspot_dump(tmp_path_factory, page: tuple) -> None:
    (kind, index), data = page
    folder = tmp_path_factory.mktemp("hs") / "dump"
    folder.mkdir()
    for k, pages in HS_PAGES.items():
        hs.write_pages(folder, k, pages)
    (folder / f"{kind}_{index + 1:04d}.json").write_bytes(data)
    facts_must_cope(f"hubspot:{folder}", "dump")


test_hubspot_dump, test_hubspot_dump_fuzz = targets(page=_hs_page)(check_hubspot_dump)

_HS_EXPORT = hs.EXPORT.encode("utf-8")


def check_hubspot_export(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("hse") / "hubspot-crm-exports-all-companies-2026-11-01.csv"
    path.write_bytes(data)
    facts_must_cope(f"hubspot:{path}", "hubspot-crm-exports")


test_hubspot_export, test_hubspot_export_fuzz = targets(
    data=broken_csv(*_split(_HS_EXPORT)))(check_hubspot_export)

