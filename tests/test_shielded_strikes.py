"""An exemption shields a rule's strikes, not only its firing (issue 9, item 1).

While an exemption applies to a rule on a run's as-of date, that rule's
active strikes (recorded before or during the exemption) do not count on the
ladder: the decision is `exempt` when the ladder would otherwise say more
than keep/watch, and lists the strikes it set aside and by which exemption.
Nothing is deleted or pardoned: once the exemption has ended, a strike counts
again if it is still inside its window on that run's as-of date. A shielded
rule that fires records no strike. `base_outcome` counts every strike.

End to end with the installed `adieu` console script (as tests/test_end_to_end.py
does), then the pure functions (ledger.shield_strikes, decide)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.decide import Decision, decide, make_contexts
from adieu.facts import Record
from adieu.ledger import Memory, Strike, shield_strikes
from adieu.policy import Exemption, Policy, compile_policy

ADIEU = Path(sys.executable).parent / "adieu"
D = dt.date.fromisoformat

STRIKE_RULES = ["late-payments", "cost", "escalations", "complaints", "returns"]

POLICY = textwrap.dedent("""\
    version: "1"
    name: shield
    rules:
      - id: late-payments
        title: Repeated late payment
        when: late_payments_12m >= 3
        action: strike
        severity: medium
      - id: cost
        title: Cost to serve exceeds revenue
        when: hours_support_12m * 60 > revenue_12m
        action: strike
        severity: high
      - id: escalations
        title: Escalations
        when: escalations_12m >= 4
        action: strike
      - id: complaints
        title: Complaints
        when: complaint_incidents_12m >= 2
        action: strike
      - id: returns
        title: Returns
        when: returns_12m >= 10
        action: strike
      - id: longer-terms
        title: Asks for longer payment terms
        when: requested_terms_days > payment_terms_days
        action: flag
        severity: low
    strikes:
      window_days: WINDOW
      cooldown_days: 30
      ladder:
        warn: 1
        final_notice: 2
        offboard: 3
    """)

HEADER = ("customer_id,tier,late_payments_12m,hours_support_12m,revenue_12m,escalations_12m,"
          "complaint_incidents_12m,returns_12m,requested_terms_days,payment_terms_days")
BAD = "{cid},{tier},5,900,20000,6,3,12,60,30"          # every rule fires
CLEAN = "{cid},{tier},0,10,20000,0,0,0,30,30"          # nothing fires
LATE_ONLY = "{cid},{tier},5,10,20000,0,0,0,30,30"      # late-payments only
COST_ONLY = "{cid},{tier},0,900,20000,0,0,0,30,30"     # cost only
LATE_AND_COST = "{cid},{tier},5,900,20000,0,0,0,30,30"

# Three runs 35 days apart (more than the 30-day cool-down): every run is a
# new strike for each of the five strike rules -> 15 active strikes.
RUN_DAYS = [D("2026-01-05"), D("2026-02-09"), D("2026-03-16")]
NEXT = D("2026-04-20")
UNTIL = "2027-06-01"


def adieu(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS")}
    return subprocess.run([str(ADIEU), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


class Db:
    """One database and its working directory, driven by the installed
    console script (console=True) or in-process by click's CliRunner (the
    same commands, faster)."""

    def __init__(self, work: Path, window: int = 365, console: bool = False):
        self.work = work
        self.db = work / "adieu.db"
        self.policy = self.write_policy("policy.yaml", window=window)
        self.console = console

    def write_policy(self, name: str, exemptions: str = "", window: int = 365) -> Path:
        path = self.work / name
        path.write_text(POLICY.replace("WINDOW", str(window)) + exemptions, encoding="utf-8")
        return path

    def run(self, *args: str, code: int = 0) -> Any:
        """The command's result (with .stdout); its exit code must be `code`."""
        if self.console:
            result = adieu(*args, "--db", str(self.db), cwd=self.work)
            assert result.returncode == code, (args, result.stdout, result.stderr)
            return result
        got = CliRunner().invoke(cli, [*args, "--db", str(self.db)])
        assert got.exit_code == code, (args, got.output)
        return got

    def evaluate(self, day: dt.date, rows: list[str], policy: Path | None = None) \
            -> dict[str, dict[str, Any]]:
        csv = self.work / f"{day.isoformat()}.csv"
        csv.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        result = self.run("evaluate", str(policy or self.policy), "--source", f"csv:{csv}",
                          "--as-of", day.isoformat(), "--json")
        return {d["customer_id"]: d for d in json.loads(result.stdout)["decisions"]}

    def exempt(self, cid: str, *how: str, until: str = UNTIL) -> str:
        return self.run("exempt", cid, *how, "--reason", "strategic reference",
                        "--approver", "CEO", "--until", until).stdout

    def query(self, sql: str) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def replays_exactly(self) -> None:
        runs = [r[0] for r in self.query("select id from runs order by id")]
        assert runs
        for run in runs:
            data = json.loads(self.run("replay", str(run), "--json").stdout)
            assert data["differences"] == [], run
        assert self.run("audit", "verify").stdout.startswith("audit trail intact")


