"""Standard output whose reader may go away (`adieu evaluate ... | head -1`).

A closed pipe is the reader's choice, not a failure of the command: from
then on output is dropped, and the command runs to its own end and exit
code (an evaluation whose run is stored exits 0). No traceback and no
"Broken pipe" message. The descriptor is pointed at os.devnull so that
Python's final flush of what is still buffered finds nothing to complain
about (Python's docs, "Note on SIGPIPE", signal module)."""

from __future__ import annotations

import os
from typing import Any


class ReaderMayLeave:
    """Wraps a text stream (sys.stdout): writes and flushes that meet a
    closed pipe (BrokenPipeError, EPIPE) are dropped, and so is everything
    after them. `reader_left` says whether that happened."""

    def __init__(self, stream: Any):
        self._stream = stream
        self.reader_left = False

    def write(self, text: Any) -> int:
        if self.reader_left:
            if not isinstance(text, str):  # a text stream, as click expects
                raise TypeError("write() argument must be str")
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._left()
            return len(text)

    def flush(self) -> None:
        if self.reader_left:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._left()

    def _left(self) -> None:
        self.reader_left = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # no descriptor (a test's in-memory stream): nothing to flush later

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
