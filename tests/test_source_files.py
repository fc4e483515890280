"""Issue 12, item 3: sources that are not ordinary files, or far larger
inside than outside; runs with no customer; encoding faults named by their
true line and byte offset. Tiny inputs, in process (CliRunner); the FIFO
cases run in a subprocess with a timeout so that a regression can never
hang CI."""

from __future__ import annotations

import base64
import gzip
import io
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.sourcefiles import UNPACKED_FLOOR, check_zip

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "customers.csv"
ADIEU = shutil.which("adieu", path=str(Path(sys.executable).parent)) or "adieu"
HEADER = EXAMPLE.read_bytes().split(b"\n", 1)[0] + b"\n"
ROWS = EXAMPLE.read_bytes().split(b"\n")[1:4]


def facts(source: str, *more: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["facts", source, *more])
    return result.exit_code, result.output


def evaluate(tmp_path: Path, source: str, *more: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["evaluate", "default", "--source", source,
                                      "--as-of", "2026-11-01", "--db",
                                      str(tmp_path / "t.db"), "-q", *more])
    return result.exit_code, result.output


def small(tmp_path: Path, body: bytes, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


# -- files that are not regular files ---------------------------------------

@pytest.mark.parametrize("command", [
    ["evaluate", "default", "--source", "csv:{f}", "--as-of", "2026-11-01", "--db", "{d}"],
    ["facts", "csv:{f}"],
    ["evaluate", "default", "--source", "salesforce:{f}", "--as-of", "2026-11-01",
     "--db", "{d}"],
    ["evaluate", "default", "--source", "hubspot:{f}", "--as-of", "2026-11-01", "--db", "{d}"],
    ["evaluate", "default", "--source", "csv:" + str(EXAMPLE), "--mapping", "{f}",
     "--as-of", "2026-11-01", "--db", "{d}"],
])
def test_a_fifo_is_refused_at_once_never_waited_on(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "ff.csv"
    os.mkfifo(fifo)
    args = [a.format(f=fifo, d=tmp_path / "t.db") for a in command]
    result = bounded(args)
    assert result.exit_code == 2, result.output
    assert str(fifo) in result.output and "not a regular file" in result.output
    assert not (tmp_path / "t.db").exists()


def bounded(args: list[str]):  # noqa: ANN201 - click's Result
    """The command in process, stopped by SIGALRM after 20 s: a FIFO that is
    waited on fails the test instead of hanging CI."""
    def expired(*_: object) -> None:
        raise TimeoutError("waited on a FIFO")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    try:
        return CliRunner().invoke(cli, args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_fifo_inside_a_salesforce_folder_is_named(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    os.mkfifo(export / "Account.csv")
    result = bounded(["facts", f"salesforce:{export}"])
    assert result.exit_code == 2
    assert "Account.csv: not a regular file (a named pipe)" in result.output


def test_a_character_device_is_refused_without_reading_it() -> None:
    # /dev/null is only stat-ed: the check happens before any open for reading.
    code, out = facts("csv:/dev/null")
    assert code == 2
    assert "/dev/null: not a regular file (a character device)" in out


def test_standard_input_is_still_read(tmp_path: Path) -> None:
    done = subprocess.run([ADIEU, "facts", "csv:/dev/stdin"], input=HEADER + ROWS[0] + b"\n",
                          capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert b"CUST-0001" in done.stdout


# -- compressed data bounded -------------------------------------------------

def test_a_gzip_bomb_stops_at_the_bound_with_the_file_named(tmp_path: Path) -> None:
    body = HEADER + b"CUST-1," + b"a" * (2 * UNPACKED_FLOOR) + b"\n"
    bomb = small(tmp_path, gzip.compress(body), "bomb.csv.gz")
    code, out = facts(f"csv:{bomb}")
    assert code == 2
    assert f"{bomb}: unpacks to more than 1,048,576 bytes" in out
    assert "MemoryError" not in out


def test_a_small_gzip_file_is_read(tmp_path: Path) -> None:
    path = small(tmp_path, gzip.compress(HEADER + ROWS[0] + b"\n"), "ok.csv.gz")
    code, out = facts(f"csv:{path}")
    assert code == 0 and "CUST-0001" in out


def test_a_zip_member_bomb_stops_at_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Account.csv", b"Id,Name\n001," + b"a" * (2 * UNPACKED_FLOOR) + b"\n")
    code, out = facts(f"salesforce:{path}")
    assert code == 2
    assert "export.zip:Account.csv: unpacks to more than" in out


def test_overlapping_zip_members_are_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Account.csv", b"Id,Name\n" + b"x" * 1000)
        z.writestr("Case.csv", b"Id\n")
    archive = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    archive.infolist()[1].header_offset = 10  # inside the first member's data
    with pytest.raises(Exception, match="overlap"):
        check_zip(archive, "bomb.zip")


def test_a_line_without_end_is_refused_not_held(tmp_path: Path) -> None:
    path = small(tmp_path, HEADER + b"CUST-1," + b"7" * (65 << 20))
    code, out = facts(f"csv:{path}")
    assert code == 2
    assert ":2: byte offset" in out and "longer than 67,108,864 bytes" in out


# -- no customers -----------------------------------------------------------

@pytest.mark.parametrize("body", [HEADER, HEADER + b"CUST-1,x\n"])  # header only; all rejected
def test_a_run_with_no_customer_is_refused_and_nothing_stored(tmp_path: Path,
                                                              body: bytes) -> None:
    path = small(tmp_path, body)
    code, out = evaluate(tmp_path, f"csv:{path}")
    assert code == 2
    assert "no customer to decide" in out and "--allow-empty" in out
    assert not (tmp_path / "t.db").exists()
    code, out = evaluate(tmp_path, f"csv:{path}", "--dry-run")
    assert code == 2 and "no customer to decide" in out


def test_allow_empty_stores_the_empty_run(tmp_path: Path) -> None:
    path = small(tmp_path, HEADER)
    code, out = evaluate(tmp_path, f"csv:{path}", "--allow-empty")
    assert code == 0, out
    assert "0 customers decided" in out
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("select count(*), max(customers) from runs").fetchone() == (1, 0)


# -- encoding faults at their true line and byte ----------------------------

def test_invalid_utf8_on_line_4_names_line_4_and_its_byte(tmp_path: Path) -> None:
    lines = [HEADER, *(r + b"\n" for r in ROWS)]
    lines[3] = lines[3].replace(b",", b",\xff", 1)
    path = small(tmp_path, b"".join(lines))
    offset = len(b"".join(lines[:3])) + lines[3].index(b"\xff")
    code, out = facts(f"csv:{path}")
    assert code == 2
    assert f"{path}:4: byte offset {offset}: invalid UTF-8 (0xff)" in out
    code, out = facts(f"csv:{path}", "-o", "encoding=cp1252")  # the user says so: read
    assert code == 0, out


@pytest.mark.parametrize(("body", "expected"), [
    (b"customer_id,na\x00me\nC1,a\n", ":1: byte offset 14: a NUL byte"),
    (HEADER + b"\xef\xbb\xbf" + HEADER, ":2: byte offset {h}: a byte-order mark (U+FEFF) "
     "then the header again: two files joined?"),
    (HEADER.decode().encode("utf-16-le"), ":1: byte offset 1: a NUL byte"),
    (HEADER.decode().encode("utf-16"), ":1: byte offset 0: a UTF-16 byte-order mark"),
])
def test_text_faults_are_named_by_line_and_byte(tmp_path: Path, body: bytes,
                                               expected: str) -> None:
    path = small(tmp_path, body)
    code, out = facts(f"csv:{path}")
    assert code == 2
    assert str(path) + expected.format(h=len(HEADER)) in out, out


def test_a_nul_in_a_row_rejects_that_row_only(tmp_path: Path) -> None:
    """The file is text (its header is): the row is the fault, kept as a
    reject with its cell (tests/test_control_chars.py)."""
    path = small(tmp_path, HEADER + ROWS[0] + b"\n" + ROWS[1].replace(b",", b"\x00,", 1)
                 + b"\n")
    code, out = evaluate(tmp_path, f"csv:{path}")
    assert code == 0, out
    assert f"rejected: {path}:3: row 2, field 'customer_id'" in out


def test_a_bom_at_the_start_is_fine(tmp_path: Path) -> None:
    path = small(tmp_path, b"\xef\xbb\xbf" + HEADER + ROWS[0] + b"\n")
    code, out = facts(f"csv:{path}")
    assert code == 0, out


def test_a_part_of_a_split_file_names_the_true_line_and_byte(tmp_path: Path) -> None:
    from adieu.csvsplit import read_part, split_csv
    from adieu.errors import InputError

    lines = [b"customer_id,name\n", *(b"C%d,n%d\n" % (i, i) for i in range(1, 6))]
    lines[4] = b"C4,n\xff4\n"  # line 5, in the second part
    path = small(tmp_path, b"".join(lines))
    offset = len(b"".join(lines[:4])) + lines[4].index(b"\xff")
    first, second, _ = split_csv(str(path), rows_per_part=2)
    assert len(list(read_part(first))) == 2
    with pytest.raises(InputError) as caught:
        list(read_part(second))
    assert str(caught.value).startswith(f"{path}:5: byte offset {offset}: invalid UTF-8 (0xff)")


def test_hubspot_pages_name_the_true_line_and_byte(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    text = (b'{"results": [\n{"id": "1", "properties": {"name": "A"}},\n'
            b'{"id": "2", "properties": {"name": "B\xff"}}\n], "paging": {}}\n')
    (dump / "companies.json").write_bytes(text)
    offset = text.index(b"\xff")
    code, out = facts(f"hubspot:{dump}")
    assert code == 2
    assert f"companies.json:3: byte offset {offset}: invalid UTF-8 (0xff)" in out


def test_a_hubspot_gzip_bomb_stops_at_the_bound(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    page = b'{"results": [], "paging": {}' + b" " * (2 * UNPACKED_FLOOR) + b"}"
    (dump / "companies.json.gz").write_bytes(gzip.compress(page))
    code, out = facts(f"hubspot:{dump}")
    assert code == 2
    assert "companies.json.gz: unpacks to more than 1,048,576 bytes" in out


def test_a_zip_of_too_many_members_or_too_much_declared_data_is_refused() -> None:
    from adieu.sourcefiles import MAX_UNPACKED, MAX_ZIP_MEMBERS

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("Account.csv", b"Id\n")
    archive = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    check_zip(archive, "ok.zip")  # an ordinary zip passes
    archive.infolist()[0].file_size = MAX_UNPACKED + 1
    with pytest.raises(Exception, match=f"over the bound of {MAX_UNPACKED:,}"):
        check_zip(archive, "big.zip")
    archive.infolist()[0].file_size = 3
    archive.filelist.extend(zipfile.ZipInfo(f"f{i}") for i in range(MAX_ZIP_MEMBERS))
    with pytest.raises(Exception, match=f"over the bound of {MAX_ZIP_MEMBERS:,}"):
        check_zip(archive, "many.zip")


# -- a long line in a compressed stream costs what reading it costs ----------

def _cpu(args: list[str]) -> tuple[float, int, str]:
    start = time.process_time()
    result = CliRunner().invoke(cli, args)
    return time.process_time() - start, result.exit_code, result.output


def test_a_long_line_in_a_zip_member_or_gzip_is_read_as_fast_as_unpacked(
        tmp_path: Path) -> None:
    """A 4 MB line read from a zip member or a gzip file: no readline on the
    decompressing stream (one byte per call: minutes for 20 MB), but large
    blocks, so it costs about what the same unpacked file costs. CPU time
    of the same process, as a ratio: no absolute bound on a loaded machine."""
    line = base64.b64encode(random.Random(12).randbytes(3_000_000))  # 4 MB, no line end
    account = b"Id,Name\n001," + line + b"\n"
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Account.csv").write_bytes(account)
    with zipfile.ZipFile(tmp_path / "export.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Account.csv", account)
    body = HEADER + b"CUST-1," + line + b"\n"
    small(tmp_path, body, "plain.csv")
    small(tmp_path, gzip.compress(body, compresslevel=1), "packed.csv.gz")

    folder_cpu, folder_code, folder_out = _cpu(["facts", f"salesforce:{folder}"])
    zip_cpu, zip_code, zip_out = _cpu(["facts", f"salesforce:{tmp_path / 'export.zip'}"])
    assert zip_code == folder_code, (zip_out, folder_out)
    assert zip_cpu < 5 * max(folder_cpu, 0.05), (zip_cpu, folder_cpu)

    plain_cpu, plain_code, plain_out = _cpu(["facts", f"csv:{tmp_path / 'plain.csv'}"])
    gz_cpu, gz_code, gz_out = _cpu(["facts", f"csv:{tmp_path / 'packed.csv.gz'}"])
    assert gz_code == plain_code, (gz_out, plain_out)
    assert gz_cpu < 5 * max(plain_cpu, 0.05), (gz_cpu, plain_cpu)


def test_a_line_completed_across_many_blocks_keeps_every_line() -> None:
    """Lines longer than a block (textlines.GROW) between short ones: every
    line comes out whole, in order, with what followed the long line kept."""
    from adieu.textlines import GROW, checked_lines

    lines = [b"a,b\r\n", b"x" * (2 * GROW + 5) + b"\n", b"1,2\n", b"y" * (GROW - 1) + b"\r",
             b"3,4\n", b"z" * (GROW + 7)]
    got = list(checked_lines(io.BytesIO(b"".join(lines)), "utf-8", "f.csv"))
    assert "".join(got).encode() == b"".join(lines)
    assert [len(g) for g in got] == [5, 2 * GROW + 6, 4, GROW, 4, GROW + 7]


def test_a_zip_whose_directory_gives_a_negative_offset_is_one_error(tmp_path: Path) -> None:
    """Found by `make fuzz` (salesforce_zip): a central directory whose
    offset field points past where it is makes member offsets negative;
    that is a damaged zip named in one line, not an AttributeError."""
    import io
    import struct
    import zipfile

    from adieu.errors import InputError
    from adieu.sourcefiles import open_zip

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("Account.csv", "Id,Name\n001,A\n")
    data = bytearray(buf.getvalue())
    eocd = data.rfind(b"PK\x05\x06")
    offset = struct.unpack_from("<I", data, eocd + 16)[0]
    struct.pack_into("<I", data, eocd + 16, offset + 1000)  # claims 1,000 bytes more
    path = tmp_path / "export.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        open_zip(path, str(path))
    assert "damaged" in str(caught.value) or "not a zip" in str(caught.value).lower()
    assert str(path) in str(caught.value) or caught.value.location.file == str(path)
