"""adieu approve, reject, pending: the independent review of offboardings."""

from __future__ import annotations

import json

import click

from ..actions import pending, review
from ..explain import fmt
from ..safe_text import echo
from .common import customer_argument, db_option, json_option, opened_store, run_option


def register(cli: click.Group) -> None:
    def verdict_command(name: str, verdict: str, doc: str) -> None:
        @cli.command(name, help=doc)
        @customer_argument
        @click.option("--run", "run_id", type=int, required=True, metavar="N",
                      help="The run whose decision is reviewed.")
        @click.option("--by", required=True, help="The reviewer (not the account owner).")
        @click.option("--note", default=None, help="A note for the record.")
        @db_option
        def command(customer_id: str, run_id: int, by: str, note: str | None,
                    db: str | None) -> None:
            with opened_store(db) as store:
                review(store, customer_id, run_id, verdict, by, note)
            echo(f"{customer_id} (run {run_id}): offboarding {verdict} by {by}")

    verdict_command("approve", "approved",
                    "Approve CUSTOMER_ID's offboarding in run N. The reviewer may not be "
                    "the account owner; the approval is written to the audit trail.")
    verdict_command("reject", "rejected",
                    "Reject CUSTOMER_ID's offboarding in run N (the customer stays). The "
                    "reviewer may not be the account owner; written to the audit trail.")

    @cli.command("pending")
    @run_option
    @db_option
    @json_option
    def pending_cmd(run_id: int | None, db: str | None, as_json: bool) -> None:
        """Offboard decisions waiting for review, with their figures."""
        with opened_store(db) as store:
            rows = pending(store, run_id)
        if as_json:
            click.echo(json.dumps([{
                "run_id": r["run_id"], "customer_id": r["customer_id"],
                "owner": (r["facts"] or {}).get("owner"), "severity": r["severity"],
                "strikes": r["strikes"], "effective_date": r["effective_date"],
                "reasons": r["reasons"], "referrals": r["referrals"],
                "figures": {f["rule"]: f["figures"] for f in r["fired"]}} for r in rows],
                indent=2))
            return
        if not rows:
            echo("nothing waits for review")
            return
        for r in rows:
            owner = (r["facts"] or {}).get("owner") or "no owner on record"
            echo(f"{r['customer_id']}  run {r['run_id']}  [{r['severity']}]  "
                 f"{r['strikes']} strikes  effective {r['effective_date']}  "
                 f"owner: {owner}")
            for f in r["fired"]:
                figures = ", ".join(f"{k}={fmt(v)}" for k, v in f["figures"].items())
                echo(f"    - {f['rule']}: {f['explanation']}  [{figures}]")
