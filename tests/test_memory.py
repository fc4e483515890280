"""Memory across runs, unit by unit: the strike ledger's boundaries, registry
exemptions in every code path, pardons, reviews, pending, atomic writes and
the store's busy timeout.

The tiny policy and customers come from conftest.py (as of 2026-11-02; the
policy has no `strikes:` section, so the window is 365 days and the
cool-down 30)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF, CSV_HEADER, CSV_ROWS

import adieu.run as run_module
from adieu.cli import cli
from adieu.errors import InputError
from adieu.explain import explain_stored
from adieu.ledger import Memory, Strike, apply_strikes, memory_from_json
from adieu.plugins import registry
from adieu.policy import compile_policy
from adieu.run import prepare, recall
from adieu.store import get_decision, get_run, load_memories, open_db, write_run

DAY = dt.date.fromisoformat(AS_OF)
WINDOW, COOLDOWN = 365, 30  # the defaults the tiny policy gets


def plus(days: int) -> dt.date:
    return DAY + dt.timedelta(days=days)


def adieu(runner: CliRunner, db: Path, *args: str, code: int = 0):
    result = runner.invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == code, (args, result.output)
    return result


def evaluate(runner: CliRunner, db: Path, policy: Path, csv: Path, as_of: dt.date,
             *more: str, code: int = 0) -> dict:
    result = adieu(runner, db, "evaluate", str(policy), "--source", f"csv:{csv}", "--as-of",
                   as_of.isoformat(), "--json", *more, code=code)
    return json.loads(result.stdout) if code == 0 else {}


def of(run: dict, cid: str) -> dict:
    return next(d for d in run["decisions"] if d["customer_id"] == cid)


def count(db: Path, table: str, where: str = "1") -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"select count(*) from {table} where {where}").fetchone()[0]
    finally:
        conn.close()


def write_csv(path: Path, rows: list[str], header: str = CSV_HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def row_with(cid: str, **changes: str) -> str:
    """conftest's row for cid with some columns changed."""
    header = CSV_HEADER.split(",")
    cells = next(r for r in CSV_ROWS if r.startswith(cid + ",")).split(",")
    for name, value in changes.items():
        cells[header.index(name)] = value
    return ",".join(cells)


# ---------------------------------------------------------------------------
# The ledger's rules (pure)
# ---------------------------------------------------------------------------

def test_a_strike_is_active_until_the_day_before_it_expires() -> None:
    strike = Strike("late", DAY)
    assert strike.expires_on(180) == plus(180)
    assert strike.to_dict(180) == {"rule": "late", "recorded_on": AS_OF,
                                   "expires_on": plus(180).isoformat()}
    last_day = apply_strikes([], [strike], plus(179), 180, 45)
    assert last_day.active == [strike] and last_day.expired == []
    expiry = apply_strikes([], [strike], plus(180), 180, 45)
    assert expiry.active == [] and expiry.expired == [strike]


def test_the_cool_down_boundary_is_a_new_strike() -> None:
    strike = Strike("late", DAY)
    within = apply_strikes(["late"], [strike], plus(44), 180, 45)
    assert within.new == [] and within.repeated == [strike] and within.active == [strike]
    on_the_day = apply_strikes(["late"], [strike], plus(45), 180, 45)
    assert on_the_day.repeated == []
    assert on_the_day.new == [Strike("late", plus(45))]
    assert on_the_day.active == [strike, Strike("late", plus(45))]


def test_the_cool_down_runs_from_the_latest_strike_of_that_rule() -> None:
    first, second = Strike("late", DAY), Strike("late", plus(50))
    other = Strike("cost", plus(80))
    # 60 days after the first strike, but 10 after the latest: the same strike.
    out = apply_strikes(["late"], [first, second, other], plus(60), 180, 45)
    assert out.repeated == [second] and out.new == []
    # Another rule's strike does not start this rule's cool-down.
    out = apply_strikes(["late"], [other], plus(81), 180, 45)
    assert out.new == [Strike("late", plus(81))]


def test_after_the_window_the_same_rule_is_a_new_strike() -> None:
    old = Strike("late", DAY)
    out = apply_strikes(["late"], [old], plus(200), 180, 45)
    assert out.expired == [old] and out.new == [Strike("late", plus(200))]
    assert out.active == [Strike("late", plus(200))]


