"""Plugins: the example third-party plugin installs and works end to end; the
built-in csv plugin registers like any other; broken plugins are reported by
name without stopping the rest; ADIEU_LOAD_PLUGINS restricts loading; the
hook reference in docs/plugins.md is the hook docstrings; the conformance kit
catches bad readers."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import inspect
import json
import re
import site
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest
from click.testing import CliRunner
from throwaway_env import Throwaway

import adieu
import adieu.plugins
import adieu_plugins.csv_source
from adieu import InputError, Location, SourceContext, SourceRecord, hookimpl, hookspecs
from adieu.cli import cli
from adieu.plugins import ENTRY_POINT_GROUP, collect, make_manager
from adieu.testing import check_plugin, check_source

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "adieu-billing"
SAMPLE = "examples/plugins/adieu-billing/sample.jsonl"  # relative: commands run in ROOT
DOC = ROOT / "docs" / "plugins.md"

CSV = "customer_id,revenue_12m,late_payments_12m\nC-1,1000,0\nC-2,2000,5\n"


def hooks() -> dict[str, object]:
    """Every hook specification in adieu.hookspecs, by name."""
    return {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "adieu_spec")}


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI builds its registry anew in this test; the old one comes back after."""
    monkeypatch.setattr(adieu.plugins, "_cached", None)


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


# -- (a) the example plugin, installed like a user would --------------------

def _installed_from_example(site: Path) -> bool:
    dists = [d for d in importlib.metadata.distributions(path=[str(site)])
             if d.metadata["Name"] == "adieu-billing"]
    if len(dists) != 1:
        return False
    dist = dists[0]
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    entry_points = {(ep.group, ep.name, ep.value) for ep in dist.entry_points}
    return (dist.version == "0.1.0" and direct.get("url") == EXAMPLE.as_uri()
            and direct.get("dir_info", {}).get("editable") is True
            and (ENTRY_POINT_GROUP, "billing", "adieu_billing") in entry_points)


@pytest.fixture(scope="module")
def billing_env(tmp_path_factory: pytest.TempPathFactory) -> Throwaway:
    """`pip install -e examples/plugins/adieu-billing` into a throwaway
    environment that shares this one's packages, as a plugin author would;
    the user's .venv never has it installed, and it is gone after the run."""
    env = Throwaway(tmp_path_factory.mktemp("billing"))
    env.pip_install_billing()
    assert _installed_from_example(env.site)
    return env


@pytest.fixture(scope="module")
def billing_installed(billing_env: Throwaway) -> dict[str, str]:
    """The environment to run commands in, with the plugin installed."""
    return billing_env.env()


