"""Pass 1 of a run over one source: read, map and coerce every record once,
keeping only what the run needs before deciding (the population
statistics' inputs, the rejects, the reader's warnings, the source's
columns, a count), and never the records themselves.

Pass 2 (engine.batches) reads the source again. A source that cannot be
read twice (standard input, a FIFO, a character device) is first copied
to a temporary file (`spill`), which both passes read; a source that is a
regular file or directory is read where it is, and its bytes are hashed
before pass 1 and again under the write lock (`SourceFile.changed`), so a
source edited between the passes fails the run (exit 2, nothing stored).

Seams: `stream_records` is engine.intake's (branch intake) once it lands;
`PopulationValues` gives way to engine.popstats' accumulators."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import decimals, rerun
from .errors import InputError, Location
from .expr import UNKNOWN, Context
from .facts import Record
from .intake import Intake, Notice, Reject
from .mapping import IDENTITY, Mapping
from .policy import Policy
from .population import Population, _condition, mean, percentile
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
    """A FIFO, a character device (/dev/stdin) or a socket-like stream: it
    exists but is read once; it is copied to a temporary file."""
    try:
        mode = os.stat(location).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def source_file(location: str) -> SourceFile:
    """The SourceFile for a location: spilled to a temporary file (keeping
    its name's suffixes, so a .csv.gz stays gzip) when it cannot be read
    twice. Raises InputError if the stream cannot be read."""
    if spillable(location):
        folder = tempfile.mkdtemp(prefix="adieu-spill-")
        path = os.path.join(folder, "source" + "".join(Path(location).suffixes))
        try:
            with open(location, "rb") as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out, SPILL_CHUNK)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise InputError(f"cannot read the source: {exc.strerror or exc}",
                             Location(location)) from None
        return SourceFile(location, path, rerun.content_sha256(path), spilled=True)
    return SourceFile(location, location, rerun.content_sha256(location))


@dataclass
class StreamState:
    """What a stream of records leaves besides the records: the side facts
    read_records gathers (engine.intake.Intake without records)."""

    intake: Intake = field(default_factory=Intake)
    accepted: int = 0


def stream_records(source: Iterable[SourceRecord], fact_types: dict[str, str],
                   mapping: Mapping = IDENTITY, state: StreamState | None = None,
                   rename: Callable[[str | None], str | None] | None = None) \
        -> Iterator[Record | Reject | Notice]:
    """Adapter until engine.intake.stream_records lands: read_records'
    rules, one record at a time, in source order. Rejects and notices are
    yielded and also kept on state.intake; accepted records are yielded
    only. rename maps the file name a reader reports (a spill's temporary
    path) to the one the user gave."""
    from . import resources
    from .facts import Coercer, fact_minimums
    from .intake import _text

    state = state if state is not None else StreamState()
    intake = state.intake
    rename = rename or (lambda name: name)
    coercer = Coercer(fact_types, fact_minimums(resources.load_schema("customer.schema.json")),
                      False)
    first_seen: dict[str, int | None] = {}
    for src in source:
        file = rename(src.file)
        if not src.values:
            for name, why in src.provenance.items():
                intake.absent.setdefault(name, (Location(file, src.line), str(why)))
        if src.error is None and not src.is_note:
            if intake.file is None:
                intake.file = file
            if not src.values.keys() <= intake.fields.keys():
                intake.fields.update(dict.fromkeys(src.values))
        mapped, problems, origin = mapping.apply(src.values)
        cid = mapped.get("customer_id")
        cid_text = str(cid).strip() if cid is not None else None
        if src.warning:
            notice = Notice(file, src.row, src.line, cid_text or None, src.warning)
            intake.warnings.append(notice)
            yield notice
        if src.is_note:
            continue
        if src.error:
            reject = Reject(file, src.row, src.line, cid_text, None, None, src.error)
            intake.rejects.append(reject)
            yield reject
            continue
        facts, more = coercer.coerce(mapped)
        for problem in more:
            source_field = origin.get(problem.field, problem.field)
            if source_field != problem.field:
                problem.reason += f" (for fact {problem.field})"
            problem.field = source_field
        problems.extend(more)
        for problem in problems:
            reject = Reject(file, src.row, src.line, cid_text or None, problem.field,
                            _text(problem.value), problem.reason)
            intake.rejects.append(reject)
            yield reject
        if problems:
            continue
        key = facts["customer_id"]
        if key in first_seen:
            reject = Reject(file, src.row, src.line, key,
                            origin.get("customer_id", "customer_id"), _text(cid),
                            f"duplicate customer_id, first seen at row {first_seen[key]}")
            intake.rejects.append(reject)
            yield reject
            continue
        first_seen[key] = src.row
        intake.columns_ignored.update(origin[k] for k in mapped if k not in fact_types)
        state.accepted += 1
        yield Record(facts, file, src.row, src.line, {})


class PopulationValues:
    """Adapter until engine.popstats lands: the population calls' inputs
    gathered one customer at a time (the value of each percentile/mean
    fact; known/true counts of each share), and the statistics in the shape
    of Population.stats. A population call inside a derived fact that a
    population call reads sees no statistic in pass 1 (unknown)."""

    def __init__(self, policy: Policy, as_of: dt.date):
        self.calls = policy.population_calls
        self.as_of = as_of
        self.derive_fns = policy.derive_fns
        self.empty = Population(self.calls)
        self.values: dict[str, list[Any]] = {k: [] for k in self.calls}
        self.shares: dict[str, list[int]] = {k: [0, 0] for k in self.calls}

    def add(self, facts: dict[str, Any]) -> None:
        if not self.calls:
            return
        ctx = Context(facts, self.as_of, self.empty, self.derive_fns)
        for key, call in self.calls.items():
            if call.kind == "share":
                v = _condition(call, ctx)
                if v is not UNKNOWN:
                    self.shares[key][0] += 1
                    self.shares[key][1] += 1 if v else 0
                continue
            v = ctx.value_of(call.name)
            if v is not UNKNOWN and decimals.is_number(v):
                self.values[key].append(v)

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, call in self.calls.items():
            try:
                if call.kind == "share":
                    known, true = self.shares[key]
                    out[key] = {"value": decimals.divide(true, known) if known else None,
                                "n": known, "kind": "share"}
                    continue
                values = self.values[key]
                stat: dict[str, Any] = {"kind": call.kind, "name": call.name, "n": len(values)}
                if call.kind == "percentile":
                    stat["p"] = call.p
                    stat["value"] = percentile(values, call.p) if values else None
                else:
                    stat["value"] = mean(values) if values else None
                out[key] = stat
            except ArithmeticError as exc:
                out[key] = {"value": None, "n": 0, "kind": call.kind, "name": call.name,
                            "problem": decimals.describe(exc)}
        return out
