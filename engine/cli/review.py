"""adieu approve, reject, revoke, pending: the independent review of
offboarding cases (engine/cases.py, engine/reviewing.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from ..explain import fmt
from ..names import owners_on_record
from ..reviewing import approval_due, pending, review, review_warnings, revoke
from ..safe_text import echo
from .common import RUN_ID, customer_argument, db_option, json_option, opened_store, parse_date


def _reviewer_options(func: Any) -> Any:
    """--by, --by-id and --no-owner-on-record, the same on approve, reject and revoke."""
    func = click.option(
        "--no-owner-on-record", "no_owner", is_flag=True,
        help="The source gives this customer no account owner (neither name nor id; "
             "a placeholder such as N/A, -, none or TBD names nobody), so "
             "the reviewer cannot be checked against one: review anyway. Recorded in the "
             "audit trail; refused when an owner is on record.")(func)
    func = click.option(
        "--by-id", "by_id", default=None, metavar="ID",
        help="Your user id in the source system (Salesforce user id, HubSpot owner id). "
             "Required when the source gives the owner's id; refused if it is the "
             "owner's.")(func)
    func = click.option("--by", required=True, metavar="NAME",
                        help="The reviewer (not the account owner: names compare ignoring "
                             "case, accents, spacing, \"Last, First\" order, titles, "
                             "suffixes, departments and e-mail domains, look-alike "
                             "letters read as Latin; a name whose words are all among "
                             "the owner's, or the other way round, is the owner; see "
                             "the ops guide).")(func)
    return func


def register(cli: click.Group) -> None:
    def verdict_command(name: str, verdict: str, doc: str) -> None:
        @cli.command(name, help=doc)
        @customer_argument
        @click.option("--run", "run_id", type=RUN_ID, default=None, metavar="N",
                      help="A run that proposed the case (optional; checked against the "
                           "case).")
        @_reviewer_options
        @click.option("--note", default=None, help="A note for the record.")
        @click.option("--on", "on", metavar="YYYY-MM-DD", callback=parse_date, default=None,
                      help="The day the review was made, when it is recorded later "
                           "(default: today). Not after today, not before the as-of date "
                           "of the run reviewed. The policy's notice counts from it; the "
                           "audit entry keeps it and the real time of recording. A date "
                           "that had passed by the time of recording is warned of.")
        @db_option
        def command(customer_id: str, run_id: int | None, by: str, by_id: str | None,
                    no_owner: bool, note: str | None, on: dt.date | None,
                    db: str | None) -> None:
            with opened_store(db) as store:
                case = review(store, customer_id, run_id, verdict, by, note, by_id, no_owner,
                              on=on)
                due = approval_due(store, case)
            for warning in review_warnings(case, case["reviewed_at"][:10], due):
                echo(f"warning: {warning}", err=True)
            day = "" if case["reviewed_on"] == case["reviewed_at"][:10] else \
                f" on {case['reviewed_on']}"
            echo(f"{customer_id} (case {case['id']}, run {case['review_run']}): offboarding "
                 f"{verdict} by {by}{day}, effective {case['effective_date']}"
                 if verdict == "approved" else
                 f"{customer_id} (case {case['id']}, run {case['review_run']}): offboarding "
                 f"{verdict} by {by}{day}")

    verdict_command("approve", "approved",
                    "Approve CUSTOMER_ID's open offboarding case. The reviewer may not be "
                    "the account owner (in any run of the case); a case is approved once, "
                    "and keeps its effective date in later runs (a date that leaves less "
                    "than the policy's notice from the approval is set again by the next "
                    "run). Written to the audit trail.")
    verdict_command("reject", "rejected",
                    "Reject CUSTOMER_ID's open offboarding case (the customer stays). The "
                    "customer is not proposed again for the policy's timing.rejection_days "
                    "unless the facts worsen: a strike of a rule that did not fire in the run "
                    "the reviewer saw, or an offboard rule that did not fire then. The "
                    "reviewer may not be the account owner; written to the audit trail.")

    @cli.command("revoke")
    @customer_argument
    @_reviewer_options
    @click.option("--reason", required=True, help="Why the approval is revoked.")
    @db_option
    def revoke_cmd(customer_id: str, by: str, by_id: str | None, no_owner: bool, reason: str,
                   db: str | None) -> None:
        """Revoke the approval of CUSTOMER_ID's offboarding case: the case is
        proposed again and waits for review (the approval stays in the
        record). The one who revokes may not be the account owner; written
        to the audit trail."""
        with opened_store(db) as store:
            case = revoke(store, customer_id, by, reason, by_id, no_owner)
        echo(f"{customer_id} (case {case['id']}): approval by {case['reviewer']} revoked by "
             f"{by}; the case waits for review again")

    @cli.command("pending")
    @click.option("--run", "run_id", type=RUN_ID, default=None, metavar="N",
                  help="Only the cases run N proposed (default: every case that waits).")
    @db_option
    @json_option
    def pending_cmd(run_id: int | None, db: str | None, as_json: bool) -> None:
        """Offboarding cases waiting for review, one per customer, with the
        figures of the latest run that proposed each (--run N: only cases
        that run proposed)."""
        with opened_store(db) as store:
            rows = pending(store, run_id)
        if as_json:
            click.echo(json.dumps([{
                "case_id": r["case_id"], "run_id": r["run_id"], "opened_run": r["opened_run"],
                "opened_as_of": r["opened_as_of"], "customer_id": r["customer_id"],
                "owner": (r["facts"] or {}).get("owner"),
                "owner_id": (r["facts"] or {}).get("owner_id"), "severity": r["severity"],
                "strikes": r["strikes"], "effective_date": r["case_effective_date"],
                "reasons": r["reasons"], "referrals": r["referrals"],
                "figures": {f["rule"]: f["figures"] for f in r["fired"]}} for r in rows],
                indent=2))
            return
        if not rows:
            echo("nothing waits for review")
            return
        for r in rows:
            facts = r["facts"] or {}
            names, ids = owners_on_record(facts)  # placeholders ('N/A') name nobody
            owner = " / ".join(names or ids) or "no owner on record"
            echo(f"{r['customer_id']}  case {r['case_id']}  run {r['run_id']}  "
                 f"[{r['severity']}]  {r['strikes']} strikes  effective "
                 f"{r['case_effective_date']}  owner: {owner}")
            for f in r["fired"]:
                figures = ", ".join(f"{k}={fmt(v)}" for k, v in f["figures"].items())
                echo(f"    - {f['rule']}: {f['explanation']}  [{figures}]")
