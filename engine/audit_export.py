"""`adieu audit export`: the audit trail's entries as JSON objects for an
auditor (schemas/audit-export.output.schema.json).

Each entry is the `audit` row (docs/database.md, "audit") with `payload`
as a JSON object rather than the JSON text the table stores. Some payloads
copy a row whose JSON columns are themselves stored as JSON text (a run's
`counts`, an exemption's `rules`, a case's `fired` and `review_fired`);
those values are decoded too (JSON_TEXT_KEYS), so an export holds no JSON
inside strings.

The entry's `hash` is the SHA-256 of the canonical JSON (sorted keys, no
spaces, UTF-8) of seq, at, kind, run_id, customer_id, prev_hash and the
payload as its stored text. To recompute it from an export, encode the
values under JSON_TEXT_KEYS back to canonical JSON text, then the payload
itself (`stored_payload_text` does both); `adieu audit verify` does all
of this on the database."""

from __future__ import annotations

import json
from typing import Any

# Payload keys (at any depth) whose stored value is JSON text, decoded in
# the export: runs.counts; exemptions.rules; cases.fired, cases.review_fired.
JSON_TEXT_KEYS = frozenset({"counts", "rules", "fired", "review_fired"})


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in JSON_TEXT_KEYS and isinstance(item, str):
                try:
                    item = json.loads(item)
                except ValueError:
                    pass  # not JSON text: kept as it is (audit verify names the damage)
            out[key] = _decoded(item)
        return out
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _encoded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_canonical(v) if k in JSON_TEXT_KEYS and isinstance(v, (list, dict))
                    else _encoded(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_encoded(v) for v in value]
    return value


def export_entry(row: dict[str, Any]) -> dict[str, Any]:
    """An `audit` row (seq, at, kind, run_id, customer_id, payload as JSON
    text, prev_hash, hash, mac) as exported: payload a JSON object, the
    JSON texts inside it decoded. A payload that is not JSON text (a
    damaged row) is kept as the text it is."""
    entry = dict(row)
    text = entry.get("payload")
    if isinstance(text, str):
        try:
            entry["payload"] = _decoded(json.loads(text))
        except ValueError:
            pass
    return entry


def stored_payload_text(payload: dict[str, Any]) -> str:
    """The payload text the `audit` table stores (and `hash` covers) for an
    exported payload: the inverse of export_entry's decoding, for payloads
    adieu wrote (canonical JSON)."""
    return _canonical(_encoded(payload))