def rows(template: str, *cids: str, tier: str = "standard") -> list[str]:
    return [template.format(cid=c, tier=tier) for c in cids]


def three_bad_runs(db: Db) -> dict[str, dict[str, Any]]:
    """CUST-0061 has every strike rule fire in three runs; CUST-0001 is clean."""
    last: dict[str, dict[str, Any]] = {}
    for day in RUN_DAYS:
        last = db.evaluate(day, rows(BAD, "CUST-0061") + rows(CLEAN, "CUST-0001"))
    return last


def aside(d: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((s["rule"], s["recorded_on"], s["exemption"]) for s in d["set_aside_strikes"])


def all_fifteen(exemption: str) -> list[tuple[str, str, str]]:
    return sorted((rule, day.isoformat(), exemption) for rule in STRIKE_RULES
                  for day in RUN_DAYS)


@pytest.fixture(autouse=True)
def no_adieu_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db(tmp_path: Path) -> Db:
    return Db(tmp_path)


@pytest.fixture
def console(tmp_path: Path) -> Db:
    """The installed console script, as an operator runs it."""
    assert ADIEU.is_file(), f"no console script at {ADIEU}"
    return Db(tmp_path, console=True)


# ---------------------------------------------------------------------------
# End to end: the example
# ---------------------------------------------------------------------------

def test_exempt_all_sets_aside_fifteen_strikes(console: Db) -> None:
    db = console
    before = three_bad_runs(db)["CUST-0061"]
    assert (before["outcome"], before["strikes"]) == ("offboard", 15)

    out = db.exempt("CUST-0061", "--all")
    assert "exemption registry-1 recorded for CUST-0061" in out
    d = db.evaluate(NEXT, rows(BAD, "CUST-0061") + rows(CLEAN, "CUST-0001"))["CUST-0061"]
    assert d["outcome"] == "exempt"
    assert d["strikes"] == 0 and d["active_strikes"] == []
    assert d["base_outcome"] == "offboard"  # what the ladder says with every strike
    assert "exempt: without exemptions the outcome would be offboard" in d["notes"]
    # Every rule fired, shielded: no new strike.
    assert sorted(r["rule"] for r in d["shielded"]) == sorted([*STRIKE_RULES, "longer-terms"])
    assert d["fired"] == [] and d["new_strikes"] == []
    assert aside(d) == all_fifteen("registry-1")
    assert all(s["expires_on"] == (D(s["recorded_on"]) + dt.timedelta(days=365)).isoformat()
               for s in d["set_aside_strikes"])
    # Nothing deleted, nothing pardoned, nothing new in the ledger.
    assert db.query("select count(*), count(pardoned_at), count(superseded_by_run) "
                    "from strikes where customer_id = 'CUST-0061'") == [(15, 0, 0)]
    stored = db.query("select outcome, strikes, set_aside_strikes from decisions "
                      "where run_id = 4 and customer_id = 'CUST-0061'")
    assert stored[0][:2] == ("exempt", 0)
    assert aside({"set_aside_strikes": json.loads(stored[0][2])}) == all_fifteen("registry-1")
    # The clean customer is untouched and has nothing set aside.
    assert db.query("select outcome, set_aside_strikes from decisions where run_id = 4 and "
                    "customer_id = 'CUST-0001'") == [("keep", "[]")]
    db.replays_exactly()


def test_exempt_all_still_exempt_when_the_rules_stop_firing(db: Db) -> None:
    three_bad_runs(db)
    db.exempt("CUST-0061", "--all")
    d = db.evaluate(NEXT, rows(CLEAN, "CUST-0061", "CUST-0001"))["CUST-0061"]
    # Nothing fires, but 15 strikes are active: without the exemption, offboard.
    assert (d["outcome"], d["base_outcome"], d["strikes"]) == ("exempt", "offboard", 0)
    assert d["shielded"] == [] and len(d["set_aside_strikes"]) == 15
    db.replays_exactly()


def test_explain_and_history_show_the_set_aside_strikes(console: Db) -> None:
    db = console
    three_bad_runs(db)
    db.exempt("CUST-0061", "--all")
    db.evaluate(NEXT, rows(BAD, "CUST-0061") + rows(CLEAN, "CUST-0001"))
    text = db.run("explain", "CUST-0061").stdout
    assert text.startswith("CUST-0061: EXEMPT  (run 4")
    assert "rules alone say: offboard" in text
    assert "active strikes: 0" in text
    assert "strikes set aside while an exemption applies: 15" in text
    assert ("    late-payments: recorded 2026-01-05, expires 2027-01-05; set aside by "
            "exemption registry-1") in text
    assert "    strike of 2026-03-16 set aside by exemption registry-1" in text
    data = json.loads(db.run("explain", "CUST-0061", "--json").stdout)
    assert aside(data["decision"]) == all_fifteen("registry-1")
    cost = next(r for r in data["rules"] if r["rule"] == "cost")
    assert [s["recorded_on"] for s in cost["set_aside_strikes"]] == \
        [day.isoformat() for day in RUN_DAYS]
    flag = next(r for r in data["rules"] if r["rule"] == "longer-terms")
    assert flag["set_aside_strikes"] == []

    history = json.loads(db.run("history", "CUST-0061", "--json").stdout)["runs"]
    last = history[-1]
    assert (last["outcome"], last["strikes"]) == ("exempt", 0)
    assert len(last["set_aside_strikes"]) == 15
    assert "late-payments (2026-01-05) by registry-1" in last["set_aside_strikes"]
    # Set aside is neither expired nor pardoned.
    assert last["pardoned_strikes"] == [] and last["expired_strikes"] == []
    assert "strikes set aside: " in db.run("history", "CUST-0061").stdout


def test_a_policy_exemption_by_customer_id_sets_strikes_aside(db: Db) -> None:
    three_bad_runs(db)
    policy = db.write_policy("exempted.yaml", textwrap.dedent(f"""\
        exemptions:
          - id: strategic-reference
            customers: [CUST-0061]
            reason: strategic reference
            approver: CEO
            expires: "{UNTIL}"
        """))
    d = db.evaluate(NEXT, rows(BAD, "CUST-0061") + rows(CLEAN, "CUST-0001"), policy)["CUST-0061"]
    assert (d["outcome"], d["base_outcome"], d["strikes"]) == ("exempt", "offboard", 0)
    assert aside(d) == all_fifteen("strategic-reference")
    db.replays_exactly()


def test_a_policy_exemption_with_when_sets_strikes_aside(db: Db) -> None:
    three_bad_runs(db)
    policy = db.write_policy("exempted.yaml", textwrap.dedent(f"""\
        exemptions:
          - id: strategic-tier
            when: tier == "strategic"
            rules: all
            reason: strategic accounts
            approver: CEO
            expires: "{UNTIL}"
        """))
    decided = db.evaluate(NEXT, rows(BAD, "CUST-0061", tier="strategic")
                          + rows(BAD, "CUST-0002"), policy)
    d = decided["CUST-0061"]
    assert (d["outcome"], d["strikes"]) == ("exempt", 0)
    assert aside(d) == all_fifteen("strategic-tier")
    # Not strategic: not exempted, its (new) strikes count.
    other = decided["CUST-0002"]
    assert (other["outcome"], other["strikes"], other["set_aside_strikes"]) == \
        ("offboard", 5, [])
    db.replays_exactly()


def test_a_partial_exemption_sets_aside_only_its_rules_strikes(db: Db) -> None:
    # CUST-0062: late payments in all three runs (3 strikes), cost in the first.
    db.evaluate(RUN_DAYS[0], rows(LATE_AND_COST, "CUST-0062"))
    db.evaluate(RUN_DAYS[1], rows(LATE_ONLY, "CUST-0062"))
    before = db.evaluate(RUN_DAYS[2], rows(LATE_ONLY, "CUST-0062"))["CUST-0062"]
    assert (before["outcome"], before["strikes"]) == ("offboard", 4)

    db.exempt("CUST-0062", "--rules", "late-payments")
    d = db.evaluate(NEXT, rows(LATE_ONLY, "CUST-0062"))["CUST-0062"]
    assert aside(d) == [("late-payments", day.isoformat(), "registry-1") for day in RUN_DAYS]
    assert [(s["rule"], s["recorded_on"]) for s in d["active_strikes"]] == \
        [("cost", "2026-01-05")]
    # One strike counts: warn, which is more than watch, so no `exempt` marker.
    assert (d["outcome"], d["base_outcome"], d["strikes"]) == ("warn", "offboard", 1)
    db.replays_exactly()


def test_an_exemption_for_a_flag_rule_changes_nothing_on_the_ladder(db: Db) -> None:
    three_bad_runs(db)
    db.exempt("CUST-0061", "--rules", "longer-terms")
    d = db.evaluate(NEXT, rows(BAD, "CUST-0061"))["CUST-0061"]
    assert [r["rule"] for r in d["shielded"]] == ["longer-terms"]
    assert d["set_aside_strikes"] == []
    # The 15 earlier strikes and 5 new ones (35 days after the last) all
    # count: the ladder is untouched by the exemption.
    assert sorted(d["new_strikes"]) == sorted(STRIKE_RULES)
    assert (d["outcome"], d["strikes"]) == ("offboard", 20)
    db.replays_exactly()


def test_strikes_count_again_after_the_exemption_if_still_in_their_window(tmp_path: Path) \
        -> None:
    # Window 90 days. A late-payments strike of 2026-01-05 (window closes
    # 2026-04-05) and a cost strike of 2026-03-02 (closes 2026-05-31); the
    # exemption applies until 2026-04-20 (the first day it no longer applies).
    db = Db(tmp_path, window=90)
    db.evaluate(D("2026-01-05"), rows(LATE_ONLY, "CUST-0061"))
    two = db.evaluate(D("2026-03-02"), rows(COST_ONLY, "CUST-0061"))["CUST-0061"]
    assert (two["outcome"], two["strikes"]) == ("final_notice", 2)
    db.exempt("CUST-0061", "--all", until="2026-04-20")

    during = db.evaluate(D("2026-04-01"), rows(CLEAN, "CUST-0061"))["CUST-0061"]
    assert (during["outcome"], during["base_outcome"], during["strikes"]) == \
        ("exempt", "final_notice", 0)
    assert aside(during) == [("cost", "2026-03-02", "registry-1"),
                             ("late-payments", "2026-01-05", "registry-1")]

    # On the exemption's end date it no longer applies. The late-payments
    # strike's window closed meanwhile (2026-04-05): it does not count. The
    # cost strike is still inside its window: it counts again.
    after = db.evaluate(D("2026-04-20"), rows(CLEAN, "CUST-0061"))["CUST-0061"]
    assert (after["outcome"], after["strikes"], after["set_aside_strikes"]) == ("warn", 1, [])
    assert [(s["rule"], s["recorded_on"]) for s in after["active_strikes"]] == \
        [("cost", "2026-03-02")]
    assert "exemption registry-1 expired on 2026-04-20" in after["notes"]

    later = db.evaluate(D("2026-06-01"), rows(CLEAN, "CUST-0061"))["CUST-0061"]
    assert (later["outcome"], later["strikes"]) == ("keep", 0)
    # The ledger was never changed.
    assert db.query("select rule, recorded_on, pardoned_at, superseded_by_run from strikes "
                    "order by id") == [("late-payments", "2026-01-05", None, None),
                                       ("cost", "2026-03-02", None, None)]
    history = json.loads(db.run("history", "CUST-0061", "--json").stdout)["runs"]
    assert history[3]["expired_strikes"] == ["late-payments (2026-01-05)"]
    assert history[3]["pardoned_strikes"] == []
    db.replays_exactly()


def test_a_rule_shielded_while_it_fires_records_no_strike(db: Db) -> None:
    db.evaluate(D("2026-01-05"), rows(LATE_ONLY, "CUST-0061"))
    db.exempt("CUST-0061", "--rules", "late-payments", until="2026-03-01")
    during = db.evaluate(D("2026-02-09"), rows(LATE_ONLY, "CUST-0061"))["CUST-0061"]
    assert during["new_strikes"] == [] and during["outcome"] == "exempt"
    # After the end: the cool-down runs from the strike of 2026-01-05, so the
    # rule firing again on 2026-03-16 is a new strike; two count.
    after = db.evaluate(D("2026-03-16"), rows(LATE_ONLY, "CUST-0061"))["CUST-0061"]
    assert after["new_strikes"] == ["late-payments"]
    assert (after["outcome"], after["strikes"]) == ("final_notice", 2)
    assert db.query("select recorded_on from strikes order by id") == \
        [("2026-01-05",), ("2026-03-16",)]
    db.replays_exactly()


# ---------------------------------------------------------------------------
# The pure functions
# ---------------------------------------------------------------------------

def exemption(eid: str, rules: list[str] | None, expires: str = "2027-01-01") -> Exemption:
    return Exemption(eid, None, frozenset(["C1"]), None if rules is None else frozenset(rules),
                     "why", "who", D(expires), "registry")


def test_shield_strikes_splits_by_rule() -> None:
    a, b, c = Strike("late", D("2026-01-01")), Strike("cost", D("2026-02-01")), \
        Strike("late", D("2026-03-01"))
    counted, aside_ = shield_strikes([a, b, c], [exemption("ex-1", ["late"])])
    assert counted == [b]
    assert aside_ == [(a, "ex-1"), (c, "ex-1")]


def test_shield_strikes_first_applicable_exemption_names_it() -> None:
    a, b = Strike("late", D("2026-01-01")), Strike("cost", D("2026-02-01"))
    counted, aside_ = shield_strikes([a, b], [exemption("ex-1", ["cost"]),
                                              exemption("ex-2", None)])
    assert counted == [] and aside_ == [(a, "ex-2"), (b, "ex-1")]


def test_shield_strikes_without_exemptions_counts_everything() -> None:
    strikes = [Strike("late", D("2026-01-01")), Strike("cost", D("2026-02-01"))]
    assert shield_strikes(strikes, []) == (strikes, [])
    assert shield_strikes(strikes, [exemption("ex-1", ["flag-rule"])]) == (strikes, [])


UNIT_POLICY = textwrap.dedent("""\
    version: 1
    name: unit
    rules:
      - id: late
        title: Late payer
        when: late_payments_12m >= 3
        action: strike
      - id: esc
        title: Escalations
        when: escalations_12m >= 4
        action: strike
      - id: terms
        title: Longer terms
        when: requested_terms_days > payment_terms_days
        action: flag
    exemptions:
      - id: by-tier
        when: tier == "strategic"
        rules: [late]
        reason: strategic
        approver: CCO
        expires: "2026-06-01"
    strikes:
      window_days: 100
      cooldown_days: 30
      ladder: {warn: 1, final_notice: 2, offboard: 3}
    """)


def decided(as_of: str, memory: Memory, policy: Policy | None = None, **facts: Any) \
        -> Decision:
    policy = policy or compile_policy(UNIT_POLICY, "unit.yaml")
    base = {"customer_id": "C1", "tier": "standard", "late_payments_12m": 0,
            "escalations_12m": 0, "requested_terms_days": 30, "payment_terms_days": 30}
    day = D(as_of)
    contexts, population = make_contexts(policy, [Record({**base, **facts})], day)
    population.compute_all()
    return decide(policy, contexts[0], day, memory)


STRIKES = [Strike("late", D("2026-02-01")), Strike("late", D("2026-03-15")),
           Strike("esc", D("2026-03-01"))]


def test_decide_sets_aside_the_shielded_rules_strikes() -> None:
    memory = Memory(list(STRIKES), [exemption("registry-7", ["late", "esc"])])
    d = decided("2026-04-01", memory)
    assert (d.outcome, d.base_outcome, d.strikes) == ("exempt", "offboard", 0)
    assert d.active_strikes == []
    assert d.set_aside_strikes == [
        {"rule": "late", "recorded_on": "2026-02-01", "expires_on": "2026-05-12",
         "exemption": "registry-7"},
        {"rule": "late", "recorded_on": "2026-03-15", "expires_on": "2026-06-23",
         "exemption": "registry-7"},
        {"rule": "esc", "recorded_on": "2026-03-01", "expires_on": "2026-06-09",
         "exemption": "registry-7"}]
    # Same inputs, same decision (replay depends on it).
    assert decided("2026-04-01", memory).to_dict() == d.to_dict()


def test_decide_policy_when_exemption_sets_aside_only_its_rule() -> None:
    d = decided("2026-04-01", Memory(list(STRIKES)), tier="strategic")
    assert [s["rule"] for s in d.set_aside_strikes] == ["late", "late"]
    assert {s["exemption"] for s in d.set_aside_strikes} == {"by-tier"}
    assert [s["rule"] for s in d.active_strikes] == ["esc"]
    assert (d.outcome, d.base_outcome, d.strikes) == ("warn", "offboard", 1)
    # Not strategic: everything counts.
    plain = decided("2026-04-01", Memory(list(STRIKES)))
    assert (plain.outcome, plain.strikes, plain.set_aside_strikes) == ("offboard", 3, [])


@pytest.mark.parametrize("as_of, outcome, counted", [
    ("2026-05-31", "exempt", []),                                 # the last day it applies
    # From 2026-06-01 the exemption has ended; 2026-02-01's window closed on
    # 2026-05-12, 2026-03-15's stays open until 2026-06-23.
    ("2026-06-01", "final_notice", [("late", "2026-03-15"), ("esc", "2026-03-01")]),
    ("2026-06-09", "warn", [("late", "2026-03-15")]),            # esc's window closes
    ("2026-06-23", "keep", []),
])
def test_decide_strikes_count_again_after_the_exemption_only_in_their_window(
        as_of: str, outcome: str, counted: list[tuple[str, str]]) -> None:
    memory = Memory(list(STRIKES), [exemption("registry-7", None, "2026-06-01")])
    d = decided(as_of, memory)
    assert d.outcome == outcome
    assert [(s["rule"], s["recorded_on"]) for s in d.active_strikes] == counted
    assert d.strikes == len(counted)
    if outcome == "exempt":
        assert len(d.set_aside_strikes) == 2  # 2026-02-01's window closed on 05-12
    else:
        assert d.set_aside_strikes == []


def test_decide_a_strike_recorded_during_the_exemption_is_set_aside_too() -> None:
    # The tier exemption did not match when the strike of 2026-04-15 was
    # recorded (the customer was not strategic then); now it does.
    memory = Memory([Strike("late", D("2026-04-15"))])
    d = decided("2026-05-01", memory, tier="strategic", late_payments_12m=5)
    assert d.set_aside_strikes == [{"rule": "late", "recorded_on": "2026-04-15",
                                    "expires_on": "2026-07-24", "exemption": "by-tier"}]
    assert d.new_strikes == [] and [r.rule for r in d.shielded] == ["late"]
    assert (d.outcome, d.strikes) == ("exempt", 0)


def test_decide_new_strikes_of_unshielded_rules_count_beside_set_aside_ones() -> None:
    memory = Memory([Strike("late", D("2026-03-01"))], [exemption("registry-1", ["late"])])
    d = decided("2026-04-01", memory, escalations_12m=5)
    assert d.new_strikes == ["esc"]
    assert [s["rule"] for s in d.active_strikes] == ["esc"]
    assert [s["rule"] for s in d.set_aside_strikes] == ["late"]
    assert (d.outcome, d.base_outcome, d.strikes) == ("warn", "final_notice", 1)
