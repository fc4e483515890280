"""Finding an identical re-run before reading or deciding anything.

A run's decisions follow from: the policy text, the source's bytes, the
mapping file's bytes, the source options, the as-of date, --backfill and
--allow-missing-facts, adieu's version and the installed plugins' versions
(readers and functions), and the memory of earlier runs.
`input_sha256` hashes all of them; a run stores it (runs.input_sha256), and
a later run with the same hash is the same run: its stored decisions are
shown and nothing is read, decided or written.

A source whose location is not a file or directory (a plugin reading a
service) has no content hash: such runs are always read and decided (the
run identity still finds an identical run before writing)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import sqlite_utils

from . import __version__, jsontext
from .decide import Decision, RuleResult
from .intake import Intake, Reject
from .store import JSON_COLUMNS, read_decisions

CHUNK = 1 << 20


def content_sha256(location: str) -> str | None:
    """sha256 over a file's bytes, or over every file under a directory
    (relative path and bytes, in path order); None if location is neither."""
    path = Path(location)
    h = hashlib.sha256()
    if path.is_file():
        files = [(path.name, path)]
    elif path.is_dir():
        files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*")
                       if p.is_file())
    else:
        return None
    try:
        for name, file in files:
            h.update(f"{name}\0{os.path.getsize(file)}\0".encode())
            with open(file, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def input_sha256(policy_sha256: str, sources: list[tuple[str, str, str | None]],
                 options: dict[str, Any] | None, as_of: dt.date, backfill: bool,
                 allow_missing_facts: bool, memory_sha256: str,
                 plugins: dict[str, str] | None = None,
                 prefer: list[str] | None = None) -> str | None:
    """The hash of everything a run's decisions follow from (module doc).
    sources: (kind, location, mapping file or None) for each --source in
    order; plugins: the installed plugins' versions by name
    (Registry.versions); prefer: the --prefer items. None when a source or
    mapping cannot be hashed."""
    hashed = []
    for kind, location, mapping_file in sources:
        source = content_sha256(location)
        mapping = content_sha256(mapping_file) if mapping_file else ""
        if source is None or mapping is None:
            return None
        hashed.append({"kind": kind, "source": source, "mapping": mapping})
    parts = {"adieu": __version__, "policy": policy_sha256, "sources": hashed,
             "options": sorted((options or {}).items()), "prefer": list(prefer or []),
             "as_of": as_of.isoformat(), "backfill": backfill,
             "allow_missing_facts": allow_missing_facts, "memory": memory_sha256,
             "plugins": sorted((plugins or {}).items())}
    return hashlib.sha256(jsontext.dumps(parts).encode()).hexdigest()


def find_run(db: sqlite_utils.Database, key: str) -> dict[str, Any] | None:
    """The latest run stored with input_sha256 key, or None."""
    columns = {c.name for c in db["runs"].columns} if db["runs"].exists() else set()
    if "input_sha256" not in columns:
        return None
    rows = list(db.query("select * from runs where input_sha256 = ? order by id desc limit 1",
                         [key]))
    return rows[0] if rows else None


def other_strikes_of_the_date(db: sqlite_utils.Database, run_id: int, as_of: dt.date) -> bool:
    """Whether strikes of the as-of date that still count were recorded by
    a run other than run_id (another source's run of the same date): the
    input key leaves strikes of the date out (the stored run recorded
    them), so with others the memory differs and the run is decided anew."""
    return db.execute("select 1 from strikes where recorded_on = ? and superseded_by_run is "
                      "null and pardoned_at is null and run_id != ? limit 1",
                      [as_of.isoformat(), run_id]).fetchone() is not None


def stored_decisions(db: sqlite_utils.Database, run_id: int, outcome: str | None = None) \
        -> list[Decision]:
    """The decisions of run_id (only those with outcome, if given) as
    Decision objects, in the order stored."""
    fields = Decision.__dataclass_fields__
    out = []
    for row in read_decisions(db, run_id, outcome=outcome):
        values = {k: (jsontext.loads(v) if k in JSON_COLUMNS and v is not None else v)
                  for k, v in row.items() if k in fields}
        for k in ("fired", "shielded", "unknown"):
            values[k] = [RuleResult(**r) for r in values.get(k) or []]
        out.append(Decision(**values))
    return out


def stored_intake(db: sqlite_utils.Database, run_id: int) -> Intake:
    """An Intake holding only run_id's stored rejects (no records)."""
    names = Reject.__dataclass_fields__
    rejects = [Reject(**{k: v for k, v in row.items() if k in names})
               for row in db.query("select * from rejects where run_id = ? order by id",
                                   [run_id])]
    return Intake(rejects=rejects)
