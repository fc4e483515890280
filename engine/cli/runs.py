"""adieu runs: the stored runs, latest first (read-only)."""

from __future__ import annotations

from typing import Any

import click

from ..errors import Location, StoreError
from ..policy import MARKERS, OUTCOMES
from ..safe_text import echo, json_text
from ..store import open_db_readonly
from ..stored_values import HINT, stored_json, where
from .common import RUN_ID, db_option, json_option, resolve_db

# The runs columns listed (docs/database.md); policy_text and population
# are left out (`adieu explain` and the database show them).
COLUMNS = ("id", "as_of", "started_at", "finished_at", "made_by", "adieu_version", "policy_name",
           "policy_version", "policy_sha256", "policy_file", "source", "sources",
           "customers", "rejected", "counts", "new_strikes", "backfill")
JSON_VALUED = ("counts", "sources")


def list_runs(db_file: str, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` runs (0: all), latest first (highest as-of date,
    then highest id, as store.latest_run_id orders them), each a dict of
    COLUMNS (counts: outcome -> customers, in ladder order; sources: a
    list, or None for runs made before the column existed). StoreError if
    db_file is missing or not a database, or a run's counts or sources is
    not what adieu writes (engine/stored_values.py: names run and column)."""
    db = open_db_readonly(db_file)
    if db is None:
        raise StoreError(f"no database at {db_file} (run `adieu evaluate` first, or pass "
                         "--db)", Location(db_file))
    try:
        if "runs" not in db.table_names():
            return []
        have = set(db["runs"].columns_dict)
        select = ", ".join(c if c in have else f"null as {c}" for c in COLUMNS)
        sql = f"select {select} from runs order by as_of desc, id desc"
        if limit > RUN_ID.MAX:  # more than SQLite can count (it would overflow): all
            limit = 0
        rows = [dict(r) for r in db.query(sql + (" limit ?" if limit else ""),
                                          [limit] if limit else [])]
    finally:
        db.close()
    for row in rows:
        for key in JSON_VALUED:
            if row[key] is not None:
                row[key] = stored_json(row["id"], None, key, row[key])
        counts = row["counts"] or {}
        if not isinstance(counts, dict) or not all(isinstance(n, int)
                                                   for n in counts.values()):
            raise StoreError(f"{where(row['id'], None, 'counts')}: not an object of "
                             "outcome -> customers; " + HINT)
        row["counts"] = {o: counts.get(o, 0) for o in (*OUTCOMES, *MARKERS)}
        row["backfill"] = bool(row["backfill"])
    return rows


def when(started: str | None, finished: str | None) -> str:
    """'2026-11-30 22:08:54 to 22:08:55 UTC' from two UTC ISO timestamps
    (the finish's date too when it is another day); as stored otherwise."""
    def split(text: str | None) -> tuple[str, str] | None:
        if not text or not text.endswith("+00:00") or "T" not in text:
            return None
        day, _, time = text[:-6].partition("T")
        return day, time

    a, b = split(started), split(finished)
    if a is None or b is None:
        return f"{started} to {finished}"
    return f"{a[0]} {a[1]} to {b[1] if b[0] == a[0] else ' '.join(b)} UTC"


def register(cli: click.Group) -> None:
    @cli.command()
    @db_option
    @json_option
    @click.option("--limit", "limit", type=click.IntRange(min=0), default=20, show_default=True,
                  metavar="N", help="Show the N latest runs; 0 shows every run.")
    def runs(db: str | None, as_json: bool, limit: int) -> None:
        """List the stored runs, latest first.

        Each run: its id (the N of --run N), as-of date, when it started
        and finished (UTC), who made it (`adieu evaluate --by NAME`, else
        the operating-system user; "(not recorded)" for runs of earlier
        versions) and with which adieu version, the policy (name, version,
        SHA-256: 12 hex digits in the text, all 64 in JSON), the source, the
        customers decided and rows rejected, the decisions per outcome and
        the new strikes. The database is opened read-only. Who approved an
        offboarding is in `adieu pending` and the audit trail.
        """
        rows = list_runs(resolve_db(db), limit)
        if as_json:
            click.echo(json_text({"runs": rows}, indent=2))
            return
        if not rows:
            echo("no runs yet (run `adieu evaluate`)")
            return
        for i, r in enumerate(rows):
            if i:
                echo("")
            echo(f"Run {r['id']}  as of {r['as_of']}"
                 + ("  (backfill)" if r["backfill"] else "")
                 + f"  made {when(r['started_at'], r['finished_at'])} by "
                 f"{r['made_by'] or '(not recorded)'} with adieu {r['adieu_version']}")
            echo(f"  policy {r['policy_name']!r} v{r['policy_version']} "
                 f"(sha256 {(r['policy_sha256'] or '')[:12]})  source {r['source']}")
            counts = ", ".join(f"{o} {n:,}" for o, n in r["counts"].items())
            echo(f"  {r['customers']:,} customers, {r['rejected']:,} rejected, "
                 f"{r['new_strikes'] or 0:,} new strikes: {counts}")