def test_strikes_after_the_run_date_are_not_memory() -> None:
    """A strike recorded on the as-of date (by an earlier run of that date,
    for a rule this run cannot judge: decide) is memory: the same rule
    firing again is that strike, not a new one. A later strike is no
    memory."""
    same_day, later = Strike("late", DAY), Strike("cost", plus(3))
    out = apply_strikes(["late"], [same_day, later], DAY, 180, 45)
    assert out.active == [same_day] and out.new == []
    assert out.repeated == [same_day] and out.expired == []


def test_a_rule_fired_twice_counts_once() -> None:
    out = apply_strikes(["late", "cost", "late"], [], DAY, 180, 45)
    assert [s.rule for s in out.new] == ["late", "cost"]


def test_memory_round_trips_through_json(runner: CliRunner, evaluated: Path) -> None:
    adieu(runner, evaluated, "exempt", "C-WARN", "--rules", "late,cost-high", "--reason", "R",
          "--approver", "A", "--until", "2027-01-01")
    adieu(runner, evaluated, "exempt", "C-WARN", "--all", "--reason", "R2", "--approver", "B",
          "--until", "2026-12-01")
    db = open_db(str(evaluated))
    try:
        memories = load_memories(db, plus(1))
    finally:
        db.close()
    memory = memories["C-WARN"]
    assert memory.strikes == [Strike("late", DAY, 1)]
    data = memory.to_json()
    assert data == {
        "strikes": [{"rule": "late", "recorded_on": AS_OF}],
        "exemptions": [
            {"id": "registry-1", "rules": ["cost-high", "late"], "reason": "R",
             "approver": "A", "expires": "2027-01-01"},
            {"id": "registry-2", "rules": None, "reason": "R2", "approver": "B",
             "expires": "2026-12-01"}]}
    again = memory_from_json(json.loads(json.dumps(data)), "C-WARN")
    assert again.to_json() == data
    assert [e.customers for e in again.exemptions] == [frozenset({"C-WARN"})] * 2
    assert again.exemptions[1].shields("anything")
    assert memory_from_json(None, "X").to_json() == Memory().to_json()


def test_load_memories_leaves_out_pardoned_superseded_and_later_strikes(
        runner: CliRunner, evaluated: Path) -> None:
    db = open_db(str(evaluated))
    try:
        assert load_memories(db, DAY - dt.timedelta(days=1)) == {}  # recorded after it
        # Recorded on the day itself: memory for a second run of that day
        # (decide counts them only for rules that run cannot judge).
        assert {c: len(m.strikes) for c, m in load_memories(db, DAY).items() if m.strikes} \
            == {"C-WARN": 1, "C-FINAL": 2, "C-OFF": 3, "C-HELD": 1}
        memories = load_memories(db, plus(1))
        before = {c: len(m.strikes) for c, m in memories.items() if m.strikes}
        assert before == {"C-WARN": 1, "C-FINAL": 2, "C-OFF": 3, "C-HELD": 1}
        # The offboardings of the day are open cases the next day.
        assert {c: m.case.state for c, m in memories.items() if m.case} == \
            {"C-OFF": "proposed", "C-ABUSE": "proposed"}
        db.execute("update strikes set superseded_by_run = 1 where customer_id = 'C-HELD'")
        db.conn.commit()
    finally:
        db.close()
    adieu(runner, evaluated, "strikes", "pardon", "C-FINAL", "late", "--by", "P",
          "--reason", "R")
    db = open_db(str(evaluated))
    try:
        after = {c: [s.rule for s in m.strikes] for c, m in load_memories(db, plus(1)).items()
                 if m.strikes}
    finally:
        db.close()
    assert after == {"C-WARN": ["late"], "C-FINAL": ["cost-high"],
                     "C-OFF": ["cost-high", "late", "escalations"]}


