"""adieu strikes, exempt, exemptions, history: what adieu remembers."""

from __future__ import annotations

import datetime as dt
import json

import click

from ..actions import add_exemption, history, pardon, require_customer
from ..reviewing import case_line
from ..safe_text import echo
from ..stored_values import check_exemption, stored_list
from ..strike_status import strike_rows
from ..typed_names import split_names
from .common import customer_argument, db_option, json_option, opened_store, parse_date


class DefaultGroup(click.Group):
    """A group that runs its default sub-command when the first argument is
    not a sub-command: `adieu strikes CUST-1` means `adieu strikes show CUST-1`."""

    default_command = "show"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def register(cli: click.Group) -> None:
    @cli.group(cls=DefaultGroup)
    def strikes() -> None:
        """The strike ledger: `adieu strikes CUSTOMER` shows it;
        `adieu strikes pardon CUSTOMER RULE --by NAME --reason TEXT` removes one."""

    @strikes.command("show")
    @customer_argument
    @db_option
    @json_option
    @click.option("--as-of", "as_of", metavar="YYYY-MM-DD", callback=parse_date, default=None,
                  help="Which strikes count as active (default: today).")
    def show(customer_id: str, db: str | None, as_json: bool, as_of: dt.date | None) -> None:
        """Show CUSTOMER_ID's strikes: recorded, expiring, pardoned, superseded,
        and the active strikes an exemption sets aside on the date ("active,
        set aside by registry-2", as the decision of that date counts them;
        --json: set_aside_by). A customer the database does not know is an
        error (exit 2)."""
        day = as_of or dt.date.today()
        with opened_store(db) as store:
            require_customer(store, customer_id)
            rows = strike_rows(store, customer_id, day)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            echo(f"{customer_id} has no strikes")
            return
        active = [r for r in rows if r["status"] == "active"]
        aside = sum(1 for r in active if r["set_aside_by"])
        echo(f"{customer_id}: {len(active)} active strike(s) as of {day.isoformat()}"
             + (f", {aside} set aside by an exemption ({len(active) - aside} counted)"
                if aside else ""))
        for r in rows:
            status = r["status"] + (f", set aside by {r['set_aside_by']}"
                                    if r["set_aside_by"] else "")
            line = (f"  #{r['id']} {r['rule']}: recorded {r['recorded_on']} (run {r['run_id']}),"
                    f" expires {r['expires_on']}: {status}")
            if r["pardoned_at"]:
                line += f" by {r['pardoned_by']} ({r['pardon_reason']})"
            echo(line)

    @strikes.command("pardon")
    @customer_argument
    @click.argument("rule")
    @click.option("--by", required=True, help="Who pardons (recorded in the audit trail).")
    @click.option("--reason", required=True, help="Why.")
    @db_option
    def pardon_cmd(customer_id: str, rule: str, by: str, reason: str, db: str | None) -> None:
        """Remove CUSTOMER_ID's latest active strike for RULE, with an audit entry."""
        with opened_store(db) as store:
            done = pardon(store, customer_id, rule, by, reason)
        echo(f"pardoned strike #{done['id']} ({rule}, recorded {done['recorded_on']}) "
             f"of {customer_id}")

    @cli.command()
    @customer_argument
    @click.option("--rules", default=None, metavar="R1,R2",
                  help="Rule ids to shield (comma-separated; at least one).")
    @click.option("--all", "all_rules", is_flag=True, help="Shield every rule.")
    @click.option("--reason", required=True, help="Why (e.g. reference account).")
    @click.option("--approver", required=True, help="Who approved the exemption.")
    @click.option("--until", "until", required=True, metavar="YYYY-MM-DD", callback=parse_date,
                  help="The exemption stops applying on this date; it must be after the "
                       "latest run's as-of date.")
    @click.option("--new-customer", "new_customer", is_flag=True,
                  help="The customer is in no run yet (exempt it before its first run); "
                       "without it an id no run has decided is refused.")
    @db_option
    def exempt(customer_id: str, rules: str | None, all_rules: bool, reason: str,
               approver: str, until: dt.date, new_customer: bool, db: str | None) -> None:
        """Record an exemption for CUSTOMER_ID in the database (besides the
        policy's own exemptions). It applies to every later evaluation until
        its date, and is written to the audit trail. Refused (exit 2): --rules
        naming no rule or a rule the latest run's policy lacks, --until on or
        before the latest run's as-of date, a customer no run has decided
        (unless --new-customer). A --until not after today is a warning."""
        if (rules is not None) == all_rules:
            raise click.UsageError("give exactly one of --rules R1,R2 and --all")
        names = None if all_rules else split_names(rules or "", "--rules", "rule")
        with opened_store(db, create=True) as store:
            exemption_id = add_exemption(store, customer_id, names, reason, approver, until,
                                         new_customer)
        what = "all rules" if names is None else ", ".join(names)
        echo(f"exemption registry-{exemption_id} recorded for {customer_id}: {what} "
             f"until {until.isoformat()} (approved by {approver})")
        if until <= dt.date.today():
            echo(f"warning: --until {until.isoformat()} is not after today "
                 f"({dt.date.today().isoformat()}): the exemption applies only to runs as of "
                 "dates before it", err=True)

    @cli.command()
    @click.option("--expired", is_flag=True, help="List expired exemptions instead.")
    @click.option("--as-of", "as_of", metavar="YYYY-MM-DD", callback=parse_date, default=None,
                  help="The date expiry is judged on (default: today).")
    @db_option
    @json_option
    def exemptions(expired: bool, as_of: dt.date | None, db: str | None,
                   as_json: bool) -> None:
        """List the exemptions recorded with `adieu exempt` (active ones by default)."""
        day = (as_of or dt.date.today()).isoformat()
        with opened_store(db) as store:
            # every row checked (a damaged expires or rules is a StoreError
            # naming the row), then filtered on its expiry
            rows = [check_exemption(dict(r)) for r in store.query(
                "select * from exemptions order by customer_id, id")]
        rows = [r for r in rows if (r["expires"] <= day if expired else r["expires"] > day)]
        for row in rows:
            row["rules"] = stored_list("exemptions", row["id"], "rules", row["rules"]) \
                if row["rules"] else None  # NULL in the table: every rule
            row["id"] = f"registry-{row['id']}"
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            echo(f"no {'expired' if expired else 'active'} exemptions as of {day}")
        for row in rows:
            rules = "all" if row["rules"] is None else ", ".join(row["rules"])
            echo(f"{row['id']}  {row['customer_id']}  {rules}  until {row['expires']}  "
                 f"approved by {row['approver']}: {row['reason']}")

    @cli.command("history")
    @customer_argument
    @db_option
    @json_option
    def history_cmd(customer_id: str, db: str | None, as_json: bool) -> None:
        """CUSTOMER_ID's timeline across runs: outcome per run, strikes gained,
        and why strikes stopped counting (expired, pardoned, superseded by a
        run of its date, set aside by an exemption), rules that could not be
        checked, exemptions (those recorded with `adieu exempt` too, also for a
        customer without decisions) and the rules they shield, offboarding
        cases (state, dates, reviewer, each change), and what changed between
        runs. A customer the database does
        not know is an error (exit 2)."""
        with opened_store(db) as store:
            data = history(store, customer_id)
        if as_json:
            click.echo(json.dumps(data, indent=2))
            return
        if not data["runs"]:
            echo(f"{customer_id} has no decisions in the database")
        for e in data["runs"]:
            echo(f"{e['as_of']}  run {e['run_id']}  {e['outcome']:<12} "
                 f"strikes {e['strikes']}")
            shielded = [f"{s['rule']} by {s['by']}" for s in e["shielded"]]
            for label, items in (("new strikes", e["new_strikes"]),
                                 ("same strike (cool-down)", e["repeat_strikes"]),
                                 ("no new strike", e["pardons_held"]),
                                 ("strikes set aside", e["set_aside_strikes"]),
                                 ("expired strikes", e["expired_strikes"]),
                                 ("pardoned strikes", e["pardoned_strikes"]),
                                 ("superseded strikes", e["superseded_strikes"]),
                                 ("strikes recorded after this run (by a backfill)",
                                  e["later_strikes"]),
                                 ("strikes not counted (policy changed)",
                                  e["uncounted_strikes"]),
                                 ("strikes counting again", e["strikes_counting_again"]),
                                 ("exempted by", e["exemptions"]),
                                 ("shielded", shielded),
                                 ("expired exemptions", e["expired_exemptions"]),
                                 ("held by", e["holds"]), ("changes", e["changes"])):
                if items:
                    echo(f"    {label}: {'; '.join(items)}")
            if e["review"]:
                echo(f"    {e['review']['verdict']} by {e['review']['reviewer']}"
                     + (f": {e['review']['note']}" if e["review"]["note"] else ""))
        for ex in data["registry_exemptions"]:
            rules = ", ".join(ex["rules"]) if ex["rules"] else "all rules"
            echo(f"exemption registry-{ex['id']}: {rules} until {ex['expires']} "
                 f"(approved by {ex['approver']}: {ex['reason']})")
        for case in data["cases"]:
            echo(case_line(case))
            for ev in case["events"]:
                echo(f"    {ev['at']}  {ev['event']}" + (f" (run {ev['run_id']})"
                                                      if ev["run_id"] else "")
                     + (f" by {ev['by']}" if ev["by"] else "")
                     + (f" on {ev['on']}" if ev["on"] and ev["on"] != ev["at"][:10] else "")
                     + (f": {ev['reason']}" if ev["reason"] else ""))
        pardoned = [s for s in data["strikes"] if s["pardoned_at"]]
        for s in pardoned:
            echo(f"pardoned: {s['rule']} of {s['recorded_on']} by {s['pardoned_by']} "
                 f"({s['pardon_reason']})")
