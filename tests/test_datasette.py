"""Browsing the database in Datasette with adieu's metadata.yml.

One real `datasette serve` (the `datasette` extra) on a free local port,
shared by the module, over examples/scenario's year of runs (written
in-process by tests/scenario_inprocess.py) plus a --backfill run of June,
so the run with the highest id is not the latest run. Each canned query's
rows are compared with the same answer computed here in Python from the
database's rows (sqlite3, json), not with the query's SQL; the table and
column descriptions must show on the table pages. Then the generator
(tools/datasette_metadata.py): the committed file is not stale, covers
every table and column of a real database, and reads the forms of
docs/database.md it must (several columns in one row, "as in `table`",
a `Columns:` list). And `adieu datasette-metadata`."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from scenario_inprocess import ROOT, build

from adieu.cli import cli
from adieu.datasette_meta import metadata_path

DATASETTE = Path(sys.executable).parent / "datasette"
OPEN_STATES = {"proposed", "approved"}
OUTCOME_ORDER = ["offboard", "final_notice", "warn", "held", "watch", "exempt", "keep"]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "datasette_metadata_tool", ROOT / "tools" / "datasette_metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _tool()


def adieu(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("datasette") / "scenario"
    path = build(folder)
    adieu("evaluate", str(folder / "scenario.yaml"), "--source",
          f"csv:{folder}/snapshots/2026-06-01.csv", "--as-of", "2026-06-01", "--backfill",
          "--db", str(path), "-q")
    with sqlite3.connect(path) as conn:
        assert conn.execute("select id, as_of from runs order by id desc limit 1").fetchone() \
            == (13, "2026-06-01")
    return path


@pytest.fixture(scope="module")
def server(db: Path):
    """The base URL of `datasette serve DB -m METADATA -p 0` (the metadata
    printed by `adieu datasette-metadata --db DB`), stopped afterwards."""
    meta = db.parent / "metadata.yml"
    meta.write_text(adieu("datasette-metadata", "--db", str(db)), encoding="utf-8")
    process = subprocess.Popen(
        [str(DATASETTE), "serve", str(db), "-m", str(meta), "--host", "127.0.0.1", "-p", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in process.stderr:  # uvicorn: "Uvicorn running on http://127.0.0.1:PORT"
            seen.append(line)
            found = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                break
        else:
            pytest.fail("datasette did not start:\n" + "".join(seen))
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read().decode("utf-8")


def query(server: str, name: str, **params: str) -> list[dict]:
    args = urllib.parse.urlencode({**params, "_shape": "array"})
    return json.loads(get(f"{server}/scenario/{name}.json?{args}"))


def rows(db: Path, sql: str) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def facts_by_decision(db: Path) -> dict[tuple[int, str], dict]:
    return {(r["run_id"], r["customer_id"]): json.loads(r["facts"] or "{}")
            for r in rows(db, "select run_id, customer_id, facts from decisions")}


# -- the canned queries -----------------------------------------------------

def test_open_cases_lists_proposed_and_approved_cases_with_name_and_owner(server, db):
    facts = facts_by_decision(db)
    cases = [c for c in rows(db, "select * from cases") if c["state"] in OPEN_STATES]
    cases.sort(key=lambda c: (c["effective_date"], c["id"]))
    expected = [(c["id"], c["customer_id"], c["state"], c["effective_date"],
                 facts[(c["latest_run"], c["customer_id"])].get("name"),
                 facts[(c["latest_run"], c["customer_id"])].get("owner")) for c in cases]
    got = [(r["case_id"], r["customer_id"], r["state"], r["effective_date"], r["name"],
            r["owner"]) for r in query(server, "open_cases")]
    assert got == expected
    # the scenario's approved offboardings: Alder's (approved in June) took
    # effect in August, so only Dogwood's (December) is open
    assert [(g[1], g[2], g[4], g[5]) for g in got] == [
        ("CUST-D", "approved", "Dogwood Foods Inc.", "David Kim")]
    assert [c["state"] for c in rows(db, "select state from cases where customer_id = 'CUST-A'")] \
        == ["effective"]


def expected_strikes_by(db: Path, fact: str) -> list[tuple]:
    facts = facts_by_decision(db)
    strikes = [s for s in rows(db, "select * from strikes")
               if s["superseded_by_run"] is None and s["pardoned_at"] is None]
    counted: Counter = Counter()
    customers: dict[tuple, set] = {}
    for s in strikes:
        key = (facts[(s["run_id"], s["customer_id"])].get(fact), s["rule"])
        counted[key] += 1
        customers.setdefault(key, set()).add(s["customer_id"])
    return sorted(((seg, rule, n, len(customers[(seg, rule)]))
                   for (seg, rule), n in counted.items()),
                  key=lambda t: (-t[2], t[0] is not None, t[0] or "", t[1]))


@pytest.mark.parametrize("fact", [None, "industry", "channel", "size", "no_such_fact"])
def test_strikes_by_segment_counts_standing_strikes_per_fact_value_and_rule(server, db, fact):
    params = {} if fact is None else {"fact": fact}
    got = [(r["segment"], r["rule"], r["strikes"], r["customers"])
           for r in query(server, "strikes_by_segment", **params)]
    expected = expected_strikes_by(db, fact or "industry")
    assert got == expected
    standing = rows(db, "select count(*) as n from strikes where pardoned_at is null "
                        "and superseded_by_run is null")[0]["n"]
    assert sum(g[2] for g in got) == standing
    assert standing < rows(db, "select count(*) as n from strikes")[0]["n"]  # Gorse's pardon


def test_strikes_by_segment_of_the_scenario_by_industry(server):
    got = {(r["segment"], r["rule"]): r["strikes"]
           for r in query(server, "strikes_by_segment")}
    assert got[("hospitality", "late-payments")] == 3  # Dogwood: August, October, December
    assert "manufacturing" not in {segment for segment, _ in got}  # Gorse's strike: pardoned
    assert all(segment is not None for segment, _ in got)


def test_decisions_of_the_latest_run_are_those_of_the_latest_as_of_date(server, db):
    runs = rows(db, "select id, as_of from runs")
    latest = max(runs, key=lambda r: (r["as_of"], r["id"]))
    assert latest["id"] == 12  # not 13, the June backfill
    decided = [r for r in rows(db, "select run_id, customer_id, outcome, strikes, facts "
                                   "from decisions") if r["run_id"] == latest["id"]]
    decided.sort(key=lambda r: (OUTCOME_ORDER.index(r["outcome"]), r["customer_id"]))
    expected = [(latest["id"], latest["as_of"], r["customer_id"], r["outcome"], r["strikes"],
                 json.loads(r["facts"])["name"]) for r in decided]
    got = [(r["run_id"], r["as_of"], r["customer_id"], r["outcome"], r["strikes"], r["name"])
           for r in query(server, "decisions_of_latest_run")]
    assert got == expected
    assert len(got) == 8 and got[0][2:4] == ("CUST-D", "offboard")


# -- descriptions on the pages ------------------------------------------------

def shown_columns(page: str) -> dict[str, str]:
    block = re.search(r'<dl class="column-descriptions">(.*?)</dl>', page, re.DOTALL)
    assert block, "no column descriptions on the page"
    return {html.unescape(k): html.unescape(v) for k, v in
            re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block.group(1), re.DOTALL)}


@pytest.mark.parametrize("table", ["runs", "decisions", "cases", "strikes", "audit"])
def test_table_pages_show_the_descriptions_of_docs_database_md(server, table):
    meta = yaml.safe_load(metadata_path().read_text(encoding="utf-8"))
    wanted = meta["databases"]["adieu"]["tables"][table]
    page = get(f"{server}/scenario/{table}")
    assert html.escape(wanted["description"], quote=False) in html.unescape(page) or \
        wanted["description"] in html.unescape(page)
    assert shown_columns(page) == wanted["columns"]


def test_the_canned_queries_are_listed_with_their_titles(server):
    page = html.unescape(get(f"{server}/scenario"))
    for title in ("Open cases", "Strikes by segment", "Decisions of the latest run"):
        assert title in page


def test_serving_changed_nothing(server, db):
    query(server, "open_cases")
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    assert result.exit_code == 0, result.output


# -- the generated file --------------------------------------------------------

def test_the_committed_metadata_is_generated_from_docs_database_md():
    committed = (ROOT / "datasette" / "metadata.yml").read_text(encoding="utf-8")
    assert committed == tool.generated(), "run: python tools/datasette_metadata.py"


def test_the_metadata_describes_every_table_and_column_of_a_database(db):
    tables = yaml.safe_load(metadata_path().read_text(encoding="utf-8"))[
        "databases"]["adieu"]["tables"]
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute(
            "select name from sqlite_master where type in ('table', 'view') "
            "and name not like 'sqlite_%'")]
        for name in names:
            assert tables.get(name, {}).get("description"), f"table {name} undescribed"
            columns = [r[1] for r in conn.execute(f"pragma table_info([{name}])")]
            undescribed = [c for c in columns if not tables[name]["columns"].get(c)]
            assert not undescribed, f"{name}: {undescribed}"
    finally:
        conn.close()


DOC = """\
# The database

