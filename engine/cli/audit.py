"""adieu audit verify / export, and adieu replay."""

from __future__ import annotations

import json

import click

from ..audit import verify
from ..replay import replay
from ..safe_text import echo, json_text
from .common import RUN_ID, db_option, json_option, opened_store, workers_option


def register(cli: click.Group) -> None:
    @cli.group()
    def audit() -> None:
        """The append-only, hash-chained audit trail."""

    @audit.command("verify")
    @db_option
    def verify_cmd(db: str | None) -> None:
        """Recompute the chain and the digests of every run and decision.
        Exit 1 naming the first entry that was edited, deleted or inserted
        out of order."""
        with opened_store(db) as store:
            problems = verify(store)
            count = store["audit"].count
        if problems:
            for p in problems:
                echo(p)
            echo(f"audit trail BROKEN: {len(problems)} problem(s)", err=True)
            raise SystemExit(1)
        echo(f"audit trail intact: {count:,} entries")

    @audit.command("export")
    @db_option
    @json_option
    def export(db: str | None, as_json: bool) -> None:
        """Write the audit trail (JSON Lines, or a JSON array with --json) for an auditor."""
        with opened_store(db) as store:
            rows = store.query("select * from audit order by seq")
            if as_json:
                click.echo("[")
                first = True
                for row in rows:
                    click.echo(("" if first else ",\n") + json.dumps(row), nl=False)
                    first = False
                click.echo("\n]")
            else:
                for row in rows:
                    click.echo(json.dumps(row))

    @cli.command("replay")
    @click.argument("run_id", type=RUN_ID)
    @db_option
    @json_option
    @workers_option
    def replay_cmd(run_id: int, db: str | None, as_json: bool, workers: int | None) -> None:
        """Re-evaluate RUN_ID from its stored policy text, facts, as-of date and
        each customer's stored memory; list every decision that differs
        (expected: none). Exit 1 if any differs."""
        with opened_store(db) as store:
            result = replay(store, run_id, workers)
        if as_json:
            click.echo(json_text(result, indent=2))
        else:
            for d in result["differences"]:
                who = d["customer_id"] or "population"
                echo(f"{who}: {d['field']}: stored {d['stored']!r}, replayed "
                     f"{d['replayed']!r}")
            if result["differences"] and result["made_by"] != result["replayed_by"]:
                echo(f"note: run {result['run_id']} was made by adieu "
                     f"{result['made_by']} and replayed by {result['replayed_by']}; "
                     "differences may come from the engine's own changes")
            for note in result["plugin_notes"]:
                echo(f"note: {note}")
            echo(f"run {result['run_id']} ({result['policy']}, as of {result['as_of']}): "
                 f"{result['checked']:,} decisions replayed, "
                 f"{len(result['differences'])} difference(s)")
        if result["differences"]:
            raise SystemExit(1)
