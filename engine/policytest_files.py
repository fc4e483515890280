"""The files a policy test file reads (engine/policytest_load): where they
may be, and how its sources are read.

Its `policy:`, `population:` and `facts_from:` files are relative to the
test file and inside its project (project_root): a test file cannot make
`adieu test` (or pytest, or a pre-commit hook in CI) read any other file.
A population source is read whole: a row the source rejects is an error,
not a smaller base. facts_from takes the record `adieu evaluate` decides."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AdieuError
from .facts import Record
from .intake import Intake
from .policy import Policy

if TYPE_CHECKING:
    from .policytest_load import _Reader

# Files whose folder is a project's top: the folder tree a test file may read.
PROJECT_MARKERS = (".git", "pyproject.toml")
REJECTS_SHOWN = 20  # rejected population rows listed one by one; the rest are counted


def project_root(test_file: str | Path) -> tuple[Path, str]:
    """The folder tree a test file may read (its policy and sources), and
    that in words: the nearest folder, from the test file's own up, that
    holds .git or pyproject.toml (a repository or a Python project, so
    policies/x.test.yaml may read ../examples/customers.csv); else the test
    file's folder. Symlinks are resolved."""
    folder = Path(test_file).resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate, (f"the test file's project {candidate} (the nearest folder "
                               "holding .git or pyproject.toml)")
    return folder, (f"the test file's folder {folder} (no folder above it holds .git or "
                    "pyproject.toml)")


def inside(reader: _Reader, location: str, key: str, where: tuple) -> bool:
    """True when location (relative to the test file) is inside the
    file's project, symlinks resolved, and neither it nor the file it
    leads to is hidden (a part of the path, as written or below the
    project once resolved, starting with "." as .env, .git/config); for a
    folder (a salesforce: export), the same for every entry under it, so
    a symlink inside it cannot lead elsewhere. Else an error at `where`
    naming the key, without reading any file."""
    if reader.root is None:
        reader.root = project_root(reader.path)
    root, words = reader.root
    if Path(location).is_absolute():
        reader.error(f"{key}: {location} is an absolute path; name a file relative to the "
                     f"test file, inside {words}", where)
        return False
    try:
        target = (reader.dir / location).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        target = None
    if target is None or not target.is_relative_to(root):
        reader.error(f"{key}: {location} is outside {words}; a test file reads only files "
                     "inside it", where)
        return False
    hidden = _hidden_part(Path(location).parts) or _hidden_part(target.relative_to(root).parts)
    if hidden:
        reader.error(f"{key}: {location} names a hidden file or folder ({hidden}); a test "
                     "file never reads hidden files or folders (.git, .env)", where)
        return False
    if target.is_dir():
        bad = _bad_entry(target, root)
        if bad is not None:
            entry, why = bad
            reader.error(f"{key}: {location} holds {entry}, which {why}; a test file reads "
                         f"only files inside {words}, none hidden", where)
            return False
    return True


def _hidden_part(parts: tuple[str, ...]) -> str | None:
    """The first part naming a hidden file or folder (".env"), if any."""
    return next((p for p in parts if p.startswith(".") and p not in (".", "..")), None)


def _bad_entry(folder: Path, root: Path) -> tuple[str, str] | None:
    """The first entry under folder (its path relative to folder, and why)
    that is hidden or leads, symlinks resolved, outside root or into a
    hidden file or folder; None when every entry is fine. Symlinked
    folders are checked, not descended into."""
    for here, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            path = Path(here, name)
            shown = str(path.relative_to(folder))
            if name.startswith("."):
                return shown, "is hidden"
            try:
                real = path.resolve()
            except (OSError, RuntimeError, ValueError):
                return shown, "cannot be resolved (a symlink loop)"
            if not real.is_relative_to(root):
                return shown, "leads outside the project"
            if _hidden_part(real.relative_to(root).parts):
                return shown, "leads into a hidden file or folder"
    return None


