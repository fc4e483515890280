"""adieu facts and adieu plugins: what the sources and plugins provide."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from ..columns import header_location, source_warnings
from ..facts import to_json_value
from ..factshow import policy_text
from ..intake import read_records
from ..join import SourcePart, join, pair_sources, parse_prefer
from ..plugins import registry
from ..policy import canonical_facts
from ..run import open_source
from ..safe_text import echo, json_text
from ..sources import check_options
from .common import allow_formulas_option, as_of_option, csv_option, json_option, source_options
from .csvout import write_facts


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("source", metavar="KIND:LOCATION...", nargs=-1)
    @click.option("--source", "more", multiple=True, metavar="KIND:LOCATION",
                  help="Another source (the same as naming it as an argument).")
    @source_options
    @as_of_option
    @json_option
    @csv_option
    @allow_formulas_option
    @click.option("--limit", type=click.IntRange(min=0), default=None, metavar="N",
                  help="Show the first N customers only.")
    def facts(source: tuple[str, ...], more: tuple[str, ...], mapping: tuple[str, ...],
              prefer: tuple[str, ...], options: dict[str, str], as_of: dt.date | None,
              as_json: bool, as_csv: bool, allow_formulas: bool, limit: int | None) -> None:
        """Show the canonical facts each customer of SOURCE gets, with provenance.

        Exactly what a policy would see: mapped, typed, with the file and row
        (or related records) each fact came from. Rejected rows, the
        source's warnings and columns whose name is close to a canonical
        fact's are listed on stderr. --json prints a JSON array of objects,
        each with customer_id, the facts by name, and "_provenance".

        Several sources (as arguments or with --source) are joined by
        customer id as `adieu evaluate` joins them; each fact's provenance
        then starts with its source's kind (csv:billing.csv row 12, revenue).
        """
        if as_json and as_csv:
            raise click.UsageError("choose one of --json and --csv")
        sources = [*source, *more]
        if not sources:
            raise click.UsageError("name a source: KIND:LOCATION (e.g. csv:customers.csv)")
        as_of = as_of or dt.date.today()
        reg = registry()
        specs = pair_sources(sources, list(mapping), reg.sources)
        check_options(options, [s.kind for s in specs])
        order = parse_prefer(prefer, specs)
        parts = []
        for spec in specs:
            records, fact_map = open_source(spec.text, as_of, spec.mapping_file, options)
            types = {**canonical_facts(), **fact_map.fact_types}
            # Facts a mapping keeps that no schema declares are shown as text.
            part = read_records(_limited(records, limit), types, fact_map,
                                with_provenance=True, keep_undeclared=True)
            if part.file is not None:
                for warning in source_warnings(part.fields, fact_map,
                                               header_location(part.file, spec.kind.kind)):
                    echo(warning, err=True)
            parts.append(SourcePart(spec, part, fact_map))
        intake = parts[0].intake if len(parts) == 1 else join(parts, order)
        for w in intake.warnings:
            echo(f"warning: {w}", err=True)
        for r in intake.rejects:
            echo(f"rejected: {r}", err=True)
        typed = [{**rec.facts, "_provenance": rec.provenance}
                 for rec in intake.records[:limit]]  # dates stay dates for the text
        rows = [{k: v if k == "_provenance" else to_json_value(v) for k, v in row.items()}
                for row in typed]
        if as_json:
            click.echo(json_text(rows, indent=2))
        elif as_csv:
            write_facts(typed, sys.stdout, allow_formulas)
        else:
            for row in typed:
                echo(row["customer_id"])
                for name in sorted(k for k in row if k not in ("customer_id", "_provenance")):
                    echo(f"  {name} = {policy_text(row[name])}    "
                         f"[{row['_provenance'].get(name)}]")
            warned = f", {len(intake.warnings)} warnings" if intake.warnings else ""
            echo(f"{len(rows)} customers, {intake.rejected_rows} rows rejected{warned}",
                 err=True)

    @cli.command()
    @json_option
    def plugins(as_json: bool) -> None:
        """List installed plugins: versions, hooks, source kinds and functions.

        A plugin that failed to load is listed with its error.
        """
        reg = registry()
        out = []
        for name in sorted(set(reg.provided) | set(reg.broken)):
            provided = reg.provided.get(name, {})
            item = {"name": name, "version": reg.versions.get(name),
                    "hooks": provided.get("hooks", []),
                    "sources": provided.get("sources", []),
                    "functions": provided.get("functions", [])}
            if name in reg.broken:
                item["error"] = reg.broken[name]
            out.append(item)
        if as_json:
            click.echo(json.dumps(out, indent=2))
            return
        for item in out:
            echo(f"{item['name']} ({item['version'] or 'not loaded'})")
            if item.get("error"):
                echo(f"  error: {item['error']}")
                continue
            echo(f"  hooks: {', '.join(item['hooks']) or '-'}")
            for kind in item["sources"]:
                echo(f"  source {kind}: {reg.sources[kind].description}")
            for fn in item["functions"]:
                echo(f"  function {fn}()")


def _limited(records, limit):
    """The first `limit` customer records (rejects and warnings do not count)."""
    shown = 0
    for record in records:
        if record.error is None and not record.is_note:
            if limit is not None and shown >= limit:
                return
            shown += 1
        yield record
