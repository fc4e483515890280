"""Generate datasette/metadata.yml from docs/database.md.

    python tools/datasette_metadata.py          # rewrite datasette/metadata.yml
    python tools/datasette_metadata.py --check  # exit 1 when it is stale

The table and column descriptions come from docs/database.md, the one
place they are written: each `## `table`` section's first paragraph is the
table's description, and each row `| `column` | type | what it holds |` of
its table is a column's description (type and text). A row naming several
columns (`customer_id`, `outcome`, ... in `run_decisions`) gives each of
them its text; a text "as in `decisions`" is replaced by that table's
description of the column; a section with no table whose text lists
"Columns: `a`, `b`, ..., as in `decisions`" (`decisions_v1`) takes those
columns from there. Markdown is reduced to plain text (code spans lose
their backticks, links keep their text), as Datasette shows descriptions
as text.

The canned queries (QUERIES) are written here. The format is Datasette's
metadata file (https://docs.datasette.io/en/0.65/metadata.html: databases
-> NAME -> tables -> TABLE -> description / columns; databases -> NAME ->
queries -> QUERY -> sql / title / description; named parameters such as
`:fact` become a form field, and a missing one is the empty string). The
database key is `adieu`, the name Datasette gives `adieu.db`; `adieu
datasette-metadata --db FILE` prints the file for another name.

Run from a checkout (docs/ is not installed); tests/test_datasette.py fails
while the committed file is stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

DATABASE_DOC = ROOT / "docs" / "database.md"
OUT = ROOT / "datasette" / "metadata.yml"

# The latest run as adieu means it (engine/store.py latest_run_id): the
# latest as-of date, of those the highest id; a --backfill run of the past
# is never the latest.
LATEST_RUN = "(select id from runs order by as_of desc, id desc limit 1)"

QUERIES: dict[str, dict[str, str]] = {
    "open_cases": {
        "title": "Open cases",
        "description": (
            "Offboarding cases that are still open: proposed (waiting for an independent "
            "review, as `adieu pending` lists them) or approved (waiting for their "
            "effective date), earliest effective date first, with the customer's name and "
            "owner from the latest run that proposed the offboarding."),
        "sql": (
            "select c.id as case_id, c.customer_id,\n"
            "  json_extract(d.facts, '$.name') as name,\n"
            "  json_extract(d.facts, '$.owner') as owner,\n"
            "  c.state, c.opened_as_of, c.latest_run, c.latest_as_of, c.effective_date,\n"
            "  c.phase_out_start, c.timing_basis, c.fired, c.reviewer, c.reviewed_at,\n"
            "  c.review_note\n"
            "from cases c\n"
            "left join decisions d on d.run_id = c.latest_run and d.customer_id = c.customer_id\n"
            "where c.state in ('proposed', 'approved')\n"
            "order by c.effective_date, c.id"),
    },
    "strikes_by_segment": {
        "title": "Strikes by segment",
        "description": (
            "Strikes that stand (neither pardoned nor superseded, expired ones included) per "
            "segment and rule, most first. The segment is the value of the fact named in "
            "`fact` (default: industry; channel, size, tier or any other fact of the "
            "policy) in the facts of the run that recorded the strike; empty when the "
            "customer had no such fact then."),
        "sql": (
            "select (select f.value from json_each(d.facts) f\n"
            "    where f.key = coalesce(nullif(:fact, ''), 'industry')) as segment,\n"
            "  s.rule, count(*) as strikes, count(distinct s.customer_id) as customers\n"
            "from strikes s\n"
            "join decisions d on d.run_id = s.run_id and d.customer_id = s.customer_id\n"
            "where s.superseded_by_run is null and s.pardoned_at is null\n"
            "group by segment, s.rule\n"
            "order by strikes desc, segment, s.rule"),
    },
    "decisions_of_latest_run": {
        "title": "Decisions of the latest run",
        "description": (
            "Every decision of the latest run (the latest as-of date; a --backfill run of "
            "the past is never the latest), offboard first, then final notice, warn, held, "
            "watch, exempt and keep, by customer. Datasette shows at most "
            "max_returned_rows rows (1,000 by default) of a query: for a larger base, "
            "browse the decisions view filtered on run_id."),
        "sql": (
            "select d.run_id, r.as_of, d.customer_id,\n"
            "  json_extract(d.facts, '$.name') as name,\n"
            "  json_extract(d.facts, '$.owner') as owner,\n"
            "  d.outcome, d.base_outcome, d.severity, d.strikes, d.effective_date, d.reasons\n"
            "from decisions d join runs r on r.id = d.run_id\n"
            f"where d.run_id = {LATEST_RUN}\n"
            "order by case d.outcome when 'offboard' then 0 when 'final_notice' then 1\n"
            "  when 'warn' then 2 when 'held' then 3 when 'watch' then 4 when 'exempt' then 5\n"
            "  else 6 end, d.customer_id"),
    },
}


def plain(markdown: str) -> str:
    """Markdown of one paragraph or cell as plain text: links keep their
    text, code spans and emphasis lose their marks, `\\|` is `|`, runs of
    white space are one space."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    text = text.replace("\\|", "|")
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (a `\\|` inside a cell is not a separator)."""
    inner = line.strip()[1:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def sections(text: str) -> dict[str, str]:
    """The body of each `## `name`` section of docs/database.md, by name."""
    found = list(re.finditer(r"^## `([A-Za-z0-9_]+)`[ \t]*$", text, re.MULTILINE))
    out = {}
    for match in found:
        end = text.find("\n## ", match.end())
        out[match.group(1)] = text[match.end(): end if end != -1 else len(text)]
    return out


def parse_section(body: str) -> tuple[str, dict[str, str], str]:
    """(description, {column: description}, the prose) of one section: the
    first paragraph; the rows of the first table whose header starts with
    `| column |`; all text outside tables."""
    lines = body.strip("\n").splitlines()
    prose: list[str] = []
    columns: dict[str, str] = {}
    in_table = False
    for line in lines:
        if line.startswith("|"):
            cells = _cells(line)
            if cells and cells[0] == "column":
                in_table = True
                continue
            if in_table and set(cells[0]) <= {"-", ":"}:
                continue
            if in_table:
                names = re.findall(r"`([A-Za-z0-9_]+)`", cells[0])
                what = plain(cells[-1])
                kind = plain(cells[1]) if len(cells) == 3 else ""
                for name in names:
                    columns[name] = f"{kind}: {what}" if kind else what
            continue
        in_table = False
        prose.append(line)
    paragraphs = [p for p in "\n".join(prose).split("\n\n") if p.strip()]
    description = plain(paragraphs[0]) if paragraphs else ""
    return description, columns, "\n".join(prose)


def describe(text: str) -> dict[str, dict[str, Any]]:
    """{table: {"description": ..., "columns": {column: ...}}} from the
    text of docs/database.md. ValueError when a column's text refers to a
    table ("as in `decisions`") that does not describe it."""
    parsed = {name: parse_section(body) for name, body in sections(text).items()}
    tables: dict[str, dict[str, Any]] = {}
    for name, (description, columns, prose) in parsed.items():
        listed = re.search(r"Columns: ((?:`[A-Za-z0-9_]+`,?\s*)+)as in\s+`([A-Za-z0-9_]+)`",
                           prose)
        if not columns and listed:
            refer = listed.group(2)
            columns = {c: f"as in `{refer}`" for c in
                       re.findall(r"`([A-Za-z0-9_]+)`", listed.group(1))}
        resolved = {}
        for column, what in columns.items():
            refer = re.fullmatch(r"(?:[^:]*: )?as in `?([A-Za-z0-9_]+)`?", what)
            if refer:
                other = parsed.get(refer.group(1), ("", {}, ""))[1]
                if column not in other:
                    raise ValueError(f"docs/database.md, `{name}`.`{column}`: "
                                     f"`{refer.group(1)}` does not describe `{column}`")
                what = other[column]
            resolved[column] = what
        tables[name] = {"description": description, "columns": resolved}
    return tables


def metadata(text: str) -> dict[str, Any]:
    """The whole metadata document for the database named `adieu`."""
    return {
        "title": "adieu",
        "description": ("adieu's decisions, strikes, cases and audit trail. Tables and "
                        "columns are described in docs/database.md."),
        "databases": {
            "adieu": {
                "description": ("One row per run, per decision, per strike and per "
                                "audit entry; see the canned queries below."),
                "tables": describe(text),
                "queries": QUERIES,
            },
        },
    }


def generated() -> str:
    """The text datasette/metadata.yml must hold."""
    from adieu.datasette_meta import render  # the installed adieu (pip install -e .)
    head = ("# Generated by tools/datasette_metadata.py from docs/database.md: do not edit.\n"
            "# datasette adieu.db -m datasette/metadata.yml (docs/ops-guide.md, "
            "\"Browsing the database in Datasette\")\n")
    return head + render(metadata(DATABASE_DOC.read_text(encoding="utf-8")))


def main(argv: list[str]) -> int:
    text = generated()
    if argv[1:] == ["--check"]:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run python tools/datasette_metadata.py",
                  file=sys.stderr)
            return 1
        return 0
    if argv[1:]:
        print("usage: python tools/datasette_metadata.py [--check]", file=sys.stderr)
        return 2
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
