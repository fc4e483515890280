"""Exact duplicate detection by customer id for one source, compact and
re-readable (intake.stream_records).

IdIndex answers, for each accepted record of a source in order, whether
its customer id was seen before and at which row; the first occurrence
wins (intake's "duplicate customer_id, first seen at row N").

Layout (chosen by measurement at 1,000,000 shuffled ids with 1 % repeated,
on this project's shared 2-core machine; CPU per id, growth of peak RSS):

- a dict of every id (the reference): 1.0 us, 121 MB (about 120 bytes an
  id; 360 MB at 3M ids, over the run's whole 250 MB budget);
- an on-disk SQLite table (id TEXT PRIMARY KEY, row) WITHOUT ROWID, one
  `insert or ignore` per id and a `select` for those not inserted: 7.4
  us, 4 MB; batched per 500-2,000 ids (`select ... where id in (...)`,
  then `executemany`): 8-9 us. Random ids land on random B-tree pages, so
  batching does not help;
- this index: 3.0 us, 12 MB at 1M ids (about 12 bytes an id with the
  arrays' slack; 8 bytes of data), a 16 MB temporary file. Per distinct
  id, a 32-bit key (the low 32 bits of Python's hash() of the id) and
  the offset of the id's text in an append-only temporary file, in sorted
  arrays split into buckets by the keys' top bits (split 16-fold when
  they average over 1,024 entries, so an insert moves at most a few KB).
  The id texts and first rows are buffered (SPILL bytes) and written to
  the file in order, the cheapest kind of write. A key found again (the
  same id, or at 1M ids one new id in 4,000 by chance) is confirmed
  against the stored id text: the answer is exact.

Limits: 4 GiB of id text per source (about 200 million ids): beyond it
check raises OverflowError.

Reading the same source a second time gives the same answers: every call
is numbered in order (from 1 after `rewind()`); after a first read the
index replays its answers by call number (a duplicate is a call number
in the duplicates dict), without looking anything up, so the second pass
skips exactly the rows the first skipped. This assumes the same records
in the same order (the same file read again); calls beyond the first read
are looked up as new ones. Python's hash() of text differs between
processes: an index is used in the process that made it."""

from __future__ import annotations

import os
import tempfile
from array import array
from bisect import bisect_left
from typing import Any

SPILL = 1 << 20  # bytes of id texts buffered in memory before they are written
_BUCKET_FILL = 1024  # average entries per bucket before the buckets are split
_SPLIT_BITS = 4  # each split multiplies the buckets by 16
_MAX_OFFSET = 2 ** 32 - 1  # offsets into the id file are kept in 4 bytes


