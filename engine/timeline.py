"""Words for a customer's timeline (`adieu history`): why a strike stopped
counting between two runs, and how the rules that fired changed.

Every way a strike stops counting is named for what it is, from the strikes
table and the stored decision, never guessed from dates alone:

- expired: its window ended (expires_on on or before the run's as-of date);
- pardoned: `adieu strikes pardon` withdrew it (by whom, why);
- superseded: a later run of the same as-of date decided the customer again
  and did not record it (that run's strikes replace the earlier run's);
- set aside: an exemption applied to its rule in this run (the decision's
  `set_aside_strikes`, where the run recorded them).

A rule that stops firing because an exemption shields it is "shielded by
exemption X", not "no longer fires"; when the exemption ends it "fires
again"."""

from __future__ import annotations

from typing import Any

StrikeKey = tuple[str, str]  # (rule, recorded_on YYYY-MM-DD)


def set_aside(decision: dict[str, Any]) -> dict[StrikeKey, dict[str, Any]]:
    """The strikes a stored decision set aside because an exemption applied
    to their rule, by (rule, recorded_on). Decisions of versions that did not
    record them (no `set_aside_strikes`, or not a list) set none aside."""
    items = decision.get("set_aside_strikes")
    if not isinstance(items, list):
        return {}
    out = {}
    for s in items:
        if isinstance(s, dict) and "rule" in s and "recorded_on" in s:
            out[(str(s["rule"]), str(s["recorded_on"]))] = s
    return out


def stopped(strike: dict[str, Any], run_id: int, as_of: str,
            aside: dict[StrikeKey, dict[str, Any]],
            rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Why `strike` ({rule, recorded_on, expires_on}), counting in the run
    before, no longer counts in run `run_id` as of `as_of`.

    rows: the strikes-table rows of the customer with this rule and
    recorded_on. Returns {rule, recorded_on, expires_on, why, text} where why
    is set_aside | superseded | pardoned | expired | not_counted, text the
    whole sentence and short the sentence without its kind, plus
    exemption / superseded_by_run / pardoned_by, pardon_reason where they
    apply."""
    key = (strike["rule"], strike["recorded_on"])
    out = {"rule": strike["rule"], "recorded_on": strike["recorded_on"],
           "expires_on": strike.get("expires_on")}
    label = f"{strike['rule']} ({strike['recorded_on']})"
    expired = bool(strike.get("expires_on")) and strike["expires_on"] <= as_of
    if key in aside:
        exemption = aside[key].get("exemption")
        return {**out, "why": "set_aside", "exemption": exemption,
                "text": f"{label} set aside by exemption {exemption}",
                "short": f"{label} by exemption {exemption}"}
    # Only a run of the same as-of date supersedes, and the timeline puts it
    # right after the run it supersedes: this run, or none.
    if any(r.get("superseded_by_run") == run_id for r in rows):
        by = run_id
        return {**out, "why": "superseded", "superseded_by_run": by,
                "text": f"{label} superseded by run {by} of the same date",
                "short": f"{label} by run {by} of the same date"}
    pardoned = next((r for r in rows if r.get("pardoned_at")), None)
    # A strike pardoned after its window had ended expired first.
    if pardoned is not None and not (expired and
                                     str(pardoned["pardoned_at"])[:10] >= strike["expires_on"]):
        return {**out, "why": "pardoned", "pardoned_by": pardoned.get("pardoned_by"),
                "pardon_reason": pardoned.get("pardon_reason"),
                "text": f"{label} pardoned by {pardoned.get('pardoned_by')}: "
                        f"{pardoned.get('pardon_reason')}",
                "short": f"{label} by {pardoned.get('pardoned_by')}: "
                         f"{pardoned.get('pardon_reason')}"}
    if expired:
        return {**out, "why": "expired", "text": f"{label} expired on {strike['expires_on']}",
                "short": label}
    return {**out, "why": "not_counted",
            "text": f"{label} not counted by this run's policy (strike window or rules "
                    "changed)", "short": label}


def rule_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """How the rules that fired changed between two timeline entries, each
    with `fired` (rule ids) and `shielded` ({rule, by}): a fired rule and a
    shielded rule are told apart."""
    fired_b, fired_a = set(before["fired"]), set(after["fired"])
    sh_b = {s["rule"]: s["by"] for s in before.get("shielded", [])}
    sh_a = {s["rule"]: s["by"] for s in after.get("shielded", [])}
    out = []
    for rule in sorted(fired_a - fired_b):
        out.append(f"{rule} fires again (exemption {sh_b[rule]} no longer shields it)"
                   if rule in sh_b else f"{rule} now fires")
    for rule in sorted(fired_b - fired_a):
        out.append(f"{rule} shielded by exemption {sh_a[rule]}" if rule in sh_a
                   else f"{rule} no longer fires")
    for rule in sorted(set(sh_a) - set(sh_b) - fired_b):
        out.append(f"{rule} fires, shielded by exemption {sh_a[rule]}")
    for rule in sorted(set(sh_b) - set(sh_a) - fired_a):
        out.append(f"{rule} no longer fires (it was shielded by exemption {sh_b[rule]})")
    for rule in sorted(set(sh_a) & set(sh_b)):
        if sh_a[rule] != sh_b[rule]:
            out.append(f"{rule} shielded by exemption {sh_a[rule]} (was {sh_b[rule]})")
    return out
