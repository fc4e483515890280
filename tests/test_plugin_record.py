"""A run records the plugins it used (runs.plugins); with a plugin function
the policy calls uninstalled later, explain shows the stored figures and
reasons and says which plugin is gone, and replay says exactly which plugin
and version it needs (exit 2).

The real example plugin (examples/plugins/adieu-billing) is installed, as
version 0.3.0, into a throwaway virtual environment that shares this
environment's packages but not its own copy of adieu-billing; removing its
dist-info and package from there uninstalls it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from throwaway_env import Throwaway

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "adieu-billing"
POLICY = EXAMPLE / "policy.yaml"
SAMPLE = EXAMPLE / "sample.jsonl"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Throwaway, Path]:
    """A run of the billing policy over the billing sample, made with
    adieu-billing 0.3.0 installed, which is then uninstalled."""
    tmp = tmp_path_factory.mktemp("plugin_record")
    env = Throwaway(tmp)
    env.install_billing("0.3.0")
    out = env.adieu(tmp, "evaluate", str(POLICY), "--source", f"billing:{SAMPLE}",
                    "--db", "b.db", "--as-of", "2026-11-01")
    assert out.returncode == 0, out.stderr
    listed = env.adieu(tmp, "replay", "1", "--db", "b.db")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    env.uninstall_billing()
    return env, tmp


def runs_plugins(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        return json.loads(conn.execute("select plugins from runs where id = 1").fetchone()[0])
    finally:
        conn.close()


def test_a_run_records_the_plugins_it_used(recorded):
    env, tmp = recorded
    assert runs_plugins(tmp / "b.db") == [
        {"plugin": "billing", "name": "adieu-billing", "version": "0.3.0",
         "provides": ["source billing", "function fx_to_eur"]}]


def test_a_csv_run_records_the_builtin_plugin_only(recorded):
    env, tmp = recorded
    (tmp / "c.csv").write_text("customer_id,late_payments_12m\nC-1,0\n", encoding="utf-8")
    (tmp / "p.yaml").write_text(
        "version: 1\nname: p\nrules:\n  - id: late\n    title: Late\n"
        "    when: late_payments_12m > 3\n    action: strike\n    severity: low\n",
        encoding="utf-8")
    out = env.adieu(tmp, "evaluate", "p.yaml", "--source", "csv:c.csv", "--db", "c.db",
                    "--as-of", "2026-11-01", "--json")
    assert out.returncode == 0, out.stderr
    version = json.loads(out.stdout)["run"]["plugins"][0]["version"]
    assert runs_plugins(tmp / "c.db") == [
        {"plugin": "csv", "name": "adieu", "version": version, "provides": ["source csv"]}]


def test_replay_names_the_plugin_and_version_it_needs(recorded):
    env, tmp = recorded
    out = env.adieu(tmp, "replay", "1", "--db", "b.db")
    assert out.returncode == 2
    assert out.stderr == (
        "Error: run 1 uses function fx_to_eur() from adieu-billing 0.3.0, which is not "
        "installed (pip install 'adieu-billing==0.3.0')\n")
    assert out.stdout == ""


def test_explain_shows_the_stored_figures_without_the_plugin(recorded):
    env, tmp = recorded
    out = env.adieu(tmp, "explain", "CUST-0003", "--db", "b.db")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "CUST-0003: WARN  (run 1, policy 'billing' v1, as of 2026-11-01)"
    assert lines[1] == "  (plugin adieu-billing 0.3.0 not installed: figures as stored)"
    assert "  large-balance [strike, high]: FIRED" in lines
    assert any("5,265.00 EUR" in line for line in lines)  # the stored reason
    assert "    figures: balance_eur = 5,265, max_balance_eur = 5,000" in lines
    assert "  currency = 'GBP'" in lines  # the stored facts
    data = json.loads(env.adieu(tmp, "explain", "CUST-0003", "--db", "b.db",
                                "--json").stdout)
    assert data["figures_as_stored"] is True
    assert data["note"] == "plugin adieu-billing 0.3.0 not installed: figures as stored"
    assert [(f["rule"], f["figures"]["balance_eur"]) for f in data["decision"]["fired"]] == \
        [("large-balance", 5265.0)]


def test_with_the_plugin_back_explain_and_replay_work_again(recorded):
    env, tmp = recorded
    env.install_billing("0.3.0")
    try:
        out = env.adieu(tmp, "explain", "CUST-0003", "--db", "b.db")
        assert out.returncode == 0, out.stderr
        assert "figures as stored" not in out.stdout
        assert "  balance_eur = 5,265" in out.stdout.splitlines()  # computed again
        replayed = env.adieu(tmp, "replay", "1", "--db", "b.db")
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert "0 difference(s)" in replayed.stdout
    finally:
        env.uninstall_billing()


def test_another_version_installed_is_noted_by_replay(recorded):
    env, tmp = recorded
    env.install_billing("0.4.1")
    try:
        out = env.adieu(tmp, "replay", "1", "--db", "b.db")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "note: run 1 used adieu-billing 0.3.0; 0.4.1 is installed" in out.stdout
    finally:
        env.uninstall_billing()


def test_a_run_without_plugin_records_still_says_which_function_is_missing(recorded):
    """A run stored before runs.plugins existed (the column NULL)."""
    env, tmp = recorded
    source, copy = sqlite3.connect(tmp / "b.db"), sqlite3.connect(tmp / "old.db")
    try:
        source.backup(copy)
        copy.execute("drop trigger runs_no_update")  # as stored before m005
        copy.execute("update runs set plugins = null where id = 1")
        copy.commit()
    finally:
        source.close()
        copy.close()
    out = env.adieu(tmp, "replay", "1", "--db", "old.db")
    explained = env.adieu(tmp, "explain", "CUST-0003", "--db", "old.db")
    assert out.returncode == 2
    assert out.stderr == ("Error: run 1 uses fx_to_eur(), which is not installed; the run "
                          "predates plugin records, so which plugin gave it is not known\n")
    assert explained.returncode == 0, explained.stderr
    assert "  (function fx_to_eur() not installed: figures as stored)" in \
        explained.stdout.splitlines()