def source(reader: _Reader, policy: Policy, spec: str, where: tuple, key: str,
           as_of: dt.date) -> Intake | None:
    """What KIND:LOCATION gives, read once per file and as-of date: the
    location relative to the test file and inside its project. None (and
    an error at `where`) when it cannot be read."""
    from .intake import read_records
    from .run import open_source

    kind, sep, location = spec.partition(":")
    if sep and location:
        if not inside(reader, location, key, where):
            return None
        spec = f"{kind}:{reader.dir / location}"
        if not _file_or_directory(spec.partition(":")[2]):
            reader.error(f"source {spec}: not a regular file or directory (a FIFO or device "
                         "is never read)", where)
            return None
    if (spec, as_of) not in reader.sources:
        intake: Intake | None = None
        try:
            records, mapping = open_source(spec, as_of, extra_facts=policy.facts)
            intake = read_records(records, policy.facts, mapping)
        except AdieuError as exc:
            reader.error(f"source {spec}: {exc}", where)
        except OSError as exc:
            reader.error(f"source {spec}: cannot read: {exc.strerror}", where)
        reader.sources[(spec, as_of)] = intake
    return reader.sources[(spec, as_of)]


def population_source(reader: _Reader, policy: Policy, spec: str, as_of: dt.date) \
        -> list[Record]:
    """A population read whole: each row the source rejects is an error (a
    base smaller than the file says is how a wrong expectation passes), the
    first REJECTS_SHOWN listed as `adieu evaluate` lists them, then a count;
    a source with no customers is an error too."""
    where = ("population",)
    intake = source(reader, policy, spec, where, "population", as_of)
    if intake is None:
        return []
    rows = intake.rejected_rows
    if rows:
        reader.error(f"population {spec}: {rows:,} of {rows + len(intake.records):,} rows "
                     "rejected; a test's population must be read whole (fix or remove them)",
                     where)
        for reject in intake.rejects[:REJECTS_SHOWN]:
            reader.error(f"population {spec}: rejected: {reject}", where)
        if len(intake.rejects) > REJECTS_SHOWN:
            reader.error(f"population {spec}: ... and {len(intake.rejects) - REJECTS_SHOWN:,} "
                         "more rejects not shown", where)
    elif not intake.records:
        reader.error(f"population {spec}: the source has no customers", where)
    return intake.records


def facts_from(reader: _Reader, policy: Policy, ref: dict[str, Any], where: tuple,
               as_of: dt.date, notes: list[str]) -> dict[str, Any]:
    """The facts of one customer of a source, from the record `adieu
    evaluate` decides: the accepted one (a later row repeating the id is a
    rejected duplicate, named in `notes`). Its own record rejected, or no
    such customer, is an error."""
    customer = ref["customer"]
    intake = source(reader, policy, ref["source"], where + ("source",), "facts_from source",
                    as_of)
    if intake is None:
        return {}
    found = [r for r in intake.records if r.customer_id == customer]
    rejects = [r for r in intake.rejects if r.customer_id == customer]
    if found:
        record = found[0]
        if rejects:  # ambiguous: say which row the case uses
            at = f"{record.file}:{record.line}" if record.line else str(record.file)
            row = f" (row {record.row})" if record.row is not None else ""
            notes.extend(f"facts_from: customer {customer!r} is taken from {at}{row}, as "
                         f"`adieu evaluate` takes it; the source rejects {reject}"
                         for reject in rejects)
        return dict(record.facts)
    for reject in rejects:
        reader.error(f"customer {customer!r}: the source rejects its record: {reject}",
                     where + ("source",))
    if not rejects:
        reader.error(f"no customer {customer!r} in {ref['source']}", where + ("customer",))
    return {}


def _file_or_directory(location: str) -> bool:
    """False for a path that is there but is neither a regular file nor a
    directory (a FIFO, a device, a socket); True otherwise (a location that
    is not there is the source's own error)."""
    try:
        mode = os.stat(location).st_mode
    except (OSError, ValueError):
        return True
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)
