"""Bad input silently accepted (h13 finding P): a source option no reader
reads (`-o delimeter=;`, `options: {delimeter: ...}` in a mapping) and an
unknown key anywhere in a mapping file are errors, exit 2, one line naming
the option or key, the mapping's file and line, the known names and a
close match. Source kinds declare their options when they register
(`register(..., options=[...])`) and the engine checks them, for every
adapter: csv, salesforce, hubspot and third-party plugins. A plugin that
declares none has its options passed on unchecked, as before."""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path

import pluggy
import pytest
from click.testing import CliRunner

import adieu.plugins
import adieu_plugins.csv_source
from adieu import hookspecs
from adieu.cli import cli
from adieu.errors import InputError
from adieu.hookspecs import hookimpl
from adieu.plugins import collect, registry
from adieu.sources import SourceRecord, check_options
from adieu.testing import check_source

POLICY = """\
version: 1
name: p
rules:
  - id: a
    title: A
    when: abuse_incidents_12m > 0
    action: offboard
timing:
  contract_end_within_days: 0
  notice_days: 60
"""

# kind -> (a typo of one of its options, the option meant, a location)
TYPOS = {"csv": ("delimeter", "delimiter"),
         "salesforce": ("encodng", "encoding"),
         "hubspot": ("ticket_closed_stage", "ticket_closed_stages")}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def location(tmp_path: Path, kind: str) -> str:
    if kind == "csv":
        path = tmp_path / "c.csv"
        path.write_text("customer_id,abuse_incidents_12m\nA,1\n", encoding="utf-8")
        return str(path)
    folder = tmp_path / kind
    folder.mkdir()
    return str(folder)


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("kind", sorted(TYPOS))
def test_an_unknown_option_on_the_command_line_is_an_error(tmp_path: Path, kind: str) -> None:
    typo, meant = TYPOS[kind]
    where = location(tmp_path, kind)
    line = one_error_line(*run("facts", f"{kind}:{where}", "-o", f"{typo}=x"))
    assert f"unknown {kind} option {typo!r} given with -o (did you mean {meant!r}?)" in line
    assert f"known: {', '.join(sorted(registry().sources[kind].options or ()))}" in line
    line = one_error_line(*run("facts", f"{kind}:{where}", "-o", "bogus=1"))
    assert f"unknown {kind} option 'bogus'" in line and "did you mean" not in line


@pytest.mark.parametrize("kind", sorted(TYPOS))
def test_an_unknown_option_in_a_mapping_names_its_line(tmp_path: Path, kind: str) -> None:
    typo, meant = TYPOS[kind]
    mapping = tmp_path / "typo.yaml"
    mapping.write_text(f'version: 1\noptions:\n  encoding: utf-8\n  {typo}: ";"\nfields: {{}}\n',
                       encoding="utf-8")
    line = one_error_line(*run("facts", f"{kind}:{location(tmp_path, kind)}",
                               "--mapping", str(mapping)))
    assert line.startswith(f"Error: {mapping}:4:3: unknown {kind} option {typo!r} in the "
                           f"mapping's options (did you mean {meant!r}?); known: "), line


