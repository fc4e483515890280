"""Re-running an identical input is found before reading or deciding
(issue 9, item 8d): engine/rerun.py hashes the policy, the source's bytes,
the mapping, the options, the as-of date and the memory; a run stored with
the same hash is shown, nothing is read, decided or written."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF

import adieu.run as run_module
from adieu.cli import cli
from adieu.errors import InputError
from adieu.rerun import content_sha256, input_sha256
from adieu.run import prepare, store

DAY = dt.date.fromisoformat(AS_OF)


def evaluate(runner: CliRunner, db: Path, policy: Path, source: str, *more: str,
             as_of: str = AS_OF):
    result = runner.invoke(cli, ["evaluate", str(policy), "--source", source, "--as-of",
                                 as_of, "--db", str(db), *more])
    assert result.exit_code == 0, result.output
    return result


def count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def no_reading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every read of a source (pass 1) and every decide pass (pass 2)
    of engine.run."""
    calls: list[str] = []
    read, decide = run_module.scan, run_module.decide_all

    def reading(*args, **kwargs):
        calls.append("read")
        return read(*args, **kwargs)

    def deciding(*args, **kwargs):
        calls.append("decide")
        return decide(*args, **kwargs)

    monkeypatch.setattr(run_module, "scan", reading)
    monkeypatch.setattr(run_module, "decide_all", deciding)
    return calls


def test_the_second_identical_run_is_already_recorded_without_reading(
        runner: CliRunner, policy_file: Path, customers_csv: Path, db_path: Path) -> None:
    source = f"csv:{customers_csv}"
    first = evaluate(runner, db_path, policy_file, source, "--json")
    entries = count(db_path, "audit")
    second = evaluate(runner, db_path, policy_file, source, "--json")
    assert "run 1 already recorded these facts" in second.stderr
    assert count(db_path, "runs") == 1 and count(db_path, "audit") == entries
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert two["run"]["already_recorded"] and not one["run"]["already_recorded"]
    # The stored run, shown as the first run showed it: counts, every decision, rejects.
    for key in ("decisions", "rejects"):
        assert two[key] == one[key]
    assert {k: v for k, v in two["run"].items() if k != "already_recorded"} == \
        {k: v for k, v in one["run"].items() if k != "already_recorded"}
    csv_one = evaluate(runner, db_path, policy_file, source, "--csv").stdout
    assert csv_one.splitlines()[1].startswith("1,")


def test_an_identical_run_reads_and_decides_nothing(
        no_reading: list[str], policy_file: Path, customers_csv: Path,
        db_path: Path) -> None:
    source = f"csv:{customers_csv}"
    first = prepare(str(policy_file), source, DAY, db_file=str(db_path))
    store(first, str(db_path), "2026-11-02T08:00:00+00:00")
    assert no_reading == ["read", "decide"]
    again = prepare(str(policy_file), source, DAY, db_file=str(db_path))
    assert no_reading == ["read", "decide"]  # nothing more
    assert again.already and again.run_id == first.run_id
    assert again.counts == first.counts and len(again.decisions) == len(first.decisions)
    assert store(again, str(db_path), "2026-11-02T09:00:00+00:00") == first.run_id
    assert count(db_path, "runs") == 1


@pytest.mark.parametrize("change", ["source byte", "policy comment", "as-of date", "option",
                                    "memory", "allow missing"])
def test_any_other_input_is_read_and_decided(
        change: str, no_reading: list[str], runner: CliRunner, policy_file: Path,
        customers_csv: Path, db_path: Path) -> None:
    source = f"csv:{customers_csv}"
    first = prepare(str(policy_file), source, DAY, db_file=str(db_path))
    store(first, str(db_path), "2026-11-02T08:00:00+00:00")
    day, options, allow = DAY, None, False
    if change == "source byte":
        customers_csv.write_text(customers_csv.read_text().replace("C-KEEP,standard,10000",
                                                                   "C-KEEP,standard,10001"))
    elif change == "policy comment":
        policy_file.write_text(policy_file.read_text() + "# reviewed\n")
    elif change == "as-of date":
        day = DAY + dt.timedelta(days=1)
    elif change == "option":
        options = {"encoding": "utf-8"}
    elif change == "memory":
        done = runner.invoke(cli, ["exempt", "C-WARN", "--all", "--reason", "reference",
                                   "--approver", "CEO", "--until", "2027-06-01",
                                   "--db", str(db_path)])
        assert done.exit_code == 0, done.output
    else:
        allow = True
    again = prepare(str(policy_file), source, day, options=options, db_file=str(db_path),
                    allow_missing_facts=allow)
    assert no_reading == ["read", "decide", "read"]  # pass 2 is store's
    assert not again.already


