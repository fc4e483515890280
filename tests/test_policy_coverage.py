"""Policy-test coverage counts only what a case's decision shows it did:
timing branches from the steps that made the decision's own date (none for
a date kept from a case), policy exemptions only (not a case's registry
exemption with the same id), holds whose condition was true (not one that
held for lack of data), and `referral N` only when entry N gave a vendor."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import POLICY
from test_policy_tests import HEALTHY, adieu, invoke, line_of, write

from adieu.coverage import Coverage
from adieu.decide import decide, make_contexts
from adieu.errors import PolicyErrors
from adieu.facts import Record
from adieu.ledger import Memory
from adieu.policy import Exemption, compile_policy, load_policy

AS_OF = dt.date(2026, 11, 2)
ABUSE = HEALTHY.replace("abuse_incidents_12m: 0", "abuse_incidents_12m: 1")
AVOIDING = POLICY.replace("  weekdays_only: true\n",
                          "  weekdays_only: true\n  avoid:\n"
                          "    - {from: \"12-20\", to: \"01-03\"}\n")


def covered(directory: Path, kind: str | None = None) -> dict[str, bool]:
    """adieu test t.test.yaml --json: the coverage items (of one kind) by name."""
    result = adieu("test", "t.test.yaml", "--json", cwd=directory)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    [cov] = json.loads(result.stdout)["coverage"]
    return {i["name"]: i["covered"] for i in cov["items"] if kind is None or i["kind"] == kind}


# -- A: timing from the decision's own date ------------------------------------------------

def test_a_date_kept_from_an_approved_case_covers_no_timing_branch(tmp_path: Path):
    (tmp_path / "p.yaml").write_text(AVOIDING, encoding="utf-8")
    # The same customer without a case: notice ends 2027-01-01, in the
    # avoided period, so the timing section would move it to 2027-01-04.
    write(tmp_path, f"""\
        policy: p.yaml
        as_of: "2026-11-02"
        cases:
          - name: an approved case keeps its own date
            facts: {ABUSE}
            case: {{state: approved, effective_date: "2027-03-02", reviewer: Mara,
                    opened_as_of: "2026-10-01", reviewed_on: "2026-10-05"}}
            expect:
              outcome: offboard
              effective_date: "2027-03-02"
              phase_out_start: "2027-03-02"
              timing_basis: set by the test case; kept from case 1 approved on 2026-10-05 by Mara
        """)
    items = covered(tmp_path, "timing")
    # referral 2 is given to every offboard decision: it did its work here
    assert items == {"contract-end": False, "notice-period": False,
                     "avoid 12-20 to 01-03": False, "weekdays-only": False,
                     "phase-out": False, "phase-out-cut-short": False,
                     "referral 1": False, "referral 2": True}


def test_a_late_approval_covers_the_steps_of_the_date_counted_from_the_approval(
        tmp_path: Path):
    (tmp_path / "p.yaml").write_text(AVOIDING, encoding="utf-8")
    # approved on 2026-11-02 a date of 2026-11-20: the policy promises 60
    # days' notice from the approval, 2027-01-01, moved past the avoided period
    write(tmp_path, f"""\
        policy: p.yaml
        as_of: "2026-11-02"
        cases:
          - name: approved too late for its date
            facts: {ABUSE}
            case: {{state: approved, effective_date: "2026-11-20", reviewer: Mara,
                    opened_as_of: "2026-10-01", reviewed_on: "2026-11-02"}}
            expect:
              effective_date: "2027-01-04"
              phase_out_start: "2026-12-21"
        """)
    items = covered(tmp_path, "timing")
    assert [name for name, done in items.items() if done] == \
        ["notice-period", "avoid 12-20 to 01-03", "phase-out", "referral 2"]


def test_a_date_near_the_as_of_date_covers_the_cut_short_phase_out(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    soon = ABUSE.replace('contract_end: "2028-01-01"', 'contract_end: "2026-11-10"')
    write(tmp_path, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: the contract ends in eight days
            facts: {soon}
            expect: {{effective_date: "2026-11-10", phase_out_start: "2026-11-03"}}
        """)
    items = covered(tmp_path, "timing")
    assert [name for name, done in items.items() if done] == \
        ["contract-end", "phase-out-cut-short", "referral 2"]


