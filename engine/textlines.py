"""Lines of a text file decoded one at a time from its bytes, so that a
fault in the text is named by its true line and byte offset: bytes that
are not in the encoding, a NUL byte (binary data, or UTF-16 text without a
byte-order mark), a byte-order mark anywhere but at the start (two files
joined), a UTF-16 byte-order mark, and a line longer than MAX_LINE_BYTES
(a file of /dev/zero-like content with no line break: refused before it
fills the memory). Used by the CSV reader of every built-in source
(adieu_plugins.csv_source.read_csv_stream)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from .errors import InputError, Location

# The longest physical line read, in bytes: four times the 16 MiB bound on
# one field (a field of 16 Mi characters is up to 64 MiB of UTF-8). A line
# must be held whole before its fields are split, so this bounds the memory
# one line takes.
MAX_LINE_BYTES = 64 << 20

_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "cp1252", "latin-1": "latin-1"}
_LONE_CR = re.compile(r".*?(?:\r\n|\r|\n)|.+", re.S)
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


def checked_lines(binary: IO[bytes], encoding: str, name: str, line: int = 1,
                  offset: int = 0) -> Iterator[str]:
    """The lines of a binary stream as text, line ends kept (LF, CRLF or a
    lone CR: each ends a line, as for open(newline="")). line, offset: the
    line number and byte offset of the stream's first byte in its file
    (a part of a file, engine.csvsplit).

    Raises InputError at FILE:LINE naming the byte offset (from the start
    of the file, counting from 0) and the byte for: a byte that is not in
    the encoding, a NUL byte, a byte-order mark after the start (UTF-8), a
    UTF-16 or UTF-32 byte-order mark at the start; and a line over
    MAX_LINE_BYTES."""
    codec, label, bom_ok = _codec(encoding)
    start = offset == 0
    while True:
        raw = binary.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise InputError(f"byte offset {offset}: a line longer than {MAX_LINE_BYTES:,} "
                             "bytes (64 MiB), the bound on one line: not a text file with "
                             "line breaks?", Location(name, line=line))
        if start:
            start = False
            if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise InputError("byte offset 0: a UTF-16 byte-order mark "
                                 f"(0x{raw[0]:02x} 0x{raw[1]:02x}): save the file as UTF-8",
                                 Location(name, line=line))
            if bom_ok and raw.startswith(b"\xef\xbb\xbf"):
                raw, offset = raw[3:], offset + 3
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise InputError(f"byte offset {offset + exc.start}: invalid {label} "
                             f"(0x{raw[exc.start]:02x}): {_HINT.get(label, 'not ' + label)}",
                             Location(name, line=line)) from None
        if "\x00" in text:
            at = offset + raw.index(b"\x00")
            raise InputError(f"byte offset {at}: a NUL byte (0x00): "
                             "not text (binary data, or UTF-16 text: save it as UTF-8)",
                             Location(name, line=line))
        if bom_ok and "\ufeff" in text:
            at = offset + raw.index(b"\xef\xbb\xbf")
            raise InputError(f"byte offset {at}: a "
                             "byte-order mark (U+FEFF) inside the file: were two files "
                             "joined? remove it", Location(name, line=line))
        offset += len(raw)
        if "\r" in text and text.count("\r") != text.endswith("\r\n"):
            for part in _LONE_CR.findall(text):
                yield part
                line += 1
            continue
        yield text
        line += 1
