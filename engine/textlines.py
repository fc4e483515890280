"""Lines of a text file decoded one at a time from its bytes, so that a
fault in the text is named by its true line and byte offset: bytes that
are not in the encoding, a NUL byte in the header line (binary data, or
UTF-16 text without a byte-order mark; a NUL in a later line is that row's
reject, engine.safe_text), a byte-order mark that starts the header again
(two files joined; elsewhere U+FEFF is the row's reject too), a UTF-16
byte-order mark, and a line longer than MAX_LINE_BYTES
(a file of /dev/zero-like content with no line break: refused before it
fills the memory). Used by the CSV reader of every built-in source
(adieu_plugins.csv_source.read_csv_stream) and engine.csvsplit;
first_bad_byte places the decoding error of a reader that decodes in
blocks (the HubSpot JSON pages). Lines are counted by their LF bytes."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator
from typing import IO

from .errors import InputError, Location

# The longest physical line read, in bytes: four times the 16 MiB bound on
# one field (a field of 16 Mi characters is up to 64 MiB of UTF-8). A line
# must be held whole before its fields are split, so this bounds the memory
# one line takes.
MAX_LINE_BYTES = 64 << 20

_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "cp1252", "latin-1": "latin-1"}
_HINT = {"UTF-8": "if the file is in another encoding, say which: -o encoding=cp1252 "
                  "(or latin-1)",
         "cp1252": "the byte is not used by cp1252; is the file in another encoding?"}


def _codec(encoding: str) -> tuple[str, str, bool]:
    """(codec to decode lines with, its name in errors, whether a UTF-8
    byte-order mark may start the file)."""
    enc = encoding.lower().replace("_", "-")
    enc = {"utf8": "utf-8", "windows-1252": "cp1252", "latin1": "latin-1",
           "iso-8859-1": "latin-1"}.get(enc, enc)
    if enc in ("utf-8", "utf-8-sig"):
        return "utf-8", "UTF-8", True
    return enc, _NAMES.get(enc, encoding), False


_OTHER_ENDS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"
CHUNK = 1 << 16  # bytes decoded at a time (then completed to a line end): 64 KiB
# keeps what a reader holds small (tests/test_salesforce.py: a tenth of a file)
GROW = 1 << 20  # the largest block read to complete a long line: 1 MiB


def checked_lines(binary: IO[bytes], encoding: str, name: str, line: int = 1,
                  offset: int = 0) -> Iterator[str]:
    """The lines of a binary stream as text: see _chunks (the lines of each
    chunk handed on without a Python step per line)."""
    return itertools.chain.from_iterable(_chunks(binary, encoding, name, line, offset))


def _chunks(binary: IO[bytes], encoding: str, name: str, line: int = 1,
            offset: int = 0) -> Iterator[Iterable[str]]:
    """The lines of a binary stream as text, line ends kept (LF, CRLF or a
    lone CR each end a line, as for open(newline="")). line, offset: the
    line number and byte offset of the stream's first byte in its file
    (a part of a file, engine.csvsplit). Lines in errors are counted by
    their LF bytes.

    Decodes about CHUNK bytes at a time, completed to the end of a line,
    and checks the bytes as a whole (in C); a fault is then placed by
    counting the line ends before it.

    Raises InputError at FILE:LINE naming the byte offset (from the start
    of the file, counting from 0) and the byte for: a byte that is not in
    the encoding, a NUL byte in the first line, a byte-order mark before a
    repeated header (UTF-8), a UTF-16 byte-order mark at the start; and a line
    over MAX_LINE_BYTES."""
    codec, label, bom_ok = _codec(encoding)
    first = header = offset == 0
    head_line = b""
    pending = b""  # read past the last line end of the chunk before
    while True:
        raw = pending + binary.read(CHUNK) if pending else binary.read(CHUNK)
        pending = b""
        if not raw:
            return
        if not raw.endswith(b"\n"):
            raw, pending = _complete(binary, raw, name, line, offset)
        if first:
            first = False
            if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise InputError("byte offset 0: a UTF-16 byte-order mark "
                                 f"(0x{raw[0]:02x} 0x{raw[1]:02x}): save the file as UTF-8",
                                 Location(name, line=line))
            if bom_ok and raw.startswith(b"\xef\xbb\xbf"):
                raw, offset = raw[3:], offset + 3

        def fault(at: int, what: str, raw: bytes = raw, offset: int = offset,
                  line: int = line) -> InputError:
            return InputError(f"byte offset {offset + at}: {what}",
                              Location(name, line=line + raw.count(b"\n", 0, at)))

        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise fault(exc.start, f"invalid {label} (0x{raw[exc.start]:02x}): "
                        + _HINT.get(label, "not " + label)) from None
        # A NUL in the header: not text (UTF-16 without a byte-order mark, a
        # binary file, /dev/zero). One in a later line is that row's own
        # fault: the row is rejected with its cell as evidence (safe_text).
        at = raw.find(b"\x00", 0, raw.find(b"\n") + 1 or len(raw)) if header else -1
        if at >= 0:
            raise fault(at, "a NUL byte (0x00): not text (binary data, or UTF-16 text: "
                        "save it as UTF-8)")
        if header:  # the header line's bytes, to know it again after a BOM
            head_line = raw[:raw.find(b"\n") + 1 or len(raw)].rstrip(b"\r\n")
        at = _joined(raw, head_line) if bom_ok and head_line and "\ufeff" in text else -1
        if at >= 0:
            raise fault(at, "a byte-order mark (U+FEFF) then the header again: two files "
                        "joined? remove the second header")
        header = False
        offset += len(raw)
        line += raw.count(b"\n")
        # str.splitlines also ends lines at VT, FF, FS, GS, RS, NEL, U+2028
        # and U+2029, which open(newline="") keeps inside a line.
        other = any(c in text for c in _OTHER_ENDS)
        yield io.StringIO(text, newline="") if other else text.splitlines(True)


def _complete(binary: IO[bytes], raw: bytes, name: str, line: int,
              offset: int) -> tuple[bytes, bytes]:
    """raw completed to a line end: (the bytes up to the last LF of the
    first block that holds one, what follows it). Blocks start at 4 KiB
    (what is read ahead stays small) and double up to GROW. Never
    readline: on a stream without a buffer of its own (a zip member, a
    gzip file, io.BufferedIOBase) that reads one byte per call, minutes
    for one long line. Blocks are read whole and joined once, so a long
    line costs what reading it costs. InputError for a line over
    MAX_LINE_BYTES, at the line's first byte."""
    pieces = [raw]
    tail = 0  # bytes of the unfinished line read after raw
    size = 1 << 12  # a row's end is mostly near: read little first, then double
    while True:
        more = binary.read(size)
        size = min(2 * size, GROW)
        if not more:
            return b"".join(pieces), b""
        end = more.find(b"\n")
        if tail + (end + 1 if end >= 0 else len(more)) > MAX_LINE_BYTES:
            at = raw.rfind(b"\n") + 1
            raise InputError(f"byte offset {offset + at}: a line longer than "
                             f"{MAX_LINE_BYTES:,} bytes (64 MiB), the bound on one line: "
                             "not a text file with line breaks?",
                             Location(name, line=line + raw.count(b"\n")))
        if end >= 0:
            cut = more.rfind(b"\n") + 1
            pieces.append(more[:cut])
            return b"".join(pieces), more[cut:]
        pieces.append(more)
        tail += len(more)