# ---------------------------------------------------------------------------
# Registry exemptions: applied before their date, never on or after it, in
# evaluate, explain and replay
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("until, applies", [(plus(1), True), (DAY, False), (plus(-1), False)])
def test_registry_exemption_in_every_code_path(runner: CliRunner, tmp_path: Path,
                                               policy_file: Path, good_csv: Path,
                                               until: dt.date, applies: bool) -> None:
    db = tmp_path / "x.db"
    adieu(runner, db, "exempt", "C-WARN", "--rules", "late", "--reason", "Pilot customer",
          "--approver", "CCO", "--until", until.isoformat(), "--new-customer")
    expired_note = f"exemption registry-1 expired on {until.isoformat()}"

    # evaluate
    d = of(evaluate(runner, db, policy_file, good_csv, DAY), "C-WARN")
    if applies:
        assert d["outcome"] == "exempt" and d["strikes"] == 0 and d["new_strikes"] == []
        assert [(r["rule"], r["shielded_by"]) for r in d["shielded"]] == [("late",
                                                                           "registry-1")]
        assert [(e["id"], e["source"]) for e in d["exemptions"]] == [("registry-1",
                                                                      "registry")]
        assert d["expired_exemptions"] == [] and expired_note not in d["notes"]
    else:
        assert d["outcome"] == "warn" and d["strikes"] == 1 and d["new_strikes"] == ["late"]
        assert d["shielded"] == [] and d["exemptions"] == []
        assert [e["id"] for e in d["expired_exemptions"]] == ["registry-1"]
        assert expired_note in d["notes"]
    assert count(db, "strikes", "customer_id = 'C-WARN'") == (0 if applies else 1)

    # explain (CLI and explain_stored)
    explained = json.loads(adieu(runner, db, "explain", "C-WARN", "--json").stdout)
    assert explained["decision"]["outcome"] == explained["stored_outcome"] == d["outcome"]
    assert (expired_note in explained["decision"]["notes"]) is not applies
    late = next(r for r in explained["rules"] if r["rule"] == "late")
    assert late["shielded_by"] == ("registry-1" if applies else None)
    text = adieu(runner, db, "explain", "C-WARN").stdout
    assert ("shielded by exemption registry-1" in text) is applies
    assert (f"note: {expired_note}" in text) is not applies

    store = open_db(str(db))
    try:
        run = get_run(store, None)
        row = get_decision(store, run["id"], "C-WARN")
    finally:
        store.close()
    policy = compile_policy(run["policy_text"], "stored", registry().functions)
    memory = memory_from_json(row["memory"], "C-WARN")
    assert [e.id for e in memory.exemptions] == ["registry-1"]
    decision = explain_stored(policy, run, row["facts"], json.loads(run["population"]),
                              memory)["decision"]
    assert decision.outcome == d["outcome"]
    assert (expired_note in decision.notes) is not applies

    # replay: the same, with no differences
    replayed = json.loads(adieu(runner, db, "replay", "1", "--json").stdout)
    assert replayed["differences"] == []


