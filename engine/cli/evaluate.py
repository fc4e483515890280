"""adieu evaluate."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import asdict

import click

from ..cases import awaiting_review
from ..decide import SEVERITY_RANK
from ..errors import InputError, PolicyErrors
from ..run import RunResult, prepare, store
from ..safe_text import echo, json_text
from ..store import now
from .common import (
    as_of_option,
    csv_option,
    db_option,
    json_option,
    resolve_db,
    source_options,
)
from .csvout import write_decisions
from .validate import source_excerpt

TOP = 10


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
    def evaluate(policy: str, source: tuple[str, ...], mapping: tuple[str, ...],
                 prefer: tuple[str, ...], options: dict[str, str], as_of: dt.date | None,
                 db: str | None, as_json: bool, as_csv: bool, strict: bool, backfill: bool,
                 allow_missing: bool, dry_run: bool) -> None:
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

        Before deciding, every strike, pardon and exemption the run would
        use is checked against its audit entry; a row written outside adieu
        is an error (exit 2). An input identical to a stored run's (policy,
        source bytes, mapping, options, as-of date, memory) is not read
        again: that run is shown. Two runs at once are written one after the
        other; memory that changed meanwhile is read again and the run
        decided again with it, and a run whose as-of date another run has
        overtaken meanwhile fails (exit 2, nothing written). --dry-run
        decides with the database's memory and writes nothing.
        """
        if as_json and as_csv:
            raise click.UsageError("choose one of --json and --csv")
        started = now()
        as_of = as_of or dt.date.today()
        bar = _Progress()
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
        if strict and rejects:
            raise InputError(f"{result.intake.rejected_rows} rejected row(s) with --strict; "
                             "nothing written")
        if dry_run:
            run_id = result.run_id if result.already else None
            echo(f"dry run: nothing was written to {resolve_db(db)}"
                 + (f" (run {run_id} already recorded these inputs)" if result.already
                    else ""), err=True)
        else:
            run_id = store(result, resolve_db(db), started)
        if result.redecided:
            echo("warning: the memory changed while this run was deciding (another run, "
                 "an exemption or a pardon was stored); decided again with it", err=True)
        if result.already and not dry_run:
            echo(f"run {run_id} already recorded these facts under this policy as of "
                 f"{as_of.isoformat()}; nothing new was written", err=True)
        if as_json:
            click.echo(json_text({
                "run": {"id": run_id, "policy": result.policy.name,
                        "policy_version": result.policy.version,
                        "source": result.source, "sources": result.sources,
                        "plugins": result.plugins,
                        "as_of": as_of.isoformat(), "counts": result.counts,
                        "customers": result.customers,
                        "rejected_rows": result.intake.rejected_rows,
                        "missing_facts": result.missing_facts,
                        "already_recorded": result.already, "dry_run": dry_run},
                "decisions": [d.to_dict() for d in result.decisions],
                "rejects": [asdict(r) for r in rejects],
                "warnings": [asdict(w) for w in warnings]}, indent=2))
        elif as_csv:
            write_decisions(result.decisions, run_id, sys.stdout)
        else:
            summary(result, resolve_db(db), dry_run)


class _Progress:
    """A progress bar on stderr, shown only on a terminal for long runs."""

    def __init__(self) -> None:
        self.bar = None

    def advance(self, n: int, total: int) -> None:
        if self.bar is None:
            if total < 5000 or not sys.stderr.isatty():
                return
            self.bar = click.progressbar(length=total, label="Deciding", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def summary(result: RunResult, db: str, dry_run: bool = False) -> None:
    p = result.policy
    title = f"Run {result.run_id}" if result.run_id is not None else "Dry run"
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
    candidates = [d for d in result.decisions if d.outcome == "offboard"]
    candidates.sort(key=lambda d: (-SEVERITY_RANK.get(d.severity or "low", 0), -d.strikes,
                                   -len(d.fired), d.customer_id))
    if candidates:
        echo("")
        waiting = awaiting_review(candidates, result.memories)
        if dry_run and not result.already:
            echo(f"{waiting} offboarding(s) would be pending approval")
        else:
            echo(f"{waiting} offboarding(s) pending approval by an independent "
                 f"reviewer: adieu pending --db {db}"
                 + (f" ({len(candidates) - waiting} approved earlier: their cases keep "
                    "their dates)" if waiting < len(candidates) else ""))
        echo(f"Top offboard candidates ({min(TOP, len(candidates))} of "
             f"{len(candidates)}):")
        for d in candidates[:TOP]:
            echo(f"  {d.customer_id}  [{d.severity}] effective {d.effective_date}"
                 f" ({d.timing_basis})")
            for r in d.fired:
                echo(f"      - {r.rule}: {r.explanation}")
