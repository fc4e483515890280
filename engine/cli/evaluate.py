"""adieu evaluate."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import asdict

import click

from .. import readback
from ..audit_anchor import audit_key, refuse_unkeyed_writer, stored_head_line
from ..errors import InputError, PolicyErrors
from ..names import made_by
from ..progress import Progress
from ..run import RunResult, prepare, store
from ..run import dry_run as dry
from ..safe_text import echo
from ..store import now
from .common import (
    allow_formulas_option,
    as_of_option,
    csv_option,
    db_option,
    json_option,
    quiet_option,
    resolve_db,
    source_options,
    workers_option,
)
from .csvout import write_decisions
from .validate import source_excerpt


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("policy", type=click.Path(dir_okay=False))
    @click.option("--source", "source", required=True, multiple=True, metavar="KIND:LOCATION",
                  help="Where the customer facts come from, e.g. csv:customers.csv, "
                       "salesforce:export.zip, hubspot:dump/. Repeat it to join several "
                       "sources by customer id.")
    @source_options
    @as_of_option
    @db_option
    @json_option
    @csv_option
    @allow_formulas_option
    @click.option("--strict", is_flag=True,
                  help="Treat any rejected row as an error: exit 2, write nothing.")
    @click.option("--backfill", is_flag=True,
                  help="Allow an as-of date before the latest run's (evaluating the past).")
    @click.option("--allow-missing-facts", "allow_missing", is_flag=True,
                  help="Go ahead when the source has no column for a fact the policy uses "
                       "(rules that need it are unknown); the run records the missing facts. "
                       "Without it, that is an error (exit 2).")
    @click.option("--dry-run", "dry_run", is_flag=True,
                  help="Decide against the database's memory and print what would be "
                       "stored, writing nothing (the database is opened read-only).")
    @click.option("--allow-empty", "allow_empty", is_flag=True,
                  help="Store a run even when the source has no customer (a header-only "
                       "file, every row rejected, an empty folder). Without it, that is an "
                       "error (exit 2, nothing written), with --dry-run too.")
    @click.option("--by", "by", default=None, metavar="NAME",
                  help="Who makes the run, recorded with it (runs.made_by, shown by `adieu "
                       "runs`). Default: the operating-system user name; a record to read, "
                       "not checked against anything. At most 200 characters, with a letter "
                       "or digit; a name that mixes look-alike letters of another script "
                       "with Latin ones (a Cyrillic 'а' in 'Mara') is refused.")
    @workers_option
    @quiet_option
    def evaluate(policy: str, source: tuple[str, ...], mapping: tuple[str, ...],
                 prefer: tuple[str, ...], options: dict[str, str], as_of: dt.date | None,
                 db: str | None, as_json: bool, as_csv: bool, strict: bool, backfill: bool,
                 allow_missing: bool, dry_run: bool, allow_empty: bool, by: str | None,
                 workers: int | None, quiet: bool, allow_formulas: bool = False) -> None:
        """Decide every customer of SOURCE under POLICY and store the run.

        With --source repeated, the sources' records are joined by customer
        id: a customer in only some of them is decided on what is there; a
        fact two sources give different values rejects the customer unless
        --prefer ranks them (docs/sources.md).

        Bad rows are rejected (listed on stderr and stored with the run) and
        never stop the run; with --strict any reject means exit 2 and nothing
        is written. A fact the policy uses that the source has no column for
        is an error (exit 2, nothing written) unless --allow-missing-facts or
        the policy's allow_missing_facts allows it. The run, one decision per
        customer with its reasons and figures, and the rejects are written
        in one transaction. Warnings (a figure the source cannot know and
        why; a column close to a fact's name) go to stderr; they are not
        rejects.

        One source is read twice: once for the population figures and the
        rejects, then again, under the database's write lock, to decide and
        write in batches (standard input, csv:/dev/stdin, is copied to a
        temporary file first; any other named pipe or device is refused; a
        file that changed between the two reads is an error, exit 2, nothing
        written). Memory is fetched per batch, so memory use stays flat
        however many customers there are. A source with no customer (a
        header only, every row rejected) is an error, exit 2, nothing
        written, unless --allow-empty.

        Before deciding, every strike, pardon and exemption the run would
        use is checked against its audit entry; a row written outside adieu
        is an error (exit 2). An input identical to a stored run's (policy,
        source bytes, mapping, options, as-of date, memory) is not read
        again: that run is shown. Two runs at once are written one after the
        other, the second deciding with the memory the first stored; a run
        whose as-of date another run has overtaken meanwhile fails (exit 2,
        nothing written). --dry-run decides with the database's memory and
        writes nothing.

        After a stored run, the audit head (SEQ:HASH, docs/ops-guide.md)
        is printed on stderr before the last line. With ADIEU_AUDIT_KEY set
        every audit entry carries its MAC; a key under 16 bytes is refused
        (exit 2) before anything is read, and so is a run without the key
        on a trail whose entries already carry MACs.
        """
        if as_json and as_csv:
            raise click.UsageError("choose one of --json and --csv")
        maker = made_by(by)  # a bad --by is refused before anything is read
        if not dry_run:
            audit_key()  # a bad key is refused now, not after reading the source
            refuse_unkeyed_writer(resolve_db(db))  # so is a keyed trail without the key
        started = now()
        as_of = as_of or dt.date.today()
        bar = Progress(quiet)
        bar.start("Reading")
        try:
            result = prepare(policy, list(source), as_of, bar.advance, list(mapping), options,
                             resolve_db(db), backfill, allow_missing, list(prefer), dry_run,
                             all_decisions=as_json or as_csv)
        except PolicyErrors as exc:
            for e in exc.errors:
                echo(str(e), err=True)
                for line in source_excerpt(e):
                    echo(line, err=True)
            raise SystemExit(exc.exit_code) from None  # 2: the file cannot be read
        finally:
            bar.close()
        result.made_by = maker
        try:
            _report_intake(result)
            if strict and result.intake.rejects:
                raise InputError(f"{result.intake.rejected_rows} rejected row(s) with "
                                 "--strict; nothing written")
            if not result.accepted and not result.already and not allow_empty:
                raise InputError(_empty_message(result))
            bar.start("Deciding and writing" if not dry_run else "Deciding",
                      result.accepted, "customers")
            try:
                if dry_run:
                    dry(result, resolve_db(db), workers, bar.advance)
                else:
                    store(result, resolve_db(db), started, workers, bar.advance)
            finally:
                bar.close()
        finally:
            result.close()
        run_id = result.run_id
        if dry_run and not quiet:
            echo(f"dry run: nothing was written to {resolve_db(db)}"
                 + (f" (run {run_id} already recorded these inputs)" if result.already
                    else ""), err=True)
        if result.already and not dry_run:
            echo(f"run {run_id} already recorded these facts under this policy as of "
                 f"{as_of.isoformat()}; nothing new was written", err=True)
        if as_json:
            head = {"run": {"id": run_id if (result.already or not dry_run) else None,
                            "policy_name": result.policy.name,
                            "policy_version": result.policy.version,
                            "source": result.source, "sources": result.sources,
                            "plugins": result.plugins,
                            "policy_sha256": result.policy.sha256,
                            "new_strikes": result.new_strikes,
                            "as_of": as_of.isoformat(), "counts": result.counts,
                            "customers": result.customers,
                            "rejected": result.intake.rejected_rows,
                            "missing_facts": result.missing_facts,
                            "made_by": result.stored.get("made_by") if result.already
                            and result.stored else result.made_by,
                            "already_recorded": result.already, "dry_run": dry_run}}
            tail = {"rejects": [asdict(r) for r in result.intake.rejects],
                    "warnings": [asdict(w) for w in result.intake.warnings]}
            readback.write_json(head, readback.json_decisions_of(result), tail, sys.stdout)
        elif as_csv:
            write_decisions(readback.decisions_of(result), run_id if not dry_run else None,
                            sys.stdout, allow_formulas)
        else:
            summary(result, resolve_db(db), dry_run)
        if not quiet:
            if not dry_run:  # the anchor to keep outside the database (docs/ops-guide.md)
                echo(stored_head_line(resolve_db(db)), err=True)
            echo(final_line(result, dry_run, bar.elapsed()), err=True)


def _report_intake(result: RunResult) -> None:
    """Warnings and rejects on stderr (the first 20 of each)."""
    for warning in result.warnings:  # each a line starting "warning: "
        echo(warning, err=True)
    warnings = result.intake.warnings
    for w in warnings[:20]:
        echo(f"warning: {w}", err=True)
    if len(warnings) > 20:
        echo(f"warning: ... and {len(warnings) - 20} more (--json lists them all)",
             err=True)
    rejects = result.intake.rejects
    for r in rejects[:20]:
        echo(f"rejected: {r}", err=True)
    if len(rejects) > 20:
        echo(f"rejected: ... and {len(rejects) - 20} more (table rejects)", err=True)


def _empty_message(result: RunResult) -> str:
    """Why a run with no customer is refused, naming the source."""
    rejected = result.intake.rejected_rows
    why = (f"every row was rejected ({rejected:,})" if rejected else
           "it has no customer record (a header only, or an empty file or folder)")
    return (f"{' + '.join(result.sources)}: no customer to decide: {why}; nothing written "
            "(pass --allow-empty to store an empty run)")


def final_line(result: RunResult, dry_run: bool, seconds: float) -> str:
    """The last line on stderr: 'done: 98,512 customers decided, 1,488 rows
    rejected, 212 new strikes; run 3 stored in 41.2 s'."""
    if result.already:
        what = f"run {result.run_id} already stored"
    elif dry_run:
        what = "dry run, nothing stored"
    else:
        what = f"run {result.run_id} stored"
    return (f"done: {result.customers:,} customers decided, "
            f"{result.intake.rejected_rows:,} rows rejected, {result.new_strikes:,} new "
            f"strikes; {what} in {seconds:.1f} s")


