"""adieu explain for a run whose policy calls a plugin function that is no
longer installed: the decision, reasons and figures as they were stored,
with a note naming the plugin (docs/plugins.md, "What a run records")."""

from __future__ import annotations

from typing import Any

import click

from ..decide import TRACE_FIELDS, Decision
from ..errors import PolicyErrors
from ..explain import fmt
from ..plugin_record import described, missing_plugins, unknown_functions
from ..plugins import Registry
from ..reviewing import case_json, case_line
from ..safe_text import echo, json_text


def strike_and_case_lines(active: list[dict[str, Any]], aside: list[dict[str, Any]],
                          case: dict[str, Any] | None, verdict: Any) -> None:
    """The lines `explain` shows under "active strikes": each active strike,
    the strikes an exemption set aside, and the case (or, for a run before
    cases, its review verdict: (verdict, reviewer, note) or None)."""
    for s in active:
        echo(f"    {s['rule']}: recorded {s['recorded_on']}, expires {s['expires_on']}")
    if aside:
        echo(f"  strikes set aside while an exemption applies: {len(aside)} (they count "
             "again after it ends if still inside their window)")
    for s in aside:
        echo(f"    {s['rule']}: recorded {s['recorded_on']}, expires {s['expires_on']}; "
             f"set aside by exemption {s['exemption']}")
    if case is not None:
        echo(f"  {case_line(case)}")
    elif verdict is not None:
        echo(f"  review: {verdict[0]} by {verdict[1]}"
             + (f" ({verdict[2]})" if verdict[2] else ""))


def gone_note(run: dict[str, Any], reg: Registry, error: PolicyErrors) -> str:
    """"plugin adieu-billing 0.3.0 not installed" (several joined by "; "),
    or, for a run that predates plugin records, the functions it lacks."""
    missing = missing_plugins(run, reg)
    if missing:
        return "; ".join(f"plugin {described(e)} not installed" for e in missing)
    names = unknown_functions(error)
    return f"function {', '.join(n + '()' for n in names)} not installed"


def stored_decision(row: dict[str, Any]) -> dict[str, Any]:
    """A stored decisions row (JSON decoded) as the decision object of
    `adieu explain --json` (schemas/decision.schema.json): every field of
    engine.decide.Decision but its TRACE_FIELDS, an empty list for a list
    the row lacks."""
    out = {}
    for name, spec in Decision.__dataclass_fields__.items():
        if name in TRACE_FIELDS:
            continue
        value = row.get(name)
        if value is None and spec.default_factory is list:  # type: ignore[comparison-overlap]
            value = []
        out[name] = value
    return out


def show_stored(run: dict[str, Any], row: dict[str, Any], verdict: Any, note: str,
                as_json: bool, case: dict[str, Any] | None = None) -> None:
    """Print the stored decision (row: a decisions row with JSON decoded):
    outcome, active strikes (those new this run, each strike's dates, those
    set aside), the customer's case (case: a cases row, reviewing.run_case),
    effective date, notes, holds, facts and the fired rules' figures."""
    if as_json:
        click.echo(json_text({
            "run_id": run["id"], "as_of": run["as_of"], "policy_name": run["policy_name"],
            "policy_version": run["policy_version"], "stored_outcome": row["outcome"],
            "figures_as_stored": True, "note": f"{note}: figures as stored",
            "decision": stored_decision(row),
            "facts": row["facts"], "case": case_json(case),
            "review": None if verdict is None else {
                "verdict": verdict[0], "reviewer": verdict[1], "note": verdict[2]}},
            indent=2))
        return
    echo(f"{row['customer_id']}: {row['outcome'].upper()}  (run {run['id']}, policy "
         f"{run['policy_name']!r} v{run['policy_version']}, as of {run['as_of']})")
    echo(f"  ({note}: figures as stored)")
    if row["outcome"] != row["base_outcome"]:
        echo(f"  rules alone say: {row['base_outcome']}")
    new = row.get("new_strikes") or []
    echo(f"  active strikes: {row['strikes']}"
         + (f" (new this run: {', '.join(new)})" if new else ""))
    strike_and_case_lines(row.get("active_strikes") or [],
                          row.get("set_aside_strikes") or [], case, verdict)
    if row.get("effective_date"):
        echo(f"  effective {row['effective_date']} ({row['timing_basis']})"
             + (f", phase-out from {row['phase_out_start']}"
                if row.get("phase_out_start") else ""))
    if row.get("referrals"):
        echo(f"  referrals: {', '.join(row['referrals'])}")
    for text in row.get("notes") or []:
        echo(f"  note: {text}")
    for hold in row.get("holds") or []:
        echo(f"  hold {hold['id']}: {hold['reason']}")
    if row.get("missing"):
        echo(f"  missing facts: {', '.join(row['missing'])}")
    echo("")
    echo("Facts (as stored):")
    for name, value in sorted((row.get("facts") or {}).items()):
        echo(f"  {name} = {fmt(value)}")
    echo("")
    echo("Rules:")
    for kind in ("fired", "shielded", "unknown"):
        for r in row.get(kind) or []:
            status = r["status"].upper()
            if r.get("shielded_by"):
                status += f" (would have fired; shielded by exemption {r['shielded_by']})"
            echo(f"  {r['rule']} [{r['action']}, {r['severity']}]: {status}")
            if r.get("explanation"):
                echo(f"    \"{r['explanation']}\"")
            figures = r.get("figures") or {}
            if figures:
                echo("    figures: " + ", ".join(f"{k} = {fmt(v)}"
                                                for k, v in figures.items()))
            if r.get("missing"):
                echo(f"    missing: {', '.join(r['missing'])}")
    echo("  (rules that passed are not stored; they show once the plugin is installed)")
