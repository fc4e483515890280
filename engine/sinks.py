"""Where pass 2 puts each decided batch: the store (inside the run's
transaction) or, for a dry run, a spool file read back afterwards."""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from typing import Any

import sqlite_utils

from . import jsontext


class LocalWriter:
    """Adapter until store.RunWriter (branch storage) lands: the same calls
    (add, add_rejects, finish), written with store.write_run at finish."""

    def __init__(self, db: sqlite_utils.Database, run_id: int, as_of: str, at: str):
        self.db, self.run_id, self.as_of, self.at = db, run_id, as_of, at
        self.rows: list[dict[str, Any]] = []
        self.strikes: list[dict[str, Any]] = []
        self.rejects: list[dict[str, Any]] = []

    def add(self, decision_rows: list[dict[str, Any]], strike_rows: list[dict[str, Any]]) \
            -> None:
        self.rows.extend(decision_rows)
        self.strikes.extend(strike_rows)

    def add_rejects(self, rows: list[dict[str, Any]]) -> None:
        self.rejects.extend(rows)

    def finish(self, run_row: dict[str, Any]) -> int:
        from .store import write_run

        run_id = write_run(self.db, {**run_row, "id": self.run_id}, self.rows, self.rejects,
                           self.strikes)
        return run_id


class Spool:
    """A dry run's decision rows, one JSON text a line in a temporary file
    (flat memory); finish returns its path, which the caller removes
    (engine.readback reads it)."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="adieu-dry-run-", suffix=".jsonl")
        atexit.register(_remove, self.path)
        self.out = os.fdopen(fd, "w", encoding="utf-8")

    def add(self, decision_rows: list[dict[str, Any]], strike_rows: list[dict[str, Any]]) \
            -> None:
        for row in decision_rows:
            self.out.write(jsontext.dumps(row))
            self.out.write("\n")

    def finish(self) -> str:
        self.out.close()
        return self.path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