def summary(result: RunResult, db: str, dry_run: bool = False) -> None:
    p = result.policy
    title = f"Run {result.run_id}" if result.run_id is not None and \
        (result.already or not dry_run) else "Dry run"
    echo(f"{title}: policy {p.name!r} v{p.version} (sha256 {p.sha256[:12]}) "
         f"over {result.source} as of {result.as_of.isoformat()}")
    new = result.new_strikes
    where = (f"nothing written to {db}" if dry_run and not result.already else
             f"already stored in {db}" if result.already else f"stored in {db}")
    echo(f"{result.customers:,} customers decided, "
         f"{result.intake.rejected_rows:,} rows rejected, {new:,} new strikes; {where}")
    if result.missing_facts:
        echo(f"The source has no column for {', '.join(result.missing_facts)}, allowed to "
             "be missing: every rule that needs them is unknown.")
    echo("")
    width = max(len(k) for k in result.counts)
    for outcome, n in result.counts.items():
        echo(f"  {outcome:<{width}}  {n:>6,}")
    tally = result.tally if result.tally is not None else readback.stored_tally(result)
    if tally.offboard:
        echo("")
        waiting = tally.waiting
        if dry_run and not result.already:
            echo(f"{waiting} offboarding(s) would be pending approval")
        else:
            echo(f"{waiting} offboarding(s) pending approval by an independent "
                 f"reviewer: adieu pending --db {db}"
                 + (f" ({tally.offboard - waiting} approved earlier: their cases keep "
                    "their dates)" if waiting < tally.offboard else ""))
        top = tally.top()
        echo(f"Top offboard candidates ({len(top)} of {tally.offboard}):")
        for d in top:
            echo(f"  {d['customer_id']}  [{d['severity']}] effective {d['effective_date']}"
                 f" ({d['timing_basis']})")
            for rule, explanation in d["fired"]:
                echo(f"      - {rule}: {explanation}")
