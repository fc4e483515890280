"""Exact duplicate detection by customer id for one source, re-readable.

IdIndex answers, for each accepted record of a source in order, whether its
customer id was seen before and at which row. The first occurrence wins
(intake's "duplicate customer_id, first seen at row N").

Reading the same source a second time (the second pass of a streamed run)
gives the same answers: every call is numbered in order (its sequence
number, from 1 after `rewind()`), and the index keeps, per id, the sequence
number and row of its first occurrence. An id found with the current
sequence number is that first occurrence read again (not a duplicate); one
found with another is a duplicate of the stored row."""

from __future__ import annotations

from typing import Any


class IdIndex:
    """customer id -> (sequence number, row) of its first occurrence."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, Any]] = {}
        self._seq = 0

    def rewind(self) -> None:
        """Start reading the source again from its first record."""
        self._seq = 0

    def check(self, customer_id: str, row: int | None) -> tuple[bool, int | None]:
        """(is a duplicate, row of the first occurrence) for the next record."""
        self._seq += 1
        first = self._first.get(customer_id)
        if first is None:
            self._first[customer_id] = (self._seq, row)
            return False, row
        return first[0] != self._seq, first[1]

    def first_row(self, customer_id: str, row: int | None) -> int | None:
        """The row where customer_id was first seen, or None if this record
        is its first occurrence."""
        duplicate, first = self.check(customer_id, row)
        return first if duplicate else None

    def close(self) -> None:
        """Free what the index holds."""
        self._first = {}

    def __enter__(self) -> IdIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