def adieu_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["adieu", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def test_adieu_plugins_lists_the_installed_billing_plugin(billing_installed):
    out = adieu_cli(billing_installed, "plugins", "--json")
    assert out.returncode == 0, out.stderr
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    assert listed["billing"] == {
        "name": "billing", "version": "adieu-billing 0.1.0",
        "hooks": ["register_functions", "register_sources"],
        "sources": ["billing"], "functions": ["fx_to_eur"]}
    assert listed["csv"]["sources"] == ["csv"]
    assert not any("error" in p for p in listed.values())


def test_adieu_facts_reads_the_billing_export(billing_installed):
    out = adieu_cli(billing_installed, "facts", f"billing:{SAMPLE}", "--json")
    assert out.returncode == 0, out.stderr
    facts = {row["customer_id"]: row for row in json.loads(out.stdout)}
    assert sorted(facts) == [f"CUST-000{i}" for i in range(1, 8)]
    gbp = facts["CUST-0003"]
    assert (gbp["outstanding_balance"], gbp["currency"], gbp["late_payments_12m"],
            gbp["payment_terms_days"]) == (4500.0, "GBP", 0, 30)
    assert gbp["_provenance"]["outstanding_balance"] == f"{SAMPLE} row 3, amount_due"
    assert "tags" not in facts["CUST-0006"]  # the mapping keeps listed fields only
    # The line that is JSON but not an object is a reject, by line and row.
    assert f"rejected: {SAMPLE}:9: row 8: expected a JSON object, got list" in out.stderr


def test_adieu_evaluate_decides_in_eur_through_fx_to_eur(billing_installed, tmp_path):
    out = adieu_cli(billing_installed, "evaluate", "examples/plugins/adieu-billing/policy.yaml",
                    "--source", f"billing:{SAMPLE}", "--db", str(tmp_path / "b.db"),
                    "--as-of", "2026-11-01", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    decisions = {d["customer_id"]: d for d in result["decisions"]}
    outcomes = {cid: d["outcome"] for cid, d in decisions.items()}
    assert outcomes == {
        "CUST-0001": "keep",
        "CUST-0002": "keep",          # 5,400 USD is 4,968 EUR: under the 5,000 EUR limit
        "CUST-0003": "warn",          # 4,500 GBP is 5,265 EUR: over it
        "CUST-0004": "final_notice",  # late payer owing 7,200 EUR: two strikes
        "CUST-0005": "watch",         # BRL has no rate: the balance rule is unknown
        "CUST-0006": "keep",          # 40,000 SEK is 3,520 EUR
        "CUST-0007": "watch",         # asks for 60 days instead of 30
    }
    fired = decisions["CUST-0003"]["fired"]
    assert [(f["rule"], f["figures"]["balance_eur"]) for f in fired] == \
        [("large-balance", 5265.0)]
    assert "5,265.00 EUR" in fired[0]["explanation"]
    assert [u["rule"] for u in decisions["CUST-0005"]["unknown"]] == ["large-balance"]
    assert result["rejects"] == [{
        "file": SAMPLE, "row": 8, "line": 9, "customer_id": None, "field": None,
        "value": None, "reason": "expected a JSON object, got list"}]


def test_the_allowlist_hides_the_installed_plugin_from_the_cli(billing_installed):
    env = {**billing_installed, "ADIEU_LOAD_PLUGINS": "csv"}
    out = adieu_cli(env, "plugins", "--json")
    assert [p["name"] for p in json.loads(out.stdout)] == ["csv"]
    out = adieu_cli(env, "facts", f"billing:{SAMPLE}")
    assert out.returncode == 2
    assert "unknown source kind 'billing'" in out.stderr
    assert "(known kinds: csv)" in out.stderr
    out = adieu_cli({**env, "ADIEU_LOAD_PLUGINS": "billing,csv"}, "facts", f"nope:{SAMPLE}")
    assert out.returncode == 2
    assert "(known kinds: billing, csv)" in out.stderr


def test_the_example_plugins_own_tests_pass(billing_installed):
    out = subprocess.run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests"], capture_output=True, text=True, cwd=EXAMPLE,
                         env=billing_installed, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^\d+ passed", out.stdout.splitlines()[-1]), out.stdout
    assert "failed" not in out.stdout and "skipped" not in out.stdout


def test_the_installed_plugin_loads_in_this_process_too(billing_env, monkeypatch):
    monkeypatch.delenv("ADIEU_LOAD_PLUGINS", raising=False)
    # This process reads the throwaway environment's site-packages (and its
    # editable-install .pth file) as if it were its own, for this test only.
    monkeypatch.setattr(sys, "path", list(sys.path))
    site.addsitedir(str(billing_env.site))
    importlib.invalidate_caches()
    reg = adieu.plugins.registry(refresh=True)
    try:
        assert reg.broken == {}
        assert reg.sources["billing"].plugin == "billing"
        assert reg.functions["fx_to_eur"].fn(100, "USD") == 92.0
    finally:
        adieu.plugins.registry(refresh=True)


# -- (b) the built-in plugins register like any other ----------------------

def test_builtin_plugins_come_from_the_entry_point_group(monkeypatch):
    monkeypatch.setenv("ADIEU_LOAD_PLUGINS", "csv")
    [ep] = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
            if ep.name == "csv"]
    assert ep.value == "adieu_plugins.csv_source"
    pm, broken, versions = make_manager()
    pm.check_pending()  # no hook implementation without a specification
    assert broken == {}
    assert pm.get_plugin("csv") is adieu_plugins.csv_source
    assert versions == {"csv": f"adieu {adieu.__version__}"}
    reg = collect(pm, broken, versions)
    assert reg.sources["csv"].plugin == "csv"
    assert Path(reg.sources["csv"].mapping).name == "csv.yaml"


def test_every_installed_plugin_implements_known_hooks_only(monkeypatch):
    monkeypatch.delenv("ADIEU_LOAD_PLUGINS", raising=False)
    pm, broken, _ = make_manager()
    pm.check_pending()
    assert "csv" in {name for name, _ in pm.list_name_plugin()}


def test_check_pending_would_catch_a_misspelt_hook():
    pm, _, _ = make_manager()
    typo = types.ModuleType("typo_plugin")
    typo.register_sauces = hookimpl(lambda register: None)
    pm.register(typo, name="typo")
    with pytest.raises(pluggy.PluginValidationError, match="register_sauces"):
        pm.check_pending()


def test_without_entry_points_there_is_no_csv_kind(monkeypatch):
    """Nothing is hard-wired: the csv kind exists only through its entry point."""
    monkeypatch.delenv("ADIEU_LOAD_PLUGINS", raising=False)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [])
    pm, broken, _ = make_manager()
    assert collect(pm, broken).sources == {}


