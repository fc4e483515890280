"""The numbers of one fact across a run, kept compactly for an exact
percentile: a float image per value (8 bytes, array('d')) and the exact
value as a line of text in a buffer that spills to an anonymous temporary
file past SPILL_BYTES. `select(ranks)` finds values by rank in the stable
ascending order (by value, then by the order added), exactly: a radix
select over the float images (float(x) is correctly rounded, so a < b
implies float(a) <= float(b)), then an exact comparison among the values
whose float image ties. Used by engine.popstats."""

from __future__ import annotations

import math
import tempfile
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

SPILL_BYTES = 1 << 20  # exact values kept in memory before moving to a temporary file
CHECKPOINT = 1024      # lines between checkpoints into the exact values
_OFFSET = 1 << 63


class ExactValues:
    """The numbers of one fact, in the order added: float images in an
    array('d') and the exact values as lines of text ("i12" for an int,
    "d12.50" for a Decimal) in a buffer that spills to a temporary file."""

    def __init__(self) -> None:
        self.floats = array("d")
        self.buffer = bytearray()
        self.file: IO[bytes] | None = None
        self.size = 0                     # bytes of text, file and buffer
        self.mark_lines = array("q")      # checkpoints: a line index ...
        self.mark_offsets = array("q")    # ... and the byte offset of its line

    def __len__(self) -> int:
        return len(self.floats)

    def add(self, value: int | Decimal) -> None:
        n = len(self.floats)
        if not n % CHECKPOINT:
            self.mark_lines.append(n)
            self.mark_offsets.append(self.size)
        try:
            image = float(value) + 0.0  # + 0.0: -0.0 ties with 0.0
        except OverflowError:  # an int past 1e308 (a Decimal gives inf itself)
            image = math.inf if value > 0 else -math.inf
        self.floats.append(image)
        line = (b"i" if type(value) is int else b"d") + str(value).encode() + b"\n"
        self.buffer += line
        self.size += len(line)
        if len(self.buffer) >= SPILL_BYTES:
            self._spill()

    def _spill(self) -> None:
        if self.file is None:
            self.file = tempfile.TemporaryFile()
        end = self.buffer.rfind(b"\n") + 1  # whole lines only: lines() reads the file alone
        self.file.seek(0, 2)
        self.file.write(self.buffer[:end])
        del self.buffer[:end]

    def chunks(self) -> Iterable[bytes]:
        """The exact-value text, in order, in pieces of at most SPILL_BYTES."""
        if self.file is not None:
            self.file.seek(0)
            while True:
                piece = self.file.read(SPILL_BYTES)
                if not piece:
                    break
                yield piece
        yield bytes(self.buffer)

    def lines(self) -> Iterable[bytes]:
        if self.file is not None:
            self.file.flush()
            self.file.seek(0)
            for line in self.file:  # noqa: UP028 (yield from would close the file)
                yield line
        yield from bytes(self.buffer).splitlines(keepends=True)

    def merge(self, other: ExactValues) -> None:
        n = len(self.floats)
        self.mark_lines.extend(array("q", (i + n for i in other.mark_lines)))
        self.mark_offsets.extend(array("q", (o + self.size for o in other.mark_offsets)))
        self.size += other.size
        self.floats.extend(other.floats)
        for piece in other.chunks():
            self.buffer += piece
            if len(self.buffer) >= SPILL_BYTES:
                self._spill()

    def __getstate__(self) -> dict[str, Any]:
        return {"floats": self.floats.tobytes(), "text": b"".join(self.chunks()),
                "marks": (self.mark_lines.tobytes(), self.mark_offsets.tobytes())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()
        self.floats.frombytes(state["floats"])
        self.buffer = bytearray(state["text"])
        self.size = len(self.buffer)
        self.mark_lines.frombytes(state["marks"][0])
        self.mark_offsets.frombytes(state["marks"][1])
        if len(self.buffer) >= SPILL_BYTES:
            self._spill()

    def __del__(self) -> None:
        if getattr(self, "file", None) is not None:
            self.file.close()

    # -- selection ----------------------------------------------------------
    def select(self, ranks: list[int]) -> list[int | Decimal]:
        """The values at these 0-based ranks of the stable ascending order
        (by value, then by the order added)."""
        keys = memoryview(self.floats).cast("B").cast("q")  # IEEE bits
        out: dict[int, int | Decimal] = {}
        groups: list[tuple[int, int, int, list[int]]] = []  # key, below, ties, ranks
        for rank in ranks:
            group = next((g for g in groups if g[1] <= rank < g[1] + g[2]), None)
            if group is None:
                groups.append((*_kth_key(keys, rank), [rank]))
            else:
                group[3].append(rank)
        for key, below, ties, wanted in groups:
            raw = key - _OFFSET if key >= _OFFSET else -key - 1
            out.update(self._exact(raw, ties, [r - below for r in wanted], wanted))
        return [out[r] for r in ranks]

    def _exact(self, raw: int, ties: int, positions: list[int], ranks: list[int]) \
            -> dict[int, int | Decimal]:
        """Among the `ties` values whose float image has bits raw, the
        values at these positions of their stable order (by rank)."""
        if ties <= 4096:  # find them in the float bytes, read their exact lines
            pattern = array("q", [raw]).tobytes()
            found = []
            step = 1 << 16
            for start in range(0, len(self.floats), step):
                chunk = self.floats[start:start + step].tobytes()
                at = chunk.find(pattern)
                while at >= 0:
                    if at % 8 == 0:
                        found.append(start + at // 8)
                    at = chunk.find(pattern, at + 1)
            exact = [(value, i) for i, value in zip(found, self._lines_at(found), strict=True)]
            exact.sort(key=lambda pair: (pair[0], pair[1]))
            return {rank: exact[pos][0] for rank, pos in zip(ranks, positions, strict=True)}
        keys = memoryview(self.floats).cast("B").cast("q")
        counts: Counter[int | Decimal] = Counter()
        for b, line in zip(keys, self.lines(), strict=True):
            if b == raw:
                counts[_parse(line)] += 1
        targets: dict[int | Decimal, list[tuple[int, int]]] = {}  # value -> [(nth, rank)]
        ordered = sorted(counts)
        for rank, pos in zip(ranks, positions, strict=True):
            done = 0
            for value in ordered:
                if pos < done + counts[value]:
                    targets.setdefault(value, []).append((pos - done, rank))
                    break
                done += counts[value]
        out: dict[int, int | Decimal] = {}
        seen: Counter[int | Decimal] = Counter()
        for b, line in zip(keys, self.lines(), strict=True):
            if b != raw:
                continue
            value = _parse(line)
            wanted = targets.get(value)
            if wanted is None:
                continue
            for nth, rank in wanted:
                if nth == seen[value]:
                    out[rank] = value
            seen[value] += 1
        return out

    def _lines_at(self, indexes: list[int]) -> list[int | Decimal]:
        """The exact values at these (ascending) indexes, read from the
        nearest checkpoint (a line index and its byte offset, at least one
        per CHECKPOINT lines)."""
        out = []
        for i in indexes:
            c = bisect_right(self.mark_lines, i) - 1
            lines = self._lines_from(self.mark_offsets[c])
            for _ in range(i - self.mark_lines[c]):
                next(lines)
            out.append(_parse(next(lines)))
        return out

    def _lines_from(self, offset: int) -> Iterator[bytes]:
        size = 0
        if self.file is not None:
            self.file.seek(0, 2)
            size = self.file.tell()
            if offset < size:
                self.file.seek(offset)
                for line in self.file:  # noqa: UP028 (yield from would close the file)
                    yield line
                offset = size
        yield from bytes(self.buffer[offset - size:]).splitlines(keepends=True)


def _parse(line: bytes) -> int | Decimal:
    text = line[1:].rstrip(b"\n").decode()
    return int(text) if line[:1] == b"i" else Decimal(text)


def _kth_key(keys: memoryview, k: int) -> tuple[int, int, int]:
    """The order key (IEEE bits mapped to unsigned, ascending like the
    floats) of the k-th smallest float, how many floats are below it and
    how many equal it: a radix select, 16 bits a pass, ending with a sort
    once a bucket holds few."""
    rank = k
    prefix, shift = 0, 64
    while shift > 0:
        shift -= 16
        hist = [0] * 65536
        top = shift + 16
        if top == 64:
            for b in keys:
                hist[(b + _OFFSET if b >= 0 else -b - 1) >> shift] += 1
        else:
            for b in keys:
                u = b + _OFFSET if b >= 0 else -b - 1
                if u >> top == prefix:
                    hist[(u >> shift) & 0xFFFF] += 1
        digit = 0
        while k >= hist[digit]:
            k -= hist[digit]
            digit += 1
        prefix = (prefix << 16) | digit
        if hist[digit] <= 4096 and shift > 0:  # few left: sort them
            found = sorted(u for u in (b + _OFFSET if b >= 0 else -b - 1 for b in keys)
                           if u >> shift == prefix)
            key = found[k]
            first = bisect_left(found, key)
            return key, rank - k + first, bisect_right(found, key) - first
    return prefix, rank - k, hist[digit]
