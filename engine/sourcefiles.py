"""Source files as the built-in sources open them: only regular files
(a FIFO, a device or a socket is refused before it is read, never waited
on), and compressed data bounded in what it may unpack to.

Limits (docs/sources.md, "Limits"): a gzip file or a zip member may unpack
to at most MAX_RATIO times its compressed size, with UNPACKED_FLOOR allowed
whatever the ratio, and never more than MAX_UNPACKED bytes; a zip holds at
most MAX_ZIP_MEMBERS members whose stored data do not overlap. Standard
input (`/dev/stdin`) is the one stream read: it is copied to a temporary
file of at most MAX_SPILL bytes (engine.scan)."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import InputError, Location

# A gzip file or zip member unpacks to at most 100 times its compressed
# size: CSV exports compress 5 to 20 times, very sparse ones about 50; the
# deflate format's own maximum is about 1,030 (a "bomb"). Any file may
# unpack to UNPACKED_FLOOR whatever its ratio (a small header-only .csv.gz
# compresses far better than 100:1 of its few bytes), and none past
# MAX_UNPACKED (16 GiB: sixty times a million-customer CSV export).
MAX_RATIO = 100
UNPACKED_FLOOR = 1 << 20
MAX_UNPACKED = 16 << 30
# A Salesforce Data Export of a large org holds a few thousand files
# (attachments included); a zip of more members is not an export.
MAX_ZIP_MEMBERS = 100_000
# Standard input is copied to a temporary file so it can be read twice:
# at most this many bytes (a source of /dev/zero would fill the disk).
MAX_SPILL = MAX_UNPACKED
# Names of standard input accepted as a source (documented: ops-guide,
# "Standard input"); every other FIFO or device is refused.
STDIN_NAMES = ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")

# What Python's zipfile (and the zlib, bz2 and lzma under it) raise for a
# damaged archive: BadZipFile for a bad signature, but a garbled central
# directory also gives NotImplementedError ("zip file version 12.7"),
# IndexError (an empty member name, ZipInfo.is_dir), ValueError and
# UnicodeDecodeError (bad sizes, names), struct.error, EOFError, OSError,
# RuntimeError (an encrypted member) and KeyError.
ZIP_FAULTS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
    NotImplementedError, IndexError, KeyError, ValueError, RuntimeError, struct.error)

_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"))


def file_kind(mode: int) -> str:
    """What a st_mode is, in words: "a named pipe", "a character device",
    "a block device", "a socket", "a directory", "a regular file"."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "a regular file" if stat.S_ISREG(mode) else "not a file"


