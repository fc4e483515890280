"""A database in a read-only place (a backup on a read-only mount, a folder
the user cannot write): the reading commands read it as it is, a writing
command says in one line why it cannot, and nothing beside the file is
made (issue 11, RB7: every command said "unable to open database file",
since a WAL database needs a writable -shm file beside it)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli

ROOT = Path(__file__).resolve().parents[1]
POLICY = str(ROOT / "policies" / "default.yaml")
CSV = f"csv:{ROOT / 'examples' / 'customers.csv'}"


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """An adieu (WAL) database with one run, in a folder made read-only: a
    read-only bind mount when running as root (root writes through file
    modes), else mode 0555."""
    made = tmp_path / "made"
    made.mkdir()
    db = made / "a.db"
    result = CliRunner().invoke(cli, ["evaluate", POLICY, "--source", CSV, "--as-of",
                                      "2026-11-01", "-q", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in made.iterdir()) == ["a.db"]
    with read_only_folder(made, tmp_path / "ro") as folder:
        yield folder / "a.db"


@contextlib.contextmanager
def read_only_folder(folder: Path, mount: Path) -> Iterator[Path]:
    """FOLDER made read-only, as the path to use: mode 0555, and for root
    (who writes through file modes) a read-only bind mount at MOUNT. Where
    root cannot mount (a container without the capability), the test is
    skipped with that reason: no other way makes a folder read-only to root."""
    folder.chmod(0o555)
    try:
        if os.geteuid() != 0:
            yield folder
            return
        mount.mkdir()
        done = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(mount)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"root cannot make a read-only folder here: mount --bind -o ro "
                        f"failed: {done.stderr.strip()}")
        try:
            yield mount
        finally:
            subprocess.run(["umount", str(mount)], check=True)
    finally:
        folder.chmod(0o755)


READS = [
    (["runs"], "Run 1  as of 2026-11-01"),
    (["report", "--html", "{out}/r.html"], ""),
    (["audit", "verify"], "audit trail intact"),
    (["segments", "--by", "size"], "size"),
    (["explain", "CUST-0001"], "CUST-0001"),
    (["pending"], ""),
    (["evaluate", POLICY, "--source", CSV, "--as-of", "2026-12-01", "--dry-run", "-q"], ""),
]


@pytest.mark.parametrize(("args", "shown"), READS, ids=lambda a: " ".join(a[:2])
                         if isinstance(a, list) else "")
def test_reading_commands_read_a_database_in_a_read_only_place(
        read_only: Path, tmp_path: Path, args: list[str], shown: str) -> None:
    before = hashlib.sha256(read_only.read_bytes()).digest()
    result = CliRunner().invoke(cli, [a.format(out=tmp_path) for a in args]
                                + ["--db", str(read_only)])
    assert result.exit_code == 0, result.output
    assert shown in result.output
    assert hashlib.sha256(read_only.read_bytes()).digest() == before
    assert sorted(p.name for p in read_only.parent.iterdir()) == ["a.db"]


WRITES = [
    ["approve", "CUST-0088", "--by", "Mara Lind"],
    ["evaluate", POLICY, "--source", CSV, "--as-of", "2026-12-01", "-q"],
    ["exempt", "C1", "--all", "--reason", "r", "--approver", "a", "--until", "2027-06-01",
     "--new-customer"],
]


@pytest.mark.parametrize("args", WRITES, ids=lambda a: a[0])
def test_a_writing_command_says_why_it_cannot(read_only: Path, args: list[str]) -> None:
    before = hashlib.sha256(read_only.read_bytes()).digest()
    result = CliRunner().invoke(cli, [*args, "--db", str(read_only)])
    assert hashlib.sha256(read_only.read_bytes()).digest() == before
    assert (result.exit_code, result.output) == (
        2, f"Error: {read_only}: cannot write to the database: it is read-only (a read-only "
           "file, folder or filesystem); the reading commands work on it, this one needs a "
           "writable copy\n")


def test_an_unfinished_write_ahead_log_is_named(read_only: Path, tmp_path: Path) -> None:
    """A copy taken with changes still in its -wal: read as immutable it
    would lose them, so it is refused with what to do."""
    place = tmp_path / "walled"
    place.mkdir()
    shutil.copyfile(read_only, place / "a.db")
    (place / "a.db-wal").write_bytes(b"\0" * 4096)
    with read_only_folder(place, tmp_path / "ro2") as folder:
        target = folder / "a.db"
        result = CliRunner().invoke(cli, ["runs", "--db", str(target)])
    assert (result.exit_code, result.output) == (
        2, f"Error: {target}: cannot read it where it lies: the folder is read-only and "
           "a.db-wal beside it holds changes SQLite can only read by writing a.db-shm; copy "
           "the database with its -wal file to a writable folder\n")
