"""Exit codes over every command: whatever is named and not there (a
customer, a run, a rule, a file, a database, a policy file) is exit 2 with
one error line; a reader that closes the output early (`| head -1`) is not
an error once the run is stored."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import before_final_line

from adieu.cli import cli

ADIEU = Path(sys.executable).parent / "adieu"

POLICY = textwrap.dedent("""\
    version: "1"
    name: codes
    rules:
      - id: late
        title: Late payer
        when: late_payments_12m >= 3
        action: strike
    """)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A database with one run (C-1 has a strike, C-2 none), its files, and
    names of things that are not there."""
    work = tmp_path_factory.mktemp("codes")
    (work / "p.yaml").write_text(POLICY, encoding="utf-8")
    (work / "c.csv").write_text("customer_id,late_payments_12m\nC-1,3\nC-2,0\n",
                                encoding="utf-8")
    names = {"policy": str(work / "p.yaml"), "src": f"csv:{work / 'c.csv'}",
             "db": str(work / "w.db"), "nodb": str(work / "none.db"),
             "nopolicy": str(work / "missing.yaml"), "nocsv": f"csv:{work / 'none.csv'}",
             "nomap": str(work / "none-mapping.yaml")}
    done = CliRunner().invoke(cli, ["evaluate", names["policy"], "--source", names["src"],
                                    "--as-of", "2026-11-02", "--db", names["db"]])
    assert done.exit_code == 0, done.output
    return names


# (command line with {placeholders}, exit code, start of the error output)
CASES = [
    ("history CUST-9999 --db {db}", 2, "Error: customer 'CUST-9999' is not in the database"),
    ("history CUST-9999 --json --db {db}", 2, "Error: customer 'CUST-9999' is not in"),
    ("history C-1 --db {nodb}", 2, "Error: "),
    ("strikes CUST-9999 --db {db}", 2, "Error: customer 'CUST-9999' is not in the database"),
    ("strikes show CUST-9999 --json --db {db}", 2, "Error: customer 'CUST-9999' is not in"),
    ("strikes pardon CUST-9999 late --by A --reason r --db {db}", 2,
     "Error: CUST-9999 has no strike for rule 'late'"),
    ("strikes pardon C-1 no-such-rule --by A --reason r --db {db}", 2,
     "Error: C-1 has no strike for rule 'no-such-rule'"),
    ("explain CUST-9999 --db {db}", 2, "Error: customer 'CUST-9999' has no decision in run 1"),
    ("explain C-1 --run 99 --db {db}", 2, "Error: no run 99 in the database"),
    ("explain C-1 --db {nodb}", 2, "Error: "),
    ("approve CUST-9999 --run 1 --by A --db {db}", 2,
     "Error: CUST-9999 has no open offboarding case"),
    ("approve C-1 --run 99 --by A --db {db}", 2, "Error: C-1 has no open offboarding case"),
    ("reject CUST-9999 --run 1 --by A --db {db}", 2,
     "Error: CUST-9999 has no open offboarding case"),
    ("reject C-1 --run 99 --by A --db {db}", 2, "Error: C-1 has no open offboarding case"),
    ("pending --run 99 --db {db}", 2, "Error: no run 99 in the database"),
    ("replay 99 --db {db}", 2, "Error: no run 99 in the database"),
    ("replay 1 --db {nodb}", 2, "Error: "),
    ("audit verify --db {nodb}", 2, "Error: "),
    ("audit export --db {nodb}", 2, "Error: "),
    ("exemptions --db {nodb}", 2, "Error: "),
    ("exempt C-1 --rules no-such-rule --reason r --approver CEO --until 2027-01-01 --db {db}",
     2, "Error: --rules names 'no-such-rule', not a rule"),
    ("facts {nocsv}", 2, "Error: "),
    ("facts nokind:x.csv", 2, "Error: unknown source kind 'nokind'"),
    ("facts {src} --mapping {nomap}", 2, "Error: "),
    ("validate {nopolicy}", 2, "{nopolicy}: cannot read policy: No such file"),
    ("validate {policy} {nopolicy}", 2, "{nopolicy}: cannot read policy: No such file"),
    ("evaluate {nopolicy} --source {src} --db {db}", 2,
     "{nopolicy}: cannot read policy: No such file"),
    ("evaluate {policy} --source {nocsv} --db {db}", 2, "Error: "),
    ("evaluate {policy} --source {src} --mapping {nomap} --db {db}", 2, "Error: "),
    # What is there: exit 0.
    ("history C-1 --db {db}", 0, ""),
    ("strikes C-2 --db {db}", 0, ""),  # known, no strikes
    ("explain C-1 --db {db}", 0, ""),
    ("validate {policy}", 0, ""),
]


