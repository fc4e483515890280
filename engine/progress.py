"""Progress of a long run on stderr (tqdm): records read in pass 1, then
customers decided and written in pass 2 with rate and ETA. Shown only
when stderr is a terminal and not --quiet; the final line (counts and
elapsed time) is printed whenever not --quiet, terminal or not."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """One bar at a time: start(label, total) then advance(n); close() ends
    the current bar. quiet, or a stderr that is not a terminal: no bar."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.shown = not quiet and _is_terminal(self.stream)
        self.bar: Any = None
        self.began = time.monotonic()

    def start(self, label: str, total: int | None = None, unit: str = "records") -> None:
        self.close()
        if self.shown:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit=f" {unit}", unit_scale=True,
                            file=self.stream, leave=False, dynamic_ncols=True,
                            mininterval=0.5)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def elapsed(self) -> float:
        """Seconds since the run began."""
        return time.monotonic() - self.began


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
