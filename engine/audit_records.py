"""Verifying the memory and listing tables against their audit entries:
strikes (with their pardons and supersedes), registry exemptions, the
reviews of adieu 0.2, and the rejects of each run.

Every column of these tables that a decision or a listing reads is either
in an entry's payload (compared field by field here, the problem naming
the row and the column) or derivable from entries (a strike's `expires_on`
written before migration m009: its `recorded_on` plus the `window_days`
of its run's stored policy; a review's `at`: its entry's `at`). Row ids
are covered where something refers to them: pardon and supersede entries
name strike ids, decisions name `registry-ID`, strike entries since m009
carry their row's id. A run's rejects are covered by one entry (kind
"rejects", payload {"count", "digest"}: digest is `rejects_digest`).

See docs/database.md ("audit")."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

import sqlite_utils

RECORD_KINDS = ("strike", "pardon", "exemption", "approval", "rejection", "supersede",
                "rejects")
LIMIT = 20
SUPERSEDE_BATCH = 1000  # strike ids per supersede entry (a payload of ~10 KB at most)
DEFAULT_WINDOW_DAYS = 365  # policy.StrikeSettings.window_days when a policy omits it
REJECT_COLUMNS = ("id", "run_id", "file", "row", "line", "customer_id", "field", "value",
                  "reason")


def rejects_digest(db: sqlite_utils.Database, run_id: int) -> tuple[int, str]:
    """(count, hex sha256) of run_id's rejects rows: the sha256 over each
    row's digest (audit.digest of its REJECT_COLUMNS as a JSON array) in id
    order. Any edit, insertion, deletion or renumbering changes it."""
    from .audit import digest

    h, count = hashlib.sha256(), 0
    for row in db.execute(f"select {', '.join(REJECT_COLUMNS)} from rejects where run_id = ? "
                          "order by id", [run_id]):
        h.update(digest(list(row)).encode("ascii"))
        count += 1
    return count, h.hexdigest()


def supersede_payloads(strike_ids: list[int]) -> Iterable[dict[str, Any]]:
    """The payloads of the supersede entries of one run: {"strike_ids": [...]}
    in batches of SUPERSEDE_BATCH ids, ascending."""
    ids = sorted(strike_ids)
    for start in range(0, len(ids), SUPERSEDE_BATCH):
        yield {"strike_ids": ids[start:start + SUPERSEDE_BATCH]}


def check_records(db: sqlite_utils.Database, entries: list[dict[str, Any]]) -> list[str]:
    """The strikes, exemptions, reviews and rejects tables against their
    audit entries (dicts of the entry's columns, payload parsed). At most
    LIMIT problems, each naming the row and the column."""
    by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in RECORD_KINDS}
    for e in entries:
        if isinstance(e["payload"], dict):
            by_kind[e["kind"]].append(e)
    problems = _check_strikes(db, by_kind)
    problems += _check_exemptions(db, by_kind["exemption"])
    problems += _check_reviews(db, by_kind["approval"] + by_kind["rejection"])
    problems += _check_rejects(db, by_kind["rejects"])
    return problems[:LIMIT]


def run_windows(db: sqlite_utils.Database) -> dict[int, int | None]:
    """Each run's strike window in days, read from its stored policy text
    (None when the text cannot be read: its strikes' expires_on is then
    not checked)."""
    from .yamlpos import load_with_positions

    out: dict[int, int | None] = {}
    for run_id, text in db.execute("select id, policy_text from runs"):
        try:
            doc, _ = load_with_positions(text, f"run {run_id} policy")
            strikes = doc.get("strikes") or {}
            days = strikes.get("window_days", DEFAULT_WINDOW_DAYS)
            out[run_id] = days if isinstance(days, int) and not isinstance(days, bool) else None
        except Exception:  # noqa: BLE001 - an unreadable old text: not derivable
            out[run_id] = None
    return out


def _strike_expiry(s: dict[str, Any], entry: dict[str, Any],
                   windows: dict[int, int | None]) -> str | None:
    """The expires_on the trail vouches for: the entry's (m009 on), else
    derived from the run's policy; None if neither is known."""
    if "expires_on" in entry["payload"]:
        return entry["payload"]["expires_on"]
    days = windows.get(s["run_id"])
    try:
        return (dt.date.fromisoformat(entry["payload"]["recorded_on"])
                + dt.timedelta(days=days)).isoformat() if days is not None else None
    except (TypeError, ValueError, KeyError):
        return None


def _check_strikes(db: sqlite_utils.Database,
                   by_kind: dict[str, list[dict[str, Any]]]) -> list[str]:
    problems: list[str] = []
    expected: dict[tuple, list[dict[str, Any]]] = {}
    for e in by_kind["strike"]:
        p = e["payload"]
        expected.setdefault((e["run_id"], e["customer_id"], p.get("rule"),
                             p.get("recorded_on")), []).append(e)
    pardons: dict[Any, dict[str, Any]] = {}
    for e in by_kind["pardon"]:
        first = pardons.setdefault(e["payload"].get("strike_id"), e)
        if first is not e:  # a strike is pardoned once: a second entry is a lost race
            problems.append(f"strike {e['payload'].get('strike_id')} has two pardon entries "
                            f"(audit entries {first['seq']} and {e['seq']}): it was "
                            "pardoned twice")
    supersedes: dict[Any, dict[str, Any]] = {}
    for e in by_kind["supersede"]:
        for strike_id in e["payload"].get("strike_ids") or []:
            first = supersedes.setdefault(strike_id, e)
            if first is not e:
                problems.append(f"strike {strike_id} has two supersede entries (audit "
                                f"entries {first['seq']} and {e['seq']})")
    run_dates = dict(db.execute("select id, as_of from runs").fetchall())
    windows: dict[int, int | None] | None = None
    for s in db.query("select * from strikes order by id"):
        what = f"strike {s['id']}"
        row = f"({s['customer_id']}, {s['rule']}, {s['recorded_on']})"
        key = (s["run_id"], s["customer_id"], s["rule"], s["recorded_on"])
        if not expected.get(key):
            problems.append(f"{what} {row} has no audit entry (inserted, or its customer_id, "
                            "rule, recorded_on or run_id edited)")
        else:
            e = expected[key].pop()
            if "id" in e["payload"] and e["payload"]["id"] != s["id"]:
                problems.append(f"{what} {row} was edited: id differs from audit entry "
                                f"{e['seq']} ({e['payload']['id']}): renumbered")
            if "expires_on" not in e["payload"] and windows is None:
                windows = run_windows(db)
            expiry = _strike_expiry(s, e, windows or {})
            if expiry is not None and expiry != s["expires_on"]:
                problems.append(f"{what} {row} was edited: expires_on {s['expires_on']} "
                                f"differs from audit entry {e['seq']} ({expiry})")
        problems += _pardon_problems(s, what, pardons.pop(s["id"], None))
        problems += _supersede_problems(s, what, supersedes.pop(s["id"], None), run_dates)
        if len(problems) >= LIMIT:
            return problems
    for key, left in expected.items():
        for e in left:
            problems.append(f"strike of {key[1]} ({key[2]}, {key[3]}) was deleted (audit "
                            f"entry {e['seq']} names it)")
    for strike_id, e in pardons.items():
        problems.append(f"strike {strike_id} pardoned in audit entry {e['seq']} was deleted")
    for strike_id, e in supersedes.items():
        problems.append(f"strike {strike_id} superseded in audit entry {e['seq']} was deleted")
    return problems


def _pardon_problems(s: dict[str, Any], what: str, e: dict[str, Any] | None) -> list[str]:
    """A strike's pardoned_at, pardoned_by and pardon_reason against its
    pardon entry (at, by, reason), all NULL without one."""
    row = {"pardoned_at": s["pardoned_at"], "pardoned_by": s["pardoned_by"],
           "pardon_reason": s["pardon_reason"]}
    if e is None:
        if any(v is not None for v in row.values()):
            set_ = ", ".join(k for k, v in row.items() if v is not None)
            return [f"{what} is marked pardoned without a matching pardon entry ({set_} "
                    f"set; {s['customer_id']}, {s['rule']})"]
        return []
    if all(v is None for v in row.values()):
        return [f"{what}: its pardon (audit entry {e['seq']}) was undone (pardoned_at, "
                "pardoned_by and pardon_reason cleared)"]
    p = e["payload"]
    entry = {"pardoned_at": e["at"], "pardoned_by": p.get("by"), "pardon_reason": p.get("reason")}
    fields = [k for k in row if row[k] != entry[k]]
    fields += [f for f, k in (("customer_id", "customer_id"),) if e[k] != s[k]]
    fields += [f for f in ("rule", "recorded_on") if p.get(f) != s[f]]
    if fields:
        return [f"{what} was edited: {', '.join(fields)} "
                f"differ{'s' if len(fields) == 1 else ''} from its pardon entry (audit entry "
                f"{e['seq']})"]
    return []


def _supersede_problems(s: dict[str, Any], what: str, e: dict[str, Any] | None,
                        run_dates: dict[int, str]) -> list[str]:
    """A strike's superseded_by_run against the supersede entry naming it
    (both ways), and the supersede's own sense: a later run of the date."""
    sup = s["superseded_by_run"]
    if e is None:
        if sup is not None:
            return [f"{what} is marked superseded by run {sup} without a supersede entry "
                    f"(superseded_by_run edited; {s['customer_id']}, {s['rule']})"]
        return []
    if sup is None:
        return [f"{what}: its supersede by run {e['run_id']} (audit entry {e['seq']}) was "
                "undone (superseded_by_run cleared): the strike would count again"]
    if sup != e["run_id"]:
        return [f"{what} was edited: superseded_by_run is {sup}, audit entry {e['seq']} "
                f"records run {e['run_id']}"]
    if run_dates.get(sup) != s["recorded_on"] or sup <= s["run_id"]:
        return [f"{what} is marked superseded by run {sup}, which is not a later run of its "
                "date"]
    return []


def _check_exemptions(db: sqlite_utils.Database, entries: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    exemptions = {e["payload"].get("id"): e for e in entries}
    for row in db.query("select * from exemptions order by id"):
        e = exemptions.pop(row["id"], None)
        if e is None:
            problems.append(f"exemption registry-{row['id']} has no audit entry")
            continue
        fields = [k for k in row if k != "id" and e["payload"].get(k) != row[k]]
        if e["customer_id"] != row["customer_id"] and "customer_id" not in fields:
            fields.append("customer_id")
        if fields:
            problems.append(f"exemption registry-{row['id']} was edited: {', '.join(fields)} "
                            f"differ{'s' if len(fields) == 1 else ''} from audit entry "
                            f"{e['seq']}")
    for exemption_id, e in exemptions.items():
        problems.append(f"exemption registry-{exemption_id} was deleted (audit entry "
                        f"{e['seq']} names it)")
    return problems


def _check_reviews(db: sqlite_utils.Database, entries: list[dict[str, Any]]) -> list[str]:
    """reviews rows (adieu 0.2) against their approval / rejection entries:
    verdict, reviewer and note from the payload, at from the entry's at."""
    problems: list[str] = []
    reviews = {(e["run_id"], e["customer_id"]): e for e in entries}
    for row in db.query("select * from reviews order by id"):
        what = f"review of {row['customer_id']} in run {row['run_id']}"
        e = reviews.pop((row["run_id"], row["customer_id"]), None)
        if e is None:
            problems.append(f"{what} has no audit entry")
            continue
        vouched = {**e["payload"], "at": e["at"]}
        fields = [k for k in row if k not in ("id", "run_id", "customer_id")
                  and vouched.get(k) != row[k]]
        if e["kind"] != ("approval" if row["verdict"] == "approved" else "rejection") \
                and "verdict" not in fields:
            fields.append("verdict")
        if fields:
            problems.append(f"{what} was edited: {', '.join(fields)} "
                            f"differ{'s' if len(fields) == 1 else ''} from audit entry "
                            f"{e['seq']}")
    for (run_id, customer_id), e in reviews.items():
        problems.append(f"review of {customer_id} in run {run_id} was deleted (audit entry "
                        f"{e['seq']} names it)")
    return problems


def _check_rejects(db: sqlite_utils.Database, entries: list[dict[str, Any]]) -> list[str]:
    """Each run's rejects rows against its rejects entry (every run has
    one: written with the run since m009, or by m009 for earlier runs)."""
    problems: list[str] = []
    by_run: dict[Any, dict[str, Any]] = {}
    for e in entries:
        if e["run_id"] in by_run:
            problems.append(f"run {e['run_id']} has two rejects entries (audit entries "
                            f"{by_run[e['run_id']]['seq']} and {e['seq']})")
        by_run.setdefault(e["run_id"], e)
    runs = [r[0] for r in db.execute("select id from runs order by id")]
    for run_id in runs:
        e = by_run.pop(run_id, None)
        count, hexdigest = rejects_digest(db, run_id)
        if e is None:
            problems.append(f"run {run_id}: its rejects ({count} rows) have no audit entry")
        elif (count, hexdigest) != (e["payload"].get("count"), e["payload"].get("digest")):
            problems.append(f"rejects of run {run_id}: {count} rows that differ from audit "
                            f"entry {e['seq']} ({e['payload'].get('count')} rows): a row was "
                            "edited, inserted or deleted")
        if len(problems) >= LIMIT:
            return problems
    known = set(runs)
    for (run_id, n) in db.execute("select run_id, count(*) from rejects group by run_id"):
        if run_id not in known:
            problems.append(f"rejects: {n} rows name run {run_id}, which does not exist "
                            "(inserted)")
    return problems