# -- B: a case's registry exemption is not the policy's ------------------------------------

def test_a_case_exemption_with_a_policy_exemption_id_is_an_error_at_its_id(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    text = write(tmp_path, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: a registry exemption named like the policy's
            facts: {HEALTHY}
            exemptions:
              - {{id: strategic, reason: agreed, approver: CFO, expires: "2027-01-01"}}
            expect: {{outcome: keep}}
        """).read_text(encoding="utf-8")
    result = invoke(tmp_path, "t.test.yaml")
    assert result.exit_code == 2
    line = line_of(text, "id: strategic")
    column = text.splitlines()[line - 1].index("strategic") + 1
    assert result.output == (
        f"Error: t.test.yaml:{line}:{column}: registry exemption id 'strategic' is the id of an "
        "exemption of policy tiny (a registry id is registry-N, as `adieu exempt` gives it)\n")


def _decision(policy, facts: dict, memory: Memory | None = None):
    [ctx], population = make_contexts(policy, [Record(facts, "t", 1)], AS_OF)
    population.compute_all()
    return decide(policy, ctx, AS_OF, memory)


COSTLY = {"customer_id": "C-1", "tier": "standard", "revenue_12m": 100,
          "hours_support_12m": 10, "late_payments_12m": 0, "escalations_12m": 0,
          "abuse_incidents_12m": 0, "outgrown": False, "open_our_fault_incidents": 0}


def test_a_registry_exemption_covers_no_policy_exemption_even_with_its_id():
    policy = compile_policy(POLICY, "tiny.yaml")
    # a memory the loader now refuses (made here directly): same id, registry source
    twin = Exemption("strategic", None, frozenset(["C-1"]), None, "agreed", "CFO",
                     dt.date(2027, 1, 1), "registry")
    decision = _decision(policy, COSTLY, Memory(exemptions=[twin]))
    assert [r.shielded_by for r in decision.shielded] == ["strategic"]
    coverage = Coverage(policy)
    coverage.record(decision)
    assert coverage.counts("exemption") == (0, 1)
    # the policy's own exemption, for a strategic customer, does cover it
    coverage.record(_decision(policy, {**COSTLY, "tier": "strategic"}))
    assert coverage.counts("exemption") == (1, 1)


# -- O: a hold that held for lack of data ----------------------------------------------------

def test_a_hold_held_only_for_lack_of_data_is_neither_covered_nor_in_holds(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    late = HEALTHY.replace("late_payments_12m: 0", "late_payments_12m: 3")
    blind = late.replace(", open_our_fault_incidents: 0", "")
    assert blind != late
    write(tmp_path, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: held because incidents are not known
            facts: {blind}
            expect: {{outcome: held, holds: [our-fault]}}
          - name: the same, expected as held for lack of data
            facts: {blind}
            expect: {{outcome: held, holds: [], holds_unknown: [our-fault]}}
        """)
    result = adieu("test", "t.test.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith(
        "FAIL t.test.yaml:4: held because incidents are not known\n"
        "  holds: expected [our-fault], got []\n"
        "    (our-fault held only because of missing facts: open_our_fault_incidents; "
        "expect it under holds_unknown)\n"), result.stdout
    assert "2 case(s): 1 passed, 1 failed" in result.stdout
    assert covered(tmp_path, "hold") == {"our-fault": False}
    # with the fact given and true, the hold did its work
    write(tmp_path, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: held by our open incident
            facts: {late.replace("open_our_fault_incidents: 0", "open_our_fault_incidents: 1")}
            expect: {{outcome: held, holds: [our-fault], holds_unknown: []}}
        """)
    assert covered(tmp_path, "hold") == {"our-fault": True}


# -- RA3: `hold H except` only when H would have held --------------------------------------

EXCEPTING = POLICY.replace("    reason: Fix our part first\n",
                           "    reason: Fix our part first\n    except_rules: [abuse]\n")


@pytest.mark.parametrize("incidents, covers", [
    (", open_our_fault_incidents: 1", True),    # the hold's condition held: except stood it aside
    (", open_our_fault_incidents: 0", False),   # false: the hold would not have held anyway
    ("", False),                                # unknown: it would have held for lack of data only
])
def test_hold_except_is_covered_only_when_the_holds_own_condition_held(
        tmp_path: Path, incidents: str, covers: bool):
    assert EXCEPTING != POLICY
    (tmp_path / "tiny.yaml").write_text(EXCEPTING, encoding="utf-8")
    facts = ABUSE.replace(", open_our_fault_incidents: 0", incidents)
    write(tmp_path, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: abuse of staff is not held back
            facts: {facts}
            expect: {{outcome: offboard, fired: [abuse], holds: []}}
        """)
    assert covered(tmp_path, "hold") == {"our-fault": False, "our-fault except": covers}


def test_holds_unknown_must_name_a_hold_of_the_policy(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    text = write(tmp_path, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: a
            facts: {HEALTHY}
            expect: {{holds_unknown: [review-rejected]}}
        """).read_text(encoding="utf-8")
    result = invoke(tmp_path, "t.test.yaml")
    assert result.exit_code == 2
    column = text.splitlines()[5].index("review-rejected") + 1
    assert result.output == (f"Error: t.test.yaml:6:{column}: unknown hold 'review-rejected' "
                             "(holds of policy tiny: our-fault)\n")


# -- K: referral N only when entry N gave a vendor -----------------------------------------

def test_a_referral_entry_is_covered_only_when_it_gave_a_vendor_itself(tmp_path: Path):
    shared = POLICY.replace("    - vendors: [Other Ltd]\n", "    - vendors: [BigCo]\n")
    assert shared != POLICY
    (tmp_path / "p.yaml").write_text(shared, encoding="utf-8")
    outgrown = ABUSE.replace("outgrown: false", "outgrown: true")
    write(tmp_path, f"""\
        policy: p.yaml
        as_of: "2026-11-02"
        cases:
          - name: entry 1 gives BigCo first; entry 2 lists only BigCo
            facts: {outgrown}
            expect: {{outcome: offboard, referrals: [BigCo]}}
        """)
    items = covered(tmp_path, "timing")
    assert (items["referral 1"], items["referral 2"]) == (True, False)
    # without entry 1's condition, entry 2 gives BigCo itself
    write(tmp_path, f"""\
        policy: p.yaml
        as_of: "2026-11-02"
        cases:
          - name: only entry 2 applies
            facts: {ABUSE}
            expect: {{outcome: offboard, referrals: [BigCo]}}
        """)
    items = covered(tmp_path, "timing")
    assert (items["referral 1"], items["referral 2"]) == (False, True)


# -- ids a customer's memory gives, reserved in a policy ----------------------------------

@pytest.mark.parametrize("old,new,message", [
    ("  - id: our-fault\n", "  - id: review-rejected\n",
     "hold id 'review-rejected' is reserved: a rejected offboarding case holds a decision "
     "with it"),
    ("  - id: strategic\n", "  - id: registry-7\n",
     "exemption id 'registry-7' is reserved: the database's exemptions show on decisions "
     "as registry-N"),
], ids=["hold", "exemption"])
def test_a_policy_cannot_use_the_ids_memory_gives(tmp_path: Path, old: str, new: str,
                                                   message: str):
    assert POLICY.count(old) == 1
    path = tmp_path / "p.yaml"
    path.write_text(POLICY.replace(old, new), encoding="utf-8")
    with pytest.raises(PolicyErrors) as info:
        load_policy(path)
    [error] = info.value.errors
    assert error.message == message
    assert error.location.line == line_of(POLICY.replace(old, new), new.strip())
