"""Where a dry run's pass 2 puts each decided batch (a stored run's go to
store.RunWriter): a spool file read back afterwards."""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from typing import Any

from . import jsontext


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