def test_exemptions_lists_active_and_expired(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    adieu(runner, db, "exempt", "C-A", "--all", "--reason", "R", "--approver", "A", "--until",
          "2026-06-15", "--new-customer")
    adieu(runner, db, "exempt", "C-B", "--rules", "late, cost-high", "--reason", "R",
          "--approver", "A", "--until", "2027-01-01", "--new-customer")

    def listed(*args: str) -> list[tuple]:
        rows = json.loads(adieu(runner, db, "exemptions", "--json", *args).stdout)
        return [(r["id"], r["customer_id"], r["rules"]) for r in rows]

    assert listed("--as-of", "2026-06-14") == [("registry-1", "C-A", None),
                                               ("registry-2", "C-B", ["late", "cost-high"])]
    assert listed("--as-of", "2026-06-15") == [("registry-2", "C-B", ["late", "cost-high"])]
    assert listed("--as-of", "2026-06-15", "--expired") == [("registry-1", "C-A", None)]
    assert listed("--as-of", "2026-06-14", "--expired") == []
    text = adieu(runner, db, "exemptions", "--as-of", "2027-01-01").stdout
    assert text.strip() == "no active exemptions as of 2027-01-01"


@pytest.mark.parametrize("args, message", [
    (["--all", "--rules", "late"], "give exactly one of --rules R1,R2 and --all"),
    ([], "give exactly one of --rules R1,R2 and --all"),
    (["--all", "--reason", " "], "--reason may not be empty"),
    (["--all", "--approver", ""], "--approver may not be empty"),
    (["--all", "--until", "2026-02-30"], "is not a date YYYY-MM-DD"),
])
def test_exempt_refuses_bad_input(runner: CliRunner, tmp_path: Path, args: list[str],
                                  message: str) -> None:
    base = {"--reason": "R", "--approver": "A", "--until": "2027-01-01"}
    for i in range(0, len(args) - 1):
        if args[i] in base:
            base.pop(args[i])
    extra = [x for k, v in base.items() for x in (k, v)]
    db = tmp_path / "x.db"
    result = adieu(runner, db, "exempt", "C-A", *args, *extra, code=2)
    assert message in result.stderr
    if db.exists():
        assert count(db, "exemptions") == 0 and count(db, "audit") == 0


# ---------------------------------------------------------------------------
# Pardons
# ---------------------------------------------------------------------------

def test_a_pardon_removes_the_strike_from_the_next_run(runner: CliRunner, evaluated: Path,
                                                       policy_file: Path,
                                                       tmp_path: Path) -> None:
    # Next month C-WARN pays on time: only its old strike could keep it on warn.
    rows = [row_with(c, late_payments_12m="0") if c == "C-WARN" else row_with(c)
            for c in ("C-KEEP", "C-WARN", "C-FINAL")]
    calm = write_csv(tmp_path / "calm.csv", rows)
    control = tmp_path / "control.db"
    src, dst = sqlite3.connect(evaluated), sqlite3.connect(control)
    src.backup(dst)
    src.close()
    dst.close()

    done = adieu(runner, evaluated, "strikes", "pardon", "C-WARN", "late", "--by", "Pat",
                 "--reason", "our invoicing error")
    assert done.stdout.strip() == "pardoned strike #1 (late, recorded 2026-11-02) of C-WARN"
    with_pardon = of(evaluate(runner, evaluated, policy_file, calm, plus(7)), "C-WARN")
    without = of(evaluate(runner, control, policy_file, calm, plus(7)), "C-WARN")
    assert (without["outcome"], without["strikes"]) == ("warn", 1)
    assert (with_pardon["outcome"], with_pardon["strikes"]) == ("keep", 0)

    rows = json.loads(adieu(runner, evaluated, "strikes", "C-WARN", "--json").stdout)
    assert [(r["rule"], r["status"], r["pardoned_by"], r["pardon_reason"]) for r in rows] == \
        [("late", "pardoned", "Pat", "our invoicing error")]
    conn = sqlite3.connect(evaluated)
    try:
        entry = conn.execute("select customer_id, run_id, payload from audit "
                             "where kind = 'pardon'").fetchall()
    finally:
        conn.close()
    assert len(entry) == 1 and entry[0][:2] == ("C-WARN", None)
    assert json.loads(entry[0][2]) == {"strike_id": 1, "rule": "late",
                                       "recorded_on": AS_OF, "by": "Pat",
                                       "reason": "our invoicing error"}
    history = adieu(runner, evaluated, "history", "C-WARN").stdout
    assert "pardoned: late of 2026-11-02 by Pat (our invoicing error)" in history


def test_a_pardon_takes_the_latest_active_strike(runner: CliRunner, evaluated: Path,
                                                 policy_file: Path, customers_csv: Path) \
        -> None:
    evaluate(runner, evaluated, policy_file, customers_csv, plus(COOLDOWN))  # a new strike
    adieu(runner, evaluated, "strikes", "pardon", "C-WARN", "late", "--by", "P", "--reason",
          "R")
    rows = json.loads(adieu(runner, evaluated, "strikes", "C-WARN", "--json", "--as-of",
                            plus(COOLDOWN).isoformat()).stdout)
    assert [(r["recorded_on"], r["status"]) for r in rows] == [
        (AS_OF, "active"), (plus(COOLDOWN).isoformat(), "pardoned")]


@pytest.mark.parametrize("args, message", [
    (["C-WARN", "late", "--by", "", "--reason", "R"], "--by may not be empty"),
    (["C-WARN", "late", "--by", "   ", "--reason", "R"], "--by may not be empty"),
    (["C-WARN", "late", "--by", "P", "--reason", ""], "--reason may not be empty"),
    (["C-WARN", "nope", "--by", "P", "--reason", "R"],
     "C-WARN has no strike for rule 'nope' to pardon"),
    (["C-NOBODY", "late", "--by", "P", "--reason", "R"],
     "C-NOBODY has no strike for rule 'late' to pardon"),
    (["C-KEEP", "late", "--by", "P", "--reason", "R"],
     "C-KEEP has no strike for rule 'late' to pardon"),
])
def test_pardon_refuses(runner: CliRunner, evaluated: Path, args: list[str],
                        message: str) -> None:
    before = count(evaluated, "audit")
    result = adieu(runner, evaluated, "strikes", "pardon", *args, code=2)
    assert message in result.stderr
    assert count(evaluated, "audit") == before
    assert count(evaluated, "strikes", "pardoned_at is not null") == 0


def test_a_strike_is_pardoned_once(runner: CliRunner, evaluated: Path) -> None:
    adieu(runner, evaluated, "strikes", "pardon", "C-WARN", "late", "--by", "P", "--reason",
          "R")
    again = adieu(runner, evaluated, "strikes", "pardon", "C-WARN", "late", "--by", "P",
                  "--reason", "R", code=2)
    assert "no strike for rule 'late' to pardon" in again.stderr
    assert count(evaluated, "audit", "kind = 'pardon'") == 1


# ---------------------------------------------------------------------------
# Reviews and pending
# ---------------------------------------------------------------------------

OWNERS = {"C-OFF": "Olga Owner", "C-ABUSE": "Sam Smith", "C-WARN": "Olga Owner"}


@pytest.fixture
def owned(runner: CliRunner, tmp_path: Path, policy_file: Path) -> Path:
    """The tiny customers with an account owner each (C-KEEP has none)."""
    rows = [r + "," + OWNERS.get(r.split(",")[0], "") for r in CSV_ROWS[:-1]]
    csv = write_csv(tmp_path / "owned.csv", rows, CSV_HEADER + ",owner")
    db = tmp_path / "owned.db"
    run = evaluate(runner, db, policy_file, csv, DAY)
    assert sorted(d["customer_id"] for d in run["decisions"] if d["outcome"] == "offboard") \
        == ["C-ABUSE", "C-OFF"]
    return db


def pending(runner: CliRunner, db: Path, *args: str) -> list[dict]:
    return json.loads(adieu(runner, db, "pending", "--json", *args).stdout)


@pytest.mark.parametrize("reviewer", ["Olga Owner", "olga owner", "OLGA OWNER", " Olga Owner "])
def test_the_owner_may_not_review(runner: CliRunner, owned: Path, reviewer: str) -> None:
    for verb in ("approve", "reject"):
        result = adieu(runner, owned, verb, "C-OFF", "--run", "1", "--by", reviewer, code=2)
        assert "is the account owner of C-OFF and may not review its offboarding" in \
            result.stderr
    assert count(owned, "cases", "state = 'proposed' and reviewer is null") == 2
    assert count(owned, "audit", "kind = 'case' and payload like '%\"event\":\"opened\"%'") \
        == count(owned, "audit", "kind = 'case'") == 2


@pytest.mark.parametrize("args, message", [
    (["C-OFF", "--run", "1", "--by", ""], "--by may not be empty"),
    (["C-OFF", "--run", "1", "--by", "  "], "--by may not be empty"),
    (["C-WARN", "--run", "1", "--by", "Rita"], "C-WARN has no open offboarding case; see "),
    (["C-HELD", "--by", "Rita"], "C-HELD has no open offboarding case; see "),
    (["C-NOBODY", "--run", "1", "--by", "Rita"], "C-NOBODY has no open offboarding case"),
    (["C-OFF", "--run", "9", "--by", "Rita"],
     "--run 9 is not a run of C-OFF's case 1 (proposed by runs 1 to 1); leave --run out"),
])
def test_review_refuses(runner: CliRunner, owned: Path, args: list[str], message: str) -> None:
    for verb in ("approve", "reject"):
        result = adieu(runner, owned, verb, *args, code=2)
        assert message in result.stderr
    assert count(owned, "cases", "reviewer is not null") == 0


def test_a_case_is_reviewed_once(runner: CliRunner, owned: Path) -> None:
    adieu(runner, owned, "approve", "C-OFF", "--run", "1", "--by", "Rita", "--note", "ok")
    for verb in ("approve", "reject"):
        again = adieu(runner, owned, verb, "C-OFF", "--by", "Max", code=2)
        assert "C-OFF's case 1 was already approved by Rita at " in again.stderr
    conn = sqlite3.connect(owned)
    try:
        cases = conn.execute("select id, customer_id, state, reviewer, review_note, review_run "
                             "from cases where reviewer is not null").fetchall()
        entries = conn.execute("select run_id, customer_id, payload from audit where "
                               "kind = 'case' and customer_id = 'C-OFF'").fetchall()
    finally:
        conn.close()
    assert cases == [(1, "C-OFF", "approved", "Rita", "ok", 1)]
    assert [(r, c, json.loads(p)["event"], json.loads(p)["case"]["reviewer"])
            for r, c, p in entries] == [(1, "C-OFF", "opened", None),
                                        (1, "C-OFF", "approved", "Rita")]


def test_a_customer_without_an_owner_is_reviewed_only_with_the_flag(
        runner: CliRunner, evaluated: Path) -> None:
    refused = adieu(runner, evaluated, "reject", "C-OFF", "--run", "1", "--by", "Rita", code=2)
    assert "C-OFF has no account owner on record in run 1" in refused.stderr
    assert "--no-owner-on-record" in refused.stderr
    result = adieu(runner, evaluated, "reject", "C-OFF", "--run", "1", "--by", "Rita",
                   "--no-owner-on-record")
    assert result.stdout.strip() == "C-OFF (case 1, run 1): offboarding rejected by Rita"


def test_pending_lists_unreviewed_offboards_with_figures(runner: CliRunner, owned: Path,
                                                         policy_file: Path,
                                                         tmp_path: Path) -> None:
    waiting = pending(runner, owned)
    assert [(p["case_id"], p["run_id"], p["customer_id"], p["owner"]) for p in waiting] == [
        (2, 1, "C-ABUSE", "Sam Smith"), (1, 1, "C-OFF", "Olga Owner")]
    off = waiting[1]
    assert off["severity"] == "high" and off["strikes"] == 3
    assert off["effective_date"] == "2026-12-15"  # the contract end
    assert off["referrals"] == ["Other Ltd"]
    assert off["figures"] == {
        "cost-high": {"cost_ratio": 5.0, "max_cost_ratio": 1.0},
        "late": {"late_limit": 3, "late_payments_12m": 5},
        "escalations": {"escalations_12m": 6},
    }
    assert off["reasons"][0] == "Cost 5,000 is 500% of revenue 1,000."
    text = adieu(runner, owned, "pending").stdout
    assert "C-OFF  case 1  run 1  [high]  3 strikes  effective 2026-12-15  owner: Olga Owner" \
        in text
    assert "- late: 5 late payments (limit 3).  [late_limit=3, late_payments_12m=5]" in text

    adieu(runner, owned, "approve", "C-OFF", "--run", "1", "--by", "Rita")
    assert [p["customer_id"] for p in pending(runner, owned)] == ["C-ABUSE"]
    adieu(runner, owned, "reject", "C-ABUSE", "--run", "1", "--by", "Rita", "--note", "no")
    assert pending(runner, owned) == []
    assert adieu(runner, owned, "pending").stdout.strip() == "nothing waits for review"

    # A later run that still proposes C-OFF's offboarding keeps its approved
    # case: nothing waits again.
    rows = [r + "," + OWNERS.get(r.split(",")[0], "") for r in CSV_ROWS[:-1]]
    csv = write_csv(tmp_path / "owned-again.csv", rows[:6], CSV_HEADER + ",owner")
    evaluate(runner, owned, policy_file, csv, plus(7))
    assert pending(runner, owned) == pending(runner, owned, "--run", "1") == []
    assert count(owned, "cases", "customer_id = 'C-OFF' and state = 'approved' and "
                 "latest_run = 2") == 1


# ---------------------------------------------------------------------------
# Runs: the same date, an earlier date, atomic writes, the busy timeout
# ---------------------------------------------------------------------------

def test_a_different_run_of_the_same_date_supersedes_its_strikes(
        runner: CliRunner, evaluated: Path, policy_file: Path, customers_csv: Path) -> None:
    # A correction: the same source (same KIND:LOCATION) with other content.
    corrected = write_csv(customers_csv,
                          [row_with("C-WARN", late_payments_12m="0"), row_with("C-FINAL")])
    run2 = evaluate(runner, evaluated, policy_file, corrected, DAY)
    assert run2["run"]["id"] == 2 and not run2["run"]["already_recorded"]
    assert of(run2, "C-WARN")["outcome"] == "keep"
    assert of(run2, "C-FINAL")["strikes"] == 2  # not 4: run 1's strikes of the day are not memory
    conn = sqlite3.connect(evaluated)
    try:
        rows = conn.execute("select customer_id, rule, run_id, superseded_by_run from strikes "
                            "order by id").fetchall()
    finally:
        conn.close()
    # Run 2 decides C-WARN and C-FINAL again; the others keep run 1's strikes.
    assert [r for r in rows if r[2] == 1] == [
        ("C-WARN", "late", 1, 2), ("C-FINAL", "cost-high", 1, 2), ("C-FINAL", "late", 1, 2),
        ("C-OFF", "cost-high", 1, None), ("C-OFF", "late", 1, None),
        ("C-OFF", "escalations", 1, None), ("C-HELD", "late", 1, None)]
    assert [r for r in rows if r[2] == 2] == [("C-FINAL", "cost-high", 2, None),
                                              ("C-FINAL", "late", 2, None)]
    # The next run counts run 2's strikes only.
    run3 = evaluate(runner, evaluated, policy_file, corrected, plus(1))
    assert of(run3, "C-WARN")["strikes"] == 0 and of(run3, "C-FINAL")["strikes"] == 2
    adieu(runner, evaluated, "audit", "verify")


def test_a_run_of_other_customers_on_the_same_date_leaves_their_strikes(
        runner: CliRunner, evaluated: Path, policy_file: Path, tmp_path: Path) -> None:
    """Two sources (say two regions) evaluated as of the same date into one
    database: the second run supersedes no strike of the first's customers."""
    other = write_csv(tmp_path / "other.csv",
                      [row_with("C-WARN").replace("C-WARN", "US-WARN", 1)])
    run2 = evaluate(runner, evaluated, policy_file, other, DAY)
    assert of(run2, "US-WARN")["new_strikes"] == ["late"]
    assert count(evaluated, "strikes", "superseded_by_run is not null") == 0
    calm = write_csv(tmp_path / "calm.csv", [row_with("C-WARN", late_payments_12m="0")])
    later = evaluate(runner, evaluated, policy_file, calm, plus(7))
    assert (of(later, "C-WARN")["outcome"], of(later, "C-WARN")["strikes"]) == ("warn", 1)


def test_the_same_snapshot_twice_counts_once(runner: CliRunner, evaluated: Path,
                                             policy_file: Path, customers_csv: Path) -> None:
    before = {t: count(evaluated, t) for t in ("runs", "decisions", "strikes", "audit")}
    result = adieu(runner, evaluated, "evaluate", str(policy_file), "--source",
                   f"csv:{customers_csv}", "--as-of", AS_OF)
    assert "run 1 already recorded these facts under this policy as of 2026-11-02; nothing " \
           "new was written" in result.stderr
    assert {t: count(evaluated, t) for t in before} == before


def test_an_earlier_date_is_refused_unless_backfill(evaluated: Path) -> None:
    with pytest.raises(InputError, match="before the latest run's \\(2026-11-02\\); pass "
                                         "--backfill"):
        recall(str(evaluated), plus(-1), backfill=False)
    assert recall(str(evaluated), plus(-1), backfill=True).memories == {}
    # Strikes, and C-ABUSE's open offboarding case.
    assert set(recall(str(evaluated), plus(1), backfill=False).memories) == \
        {"C-WARN", "C-FINAL", "C-OFF", "C-HELD", "C-ABUSE"}
    assert recall(str(evaluated.parent / "none.db"), DAY, False).memories == {}
    assert not (evaluated.parent / "none.db").exists()


def test_backfill_is_recorded_on_the_run(runner: CliRunner, evaluated: Path,
                                         policy_file: Path, good_csv: Path) -> None:
    run = evaluate(runner, evaluated, policy_file, good_csv, plus(-30), "--backfill")
    conn = sqlite3.connect(evaluated)
    try:
        assert conn.execute("select id, backfill, as_of from runs order by id").fetchall() == \
            [(1, 0, AS_OF), (2, 1, plus(-30).isoformat())]
    finally:
        conn.close()
    assert run["run"]["id"] == 2


def _a_run(policy_file: Path, csv: Path, db: Path) -> tuple[dict, list, list]:
    """What store() would write (runs row, decisions, new strikes) for a run
    of csv as of DAY, captured from its RunWriter and rolled back."""
    captured: dict = {"decisions": [], "strikes": []}

    class Capture:
        def __init__(self, *args):
            pass

        def add(self, decisions, strikes=()):
            captured["decisions"] += decisions
            captured["strikes"] += strikes

        def add_rejects(self, rows):
            pass

        def finish(self, run):
            captured["run"] = run
            raise _Captured

    result = prepare(str(policy_file), f"csv:{csv}", DAY, db_file=str(db))
    original = run_module.RunWriter
    run_module.RunWriter = Capture
    try:
        with pytest.raises(_Captured):
            run_module.store(result, str(db), "2026-11-02T00:00:00+00:00")
    finally:
        run_module.RunWriter = original
    return captured["run"], captured["decisions"], captured["strikes"]


class _Captured(Exception):
    pass


def snapshot(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"select * from {t} order by rowid").fetchall()
                for t in ("runs", "decisions", "rejects", "strikes", "audit")}
    finally:
        conn.close()


