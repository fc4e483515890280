"""Verifying the compact decisions (m008) against their batch entries.

A batch entry (kind "decisions", payload {"v": 2, "first", "count",
"digest"}) covers the rows first .. first + count - 1 (run_decisions.pos) of
its run; digest is the sha256 over the rows' digests (compact.row_digest) in
that order. Every stored row must fall in exactly one batch of its run, every
batch must find exactly its count of rows with the same digest, and every
blob's text must hash to its key. So an edited, deleted, inserted or
reordered decision, and an edited or deleted facts or detail text, is found;
decisions of runs written before m008 keep one entry each (engine/audit.py)."""

from __future__ import annotations

import bisect
import hashlib
from typing import Any

import sqlite_utils

from .compact import ROW_COLUMNS, row_digest

LIMIT = 20


def check_batches(db: sqlite_utils.Database, entries: list[dict[str, Any]]) -> list[str]:
    """Problems found in run_decisions and blobs (at most LIMIT)."""
    if not db["run_decisions"].exists():
        return []
    problems: list[str] = []
    by_run: dict[Any, list[dict[str, Any]]] = {}
    for e in entries:
        p = e["payload"]
        if not isinstance(p, dict) or p.get("v") != 2:
            problems.append(f"audit entry {e['seq']} (decisions) has no batch of version 2")
            continue
        by_run.setdefault(e["run_id"], []).append(
            {"seq": e["seq"], "first": p.get("first"), "count": p.get("count"),
             "digest": p.get("digest"), "seen": 0, "hash": hashlib.sha256(), "ids": []})
    firsts: dict[Any, list[int]] = {}
    for run_id, batches in by_run.items():
        batches[:] = [b for b in batches if isinstance(b["first"], int)
                      and isinstance(b["count"], int)] or batches[:0]
        batches.sort(key=lambda b: b["first"])
        firsts[run_id] = [b["first"] for b in batches]
    for sha, body in db.execute("select sha256, body from blobs"):
        if not isinstance(body, str) or hashlib.sha256(body.encode("utf-8")).digest() != sha:
            problems.append(f"stored text {bytes(sha).hex()[:16]} (facts or detail) was edited: "
                            "it does not match its sha256")
            if len(problems) >= LIMIT:
                return problems
    cursor = db.execute(
        f"select {', '.join('d.' + c for c in ROW_COLUMNS[:-3])}, f.sha256, u.sha256, "
        "l.sha256, d.facts is not null and f.id is null, d.rules is not null and u.id is null, "
        "d.ledger is not null and l.id is null "
        "from run_decisions d left join blobs f on f.id = d.facts "
        "left join blobs u on u.id = d.rules left join blobs l on l.id = d.ledger "
        "order by d.run_id, d.pos")
    for values in cursor:
        row, gone = values[:-3], values[-3:]
        run_id, pos, customer_id = row[0], row[1], row[2]
        what = f"decision of {customer_id} in run {run_id}"
        for name, lost in zip(("facts", "rules", "ledger"), gone, strict=True):
            if lost:
                problems.append(f"{what}: its {name} text was deleted")
        batch = None
        i = bisect.bisect_right(firsts.get(run_id, []), pos) - 1
        if i >= 0:
            candidate = by_run[run_id][i]
            if pos < candidate["first"] + candidate["count"]:
                batch = candidate
        if batch is None:
            problems.append(f"{what} has no audit entry (inserted)")
        else:
            batch["seen"] += 1
            batch["hash"].update(row_digest(tuple(row)))
            if len(batch["ids"]) < 3:
                batch["ids"].append(customer_id)
        if len(problems) >= LIMIT:
            return problems
    for run_id, batches in by_run.items():
        for b in batches:
            where = f"the {b['count']} decisions of run {run_id} in audit entry {b['seq']}"
            if b["seen"] != b["count"]:
                problems.append(f"{where}: {b['seen']} are stored (deleted or inserted)")
            elif b["hash"].hexdigest() != b["digest"]:
                problems.append(f"{where} (from {', '.join(b['ids'])} ...) were edited, "
                                "replaced or reordered after they were recorded")
    return problems[:LIMIT]