# -- (c) broken plugins are reported by name, the rest go on ----------------

def fresh_manager(*plugins: tuple[str, object]) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("adieu")
    pm.add_hookspecs(hookspecs)
    pm.register(adieu_plugins.csv_source, name="csv")
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return pm


def failing_plugin() -> types.ModuleType:
    module = types.ModuleType("adieu_failing")

    @hookimpl
    def register_sources(register):
        raise RuntimeError("no licence key")

    module.register_sources = register_sources
    return module


def test_a_plugin_whose_hook_raises_is_reported_and_csv_still_works():
    reg = collect(fresh_manager(("failing", failing_plugin())))
    assert reg.broken == {"failing": "register_sources failed: RuntimeError: no licence key"}
    assert "failing" not in reg.provided
    assert list(reg.sources) == ["csv"]


def test_what_a_failing_plugin_registered_before_it_failed_is_dropped():
    half = types.ModuleType("adieu_half")

    @hookimpl
    def register_sources(register):
        register("half", lambda location, context: iter(()), "half a plugin")

    @hookimpl
    def register_functions(register):
        raise ValueError("boom")

    half.register_sources, half.register_functions = register_sources, register_functions
    reg = collect(fresh_manager(("half", half)))
    assert reg.broken == {"half": "register_functions failed: ValueError: boom"}
    assert sorted(reg.sources) == ["csv"]


def test_a_bad_registration_is_reported_by_plugin_name():
    clash = types.ModuleType("adieu_clash")

    @hookimpl
    def register_sources(register):
        register("csv", lambda location, context: iter(()), "another csv")

    clash.register_sources = register_sources
    reg = collect(fresh_manager(("clash", clash)))
    assert reg.broken == {"clash": "register_sources failed: ValueError: source kind 'csv' "
                                   "is already registered by csv"}
    assert reg.sources["csv"].plugin == "csv"


def fake_entry_points(*extra: importlib.metadata.EntryPoint):
    """entry_points() that finds the real csv entry point and the given ones."""
    real = importlib.metadata.entry_points

    def entry_points(**kw):
        found = [ep for ep in real(**kw) if ep.name == "csv"]
        return found + [ep for ep in extra if ep.group == kw.get("group")]
    return entry_points


GHOST = importlib.metadata.EntryPoint(name="ghost", value="adieu_ghost_plugin_not_here",
                                      group=ENTRY_POINT_GROUP)


def test_an_entry_point_that_fails_to_import_is_reported_by_name(monkeypatch):
    monkeypatch.delenv("ADIEU_LOAD_PLUGINS", raising=False)
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points(GHOST))
    pm, broken, versions = make_manager()
    assert broken == {"ghost": "ModuleNotFoundError: No module named "
                               "'adieu_ghost_plugin_not_here'"}
    assert "ghost" not in versions
    reg = collect(pm, broken, versions)
    assert reg.broken == broken
    assert list(reg.sources) == ["csv"]