@pytest.mark.parametrize("break_at", ["strikes", "audit"])
def test_a_failure_inside_write_run_leaves_nothing(evaluated: Path, policy_file: Path,
                                                   customers_csv: Path, monkeypatch,
                                                   break_at: str) -> None:
    # A second, different run of the same date over the same source:
    # writing it would also supersede run 1's strikes of that date.
    rows = [row_with("C-KEEP", revenue_12m="20000"), *CSV_ROWS[1:-1]]
    changed = write_csv(customers_csv, rows)
    run, decisions, strikes = _a_run(policy_file, changed, evaluated)
    assert len(strikes) == 7 and count(evaluated, "strikes") == 7
    before = snapshot(evaluated)
    db = open_db(str(evaluated))
    try:
        if break_at == "strikes":  # the last insert fails
            strikes = [*strikes[:-1], {**strikes[-1], "recorded_on": object()}]
        else:  # the audit entries fail to flush
            from adieu.audit import AuditLog

            def boom(self):
                raise sqlite3.OperationalError("disk I/O error (simulated)")

            monkeypatch.setattr(AuditLog, "flush", boom)
        with pytest.raises(sqlite3.Error):  # cannot bind an object / disk I/O error
            write_run(db, run, decisions, [], strikes)
    finally:
        db.close()
    assert snapshot(evaluated) == before
    monkeypatch.undo()
    db = open_db(str(evaluated))
    try:
        # The same write, unbroken, goes through in full.
        _, _, strikes = _a_run(policy_file, changed, evaluated)
        run_id = write_run(db, run, decisions, [], strikes)
    finally:
        db.close()
    after = snapshot(evaluated)
    assert run_id == 2 and len(after["decisions"]) == len(before["decisions"]) + 9
    # The run, its 9 decisions' batch, 7 strikes, the supersede of run 1's 7
    # strikes, its rejects (none), and the 2 open cases the run keeps.
    assert len(after["audit"]) == len(before["audit"]) + 1 + 1 + 7 + 1 + 1 + 2
    assert count(evaluated, "strikes", "superseded_by_run = 2") == 7


def test_open_db_sets_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    db = open_db(str(tmp_path / "x.db"))
    try:
        assert db.execute("pragma busy_timeout").fetchone()[0] == 900_000
        assert db.journal_mode == "wal"
    finally:
        db.close()


def test_a_writer_waits_for_a_lock_instead_of_failing(runner: CliRunner, evaluated: Path) \
        -> None:
    """Another process holds the write lock for a moment: adieu waits (the
    busy timeout) rather than failing with "database is locked"."""
    other = sqlite3.connect(evaluated, isolation_level=None, check_same_thread=False)
    other.execute("begin immediate")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.4)
        other.execute("commit")
        released.set()

    threading.Thread(target=release).start()
    start = time.monotonic()
    try:
        adieu(runner, evaluated, "exempt", "C-WARN", "--all", "--reason", "R", "--approver",
              "A", "--until", "2027-01-01")
    finally:
        released.wait(5)
        other.close()
    assert time.monotonic() - start >= 0.3
    assert count(evaluated, "exemptions") == 1
