"""The strike ledger's rules, as pure functions.

A strike is a dated record that a strike rule fired for a customer. It is
active for `window_days` after the date it was recorded. When the same rule
fires again less than `cooldown_days` after its latest strike was recorded,
that is the same strike (nothing new is recorded). Otherwise a new strike is
recorded on the run's as-of date. The ladder counts active strikes, except
those an exemption sets aside (`shield_strikes`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Strike:
    rule: str
    recorded_on: dt.date
    id: int | None = None

    def expires_on(self, window_days: int) -> dt.date:
        return self.recorded_on + dt.timedelta(days=window_days)

    def to_dict(self, window_days: int) -> dict[str, Any]:
        return {"rule": self.rule, "recorded_on": self.recorded_on.isoformat(),
                "expires_on": self.expires_on(window_days).isoformat()}


@dataclass(frozen=True)
class PardonedStrike:
    """A strike of a run's own as-of date that `adieu strikes pardon`
    withdrew: its rule firing again on that date records no new strike."""

    rule: str
    recorded_on: dt.date
    pardoned_by: str


@dataclass
class Memory:
    """What a customer brings into a run from earlier runs: strikes recorded
    before the run's as-of date (not pardoned, not superseded), exemptions
    recorded in the registry, and `pardoned`: the pardoned strikes of the
    run's own as-of date (a re-run of a date keeps its pardons)."""

    strikes: list[Strike] = field(default_factory=list)
    exemptions: list[Any] = field(default_factory=list)  # policy.Exemption, source "registry"
    case: Any = None  # cases.CaseMemory: the open case, else a rejected one (engine/cases.py)
    pardoned: list[PardonedStrike] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The memory as stored with a decision, so a replay is exact."""
        return {
            "strikes": [{"rule": s.rule, "recorded_on": s.recorded_on.isoformat()}
                        for s in self.strikes],
            "exemptions": [{"id": e.id, "rules": sorted(e.rules) if e.rules is not None
                            else None, "reason": e.reason, "approver": e.approver,
                            "expires": e.expires.isoformat()} for e in self.exemptions],
            **({"case": self.case.to_json()} if self.case is not None else {}),
            # Only when there are any: memories stored before keep their form.
            **({"pardoned": [{"rule": p.rule, "recorded_on": p.recorded_on.isoformat(),
                              "pardoned_by": p.pardoned_by} for p in self.pardoned]}
               if self.pardoned else {}),
        }


def memory_from_json(data: dict[str, Any] | None, customer_id: str) -> Memory:
    """A memory as stored with a decision, back into objects (for replay)."""
    from .policy import Exemption

    data = data or {}
    strikes = [Strike(s["rule"], dt.date.fromisoformat(s["recorded_on"]))
               for s in data.get("strikes", [])]
    exemptions = [Exemption(e["id"], None, frozenset([customer_id]),
                            None if e["rules"] is None else frozenset(e["rules"]),
                            e["reason"], e["approver"], dt.date.fromisoformat(e["expires"]),
                            "registry") for e in data.get("exemptions", [])]
    from .cases import case_from_json

    pardoned = [PardonedStrike(p["rule"], dt.date.fromisoformat(p["recorded_on"]),
                               p["pardoned_by"]) for p in data.get("pardoned", [])]
    return Memory(strikes, exemptions, case_from_json(data.get("case")), pardoned)


@dataclass
class StrikeOutcome:
    active: list[Strike]          # after this run, including new ones
    new: list[Strike]             # recorded by this run
    repeated: list[Strike]        # earlier strikes the same rule fired within the cool-down of
    expired: list[Strike]         # earlier strikes no longer active on the as-of date


def apply_strikes(fired_rules: list[str], prior: list[Strike], as_of: dt.date,
                  window_days: int, cooldown_days: int) -> StrikeOutcome:
    """Which strikes are active after `fired_rules` fired on `as_of`."""
    # Strikes of the as-of date itself come from runs over other sources
    # (store.load_memories): the same rule firing again here is no new strike.
    earlier = [s for s in prior if s.recorded_on <= as_of]
    active = [s for s in earlier if (as_of - s.recorded_on).days < window_days]
    expired = [s for s in earlier if (as_of - s.recorded_on).days >= window_days]
    new, repeated = [], []
    for rule in dict.fromkeys(fired_rules):  # each rule once, in order
        latest = max((s for s in earlier if s.rule == rule), key=lambda s: s.recorded_on,
                     default=None)
        if latest is not None and (as_of - latest.recorded_on).days < cooldown_days:
            repeated.append(latest)
        else:
            new.append(Strike(rule, as_of))
    return StrikeOutcome(active + new, new, repeated, expired)


class Shield(Protocol):
    """What shield_strikes needs of an exemption (policy.Exemption has it)."""

    id: str

    def shields(self, rule_id: str) -> bool: ...


def shield_strikes(active: list[Strike], applied: Sequence[Shield]) \
        -> tuple[list[Strike], list[tuple[Strike, str]]]:
    """Split the strikes active on a run's as-of date into those the ladder
    counts and those set aside, each with the id of the exemption that sets
    it aside (the first of `applied` that shields its rule).

    `applied`: the exemptions that apply to the customer on the as-of date
    (not yet expired). While an exemption applies to a rule, every active
    strike of that rule is set aside, whether it was recorded before or
    during the exemption. Nothing is deleted: once the exemption has ended it
    is no longer in `applied`, and the strike counts again if it is still
    inside its window on that later run's as-of date (the caller passes
    only active strikes). Pure: same strikes and exemptions, same split."""
    counted: list[Strike] = []
    aside: list[tuple[Strike, str]] = []
    for strike in active:
        shield = next((ex for ex in applied if ex.shields(strike.rule)), None)
        if shield is None:
            counted.append(strike)
        else:
            aside.append((strike, shield.id))
    return counted, aside
