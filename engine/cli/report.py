"""adieu report and adieu segments: a run's report for management (one
self-contained HTML file) and its segment table (engine/report.py,
engine/segments.py)."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ..errors import InputError, Location
from ..safe_text import echo, json_text
from ..segments import (
    DEFAULT_SEGMENTS,
    RunFacts,
    default_names,
    hidden_escaped,
    percent,
    segment_table,
)
from ..store import get_run
from .common import allow_formulas_option, db_option, json_option, opened_store, run_option
from .csvout import CsvWriter, cell

SEGMENT_COLUMNS = ("fact", "segment", "missing", "customers", "strikes",
                   "strikes_per_customer", "offboards", "offboards_per_customer", "escaped")
ESCAPED_NOTE = ("note: \\u escapes in {n} segment(s) mark letters of other scripts that "
                "look like Latin ones, or characters that do not show: a data problem to fix "
                "in the source")

by_option = click.option(
    "--by", "by", multiple=True, metavar="FACT",
    help="A fact of the run (one its decisions store or its policy uses) or a derived "
         "fact of its policy to segment customers by (repeatable); any other name is an "
         "error that lists the run's facts. Text values are segments as they are; "
         "numbers are banded (1, 2, 5 times a power of ten; integers -9 to 9 as they "
         "are); dates by year; see docs/ops-guide.md.")


def _target(path: str) -> Path:
    """The file the report goes to: `path`, or the file a symlink at `path`
    leads to (the link is kept). Refuses (InputError) a directory, and
    anything else that exists and is not a regular file (a FIFO, a device
    such as /dev/stdout or /dev/full, a socket): the report is written to a
    temporary file renamed over the target, which would replace that node."""
    try:
        mode = os.stat(path).st_mode  # through links, /proc/self/fd/1's too
    except FileNotFoundError:  # a new file, or a symlink to one
        return Path(os.path.realpath(path))
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror}", Location(path)) from None
    if stat.S_ISDIR(mode):
        raise InputError("is a directory, expected a file name for the report", Location(path))
    if not stat.S_ISREG(mode):
        raise InputError("is not a regular file (a FIFO, device or socket): the report "
                         "is written only to a new or a regular file", Location(path))
    return Path(os.path.realpath(path))


def _write(path: str, text: str) -> None:
    """Write text to path atomically (a temporary file renamed over the
    regular file _target finds)."""
    target = _target(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".adieu-report-", dir=target.parent)
        mask = os.umask(0)  # mkstemp makes 0600: give the page the usual mode
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)
        raise InputError(f"cannot write the report: {exc.strerror}", Location(path)) from None


def register(cli: click.Group) -> None:
    @cli.command("report")
    @run_option
    @db_option
    @click.option("--html", "html_file", required=True, metavar="FILE",
                  help="Write the report to FILE: one HTML page with its charts inline "
                       "(no script, no external link: opens with no network). FILE is "
                       "replaced whole; a symlink's target is written; a FIFO or device "
                       "is refused.")
    @by_option
    def report_cmd(run_id: int | None, db: str | None, html_file: str,
                   by: tuple[str, ...]) -> None:
        """A run's report for management, as one self-contained HTML file:
        outcome counts and their change from the previous run; cost to serve
        against revenue per customer (every offboard candidate in red, up to
        20,000; of the others, all or a fixed sample of exactly 2,000, with
        the exact counts under the chart); outcomes and new
        strikes across runs; the review queue; and the segments (industry,
        channel, size and each --by FACT) with their strikes and offboards
        per customer."""
        from ..report import build, render_html  # jinja2: only for this command

        _target(html_file)  # refuse a directory, FIFO or device before the work
        with opened_store(db) as store:
            data = build(store, run_id, list(by))
            text = render_html(data)
        _write(html_file, text)
        run = data["run"]
        echo(f"wrote {html_file}: run {run['id']} as of {run['as_of']}, "
             f"{run['customers'] or 0:,} customers, {data['queue_total']:,} open case(s)")

    @cli.command("segments")
    @by_option
    @run_option
    @db_option
    @json_option
    @click.option("--csv", "as_csv", is_flag=True,
                  help="Output CSV: one row per segment (columns: fact, segment, missing, "
                       "customers, strikes, strikes_per_customer, offboards, "
                       "offboards_per_customer, escaped).")
    @allow_formulas_option
    def segments_cmd(by: tuple[str, ...], run_id: int | None, db: str | None, as_json: bool,
                     as_csv: bool, allow_formulas: bool) -> None:
        """Which kinds of customer produce the most strikes and offboards: per
        segment of each --by FACT (default: industry, channel and size), its
        customers, strikes (active strikes on the ladder, summed), strikes per
        customer, offboards and offboards per customer (a share), highest
        first. The same table as in `adieu report`. A value with letters of
        another script that look like Latin ones, or characters that do not
        show, is a segment of its own, shown with those characters escaped
        (reta\\u0456l), and a backslash in a value doubled. Customers without
        the fact are the (missing) segment ((unknown): a derived fact that
        could not be computed), never merged with a value spelt so, which is
        shown \\(missing). JSON and CSV give the value (null for those
        customers, with `missing` true) and, as `escaped`, the label shown."""
        if as_json and as_csv:
            raise click.UsageError("give --json or --csv, not both")
        with opened_store(db) as store:
            run = get_run(store, run_id)
            names = list(dict.fromkeys(by)) or default_names(RunFacts(run, store), ())
            if not names:
                raise InputError(f"run {run['id']} has none of the facts "
                                 f"{', '.join(DEFAULT_SEGMENTS)}: name one with --by")
            rows = segment_table(store, run, names)
        if as_json:
            click.echo(json_text({"run_id": run["id"], "as_of": run["as_of"], "by": names,
                                  "segments": rows}, indent=2))
        elif as_csv:
            writer = CsvWriter(sys.stdout, allow_formulas)
            writer.writerow(SEGMENT_COLUMNS)
            for row in rows:
                writer.writerow([("true" if row[c] else "false") if c == "missing"
                                 else cell(row[c]) for c in SEGMENT_COLUMNS])
        else:
            _table(run, names, rows)


def _table(run: dict[str, Any], names: list[str], rows: list[dict[str, Any]]) -> None:
    echo(f"run {run['id']} as of {run['as_of']}: {run['customers'] or 0:,} customers")
    for name in names:
        mine = [r for r in rows if r["fact"] == name]
        cells = [[r["escaped"] or r["segment"], f"{r['customers']:,}", f"{r['strikes']:,}",
                  str(r["strikes_per_customer"]), f"{r['offboards']:,}",
                  percent(r["offboards_per_customer"])] for r in mine]
        head = [name, "customers", "strikes", "per customer", "offboards", "per customer"]
        widths = [max(len(str(c)) for c in col) for col in zip(head, *cells, strict=False)]
        echo()
        echo("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(head, widths, strict=True))).rstrip())
        for line in cells:
            echo("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip())
        marked = sum(1 for r in mine if not r["missing"] and hidden_escaped(r["segment"]))
        if marked:
            echo(ESCAPED_NOTE.format(n=marked))