def test_a_directory_source_is_hashed_by_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.json").write_text("{}")
    (folder / "sub" / "b.json").write_text("[]")
    first = content_sha256(str(folder))
    assert first == content_sha256(str(folder))
    (folder / "sub" / "b.json").write_text("[1]")
    assert content_sha256(str(folder)) != first
    changed = content_sha256(str(folder))
    (folder / "c.json").write_text("")
    assert content_sha256(str(folder)) != changed
    (folder / "c.json").unlink()
    (folder / "sub" / "b.json").rename(folder / "b.json")  # same bytes, other place
    assert content_sha256(str(folder)) != changed
    assert content_sha256(str(tmp_path / "nothing-here")) is None


def test_a_source_that_is_not_a_file_is_never_taken_as_identical(tmp_path: Path) -> None:
    assert input_sha256("p", [("crm", "https://crm.example/api", None)], None, DAY, False,
                        False, "m") is None
    path = tmp_path / "c.csv"
    path.write_text("customer_id\nC-1\n")
    keys = {input_sha256("p", [("csv", str(path), None)], None, DAY, False, False, memory)
            for memory in ("m1", "m2")}
    assert len(keys) == 2 and None not in keys


def test_a_run_decided_again_is_not_found_by_its_first_memory(
        runner: CliRunner, policy_file: Path, customers_csv: Path, db_path: Path) -> None:
    """Memory changed between pass 1 and the write lock: the run stored was
    decided with the new memory (read under the lock), so the key stored
    with it names that memory, not the one pass 1 saw."""
    source = f"csv:{customers_csv}"
    evaluate(runner, db_path, policy_file, source)
    later = DAY + dt.timedelta(days=40)
    result = prepare(str(policy_file), source, later, db_file=str(db_path))
    first_key = result.input_sha256
    done = runner.invoke(cli, ["exempt", "C-WARN", "--all", "--reason", "reference",
                               "--approver", "CEO", "--until", "2027-06-01",
                               "--db", str(db_path)])
    assert done.exit_code == 0, done.output
    store(result, str(db_path), "2026-12-12T08:00:00+00:00")
    conn = sqlite3.connect(db_path)
    try:
        stored = conn.execute("select input_sha256 from runs where id = 2").fetchone()[0]
    finally:
        conn.close()
    assert stored not in (None, first_key)
    decided = next(d for d in result.decisions if d.customer_id == "C-WARN")
    assert [e["id"] for e in decided.exemptions] == ["registry-1"]
    again = prepare(str(policy_file), source, later, db_file=str(db_path))
    assert again.already and again.run_id == 2


def test_the_summary_of_an_identical_run_is_the_first_runs(
        runner: CliRunner, policy_file: Path, customers_csv: Path, db_path: Path) -> None:
    """Shown from the stored run (its counts and its offboard decisions only)."""
    source = f"csv:{customers_csv}"
    first = evaluate(runner, db_path, policy_file, source).stdout
    second = evaluate(runner, db_path, policy_file, source).stdout
    assert second == first.replace("stored in", "already stored in")


def test_a_source_that_changes_between_the_passes_stores_nothing(
        policy_file: Path, customers_csv: Path, db_path: Path) -> None:
    result = prepare(str(policy_file), f"csv:{customers_csv}", DAY, db_file=str(db_path))
    assert result.input_sha256 is not None
    customers_csv.write_text(customers_csv.read_text() + "\n")
    with pytest.raises(InputError, match="changed while the run was reading it .*nothing "
                                         "was stored"):
        store(result, str(db_path), "2026-11-02T08:00:00+00:00")
    assert count(db_path, "runs") == 0
    good = prepare(str(policy_file), f"csv:{customers_csv}", DAY, db_file=str(db_path))
    assert good.input_sha256 is not None
