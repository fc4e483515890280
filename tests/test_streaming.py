"""A run streams: two passes over the source, decisions in batches with each
batch's memory, output read back from the store. Memory stays flat in the
number of customers; the decisions are those of the in-memory reference
path; a pipe is spilled and read twice; a source changed between the
passes stores nothing; progress and the final line on stderr."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FINAL_LINE

import adieu.run as run_module
from adieu import jsontext
from adieu.cli import cli
from adieu.decide import evaluate_all
from adieu.facts import to_json_value
from adieu.intake import read_records
from adieu.plugins import registry
from adieu.policy import load_policy
from adieu.progress import Progress
from adieu.readback import write_json
from adieu.run import open_source, used_memory
from adieu.safe_text import json_text
from adieu.store import decision_row, load_memories, open_db

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "customers.csv"
ADIEU = shutil.which("adieu", path=str(Path(sys.executable).parent)) or shutil.which("adieu")
DAY1, DAY2 = "2026-11-01", "2026-12-01"


def generate(n: int, out: Path) -> Path:
    """n rows of examples/customers.csv copied block after block, each copy
    with a new id (the example's bad rows stay bad: an empty id stays
    empty), as ../shared/perf/gen_customers.py does."""
    with open(EXAMPLE, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], [r for r in rows[1:] if r]
    at = header.index("customer_id")
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(n):
            row = list(data[i % len(data)])
            if row[at]:
                row[at] = f"C{i:07d}"
            writer.writerow(row)
    return out


def peak_rss_kb(args: list[str], cwd: Path) -> int:
    """Peak resident set of the console script run with args (KB, Linux)."""
    assert ADIEU, "the adieu console script is not installed"
    proc = subprocess.Popen([ADIEU, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read().decode()
    proc.stderr.close()
    proc.returncode = 0
    return usage.ru_maxrss


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KB on Linux")
def test_peak_memory_is_flat_in_the_number_of_customers(tmp_path: Path) -> None:
    """4x the customers, about the same peak: nothing per customer is kept
    (before the streaming run: 11 KB a customer, 660 MB more at 80,000)."""
    peaks = {}
    for n in (20_000, 80_000):
        source = generate(n, tmp_path / f"c{n}.csv")
        peaks[n] = peak_rss_kb(["evaluate", "default", "--source", f"csv:{source}",
                                "--as-of", DAY1, "--db", f"d{n}.db", "--workers", "1",
                                "--quiet"], tmp_path)
        with sqlite3.connect(tmp_path / f"d{n}.db") as conn:
            assert conn.execute("select customers from runs").fetchone()[0] > n * 0.98
    grown = (peaks[80_000] - peaks[20_000]) / 1024
    assert grown < 40, f"peak RSS grew by {grown:.0f} MB from 20,000 to 80,000 customers"


def reference_rows(db_file: Path, policy_name: str, source: Path,
                   as_of: dt.date) -> dict[str, dict]:
    """The decisions of the in-memory path (every record read, one
    Population over all, evaluate_all, every memory loaded) as decision
    rows, by customer id: the reference the streaming run must match."""
    policy = load_policy(policy_name, registry().functions)
    records, mapping = open_source(f"csv:{source}", as_of, None, None, policy.facts)
    intake = read_records(records, policy.facts, mapping)
    db = open_db(str(db_file))
    try:
        memories = load_memories(db, as_of)
    finally:
        db.close()
    decisions, _ = evaluate_all(policy, intake.records, as_of, None, memories)
    out = {}
    for d, r in zip(decisions, intake.records, strict=True):
        row = decision_row(d, {k: to_json_value(v) for k, v in r.facts.items()}, r.file, r.row)
        used = used_memory(memories.get(d.customer_id), d, as_of)
        row["memory"] = jsontext.dumps(used.to_json()) if used else None
        out[d.customer_id] = row
    return out


def test_decisions_equal_the_in_memory_path_with_memory(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "a.db"
    args = ["--db", str(db)]
    assert runner.invoke(cli, ["evaluate", "default", "--source", f"csv:{EXAMPLE}",
                               "--as-of", DAY1, *args]).exit_code == 0
    exempt = runner.invoke(cli, ["exempt", "CUST-0007", "--all", "--reason", "reference",
                                 "--approver", "CEO", "--until", "2027-06-01", *args])
    assert exempt.exit_code == 0, exempt.output
    expected = reference_rows(db, "default", EXAMPLE, dt.date.fromisoformat(DAY2))
    second = runner.invoke(cli, ["evaluate", "default", "--source", f"csv:{EXAMPLE}",
                                 "--as-of", DAY2, *args])
    assert second.exit_code == 0, second.output
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        stored = {r["customer_id"]: dict(r) for r in
                  conn.execute("select * from decisions where run_id = 2")}
    assert set(stored) == set(expected) and len(stored) == 400
    assert any(r["memory"] for r in stored.values())
    for cid, row in expected.items():
        for column, value in row.items():
            assert stored[cid][column] == value, (cid, column)


def test_stdin_is_spilled_and_decided(tmp_path: Path) -> None:
    assert ADIEU
    spill = tmp_path / "tmp"  # its own temporary directory: other runs share /tmp
    spill.mkdir()
    done = subprocess.run([ADIEU, "evaluate", "default", "--source", "csv:/dev/stdin",
                           "--as-of", DAY1, "--db", "s.db", "--json"], cwd=tmp_path,
                          stdin=open(EXAMPLE, "rb"), capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TMPDIR": str(spill)})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["run"]["customers"] == len(out["decisions"]) == 400
    assert {r["file"] for r in out["rejects"]} == {"/dev/stdin"}  # not the spill's name
    assert not list(spill.iterdir())  # the spill is removed


# Issue 11 (B12): every error reading piped input names the source as given,
# never the temporary copy it was spilled to (gone when the user reads it).
STDIN_ERRORS = [
    ("csv", b"", "Error: /dev/stdin:1: the file is empty; expected a header row\n"),
    ("csv", b"customer_id,revenue_12m\nC1,\xff\n",
     "Error: /dev/stdin:2: byte offset 27: invalid UTF-8 (0xff): if the file is in another "
     "encoding, say which: -o encoding=cp1252 (or latin-1)\n"),
    ("csv", b'customer_id,revenue_12m\nC1,"12\n',
     "Error: /dev/stdin:2: malformed CSV: a quote opened in the record starting at this "
     "line is never closed (unexpected end of data at line 2)\n"),
    ("hubspot", b"garbage", "Error: /dev/stdin:1:1: malformed JSON: Expecting value\n"),
    ("salesforce", b"garbage",
     "Error: /dev/stdin: not a readable zip archive (BadZipFile: File is not a zip file); "
     "expected a Salesforce Data Export .zip or the folder it unzips to\n"),
]


@pytest.mark.parametrize(("kind", "data", "message"), STDIN_ERRORS)
def test_an_error_in_piped_input_names_dev_stdin(tmp_path: Path, kind: str, data: bytes,
                                                 message: str) -> None:
    assert ADIEU
    spill = tmp_path / "tmp"
    spill.mkdir()
    done = subprocess.run([ADIEU, "evaluate", "default", "--source", f"{kind}:/dev/stdin",
                           "--as-of", DAY1, "--db", "s.db"], cwd=tmp_path, input=data,
                          capture_output=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(spill)})
    assert (done.returncode, done.stderr.decode()) == (2, message)
    assert not list(spill.iterdir())  # the spill is removed


def test_a_too_long_line_in_piped_input_names_dev_stdin(tmp_path: Path) -> None:
    from adieu.textlines import MAX_LINE_BYTES

    head = b"customer_id,revenue_12m\n"
    done = subprocess.run([ADIEU, "evaluate", "default", "--source", "csv:/dev/stdin",
                           "--as-of", DAY1, "--db", "s.db"], cwd=tmp_path,
                          input=head + b"C1," + b"9" * (2 * MAX_LINE_BYTES) + b"\n",
                          capture_output=True, timeout=120)
    assert (done.returncode, done.stderr.decode()) == (
        2, f"Error: /dev/stdin:2: byte offset {len(head)}: a line longer than "
           f"{MAX_LINE_BYTES:,} bytes (64 MiB), the bound on one line: not a text file with "
           "line breaks?\n")


def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    """Issue 12: a named pipe other than standard input is refused before it
    is opened (it used to be copied, and waited on for ever with no writer);
    tests/test_source_files.py covers the other kinds."""
    fifo = tmp_path / "customers.fifo"
    os.mkfifo(fifo)
    result = CliRunner().invoke(cli, ["evaluate", "default", "--source", f"csv:{fifo}",
                                      "--as-of", DAY1, "--db", str(tmp_path / "f.db")])
    assert result.exit_code == 2, result.output
    assert "not a regular file or directory (a named pipe)" in result.output
    assert not (tmp_path / "f.db").exists()


def test_a_source_changed_between_the_passes_stores_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "c.csv"
    shutil.copy(EXAMPLE, source)
    scan = run_module.scan

    def scan_then_edit(*args, **kwargs):
        scanned = scan(*args, **kwargs)
        source.write_text(source.read_text(encoding="utf-8").replace("CUST-0007", "CUST-7777"),
                          encoding="utf-8")
        return scanned

    monkeypatch.setattr(run_module, "scan", scan_then_edit)
    db = tmp_path / "x.db"
    result = CliRunner().invoke(cli, ["evaluate", "default", "--source", f"csv:{source}",
                                      "--as-of", DAY1, "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.stderr.endswith(f"Error: {source}: {source} changed while the run was "
                                  "reading it (its bytes differ between the run's two "
                                  "passes); nothing was stored\n")
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from runs").fetchone() == (0,)
        assert conn.execute("select count(*) from decisions").fetchone() == (0,)


@pytest.mark.parametrize("added", ["ZZ-NEW", "CUST-0001"])
def test_rows_appended_while_pass_2_reads_store_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, added: str) -> None:
    """Rows appended after the check before pass 2 (a new customer, or a
    duplicate of one decided) are not decided without pass 1 having seen
    them: the run fails and stores nothing (found by a hostile test: the
    new customer was stored, the duplicate silently dropped)."""
    source = tmp_path / "c.csv"
    shutil.copy(EXAMPLE, source)
    first = EXAMPLE.read_text(encoding="utf-8").splitlines()[1]
    accepted = run_module.accepted_records

    def read_then_append(result):
        for i, record in enumerate(accepted(result)):
            if i == 0:
                with open(source, "a", encoding="utf-8") as f:
                    f.write(added + first[first.index(","):] + "\n")
            yield record

    monkeypatch.setattr(run_module, "accepted_records", read_then_append)
    db = tmp_path / "x.db"
    result = CliRunner().invoke(cli, ["evaluate", "default", "--source", f"csv:{source}",
                                      "--as-of", DAY1, "--db", str(db), "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert "changed while the run was reading it" in result.stderr
    assert result.stderr.rstrip().endswith("nothing was stored")
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from runs").fetchone() == (0,)
        assert conn.execute("select count(*) from decisions").fetchone() == (0,)


def test_quiet_prints_nothing_on_stderr_and_the_final_line_is_there_without(
        tmp_path: Path, good_csv: Path, policy_file: Path) -> None:
    runner = CliRunner()
    quiet = runner.invoke(cli, ["evaluate", str(policy_file), "--source", f"csv:{good_csv}",
                                "--as-of", DAY1, "--db", str(tmp_path / "q.db"), "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    loud = runner.invoke(cli, ["evaluate", str(policy_file), "--source", f"csv:{good_csv}",
                               "--as-of", DAY1, "--db", str(tmp_path / "l.db")])
    assert loud.exit_code == 0, loud.output
    assert FINAL_LINE.fullmatch(loud.stderr), loud.stderr
    head, done = loud.stderr.splitlines()  # the audit head, then the final line
    assert head.startswith("audit head: ")
    assert done.startswith("done: 9 customers decided, 0 rows rejected, 7 new "
                           "strikes; run 1 stored in ")
    dry = runner.invoke(cli, ["evaluate", str(policy_file), "--source", f"csv:{good_csv}",
                              "--as-of", DAY1, "--db", str(tmp_path / "l.db"), "--dry-run"])
    assert dry.stderr.splitlines()[-1].startswith("done: 9 customers decided")
    assert "run 1 already stored in " in dry.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only_and_not_when_quiet() -> None:
    shown = _Terminal()
    bar = Progress(stream=shown)
    bar.start("Deciding and writing", 4000, "customers")
    bar.advance(2000)
    bar.advance(2000)
    bar.close()
    assert "Deciding and writing" in shown.getvalue() and "/4.00k" in shown.getvalue()
    for progress, stream in ((Progress(quiet=True, stream=_Terminal()), None),
                             (Progress(stream=io.StringIO()), None)):
        progress.start("Reading")
        progress.advance(5000)
        progress.close()
        assert progress.stream.getvalue() == "" and stream is None


def test_json_written_in_pieces_is_the_whole_documents_text() -> None:
    from adieu.decide import Decision

    decisions = [Decision("C1", "keep", "keep", None, 0),
                 Decision("C2", "warn", "warn", "high", 1, new_strikes=["late"])]
    head = {"run": {"id": 3, "counts": {"keep": 1}, "sources": []}}
    tail = {"rejects": [], "warnings": [{"file": "x", "row": 2}]}
    for listed in (decisions, []):
        out = io.StringIO()
        write_json(head, iter(listed), tail, out)
        whole = {**head, "decisions": [d.to_dict() for d in listed], **tail}
        assert out.getvalue() == json_text(whole, indent=2) + "\n"


@pytest.mark.parametrize("output", ["--json", "--csv"])
def test_read_back_output_leaves_no_wal_files(tmp_path: Path, output: str) -> None:
    """--json/--csv read the run back after the commit; the reading
    connection is the last to close and must take -wal and -shm with it
    (a read-only one left both behind, found by a hostile test)."""
    db = tmp_path / "x.db"
    done = CliRunner().invoke(cli, ["evaluate", "default", "--source", f"csv:{EXAMPLE}",
                                    "--as-of", DAY1, "--db", str(db), output, "--quiet"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.db"]
