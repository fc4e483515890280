"""Coverage of a policy by its test cases: which parts some case exercised.

The items of a policy (each with its kind, name and policy file:line),
each covered only by what a case's decision shows it did, read from the
decision (never worked out again from the case's facts):

- rule R: R's condition held for some case (it fired, or fired shielded);
- exemption E: policy exemption E shielded a fired rule or set aside an
  active strike (a registry exemption of the case's memory covers none);
- hold H: H's condition held and held a decision back (a hold that held
  only because its facts were missing, `unknown` in the decision's holds,
  covers nothing, as an unknown rule does not); `hold H except` (when H
  has except_rules): H's own condition held (true, not unknown: else H
  would not have held anyway and the except branch made no difference)
  and one of those rules fired, so H stood aside (Decision.holds_set_aside);
- timing branches, from the steps that made an offboard decision's own
  effective date (Decision.timing_steps; a date kept from an offboarding
  case made by an earlier run covers none): `contract-end` (the date is
  the contract end), `notice-period` (the end of the notice period),
  `avoid MM-DD to MM-DD` per avoided period (the date was moved past it),
  `weekdays-only` (moved off a weekend; only when weekdays_only is on),
  and, when phase_out_days > 0, from the decision's dates: `phase-out`
  (the full phase_out_days between phase_out_start and the date) and
  `phase-out-cut-short` (fewer: the date was nearer);
  `referral N` per timing.referrals entry: entry N itself gave a vendor
  (Decision.referral_entries; not a vendor another entry gave first).

Percentages are exact: covered * 100 / total as a Decimal, shown to one
decimal place."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from .decide import Decision
from .policy import Policy
from .timing import avoid_name


@dataclass
class Item:
    """One coverable part of a policy."""

    kind: str      # rule | exemption | hold | timing
    name: str
    file: str
    line: int
    covered: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "file": self.file, "line": self.line,
                "covered": self.covered}


class Coverage:
    """The items of one policy, marked as cases decide customers with it."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.items: dict[tuple[str, str], Item] = {}
        pos = policy.positions

        def line(path: tuple) -> int:
            return (pos.at(path).line or 1) if pos is not None else 1

        def add(kind: str, name: str, path: tuple) -> None:
            self.items[(kind, name)] = Item(kind, name, policy.file, line(path))

        for i, rule in enumerate(policy.rules):
            add("rule", rule.id, ("rules", i))
        for i, ex in enumerate(policy.exemptions):
            add("exemption", ex.id, ("exemptions", i))
        for i, hold in enumerate(policy.holds):
            add("hold", hold.id, ("holds", i))
            if hold.except_rules:
                add("hold", f"{hold.id} except", ("holds", i, "except_rules"))
        timing = policy.timing
        add("timing", "contract-end", ("timing", "contract_end_within_days"))
        add("timing", "notice-period", ("timing", "notice_days"))
        for i, (begin, end, _reason) in enumerate(timing.avoid):
            add("timing", avoid_name(begin, end), ("timing", "avoid", i))
        if timing.weekdays_only:
            add("timing", "weekdays-only", ("timing", "weekdays_only"))
        if timing.phase_out_days > 0:
            add("timing", "phase-out", ("timing", "phase_out_days"))
            add("timing", "phase-out-cut-short", ("timing", "phase_out_days"))
        for i, _ref in enumerate(timing.referrals):
            add("timing", f"referral {i + 1}", ("timing", "referrals", i))

    def _mark(self, kind: str, name: str) -> None:
        item = self.items.get((kind, name))
        if item is not None:
            item.covered = True

    def record(self, decision: Decision) -> None:
        """Mark what deciding this customer exercised, read from the decision
        itself (never worked out again from the facts): only what its
        decision shows did its work counts."""
        policy_exemptions = {e["id"] for e in decision.exemptions if e.get("source") == "policy"}
        for r in [*decision.fired, *decision.shielded]:
            self._mark("rule", r.rule)
        for r in decision.shielded:
            if r.shielded_by in policy_exemptions:
                self._mark("exemption", r.shielded_by)
        for s in decision.set_aside_strikes:
            if s.get("exemption") in policy_exemptions:
                self._mark("exemption", s["exemption"])
        for h in decision.holds:
            if "unknown" not in h:  # held for lack of data: its condition never held
                self._mark("hold", h["id"])
        for hold in decision.holds_set_aside:  # its condition held, an except rule fired
            self._mark("hold", f"{hold} except")
        for number in decision.referral_entries:
            self._mark("timing", f"referral {number}")
        if decision.outcome != "offboard" or not decision.timing_steps:
            return  # no date, or one kept from an offboarding case
        for step in decision.timing_steps:
            self._mark("timing", step)
        days = self.policy.timing.phase_out_days
        if days > 0 and decision.effective_date and decision.phase_out_start:
            span = (dt.date.fromisoformat(decision.effective_date)
                    - dt.date.fromisoformat(decision.phase_out_start)).days
            self._mark("timing", "phase-out" if span >= days else "phase-out-cut-short")

    def merge(self, other: Coverage) -> None:
        for key, item in other.items.items():
            if item.covered and key in self.items:
                self.items[key].covered = True

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def covered(self) -> int:
        return sum(1 for i in self.items.values() if i.covered)

    def percent(self, kind: str | None = None) -> Decimal:
        """Covered share in percent (exact); 100 when there is nothing to cover."""
        items = [i for i in self.items.values() if kind is None or i.kind == kind]
        if not items:
            return Decimal(100)
        return Decimal(sum(1 for i in items if i.covered) * 100) / Decimal(len(items))

    def counts(self, kind: str) -> tuple[int, int]:
        items = [i for i in self.items.values() if i.kind == kind]
        return sum(1 for i in items if i.covered), len(items)

    def missed(self) -> list[Item]:
        """The items no case exercised, in the order of their policy lines."""
        return sorted((i for i in self.items.values() if not i.covered), key=lambda i: i.line)

    def to_json(self) -> dict[str, Any]:
        return {"policy_file": self.policy.file, "policy_name": self.policy.name,
                "percent": shown_percent(self.percent()), "covered": self.covered,
                "total": self.total,
                "rules_percent": shown_percent(self.percent("rule")),
                "items": [i.to_json() for i in self.items.values()]}


def shown_percent(value: Decimal) -> Decimal:
    """A percentage cut (not rounded) to one decimal place, so 100.0 means
    everything: 2 of 3 is 66.6."""
    return value.quantize(Decimal("0.1"), rounding=ROUND_DOWN)

