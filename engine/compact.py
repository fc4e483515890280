"""The compact layout of stored decisions (migration m008).

One row per decision in `run_decisions` (outcome, dates and row number as
plain columns), and two content-addressed JSON texts in `blobs`, keyed by
the sha256 of their UTF-8 bytes (run_decisions refers to them by id):

- facts: a JSON array `[k, v1, v2, ...]`: k indexes the run's list of fact
  name lists (runs.fact_keys, names sorted), v1... are the values' JSON
  texts exactly as decision_row wrote them. A customer whose facts did not
  change since the last run shares the earlier run's blob.
- rules and ledger: JSON objects holding only the JSON columns of their
  group (GROUPS) that differ from their empty value (DEFAULTS: "[]" for
  lists, NULL for memory and provenance); NULL when all are empty (most
  kept customers). Rules (fired, reasons, ...) stay the same while the
  facts do; the ledger (strikes with dates, memory, notes) changes with
  every run for a customer with strikes, so it is kept apart.

The texts are never re-encoded: the write path cuts the decision_row texts
into these shapes (msgspec.Raw) and the read path (rows) puts them back,
so readers get the exact text decision_row made. The view `decisions`
(m008) gives the same columns in SQL. The audit trail covers each row
through row_digest (its stored values and the sha256 of its blobs), one
entry per batch (engine/audit.py, kind "decisions")."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from .stored_values import missing_blob, stored_json, unreadable_blob

LIST_COLUMNS = ("active_strikes", "exemptions", "expired_exemptions", "fired", "holds",
                "missing", "new_strikes", "notes", "reasons", "referrals", "repeat_strikes",
                "set_aside_strikes", "shielded", "unknown")
DEFAULTS: dict[str, str | None] = {**{c: "[]" for c in LIST_COLUMNS}, "memory": None,
                                   "provenance": None}
DETAIL_COLUMNS = tuple(sorted(DEFAULTS))
# The two detail blobs: what the rules said (the same month after month for
# a customer whose facts did not change) and what memory added (strikes
# with their dates, which change every run for a customer with strikes).
GROUPS = {
    "rules": ("exemptions", "expired_exemptions", "fired", "holds", "missing", "provenance",
              "reasons", "shielded", "unknown"),
    "ledger": ("active_strikes", "memory", "new_strikes", "notes", "referrals",
               "repeat_strikes", "set_aside_strikes"),
}
GROUP_OF = {c: g for g, cs in GROUPS.items() for c in cs}
# The decisions columns in the order of the old table (and of the view).
DECISION_COLUMNS = (
    "run_id", "customer_id", "outcome", "base_outcome", "severity", "strikes", "reasons",
    "fired", "shielded", "unknown", "missing", "exemptions", "expired_exemptions", "holds",
    "effective_date", "phase_out_start", "timing_basis", "referrals", "notes", "facts",
    "source_file", "source_row", "new_strikes", "repeat_strikes", "active_strikes", "memory",
    "provenance", "set_aside_strikes")
SCALARS = ("outcome", "base_outcome", "severity", "strikes", "effective_date",
           "phase_out_start", "timing_basis")
# run_decisions columns, in the order of INSERT and of row_digest.
ROW_COLUMNS = ("run_id", "pos", "customer_id", *SCALARS, "file", "source_row", "facts",
               "rules", "ledger")
# The blob columns hold the blob's id; the row is given with its sha256.
INSERT = (f"insert into run_decisions ({', '.join(ROW_COLUMNS)}) values "
          f"({', '.join('?' * (len(ROW_COLUMNS) - 3))}"
          + ", (select id from blobs where sha256 = ?)" * 3 + ")")
INSERT_BLOB = "insert or ignore into blobs (sha256, body) values (?, ?)"

_RAW_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_ENCODE = msgspec.json.Encoder().encode
_DETAIL_KEYS = {c: b'"' + c.encode() + b'":' for c in DETAIL_COLUMNS}


def row_digest(row: tuple[Any, ...]) -> bytes:
    """sha256 of a run_decisions row as stored (ROW_COLUMNS order; the blob
    columns are the blobs' sha256), 32 bytes."""
    *values, facts, rules, ledger = row
    return hashlib.sha256(_ENCODE([*values, *(b.hex() if b else None
                                              for b in (facts, rules, ledger))])).digest()


def batch_digest(digests: Iterable[bytes]) -> str:
    """The hex sha256 over a batch's row digests in row order."""
    h = hashlib.sha256()
    for d in digests:
        h.update(d)
    return h.hexdigest()


class Encoder:
    """Cuts decision rows (decision_row's shape) into run_decisions rows and
    blobs; keeps the run's fact name lists and source files, which the runs
    row stores (fact_keys, source_files)."""

    def __init__(self) -> None:
        self.keysets: dict[tuple[str, ...], int] = {}
        self.files: dict[str | None, int] = {}

    def encode(self, run_id: int, pos: int, d: dict[str, Any],
               blobs: list[tuple[bytes, str]]) -> tuple[Any, ...]:
        """One run_decisions row (ROW_COLUMNS); the blobs it needs are
        appended to `blobs` as (sha256, text)."""
        facts = d.get("facts")
        facts_sha = None
        if facts is not None and facts != "{}":
            raw = _RAW_OBJECT.decode(facts)
            keys = tuple(raw)
            k = self.keysets.setdefault(keys, len(self.keysets))
            body = b"[%d%s%s]" % (k, b"," if raw else b"", b",".join(raw.values()))
            facts_sha = hashlib.sha256(body).digest()
            blobs.append((facts_sha, body.decode("utf-8")))
        shas = []
        for columns in GROUPS.values():
            parts = []
            for column in columns:
                text = d.get(column)
                if text != DEFAULTS[column]:
                    parts.append(_DETAIL_KEYS[column]
                                 + (b"null" if text is None else text.encode("utf-8")))
            sha = None
            if parts:
                body = b"{" + b",".join(parts) + b"}"
                sha = hashlib.sha256(body).digest()
                blobs.append((sha, body.decode("utf-8")))
            shas.append(sha)
        file = self.files.setdefault(d.get("source_file"), len(self.files))
        return (run_id, pos, d["customer_id"], *(d.get(c) for c in SCALARS), file,
                d.get("source_row"), facts_sha, *shas)

    def fact_keys(self) -> list[list[str]]:
        return [list(k) for k in self.keysets]

    def source_files(self) -> list[str | None]:
        return list(self.files)


class Decoder:
    """Puts run_decisions rows (with their blobs' texts) back into the
    decisions shape, for one run (its runs.fact_keys and source_files)."""

    def __init__(self, fact_keys: list[list[str]] | None, files: list[str | None] | None):
        self.keys = [[_ENCODE(name) + b":" for name in names] for names in fact_keys or []]
        self.files = files or []

    def row(self, stored: dict[str, Any], facts: str | None,
            *details: str | None) -> dict[str, Any]:
        """A decisions row (JSON columns as text) from a run_decisions row and
        the texts of its facts, rules and ledger blobs."""
        out: dict[str, Any] = dict(DEFAULTS)
        for detail in details:
            if detail is None:
                continue
            for column, raw in _RAW_OBJECT.decode(detail).items():
                text = bytes(raw)
                out[column] = None if text == b"null" else text.decode("utf-8")
        if facts is None:
            facts_text = "{}"
        else:
            raw_values = _RAW_ARRAY.decode(facts)
            keys = self.keys[int(bytes(raw_values[0]))]
            facts_text = (b"{" + b",".join(k + bytes(v) for k, v in
                                           zip(keys, raw_values[1:], strict=True))
                          + b"}").decode("utf-8")
        file = stored["file"]
        row = {**out, **{c: stored[c] for c in SCALARS}, "run_id": stored["run_id"],
               "customer_id": stored["customer_id"], "facts": facts_text,
               "source_file": self.files[file] if file is not None and
               file < len(self.files) else None,
               "source_row": stored["source_row"]}
        return {c: row[c] for c in DECISION_COLUMNS}


def read(db: Any, run: dict[str, Any], where: str = "", params: Iterable[Any] = ()) \
        -> Iterator[dict[str, Any]]:
    """The decisions of run (a runs row) from the compact tables, in the
    order written; `where` adds SQL conditions on run_decisions d.

    A damaged row (engine/stored_values.py) is a StoreError naming the run,
    the customer and the column: runs.fact_keys or source_files not JSON, a
    decision whose facts are NULL, a blob missing or not what adieu wrote."""
    keys, files = (stored_json(run["id"], None, c, run[c]) if run.get(c) else None
                   for c in ("fact_keys", "source_files"))
    try:
        decoder = Decoder(keys, files)
    except (TypeError, ValueError, AttributeError, msgspec.MsgspecError) as exc:
        raise unreadable_blob(run["id"], None, "fact_keys", exc) from None
    cursor = db.execute(
        "select d.run_id, d.customer_id, d.outcome, d.base_outcome, d.severity, d.strikes, "
        "d.effective_date, d.phase_out_start, d.timing_basis, d.file, d.source_row, "
        "d.facts, d.rules, d.ledger, "
        "f.body, u.body, l.body from run_decisions d left join blobs f on f.id = d.facts "
        "left join blobs u on u.id = d.rules left join blobs l on l.id = d.ledger "
        "where d.run_id = ?" + where + " order by d.pos", [run["id"], *params])
    names = [c[0] for c in cursor.description][:-6]
    for values in cursor:
        stored = dict(zip(names, values, strict=False))
        ids, bodies = values[-6:-3], values[-3:]
        for column, blob_id, body in zip(BLOB_COLUMNS, ids, bodies, strict=True):
            if body is None and (blob_id is not None or column == "facts"):
                raise missing_blob(run["id"], stored["customer_id"], column)
        try:
            yield decoder.row(stored, *bodies)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError,
                UnicodeDecodeError, msgspec.MsgspecError) as exc:
            raise unreadable_blob(run["id"], stored["customer_id"],
                                  _bad_blob(bodies), exc) from None