## `alpha`

First paragraph of alpha,
over two lines with `code` and a [link](other.md#x).

Second paragraph, not the description.

| column | type | what it holds |
|---|---|---|
| `id` | integer | a number \\| with a bar |
| `a`, `b` | | as in `beta` |

## `beta`

Beta.

| column | type | what it holds |
|---|---|---|
| `a` | text | beta's a |
| `b` | JSON list | beta's **b** |

## `gamma`

Old rows. Columns: `a`, `b`, as in
`beta`.
"""


def test_the_generator_reads_each_form_of_a_section():
    tables = tool.describe(DOC)
    assert tables["alpha"] == {
        "description": "First paragraph of alpha, over two lines with code and a link.",
        "columns": {"id": "integer: a number | with a bar", "a": "text: beta's a",
                    "b": "JSON list: beta's b"}}
    assert tables["gamma"]["columns"] == {"a": "text: beta's a", "b": "JSON list: beta's b"}
    assert tables["beta"]["description"] == "Beta."


def test_the_generator_refuses_a_reference_to_a_column_not_described_there():
    broken = DOC.replace("| `a`, `b` | | as in `beta` |", "| `c` | | as in `beta` |")
    with pytest.raises(ValueError, match=r"`alpha`.`c`: `beta` does not describe `c`"):
        tool.describe(broken)


# -- adieu datasette-metadata ---------------------------------------------------

@pytest.mark.parametrize("db_file, name", [
    ("adieu.db", "adieu"), ("/srv/adieu/prod.db", "prod"), ("archive.2026.db", "archive.2026"),
    ('we: ird "#x".sqlite', 'we: ird "#x"'), ("no_suffix", "no_suffix")])
def test_datasette_metadata_names_the_database_as_datasette_does(db_file, name):
    printed = yaml.safe_load(adieu("datasette-metadata", "--db", db_file))
    shipped = yaml.safe_load(metadata_path().read_text(encoding="utf-8"))
    assert list(printed["databases"]) == [name]
    assert printed["databases"][name] == shipped["databases"]["adieu"]


def test_datasette_metadata_default_and_path(monkeypatch, tmp_path):
    monkeypatch.delenv("ADIEU_DB", raising=False)
    assert adieu("datasette-metadata") == metadata_path().read_text(encoding="utf-8")
    monkeypatch.setenv("ADIEU_DB", str(tmp_path / "env.db"))
    assert list(yaml.safe_load(adieu("datasette-metadata"))["databases"]) == ["env"]
    assert Path(adieu("datasette-metadata", "--path").strip()) == metadata_path()
    assert metadata_path().is_file()


def test_datasette_metadata_refuses_a_shipped_file_not_in_the_generated_form(
        monkeypatch, tmp_path):
    from adieu import datasette_meta
    broken = tmp_path / "metadata.yml"
    broken.write_text("title: adieu\ndatabases:\n  other:\n    tables: {}\n", encoding="utf-8")
    monkeypatch.setattr(datasette_meta, "metadata_path", lambda: broken)
    result = CliRunner().invoke(cli, ["datasette-metadata", "--db", "x.db"])
    assert result.exit_code == 2
    assert result.output == (f"Error: {broken}: not the metadata file "
                             "tools/datasette_metadata.py writes (no `databases: adieu:` "
                             "key)\n")
    broken.unlink()
    result = CliRunner().invoke(cli, ["datasette-metadata", "--db", "x.db"])
    assert result.exit_code == 2
    assert result.output == (f"Error: {broken}: cannot read adieu's Datasette metadata: "
                             "No such file or directory\n")