def not_regular(path: str | Path, directory_ok: bool = False) -> str | None:
    """Why path (symlinks followed) cannot be read as a source file: "a
    named pipe", "a character device" ... (a directory too unless
    directory_ok); None for a regular file or a path that is not there (the
    caller's own "not found" error says so). Never opens the path."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or (directory_ok and stat.S_ISDIR(mode)):
        return None
    return file_kind(mode)


def check_regular(path: str | Path, name: str | None = None,
                  directory_ok: bool = False) -> None:
    """InputError "FILE: not a regular file (a named pipe)" unless path is a
    regular file (or a directory, with directory_ok) or not there."""
    kind = not_regular(path, directory_ok)
    if kind is not None:
        what = "a regular file or directory" if directory_ok else "a regular file"
        raise InputError(f"not {what} ({kind}); a source is read from a file",
                         Location(name or str(path)))


def open_regular(path: str | Path, name: str | None = None) -> IO[bytes]:
    """A regular file opened for reading in binary. It is opened without
    blocking (a FIFO would wait for a writer) and checked with fstat before
    any byte is read: InputError "FILE: not a regular file (a named pipe)"
    for anything else but standard input (STDIN_NAMES, read as a stream);
    InputError "cannot open: REASON" when it cannot be opened."""
    label = name or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", Location(label)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode) and str(path) not in STDIN_NAMES:
            raise InputError(f"not a regular file ({file_kind(mode)}); a source is read "
                             "from a file", Location(label))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def unpacked_limit(compressed: int) -> int:
    """The most bytes `compressed` bytes of gzip or zip data may unpack to."""
    return min(MAX_UNPACKED, max(UNPACKED_FLOOR, MAX_RATIO * compressed))


def limit_text(compressed: int) -> str:
    limit = unpacked_limit(compressed)
    if limit == MAX_UNPACKED:
        return f"{MAX_UNPACKED:,} bytes, the bound on any unpacked file"
    if limit == UNPACKED_FLOOR:
        return f"{UNPACKED_FLOOR:,} bytes, the bound on a file of {compressed:,} bytes"
    return f"{limit:,} bytes ({MAX_RATIO} times its {compressed:,} compressed bytes)"


class Unpacked(io.BufferedIOBase):
    """A decompressing stream (gzip.GzipFile, a zip member) that stops with
    InputError naming the file and the bound once it has given more than
    unpacked_limit(compressed) bytes: checked as it streams, so a
    decompression bomb costs at most the bound."""

    def __init__(self, raw: IO[bytes], compressed: int, name: str,
                 owner: IO[bytes] | None = None):
        super().__init__()
        self._raw = raw
        self._owner = owner  # the compressed file, closed with this stream
        self._limit = unpacked_limit(compressed)
        self._compressed = compressed
        self._name = name
        self.count = 0

    def readable(self) -> bool:
        return True

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self._limit:
            raise InputError(f"unpacks to more than {limit_text(self._compressed)} "
                             "(a decompression bomb, or a file to unpack first)",
                             Location(self._name))
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._counted(self._raw.read(-1 if size is None else size))

    def read1(self, size: int = -1) -> bytes:
        read1 = getattr(self._raw, "read1", self._raw.read)
        return self._counted(read1(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self._raw.readline(-1 if size is None else size))

    def close(self) -> None:
        self._raw.close()
        if self._owner is not None:
            self._owner.close()
        super().close()


@contextmanager
def zip_errors(name: str, what: str = "not a readable zip archive",
               expected: str = "") -> Iterator[None]:
    """Around any zipfile call (open, infolist, getinfo, open a member,
    read): ZIP_FAULTS become InputError "NAME: not a readable zip archive
    (KIND: REASON)" (or `what`; then "; EXPECTED" when given), exit 2.
    adieu's own InputError (a bound passed) goes through as it is."""
    try:
        yield
    except InputError:
        raise
    except ZIP_FAULTS as exc:
        reason = str(exc) or type(exc).__name__
        hint = f"; {expected}" if expected else ""
        raise InputError(f"{what} ({type(exc).__name__}: {reason[:200]}){hint}",
                         Location(name)) from None


def open_zip(path: str | Path, name: str, expected: str = "") -> zipfile.ZipFile:
    """A zip archive opened from a regular file (open_regular), its central
    directory read and checked (check_zip) and every member's name and
    kind read once (so a garbled entry fails here, not later). InputError
    naming the file for anything zipfile cannot read (zip_errors, with
    `expected`: what the file should have been)."""
    handle = open_regular(path, name)
    try:
        with zip_errors(name, expected=expected):
            archive = zipfile.ZipFile(handle)
            try:
                check_zip(archive, name)
                for info in archive.infolist():
                    info.is_dir()
            except BaseException:
                archive.close()
                raise
    except BaseException:
        handle.close()
        raise
    return archive


def check_zip(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse a zip that is not an export but a bomb: more than
    MAX_ZIP_MEMBERS members, members whose stored data overlap (one
    compressed block counted as many files), or declared sizes that add up
    to more than MAX_UNPACKED. InputError naming the zip and the bound."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"zip holds {len(infos):,} members, over the bound of "
                         f"{MAX_ZIP_MEMBERS:,}", Location(name))
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED:
        raise InputError(f"zip members unpack to {total:,} bytes, over the bound of "
                         f"{MAX_UNPACKED:,}", Location(name))
    end = -1
    previous: Any = None
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < 0 or info.compress_size < 0:
            raise InputError(f"zip member {info.filename!r} has a damaged directory entry "
                             "(negative offset or size)", Location(name))
        if previous is not None and info.header_offset < end:
            raise InputError(f"zip members {previous.filename!r} and {info.filename!r} "
                             "overlap (a zip bomb, not an export)", Location(name))
        # The local header is 30 bytes, then the name and extra field (which
        # only move the data's end further on), then the compressed data.
        end = info.header_offset + 30 + info.compress_size
        previous = info
