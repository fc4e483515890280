"""Options and helpers shared by commands."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlite_utils

from ..safe_text import normalise_id
from ..store import db_path, open_db

db_option = click.option(
    "--db", "db", metavar="PATH", default=None,
    help="SQLite database (default: $ADIEU_DB, else ./adieu.db).")
json_option = click.option("--json", "as_json", is_flag=True, help="Output JSON.")
csv_option = click.option(
    "--csv", "as_csv", is_flag=True,
    help="Output CSV: one row per customer; a list (rules, reasons ...) is a JSON array "
         "in its cell (columns: docs/cli.md).")
allow_formulas_option = click.option(
    "--allow-formulas", "allow_formulas", is_flag=True,
    help="With --csv, write cells as they are, for programs rather than spreadsheets "
         "(default: a text cell starting with = + - @, a tab or CR gets a leading ' so "
         "a spreadsheet does not run it as a formula; docs/ops-guide.md).")
workers_option = click.option(
    "--workers", "workers", type=click.IntRange(min=1), default=None, metavar="N",
    help="Decide in N processes (one writer writes in order: the same decisions as "
         "with 1). Default: the machine's cores from 50,000 records on, else 1.")
quiet_option = click.option(
    "--quiet", "-q", "quiet", is_flag=True,
    help="No progress and no final line on stderr (rejects and warnings are still "
         "listed).")
class RunId(click.ParamType):
    """A run id: an integer from 1 to 2**63 - 1 (SQLite's largest integer).
    Anything else is a usage error (exit 2), not a lookup that overflows."""

    name = "integer"
    MAX = 2**63 - 1

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        number = click.INT.convert(value, param, ctx)
        if not 1 <= number <= self.MAX:
            self.fail(f"{value!r} is not a run id (1 to {self.MAX:,})", param, ctx)
        return number


RUN_ID = RunId()
run_option = click.option("--run", "run_id", type=RUN_ID, default=None, metavar="N",
                          help="Run id (default: the latest run).")


def parse_date(ctx: click.Context | None, param: Any, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:  # fromisoformat alone also takes 20261101 and week dates (2026-W44-7)
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


def _customer_id(ctx: click.Context | None, param: Any, value: str | None) -> str | None:
    return None if value is None else normalise_id(value)


# A customer id typed on the command line, normalised as ids read from a
# source are (NFC, surrounding whitespace stripped), so the id a listing
# shows is the id to type.
customer_argument = click.argument("customer_id", callback=_customer_id)

as_of_option = click.option(
    "--as-of", "as_of", metavar="YYYY-MM-DD", callback=parse_date, default=None,
    help="The date the decision is made as of (default: today).")


def _options(ctx: click.Context | None, param: Any, values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} must be KEY=VALUE, e.g. delimiter=;")
        out[key.strip()] = value
    return out


def source_options(func: Any) -> Any:
    """--mapping, --prefer and -o KEY=VALUE, the same on every command that
    reads facts (each command adds its own --source or SOURCE)."""
    func = click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
                        callback=_options,
                        help="A source option, e.g. -o delimiter=; -o encoding=cp1252 "
                             "(repeatable; overrides the mapping's options; applies to "
                             "every source; a name no source kind reads is an error).")(func)
    func = click.option("--prefer", "prefer", multiple=True, metavar="KIND[,KIND...]",
                        help="With several sources: where two sources give a fact different "
                             "values, take the value of the source listed first here (a "
                             "kind, or KIND:LOCATION when two sources share a kind). "
                             "Without it such a conflict rejects the customer.")(func)
    func = click.option("--mapping", "mapping", metavar="FILE", multiple=True,
                        help="Mapping file (source field -> fact); default: the source "
                             "kind's own mapping. With several sources give none, or one "
                             "per source in the same order ('-' for a kind's own).")(func)
    return func


def resolve_db(value: str | None) -> str:
    return db_path(value)


@contextmanager
def opened_store(db: str | None, create: bool = False) -> Iterator[sqlite_utils.Database]:
    """The store named by --db / $ADIEU_DB / ./adieu.db, closed afterwards.
    Without create, a missing file is an error rather than a new database."""
    store = open_db(resolve_db(db), create=create)
    try:
        yield store
    finally:
        store.close()
