"""Coverage of a policy by its test cases: which parts some case exercised.

The items of a policy (each with its kind, name and policy file:line):

- rule R: R's condition held for some case (it fired, or fired shielded);
- exemption E: E shielded a fired rule or set aside an active strike;
- hold H: H held a decision back; `hold H except` (when H has
  except_rules): one of those rules fired and H stood aside;
- timing branches, from decide.effective_date and decide.decide for an
  offboard decision: `contract-end` (the effective date is the contract
  end), `notice-period` (the end of the notice period), `avoid MM-DD to
  MM-DD` per avoided period (the date was moved past it),
  `weekdays-only` (moved off a weekend; only when weekdays_only is on),
  `phase-out` (the full phase_out_days before the date) and
  `phase-out-cut-short` (the phase-out starts the day after the as-of
  date because the date is nearer), when phase_out_days > 0;
  `referral N` per timing.referrals entry (it gave a vendor to a decision).

Percentages are exact: covered * 100 / total as a Decimal, shown to one
decimal place."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from .decide import Decision, effective_date
from .policy import Policy


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
            add("timing", _period(begin, end), ("timing", "avoid", i))
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

    def record(self, decision: Decision, facts: dict[str, Any], as_of: dt.date) -> None:
        """Mark what deciding this customer exercised."""
        for r in [*decision.fired, *decision.shielded]:
            self._mark("rule", r.rule)
        for r in decision.shielded:
            if r.shielded_by:
                self._mark("exemption", r.shielded_by)
        for s in decision.set_aside_strikes:
            self._mark("exemption", s.get("exemption", ""))
        for h in decision.holds:
            self._mark("hold", h["id"])
        for note in decision.notes:
            if note.startswith("hold ") and " does not apply: " in note:
                self._mark("hold", note[5:note.index(" does not apply: ")] + " except")
        timing = self.policy.timing
        for i, ref in enumerate(timing.referrals):
            if any(v in decision.referrals for v in ref.vendors):
                self._mark("timing", f"referral {i + 1}")
        if decision.outcome != "offboard" or decision.effective_date is None:
            return
        day, basis = effective_date(timing, facts.get("contract_end"), as_of)
        self._mark("timing", "contract-end" if basis.startswith("contract end")
                   else "notice-period")
        for begin, end, reason in timing.avoid:
            what = reason or f"an avoided period ({begin[0]:02d}-{begin[1]:02d} to " \
                f"{end[0]:02d}-{end[1]:02d})"
            if f"moved past {what} to " in basis:
                self._mark("timing", _period(begin, end))
        if "(weekdays only)" in basis:
            self._mark("timing", "weekdays-only")
        if timing.phase_out_days > 0:
            cut = day - dt.timedelta(days=timing.phase_out_days) <= as_of
            self._mark("timing", "phase-out-cut-short" if cut else "phase-out")

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


def _period(begin: tuple[int, int], end: tuple[int, int]) -> str:
    return f"avoid {begin[0]:02d}-{begin[1]:02d} to {end[0]:02d}-{end[1]:02d}"
