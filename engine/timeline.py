"""Words for a customer's timeline (`adieu history`): why a strike stopped
counting between two runs, and how the rules that fired changed.

Every way a strike stops counting is named for what it is, from the strikes
table and the stored decision, never guessed from dates alone:

- expired: its window ended (expires_on on or before the run's as-of date);
- pardoned: `adieu strikes pardon` withdrew it (by whom, why);
- superseded: a later run of the strike's as-of date decided the customer
  again (that run's strikes replace the earlier run's), named by that run
  wherever it sits in the timeline (a --backfill of an earlier date is run
  after the runs of later dates); when that run recorded the rule again,
  the strike was replaced (`replaced`);
- set aside: an exemption applied to its rule in this run (the decision's
  `set_aside_strikes`, where the run recorded them);
- recorded later: a run made after this one (a --backfill of an earlier
  date, which sits before it in the timeline) recorded it, so this run
  never knew it;
- not counted: none of these, so this run's policy (strike window, rules)
  did not count it.

A rule that stops firing because an exemption shields it is "shielded by
exemption X", not "no longer fires"; when the exemption ends it "fires
again". A rule that could not be checked (unknown: its facts missing from
the run's source, e.g. a helpdesk-only run after a billing-only run of the
same date) "could not be checked (missing F)": it neither stopped nor
started firing."""

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


def alive_at(rows: list[dict[str, Any]], run_id: int | None) -> list[dict[str, Any]]:
    """The strikes-table rows (of one rule and date) that were the strike
    as run `run_id` counted it: recorded by that run or an earlier one, and
    not yet superseded then. A rule and date may have several rows (a run of
    the date supersedes a strike and records it again). All rows when none
    fits, or run_id is None."""
    if run_id is None:
        return rows
    alive = [r for r in rows if r.get("run_id") is not None and r["run_id"] <= run_id
             and (r.get("superseded_by_run") is None or r["superseded_by_run"] > run_id)]
    return alive or rows


def stopped(strike: dict[str, Any], run_id: int, as_of: str,
            aside: dict[StrikeKey, dict[str, Any]],
            rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Why `strike` ({rule, recorded_on, expires_on}), counting in the run
    before, no longer counts in run `run_id` as of `as_of`.

    rows: the strikes-table rows of the customer with this rule and
    recorded_on that were the strike when it last counted (alive_at).
    Returns {rule, recorded_on, expires_on, why, text} where why
    is set_aside | superseded | pardoned | recorded_later | expired |
    not_counted, text the
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
    # A run of the strike's date that decided the customer again supersedes
    # it. That run may sit anywhere before this one in the timeline (a
    # --backfill of an earlier date, run after the runs of later dates): a
    # supersede by any run up to this one counts (run ids grow with time).
    sup = next((r["superseded_by_run"] for r in rows if r.get("superseded_by_run") is not None
                and r["superseded_by_run"] <= run_id), None)
    if sup is not None:
        of = "of the same date" if as_of == strike["recorded_on"] \
            else f"(a later run of {strike['recorded_on']})"
        return {**out, "why": "superseded", "superseded_by_run": sup,
                "text": f"{label} superseded by run {sup} {of}",
                "short": f"{label} by run {sup} {of}"}
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
    later = sorted({r["run_id"] for r in rows if r.get("run_id") is not None})
    if later and later[0] > run_id:  # a --backfill run made after this one recorded it
        return {**out, "why": "recorded_later", "recorded_by_run": later[0],
                "text": f"{label} recorded by run {later[0]}, made after this run",
                "short": f"{label} by run {later[0]}"}
    if expired:
        return {**out, "why": "expired", "text": f"{label} expired on {strike['expires_on']}",
                "short": label}
    return {**out, "why": "not_counted",
            "text": f"{label} not counted by this run's policy (strike window or rules "
                    "changed)", "short": label}


def unknown_text(rule: str, item: dict[str, Any]) -> str:
    """'R could not be checked (missing F, G)' for an unknown rule result
    ({rule, missing, problems})."""
    why = ", ".join([*(f"missing {m}" for m in item.get("missing") or []),
                     *(item.get("problems") or [])]) or "its facts unknown"
    return f"{rule} could not be checked ({why})"


def replaced(strike: dict[str, Any], run_id: int,
             rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The supersede of `strike` by run `run_id` of its date when that run
    recorded the same rule again (the strike counts before and after under
    the same rule and date, but it is another strike): the stopped() shape
    with why superseded and replaced_by_run, or None when no row of it was
    superseded by this run."""
    old = sorted(r["run_id"] for r in rows if r.get("superseded_by_run") == run_id
                 and r.get("run_id") != run_id)
    if not old:
        return None
    label = f"{strike['rule']} ({strike['recorded_on']})"
    of = f"run {old[0]}" if len(old) == 1 else "runs " + ", ".join(map(str, old))
    return {"rule": strike["rule"], "recorded_on": strike["recorded_on"],
            "expires_on": strike.get("expires_on"), "why": "superseded",
            "superseded_by_run": run_id, "replaced_by_run": run_id,
            "text": f"{label} of {of} replaced by run {run_id}'s strike of the same date",
            "short": f"{label} of {of} replaced by run {run_id}'s"}


def rule_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """How the rules that fired changed between two timeline entries, each
    with `fired` (rule ids), `shielded` ({rule, by}) and `unknown` ({rule,
    missing, problems}: rules that could not be checked): a fired rule, a
    shielded rule and a rule that could not be checked are told apart; a
    rule unknown on either side never "now fires" or "no longer fires"."""
    fired_b, fired_a = set(before["fired"]), set(after["fired"])
    sh_b = {s["rule"]: s["by"] for s in before.get("shielded", [])}
    sh_a = {s["rule"]: s["by"] for s in after.get("shielded", [])}
    un_b = {u["rule"]: u for u in before.get("unknown", [])}
    un_a = {u["rule"]: u for u in after.get("unknown", [])}
    out = []
    for rule in sorted(set(un_a) - set(un_b)):
        out.append(unknown_text(rule, un_a[rule]))
    for rule in sorted(set(un_b) - set(un_a)):
        state = "fires" if rule in fired_a else f"shielded by exemption {sh_a[rule]}" \
            if rule in sh_a else "passes"
        out.append(f"{rule} checked again: {state}")
    fired_b, fired_a = fired_b - set(un_a), fired_a - set(un_b)
    for rule in sorted(fired_a - fired_b):
        out.append(f"{rule} fires again (exemption {sh_b[rule]} no longer shields it)"
                   if rule in sh_b else f"{rule} now fires")
    for rule in sorted(fired_b - fired_a):
        out.append(f"{rule} shielded by exemption {sh_a[rule]}" if rule in sh_a
                   else f"{rule} no longer fires")
    for rule in sorted(set(sh_a) - set(sh_b) - fired_b - set(un_b)):
        out.append(f"{rule} fires, shielded by exemption {sh_a[rule]}")
    for rule in sorted(set(sh_b) - set(sh_a) - fired_a - set(un_a)):
        out.append(f"{rule} no longer fires (it was shielded by exemption {sh_b[rule]})")
    for rule in sorted(set(sh_a) & set(sh_b)):
        if sh_a[rule] != sh_b[rule]:
            out.append(f"{rule} shielded by exemption {sh_a[rule]} (was {sh_b[rule]})")
    return out
