"""`adieu audit export`: the audit trail's entries as JSON objects for an
auditor (schemas/audit-export.output.schema.json).

Each entry is the `audit` row (docs/database.md, "audit") with `payload`
as the JSON object the table stores as JSON text. The values inside a
payload are as recorded: a payload that copies a table row (a run's
`counts`, an exemption's `rules`, a case's `fired` and `review_fired`)
holds that row's JSON columns as the text the row stores, because the
entry's hash covers exactly that text.

The entry's `hash` is the SHA-256 of the canonical JSON (sorted keys, no
spaces, UTF-8, non-ASCII kept) of seq, at, kind, run_id, customer_id,
prev_hash and the payload as its stored text, which is the canonical JSON
of the exported payload (`stored_payload_text`); so an auditor can
recompute every hash from the export alone. `adieu audit verify` does it
on the database."""

from __future__ import annotations

import json
from typing import Any


def export_entry(row: dict[str, Any]) -> dict[str, Any]:
    """An `audit` row (seq, at, kind, run_id, customer_id, payload as JSON
    text, prev_hash, hash, mac) as exported: payload a JSON object. A
    payload that is not JSON text (a damaged row) is kept as the text it
    is (audit verify names it)."""
    entry = dict(row)
    text = entry.get("payload")
    if isinstance(text, str):
        try:
            entry["payload"] = json.loads(text)
        except ValueError:
            pass
    return entry


def stored_payload_text(payload: Any) -> str:
    """The payload text the `audit` table stores (and `hash` covers) for an
    exported payload: its canonical JSON, as adieu's audit log writes it
    (engine/audit.py, canonical)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
