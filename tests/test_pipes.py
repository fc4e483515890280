"""Issue 12: a reader that leaves early (`adieu audit verify 2>&1 | head -1`)
never changes a command's exit code. Real pipes, so the installed console
script runs as a subprocess with stdout and stderr on one pipe whose read
end the test closes: after the first line (as `head -1` does), and before
any line (so that the very first write meets the closed pipe, on stdout
or on stderr). Each case runs a few times: whether a write meets the
closed pipe is a race."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF, sql

from adieu.cli import cli

ADIEU = shutil.which("adieu", path=str(Path(sys.executable).parent)) or "adieu"
# How many lines each try reads before it closes the pipe: 0 (the first
# write meets the closed pipe, always) then 1, twice (`| head -1`, a race).
# The tries run at the same time: one process's start-up for all of them.
AFTER = (0, 1, 1)


def _readers_leave(args: list[str], cwd: Path) -> list[tuple[int, bytes]]:
    """Exit code and what the reader saw, for each try of AFTER: stdout and
    stderr on one pipe (`2>&1 | head -1`) that the reader closes after
    that many lines."""
    procs = [subprocess.Popen([ADIEU, *args], cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
             for _ in AFTER]
    seen = []
    for proc, lines in zip(procs, AFTER, strict=True):
        assert proc.stdout is not None
        seen.append(b"".join(proc.stdout.readline() for _ in range(lines)))
        proc.stdout.close()
    return [(proc.wait(timeout=60), got) for proc, got in zip(procs, seen, strict=True)]


@pytest.fixture
def tampered(tmp_path: Path, policy_file: Path, customers_csv: Path) -> Path:
    db = tmp_path / "t.db"
    result = CliRunner().invoke(cli, ["evaluate", str(policy_file), "--source",
                                      f"csv:{customers_csv}", "--as-of", AS_OF,
                                      "--db", str(db), "-q"])
    assert result.exit_code == 0, result.output
    sql(db, "drop trigger audit_no_update",
        f"update audit set hash = '{'f' * 64}' where seq = 1")
    return db


def test_audit_verify_of_a_tampered_trail_is_1_when_the_reader_leaves(
        tmp_path: Path, tampered: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("wb") as handle:  # and stderr alone closed, stdout a file
        alone = subprocess.Popen([ADIEU, "audit", "verify", "--db", str(tampered)],
                                 cwd=tmp_path, stdout=handle, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
        assert alone.stderr is not None
        alone.stderr.close()
        for code, seen in _readers_leave(["audit", "verify", "--db", str(tampered)],
                                         tmp_path):
            assert code == 1, seen
            assert b"Traceback" not in seen
        assert alone.wait(timeout=60) == 1
    text = out.read_text(encoding="utf-8")
    assert "was edited" in text  # stdout still written
    assert "Exception ignored" not in text and "Traceback" not in text


def test_validate_of_an_invalid_policy_is_1_when_the_reader_leaves(
        tmp_path: Path, policy_file: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy_file.read_text(encoding="utf-8").replace(
        "late_payments_12m", "nosuchfact"), encoding="utf-8")
    for code, seen in _readers_leave(["validate", str(bad)], tmp_path):
        assert code == 1, seen


def test_an_input_error_is_2_when_the_reader_leaves(tmp_path: Path) -> None:
    # the error's one line is click's own write to stderr, after the command
    for code, seen in _readers_leave(["facts", "csv:nosuch.csv"], tmp_path):
        assert code == 2, seen
