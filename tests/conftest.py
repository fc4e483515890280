"""Shared fixtures: a small policy and customer CSV written into tmp_path, a
database path, a CliRunner, and an environment free of ADIEU_* settings."""

from __future__ import annotations

import os
import re
import sqlite3
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

# Hypothesis profiles for the fuzz targets (tests/test_fuzz_*.py):
# "small" runs in `make test`: few examples, derandomized, so CI is the same on
# every run; "fuzz" runs in `make fuzz` (HYPOTHESIS_PROFILE=fuzz): >= 10,000
# examples per target, random, printing the seed and a reproduction blob of any
# failure (FUZZ_EXAMPLES=N changes the count, for a quick look). A deadline
# per example (20 s: far above any normal example, even on a loaded 2-core
# machine, where a 200 KB CSV header cell alone takes ~3 s) catches a hang.
settings.register_profile(
    "small", max_examples=50, derandomize=True, deadline=20_000, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "10000")), deadline=20_000,
    print_blob=True, database=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])


def pytest_configure(config: pytest.Config) -> None:
    """Under `make fuzz` (HYPOTHESIS_PROFILE=fuzz), cap the address space of
    the test process and the adieu processes it starts (FUZZ_MEMORY_MB,
    default 4096): an input that makes adieu take gigabytes then fails as a
    MemoryError at its example instead of swapping the machine."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
        import resource

        cap = int(os.environ.get("FUZZ_MEMORY_MB", "4096")) * 2 ** 20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY
                                                else min(cap, hard), hard))


# Not loaded globally (the older property tests keep their own settings): the
# fuzz targets take theirs from tests/fuzzing (small and fuzz, by marker).

REPO = Path(__file__).resolve().parent.parent

# A small policy that reaches every outcome with the customers below.
POLICY = textwrap.dedent("""\
    version: 3
    name: tiny
    on_missing: watch
    params:
      hourly_rate: 50
      max_cost_ratio: 1.0
      late_limit: 3
    derive:
      cost: hours_support_12m * hourly_rate
      cost_ratio: cost / revenue_12m
    rules:
      - id: cost-high
        title: Cost above revenue
        when: cost_ratio > max_cost_ratio
        action: strike
        severity: high
        explain: "Cost {cost:,.0f} is {cost_ratio:.0%} of revenue {revenue_12m:,.0f}."
      - id: late
        title: Late payer
        when: late_payments_12m >= late_limit
        action: strike
        severity: medium
        explain: "{late_payments_12m} late payments (limit {late_limit})."
      - id: escalations
        title: Escalations
        when: escalations_12m >= 4
        action: strike
      - id: abuse
        title: Abuse of staff
        when: abuse_incidents_12m > 0
        action: offboard
        severity: critical
      - id: outgrown
        title: Outgrown
        when: outgrown
        action: flag
        severity: low
    exemptions:
      - id: strategic
        when: tier == "strategic"
        rules: [cost-high]
        reason: Strategic value
        approver: CCO
        expires: "2027-01-01"
    holds:
      - id: our-fault
        when: open_our_fault_incidents > 0
        reason: Fix our part first
    timing:
      contract_end_within_days: 90
      notice_days: 60
      phase_out_days: 14
      weekdays_only: true
      referrals:
        - when: outgrown
          vendors: [BigCo]
        - vendors: [Other Ltd]
      max_referrals: 2
    """)

CSV_HEADER = ("customer_id,tier,revenue_12m,hours_support_12m,late_payments_12m,"
              "escalations_12m,abuse_incidents_12m,outgrown,open_our_fault_incidents,"
              "contract_end")

# One customer per outcome (as of 2026-11-02), then a row with a bad number.
CSV_ROWS = [
    "C-KEEP,standard,10000,10,0,0,0,false,0,2028-01-01",      # keep
    "C-WATCH,standard,10000,10,0,0,0,true,0,2028-01-01",      # flag -> watch
    "C-MISS,standard,,10,0,0,0,false,0,2028-01-01",           # revenue missing -> watch
    "C-WARN,standard,10000,10,5,0,0,false,0,2028-01-01",      # 1 strike -> warn
    "C-FINAL,standard,1000,100,5,0,0,false,0,2028-01-01",     # 2 strikes -> final_notice
    "C-OFF,standard,1000,100,5,6,0,false,0,2026-12-15",       # 3 strikes -> offboard
    "C-ABUSE,standard,10000,10,0,0,1,true,0,2028-01-01",      # offboard at once
    "C-EXEMPT,strategic,1000,100,0,0,0,false,0,2028-01-01",   # cost-high shielded
    "C-HELD,standard,10000,10,5,0,0,false,2,2028-01-01",      # warn held
    "C-BAD,standard,12k,10,0,0,0,false,0,2028-01-01",         # rejected
]

AS_OF = "2026-11-02"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ADIEU_* settings leak in: every installed plugin (the built-in csv
    one included) loads, and the database comes from --db or the test."""
    for name in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS", "ADIEU_AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture
def customers_csv(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text("\n".join([CSV_HEADER, *CSV_ROWS]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def good_csv(tmp_path: Path) -> Path:
    """The same customers without the bad row."""
    path = tmp_path / "good.csv"
    path.write_text("\n".join([CSV_HEADER, *CSV_ROWS[:-1]]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "adieu.db"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def evaluated(runner: CliRunner, policy_file: Path, customers_csv: Path, db_path: Path) \
        -> Path:
    """A database holding one run of the tiny policy over the customers."""
    from adieu.cli import cli

    result = runner.invoke(cli, ["evaluate", str(policy_file), "--source",
                                 f"csv:{customers_csv}", "--as-of", AS_OF,
                                 "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    return db_path


FINAL_LINE = re.compile(r"(?:audit head: (?:[0-9]+:[0-9a-f]{64}|none \(no entries\))\n)?"
                        r"done: [0-9,]+ customers decided, [0-9,]+ rows rejected, [0-9,]+ new "
                        r"strikes; [^\n]* in [0-9]+\.[0-9] s\n\Z")


def before_final_line(stderr: str) -> str:
    """evaluate's stderr without its final line ('done: N customers decided,
    ... in S s') and the audit head line before it (tests/test_audit_anchor.py
    checks that one), which must be there (tests/test_streaming.py checks its
    wording)."""
    found = FINAL_LINE.search(stderr)
    assert found is not None and (found.start() == 0 or stderr[found.start() - 1] == "\n"), \
        f"no final line in {stderr!r}"
    return stderr[:found.start()]


def sql(db: Path, *statements: str, params: tuple = ()) -> list[tuple]:
    """Run statements the way the sqlite3 tool would, each committed at once;
    `params` go to the statements that have `?` placeholders. The rows of the
    last statement."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        rows: list[tuple] = []
        for statement in statements:
            rows = conn.execute(statement, params if "?" in statement else ()).fetchall()
        return rows
    finally:
        conn.close()
