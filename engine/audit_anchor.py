"""Anchoring the audit trail: its head, the optional key, and `audit verify`
as one read snapshot.

- The head is `SEQ:HASH`: the number of the trail's last entry and its full
  64-hex sha256 (the `hash` column). Kept outside the database (e.g. in the
  monthly report), it lets a later `audit verify --expect-head SEQ:HASH`
  find what the database alone cannot show: entries deleted from the end,
  or a trail emptied altogether. The anchor is a prefix: a longer trail is
  fine as long as entry SEQ still has that hash.
- The key (environment variable ADIEU_AUDIT_KEY, any string of at least
  MIN_KEY_BYTES UTF-8 bytes; never a command-line value, which other users
  see in the process list) makes every new entry carry
  `mac` = HMAC-SHA256(key, hash) as 64 hex digits (RFC 2104, Python's hmac
  module). Re-computing the chain after an edit then needs the key.
- `verify_trail` reads everything in one read transaction (BEGIN ...
  ROLLBACK): a run committing meanwhile is simply not seen.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .errors import InputError, Location

KEY_ENV = "ADIEU_AUDIT_KEY"
# 16 bytes (128 bits) is the least NIST SP 800-107 allows for an HMAC key's
# security strength; shorter keys (a word, a PIN) can be guessed offline
# from the database alone, which would let anyone re-chain the trail.
MIN_KEY_BYTES = 16
HEAD_RE = re.compile(r"([1-9][0-9]{0,18}):([0-9a-fA-F]{64})")


def audit_key(environ: dict[str, str] | None = None) -> bytes | None:
    """The audit key from ADIEU_AUDIT_KEY as UTF-8 bytes, or None when the
    variable is not set. Raises InputError (exit 2) when it is set but
    empty or shorter than MIN_KEY_BYTES bytes."""
    value = (os.environ if environ is None else environ).get(KEY_ENV)
    if value is None:
        return None
    key = value.encode("utf-8", "surrogateescape")
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"{KEY_ENV} is {len(key)} byte(s) long; an audit key must be at "
                         f"least {MIN_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)")
    return key


def entry_mac(key: bytes, entry_hash: str) -> str:
    """HMAC-SHA256(key, the entry's hash as ASCII hex), as 64 hex digits."""
    return hmac.new(key, entry_hash.encode("ascii"), hashlib.sha256).hexdigest()


def has_mac_column(db: sqlite_utils.Database) -> bool:
    """Whether the audit table has its `mac` column (migration m010_audit_mac)."""
    return any(row[1] == "mac" for row in db.execute("pragma table_info(audit)"))


KEYED_TRAIL = (f"the audit trail is keyed (entries carry a MAC): set {KEY_ENV} to write "
               "to it")


def refuse_unkeyed_write(db: sqlite_utils.Database) -> None:
    """InputError (exit 2) when the trail has an entry with a MAC: a writer
    without the key would append entries without one, which `audit verify`
    with the key reports as stripped. Called by AuditLog before anything is
    added (the latest keyed entry is found from the end of the trail)."""
    if db.execute("select 1 from audit where mac is not null order by seq desc "
                  "limit 1").fetchone():
        file = next((row[2] for row in db.execute("pragma database_list")
                     if row[1] == "main" and row[2]), None)
        raise InputError(KEYED_TRAIL, Location(file) if file else None)


def refuse_unkeyed_writer(path: str) -> None:
    """The same refusal before a command reads anything (evaluate reads its
    source first): no key set and the database at path (opened read-only;
    none yet is fine) has a keyed trail. AuditLog checks again when it
    writes."""
    if audit_key() is not None:
        return
    from .store import open_db_readonly

    db = open_db_readonly(path)
    if db is None:
        return
    try:
        if db["audit"].exists() and has_mac_column(db):
            refuse_unkeyed_write(db)
    finally:
        db.close()


def parse_head(text: str) -> tuple[int, str]:
    """`SEQ:HASH` -> (seq, hash in lower case). Raises ValueError naming
    what was expected."""
    m = HEAD_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not an audit head: expected SEQ:HASH, an entry "
                         "number from 1 and the 64 hex digits of its sha256 (as `adieu audit "
                         "head` prints it)")
    return int(m.group(1)), m.group(2).lower()


def format_head(head: tuple[int, str] | None) -> str | None:
    """(seq, hash) -> 'SEQ:HASH'; None for an empty trail."""
    return None if head is None else f"{head[0]}:{head[1]}"


