"""Benchmark: evaluate speed and memory, as ratios against a baseline
measured in the same run (machines here are shared and noisy, so absolute
seconds mean little).

    python bench/bench_evaluate.py [N]

Baseline: reading the same CSV with csv.DictReader and serialising each row
to JSON (the least any tool must do with the data). Prints, per customer,
how many times the baseline adieu's phases take, and the peak memory of a
full evaluation per customer."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from adieu.decide import evaluate_all
from adieu.intake import read_records
from adieu.policy import load_policy
from adieu.run import prepare, store
from adieu.store import now
from adieu_plugins.csv_source import read_csv

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 1)


def make_csv(path: Path, n: int) -> None:
    with open(ROOT / "examples" / "customers.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], [r for r in rows[1:] if r and r[0].startswith("CUST-")]
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(n):
            row = list(data[i % len(data)])
            row[0] = f"C{i:07d}"
            writer.writerow(row)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    policy = load_policy(ROOT / "policies" / "default.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        make_csv(path, n)

        def baseline() -> None:
            with open(path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    json.dumps(row)

        def intake() -> None:
            read_records(read_csv(str(path)), policy.facts)

        records = read_records(read_csv(str(path)), policy.facts).records

        def decide() -> None:
            evaluate_all(policy, records, AS_OF)

        def full() -> None:
            result = prepare(str(ROOT / "policies" / "default.yaml"), f"csv:{path}", AS_OF,
                             db_file=None)
            store(result, str(Path(tmp) / f"bench-{time.perf_counter_ns()}.db"), now())

        base = min(timed(baseline) for _ in range(3))
        phases = {"read + coerce": min(timed(intake) for _ in range(2)),
                  "decide": min(timed(decide) for _ in range(2)),
                  "full evaluate + store": timed(full)}
        tracemalloc.start()
        full()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"customers: {n:,}; baseline (csv + json per row): {base / n * 1e6:.1f} us/customer")
    for name, seconds in phases.items():
        print(f"  {name:<24} {seconds / base:6.1f} x baseline  "
              f"({seconds / n * 1e6:.0f} us/customer)")
    print(f"  peak memory (traced)     {peak / n / 1024:6.1f} KiB/customer")

if __name__ == "__main__":
    main()