@pytest.mark.parametrize("line, code, error", CASES, ids=[c[0] for c in CASES])
def test_exit_code(world: dict[str, str], line: str, code: int, error: str) -> None:
    args = [part.format(**world) for part in line.split()]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output + result.stderr
    if code == 2 and args[0] == "validate":  # validate reports its findings on stdout
        assert result.stdout.startswith(error.format(**world)), result.stdout
    elif code == 2:
        assert result.stdout == ""
        assert result.stderr.startswith(error.format(**world)), result.stderr
        assert result.stderr.count("\n") == 1  # one line
    else:
        assert result.stderr == ""


def test_nothing_is_stored_by_an_evaluation_with_a_missing_policy(world) -> None:
    with sqlite3.connect(world["db"]) as conn:
        assert conn.execute("select count(*) from runs").fetchone() == (1,)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS")}


def _with_closed_stdout(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the console script with a stdout whose reader has already left
    (as `| head -1` after its line): every write to it fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([str(ADIEU), *args], cwd=cwd, env=_env(), stdout=write_end,
                              stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr.decode()


@pytest.mark.parametrize("output", [[], ["--json"], ["--csv"]])
def test_a_closed_stdout_after_the_run_is_stored_is_exit_0(tmp_path: Path,
                                                           output: list[str]) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    rows = "".join(f"C-{i},{i % 5}\n" for i in range(300))
    (tmp_path / "c.csv").write_text("customer_id,late_payments_12m\n" + rows, encoding="utf-8")
    db = tmp_path / "pipe.db"
    code, stderr = _with_closed_stdout(["evaluate", "p.yaml", "--source", "csv:c.csv",
                                        "--as-of", "2026-11-02", "--db", str(db), *output],
                                       tmp_path)
    assert (code, before_final_line(stderr)) == (0, "")  # no traceback, no "Broken pipe"
    with sqlite3.connect(db) as conn:  # the run is stored
        assert conn.execute("select count(*) from decisions").fetchone() == (300,)


@pytest.mark.parametrize("args, code", [
    (["validate", "bad.yaml"], 1),     # the findings still say 1
    (["validate", "good.yaml"], 0),
    (["facts", "csv:c.csv", "--json"], 0),
])
def test_a_closed_stdout_keeps_the_commands_own_exit_code(tmp_path: Path, args: list[str],
                                                          code: int) -> None:
    (tmp_path / "good.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(POLICY.replace("late_payments_12m", "nosuchfact"),
                                       encoding="utf-8")
    (tmp_path / "c.csv").write_text("customer_id,late_payments_12m\nC-1,3\n",
                                    encoding="utf-8")
    got, stderr = _with_closed_stdout(args, tmp_path)
    assert got == code
    assert "Broken pipe" not in stderr and "Traceback" not in stderr


FSIZE = 4 << 20


def _stdout_at_its_limit(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the console script with stdout a file that cannot grow (a real
    descriptor: the file is at RLIMIT_FSIZE, so every write fails with EFBIG,
    as a full disk's fails with ENOSPC; never a real /dev/full)."""
    import resource
    import signal

    def limit() -> None:  # pragma: no cover - runs in the child
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE, FSIZE))

    with open(cwd / "out.txt", "wb") as out:
        out.truncate(FSIZE)
        out.seek(FSIZE)
        done = subprocess.run([str(ADIEU), *args], cwd=cwd, env=_env(), stdout=out,
                              stderr=subprocess.PIPE, timeout=120, preexec_fn=limit)
    return done.returncode, done.stderr.decode()


FULL = textwrap.dedent("""\
    import errno, io, sys
    class Full(io.TextIOBase):  # a stdout on a full disk
        encoding = "utf-8"
        def writable(self):
            return True
        def write(self, text):
            if text:
                raise OSError(errno.ENOSPC, "No space left on device")
            return 0
    sys.stdout = Full()
    from adieu.cli import cli
    cli(sys.argv[1:], prog_name="adieu")
    """)


@pytest.mark.parametrize("args", [["runs"], ["runs", "--json"], ["segments", "--csv"],
                                  ["segments"], ["pending"]])
def test_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path,
                                                              args: list[str]) -> None:
    """stdout on a full device was "unexpected error: OSError" (exit 1, or
    Python's "Exception ignored" at exit): now one line on stderr, exit 2."""
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "c.csv").write_text("customer_id,late_payments_12m\nC-1,3\nC-2,0\n",
                                    encoding="utf-8")
    db = str(tmp_path / "full.db")
    done = subprocess.run([str(ADIEU), "evaluate", "p.yaml", "--source", "csv:c.csv",
                           "--as-of", "2026-11-02", "--db", db, "-q"], cwd=tmp_path,
                          env=_env(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if args[0] == "segments":
        args = [*args, "--by", "late_payments_12m"]
    assert _stdout_at_its_limit([*args, "--db", db], tmp_path) == (
        2, "Error: cannot write the output: File too large\n")
    assert (tmp_path / "out.txt").stat().st_size == FSIZE
    full = subprocess.run([sys.executable, "-c", FULL, *args, "--db", db], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert (full.returncode, full.stdout, full.stderr) == (
        2, "", "Error: cannot write the output: No space left on device\n")