BLOB_COLUMNS = ("facts", "rules", "ledger")  # run_decisions columns that refer to blobs


def _bad_blob(bodies: Iterable[str | None]) -> str:
    """Which of a decision's blobs (facts, rules, ledger) is not JSON: the
    column a damaged decision names (facts when all parse: a facts array
    that does not fit runs.fact_keys)."""
    for column, body in zip(BLOB_COLUMNS, bodies, strict=True):
        if body is not None:
            try:
                msgspec.json.decode(body)
            except msgspec.MsgspecError:
                return column
    return "facts"


# Which customers each run decided, from the plain columns only (the view
# `decisions` decodes JSON in SQL, where a damaged row is a bare "malformed
# JSON"): join this, then read the rows through read().
DECIDED = ("(select run_id, customer_id from decisions_v1 union all "
           "select run_id, customer_id from run_decisions)")


ALIAS = {"rules": "u", "ledger": "l"}  # the blobs' aliases in the view


def _view_json(column: str) -> str:
    default = DEFAULTS[column]
    value = f"{ALIAS[GROUP_OF[column]]}.body -> '$.{column}'"
    if default is None:
        return f"nullif({value}, 'null') as {column}"
    return f"nullif(coalesce({value}, '{default}'), 'null') as {column}"


_VIEW_COLUMNS = {
    **{c: f"d.{c}" for c in ("run_id", "customer_id", *SCALARS, "source_row")},
    **{c: _view_json(c) for c in DETAIL_COLUMNS},
    "facts": "case when d.facts is null then '{}' else (select '{' || "
             "coalesce(group_concat(json_quote(k.value) || ':' || "
             "(f.body -> ('$[' || (k.key + 1) || ']')), ','), '') || '}' from "
             "json_each(r.fact_keys, '$[' || (f.body ->> '$[0]') || ']') k) end as facts",
    "source_file": "r.source_files ->> ('$[' || d.file || ']') as source_file",
}

