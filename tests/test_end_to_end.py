"""The installed console script, run as a user would: the shipped policy over
the sample customers, then explain one decision."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import before_final_line

REPO = Path(__file__).resolve().parent.parent
ADIEU = Path(sys.executable).parent / "adieu"
OUTCOMES = ("keep", "watch", "warn", "final_notice", "offboard", "exempt", "held")


def adieu(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS")}
    return subprocess.run([str(ADIEU), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """One run of policies/default.yaml over examples/customers.csv."""
    work = tmp_path_factory.mktemp("e2e")
    db = work / "demo.db"
    result = adieu("evaluate", str(REPO / "policies" / "default.yaml"), "--source",
                   f"csv:{REPO / 'examples' / 'customers.csv'}", "--as-of", "2026-11-01",
                   "--db", str(db), cwd=work)
    return db, result


def test_the_console_script_is_installed() -> None:
    assert ADIEU.is_file(), f"no console script at {ADIEU}"


def test_evaluate_the_sample_data(demo: tuple[Path, subprocess.CompletedProcess]) -> None:
    db, result = demo
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    conn = sqlite3.connect(db)
    try:
        (counts_text, customers, rejected, policy_name), = conn.execute(
            "select counts, customers, rejected, policy_name from runs").fetchall()
        decisions = conn.execute("select count(*) from decisions").fetchone()[0]
        rejects = conn.execute("select count(*) from rejects").fetchone()[0]
    finally:
        conn.close()
    counts = json.loads(counts_text)
    assert set(counts) == set(OUTCOMES)
    for outcome in OUTCOMES:
        assert counts[outcome] > 0, f"no {outcome} in {counts}"
    assert sum(counts.values()) == customers == decisions
    assert policy_name == "default"
    assert rejected > 0 and rejects >= rejected
    assert result.stdout.startswith("Run 1: policy 'default' v2026.11 ")
    assert all(line.startswith("rejected: ")
               for line in before_final_line(result.stderr).splitlines())


def test_explain_an_offboarding(demo: tuple[Path, subprocess.CompletedProcess]) -> None:
    db, _ = demo
    result = adieu("explain", "CUST-0007", "--db", str(db), cwd=db.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CUST-0007: OFFBOARD  (run 1, policy 'default' v2026.11, "
                                    "as of 2026-11-01)")
    assert "exceeds by" in result.stdout
    assert "effective " in result.stdout


def test_explain_json_of_the_same_customer(
        demo: tuple[Path, subprocess.CompletedProcess]) -> None:
    db, _ = demo
    result = adieu("explain", "CUST-0007", "--db", str(db), "--json", cwd=db.parent)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stored_outcome"] == data["decision"]["outcome"] == "offboard"
    assert any(r["status"] == "fired" for r in data["rules"])


def test_explain_an_unknown_customer(demo: tuple[Path, subprocess.CompletedProcess]) -> None:
    db, _ = demo
    result = adieu("explain", "CUST-9999", "--db", str(db), cwd=db.parent)
    assert result.returncode == 2
    assert result.stderr == "Error: customer 'CUST-9999' has no decision in run 1\n"


def test_validate_the_shipped_policies(tmp_path: Path) -> None:
    # As of the demo's date: the shipped exemptions expire (default.yaml's in
    # 2027-06), and validate warns about an expired one from that day on.
    result = adieu("validate", "--as-of", "2026-11-01", str(REPO / "policies" / "default.yaml"),
                   str(REPO / "policies" / "strict.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split(": ok (")[0] for line in result.stdout.splitlines()] == [
        str(REPO / "policies" / "default.yaml"), str(REPO / "policies" / "strict.yaml")]


def test_version(tmp_path: Path) -> None:
    from adieu import __version__

    result = adieu("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"adieu, version {__version__}\n"
