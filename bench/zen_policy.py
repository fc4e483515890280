"""policies/default.yaml as a GoRules ZEN decision graph (zen-engine, PyPI).

Written by hand from the policy, like bench/baseline.py, for the
per-customer comparison of bench/bench_scale.py: one JDM graph (input node
-> one expression node -> output node, JSON Decision Model as read by
`zen.ZenEngine().create_decision`), whose expressions compute the derived
facts, the 13 rules, the two exemptions, the strike ladder (a new database:
every strike is new), on_missing: watch, the exempt marker and the
our-fault-first hold, ending in `outcome` (keep | watch | warn |
final_notice | offboard | exempt | held). Reasons text and effective dates
are not rendered (ZEN expressions have no format specs like `,.0f`).

ZEN's arithmetic and comparisons fail on null (a vmError), so every
expression guards its inputs: a missing input or a division by zero makes a
derived value null, and a rule over a null is null ("unknown"); `and` is
written out three-valued (Kleene) where a rule has two parts, as in adieu.
Within one expression node a later expression reads an earlier one's
result as `$.name`.

Context per customer: the facts by name (numbers as int/float, booleans,
dates as ISO text, null for missing), plus `as_of` (ISO date) and
`staff_hours_per_1k_p90` (the population statistic, computed beforehand
over the same customers, as adieu's population pass does).

zen-engine's Python API (2.x): zen.ZenEngine().create_decision(json_text)
-> ZenDecision; decision.evaluate(dict) -> {"performance", "result"}.
"""

from __future__ import annotations

import json
from typing import Any

OUTCOMES = ("keep", "watch", "warn", "final_notice", "offboard")


def _all_known(names: list[str]) -> str:
    return " or ".join(f"{n} == null" for n in names)


def _guard(names: list[str], expr: str) -> str:
    """expr, or null when any of names is null."""
    return f"{_all_known(names)} ? null : {expr}"


def _div(a: str, b: str, scale: str = "") -> str:
    return f"{a} == null or {b} == null or {b} == 0 ? null : {a} / {b}{scale}"


def _and(a: str, b: str) -> str:
    """Kleene and of two keys holding true / false / null."""
    return f"{a} == false or {b} == false ? false : ({a} == null or {b} == null ? null : true)"


HOURS = ["hours_account_mgmt_12m", "hours_support_12m", "hours_accounting_12m",
         "hours_marketing_12m"]
STRIKE_RULES = {  # rule key -> the exemptions that shield it
    "r_cost": ("strategic", "pilot"), "r_margin": ("strategic", "pilot"), "r_late": (),
    "r_return": ("pilot",), "r_staff": ("strategic",), "r_esc": (), "r_turn": (),
}
FLAG_RULES = ("r_terms", "r_balance", "r_compl", "r_rep", "r_outgrown")
ALL_RULES = (*STRIKE_RULES, *FLAG_RULES, "r_abuse")


