"""engine.partition and engine.csvsplit: deciding in parts gives the run a
single process gives, and the parts' edges (duplicates across parts,
figures missing, memory or dates moved meanwhile, CSV records across lines)
are handled as one run handles them."""

from __future__ import annotations

import datetime as dt
import gzip
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF

from adieu import partition
from adieu.cli import cli
from adieu.csvsplit import read_part, split_csv
from adieu.errors import InputError
from adieu.policy import compile_policy
from adieu.popstats import StatsPopulation
from adieu.run import recall
from adieu_plugins.csv_source import read_csv

DATE = dt.date.fromisoformat(AS_OF)


def decide_in_parts(policy_file: Path, csv: Path, db: Path, rows_per_part: int,
                    as_of: dt.date = DATE) -> int:
    policy = partition.load(str(policy_file))
    coerced = [partition.coerce_partition(policy, read_part(p))
               for p in split_csv(str(csv), rows_per_part)]
    later = partition.cross_duplicates([partition.id_rows(r) for r, _ in coerced])
    coerced = [partition.drop_duplicates(r, j, lat)
               for (r, j), lat in zip(coerced, later, strict=True)]
    stats = partition.combine([partition.partial_statistics(policy, r, as_of)
                               for r, _ in coerced])
    recalled = recall(str(db), as_of, False)
    parts = [partition.decide_partition(policy, r, as_of, stats, recalled.memories)
             for r, _ in coerced]
    return partition.store_partitions(str(db), policy, f"csv:{csv}", as_of, parts, stats,
                                      rejects=[x for _, j in coerced for x in j],
                                      recalled=recalled)


