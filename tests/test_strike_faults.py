"""Faults of the strike ledger, exemptions and history found by a hostile
test of issue 9, each a kind: a list option that names nothing, an
exemption that can never apply or names a customer no run decided, a pardon
undone by a re-run of its date, history words for unknown rules and for
supersedes, `strikes show` against the decision of its date, and two
pardons at once. End to end over the installed console script (real
processes for the race), plus the pure decide."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from adieu import timeline
from adieu.audit import AuditLog, verify
from adieu.decide import decide, make_contexts
from adieu.errors import InputError
from adieu.facts import Record
from adieu.ledger import Memory, PardonedStrike, Strike, memory_from_json
from adieu.policy import compile_policy
from adieu.store import open_db
from adieu.typed_names import split_names

ADIEU = Path(sys.executable).parent / "adieu"
D = dt.date.fromisoformat

POLICY = textwrap.dedent("""\
    version: "1"
    name: t
    rules:
      - id: late
        title: Late
        when: late_payments_12m >= 3
        action: strike
        severity: medium
      - id: cost
        title: Cost
        when: hours_support_12m * 60 > revenue_12m
        action: strike
        severity: high
    strikes:
      window_days: 365
      cooldown_days: 20
      ladder: {warn: 1, final_notice: 2, offboard: 3}
    timing:
      notice_days: 60
    """)

HEADER = "customer_id,owner,revenue_12m,hours_support_12m,late_payments_12m\n"
BAD = "C1,Chloe Martin,1000,100,5\nC2,,1000,100,5\nC3,Bob Smith,1000,1,0\n"
GOOD = "C1,Chloe Martin,1000,1,0\nC2,,1000,1,0\nC3,Bob Smith,1000,1,0\n"


class Cli:
    def __init__(self, work: Path, policy: str = POLICY):
        self.work, self.db = work, work / "t.db"
        (work / "p.yaml").write_text(policy, encoding="utf-8")
        self.n = 0

    def __call__(self, *args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS")}
        return subprocess.run([str(ADIEU), *args, "--db", str(db or self.db)], cwd=self.work,
                              env=env, capture_output=True, text=True, timeout=120)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def run(self, as_of: str, body: str, *more: str, header: str = HEADER) -> None:
        self.n += 1
        path = self.work / f"s{self.n}.csv"
        path.write_text(header + body, encoding="utf-8")
        self.ok("evaluate", "p.yaml", "--source", f"csv:{path}", "--as-of", as_of, *more)

    def history(self, cid: str) -> tuple[list[dict], str]:
        return (json.loads(self.ok("history", cid, "--json").stdout)["runs"],
                self.ok("history", cid).stdout)


def exempt(c: Cli, cid: str, *args: str) -> subprocess.CompletedProcess[str]:
    return c("exempt", cid, *args, "--reason", "r", "--approver", "CEO")


# F1: a list option that names nothing is an error, never "every rule" ---------

@pytest.mark.parametrize("rules", [",", " ", ", ,", ""])
def test_exempt_rules_naming_no_rule_is_refused(tmp_path: Path, rules: str) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    done = exempt(c, "C1", "--rules", rules, "--until", "2027-01-01")
    assert done.returncode == 2
    assert "--rules names no rule" in done.stderr
    assert sqlite3.connect(c.db).execute("select count(*) from exemptions").fetchone()[0] == 0


def test_exempt_rules_empty_with_all_is_a_usage_error(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    done = exempt(c, "C1", "--rules", "", "--all", "--until", "2027-01-01")
    assert done.returncode == 2 and "exactly one of --rules" in done.stderr


def test_exempt_rules_with_empty_items_keeps_the_named_rules(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    assert exempt(c, "C1", "--rules", ",late,,", "--until", "2027-01-01").returncode == 0
    row = sqlite3.connect(c.db).execute("select rules from exemptions").fetchone()
    assert json.loads(row[0]) == ["late"]


def test_split_names_refuses_an_empty_list_and_keeps_order() -> None:
    assert split_names(" b , a ,b,", "--x") == ["b", "a"]
    for text in ("", ",", " , ,"):
        with pytest.raises(InputError, match="--x names no stage"):
            split_names(text, "--x", "stage")


def test_hubspot_stage_option_naming_no_stage_is_refused(tmp_path: Path) -> None:
    from adieu_plugins.hubspot_source import _stages

    class Ctx:
        def option(self, name: str, default: object) -> object:
            return " , "

    with pytest.raises(InputError, match="ticket_closed_stages names no stage"):
        _stages(Ctx(), "ticket_closed_stages")  # type: ignore[arg-type]


# F8: an exemption that could apply to no run from the latest on ----------------

@pytest.mark.parametrize("until", ["2025-01-01", "2026-01-01"])
def test_exempt_until_not_after_latest_run_is_refused(tmp_path: Path, until: str) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    done = exempt(c, "C1", "--all", "--until", until)
    assert done.returncode == 2
    assert f"--until {until} is not after the latest run's as-of date 2026-01-01" in done.stderr
    assert sqlite3.connect(c.db).execute("select count(*) from exemptions").fetchone()[0] == 0


def test_exempt_until_in_the_past_warns_without_runs(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    done = exempt(c, "C9", "--all", "--until", "2001-01-01", "--new-customer")
    assert done.returncode == 0, done.stderr
    assert "warning: --until 2001-01-01 is not after today" in done.stderr


def test_exempt_until_after_latest_run_is_accepted(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    assert exempt(c, "C1", "--all", "--until", "2026-01-02").returncode == 0


# F17: a customer no run has decided -------------------------------------------

@pytest.mark.parametrize("typo", ["c1", "CI", "Cl"])
def test_exempt_typo_of_decided_customer_is_refused(tmp_path: Path, typo: str) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    done = exempt(c, typo, "--all", "--until", "2027-01-01")
    assert done.returncode == 2
    assert f"no run has decided customer {typo!r} (did you mean 'C1'?)" in done.stderr
    assert "--new-customer" in done.stderr


def test_exempt_new_customer_then_history_shows_the_exemption(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    assert exempt(c, "C9", "--rules", "late", "--until", "2027-01-01",
                  "--new-customer").returncode == 0
    done = c("history", "C9")
    assert done.returncode == 0
    assert "C9 has no decisions in the database" in done.stdout
    assert "exemption registry-1: late until 2027-01-01 (approved by CEO: r)" in done.stdout
    # Before any run at all, too.
    fresh = c("exempt", "N1", "--all", "--reason", "r", "--approver", "CEO", "--until",
              "2030-01-01", db=tmp_path / "new.db")
    assert fresh.returncode == 2 and "--new-customer" in fresh.stderr


# F18: a pardon holds when its date is decided again ---------------------------

def test_same_date_rerun_keeps_the_pardon(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    c.ok("strikes", "pardon", "C1", "late", "--by", "Boss", "--reason", "INC-1")
    c.run("2026-01-01", BAD.replace("C3,Bob Smith,1000", "C3,Bob Smith,1001"))
    rows = json.loads(c.ok("strikes", "show", "C1", "--as-of", "2026-01-01",
                           "--json").stdout)
    late = [r for r in rows if r["rule"] == "late"]
    assert [r["status"] for r in late] == ["pardoned"]
    explained = c.ok("explain", "C1").stdout
    assert "note: late: strike of 2026-01-01 pardoned by Boss" in explained
    runs, text = c.history("C1")
    assert runs[1]["new_strikes"] == ["cost"]
    assert runs[1]["pardoned_strikes"] == ["late (2026-01-01) by Boss: INC-1"]
    assert runs[1]["pardons_held"] == ["late: strike of 2026-01-01 pardoned by Boss"]
    assert "no new strike: late: strike of 2026-01-01 pardoned by Boss" in text
    assert runs[0]["pardons_held"] == []
    # The decision's memory carries the pardon: replay is exact.
    c.ok("replay", "2")  # exit 1 if a decision differs


def test_decide_with_a_pardoned_strike_of_the_date_records_none() -> None:
    policy = compile_policy(POLICY)
    facts = {"customer_id": "C1", "revenue_12m": Decimal(1000),
             "hours_support_12m": Decimal(100), "late_payments_12m": Decimal(5)}
    (ctx,), _ = make_contexts(policy, [Record(facts)], D("2026-01-01"))
    memory = Memory([Strike("cost", D("2026-01-01"))],
                    pardoned=[PardonedStrike("late", D("2026-01-01"), "Boss")])
    got = decide(policy, ctx, D("2026-01-01"), memory)
    assert got.new_strikes == ["cost"] and got.strikes == 1
    assert "late: strike of 2026-01-01 pardoned by Boss" in got.notes
    # A pardon of another date does not stop a new strike.
    other = Memory(pardoned=[PardonedStrike("late", D("2025-12-01"), "Boss")])
    assert decide(policy, ctx, D("2026-01-01"), other).new_strikes == ["late", "cost"]
    back = memory_from_json(json.loads(json.dumps(memory.to_json())), "C1")
    assert back.pardoned == memory.pardoned
    assert "pardoned" not in Memory().to_json()  # earlier memories keep their form


# F5: an unknown rule is not "no longer fires" ---------------------------------

def test_history_unknown_rule_could_not_be_checked(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", "C1,Chloe Martin,1000,5\n", "--allow-missing-facts",
          header="customer_id,owner,revenue_12m,late_payments_12m\n")
    c.run("2026-01-01", "C1,100,1000\n", "--allow-missing-facts",
          header="customer_id,hours_support_12m,revenue_12m\n")
    runs, text = c.history("C1")
    changes = runs[1]["changes"]
    assert "late could not be checked (missing late_payments_12m)" in changes
    assert "cost checked again: fires" in changes
    assert not any("no longer fires" in x or "now fires" in x for x in changes)
    assert runs[1]["unknown"] == [{"rule": "late", "missing": ["late_payments_12m"],
                                   "problems": []}]


def test_rule_changes_unknown_is_neither_firing_nor_stopping() -> None:
    before = {"fired": ["late"], "shielded": [{"rule": "cost", "by": "x"}], "unknown": []}
    after = {"fired": [], "shielded": [], "unknown": [
        {"rule": "late", "missing": ["a"], "problems": []},
        {"rule": "cost", "missing": ["b"], "problems": []}]}
    assert timeline.rule_changes(before, after) == [
        "cost could not be checked (missing b)", "late could not be checked (missing a)"]
    assert timeline.rule_changes(after, before) == [
        "cost checked again: shielded by exemption x", "late checked again: fires"]


# F13 / F9: supersedes named by the run that did them ---------------------------

def test_history_backfill_supersede_is_not_a_policy_change(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    c.run("2026-02-01", BAD)
    c.run("2026-01-01", GOOD, "--backfill")  # run 3: corrected January export
    c.run("2026-03-01", BAD)
    runs, text = c.history("C1")
    run4 = next(e for e in runs if e["run_id"] == 4)
    assert run4["uncounted_strikes"] == []
    assert run4["superseded_strikes"] == [
        "cost (2026-01-01) by run 3 (a later run of 2026-01-01)",
        "late (2026-01-01) by run 3 (a later run of 2026-01-01)"]
    assert "policy changed" not in text


def test_history_strike_of_a_later_backfill_is_not_a_policy_change(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    c.run("2026-03-01", BAD)
    c.run("2026-02-01", BAD, "--backfill")  # run 3, before run 2 in the timeline
    runs, text = c.history("C1")
    assert [e["run_id"] for e in runs] == [1, 3, 2]
    assert runs[2]["uncounted_strikes"] == []
    assert runs[2]["later_strikes"] == ["cost (2026-02-01) by run 3",
                                        "late (2026-02-01) by run 3"]
    assert "policy changed" not in text


def test_history_supersede_and_record_again_says_replaced(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", "C1,Chloe Martin,1000,5\n", "--allow-missing-facts",
          header="customer_id,owner,revenue_12m,late_payments_12m\n")
    c.run("2026-01-01", "C1,100,1000\n", "--allow-missing-facts",
          header="customer_id,hours_support_12m,revenue_12m\n")
    c.run("2026-01-01", "C1,Chloe Martin,1000,100,5\n")
    runs, text = c.history("C1")
    assert runs[2]["superseded_strikes"] == [
        "cost (2026-01-01) of run 2 replaced by run 3's",
        "late (2026-01-01) of run 1 replaced by run 3's"]
    assert "superseded strikes: cost (2026-01-01) of run 2 replaced by run 3's" in text


# F7: strikes show agrees with the decision of its date --------------------------

def test_strikes_show_marks_strikes_set_aside(tmp_path: Path) -> None:
    c = Cli(tmp_path, POLICY.replace("window_days: 365", "window_days: 90"))
    c.run("2026-01-01", BAD)
    c.run("2026-02-01", BAD)
    assert exempt(c, "C1", "--all", "--until", "2026-04-01").returncode == 0
    # Before a run of the date: the registry exemption that would apply.
    before = c.ok("strikes", "show", "C1", "--as-of", "2026-03-01").stdout
    assert "4 active strike(s) as of 2026-03-01, 4 set aside by an exemption (0 counted)" \
        in before
    c.run("2026-03-01", BAD)
    text = c.ok("strikes", "show", "C1", "--as-of", "2026-03-01").stdout
    assert text.splitlines()[0] == ("C1: 4 active strike(s) as of 2026-03-01, 4 set aside "
                                    "by an exemption (0 counted)")
    assert "active, set aside by registry-1" in text
    rows = json.loads(c.ok("strikes", "show", "C1", "--as-of", "2026-03-01",
                           "--json").stdout)
    assert {r["set_aside_by"] for r in rows} == {"registry-1"}
    # After the exemption ends, they count again.
    after = json.loads(c.ok("strikes", "show", "C1", "--as-of", "2026-04-15",
                            "--json").stdout)
    assert [r["set_aside_by"] for r in after if r["status"] == "active"] == [None, None]


# F16: two pardons at once -------------------------------------------------------

def test_concurrent_pardons_pardon_different_strikes(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    c.run("2026-02-01", BAD)
    base = c.db.read_bytes()
    env = {k: v for k, v in os.environ.items()
           if k not in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS")}
    for attempt in range(6):
        db = tmp_path / f"r{attempt}.db"
        db.write_bytes(base)
        procs = [subprocess.Popen([str(ADIEU), "strikes", "pardon", "C1", "late", "--by", who,
                                   "--reason", "x", "--db", str(db)], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for who in ("Alice", "Bob")]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        conn = sqlite3.connect(db)
        rows = conn.execute("select id, pardoned_by from strikes where pardoned_at is not "
                            "null order by id").fetchall()
        entries = conn.execute("select json_extract(payload, '$.strike_id') from audit "
                               "where kind = 'pardon'").fetchall()
        conn.close()
        assert len(rows) == 2 and sorted(r[1] for r in rows) == ["Alice", "Bob"]
        assert sorted(e[0] for e in entries) == [r[0] for r in rows]
        assert c("audit", "verify", db=db).returncode == 0
    # A third pardon finds no strike left: exit 2.
    third = c("strikes", "pardon", "C1", "late", "--by", "Carol", "--reason", "x", db=db)
    assert third.returncode == 2 and "no strike for rule 'late' to pardon" in third.stderr


def test_audit_verify_flags_two_pardon_entries_for_one_strike(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.run("2026-01-01", BAD)
    c.ok("strikes", "pardon", "C1", "late", "--by", "Alice", "--reason", "x")
    db = open_db(str(c.db))
    with db.atomic():
        strike_id = db.execute("select id from strikes where pardoned_at is not null"
                               ).fetchone()[0]
        log = AuditLog(db, "2026-01-02T00:00:00+00:00")
        log.add("pardon", {"strike_id": strike_id, "rule": "late", "recorded_on": "2026-01-01",
                           "by": "Bob", "reason": "y"}, None, "C1")
        log.flush()
    problems = verify(db)
    db.conn.close()
    assert any(f"strike {strike_id} has two pardon entries" in p for p in problems), problems
