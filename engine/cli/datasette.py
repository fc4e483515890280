"""adieu datasette-metadata: the metadata file for browsing the database in
Datasette (engine/datasette_meta.py; docs/ops-guide.md)."""

from __future__ import annotations

import click

from ..datasette_meta import database_name, metadata_for, metadata_path
from ..errors import InputError, Location
from .common import db_option, resolve_db


def register(cli: click.Group) -> None:
    cli.add_command(datasette_metadata)


@click.command("datasette-metadata")
@db_option
@click.option("--path", "show_path", is_flag=True,
              help="Print where the shipped metadata.yml is installed, and stop.")
def datasette_metadata(db: str | None, show_path: bool) -> None:
    """Print Datasette's metadata file for the database: table and column
    descriptions (from docs/database.md) and canned queries (open cases,
    strikes by segment, decisions of the latest run). Datasette keys a
    database by its file name without the suffix, so the file printed names
    --db's (`prod.db`: `prod`); the shipped file (--path) names `adieu`.

    \b
        adieu datasette-metadata --db prod.db > metadata.yml
        datasette prod.db -m metadata.yml
        datasette adieu.db -m "$(adieu datasette-metadata --path)"

    Open the live database without -i (immutable): docs/ops-guide.md,
    "Browsing the database in Datasette".

    Writes nothing; the database need not exist yet."""
    try:
        path = metadata_path()
    except FileNotFoundError as exc:
        raise InputError(str(exc), Location("datasette/metadata.yml")) from None
    if show_path:
        click.echo(str(path))
        return
    click.echo(metadata_for(database_name(resolve_db(db))), nl=False)
