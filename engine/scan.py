"""Pass 1 of a run over one source: read, map and coerce every record once,
keeping only what the run needs before deciding (the population
statistics' inputs, the rejects, the reader's warnings, the source's
columns, a count), and never the records themselves.

Pass 2 (engine.batches) reads the source again. Standard input
(/dev/stdin, when it is a pipe or a file; engine.sourcefiles.STDIN_NAMES)
is first copied to a temporary file (`spill`, at most
sourcefiles.MAX_SPILL bytes), which both passes read; any other FIFO,
device or socket is refused before it is opened (sourcefiles); a source that is a
regular file or directory is read where it is, and its bytes are hashed
before pass 1 and again under the write lock (`SourceFile.changed`), so a
source edited between the passes fails the run (exit 2, nothing stored).

Records come from engine.intake.stream_records (duplicates by an
engine.idindex.IdIndex that pass 2 reads with again, so the same rows are
rejected); the population statistics from engine.popstats' accumulators."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import rerun
from .errors import AdieuError, InputError, Location
from .facts import Record
from .idindex import IdIndex
from .intake import Intake, Reject, StreamState, stream_records
from .mapping import Mapping
from .policy import Policy
from .popstats import accumulators, population_stats
from .sourcefiles import MAX_SPILL, STDIN_NAMES, check_regular
from .sources import SourceRecord

SPILL_CHUNK = 1 << 20


@dataclass
class SourceFile:
    """Where one --source is read from in both passes.

    given: the location as the user gave it; path: what the reader opens
    (a temporary copy for a spilled source); sha256: the bytes' hash when
    pass 1 began (rerun.content_sha256; None: not a file or directory, e.g.
    a plugin reading a service: such a source is read in memory, once)."""

    given: str
    path: str
    sha256: str | None
    spilled: bool = False

    def changed(self) -> bool:
        """Whether the bytes differ from what pass 1 read (never for a spill:
        the copy is this run's own)."""
        if self.spilled or self.sha256 is None:
            return False
        return rerun.content_sha256(self.path) != self.sha256

    def close(self) -> None:
        if self.spilled:
            shutil.rmtree(Path(self.path).parent, ignore_errors=True)


def rereadable(location: str) -> bool:
    """A regular file or a directory: can be read twice with the same bytes."""
    path = Path(location)
    return path.is_file() or path.is_dir()


def spillable(location: str) -> bool:
    """Standard input named as a source (/dev/stdin: a pipe, a terminal or a
    file): read once, so copied to a temporary file. Any other location that
    is neither a regular file nor a directory is refused: InputError
    "LOCATION: not a regular file or directory (a named pipe)", never
    opened (a FIFO would wait for a writer, /dev/zero never ends)."""
    if location in STDIN_NAMES:
        return os.path.exists(location)
    check_regular(location, directory_ok=True)
    return False


def source_file(location: str) -> SourceFile:
    """The SourceFile for a location: spilled to a temporary file (keeping
    its name's suffixes, so a .csv.gz stays gzip) when it cannot be read
    twice. Raises InputError if the stream cannot be read."""
    if spillable(location):
        folder = tempfile.mkdtemp(prefix="adieu-spill-")
        path = os.path.join(folder, "source" + "".join(Path(location).suffixes))
        try:
            with open(location, "rb") as src, open(path, "wb") as out:
                copied = 0
                while chunk := src.read(SPILL_CHUNK):
                    copied += len(chunk)
                    if copied > MAX_SPILL:
                        raise InputError(f"standard input is longer than {MAX_SPILL:,} bytes, "
                                         "the bound on a source read from a stream (save it "
                                         "to a file)", Location(location))
                    out.write(chunk)
        except InputError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise InputError(f"cannot read the source: {exc.strerror or exc}",
                             Location(location)) from None
        return SourceFile(location, path, rerun.content_sha256(path), spilled=True)
    return SourceFile(location, location, rerun.content_sha256(location))


def renamed(source: Iterable[SourceRecord], file: SourceFile) -> Iterator[SourceRecord]:
    """A spill's records, and any error reading it (an empty input, an
    encoding error, a line too long ...), name the source as given
    (/dev/stdin), never the temporary copy, which is gone by the time the
    user reads the message."""
    try:
        for src in source:
            if file.spilled and src.file == file.path:
                src.file = file.given
            yield src
    except AdieuError as exc:
        raise given_name(exc, file) from None


def given_name(exc: AdieuError, file: SourceFile) -> AdieuError:
    """exc with a spilled source's temporary path replaced by the location
    as given, in its location and in its message."""
    if not file.spilled:
        return exc
    if exc.location is not None and exc.location.file is not None:
        exc.location.file = exc.location.file.replace(file.path, file.given)
    exc.message = exc.message.replace(file.path, file.given)
    exc.args = tuple(a.replace(file.path, file.given) if isinstance(a, str) else a
                     for a in exc.args)
    return exc


def scan(source: Callable[[], Iterable[SourceRecord]], policy: Policy, as_of: dt.date,
         mapping: Mapping, ids: IdIndex,
         progress: Callable[[int], None] | None = None) -> tuple[Intake, int, dict[str, Any]]:
    """Pass 1 over one source: (the intake without records: rejects,
    warnings, columns; the number of records accepted; the population
    statistics). source() opens the records (called again when a
    population figure rests on another: engine.popstats passes); ids: the
    duplicate index pass 2 reads with again. progress(n): records read."""
    state = StreamState()
    intake = Intake()
    acc = accumulators(policy, as_of)
    accepted = read = 0
    for item in stream_records(source(), policy.facts, mapping, ids=ids, state=state):
        read += 1
        if isinstance(item, Record):
            accepted += 1
            acc.add(item)
        elif isinstance(item, Reject):
            intake.rejects.append(item)
        if progress is not None and read % 1000 == 0:
            progress(1000)
    if progress is not None and read % 1000:
        progress(read % 1000)
    while not acc.complete:  # a figure over a derived value that uses another figure
        acc = acc.next_pass()
        for item in stream_records(source(), policy.facts, mapping, ids=ids):
            if isinstance(item, Record):
                acc.add(item)
    intake.warnings, intake.fields, intake.file = state.warnings, state.fields, state.file
    intake.absent, intake.columns_ignored = state.absent, state.columns_ignored
    return intake, accepted, acc.stats()


def population_of(policy: Policy, as_of: dt.date, records: list[Record]) -> dict[str, Any]:
    """The population statistics of records held in memory (several sources)."""
    return population_stats(policy, as_of, lambda: records)
