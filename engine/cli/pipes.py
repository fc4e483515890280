"""Standard output and standard error whose reader may go away
(`adieu evaluate ... | head -1`, `adieu audit verify 2>&1 | head -1`).

A closed pipe is the reader's choice, not a failure of the command: from
then on output to that stream is dropped, and the command runs to its own
end and exit code (an evaluation whose run is stored exits 0, a broken
trail 1, an input error 2; never 0 because a write failed). Both streams
are wrapped for the whole of click's main (engine.cli._AdieuGroup.main),
so click's own error line and --help are covered too. No traceback and no
"Broken pipe" message. The descriptor is pointed at os.devnull so that
Python's final flush of what is still buffered finds nothing to complain
about (Python's docs, "Note on SIGPIPE", signal module)."""

from __future__ import annotations

import os
from typing import Any


class OutputFailed(Exception):
    """Writing standard output failed (a full disk or device: ENOSPC, a
    file size limit: EFBIG, an I/O error). Not an OSError, so that a
    command's own `except OSError` around its files does not take it."""

    def __init__(self, error: OSError):
        super().__init__(error.strerror or str(error))
        self.error = error


class ReaderMayLeave:
    """Wraps a text stream (sys.stdout): writes and flushes that meet a
    closed pipe (BrokenPipeError, EPIPE) are dropped, and so is everything
    after them. `reader_left` says whether that happened. Any other OSError
    (a full device) raises OutputFailed once, and what follows is dropped
    too (the command's group makes it one line on stderr, exit 2)."""

    def __init__(self, stream: Any):
        self._stream = stream
        self.reader_left = False

    def write(self, text: Any) -> int:
        if not isinstance(text, str):  # a text stream, as click's probe (write(b"")) expects
            raise TypeError("write() argument must be str")
        if self.reader_left or not text:  # click probes with write("")
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._left()
            return len(text)
        except OSError as exc:
            self._left()
            raise OutputFailed(exc) from None

    def flush(self) -> None:
        if self.reader_left:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._left()
        except OSError as exc:
            self._left()
            raise OutputFailed(exc) from None

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