VIEW = (
    "CREATE VIEW decisions AS SELECT " + ", ".join(DECISION_COLUMNS) + " FROM decisions_v1 "
    "UNION ALL SELECT " + ", ".join(_VIEW_COLUMNS[c] if c in _VIEW_COLUMNS and " as " in
                                    _VIEW_COLUMNS[c] else f"{_VIEW_COLUMNS[c]} as {c}"
                                    for c in DECISION_COLUMNS)
    + " FROM run_decisions d LEFT JOIN runs r ON r.id = d.run_id "
    "LEFT JOIN blobs f ON f.id = d.facts LEFT JOIN blobs u ON u.id = d.rules "
    "LEFT JOIN blobs l ON l.id = d.ledger")

TABLES = [
    "CREATE TABLE run_decisions (run_id INTEGER NOT NULL, pos INTEGER NOT NULL, "
    "customer_id TEXT NOT NULL, outcome TEXT, base_outcome TEXT, severity TEXT, "
    "strikes INTEGER, effective_date TEXT, phase_out_start TEXT, timing_basis TEXT, "
    "file INTEGER, source_row INTEGER, facts BLOB, rules BLOB, ledger BLOB, "
    "PRIMARY KEY (run_id, pos)) WITHOUT ROWID",
    "CREATE UNIQUE INDEX run_decisions_customer ON run_decisions (customer_id, run_id)",
    "CREATE TABLE blobs (id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE, "
    "body TEXT NOT NULL)",
]