def expressions() -> list[tuple[str, str]]:
    """(key, ZEN expression) in evaluation order."""
    e: list[tuple[str, str]] = [
        ("staff_hours_12m", _guard(HOURS, " + ".join(HOURS))),
        ("staff_cost_12m", _guard(HOURS, "hours_account_mgmt_12m * 85 + hours_support_12m * 45"
                                         " + hours_accounting_12m * 60"
                                         " + hours_marketing_12m * 70")),
        ("direct_costs_12m", "(returns_cost_12m ?? 0) + (refunds_12m ?? 0)"
                             " + (discounts_12m ?? 0) + (acquisition_cost_unrecovered ?? 0)"),
        ("cost_to_serve", _guard(["$.staff_cost_12m"],
                                 "$.staff_cost_12m + $.direct_costs_12m")),
        ("margin", _guard(["revenue_12m", "$.cost_to_serve"],
                          "revenue_12m - $.cost_to_serve")),
        ("cost_ratio", _div("$.cost_to_serve", "revenue_12m")),
        ("return_rate", _div("returns_12m", "orders_12m")),
        ("balance_ratio", _div("outstanding_balance", "revenue_12m")),
        ("staff_hours_per_1k", _div("$.staff_hours_12m", "revenue_12m", " * 1000")),
        # rules
        ("r_cost", _guard(["$.cost_ratio"], "$.cost_ratio > 1.0")),
        ("r_margin", _guard(["$.margin"], "$.margin < -10000")),
        ("r_late", _guard(["late_payments_12m"], "late_payments_12m >= 3")),
        ("r_terms", _guard(["requested_terms_days", "payment_terms_days"],
                           "requested_terms_days >= payment_terms_days + 15")),
        ("r_balance", _guard(["$.balance_ratio"], "$.balance_ratio > 0.25")),
        ("ret_orders", _guard(["orders_12m"], "orders_12m >= 10")),
        ("ret_rate", _guard(["$.return_rate"], "$.return_rate > 0.15")),
        ("r_return", _and("$.ret_orders", "$.ret_rate")),
        ("r_abuse", _guard(["abuse_incidents_12m"], "abuse_incidents_12m > 0")),
        ("staff_min", _guard(["$.staff_hours_12m"], "$.staff_hours_12m >= 40")),
        ("staff_out", _guard(["$.staff_hours_per_1k", "staff_hours_per_1k_p90"],
                             "$.staff_hours_per_1k > staff_hours_per_1k_p90 * 1.5")),
        ("r_staff", _and("$.staff_min", "$.staff_out")),
        ("r_esc", _guard(["escalations_12m"], "escalations_12m >= 4")),
        ("r_turn", _guard(["staff_turnover_incidents"], "staff_turnover_incidents >= 1")),
        ("r_compl", _guard(["complaint_incidents_12m"], "complaint_incidents_12m >= 3")),
        ("r_rep", "bad_reputation"),
        ("r_outgrown", "outgrown"),
        # exemptions (matched only when their condition is true)
        ("strategic", 'date(as_of) < date("2027-06-30") and '
                      '(tier == "strategic" or reference_account == true)'),
        ("pilot", 'customer_id in ["CUST-0042", "CUST-0118", "CUST-0233"] and '
                  'date(as_of) < date("2026-09-30")'),
    ]

    def count(shielded: bool) -> str:
        parts = []
        for rule, shields in STRIKE_RULES.items():
            cond = f"$.{rule} == true"
            if shielded:
                cond += "".join(f" and $.{s} == false" for s in shields)
            parts.append(f"({cond} ? 1 : 0)")
        return " + ".join(parts)

    flags = " or ".join(f"$.{r} == true" for r in FLAG_RULES)
    unknown = " or ".join(f"$.{r} == null" for r in ALL_RULES)

    def rank(strikes: str) -> str:
        return (f"$.r_abuse == true ? 4 : ({strikes} >= 3 ? 4 : ({strikes} >= 2 ? 3 : "
                f"({strikes} >= 1 ? 2 : ($.any_flag ? 1 : 0))))")

    e += [
        ("strikes", count(shielded=True)),
        ("all_strikes", count(shielded=False)),
        ("any_flag", flags),
        ("unknown", unknown),
        ("rank_kept", rank("$.strikes")),
        ("rank_all", rank("$.all_strikes")),
        ("rank", "$.unknown and $.rank_kept < 1 ? 1 : $.rank_kept"),
        ("exempt", "$.rank_all > $.rank and $.rank <= 1"),
        ("held", "$.rank >= 2 and $.r_abuse != true and "
                 "(open_our_fault_incidents == null or open_our_fault_incidents > 0)"),
        ("outcome", '$.exempt ? "exempt" : ($.held ? "held" : '
                    + json.dumps(list(OUTCOMES)) + "[$.rank])"),
    ]
    return e


def graph() -> dict[str, Any]:
    """The JDM decision graph (dict; json.dumps it for create_decision)."""
    node = {"id": "policy", "type": "expressionNode", "name": "default policy",
            "content": {"expressions": [{"id": k, "key": k, "value": v}
                                        for k, v in expressions()],
                        "passThrough": True, "inputField": None, "outputPath": None,
                        "executionMode": "single"}}
    return {"nodes": [{"id": "in", "type": "inputNode", "name": "facts", "content": {}},
                      node,
                      {"id": "out", "type": "outputNode", "name": "decision", "content": {}}],
            "edges": [{"id": "e1", "sourceId": "in", "targetId": "policy", "type": "edge"},
                      {"id": "e2", "sourceId": "policy", "targetId": "out", "type": "edge"}]}


def make_decision() -> Any:
    """A compiled ZenDecision; raises ImportError without zen-engine."""
    import zen  # the bench extra

    return zen.ZenEngine().create_decision(json.dumps(graph()))
