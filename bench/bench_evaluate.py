"""Benchmark: evaluate speed and memory, as ratios against baselines
measured in the same run (machines here are shared and noisy, so absolute
seconds mean little).

    python bench/bench_evaluate.py [N] [--compare REF]

Baseline: reading the same CSV with csv.DictReader and serialising each row
to JSON (the least any tool must do with the data). Prints, per customer,
the CPU time of adieu's phases as multiples of the baseline, and the peak
memory of a full evaluation per customer.

--compare REF also runs the same phases with the adieu of git revision REF
(its engine/ and plugins/, extracted with `git archive`), alternating the
two three times and keeping each one's best, and prints this tree's time
as a multiple of REF's per phase. `make bench` compares with 0.1.0
(4869087), the last release that computed in binary floats."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 1)
PHASES = ("read + coerce", "decide", "full evaluate + store")


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


def cpu(fn) -> float:
    """CPU seconds (user + system) of one call."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def measure(path: Path, tmp: Path) -> dict[str, float]:
    """CPU seconds of the baseline and of each phase (best of a few), and the
    traced peak memory of a full evaluation in bytes."""
    from adieu.decide import evaluate_all
    from adieu.intake import read_records
    from adieu.policy import load_policy
    from adieu.run import prepare, store
    from adieu.store import now
    from adieu_plugins.csv_source import read_csv

    policy = load_policy(ROOT / "policies" / "default.yaml")

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
        store(result, str(tmp / f"bench-{time.perf_counter_ns()}.db"), now())

    out = {"baseline": min(cpu(baseline) for _ in range(3)),
           "read + coerce": min(cpu(intake) for _ in range(2)),
           "decide": min(cpu(decide) for _ in range(2)),
           "full evaluate + store": cpu(full)}
    tracemalloc.start()
    full()
    out["peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out


def report(n: int, m: dict[str, float], label: str = "") -> None:
    base = m["baseline"]
    print(f"{label}customers: {n:,}; baseline (csv + json per row): "
          f"{base / n * 1e6:.1f} us CPU/customer")
    for name in PHASES:
        print(f"  {name:<24} {m[name] / base:6.1f} x baseline  "
              f"({m[name] / n * 1e6:.0f} us CPU/customer)")
    print(f"  peak memory (traced)     {m['peak'] / n / 1024:6.1f} KiB/customer")


def extract(ref: str, into: Path) -> Path:
    """REF's engine/ and plugins/ as the packages adieu and adieu_plugins (with its
    schemas/ beside them, where adieu.resources looks)."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "engine", "plugins",
                           "schemas"],
                          capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into / "src", filter="data")
    (into / "adieu").symlink_to(into / "src" / "engine")
    (into / "adieu_plugins").symlink_to(into / "src" / "plugins")
    return into


def one_run(n: int, path: Path, pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, __file__, str(n), "--measure", str(path)],
                         capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.splitlines()[-1])


def compare(n: int, ref: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        path = tmp_path / "customers.csv"
        make_csv(path, n)
        other = str(extract(ref, tmp_path / "ref"))
        runs: dict[str, list[dict[str, float]]] = {"this": [], ref: []}
        for _ in range(3):  # alternate, so both see the same machine load
            runs["this"].append(one_run(n, path, None))
            runs[ref].append(one_run(n, path, other))
    best = {k: {p: min(r[p] for r in v) for p in ("baseline", *PHASES, "peak")}
            for k, v in runs.items()}
    report(n, best[ref], f"{ref}: ")
    report(n, best["this"], "this tree: ")
    print(f"this tree as a multiple of {ref} (CPU per customer, each relative to its own "
          "baseline run):")
    for name in PHASES:
        ratio = (best["this"][name] / best["this"]["baseline"]) / \
            (best[ref][name] / best[ref]["baseline"])
        print(f"  {name:<24} {ratio:5.2f} x")
    print(f"  peak memory (traced)     {best['this']['peak'] / best[ref]['peak']:5.2f} x")


def main() -> None:
    args = sys.argv[1:]
    n = int(args[0]) if args and args[0].isdigit() else 20000
    if "--measure" in args:  # a child of --compare: one measurement as JSON
        path = Path(args[args.index("--measure") + 1])
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure(path, Path(tmp))))
        return
    if "--compare" in args:
        compare(n, args[args.index("--compare") + 1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        make_csv(path, n)
        report(n, measure(path, Path(tmp)))


if __name__ == "__main__":
    main()
