"""Options and helpers shared by commands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ..store import db_path

db_option = click.option(
    "--db", "db", metavar="PATH", default=None,
    help="SQLite database (default: $ADIEU_DB, else ./adieu.db).")
json_option = click.option("--json", "as_json", is_flag=True, help="Output JSON.")
csv_option = click.option("--csv", "as_csv", is_flag=True, help="Output CSV.")
run_option = click.option("--run", "run_id", type=int, default=None, metavar="N",
                          help="Run id (default: the latest run).")


def parse_date(ctx: click.Context | None, param: Any, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


as_of_option = click.option(
    "--as-of", "as_of", metavar="YYYY-MM-DD", callback=parse_date, default=None,
    help="The date the decision is made as of (default: today).")


def resolve_db(value: str | None) -> str:
    return db_path(value)