def test_evaluate_refuses_a_misspelt_option_before_reading(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    line = one_error_line(*run("evaluate", str(tmp_path / "p.yaml"), "--source",
                               f"csv:{location(tmp_path, 'csv')}", "-o", "encodng=cp1252",
                               "--db", str(tmp_path / "db.sqlite")))
    assert "unknown csv option 'encodng' given with -o (did you mean 'encoding'?)" in line
    assert not (tmp_path / "db.sqlite").exists()


def test_the_known_options_still_work(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("customer_id;abuse_incidents_12m\nA;1\n", encoding="utf-8")
    code, err = run("facts", f"csv:{path}", "-o", "delimiter=;", "-o", "encoding=utf-8",
                    "-o", "timezone=UTC")
    assert code == 0, err


def test_o_counts_for_every_source_of_the_command() -> None:
    """-o applies to every source: an option one of the kinds reads is known."""
    kinds = [registry().sources["csv"], registry().sources["hubspot"]]
    check_options({"ticket_closed_stages": "4", "delimiter": ";"}, kinds)
    with pytest.raises(InputError, match="unknown csv/hubspot option 'delimeter'"):
        check_options({"delimeter": ";"}, kinds)


@pytest.mark.parametrize(("text", "at", "key", "where", "meant"), [
    ("version: 1\nunmaped:\n  keep: true\n", "2:1", "unmaped", "at the top level", "unmapped"),
    ("version: 1\nunmapped:\n  kep: true\n", "3:3", "kep", "in unmapped", "keep"),
    ("version: 1\nfields:\n  Name:\n    fact: name\n    typ: string\n", "5:5", "typ",
     "in fields/Name", "type"),
    ("version: 1\nfeilds: {}\n", "2:1", "feilds", "at the top level", "fields"),
])
def test_an_unknown_mapping_key_names_its_line_and_the_known_keys(
        tmp_path: Path, text: str, at: str, key: str, where: str, meant: str) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text, encoding="utf-8")
    line = one_error_line(*run("facts", f"csv:{location(tmp_path, 'csv')}",
                               "--mapping", str(mapping)))
    assert line.startswith(f"Error: {mapping}:{at}: unknown key {key!r} {where} "
                           f"(did you mean {meant!r}?); known keys: "), line


# -- the plugin mechanism: declared options checked, undeclared passed on ------

def plugin(kind: str, options: object) -> types.ModuleType:
    module = types.ModuleType(f"adieu_{kind}")

    def read(location: str, context):  # noqa: ANN001, ANN202
        yield SourceRecord({"customer_id": "A", "echo": repr(sorted(context.options))},
                           location, 1, 2)

    @hookimpl
    def register_sources(register):
        if options is None:
            register(kind, read, "test source")
        else:
            register(kind, read, "test source", options=options)

    module.register_sources = register_sources
    return module


@pytest.fixture
def plugged(monkeypatch: pytest.MonkeyPatch) -> adieu.plugins.Registry:
    pm = pluggy.PluginManager("adieu")
    pm.add_hookspecs(hookspecs)
    pm.register(adieu_plugins.csv_source, name="csv")
    pm.register(plugin("declared", ["region", "page_size"]), name="declared")
    pm.register(plugin("legacy", None), name="legacy")
    pm.register(plugin("badopts", "region"), name="badopts")
    reg = collect(pm)
    monkeypatch.setattr(adieu.plugins, "_cached", reg)
    return reg


def test_a_plugin_that_declares_options_gets_them_checked(plugged, tmp_path: Path) -> None:
    assert plugged.sources["declared"].options == ("region", "page_size")
    line = one_error_line(*run("facts", "declared:x", "-o", "regoin=eu"))
    assert "unknown declared option 'regoin' given with -o (did you mean 'region'?); " \
           "known: page_size, region" in line
    code, err = run("facts", "declared:x", "-o", "region=eu")
    assert code == 0, err
    with pytest.raises(InputError, match="unknown declared option 'size'"):
        check_source(plugged.sources["declared"], "x", options={"size": "1"})


def test_a_plugin_that_declares_none_keeps_todays_behaviour(plugged) -> None:
    assert plugged.sources["legacy"].options is None
    result = CliRunner().invoke(cli, ["facts", "legacy:x", "-o", "anything=1"])
    assert result.exit_code == 0, result.stderr
    assert "['anything']" in result.output
    assert check_source(plugged.sources["legacy"], "x", as_of=dt.date(2026, 11, 1),
                        options={"whatever": "1"})


def test_options_must_be_a_list_of_names(plugged) -> None:
    assert "badopts" in plugged.broken and "give a list of names" in plugged.broken["badopts"]


@pytest.mark.parametrize(("text", "at"), [
    ('customer_id,name\nA,"open\nB,x\nC,y\n', 2),
    ('customer_id,name\nA,x\nB,"a ""b"" c\nC,y\n', 3),
    ('customer_id,"name\nA,x\n', 1),
])
def test_a_quote_never_closed_is_named_at_its_line(tmp_path: Path, text: str, at: int) -> None:
    """docs/sources.md: "A quote never closed stops the command at its line"
    (it named the end of the file)."""
    path = tmp_path / "q.csv"
    path.write_text(text, encoding="utf-8")
    line = one_error_line(*run("facts", f"csv:{path}"))
    assert line.startswith(f"Error: {path}:{at}: malformed CSV: a quote opened in the record "
                           "starting at this line is never closed"), line