def read_head(db: sqlite_utils.Database) -> tuple[int, str] | None:
    """The trail's last entry as (seq, hash); None when it has no entries."""
    row = db.execute("select seq, hash from audit order by seq desc limit 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def stored_head_line(path: str) -> str:
    """'audit head: SEQ:HASH' of the database at path (opened read-only),
    as `evaluate` prints it after storing a run."""
    from .store import open_db_readonly

    db = open_db_readonly(path)
    if db is None:  # pragma: no cover - a stored run has a database
        return "audit head: none (no database)"
    try:
        return f"audit head: {format_head(read_head(db)) or 'none (no entries)'}"
    finally:
        db.close()


@dataclass
class TrailReport:
    """What `audit verify` found. `head` is (seq, hash) of the last entry
    read (None: no entries); `keyed` the number of entries carrying a MAC;
    `macs_checked` whether a key was given to check them."""

    entries: int = 0
    head: tuple[int, str] | None = None
    keyed: int = 0
    macs_checked: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """{"intact", "entries", "head": "SEQ:HASH"|null, "keyed", "macs_checked",
        "problems": [str], "notes": [str]}."""
        return {"intact": self.intact, "entries": self.entries,
                "head": format_head(self.head), "keyed": self.keyed,
                "macs_checked": self.macs_checked, "problems": self.problems,
                "notes": self.notes}


def _ranges(seqs: list[int]) -> str:
    """[3, 4, 5, 9] -> '3 to 5, 9' (at most 5 ranges, then '...')."""
    spans: list[list[int]] = []
    for s in seqs:
        if spans and s == spans[-1][1] + 1:
            spans[-1][1] = s
        else:
            spans.append([s, s])
    text = ", ".join(f"{a}" if a == b else f"{a} to {b}" for a, b in spans[:5])
    return text + (", ..." if len(spans) > 5 else "")


def check_macs(db: sqlite_utils.Database, key: bytes | None, report: TrailReport) -> None:
    """Read every entry's seq, hash and mac: fill report.entries, .head,
    .keyed, and with a key, the MAC problems: a MAC that does not match
    (re-chained, or another key), an entry without a MAC after the first
    keyed one (stripped), no keyed entry at all."""
    mac_col = has_mac_column(db)
    rows = db.execute("select seq, hash" + (", mac" if mac_col else ", null")
                      + " from audit order by seq")
    wrong: list[int] = []
    stripped: list[int] = []
    first_keyed: int | None = None
    for seq, entry_hash, mac in rows:
        report.entries += 1
        report.head = (int(seq), str(entry_hash))
        if mac is None:
            if key is not None and first_keyed is not None:
                stripped.append(seq)
            continue
        report.keyed += 1
        if first_keyed is None:
            first_keyed = seq
        if key is not None and not hmac.compare_digest(
                str(mac), entry_mac(key, str(entry_hash))):
            wrong.append(seq)
    report.macs_checked = key is not None
    if key is None:
        if report.keyed:
            report.notes.append(f"{report.keyed:,} entries carry a MAC that was not checked "
                                f"(set {KEY_ENV})")
        return
    if wrong:
        report.problems.append(f"audit entries {_ranges(wrong)}: MAC does not match "
                               f"{KEY_ENV} (re-chained without the key, or written with "
                               "another key)")
    if stripped:
        report.problems.append(f"audit entries {_ranges(stripped)} have no MAC although "
                               f"entry {first_keyed} before them has one (MAC stripped, or "
                               f"written without {KEY_ENV})")
    if first_keyed is None:
        report.problems.append(f"{KEY_ENV} is set but none of the {report.entries:,} audit "
                               "entries carries a MAC (the trail was never keyed, or every "
                               "MAC was stripped)")


def check_anchor(report: TrailReport, expect: tuple[int, str],
                 db: sqlite_utils.Database) -> None:
    """The anchor (seq, hash) against the trail: entry seq must exist and
    have that hash. A problem otherwise."""
    seq, want = expect
    last = report.head[0] if report.head else 0
    if seq > last:
        report.problems.append(f"the trail ends at entry {last}; the anchor names entry "
                               f"{seq} (entries deleted from the end, or another database)")
        return
    row = db.execute("select hash from audit where seq = ?", [seq]).fetchone()
    if row is None:
        report.problems.append(f"audit entry {seq}, which the anchor names, is missing "
                               "(deleted)")
    elif row[0] != want:
        report.problems.append(f"audit entry {seq} has hash {row[0]}; the anchor says {want} "
                               "(the trail was rewritten at or before that entry)")


def verify_trail(db: sqlite_utils.Database, key: bytes | None = None,
                 expect: tuple[int, str] | None = None,
                 between: Callable[[], None] | None = None) -> TrailReport:
    """The whole check of `audit verify`, in one read transaction.

    key: the audit key (audit_key()) or None; expect: an anchor (seq, hash)
    or None. `between` is called after the entries are read and before the
    stored rows are checked against them (tests use it to commit a run
    there; it must not use this connection). Raises nothing for a broken
    trail: every finding is in report.problems."""
    from .audit import verify

    report = TrailReport()
    conn = db.conn
    if conn.in_transaction:  # pragma: no cover - callers pass a fresh connection
        conn.commit()
    conn.execute("BEGIN")  # deferred: the snapshot starts with the first read
    try:
        check_macs(db, key, report)
        chain = verify(db, between)
        report.problems[:0] = chain
        if expect is not None:
            check_anchor(report, expect, db)
    finally:
        conn.execute("ROLLBACK")  # nothing was written: end the snapshot
    return report
