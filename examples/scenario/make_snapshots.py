"""Write twelve monthly snapshots of a small customer base for the year-long
scenario of examples/scenario/ (docs/ops-guide.md, "A year of runs").

# Regenerate: python3 examples/scenario/make_snapshots.py
# (writes examples/scenario/snapshots/2026-01-01.csv ... 2026-12-01.csv;
#  pass another directory as the first argument to write there instead)

Every snapshot is what the data warehouse reports on the first day of the
month: the canonical facts (schemas/customer.schema.json) of every current
customer, figures over the last 12 months. Fixed data, no randomness: the
output is identical on every run.

The stories, under examples/scenario/scenario.yaml (strike window 180 days,
cool-down 45 days, ladder 1 / 2 / 3):

  CUST-A  Alder   late payments in January and again in February (31 days
                  later: within the cool-down, the same strike), cost above
                  revenue in April (a second strike), late payments again in
                  June (151 days after the January strike: a new one). Climbs
                  warn -> final_notice -> offboard; the offboarding (60 days'
                  notice: 2026-07-31) is approved in June. In July the
                  January strike has expired but cost is above revenue again
                  (a new strike): still offboard, and the approved case keeps
                  its date, 2026-07-31. The August run, after that date,
                  makes the offboarding effective; Alder is gone from the
                  September snapshot on.
  CUST-B  Birch   late payments in February only. The strike counts until it
                  expires on 2026-07-31 (180 days); from August Birch is back
                  to keep.
  CUST-C  Cedar   cost above revenue from January to September, shielded by
                  the policy exemption cedar-launch-reference until it
                  expires on 2026-06-15; then strikes in July and September
                  (August is within the cool-down): warn, then final_notice.
  CUST-D  Dogwood late payments every month from August: strikes in August,
                  October and December (September and November fall within
                  the cool-down of the strike before): warn, final_notice,
                  offboard in December, waiting for a reviewer's approval.
  CUST-E  Elm     cost above revenue all year, shielded by a registry
                  exemption (`adieu exempt`) until 2027-01-01: exempt.
  CUST-F  Fir     asks for longer payment terms from May to August: watch.
  CUST-G  Gorse   late payments in March caused by our own invoicing error:
                  the strike is pardoned, Gorse is back to keep in April.
  CUST-H  Hazel   no problems: keep all year.
  CUST-I  Ivy     late payments in February and March (one strike, the
                  second within the cool-down), cost above revenue in April
                  and May (a second strike): final_notice. After the May run
                  the CEO records a registry exemption for every rule
                  (`adieu exempt CUST-I --all ... --until 2026-08-15`): from
                  June to August Ivy is exempt, its strikes set aside (not
                  counted, not deleted). The exemption ends on 2026-08-15;
                  in September the April strike is still inside its window
                  (until 2026-09-28) and counts again (warn), the February
                  one expired on 2026-07-31 and does not. Keep from October.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

MONTHS = [dt.date(2026, m, 1) for m in range(1, 13)]

COLUMNS = [
    "customer_id", "name", "owner", "tier", "industry", "channel", "size", "country",
    "revenue_12m", "hours_account_mgmt_12m", "hours_support_12m", "hours_accounting_12m",
    "hours_marketing_12m", "late_payments_12m", "payment_terms_days",
    "requested_terms_days", "reference_account", "contract_end", "customer_since",
]

# name, owner, tier, industry, channel, size, country, revenue_12m, contract_end,
# customer_since
CUSTOMERS = {
    "CUST-A": ("Alder Retail Ltd", "Ana Ruiz", "standard", "retail", "direct", "small",
               "GB", 42000, "2027-03-31", "2021-03-01"),
    "CUST-B": ("Birch Logistics GmbH", "Ben Okoye", "standard", "logistics", "partner",
               "mid", "DE", 88000, "2027-09-30", "2019-07-15"),
    "CUST-C": ("Cedar Health SA", "Chloe Martin", "premium", "healthcare", "direct", "mid",
               "FR", 61000, "2027-12-31", "2025-11-01"),
    "CUST-D": ("Dogwood Foods Inc.", "David Kim", "standard", "hospitality", "direct",
               "small", "US", 37000, "2027-02-26", "2022-05-10"),
    "CUST-E": ("Elm Studio BV", "Elif Demir", "premium", "marketing", "direct", "small",
               "NL", 24000, "2027-06-30", "2024-01-20"),
    "CUST-F": ("Fir Hospitality AB", "Farah Haddad", "standard", "hospitality", "partner",
               "mid", "SE", 73000, "2028-03-31", "2020-10-05"),
    "CUST-G": ("Gorse Manufacturing Oy", "Gustav Berg", "standard", "manufacturing",
               "direct", "large", "FI", 156000, "2027-10-31", "2018-02-12"),
    "CUST-H": ("Hazel Partners LLP", "Hannah Novak", "standard", "professional services",
               "direct", "small", "IE", 29000, "2028-01-31", "2023-09-01"),
    "CUST-I": ("Ivy Events SL", "Ines Vidal", "premium", "events", "direct", "mid", "ES",
               51000, "2027-11-30", "2021-06-01"),
}

# Which months (1-12) each problem shows in the data.
LATE = {"CUST-A": {1, 2, 6}, "CUST-B": {2}, "CUST-D": {8, 9, 10, 11, 12}, "CUST-G": {3},
        "CUST-I": {2, 3}}
COSTLY = {"CUST-A": {4, 7, 8}, "CUST-C": set(range(1, 10)), "CUST-E": set(range(1, 13)),
          "CUST-I": {4, 5}}
LONGER_TERMS = {"CUST-F": {5, 6, 7, 8}}
# Alder's offboarding took effect on 2026-07-31: it is not a customer any more.
LAST_MONTH = {"CUST-A": 8}


def row(cid: str, month: int) -> dict[str, object]:
    (name, owner, tier, industry, channel, size, country, revenue, contract_end,
     since) = CUSTOMERS[cid]
    # Ordinary staff time costs well under a tenth of revenue at 60 an hour,
    # a little more every month. A costly month has support hours that take
    # the cost to serve above revenue.
    hours = [round(revenue / 2400) + month, round(revenue / 1800) + 2 * month,
             round(revenue / 9000), round(revenue / 12000)]
    if month in COSTLY.get(cid, ()):
        hours[1] = round(revenue / 60 * 1.1) - hours[0] - hours[2] - hours[3] + 5 * month
    late = 3 + (month % 2) if month in LATE.get(cid, ()) else month % 2
    terms = 30 if size != "large" else 45
    requested = terms + 30 if month in LONGER_TERMS.get(cid, ()) else terms
    return {
        "customer_id": cid, "name": name, "owner": owner, "tier": tier,
        "industry": industry, "channel": channel, "size": size, "country": country,
        "revenue_12m": revenue + 250 * month, "hours_account_mgmt_12m": hours[0],
        "hours_support_12m": hours[1], "hours_accounting_12m": hours[2],
        "hours_marketing_12m": hours[3], "late_payments_12m": late,
        "payment_terms_days": terms, "requested_terms_days": requested,
        "reference_account": "true" if cid in ("CUST-C", "CUST-E") else "false",
        "contract_end": contract_end, "customer_since": since,
    }


def snapshot(day: dt.date) -> list[dict[str, object]]:
    return [row(cid, day.month) for cid in CUSTOMERS
            if day.month <= LAST_MONTH.get(cid, 12)]


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "snapshots"
    out.mkdir(parents=True, exist_ok=True)
    for day in MONTHS:
        with open(out / f"{day.isoformat()}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(snapshot(day))


if __name__ == "__main__":
    main(sys.argv)