def _joined(raw: bytes, head_line: bytes) -> int:
    """Where a UTF-8 byte-order mark starts a line that repeats the header
    (a second file appended to the first), or -1. A U+FEFF anywhere else
    is the row's own fault (a reject, engine.safe_text)."""
    bom = b"\xef\xbb\xbf"
    at = raw.find(bom)
    while at >= 0:
        if (at == 0 or raw[at - 1:at] in (b"\n", b"\r")) and \
                raw.startswith(head_line, at + len(bom)):
            return at
        at = raw.find(bom, at + 1)
    return -1


def first_bad_byte(binary: IO[bytes], encoding: str = "utf-8") -> tuple[int, int, int] | None:
    """(line, byte offset, byte) of the first byte of a stream that is not
    in the encoding, or None: for a reader that decodes in blocks (the
    HubSpot JSON pages) to say where its UnicodeDecodeError was. Reads in
    CHUNK blocks; lines are counted by their LF bytes."""
    import codecs

    codec = _codec(encoding)[0]
    decoder = codecs.getincrementaldecoder(codec)()
    done = lines = 0  # bytes handed to the decoder before this block; LFs in them
    while True:
        block = binary.read(CHUNK)
        pending = decoder.getstate()[0]
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            data = pending + block
            at = done - len(pending) + exc.start
            line = lines - pending.count(b"\n") + data.count(b"\n", 0, exc.start) + 1
            return line, at, data[exc.start]
        if not block:
            return None
        done += len(block)
        lines += block.count(b"\n")