def test_the_cli_lists_a_broken_plugin_and_still_reads_csv(monkeypatch, fresh_registry,
                                                            customers):
    monkeypatch.delenv("ADIEU_LOAD_PLUGINS", raising=False)
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points(GHOST))
    runner = CliRunner()
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert listed["ghost"]["error"].startswith("ModuleNotFoundError: ")
    assert listed["ghost"]["sources"] == [] and listed["ghost"]["version"] is None
    assert listed["csv"]["sources"] == ["csv"] and "error" not in listed["csv"]
    result = runner.invoke(cli, ["plugins"])
    assert "ghost (not loaded)\n  error: ModuleNotFoundError: " in result.output
    result = runner.invoke(cli, ["facts", f"csv:{customers}", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["customer_id"] for r in json.loads(result.output)] == ["C-1", "C-2"]


# -- (d) ADIEU_LOAD_PLUGINS restricts loading -------------------------------

def extra_plugin() -> types.ModuleType:
    module = types.ModuleType("adieu_test_extra")

    @hookimpl
    def register_functions(register):
        register("double", lambda x: x * 2, returns="number", min_args=1, max_args=1)

    module.register_functions = register_functions
    return module


EXTRA = importlib.metadata.EntryPoint(name="extra", value="adieu_test_extra",
                                      group=ENTRY_POINT_GROUP)


@pytest.mark.parametrize(("allow", "loaded"), [
    (None, ["csv", "extra"]),
    ("csv", ["csv"]),
    ("extra", ["extra"]),
    (" extra , csv ,", ["csv", "extra"]),
    ("", []),
    ("nonesuch", []),
])
def test_the_allowlist_restricts_loading(monkeypatch, allow, loaded):
    monkeypatch.setitem(sys.modules, "adieu_test_extra", extra_plugin())
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points(EXTRA, GHOST))
    if allow is None:
        monkeypatch.delenv("ADIEU_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("ADIEU_LOAD_PLUGINS", allow)
    pm, broken, _ = make_manager()
    assert sorted(name for name, _ in pm.list_name_plugin()) == loaded
    # The ghost entry point is only tried, and reported, when allowed.
    assert list(broken) == (["ghost"] if allow is None else [])
    reg = collect(pm, broken)
    assert ("double" in reg.functions) == ("extra" in loaded)
    assert ("csv" in reg.sources) == ("csv" in loaded)


# -- (e) an unknown source kind ---------------------------------------------

@pytest.mark.parametrize("command", ["facts", "evaluate"])
def test_an_unknown_source_kind_exits_2_listing_known_kinds(monkeypatch, fresh_registry,
                                                             tmp_path, command):
    monkeypatch.setenv("ADIEU_LOAD_PLUGINS", "csv")
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: p\nrules:\n  - id: late\n    when: "
                      "late_payments_12m > 3\n    action: flag\n", encoding="utf-8")
    args = (["facts", "salesfarce:export.zip"] if command == "facts" else
            ["evaluate", str(policy), "--source", "salesfarce:export.zip",
             "--db", str(tmp_path / "x.db")])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "unknown source kind 'salesfarce' in 'salesfarce:export.zip' " \
           "(known kinds: csv)" in result.output
    assert not (tmp_path / "x.db").exists()


def test_a_source_without_a_kind_exits_2(monkeypatch, fresh_registry):
    monkeypatch.setenv("ADIEU_LOAD_PLUGINS", "csv")
    result = CliRunner().invoke(cli, ["facts", "customers.csv"])
    assert result.exit_code == 2
    assert "must be KIND:LOCATION" in result.output and "(known kinds: csv)" in result.output


def test_with_no_plugin_loaded_the_error_says_so(monkeypatch, fresh_registry):
    monkeypatch.setenv("ADIEU_LOAD_PLUGINS", "")
    result = CliRunner().invoke(cli, ["facts", "csv:customers.csv"])
    assert result.exit_code == 2
    assert "(known kinds: none installed)" in result.output


# -- (f) the hook reference and the conformance kit -------------------------

def generated_section(text: str, marker: str) -> tuple[str, str]:
    """(generator code, generated text) of the cog block whose code mentions marker."""
    for m in re.finditer(r"<!-- \[\[\[cog\n(.*?)\]\]\] -->\n(.*?)<!-- \[\[\[end\]\]\] -->",
                         text, re.DOTALL):
        if marker in m.group(1):
            return m.group(1), m.group(2)
    raise AssertionError(f"no generated section for {marker} in {DOC}")


def run_generator(code: str) -> str:
    """What `cog` would write for the code (cog.outl appends a line)."""
    lines: list[str] = []
    cog = types.SimpleNamespace(outl=lambda s="": lines.append(f"{s}\n"),
                                out=lines.append)
    exec(compile(code, str(DOC), "exec"), {"cog": cog})
    return "".join(lines)


