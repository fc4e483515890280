"""`adieu report --html`: one self-contained HTML page about a stored run,
for management: outcome counts and their change from the previous run,
cost to serve against revenue per customer, outcomes and strikes across
runs, the review queue and the segment table (engine/segments.py).

Self-contained: CSS inline, charts as inline SVG (engine/charts.py), no
script, no external URL, so it reads the same with no network. Every value
from data has its hidden characters escaped (safe_text.visible: \\u202e) and
goes through jinja2's autoescape (or html.escape in the charts).

Memory is bounded for any run size: the run's decisions are streamed once
(store.read_decisions); the scatter keeps every offboard candidate and a
deterministic sample of the others (at most SCATTER_SAMPLE of each: a
customer is drawn when crc32 of its id falls under the sampling rate, so
the same customers are drawn every time); the review queue lists at most
QUEUE_LIMIT cases (oldest effective date first) and counts the rest."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

import jinja2
import markupsafe
import sqlite_utils

from . import __version__, charts, jsontext
from .policy import MARKERS, OUTCOMES
from .run_writer import read_decisions
from .safe_text import visible
from .segments import RunFacts, Segmenter, default_names, kinds_of, percent
from .store import get_run
from .values import UNKNOWN

SCATTER_SAMPLE = 2000
QUEUE_LIMIT = 200
HISTORY_RUNS = 24
SEGMENT_BARS = 12
X_FACT, Y_DERIVE = "revenue_12m", "cost_to_serve"


def previous_run(db: sqlite_utils.Database, run: dict[str, Any]) -> dict[str, Any] | None:
    """The run before `run` in as-of order (same as-of date: lower id), or None."""
    rows = list(db.query(
        "select * from runs where as_of < ? or (as_of = ? and id < ?) "
        "order by as_of desc, id desc limit 1", [run["as_of"], run["as_of"], run["id"]]))
    return rows[0] if rows else None


def _counts(run: dict[str, Any] | None) -> dict[str, int]:
    raw = jsontext.loads(run["counts"] or "{}") if run else {}
    return {o: int(raw.get(o, 0)) for o in (*OUTCOMES, *MARKERS)}


def history(db: sqlite_utils.Database, run: dict[str, Any]) -> list[dict[str, Any]]:
    """Up to HISTORY_RUNS runs up to `run` in as-of order: {id, label (as-of
    date), counts, new_strikes}."""
    rows = list(db.query(
        "select id, as_of, counts, new_strikes from runs where as_of < ? or "
        "(as_of = ? and id <= ?) order by as_of desc, id desc limit ?",
        [run["as_of"], run["as_of"], run["id"], HISTORY_RUNS]))
    return [{"id": r["id"], "label": r["as_of"], "counts": _counts(r),
             "new_strikes": r["new_strikes"] or 0} for r in reversed(rows)]


def review_queue(db: sqlite_utils.Database, run: dict[str, Any]) -> tuple[list[dict], int]:
    """(up to QUEUE_LIMIT open cases the run proposed and nobody has reviewed
    yet, as `adieu pending --run` lists them, with the customer's name and
    owner from the run's facts; how many there are in all)."""
    where = "state = 'proposed' and opened_run <= ? and latest_run >= ?"
    args = [run["id"], run["id"]]
    total = db.execute(f"select count(*) from cases where {where}", args).fetchone()[0]
    cases = list(db.query(
        "select id, customer_id, opened_as_of, effective_date, fired, owner from cases "
        f"where {where} order by effective_date, customer_id limit ?", [*args, QUEUE_LIMIT]))
    names = {}
    for row in read_decisions(db, run["id"], [c["customer_id"] for c in cases]):
        facts = jsontext.loads(row["facts"]) if row.get("facts") else {}
        names[row["customer_id"]] = (facts.get("name"), facts.get("owner"))
    for case in cases:
        case["name"], owner = names.get(case["customer_id"], (None, None))
        case["owner"] = case["owner"] or owner
        case["fired"] = jsontext.loads(case["fired"] or "[]")
    return cases, total


def _number(value: Any) -> bool:
    return value is not UNKNOWN and not isinstance(value, bool) and \
        isinstance(value, (int, Decimal))


def _keep(customer_id: str, rate: tuple[int, int]) -> bool:
    """Deterministic sample: crc32(id) / 2**32 < wanted / total."""
    wanted, total = rate
    return wanted >= total or zlib.crc32(customer_id.encode("utf-8")) * total < wanted << 32


def build(db: sqlite_utils.Database, run_id: int | None, by: list[str]) -> dict[str, Any]:
    """Everything the report shows, as plain values (the context of
    report_templates/report.html.j2). Raises StoreError for a run that is
    not there, InputError for a --by name the run does not have."""
    run = get_run(db, run_id)
    run_facts = RunFacts(run, db)
    run_facts.check(by)
    names = default_names(run_facts, by)
    segmenter = Segmenter(names, kinds_of(run_facts))
    counts = _counts(run)
    offboards = counts["offboard"]
    others = (run["customers"] or 0) - offboards
    has_cost = Y_DERIVE in run_facts.derive_fns
    points: list[dict[str, Any]] = []
    drawn = {"offboard": 0, "other": 0}
    without = 0
    for row in read_decisions(db, run["id"]):
        value_of = run_facts.values(row)
        segmenter.add(value_of, row["outcome"], row["strikes"])
        if not has_cost:
            continue
        offboard = row["outcome"] == "offboard"
        if not _keep(row["customer_id"], (SCATTER_SAMPLE, offboards if offboard else others)):
            continue
        x, y = value_of(X_FACT), value_of(Y_DERIVE)
        if not (_number(x) and _number(y)):
            without += 1
            continue
        drawn["offboard" if offboard else "other"] += 1
        name = value_of("name")
        points.append({"x": x, "y": y, "offboard": offboard,
                       "title": f"{row['customer_id']} {name or ''}: revenue {x}, "
                                f"cost to serve {y} ({row['outcome']})"})
    previous = previous_run(db, run)
    before = _counts(previous) if previous else None
    queue, queue_total = review_queue(db, run)
    segment_rows = segmenter.rows()
    runs = history(db, run)
    return {
        "run": run, "previous": previous, "counts": counts, "before": before,
        "outcomes": [*OUTCOMES, *MARKERS], "has_cost": has_cost, "points": points,
        "drawn": drawn, "offboards": offboards, "others": others, "without": without,
        "queue": queue, "queue_total": queue_total, "segments": segment_rows,
        "segment_names": names, "history": runs, "version": __version__,
    }


def _scatter_note(data: dict[str, Any]) -> str:
    note = (f"{data['drawn']['offboard']:,} offboard candidate(s) (red) and "
            f"{data['drawn']['other']:,} other customer(s)")
    if data["others"] > SCATTER_SAMPLE or data["offboards"] > SCATTER_SAMPLE:
        note += (f": a fixed sample of at most {SCATTER_SAMPLE:,} of each of "
                 f"{data['offboards']:,} offboard candidates and {data['others']:,} others")
    if data["without"]:
        note += f"; {data['without']:,} without both figures not drawn"
    return note + ". Dashed: cost equals revenue."


def charts_of(data: dict[str, Any]) -> dict[str, str]:
    """The report's SVG charts by name (scatter only with a cost_to_serve derive)."""
    out = {
        "runs": charts.stacked_runs(data["history"], data["outcomes"]),
        "strikes": charts.line_runs(data["history"], "new_strikes", "New strikes per run"),
    }
    if data["has_cost"]:
        out["scatter"] = charts.scatter(data["points"], "revenue over 12 months",
                                        "cost to serve", _scatter_note(data))
    for name in data["segment_names"]:
        rows = [r for r in data["segments"] if r["fact"] == name][:SEGMENT_BARS]
        out[f"segment:{name}"] = charts.hbars(
            [(r["escaped"] or r["segment"], r["offboards_per_customer"],
              f"{percent(r['offboards_per_customer'])} of {r['customers']:,}")
             for r in rows], f"Offboards per customer by {name}")
    return out


def _html_value(value: Any) -> Any:
    """Every value the template prints: hidden characters (ESC, bidi
    overrides, zero-width characters ...) escaped as text (\\u202e), as in
    terminal output and `adieu brief`; autoescape then escapes <, >, &,
    quotes. Markup (the charts) is already safe."""
    if isinstance(value, markupsafe.Markup):
        return value
    return visible(str(value), keep="\n\r\t")


def render_html(data: dict[str, Any]) -> str:
    """The report page (autoescaped jinja2 template, every value through
    _html_value; charts are trusted SVG built by engine.charts, which
    escapes its own text the same way)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("adieu", "report_templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=_html_value)
    env.filters["percent"] = percent
    svg = {k: markupsafe.Markup(v) for k, v in charts_of(data).items()}
    return env.get_template("report.html.j2").render(**data, charts=svg,
                                                     colours=charts.OUTCOME_COLOURS)

