"""adieu-billing: the `billing` source kind and the fx_to_eur() function.

A billing export is JSON Lines: one JSON object per line, one customer per
object, e.g. {"account": "CUST-0001", "invoices_late": 3, "amount_due":
"1234.50", "currency": "EUR", "terms_days": 30}."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from adieu import InputError, Location, SourceContext, SourceRecord, hookimpl, open_text

MAPPING = Path(__file__).parent / "billing.yaml"


def read_billing(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    """Yield one record per non-blank line of a JSON Lines file (.jsonl or .jsonl.gz)."""
    handle = open_text(location, context.option("encoding", "utf-8"))
    row = 0
    line = 0
    with handle:
        try:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                row += 1
                try:
                    item = json.loads(text.rstrip("\r\n"), parse_float=Decimal)  # exact
                except json.JSONDecodeError as exc:
                    # The file is damaged here: stop, and say where.
                    raise InputError(f"not valid JSON: {exc.msg}",
                                     Location(location, line=line, column=exc.colno)) from None
                if not isinstance(item, dict):
                    # Readable, but not a customer: the engine stores it as a reject.
                    yield SourceRecord({}, location, row, line,
                                       error=f"expected a JSON object, got {type(item).__name__}")
                    continue
                yield SourceRecord({str(k): _plain(v) for k, v in item.items()},
                                   location, row, line)
        except UnicodeDecodeError as exc:  # text is decoded in blocks: say "after"
            raise InputError(f"not valid {exc.encoding} text{_after(line)} "
                             "(try -o encoding=cp1252)", Location(location)) from None
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz file
            raise InputError(f"cannot read{_after(line)}: {exc}", Location(location)) from None


def _after(line):
    return f" after line {line}" if line else ""


def _plain(value):
    """Text, numbers, booleans and null as they are; a nested object or list as JSON text."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


# Value of one unit of each currency in EUR. A fixed table keeps decisions
# reproducible: the same export gives the same decisions next month. The
# rates are exact decimals, as adieu's own numbers are (0.92, not the float
# nearest to it).
EUR_RATES = {currency: Decimal(rate) for currency, rate in {
    "EUR": "1", "USD": "0.92", "GBP": "1.17", "CHF": "1.05", "SEK": "0.088",
    "NOK": "0.086", "DKK": "0.134", "PLN": "0.23", "JPY": "0.0061"}.items()}


def fx_to_eur(amount, currency):
    """amount in currency -> EUR, rounded to cents; None (unknown) for a currency
    not in the table. adieu passes numbers as int or decimal.Decimal."""
    if isinstance(amount, bool) or not isinstance(amount, (int, Decimal)):
        return None
    rate = EUR_RATES.get(str(currency).strip().upper())
    if rate is None:
        return None
    return round(amount * rate, 2)


@hookimpl
def register_sources(register):
    register("billing", read_billing,
             "A billing system's JSON Lines export (.jsonl or .jsonl.gz): one customer "
             "per line.", mapping=str(MAPPING))


@hookimpl
def register_functions(register):
    register("fx_to_eur", fx_to_eur, returns="number", min_args=2, max_args=2)