class IdIndex:
    """Duplicate detection for the accepted records of one source.

    Use as a context manager (or call close()) to remove the temporary
    file, if one was made. `spill`: bytes of id texts buffered in memory
    before the temporary file is made and written (tests set it small);
    `directory`: where that file goes (the system's temporary directory by
    default)."""

    def __init__(self, spill: int = SPILL, directory: str | None = None,
                 key_bits: int = 32) -> None:
        self._spill = max(1, spill)
        # key_bits < 32 (tests only) keeps fewer bits of each hash, so that
        # different ids share keys and the exact confirmation is exercised.
        self._key_mask = (1 << key_bits) - 1
        self._key_shift = 32 - key_bits
        self._dir = directory
        self._bits = _SPLIT_BITS
        self._keys: list[array] = [array("I") for _ in range(1 << self._bits)]
        self._offsets: list[array] = [array("I") for _ in range(1 << self._bits)]
        self._count = 0  # distinct ids
        self._written = 0  # bytes in the file
        self._buffer: list[bytes] = []  # entries not yet written, from offset _written
        self._buffered = 0  # their bytes
        self._fd: int | None = None
        self._path: str | None = None
        self._rows: dict[int, Any] = {}  # offset -> a row that is no int or None
        self._dups: dict[int, Any] = {}  # call number -> first occurrence's row
        self._seq = 0  # calls since the last rewind
        self._read = 0  # calls answered by lookup (the first read)

    def __len__(self) -> int:
        """The number of distinct ids seen."""
        return self._count

    def rewind(self) -> None:
        """Start reading the source again from its first record."""
        self._seq = 0

    def first_row(self, customer_id: str, row: int | None) -> int | None:
        """The row where customer_id was first seen, or None if this record
        is its first occurrence (or the first occurrence read again)."""
        duplicate, first = self.check(customer_id, row)
        return first if duplicate else None

    def check(self, customer_id: str, row: Any) -> tuple[bool, Any]:
        """(is a duplicate, row of the first occurrence) for the next
        record, whose normalised id is customer_id and whose row is row
        (any value, None too: it is given back as it was)."""
        self._seq = seq = self._seq + 1
        if seq <= self._read:  # read before: replay
            if seq in self._dups:
                return True, self._dups[seq]
            return False, row
        self._read = seq
        key = (hash(customer_id) & self._key_mask) << self._key_shift
        b = key >> (32 - self._bits)
        keys = self._keys[b]
        i = bisect_left(keys, key)
        n = len(keys)
        while i < n and keys[i] == key:  # this key seen: the same id, or another
            first_id, first = self._entry(self._offsets[b][i])
            if first_id == customer_id:
                self._dups[seq] = first
                return True, first
            i += 1
        offset = self._written + self._buffered
        if offset > _MAX_OFFSET:
            raise OverflowError(f"over {_MAX_OFFSET:,} bytes of customer ids in one source")
        if row is None:
            head = b"N"
        elif type(row) is int:
            head = b"%d" % row
        else:
            head = b"O"
            self._rows[offset] = row
        text = customer_id.encode("utf-8", "surrogatepass")
        entry = b"%d %s " % (len(text), head) + text
        self._buffer.append(entry)
        self._buffered += len(entry)
        keys.insert(i, key)
        self._offsets[b].insert(i, offset)
        self._count += 1
        if self._buffered >= self._spill:
            self._flush()
        if self._count > _BUCKET_FILL << self._bits:
            self._split()
        return False, row

    def _entry(self, offset: int) -> tuple[str, Any]:
        """The id and row stored at offset."""
        if offset >= self._written:
            self._flush()
        assert self._fd is not None
        data = os.pread(self._fd, 64, offset)
        size, head, rest = data.split(b" ", 2)
        if len(rest) < int(size):
            start = offset + len(size) + len(head) + 2
            rest = os.pread(self._fd, int(size), start)
        text = rest[:int(size)].decode("utf-8", "surrogatepass")
        row = None if head == b"N" else self._rows[offset] if head == b"O" else int(head)
        return text, row

    def _flush(self) -> None:
        """The buffered entries to the temporary file."""
        if self._fd is None:
            self._fd, self._path = tempfile.mkstemp(prefix="adieu-ids-", dir=self._dir)
        data = b"".join(self._buffer)
        done = 0
        while done < len(data):
            done += os.pwrite(self._fd, data[done:], self._written + done)
        self._written += len(data)
        self._buffer, self._buffered = [], 0

    def _split(self) -> None:
        """Split every bucket by the next bits of its keys; each part stays
        sorted."""
        bits = self._bits + _SPLIT_BITS
        keys = [array("I") for _ in range(1 << bits)]
        offsets = [array("I") for _ in range(1 << bits)]
        shift = 32 - bits
        for old_k, old_o in zip(self._keys, self._offsets, strict=True):
            for k, o in zip(old_k, old_o, strict=True):
                b = k >> shift
                keys[b].append(k)
                offsets[b].append(o)
        self._bits, self._keys, self._offsets = bits, keys, offsets

    def close(self) -> None:
        """Free what the index holds and remove its temporary file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except OSError:
                pass
            self._path = None
        self._bits = 0
        self._keys, self._offsets, self._buffer = [array("I")], [array("I")], []
        self._count = self._written = self._buffered = 0

    def __enter__(self) -> IdIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_path", None) is not None:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter shutting down
                pass
