"""The tables of bench/bench_scale.py: ratios, the issue's targets, PASS/MISS.

Pure functions over plain numbers (no adieu import, no I/O), so the logic
is tested on given figures (tests/test_bench.py).

Units: CPU and wall in seconds; RSS in bytes (shown in MB = 10**6 bytes);
per-customer CPU in seconds per customer (shown in microseconds); database
sizes in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MB = 1_000_000


@dataclass(frozen=True)
class Target:
    """One of issue 10's targets: `value <= limit` passes."""

    key: str
    text: str       # what is compared, for the table
    limit: float
    unit: str       # "x" (a ratio), "MB" or "B"


# Issue 10, "Targets (reported by make bench, not asserted in unit tests)".
TARGETS: dict[str, Target] = {t.key: t for t in (
    Target("cpu_vs_full", "adieu CPU (1 worker) / baseline --full CPU", 1.0, "x"),
    Target("wall_vs_plain", "adieu wall (2 workers) / baseline plain wall", 1.5, "x"),
    Target("rss_1", "adieu peak RSS, 1 worker", 250, "MB"),
    Target("rss_2", "adieu peak RSS, 2 workers (largest process)", 250, "MB"),
    Target("db_first", "database bytes per decision, first run", 800, "B"),
    Target("db_rerun", "bytes added per customer by a re-run, 1 % changed", 300, "B"),
    Target("per_customer", "adieu decide() / hand-written decide(), CPU per customer",
           2.0, "x"),
)}


@dataclass
class Proc:
    """One child process as measured: cpu = user + sys seconds (the child and
    the children it waited for), wall seconds, rss = peak resident set of the
    largest single process in bytes; `missing` says why it was not run or
    failed (then the figures are None)."""

    label: str
    cpu: float | None = None
    wall: float | None = None
    rss: int | None = None
    missing: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is unknown or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def verdict(value: float | None, limit: float) -> str:
    """PASS (value <= limit), MISS, or 'n/a' when there is no value."""
    if value is None:
        return "n/a"
    return "PASS" if value <= limit else "MISS"


def shown(value: float | None, unit: str) -> str:
    """A figure in its unit for the table; 'not available' for None."""
    if value is None:
        return "not available"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "B":
        return f"{value:,.0f} B"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "us":
        return f"{value:,.1f} us"
    return f"{value}"


def target_values(procs: dict[str, Proc], per_customer: dict[str, Any],
                  db: dict[str, Any]) -> dict[str, float | None]:
    """The value compared with each target, by target key (None: unknown).

    procs: by key "csv", "baseline", "baseline_full", "adieu_1", "adieu_2";
    per_customer: seconds per customer by key "handwritten", "adieu_decide";
    db: "first_per_decision", "rerun_per_customer" in bytes."""
    def proc(key: str) -> Proc:
        return procs.get(key) or Proc(key, missing="not run")

    rss_1, rss_2 = proc("adieu_1").rss, proc("adieu_2").rss
    return {
        "cpu_vs_full": ratio(proc("adieu_1").cpu, proc("baseline_full").cpu),
        "wall_vs_plain": ratio(proc("adieu_2").wall, proc("baseline").wall),
        "rss_1": None if rss_1 is None else rss_1 / MB,
        "rss_2": None if rss_2 is None else rss_2 / MB,
        "db_first": db.get("first_per_decision"),
        "db_rerun": db.get("rerun_per_customer"),
        "per_customer": ratio(per_customer.get("adieu_decide"),
                              per_customer.get("handwritten")),
    }


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def targets_table(values: dict[str, float | None]) -> str:
    rows = []
    for key, t in TARGETS.items():
        v = values.get(key)
        rows.append([t.text, shown(v, t.unit), f"<= {shown(t.limit, t.unit)}",
                     verdict(v, t.limit)])
    return table(["target", "measured", "target", "verdict"], rows)


def procs_table(procs: list[Proc], baseline_plain: Proc | None,
                baseline_full: Proc | None) -> str:
    rows = []
    for p in procs:
        if p.missing:
            rows.append([p.label, p.missing, "", "", "", ""])
            continue
        rows.append([p.label, shown(p.cpu, "s"), shown(p.wall, "s"),
                     shown(None if p.rss is None else p.rss / MB, "MB"),
                     shown(ratio(p.cpu, baseline_full.cpu if baseline_full else None), "x"),
                     shown(ratio(p.wall, baseline_plain.wall if baseline_plain else None),
                           "x")])
    return table(["process", "CPU (user+sys)", "wall", "peak RSS",
                  "CPU / baseline --full", "wall / baseline plain"], rows)


def per_customer_table(rows_in: list[tuple[str, float | None, str]],
                       handwritten: float | None) -> str:
    """rows_in: (label, seconds per customer or None, note)."""
    rows = []
    for label, sec, note in rows_in:
        us = None if sec is None else sec * 1e6
        rows.append([label, shown(us, "us"), shown(ratio(sec, handwritten), "x"), note])
    return table(["evaluator (facts in memory)", "CPU per customer", "/ hand-written",
                  "note"], rows)
