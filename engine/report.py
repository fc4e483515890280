"""`adieu report --html`: one self-contained HTML page about a stored run,
for management: outcome counts and their change from the previous run,
cost to serve against revenue per customer, outcomes and strikes across
runs, the review queue and the segment table (engine/segments.py).

Self-contained: CSS inline, charts as inline SVG (engine/charts.py), no
script, no external URL, so it reads the same with no network. Every value
from data has its hidden characters escaped (safe_text.visible: \\u202e) and
goes through jinja2's autoescape (or html.escape in the charts).

Memory is bounded for any run size: the run's decisions are streamed once
(store.read_decisions); the scatter draws every offboard candidate with
both figures (up to OFFBOARD_LIMIT) and exactly min(SCATTER_SAMPLE, n) of
the n other customers with both figures: those with the lowest (crc32 of
the customer id, customer id), so the same customers are drawn every time
(Lowest keeps only that many while the run streams by); the customers
without both figures are counted over the whole run. The review queue
lists at most QUEUE_LIMIT cases (oldest effective date first) and counts
the rest."""

from __future__ import annotations

import heapq
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
from .segments import RunFacts, Segmenter, default_names, hidden_escaped, kinds_of, percent
from .store import get_run
from .values import UNKNOWN

SCATTER_SAMPLE = 2000
OFFBOARD_LIMIT = 20_000
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


class _Far:
    """A heap entry ordered backwards, so heapq's smallest is the largest key."""

    __slots__ = ("key", "point")

    def __init__(self, key: tuple[int, str], point: dict[str, Any]):
        self.key, self.point = key, point

    def __lt__(self, other: _Far) -> bool:
        return self.key > other.key


class Lowest:
    """The `limit` points of lowest key (crc32 of the customer id, then the
    id) among those offered, and how many were offered; memory: `limit`."""

    def __init__(self, limit: int):
        self.limit, self.offered = limit, 0
        self._heap: list[_Far] = []

    def wants(self, customer_id: str) -> tuple[int, str] | None:
        """Count one more customer offered; its key when it is kept (then
        give its point to add), None when it is not."""
        self.offered += 1
        key = (zlib.crc32(customer_id.encode("utf-8")), customer_id)
        if len(self._heap) < self.limit or key < self._heap[0].key:
            return key
        return None

    def add(self, key: tuple[int, str], point: dict[str, Any]) -> None:
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, _Far(key, point))
        else:
            heapq.heapreplace(self._heap, _Far(key, point))

    def points(self) -> list[dict[str, Any]]:
        """The kept points, lowest key first."""
        return [e.point for e in sorted(self._heap, key=lambda e: e.key)]


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
    has_cost = Y_DERIVE in run_facts.derive_fns
    drawn = {"offboard": Lowest(OFFBOARD_LIMIT), "other": Lowest(SCATTER_SAMPLE)}
    total = {"offboard": 0, "other": 0}
    for row in read_decisions(db, run["id"]):
        value_of = run_facts.values(row)
        segmenter.add(value_of, row["outcome"], row["strikes"])
        if not has_cost:
            continue
        kind = "offboard" if row["outcome"] == "offboard" else "other"
        total[kind] += 1
        x, y = value_of(X_FACT), value_of(Y_DERIVE)
        if not (_number(x) and _number(y)):
            continue
        key = drawn[kind].wants(row["customer_id"])
        if key is not None:
            name = value_of("name")
            drawn[kind].add(key, {
                "x": x, "y": y, "offboard": kind == "offboard",
                "title": f"{row['customer_id']} {name or ''}: revenue {x}, "
                         f"cost to serve {y} ({row['outcome']})"})
    points = drawn["other"].points() + drawn["offboard"].points()
    scatter = {kind: {"customers": total[kind], "with_figures": drawn[kind].offered,
                      "drawn": min(drawn[kind].offered, drawn[kind].limit),
                      "limit": drawn[kind].limit} for kind in total}
    previous = previous_run(db, run)
    before = _counts(previous) if previous else None
    queue, queue_total = review_queue(db, run)
    segment_rows = segmenter.rows()
    runs = history(db, run)
    return {
        "run": run, "previous": previous, "counts": counts, "before": before,
        "outcomes": [*OUTCOMES, *MARKERS], "has_cost": has_cost, "points": points,
        "scatter": scatter,
        "queue": queue, "queue_total": queue_total, "segments": segment_rows,
        "segment_names": names, "history": runs, "version": __version__,
        # per fact, the segments whose label has marked characters (the note)
        "segments_marked": {name: sum(1 for r in segment_rows if r["fact"] == name and
                                      not r["missing"] and hidden_escaped(r["segment"]))
                            for name in names},
    }


def scatter_note(scatter: dict[str, dict[str, int]]) -> str:
    """The sentences under the scatter: exact counts of what is drawn, of
    what the run has, and of what cannot be drawn (counted over the whole run)."""
    off, other = scatter["offboard"], scatter["other"]
    if off["drawn"] == off["with_figures"]:
        red = f"Red: all {off['with_figures']:,} offboard candidate(s) with both figures"
    else:
        red = (f"Red: {off['drawn']:,} of the {off['with_figures']:,} offboard candidates "
               f"with both figures (no more than {off['limit']:,} are drawn: those with "
               "the lowest checksum of their customer id)")
    if other["drawn"] == other["with_figures"]:
        blue = f"Blue: all {other['with_figures']:,} other customer(s) with both figures"
    else:
        blue = (f"Blue: {other['drawn']:,} of the {other['with_figures']:,} other customers "
                "with both figures, a fixed sample: those with the lowest checksum of "
                "their customer id, so the same customers every time")
    sentences = [red, blue]
    without = {k: v["customers"] - v["with_figures"] for k, v in scatter.items()}
    if without["offboard"] or without["other"]:
        sentences.append(
            f"Not drawn: {without['offboard'] + without['other']:,} customer(s) without both "
            f"revenue and cost to serve ({without['offboard']:,} of them offboard "
            "candidates)")
    return ". ".join([*sentences, "Dashed line: cost equals revenue."])


def charts_of(data: dict[str, Any]) -> dict[str, str]:
    """The report's SVG charts by name (scatter only with a cost_to_serve
    derive); their captions are HTML in the template, under each chart."""
    out = {
        "runs": charts.stacked_runs(data["history"], data["outcomes"]),
        "strikes": charts.line_runs(data["history"], "new_strikes", "New strikes per run"),
    }
    if data["has_cost"]:
        out["scatter"] = charts.scatter(data["points"], "revenue over 12 months",
                                        "cost to serve")
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
    note = scatter_note(data["scatter"]) if data["has_cost"] else ""
    return env.get_template("report.html.j2").render(
        **data, charts=svg, colours=charts.OUTCOME_COLOURS, scatter_note=note,
        segment_bars=SEGMENT_BARS)

