"""Writing a run in batches (RunWriter) and reading its decisions back
(read_decisions), whatever the layout they were stored in: the compact
tables since m008 (engine/compact.py), decisions_v1 before. engine/store.py
re-exports both; see docs/database.md."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

from . import cases, compact, jsontext
from .audit import AuditLog, run_digest
from .audit_records import rejects_digest, supersede_payloads
from .stored_values import check_decision

BATCH = 2000  # decisions per batch (one audit entry each) when the caller gives a list


def reserve_run_id(db: sqlite_utils.Database) -> int:
    """The id the next run gets (max(id) + 1). Call it inside the write
    transaction that writes the run (it holds the write lock, so no other
    run takes the same id)."""
    return int(db.execute("select coalesce(max(id), 0) + 1 from runs").fetchone()[0])


class RunWriter:
    """Writes one run in batches, inside the caller's open write transaction.

    `RunWriter(db, run_id, as_of, at)`: run_id is the id reserved for the
    run (reserve_run_id), as_of its as-of date (ISO text), at the time its
    audit entries carry (ISO text, UTC). `.add(decision_rows, strike_rows)`
    writes a batch: decision rows as decision_row() gives them (plus
    "memory" and "provenance" as JSON text or None), strike rows as dicts
    of customer_id, rule, recorded_on, expires_on. `.add_rejects(rows)`
    writes rejects (dicts of file, row, line, customer_id, field, value,
    reason). `.finish(run_row)` writes the runs row under the reserved id,
    supersedes the earlier strikes of the same date this run judged again,
    moves the cases (cases.record_run) and writes the run's audit entry;
    returns the run id. The run's audit entries: "decisions" per batch,
    "strike" per strike ({id, rule, recorded_on, expires_on}), "supersede"
    per 1,000 strikes superseded ({strike_ids}), "rejects" ({count,
    digest}: audit_records.rejects_digest), "run" and "case".
    Decisions are written before the runs row exists: nothing (no enforced
    foreign key, no trigger) forbids that, and the whole run commits or
    rolls back together with the caller's transaction.
    Nothing is kept in Python between batches but counters."""

    def __init__(self, db: sqlite_utils.Database, run_id: int, as_of: str, at: str):
        self.db, self.run_id, self.as_of, self.at = db, run_id, as_of, at
        self.log = AuditLog(db, at)
        self.encoder = compact.Encoder()
        self.decisions = 0
        self.strikes = 0

    def add(self, decision_rows: Iterable[dict[str, Any]],
            strike_rows: Iterable[dict[str, Any]] = ()) -> None:
        """Write a batch of decisions and the new strikes they recorded: one
        audit entry for the batch (the sha256 over its rows' digests)."""
        run_id, encode = self.run_id, self.encoder.encode
        blobs: list[tuple[bytes, str]] = []
        first = self.decisions + 1
        rows = [encode(run_id, pos, d, blobs) for pos, d in enumerate(decision_rows, first)]
        if rows:
            conn = self.db.conn
            conn.executemany(compact.INSERT_BLOB, blobs)
            conn.executemany(compact.INSERT, rows)
            self.log.add("decisions", {
                "v": 2, "first": first, "count": len(rows),
                "digest": compact.batch_digest(compact.row_digest(r) for r in rows)}, run_id)
            self.decisions += len(rows)
        strikes = [(s["customer_id"], s["rule"], s["recorded_on"], s["expires_on"], run_id)
                   for s in strike_rows]
        if strikes:
            # Ids given here (we hold the write lock) so each strike entry
            # names its row: pardon and supersede entries name strikes by id.
            next_id = int(self.db.execute("select coalesce(max(id), 0) + 1 from strikes")
                          .fetchone()[0])
            self.db.conn.executemany(
                "insert into strikes (id, customer_id, rule, recorded_on, expires_on, run_id) "
                "values (?, ?, ?, ?, ?, ?)",
                [(i, *s) for i, s in enumerate(strikes, next_id)])
            # One entry each: a run's memory check (engine/memory_check.py)
            # finds a strike's entry by its customer, rule and date.
            for i, s in enumerate(strikes, next_id):
                self.log.add("strike", {"id": i, "rule": s[1], "recorded_on": s[2],
                                        "expires_on": s[3]}, run_id, s[0])
            self.strikes += len(strikes)

    def add_rejects(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write the run's rejected rows."""
        self.db.conn.executemany(
            "insert into rejects (run_id, file, row, line, customer_id, field, value, reason) "
            "values (?, ?, ?, ?, ?, ?, ?, ?)",
            [(self.run_id, *(r.get(k) for k in REJECT_COLUMNS)) for r in rows])

    def finish(self, run_row: dict[str, Any]) -> int:
        """Write the runs row (with the reserved id), supersede, cases, audit."""
        run_id, db = self.run_id, self.db
        db["runs"].insert({**run_row, "id": run_id,
                           "fact_keys": jsontext.dumps(self.encoder.fact_keys()),
                           "source_files": jsontext.dumps(self.encoder.source_files())})
        # This run judges its customers again for this date: their strikes
        # of the date from earlier runs give way to this run's for every
        # rule this run could judge (it fired or passed). A rule this run
        # could not judge (unknown: another source's facts) keeps its
        # strike, which was this run's memory (load_memories, decide).
        # Customers the run does not decide keep theirs.
        superseded = [r[0] for r in db.execute(
            "select id from strikes where recorded_on = ? and "
            "run_id is not ? and superseded_by_run is null and pardoned_at is null "
            "and exists (select 1 from decisions d where d.run_id = ? and "
            "d.customer_id = strikes.customer_id and not exists "
            "(select 1 from json_each(d.unknown) u where "
            "json_extract(u.value, '$.rule') = strikes.rule))",
            [self.as_of, run_id, run_id])]
        # Each supersede is in the trail (kind "supersede", the strike ids
        # in batches of 1,000), so a supersede undone is found by verify.
        for payload in supersede_payloads(superseded):
            db.execute("update strikes set superseded_by_run = ? where id in "
                       "(select value from json_each(?))",
                       [run_id, jsontext.dumps(payload["strike_ids"])])
            self.log.add("supersede", payload, run_id)
        count, rejects = rejects_digest(db, run_id)
        self.log.add("rejects", {"count": count, "digest": rejects}, run_id)
        stored_run = db["runs"].get(run_id)
        entry = {"digest": run_digest(stored_run), "identity": run_row.get("identity"),
                 "counts": run_row.get("counts")}
        if run_row.get("made_by") is not None:  # who made it, readable in the trail
            entry["made_by"] = run_row["made_by"]
        self.log.add("run", entry, run_id)
        # Cases move for the customers decided offboard and those with an
        # open case, in the order the decisions were written.
        cases.record_run(db, self.log, run_id, self.as_of, self._case_rows(),
                         bool(run_row.get("backfill")))
        self.log.flush()
        return run_id


    def _case_rows(self) -> Iterator[dict[str, Any]]:
        """The rows cases.record_run needs (read when it iterates them)."""
        run = self.db.execute("select id, fact_keys, source_files from runs where id = ?",
                              [self.run_id]).fetchone()
        yield from compact.read(
            self.db, {"id": run[0], "fact_keys": run[1], "source_files": run[2]},
            " and (d.outcome = 'offboard' or d.customer_id in (select customer_id from cases "
            "where state in ('proposed', 'approved')))")


REJECT_COLUMNS = ("file", "row", "line", "customer_id", "field", "value", "reason")


def read_decisions(db: sqlite_utils.Database, run_id: int,
                   customer_ids: Iterable[str] | None = None,
                   outcome: str | None = None) -> Iterator[dict[str, Any]]:
    """The decisions rows of run_id in the order written (only those of
    customer_ids, and only those with outcome, if given), in today's shape:
    every column of the decisions table, the JSON columns as JSON text.
    Readers go through this so the storage layout can change under them."""
    where, params = "", []
    if outcome is not None:
        where += " and outcome = ?"
        params.append(outcome)
    if customer_ids is not None:
        where += " and customer_id in (select value from json_each(?))"
        params.append(jsontext.dumps(list(customer_ids)))
    run = db.execute("select id, fact_keys, source_files from runs where id = ?",
                     [run_id]).fetchone()
    if run is not None and run[1] is None and run[2] is None:  # written before m008
        for row in db.query(f"select * from decisions_v1 where run_id = ?{where} "
                            "order by rowid", [run_id, *params]):
            yield check_decision(row)
        return
    run_row = {"id": run_id, "fact_keys": run[1], "source_files": run[2]} if run else \
        {"id": run_id}
    for row in compact.read(db, run_row, where.replace(" and ", " and d."), params):
        yield check_decision(row)