@pytest.mark.parametrize("marker", ["hookspecs", "SourceRecord"])
def test_generated_doc_sections_are_not_stale(marker):
    code, generated = generated_section(DOC.read_text(encoding="utf-8"), marker)
    assert generated == run_generator(code), \
        f"docs/plugins.md is stale: run .venv/bin/cog -r docs/plugins.md ({marker})"


def test_every_hook_is_documented_with_its_signature_and_docstring():
    text = DOC.read_text(encoding="utf-8")
    _, reference = generated_section(text, "hookspecs")
    assert set(hooks()) == {"register_sources", "register_functions"}
    for name, fn in hooks().items():
        heading = f"### `{name}{inspect.signature(fn)}`"
        assert heading in reference, f"no heading {heading!r} in docs/plugins.md"
        assert inspect.getdoc(fn) in reference, f"docstring of {name} not in docs/plugins.md"
    documented = set(re.findall(r"^### `(\w+)\(", reference, re.MULTILINE))
    assert documented == set(hooks()), "docs/plugins.md documents hooks that do not exist"


def test_every_record_and_context_field_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for cls in (SourceRecord, SourceContext):
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in text, f"{cls.__name__}.{f.name} not in docs/plugins.md"


def test_the_tutorial_files_are_the_example_files():
    """Blocks titled with a path add up (joined by two blank lines) to that file."""
    text = DOC.read_text(encoding="utf-8")
    pieces: dict[str, list[str]] = {}
    for m in re.finditer(r'^```\w* title="([^"]+)"\n(.*?)^```$', text, re.MULTILINE | re.DOTALL):
        pieces.setdefault(m.group(1), []).append(m.group(2))
    tracked = subprocess.run(["git", "ls-files", "examples/plugins/adieu-billing"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked, "examples/plugins/adieu-billing is not in git"
    assert sorted(pieces) == sorted(tracked), "the tutorial must write every file, no other"
    for path, parts in pieces.items():
        assert "\n\n".join(parts) == (ROOT / path).read_text(encoding="utf-8"), \
            f"docs/plugins.md does not add up to {path}"


def _plugin_with_reader(reader) -> types.SimpleNamespace:
    @hookimpl
    def register_sources(register):
        register("lines", reader, "one customer id per line")
    return types.SimpleNamespace(register_sources=register_sources)


def _lines(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    with open(location, encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            yield SourceRecord(json.loads(line), location, n, n)


def _listing(location: str, context: SourceContext) -> list[SourceRecord]:
    return list(_lines(location, context))


def _lines_checked(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    try:
        yield from _lines(location, context)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", Location(location, line=exc.lineno)) from None


@pytest.fixture
def jsonl(tmp_path: Path) -> tuple[str, str]:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text('{"customer_id": "C-1"}\n{"customer_id": "C-2"}\n', encoding="utf-8")
    bad.write_text('{"customer_id": "C-1"}\n{"customer_id": \n', encoding="utf-8")
    return str(good), str(bad)


def test_the_kit_passes_a_good_reader(jsonl):
    good, bad = jsonl
    records = check_source(_plugin_with_reader(_lines_checked), good, bad_location=bad)
    assert [r.customer_id for r in records] == ["C-1", "C-2"]


def test_the_kit_catches_a_reader_that_returns_a_list(jsonl):
    with pytest.raises(AssertionError, match="reader must stream .* got list"):
        check_source(_plugin_with_reader(_listing), jsonl[0])


def test_the_kit_catches_a_reader_that_raises_valueerror_on_bad_input(jsonl):
    good, bad = jsonl
    with pytest.raises(AssertionError, match="bad input raised JSONDecodeError.*InputError"):
        check_source(_plugin_with_reader(_lines), good, bad_location=bad)


def test_the_kit_catches_an_unknown_hook_and_a_missing_description():
    typo = types.SimpleNamespace(register_source=hookimpl(lambda register: None))
    with pytest.raises(AssertionError, match="hooks do not match"):
        check_plugin(typo)

    @hookimpl
    def register_sources(register):
        register("lines", _lines_checked, "")
    with pytest.raises(AssertionError, match="has no description"):
        check_plugin(types.SimpleNamespace(register_sources=register_sources))
