"""adieu explain."""

from __future__ import annotations

import click

from .. import jsontext
from ..errors import PolicyErrors
from ..explain import condition_lines, explain_stored, fmt
from ..ledger import memory_from_json
from ..plugin_record import plugin_gone, policy_text_error
from ..plugins import registry
from ..policy import compile_policy
from ..reviewing import case_json, run_case
from ..safe_text import echo, json_text
from ..store import get_decision, get_run
from .common import RUN_ID, customer_argument, db_option, json_option, opened_store
from .explain_stored import gone_note, show_stored, strike_and_case_lines


def register(cli: click.Group) -> None:
    @cli.command()
    @customer_argument
    @click.option("--run", "run_id", type=RUN_ID, default=None, metavar="N",
                  help="Run id (default: the latest run by as-of date that decided "
                       "CUSTOMER_ID; a --backfill run of the past is not the latest).")
    @db_option
    @json_option
    def explain(customer_id: str, run_id: int | None, db: str | None, as_json: bool) -> None:
        """Show CUSTOMER_ID's decision and the figures behind it.

        For every rule, each condition with the actual values, the threshold
        (a param or a population figure such as "p90 over 2,000 customers"),
        true/false/unknown and how far the value is from flipping it. Uses
        the policy text, facts and population figures stored with the run.
        Strikes set aside while an exemption applies are listed with the
        exemption that sets them aside.
        """
        with opened_store(db) as store:
            run = get_run(store, run_id, customer_id)
            row = get_decision(store, run["id"], customer_id)
            verdict = store.execute("select verdict, reviewer, note from reviews where "
                                    "run_id = ? and customer_id = ?",
                                    [run["id"], customer_id]).fetchone()
            case = run_case(store, run["id"], customer_id)
        reg = registry()
        try:
            policy = compile_policy(run["policy_text"], f"run {run['id']} policy",
                                    reg.functions)
        except PolicyErrors as exc:  # a plugin function the run used is gone
            if not plugin_gone(run, reg, exc):
                raise policy_text_error(run, exc) from None
            show_stored(run, row, verdict, gone_note(run, reg, exc), as_json, case)
            return
        memory = memory_from_json(row.get("memory"), customer_id)
        result = explain_stored(policy, run, row["facts"], jsontext.loads(run["population"]),
                                memory)
        decision = result["decision"]
        if as_json:
            click.echo(json_text({
                "run_id": run["id"], "as_of": run["as_of"], "policy_name": run["policy_name"],
                "policy_version": run["policy_version"], "stored_outcome": row["outcome"],
                "decision": decision.to_dict(), "facts": row["facts"],
                "provenance": row.get("provenance"),
                "review": None if verdict is None else {
                    "verdict": verdict[0], "reviewer": verdict[1], "note": verdict[2]},
                "case": case_json(case),
                "derived": result["derived"], "rules": result["rules"]}, indent=2))
            return
        echo(f"{customer_id}: {decision.outcome.upper()}  (run {run['id']}, policy "
             f"{run['policy_name']!r} v{run['policy_version']}, as of {run['as_of']})")
        if decision.outcome != decision.base_outcome:
            echo(f"  rules alone say: {decision.base_outcome}")
        echo(f"  active strikes: {decision.strikes}"
             + (f" (new this run: {', '.join(decision.new_strikes)})"
                if decision.new_strikes else ""))
        strike_and_case_lines(decision.active_strikes, decision.set_aside_strikes, case,
                              verdict)
        if decision.effective_date:
            echo(f"  effective {decision.effective_date} ({decision.timing_basis}), "
                 f"phase-out from {decision.phase_out_start}")
        if decision.referrals:
            echo(f"  referrals: {', '.join(decision.referrals)}")
        for note in decision.notes:
            echo(f"  note: {note}")
        for hold in decision.holds:
            echo(f"  hold {hold['id']}: {hold['reason']}")
        if decision.missing:
            echo(f"  missing facts: {', '.join(decision.missing)}")
        if result["derived"]:
            echo("")
            echo("Derived facts:")
            for name, value in result["derived"].items():
                echo(f"  {name} = {fmt(value)}")
        echo("")
        echo("Rules:")
        for rule in result["rules"]:
            status = rule["status"].upper()
            if rule["shielded_by"]:
                status += f" (would have fired; shielded by exemption {rule['shielded_by']})"
            echo(f"  {rule['rule']} [{rule['action']}, {rule['severity']}]: {status}")
            for s in rule["set_aside_strikes"]:
                echo(f"    strike of {s['recorded_on']} set aside by exemption "
                     f"{s['exemption']}")
            fired = next((r for r in decision.fired + decision.shielded
                          if r.rule == rule["rule"]), None)
            if fired is not None and fired.explanation:
                echo(f"    \"{fired.explanation}\"")
            for line in condition_lines(rule["condition"]):
                echo(line)
