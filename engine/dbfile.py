"""Opening a database file without changing it: is it adieu's, of which
layout, and can it be read where it lies (docs/database.md,
"_sqlite_migrations").

An adieu database is recognised by its own marks, read through a read-only
connection before anything writes to the file (journal mode included): a
`runs` table with the columns adieu's first migration made, and adieu's
migrations recorded in `_sqlite_migrations` (migration_set "adieu"). Any
other file with tables is refused, untouched. An empty file (no table) is an
empty store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .errors import Location, StoreError

# The runs columns of migration m001_initial: every adieu database has them.
RUNS_COLUMNS = ("id", "policy_name", "policy_version", "policy_sha256", "policy_file",
                "policy_text", "source", "as_of", "customers", "rejected", "counts",
                "population", "adieu_version", "started_at", "finished_at")


def writable(path: str) -> bool:
    """Whether SQLite can write beside the file: the file and its folder
    (the -wal and -shm files live there) are writable, on a filesystem that
    is not mounted read-only."""
    file = Path(path)
    folder = file.resolve().parent
    if not (os.access(file, os.W_OK) and os.access(folder, os.W_OK)):
        return False
    try:  # root passes os.access on a read-only mount
        return not os.statvfs(folder).f_flag & os.ST_RDONLY
    except OSError:
        return True


def connect_readonly(path: str, timeout: float = 30) -> sqlite3.Connection:
    """A read-only connection to an existing file. Where SQLite cannot make
    the -shm file a WAL database needs (a read-only folder or filesystem: a
    backup handed to an auditor), the file is opened as immutable, which is
    exact when no write-ahead log holds changes beside it; a non-empty -wal
    there is refused with one line saying what to do."""
    uri = Path(path).resolve().as_uri()
    if writable(path) or _wal_free_in_place(path):
        conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=timeout)
        try:
            conn.execute("select count(*) from sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if writable(path) or "unable to open" not in str(exc):
                raise
    wal = Path(path + "-wal")
    if wal.exists() and wal.stat().st_size:
        raise StoreError(f"cannot read it where it lies: the folder is read-only and {wal.name} "
                         "beside it holds changes SQLite can only read by writing "
                         f"{Path(path).name}-shm; copy the database with its -wal file to a "
                         "writable folder", Location(path))
    conn = sqlite3.connect(uri + "?immutable=1", uri=True, timeout=timeout)
    conn.execute("select count(*) from sqlite_master").fetchone()
    return conn


def _wal_free_in_place(path: str) -> bool:
    """A read-only file whose header says it is not in WAL mode: SQLite reads
    it read-only without any file beside it."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return True
    return len(header) < 20 or header[18:20] != b"\x02\x02"


def recognise(conn: sqlite3.Connection, path: str, empty_ok: bool) -> bool:
    """Whether the open file is an adieu database (its marks: see the module
    docstring). An empty database (no table at all: a new or 0-byte file) is
    allowed when empty_ok, and False is returned. Any other file (another
    program's database, even one with a table named runs; a mistyped path
    that exists) is refused: StoreError "FILE is not an adieu database
    (WHY)", exit code 2."""
    names = {name for (name,) in conn.execute(
        "select name from sqlite_master where type in ('table', 'view')")}
    if not names and empty_ok:
        return False
    if "runs" not in names:
        raise StoreError(f"{path} is not an adieu database (no runs table)")
    columns = {row[1] for row in conn.execute("select * from pragma_table_info('runs')")}
    missing = [c for c in RUNS_COLUMNS if c not in columns]
    if missing:
        raise StoreError(f"{path} is not an adieu database (its runs table has no "
                         f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''} "
                         "column)")
    marked = "_sqlite_migrations" in names and conn.execute(
        "select 1 from _sqlite_migrations where migration_set = 'adieu' and "
        "name = 'm001_initial'").fetchone()
    if not marked:
        raise StoreError(f"{path} is not an adieu database (no adieu migration is recorded "
                         "in it)")
    return True


def inspect(path: str, names: list[str], timeout: float) -> list[str]:
    """Before anything writes to an existing file, through a read-only
    connection: refuse it unless it is an adieu database or empty
    (recognise), and return those of the migrations `names` it has not had
    yet (none for an empty file: it is made from scratch)."""
    conn = connect_readonly(path, timeout=timeout)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not recognise(conn, path, True):
            return []
        done = set(applied(conn))
        return [name for name in names if name not in done]
    finally:
        conn.close()


def applied(conn: sqlite3.Connection) -> list[str]:
    """The adieu migrations recorded in the file, in order."""
    try:
        return [name for (name,) in conn.execute(
            "select name from _sqlite_migrations where migration_set = 'adieu' order by rowid")]
    except sqlite3.OperationalError:  # no _sqlite_migrations: an empty store
        return []


def require_layout(conn: sqlite3.Connection, path: str, newest: str,
                   memory_free_ok: bool = False) -> None:
    """Refuse, with one line saying what to do, an adieu database of an older
    layout that a command which reads without migrating (`adieu diff`,
    `adieu evaluate --dry-run`) cannot read. memory_free_ok: a database
    of adieu 0.1 (m001_initial only: runs and decisions, no memory of
    strikes, cases or exemptions) is read as holding no memory."""
    done = applied(conn)
    if not done or done[-1] == newest or newest in done:
        return
    if memory_free_ok and done == ["m001_initial"]:
        return
    raise StoreError(
        f"{path} is an adieu database of an older layout (its last migration is {done[-1]}, "
        f"this adieu's is {newest}), which `adieu diff` and `adieu evaluate --dry-run` "
        "read only once it is upgraded: upgrade it first with "
        f"`adieu audit verify --db {path}` (which migrates the file and checks its trail), "
        "or run this on an upgraded copy")
