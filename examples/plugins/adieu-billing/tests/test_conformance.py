"""adieu's conformance kit run against this plugin, and fx_to_eur()."""

import datetime as dt
import gzip
from decimal import Decimal
from pathlib import Path

import pytest
from adieu import InputError, SourceContext
from adieu.testing import check_plugin, check_source

import adieu_billing

SAMPLE = Path(__file__).resolve().parent.parent / "sample.jsonl"
CONTEXT = SourceContext(dt.date(2026, 11, 1))


def test_plugin_registers_the_billing_kind_and_fx_to_eur():
    reg = check_plugin(adieu_billing)
    assert list(reg.sources) == ["billing"]
    fx = reg.functions["fx_to_eur"]
    assert (fx.returns, fx.min_args, fx.max_args) == ("number", 2, 2)


def test_the_sample_conforms(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"account": "CUST-1"}\n{"account": "CUST-2",\n', encoding="utf-8")
    records = check_source(adieu_billing, str(SAMPLE), bad_location=str(broken))
    facts = {r.customer_id: r.facts for r in records}
    assert len(facts) == 7
    assert facts["CUST-0003"]["outstanding_balance"] == 4500.0
    assert facts["CUST-0003"]["currency"] == "GBP"
    assert facts["CUST-0004"]["late_payments_12m"] == 4


def test_the_installed_kind_conforms():
    check_source("billing", str(SAMPLE))


def test_bad_json_names_the_file_and_line(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"account": "CUST-1"}\n\n{"account": "CUST-2",\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        list(adieu_billing.read_billing(str(broken), CONTEXT))
    assert info.value.location.file == str(broken)
    assert info.value.location.line == 3


def test_a_line_that_is_not_an_object_is_a_reject_and_reading_goes_on():
    records = list(adieu_billing.read_billing(str(SAMPLE), CONTEXT))
    rejects = [r for r in records if r.error]
    assert [(r.row, r.line, r.error) for r in rejects] == [
        (8, 9, "expected a JSON object, got list")]
    assert len(records) == 8


def test_gzip_export(tmp_path):
    packed = tmp_path / "export.jsonl.gz"
    packed.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert len(check_source(adieu_billing, str(packed))) == 7


@pytest.mark.parametrize(("amount", "currency", "eur"), [
    (100, "EUR", "100"), (100, "USD", "92.00"), (Decimal("4500.0"), "GBP", "5265.00"),
    (40000, "sek", "3520.00"), (0, "USD", "0"), (-10, "USD", "-9.20"),
    (Decimal("33.33"), "USD", "30.66"),
])
def test_fx_to_eur(amount, currency, eur):
    assert adieu_billing.fx_to_eur(amount, currency) == Decimal(eur)


@pytest.mark.parametrize(("amount", "currency"), [
    (100, "BRL"), (100, ""), (100, 7), ("100", "EUR"), (True, "EUR"), (100.0, "EUR"),
])
def test_fx_to_eur_unknown(amount, currency):
    assert adieu_billing.fx_to_eur(amount, currency) is None
