"""What changed between two compiled policies, and which of those changes a
rule depends on (`adieu diff`, docs/ops-guide.md "What a change does").

Compared part by part, never as raw text, so a comment or a reordered key
is no change: params (by value: 3 and 3.0 are the same Decimal), derive
(by expression text), rules, exemptions and holds (by id: which of their
keys changed), the strike ladder and timing (by key), and every other
top-level key of the policy, whatever it is (name, version, description,
on_missing, facts, allow_missing_facts, any key the schema gains later:
the schema's top-level keys and the document's, compared as compiled
where the compiled policy has them, so a default spelt out is no change;
a mapping by its entries, e.g. "facts.score")."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from .decimals import plain_text
from .policy import Exemption, Hold, Policy, Rule
from .resources import load_schema
from .safe_text import json_text

# Parts of a rule, exemption or hold that are not a key of it to compare.
NOT_KEYS = ("id", "location", "source")
# Top-level keys with a comparison of their own (the PolicyChange field of that name).
OWN = ("params", "derive", "rules", "exemptions", "holds", "strikes", "timing")
# Policy attributes that are not a policy key's compiled value.
INTERNAL = ("file", "text", "sha256", "compiler", "doc", "positions", "expressions")


@dataclass
class PolicyChange:
    """The change from policy `old` to policy `new`.

    params / derive: name -> [old, new] (None on the side that lacks it;
    params as JSON-ready values, derive as expression text); rules,
    exemptions, holds: id -> "added" | "removed" | [changed keys];
    strikes / timing / settings: key -> [old, new] (settings: every
    other top-level key, a mapping's entries as "key.entry")."""

    settings: dict[str, list[Any]] = field(default_factory=dict)
    params: dict[str, list[Any]] = field(default_factory=dict)
    derive: dict[str, list[Any]] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    exemptions: dict[str, Any] = field(default_factory=dict)
    holds: dict[str, Any] = field(default_factory=dict)
    strikes: dict[str, list[Any]] = field(default_factory=dict)
    timing: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def lines(self) -> list[str]:
        """One line per change, e.g. "param late_payment_limit: 3 -> 2",
        "rule late-payments: when changed", "rule new-rule: added"."""
        out = [f"{key}: {_show(a)} -> {_show(b)}" for key, (a, b) in self.settings.items()]
        out += [f"param {k}: {_show(a)} -> {_show(b)}" for k, (a, b) in self.params.items()]
        out += [f"derive {k}: {_show(a)} -> {_show(b)}" for k, (a, b) in self.derive.items()]
        for kind, items in (("rule", self.rules), ("exemption", self.exemptions),
                            ("hold", self.holds)):
            for k, what in items.items():
                out.append(f"{kind} {k}: " + (what if isinstance(what, str)
                                              else ", ".join(what) + " changed"))
        out += [f"strikes.{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in self.strikes.items()]
        out += [f"timing.{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in self.timing.items()]
        return out


def _show(value: Any) -> str:
    """One side of a change in the policy's own spelling: "(none)" where the
    side lacks it, true / false, exact digits, text in double quotes, a
    list or mapping as JSON (null, never Python's None, 'x' or
    Decimal('0.1'))."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_text(value)
    if isinstance(value, (str, list, tuple, dict)):
        return json_text(value)
    return str(value)


def _plain(value: Any) -> Any:
    """A value as JSON-ready data: sets sorted, dates ISO, Decimal kept."""
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "text") and hasattr(value, "names"):  # Compiled
        return value.text
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def _keyed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    out = {}
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = _plain(old.get(key)), _plain(new.get(key))
        if a != b:
            out[key] = [a, b]
    return out


def _by_id(old: list[Any], new: list[Any]) -> dict[str, Any]:
    a, b = {x.id: x for x in old}, {x.id: x for x in new}
    out: dict[str, Any] = {}
    for key in [*a, *(k for k in b if k not in a)]:
        if key not in b:
            out[key] = "removed"
        elif key not in a:
            out[key] = "added"
        else:
            keys = [f.name for f in fields(a[key]) if f.name not in NOT_KEYS]
            changed = [k for k in keys if _part(a[key], k) != _part(b[key], k)]
            if changed:
                out[key] = changed
    return out


def _part(item: Rule | Exemption | Hold, key: str) -> Any:
    return _plain(getattr(item, key, None))


def compare(old: Policy, new: Policy) -> PolicyChange:
    """The PolicyChange from old to new (both compiled, engine.policy)."""
    return PolicyChange(
        settings=_settings(old, new),
        params=_keyed(old.params, new.params),
        derive=_keyed({k: c.text for k, c in old.derive.items()},
                      {k: c.text for k, c in new.derive.items()}),
        rules=_by_id(old.rules, new.rules),
        exemptions=_by_id(old.exemptions, new.exemptions),
        holds=_by_id(old.holds, new.holds),
        strikes=_keyed(_plain(old.strikes), _plain(new.strikes)),
        timing=_keyed(_plain(old.timing), _plain(new.timing)))


def _top_value(policy: Policy, key: str) -> Any:
    """A top-level key's value: the compiled one where the policy has it
    (defaults applied), else the document's."""
    if key not in INTERNAL and hasattr(policy, key):
        return _plain(getattr(policy, key))
    doc = policy.doc if isinstance(policy.doc, dict) else {}
    return _plain(doc.get(key))


def _settings(old: Policy, new: Policy) -> dict[str, list[Any]]:
    """Every top-level key but those of OWN that differs: key -> [old,
    new]; a mapping on either side by its entries, "key.entry" -> [old,
    new]."""
    keys = list(load_schema("policy.schema.json")["properties"])
    for doc in (old.doc, new.doc):
        keys += [k for k in (doc if isinstance(doc, dict) else {}) if k not in keys]
    out: dict[str, list[Any]] = {}
    for key in keys:
        if key in OWN:
            continue
        a, b = _top_value(old, key), _top_value(new, key)
        if a == b:
            continue
        if isinstance(a, dict) or isinstance(b, dict):
            a = a if isinstance(a, dict) else {}
            b = b if isinstance(b, dict) else {}
            out.update({f"{key}.{k}": v for k, v in _keyed(a, b).items()})
        else:
            out[key] = [a, b]
    return out


def names_of(policy: Policy, rule_id: str) -> set[str]:
    """Every name rule_id's condition rests on: the facts, params and
    derived figures its `when` uses, and, through each derived figure, the
    names that figure uses (transitively). Empty if the policy has no such
    rule."""
    rule = policy.rule(rule_id)
    if rule is None:
        return set()
    seen: set[str] = set()
    todo = list(rule.when.names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in policy.derive:
            todo.extend(policy.derive[name].names)
    return seen


def causes(change: PolicyChange, old: Policy | None, new: Policy | None,
           rule_id: str) -> list[str]:
    """The parts of the change rule_id's result can follow from, as
    change.lines() words them: the rule itself (added, removed, a changed
    key) and each changed param or derive its condition rests on (in either
    policy, names_of). Empty when none of the change touches the rule (the
    difference then comes from elsewhere: the population figures, memory,
    the ladder)."""
    return rule_change_lines(change, rule_id) + \
        name_causes(change, rule_names(old, new, rule_id))


def rule_change_lines(change: PolicyChange, rule_id: str) -> list[str]:
    """["rule ID: added" / "rule ID: when, severity changed"], or [] when
    the rule's own text did not change."""
    what = change.rules.get(rule_id)
    if what is None:
        return []
    return [f"rule {rule_id}: " + (what if isinstance(what, str)
                                   else ", ".join(what) + " changed")]


def rule_names(old: Policy | None, new: Policy | None, rule_id: str) -> set[str]:
    """The params and derived facts rule_id's condition rests on, in either policy."""
    return (names_of(old, rule_id) if old else set()) | \
        (names_of(new, rule_id) if new else set())


def name_causes(change: PolicyChange, names: set[str]) -> list[str]:
    """The changed params and derived figures among names, as
    change.lines() words them."""
    out = []
    for k, (a, b) in change.params.items():
        if k in names:
            out.append(f"param {k}: {_show(a)} -> {_show(b)}")
    for k, (a, b) in change.derive.items():
        if k in names:
            out.append(f"derive {k}: {_show(a)} -> {_show(b)}")
    return out
