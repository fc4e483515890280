"""adieu audit verify / export, and adieu replay."""

from __future__ import annotations

import json

import click

from ..audit_anchor import audit_key, format_head, parse_head, read_head, verify_trail
from ..audit_export import export_entry
from ..errors import InputError
from ..factshow import policy_text
from ..replay import replay
from ..safe_text import echo, json_text
from .common import RUN_ID, db_option, json_option, opened_store, workers_option


def _anchor(ctx: click.Context, param: click.Parameter,
            value: str | None) -> tuple[int, str] | None:
    """--expect-head SEQ:HASH -> (seq, hash); a malformed one is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return parse_head(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def register(cli: click.Group) -> None:
    @cli.group()
    def audit() -> None:
        """The append-only, hash-chained audit trail."""

    @audit.command("verify")
    @db_option
    @click.option("--expect-head", "expect", metavar="SEQ:HASH", callback=_anchor,
                  help="An audit head kept outside the database (from an earlier "
                       "`audit verify`, `audit head` or `evaluate`): exit 1 unless entry "
                       "SEQ is still there with that hash. Finds entries deleted from the "
                       "end, or an emptied trail, which the chain alone cannot show.")
    @json_option
    def verify_cmd(db: str | None, expect: tuple[int, str] | None, as_json: bool) -> None:
        """Check the audit trail and every stored row it covers, in one
        read snapshot (a run committing meanwhile is not seen):

        \b
        - the chain: entries numbered 1, 2, 3 ... without a gap, each
          entry's hash over its content and its link (prev_hash) to the
          entry before it;
        - with ADIEU_AUDIT_KEY set (at least 16 bytes; never on the
          command line): each entry's MAC (an entry re-chained without the
          key, or whose MAC was stripped, is a problem);
        - with --expect-head: that entry is still there with that hash;
        - then, if the chain is whole, the tables against their entries:
          runs, decisions (and run_decisions, blobs), strikes with their
          pardons and supersedes, exemptions, reviews, rejects and cases.
          A row edited, deleted or added outside adieu is a problem.

        Lists the problems found, one line each on standard output (the
        first 20 or so of each check), then "audit trail BROKEN: N problem(s)" on
        the error output, exit 1. An intact trail prints "audit trail
        intact: N entries" and "audit head: SEQ:HASH" (the last entry:
        keep it outside the database and check it next time with
        --expect-head), exit 0. MACs present but not checked (no key) are
        a note on the error output. --json prints {"intact", "entries",
        "head", "keyed", "macs_checked", "problems", "notes"} instead,
        with the same exit code."""
        key = audit_key()
        with opened_store(db) as store:
            report = verify_trail(store, key, expect)
        if as_json:
            click.echo(json_text(report.as_json(), indent=2))
        else:
            for p in report.problems:
                echo(p)
            for note in report.notes:
                echo(f"note: {note}", err=True)
        if report.problems:
            if not as_json:
                echo(f"audit trail BROKEN: {len(report.problems)} problem(s)", err=True)
            raise SystemExit(1)
        if not as_json:
            echo(f"audit trail intact: {report.entries:,} entries")
            echo(f"audit head: {format_head(report.head) or 'none (no entries)'}")

    @audit.command("head")
    @db_option
    def head_cmd(db: str | None) -> None:
        """Print the audit head, SEQ:HASH (the last entry's number and
        sha256), for scripts to keep outside the database; nothing is
        checked (that is `audit verify --expect-head`). Exit 2 when the
        trail has no entries."""
        with opened_store(db) as store:
            head = read_head(store)
        if head is None:
            raise InputError("the audit trail has no entries: there is no head to keep yet")
        echo(format_head(head))

    @audit.command("export")
    @db_option
    @json_option
    def export(db: str | None, as_json: bool) -> None:
        """Write the audit trail for an auditor: JSON Lines, one entry a line
        (or a JSON array with --json), each with seq, at, kind, run_id,
        customer_id, payload (a JSON object), prev_hash, hash and mac
        (schemas/audit-export.output.schema.json; docs/cli.md says how to
        recompute a hash from it)."""
        with opened_store(db) as store:
            rows = store.query("select * from audit order by seq")
            if as_json:
                click.echo("[")
                first = True
                for row in rows:
                    click.echo(("" if first else ",\n") + json.dumps(export_entry(row)),
                               nl=False)
                    first = False
                click.echo("\n]")
            else:
                for row in rows:
                    click.echo(json.dumps(export_entry(row)))

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
                echo(f"{who}: {d['field']}: stored {policy_text(d['stored'])}, replayed "
                     f"{policy_text(d['replayed'])}")
            if result["differences"] and result["adieu_version"] != result["replayed_with"]:
                echo(f"note: run {result['run_id']} was made by adieu "
                     f"{result['adieu_version']} and replayed by {result['replayed_with']}; "
                     "differences may come from the engine's own changes")
            for note in result["plugin_notes"]:
                echo(f"note: {note}")
            echo(f"run {result['run_id']} ({result['policy_name']}, as of {result['as_of']}): "
                 f"{result['checked']:,} decisions replayed, "
                 f"{len(result['differences'])} difference(s)")
        if result["differences"]:
            raise SystemExit(1)
