"""`adieu facts` text and --csv show each value as the policy sees it:
true/false (not Python's True/False), numbers with the source's digits,
ISO dates, text quoted as a policy writes it, a missing fact left out
(text) or an empty cell (CSV); never a Python repr."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.factshow import csv_value, policy_text
from adieu.values import UNKNOWN

HEADER = ("customer_id,name,tier,revenue_12m,late_payments_12m,bad_reputation,outgrown,"
          "contract_end,country,payment_terms_days")
ROWS = ['C-1,"Say ""hi"" Ltd",standard,5476.50,3,false,true,2027-01-31,00123,30',
        "C-2,Empty Co,premium,,0,TRUE,no,,GB,45"]


@pytest.fixture
def source(tmp_path: Path) -> str:
    path = tmp_path / "c.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return f"csv:{path}"


def facts(*args: str) -> str:
    result = CliRunner().invoke(cli, ["facts", *args, "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    return result.stdout


def values(text: str) -> dict[str, dict[str, str]]:
    """{customer: {fact: shown value}} from the text output."""
    out: dict[str, dict[str, str]] = {}
    current = ""
    for line in text.splitlines():
        if not line.startswith("  "):
            current = line
            out[current] = {}
            continue
        name, _, rest = line.strip().partition(" = ")
        out[current][name] = rest.rsplit("    [", 1)[0]
    return out


def test_text_shows_values_as_the_policy_writes_them(source: str) -> None:
    shown = values(facts(source))
    assert shown["C-1"] == {
        "bad_reputation": "false", "outgrown": "true", "contract_end": "2027-01-31",
        "country": '"00123"', "late_payments_12m": "3", "name": '"Say \\"hi\\" Ltd"',
        "revenue_12m": "5476.50", "tier": '"standard"', "payment_terms_days": "30"}
    assert shown["C-2"]["bad_reputation"] == "true" and shown["C-2"]["outgrown"] == "false"
    assert "revenue_12m" not in shown["C-2"] and "contract_end" not in shown["C-2"]
    assert shown["C-2"]["payment_terms_days"] == "45"
    text = facts(source)
    for python in ("True", "False", "None", "Decimal(", "datetime.date", "'standard'"):
        assert python not in text


def test_csv_writes_the_same_values(source: str) -> None:
    rows = list(csv.DictReader(io.StringIO(facts(source, "--csv"))))
    one, two = rows
    assert (one["bad_reputation"], one["outgrown"], two["bad_reputation"], two["outgrown"]) \
        == ("false", "true", "true", "false")
    assert (one["revenue_12m"], one["contract_end"], one["country"], one["name"]) == \
        ("5476.50", "2027-01-31", "00123", 'Say "hi" Ltd')
    assert (two["revenue_12m"], two["contract_end"]) == ("", "")  # missing: an empty cell
    assert one["payment_terms_days"] == "30"


def test_json_keeps_json_types(source: str) -> None:
    one, two = json.loads(facts(source, "--json"))
    assert (one["bad_reputation"], one["outgrown"], one["contract_end"], one["country"]) == \
        (False, True, "2027-01-31", "00123")
    assert "revenue_12m" not in two


@pytest.mark.parametrize("value, text, cell", [
    (False, "false", "false"), (True, "true", "true"), (3, "3", 3),
    (Decimal("5476.50"), "5476.50", Decimal("5476.50")),
    (Decimal("1E+3"), "1000", Decimal("1E+3")),
    (dt.date(2027, 1, 31), "2027-01-31", "2027-01-31"),
    ("standard", '"standard"', "standard"), ("00123", '"00123"', "00123"),
    ("tab\there", '"tab\\there"', "tab\there"),
    (None, "unknown", None), (UNKNOWN, "unknown", None),
    (["a", "b"], '["a", "b"]', ["a", "b"]),
])
def test_each_kind_of_value(value: object, text: str, cell: object) -> None:
    assert policy_text(value) == text
    assert csv_value(value) == cell


def test_replay_prints_differences_as_the_policy_writes_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same kind: `adieu replay`'s text named stored and replayed
    values with Python's repr (True, Decimal('1.50'), 'warn')."""
    from adieu.cli import audit as audit_cli

    found = {"run_id": 1, "policy_name": "p", "as_of": "2026-11-01", "checked": 1,
             "adieu_version": "0.2.0", "replayed_with": "0.2.0", "plugin_notes": [],
             "differences": [
                 {"customer_id": "C-1", "field": "outcome", "stored": "warn",
                  "replayed": "keep"},
                 {"customer_id": None, "field": "population x", "stored": Decimal("1.50"),
                  "replayed": None},
                 {"customer_id": "C-2", "field": "facts.bad_reputation", "stored": True,
                  "replayed": False}]}
    monkeypatch.setattr(audit_cli, "replay", lambda store, run_id, workers: found)
    monkeypatch.setattr(audit_cli, "opened_store", _no_store)
    result = CliRunner().invoke(cli, ["replay", "1", "--db", "x.db"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:3] == [
        'C-1: outcome: stored "warn", replayed "keep"',
        "population: population x: stored 1.50, replayed unknown",
        "C-2: facts.bad_reputation: stored true, replayed false"]


class _no_store:
    def __init__(self, db: object) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_diff_names_policy_values_as_the_policy_writes_them() -> None:
    """The same kind in `adieu diff`'s causes: no Python repr ('x', None,
    True, Decimal('0.1')) in what it says changed."""
    from adieu.policy_diff import PolicyChange

    change = PolicyChange(
        settings={"name": ["old", "new"], "allow_missing_facts": [[], ["score"]],
                  "flag": [True, False]},
        params={"max_ratio": [Decimal("0.25"), Decimal("0.15")],
                "steps": [[Decimal("0.1"), None], None]},
        derive={"margin": ["revenue_12m - cost", None]},
        timing={"referrals": [[{"when": None, "vendors": ["A & B"]}], []]})
    assert change.lines() == [
        'name: "old" -> "new"', 'allow_missing_facts: [] -> ["score"]', "flag: true -> false",
        "param max_ratio: 0.25 -> 0.15", "param steps: [0.1,null] -> (none)",
        'derive margin: "revenue_12m - cost" -> (none)',
        'timing.referrals: [{"vendors":["A & B"],"when":null}] -> []']
