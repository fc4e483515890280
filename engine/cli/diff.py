"""adieu diff: which customers a policy change moves, and why (engine.whatif)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

import click

from ..errors import PolicyErrors
from ..explain import fmt
from ..safe_text import echo, json_text
from ..whatif import Comparison, stored_runs, whatif
from .common import (
    RUN_ID,
    allow_formulas_option,
    as_of_option,
    db_option,
    json_option,
    resolve_db,
    source_options,
)
from .csvout import CsvWriter, cell
from .validate import source_excerpt

CSV_COLUMNS = ("customer_id", "old_outcome", "new_outcome", "old_strikes", "new_strikes",
               "rules", "causes", "other", "old_figures", "new_figures",
               "old_effective_date", "new_effective_date", "old_phase_out_start",
               "new_phase_out_start", "old_referrals", "new_referrals",
               "old_base_outcome", "new_base_outcome")
DATE_COLUMNS = CSV_COLUMNS[-8:-2]


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("policies", nargs=-1, metavar="[OLD NEW]")
    @click.option("--source", "source", multiple=True, metavar="KIND:LOCATION",
                  help="Where the customer facts come from (as for evaluate; repeat it to "
                       "join sources). Required with OLD NEW.")
    @source_options
    @as_of_option
    @db_option
    @click.option("--run", "runs", type=RUN_ID, multiple=True, metavar="N",
                  help="Give it twice (--run A --run B) to compare two stored runs instead "
                       "of two policies.")
    @click.option("--allow-missing-facts", "allow_missing", is_flag=True,
                  help="As for evaluate: a fact the source has no column for makes the "
                       "rules that need it unknown instead of an error.")
    @json_option
    @click.option("--csv", "as_csv", is_flag=True,
                  help="Output CSV: one row per customer whose decision changed: moved, "
                       "changed under a hold or exemption, changed dates or referrals, "
                       "changed rules or strikes (columns: docs/cli.md).")
    @allow_formulas_option
    def diff(policies: tuple[str, ...], source: tuple[str, ...], mapping: tuple[str, ...],
             prefer: tuple[str, ...], options: dict[str, str], as_of: dt.date | None,
             db: str | None, runs: tuple[int, ...], allow_missing: bool, as_json: bool,
             as_csv: bool, allow_formulas: bool) -> None:
        """Show which customers a policy change moves, and why.

        `adieu diff OLD NEW --source S` decides every customer of S under
        both policies, as of the same date (--as-of, default today), with
        the same memory: the strikes, pardons, exemptions and cases of the
        database (--db, else $ADIEU_DB, else ./adieu.db if there is one;
        opened read-only, nothing is written; no database: no memory; a
        database named by --db or $ADIEU_DB must exist). Each policy
        computes its own population figures; an as-of date before the
        latest run's is allowed (memory as of that date). `adieu diff --run
        A --run B` compares two stored runs of the database, A the old and
        B the new.

        Prints the policy change (params, derive, rules, exemptions, holds,
        ladder, timing and every other top-level key that differs, e.g.
        facts or allow_missing_facts), the transition matrix (each pair of
        outcomes with the number of customers that moved between them, and
        the customers whose outcome stayed), then each customer that moved:
        the rules whose result changed, what made each change (the part of
        the policy change, or with --run the facts, derived values and
        population figures that differ, found by deciding the new side's
        facts under the old policy), and the figures under the old and the
        new policy. Then, in sections of their own, each customer whose
        outcome stayed but whose decision changed: held or exempt with
        another base outcome (what the rules alone said), another
        effective date, phase-out start or referrals (with the timing
        change, referral condition or data that moved them), or other
        rules, strikes, holds or exemptions. Customers decided on one side
        only (a row one policy rejects, a customer missing from one run)
        are listed apart.

        Exit 0 whatever moved (a diff is not a finding); 1 if OLD or NEW is
        not a valid policy (its errors are listed, as by validate); 2 for a
        bad source, a missing database or run, or bad usage.
        """
        if as_json and as_csv:
            raise click.UsageError("choose one of --json and --csv")
        if runs:
            if len(runs) != 2:
                raise click.UsageError("give --run twice: --run A --run B (old, then new)")
            if policies or source or as_of or mapping or prefer or options or allow_missing:
                raise click.UsageError("--run A --run B compares stored runs: give no "
                                       "policies, --source, --as-of or source options")
            c = stored_runs(resolve_db(db), runs[0], runs[1])
        else:
            if len(policies) != 2:
                raise click.UsageError("give two policies, OLD NEW (or --run A --run B)")
            if not source:
                raise click.UsageError("missing option --source (where the customers come "
                                       "from)")
            memory = resolve_db(db)
            if not db and not os.environ.get("ADIEU_DB") and not os.path.exists(memory):
                memory = None  # ./adieu.db is the default only where there is one
            try:
                c = whatif(policies[0], policies[1], source, as_of or dt.date.today(), memory,
                           mapping, options, prefer, allow_missing)
            except PolicyErrors as exc:
                for e in exc.errors:
                    echo(str(e), err=True)
                    for line in source_excerpt(e):
                        echo(line, err=True)
                raise SystemExit(exc.exit_code) from None
        if as_json:
            click.echo(json_text(c.to_dict(), indent=2))
        elif as_csv:
            write_csv(c, sys.stdout, allow_formulas)
        else:
            write_text(c, bool(runs))


def write_csv(c: Comparison, stream: Any, allow_formulas: bool = False) -> None:
    """One row per moved customer, then one per customer changed under a
    hold or exemption (old_outcome = new_outcome, the base outcomes
    differ), one per customer whose dates or referrals changed (rules and
    figures empty, causes what moved them), one per customer whose rules
    or strikes changed; CSV_COLUMNS; lists and figures as JSON; formula
    cells neutralised unless allow_formulas (csvout.CsvWriter)."""
    writer = CsvWriter(stream, allow_formulas)
    writer.writerow(CSV_COLUMNS)
    for m in (*c.moved, *c.changed_base):
        _entry_row(writer, m)
    for d in c.changed_dates:
        writer.writerow([cell(v) for v in (
            d["customer_id"], d["outcome"], d["outcome"], d["old_strikes"], d["new_strikes"],
            [], d["causes"], [], {}, {}, *(d[k] for k in DATE_COLUMNS),
            d["outcome"], d["outcome"])])
    for m in c.changed_reasons:
        _entry_row(writer, m)


def _entry_row(writer: CsvWriter, m: dict[str, Any]) -> None:
    rules = m["rules"]
    causes = [x for r in rules for x in r["causes"]]
    writer.writerow([cell(v) for v in (
        m["customer_id"], m["old_outcome"], m["new_outcome"], m["old_strikes"],
        m["new_strikes"], [r["rule"] for r in rules], list(dict.fromkeys(causes)), m["other"],
        {r["rule"]: r["old_figures"] for r in rules},
        {r["rule"]: r["new_figures"] for r in rules},
        *(m[k] for k in DATE_COLUMNS), m["old_base_outcome"], m["new_base_outcome"])])


def _side(label: dict[str, Any]) -> str:
    run = f"run {label['run_id']} (as of {label['as_of']}): " if "run_id" in label else ""
    return (f"{run}{label['policy_name']!r} v{label['policy_version']} "
            f"(sha256 {label['policy_sha256'][:12]}), {label['rejected']:,} rows rejected")


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {fmt(v)}" for k, v in figures.items()) or "-"


def write_text(c: Comparison, stored: bool) -> None:
    """The text report (see the command's help)."""
    echo(f"Old: {_side(c.old.label)}")
    echo(f"New: {_side(c.new.label)}")
    if not stored:
        echo(f"Over {c.source} as of {c.as_of}; memory: "
             + (c.memory if c.memory else "none (no database)"))
    echo("")
    lines = c.change.lines()
    if stored and (c.old.policy is None or c.new.policy is None):
        lines = ["(a run's policy no longer compiles here, e.g. a plugin is gone: "
                 "policy change not shown)"]
    echo("Policy change:" if lines else "Policy change: none")
    for line in lines:
        echo(f"  {line}")
    echo("")
    echo(f"Outcomes ({c.compared:,} customers in both):")
    matrix = c.matrix()
    for t in matrix:
        echo(f"  {t['from']} -> {t['to']}: {t['customers']:,}")
    if not matrix:
        echo("  no customer moved")
    unchanged = c.to_dict()["unchanged"]
    echo(f"  unchanged: {sum(unchanged.values()):,}"
         + (" (" + ", ".join(f"{o} {n:,}" for o, n in unchanged.items()) + ")"
            if unchanged else ""))
    for what, ids in (("only in the old", c.only_old), ("only in the new", c.only_new)):
        if ids:
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10:,} more" if len(ids) > 10
                                          else "")
            echo(f"  {what} decisions: {len(ids):,} ({shown})")
    for what, entries in (("changed base outcome (under a hold or exemption)", c.changed_base),
                          ("changed dates or referrals", c.changed_dates),
                          ("changed rules, strikes, holds or exemptions", c.changed_reasons)):
        if entries:
            echo(f"  same outcome, {what}: {len(entries):,}")
    if c.moved:
        _write_moved("Moved customers", c.moved)
    if c.changed_base:
        _write_moved("Changed under a hold or exemption, same outcome", c.changed_base)
    if c.changed_dates:
        echo("")
        echo(f"Changed dates or referrals, same outcome ({len(c.changed_dates):,}):")
        for d in c.changed_dates:
            echo(f"  {d['customer_id']}: {d['outcome']}"
                 + (f" because {'; '.join(d['causes'])}" if d["causes"] else ""))
            for line in _date_lines(d):
                echo(f"    {line}")
    if c.changed_reasons:
        _write_moved("Changed rules, strikes, holds or exemptions, same outcome",
                     c.changed_reasons)


def _date_value(value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return str(value) if value else "(none)"


def _date_lines(d: dict[str, Any]) -> list[str]:
    """ "effective_date: 2026-12-31 -> 2026-12-01", one per date that differs."""
    return [f"{key}: {_date_value(d[f'old_{key}'])} -> {_date_value(d[f'new_{key}'])}"
            for key in ("effective_date", "phase_out_start", "referrals")
            if d[f"old_{key}"] != d[f"new_{key}"]]


def _outcome(m: dict[str, Any], side: str) -> str:
    """ "held (offboard)" where the base outcome differs from the outcome."""
    outcome, base = m[f"{side}_outcome"], m[f"{side}_base_outcome"]
    return outcome if base == outcome else f"{outcome} ({base})"


def _write_moved(title: str, entries: list[dict[str, Any]]) -> None:
    echo("")
    echo(f"{title} ({len(entries):,}):")
    for m in entries:
        echo(f"  {m['customer_id']}: {_outcome(m, 'old')} -> {_outcome(m, 'new')} "
             f"(strikes {m['old_strikes']} -> {m['new_strikes']})")
        for r in m["rules"]:
            because = f" because {'; '.join(r['causes'])}" if r["causes"] else ""
            echo(f"    {r['rule']}: {r['old_status']} -> {r['new_status']}{because}")
            echo(f"      old: {_figures(r['old_figures'])}")
            echo(f"      new: {_figures(r['new_figures'])}")
        for line in m["other"]:
            echo(f"    {line}")