def runs(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("select id, identity, customers, rejected, counts from runs "
                           "order by id").fetchall()
    finally:
        con.close()


def rows(db: Path, run_id: int) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("select customer_id, outcome, fired, reasons, effective_date, "
                           "strikes, facts, memory, source_row from decisions where run_id = ? "
                           "order by customer_id", [run_id]).fetchall()
    finally:
        con.close()


def rejects(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("select file, row, line, customer_id, field, value, reason "
                           "from rejects order by row, field").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("rows_per_part", [1, 3, 11, 100])
def test_parts_with_a_duplicate_across_them_store_the_single_run(
        policy_file, customers_csv, tmp_path, rows_per_part) -> None:
    text = customers_csv.read_text()  # C-KEEP is row 1; again at rows 11 and 12
    customers_csv.write_text(text + "C-KEEP,standard,5,5,0,0,0,false,0,2028-01-01\n" * 2)
    single, parts = tmp_path / "single.db", tmp_path / "parts.db"
    result = CliRunner().invoke(cli, ["evaluate", str(policy_file), "--source",
                                      f"csv:{customers_csv}", "--as-of", AS_OF,
                                      "--db", str(single)])
    assert result.exit_code == 0, result.output
    run_id = decide_in_parts(policy_file, customers_csv, parts, rows_per_part)
    assert rows(parts, run_id) == rows(single, 1)
    assert runs(parts) == runs(single)  # same identity, 3 rejected rows
    assert runs(parts)[0][3] == 3
    assert rejects(parts) == rejects(single)
    assert [r[-1] for r in rejects(parts)][1:] == [
        "duplicate customer_id, first seen at row 1"] * 2


def test_an_identical_run_is_not_written_twice(policy_file, customers_csv, db_path) -> None:
    first = decide_in_parts(policy_file, customers_csv, db_path, 4)
    again = decide_in_parts(policy_file, customers_csv, db_path, 2)
    assert again == first
    assert len(runs(db_path)) == 1
    con = sqlite3.connect(db_path)
    assert con.execute("select count(*) from decisions").fetchone()[0] == 9
    con.close()


def test_memory_changed_after_recall_writes_nothing(policy_file, customers_csv, db_path) -> None:
    decide_in_parts(policy_file, customers_csv, db_path, 5)
    later = DATE + dt.timedelta(days=31)
    recalled = recall(str(db_path), later, False)
    result = CliRunner().invoke(cli, ["strikes", "pardon", "C-WARN", "late", "--reason", "agreed",
                                      "--by", "ops", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    policy = partition.load(str(policy_file))
    records, _ = partition.coerce_partition(policy, read_csv(str(customers_csv)))
    stats = partition.combine([partition.partial_statistics(policy, records, later)])
    part = partition.decide_partition(policy, records, later, stats, recalled.memories)
    with pytest.raises(InputError, match="memory changed"):
        partition.store_partitions(str(db_path), policy, "csv:x", later, [part], stats,
                                   recalled=recalled)
    assert len(runs(db_path)) == 1


def test_an_as_of_date_before_the_latest_run_is_refused(policy_file, customers_csv,
                                                        db_path) -> None:
    decide_in_parts(policy_file, customers_csv, db_path, 5)
    with pytest.raises(InputError, match="before the latest run"):
        decide_in_parts(policy_file, customers_csv, db_path, 5, DATE - dt.timedelta(days=1))
    assert len(runs(db_path)) == 1


POPULATION = """\
version: 1
name: pop
derive:
  gap: revenue_12m - mean(revenue_12m)
rules:
  - id: above
    when: gap > percentile(gap, 50)
    action: flag
"""


def test_figures_resting_on_another_take_a_second_reduction() -> None:
    from adieu.facts import Record

    policy = compile_policy(POPULATION, "pop.yaml")
    records = [Record({"customer_id": f"C{i}", "revenue_12m": v})
               for i, v in enumerate([10, 20, 60])]
    with pytest.raises(ValueError, match="another pass"):
        partition.combine([partition.partial_statistics(policy, records, DATE)])
    known = partition.merge_partials([partition.partial_statistics(policy, records[:1], DATE),
                                      partition.partial_statistics(policy, records[1:], DATE)]
                                     ).stats()
    stats = partition.combine([partition.partial_statistics(policy, records, DATE, known)])
    assert stats["mean(revenue_12m)"]["value"] == 30
    assert stats["percentile(gap, 50)"]["value"] == -10  # gaps -20, -10, 30
    part = partition.decide_partition(policy, records, DATE, stats)
    assert [r["outcome"] for r in part.decisions] == ["keep", "keep", "watch"]
    assert part.counts == {"keep": 2, "watch": 1}


def test_deciding_without_every_figure_is_refused() -> None:
    policy = compile_policy(POPULATION, "pop.yaml")
    with pytest.raises(ValueError, match="lack percentile"):
        partition.decide_partition(policy, [], DATE, {"mean(revenue_12m)": {"value": 1}})
    with pytest.raises(KeyError):
        StatsPopulation(policy.population_calls, {}).value("mean(revenue_12m)")


TRICKY = (
    '\ufeffcustomer_id,"note, with comma",revenue_12m\r\n'
    'A1,"two\r\nlines",10\r\n'
    '\r\n'                                   # blank: not a row
    'A2,"say ""hi""\nthere\nand more",20\n'
    '   \n'                                  # blank too
    'A3,plain\n'
    '""\n'                                   # one empty quoted cell: skipped as blank
    'A4,"",30\n'
    'A5,"quote "" inside",40'               # no line break at the end
)


def test_parts_read_as_the_whole_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "tricky.csv"
    path.write_bytes(TRICKY.encode("utf-8"))
    whole = list(read_csv(str(path)))
    assert [r.row for r in whole] == [1, 2, 3, 4, 5]
    for n in range(1, 7):
        parts = split_csv(str(path), n)
        assert sum(p.rows for p in parts) == 5
        assert [r for p in parts for r in read_part(p)] == whole, n


def test_a_file_that_cannot_be_split(tmp_path: Path) -> None:
    gz = tmp_path / "c.csv.gz"
    gz.write_bytes(gzip.compress(b"customer_id\nA\n"))
    with pytest.raises(InputError, match="gzipped"):
        split_csv(str(gz))
    open_quote = tmp_path / "q.csv"
    open_quote.write_text('customer_id,note\nA,ok\nB,"never closed\nC,x\n')
    with pytest.raises(InputError, match="never closed") as err:
        split_csv(str(open_quote))
    assert err.value.location.line == 3
    empty = tmp_path / "e.csv"
    empty.write_text("customer_id\n")
    assert split_csv(str(empty)) == []
