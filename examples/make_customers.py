"""Generate examples/customers.csv: ~400 synthetic customers for adieu's demo.

# Regenerate: python3 examples/make_customers.py > examples/customers.csv

The data is made up but shaped like a real customer base: revenue is
log-normal (many small accounts, a few large ones), staff hours grow with
the account but less than in proportion, most customers are healthy, and a
few have the problems policies/default.yaml looks for. Evaluated with that
policy at as-of date 2026-11-01, the customers reach every outcome (keep,
watch, warn, final_notice, offboard, exempt, held), some have missing facts
(empty cells), and a few rows are deliberately bad so the run's rejects can
be shown. Hand-written stories are attached to fixed ids; the README uses
CUST-0007, an offboard candidate with several fired rules.

Columns are the canonical facts of schemas/customer.schema.json. An empty
cell is a missing fact. Dates are YYYY-MM-DD, booleans true/false, numbers
plain (no thousands separators).

The deliberately bad rows (each should be set aside as a reject, never
crash the run and never become 0):
  CUST-0401  revenue_12m is "12k" (not a number)
  CUST-0402  contract_end is "2026-13-45" (not a date)
  CUST-0123  appears twice (duplicated customer_id)
  (empty)    a row without customer_id
  CUST-0403  bad_reputation is "maybe" (not a boolean)
  CUST-0404  hours_support_12m is negative

Standard library only; a fixed seed makes the output identical on every run.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import sys

SEED = 20261101
AS_OF = dt.date(2026, 11, 1)
N_CUSTOMERS = 400

# In the order of schemas/customer.schema.json.
COLUMNS = [
    "customer_id", "name", "owner", "tier", "industry", "channel", "size", "country",
    "revenue_12m",
    "hours_account_mgmt_12m", "hours_support_12m", "hours_accounting_12m",
    "hours_marketing_12m",
    "returns_cost_12m", "refunds_12m", "discounts_12m", "acquisition_cost_unrecovered",
    "late_payments_12m", "payment_terms_days", "requested_terms_days",
    "outstanding_balance", "orders_12m", "returns_12m",
    "abuse_incidents_12m", "escalations_12m", "staff_turnover_incidents",
    "complaint_incidents_12m", "open_our_fault_incidents",
    "bad_reputation", "outgrown", "reference_account", "early_adopter",
    "contract_end", "customer_since", "last_order_date",
]

OWNERS = ["Ana Ruiz", "Ben Okoye", "Chloe Martin", "David Kim", "Elif Demir",
          "Farah Haddad", "Gustav Berg", "Hannah Novak"]
INDUSTRIES = ["retail", "manufacturing", "healthcare", "logistics", "hospitality",
              "software", "education", "construction", "finance", "media"]
INDUSTRY_WORDS = {
    "retail": ["Retail", "Stores", "Outlet", "Market"],
    "manufacturing": ["Manufacturing", "Works", "Industries", "Fabrication"],
    "healthcare": ["Health", "Clinics", "Care", "Medical"],
    "logistics": ["Logistics", "Freight", "Transport", "Shipping"],
    "hospitality": ["Hotels", "Hospitality", "Catering", "Restaurants"],
    "software": ["Software", "Systems", "Digital", "Labs"],
    "education": ["Academy", "Learning", "Schools", "Education"],
    "construction": ["Construction", "Builders", "Building", "Engineering"],
    "finance": ["Capital", "Finance", "Advisors", "Insurance"],
    "media": ["Media", "Studios", "Publishing", "Productions"],
}
NAME_WORDS = ["Alder", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor",
              "Iris", "Juniper", "Kestrel", "Linden", "Meadow", "Nimbus", "Onyx", "Pioneer",
              "Quarry", "Riverside", "Summit", "Tidewater", "Umber", "Vantage", "Willow",
              "Yarrow", "Zenith", "Aurora", "Beacon", "Cedar", "Driftwood", "Evergreen",
              "Falcon", "Golden", "Highland", "Ironwood", "Lakeshore", "Northwind"]
SUFFIXES = {"DE": "GmbH", "AT": "GmbH", "FR": "SARL", "NL": "B.V.", "BE": "NV", "GB": "Ltd",
            "US": "Inc.", "ES": "S.L.", "IT": "S.r.l.", "SE": "AB", "DK": "ApS", "PL": "sp. z o.o."}
COUNTRIES = ["DE", "DE", "DE", "FR", "FR", "NL", "GB", "GB", "US", "US", "ES", "IT", "SE",
             "PL", "BE", "AT", "DK"]
CHANNELS = ["direct", "direct", "partner", "online", "online"]

# Share of an account's staff hours per department, before noise.
DEPARTMENT_SHARE = {
    "hours_account_mgmt_12m": 0.30,
    "hours_support_12m": 0.45,
    "hours_accounting_12m": 0.12,
    "hours_marketing_12m": 0.13,
}


def size_band(revenue: float) -> str:
    if revenue < 25_000:
        return "small"
    if revenue < 200_000:
        return "mid"
    return "enterprise"


def days_before(days: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days)


def days_after(days: int) -> dt.date:
    return AS_OF + dt.timedelta(days=days)


def set_hours(c: dict, rng: random.Random, total: float) -> None:
    """Split `total` staff hours over the four departments, with some noise."""
    weights = {k: share * rng.uniform(0.6, 1.4) for k, share in DEPARTMENT_SHARE.items()}
    scale = total / sum(weights.values())
    for k, w in weights.items():
        c[k] = round(w * scale, 1)


def healthy_customer(rng: random.Random, number: int, used_names: set[str]) -> dict:
    """One customer drawn from the ordinary, mostly healthy population."""
    industry = rng.choice(INDUSTRIES)
    country = rng.choice(COUNTRIES)
    while True:
        name = (f"{rng.choice(NAME_WORDS)} {rng.choice(INDUSTRY_WORDS[industry])} "
                f"{SUFFIXES[country]}")
        if name not in used_names:
            used_names.add(name)
            break

    revenue = max(800.0, rng.lognormvariate(math.log(35_000), 1.05))
    size = size_band(revenue)
    tier_roll = rng.random()
    if size == "enterprise" and tier_roll < 0.25:
        tier = "strategic"
    elif tier_roll < (0.45 if size == "enterprise" else 0.2):
        tier = "premium"
    else:
        tier = "standard"

    since = days_before(rng.randint(60, 4200))
    tenure_days = (AS_OF - since).days

    c: dict = {
        "customer_id": f"CUST-{number:04d}",
        "name": name,
        "owner": rng.choice(OWNERS),
        "tier": tier,
        "industry": industry,
        "channel": rng.choice(CHANNELS),
        "size": size,
        "country": country,
        "revenue_12m": round(revenue, 2),
    }

    # Staff time grows with the account, but less than in proportion:
    # small accounts cost relatively more of our time.
    hours = 5.5 * (revenue / 1000) ** 0.85 * rng.lognormvariate(0, 0.3)
    set_hours(c, rng, hours)

    return_share = rng.uniform(0.005, 0.06)
    avg_order = rng.uniform(150, 2500)
    orders = max(1, round(revenue / avg_order))
    returns = sum(1 for _ in range(orders) if rng.random() < return_share)
    c["orders_12m"] = orders
    c["returns_12m"] = returns
    c["returns_cost_12m"] = round(returns * avg_order * rng.uniform(0.2, 0.5), 2)
    c["refunds_12m"] = round(revenue * rng.uniform(0, 0.015), 2) if rng.random() < 0.4 else 0
    c["discounts_12m"] = round(revenue * rng.uniform(0, 0.06), 2)
    if tenure_days < 730:
        c["acquisition_cost_unrecovered"] = round(
            rng.uniform(0.05, 0.3) * revenue * (730 - tenure_days) / 730, 2)
    else:
        c["acquisition_cost_unrecovered"] = 0

    c["late_payments_12m"] = rng.choices([0, 1, 2, 3, 4], weights=[66, 20, 10, 3, 1])[0]
    terms = rng.choice([14, 30, 30, 30, 45, 60])
    c["payment_terms_days"] = terms
    c["requested_terms_days"] = terms + (rng.choice([15, 30]) if rng.random() < 0.015 else 0)
    c["outstanding_balance"] = round(revenue * rng.uniform(0, 0.15), 2)

    c["abuse_incidents_12m"] = 0
    c["escalations_12m"] = rng.choices([0, 1, 2, 3], weights=[70, 20, 8, 2])[0]
    c["staff_turnover_incidents"] = 0
    c["complaint_incidents_12m"] = rng.choices([0, 1, 2], weights=[85, 12, 3])[0]
    c["open_our_fault_incidents"] = 1 if rng.random() < 0.03 else 0

    c["bad_reputation"] = rng.random() < 0.005
    c["outgrown"] = size == "enterprise" and rng.random() < 0.02
    c["reference_account"] = size != "small" and rng.random() < 0.04
    c["early_adopter"] = rng.random() < 0.1

    c["contract_end"] = days_after(rng.randint(5, 730))
    c["customer_since"] = since
    c["last_order_date"] = days_before(rng.randint(0, min(150, tenure_days)))
    return c


# ---------------------------------------------------------------------------
# Hand-written stories, attached to fixed ids. Each function changes a
# healthy customer so the default policy reaches a chosen outcome.
# ---------------------------------------------------------------------------

def costly(c: dict, rng: random.Random, revenue: float, ratio: float,
           via: str = "hours") -> None:
    """Make serving the customer cost about `ratio` times its revenue, either
    through staff hours (via="hours") or through direct costs: deep discounts
    and acquisition cost not yet earned back (via="direct")."""
    c["revenue_12m"] = revenue
    c["size"] = size_band(revenue)
    c["refunds_12m"] = round(revenue * 0.01, 2)
    c["returns_cost_12m"] = round(revenue * 0.01, 2)
    if via == "hours":
        c["discounts_12m"] = round(revenue * 0.03, 2)
        c["acquisition_cost_unrecovered"] = 0
        direct = c["refunds_12m"] + c["discounts_12m"] + c["returns_cost_12m"]
        avg_rate = 60.0  # roughly the blended hourly rate of the default policy
        set_hours(c, rng, max(0.0, (ratio * revenue - direct) / avg_rate))
    else:
        # Ordinary staff time (about 4 hours per 1,000 of revenue); the rest
        # of the cost is discounts and unrecovered acquisition cost.
        set_hours(c, rng, revenue / 1000 * 4)
        staff = revenue / 1000 * 4 * 60
        rest = ratio * revenue - staff - c["refunds_12m"] - c["returns_cost_12m"]
        c["discounts_12m"] = round(rest * 0.35, 2)
        c["acquisition_cost_unrecovered"] = round(rest * 0.65, 2)
        c["customer_since"] = days_before(rng.randint(120, 300))
        c["last_order_date"] = days_before(rng.randint(0, 60))
    c["outstanding_balance"] = round(revenue * 0.05, 2)


def returns_heavy(c: dict, rate: float, orders: int) -> None:
    c["orders_12m"] = orders
    c["returns_12m"] = math.ceil(orders * rate)
    c["returns_cost_12m"] = round(c["revenue_12m"] * rate * 0.35, 2)


def calm(c: dict) -> None:
    """Remove the random small problems so a story is about its own signals."""
    c["late_payments_12m"] = min(c["late_payments_12m"], 1)
    c["requested_terms_days"] = c["payment_terms_days"]
    c["escalations_12m"] = min(c["escalations_12m"], 1)
    c["returns_12m"] = min(c["returns_12m"], c["orders_12m"] // 10)
    c["complaint_incidents_12m"] = 0
    c["open_our_fault_incidents"] = 0
    c["bad_reputation"] = False
    c["outgrown"] = False
    if c["tier"] == "strategic":
        c["tier"] = "premium"
    c["reference_account"] = False
    c["outstanding_balance"] = min(c["outstanding_balance"], round(c["revenue_12m"] * 0.1, 2))


def story_cust_0007(c: dict, rng: random.Random) -> None:
    # The README's example: a small retail account that costs far more than
    # it brings in, pays late, returns a lot and escalates: offboard.
    calm(c)
    c.update(name="Kestrel Outlet GmbH", owner="Chloe Martin", tier="standard",
             industry="retail", channel="online", country="DE")
    costly(c, rng, 18_400.0, 1.75)
    returns_heavy(c, 0.22, 64)
    c["late_payments_12m"] = 5
    c["payment_terms_days"] = 30
    c["requested_terms_days"] = 90
    c["outstanding_balance"] = 7_350.0
    c["escalations_12m"] = 6
    c["complaint_incidents_12m"] = 2
    c["customer_since"] = dt.date(2023, 3, 14)
    c["contract_end"] = dt.date(2026, 12, 22)  # within 90 days, but in the holidays
    c["last_order_date"] = dt.date(2026, 10, 19)


def story_offboard(c: dict, rng: random.Random) -> None:
    # Three or more strikes on the first run.
    calm(c)
    costly(c, rng, round(rng.uniform(15_000, 60_000), 2), rng.uniform(1.2, 1.6))
    c["late_payments_12m"] = rng.choice([3, 4, 6])
    c["escalations_12m"] = rng.choice([4, 5, 7])


def story_offboard_contract_end(c: dict, rng: random.Random) -> None:
    # Three strikes, and the contract ends within 90 days, after the
    # holidays: the offboarding takes effect at the contract end.
    story_offboard(c, rng)
    c["contract_end"] = dt.date(2027, 1, 22)


def story_offboard_outgrown(c: dict, rng: random.Random) -> None:
    # A large customer that needs far more than we can give: huge support
    # load, escalations, staff who asked to move. Referral to bigger vendors.
    calm(c)
    c["tier"] = "premium"
    costly(c, rng, 420_000.0, 1.3)
    c["outgrown"] = True
    c["escalations_12m"] = 9
    c["staff_turnover_incidents"] = 1
    c["contract_end"] = dt.date(2027, 6, 30)


def story_abuse(c: dict, rng: random.Random) -> None:
    calm(c)
    c["abuse_incidents_12m"] = 2
    c["complaint_incidents_12m"] = 4


def story_abuse_strategic(c: dict, rng: random.Random) -> None:
    # Strategic and a reference: the exemption shields its cost, but never
    # the abuse of staff.
    calm(c)
    c["tier"] = "strategic"
    c["reference_account"] = True
    costly(c, rng, 310_000.0, 1.15)
    c["abuse_incidents_12m"] = 1
    c["staff_turnover_incidents"] = 1


def story_final_notice(c: dict, rng: random.Random) -> None:
    # Two strikes. An account whose cost comes from staff hours trips two
    # rules at once (cost above revenue, staff time far above the base);
    # otherwise two different problems.
    calm(c)
    pair = rng.choice([("cost_hours",), ("cost_direct", "late"), ("late", "returns"),
                       ("escalations", "late"), ("returns", "escalations"),
                       ("cost_direct", "returns")])
    for problem in pair:
        if problem == "cost_hours":
            costly(c, rng, round(rng.uniform(20_000, 35_000), 2), rng.uniform(1.1, 1.25))
        elif problem == "cost_direct":
            costly(c, rng, round(rng.uniform(8_000, 30_000), 2), rng.uniform(1.1, 1.3),
                   via="direct")
        elif problem == "late":
            c["late_payments_12m"] = rng.choice([3, 4, 5])
        elif problem == "returns":
            returns_heavy(c, rng.uniform(0.18, 0.3), rng.randint(20, 80))
        else:
            c["escalations_12m"] = rng.choice([4, 5, 6])


def story_warn(c: dict, rng: random.Random) -> None:
    # One strike.
    calm(c)
    problem = rng.choice(["late", "returns", "escalations", "turnover", "cost_direct"])
    if problem == "late":
        c["late_payments_12m"] = rng.choice([3, 4])
    elif problem == "returns":
        returns_heavy(c, rng.uniform(0.17, 0.25), rng.randint(15, 60))
    elif problem == "escalations":
        c["escalations_12m"] = 4
    elif problem == "turnover":
        c["staff_turnover_incidents"] = 1
    else:
        # A new customer on deep discounts who has not yet earned back what
        # it cost to win them.
        costly(c, rng, round(rng.uniform(5_000, 20_000), 2), rng.uniform(1.05, 1.2),
               via="direct")


def story_time_sink(c: dict, rng: random.Random) -> None:
    # Pays well enough to stay above break-even, but takes far more staff
    # time than the rest of the base: the population outlier rule.
    calm(c)
    revenue = round(rng.uniform(30_000, 80_000), 2)
    c["revenue_12m"] = revenue
    c["size"] = size_band(revenue)
    set_hours(c, rng, revenue / 1000 * rng.uniform(11, 13))


def story_watch(c: dict, rng: random.Random) -> None:
    # Only flags: somebody should look, nothing more.
    calm(c)
    signal = rng.choice(["terms", "balance", "complaints", "reputation"])
    if signal == "terms":
        c["requested_terms_days"] = c["payment_terms_days"] + rng.choice([30, 45])
    elif signal == "balance":
        c["outstanding_balance"] = round(c["revenue_12m"] * rng.uniform(0.3, 0.6), 2)
    elif signal == "complaints":
        c["complaint_incidents_12m"] = rng.choice([3, 4])
    else:
        c["bad_reputation"] = True


def story_outgrown(c: dict, rng: random.Random) -> None:
    calm(c)
    revenue = round(rng.uniform(250_000, 600_000), 2)
    c["revenue_12m"] = revenue
    c["size"] = "enterprise"
    set_hours(c, rng, 5.5 * (revenue / 1000) ** 0.85)
    c["outgrown"] = True


def story_exempt(c: dict, rng: random.Random) -> None:
    # A strategic or reference account that costs more than it pays: the
    # strategic-accounts exemption shields the cost rules.
    calm(c)
    if rng.random() < 0.5:
        c["tier"] = "strategic"
    else:
        c["reference_account"] = True
    costly(c, rng, round(rng.uniform(60_000, 250_000), 2), rng.uniform(1.15, 1.4))


def story_held(c: dict, rng: random.Random) -> None:
    # Rules fire, but our own side has open incidents (billing errors,
    # missed SLAs): fix our part first.
    calm(c)
    c["open_our_fault_incidents"] = rng.choice([1, 2, 3])
    c["late_payments_12m"] = rng.choice([3, 4, 5])
    if rng.random() < 0.5:
        c["escalations_12m"] = rng.choice([4, 6])


def story_held_offboard(c: dict, rng: random.Random) -> None:
    # Would be an offboard, but two of our billing errors are still open.
    story_offboard(c, rng)
    c["open_our_fault_incidents"] = 2


def story_expired_exemption(c: dict, rng: random.Random) -> None:
    # In the pilot-programme-2026 exemption, which expired on 2026-09-30:
    # the high return rate counts again.
    calm(c)
    c["early_adopter"] = True
    returns_heavy(c, rng.uniform(0.2, 0.3), rng.randint(30, 90))


def story_expired_exemption_costly(c: dict, rng: random.Random) -> None:
    story_expired_exemption(c, rng)
    costly(c, rng, round(rng.uniform(15_000, 25_000), 2), 1.2, via="direct")
    returns_heavy(c, 0.24, 50)


def missing(*facts: str, then=None):
    """A story that blanks some facts (data not delivered by the source)."""
    def story(c: dict, rng: random.Random) -> None:
        calm(c)
        if then is not None:
            then(c, rng)
        for fact in facts:
            c[fact] = None
    return story


def story_late(c: dict, rng: random.Random) -> None:
    c["late_payments_12m"] = 4


STORIES = {
    7: story_cust_0007,
    23: story_offboard_contract_end, 61: story_offboard, 277: story_offboard, 352: story_offboard,
    148: story_offboard_outgrown,
    88: story_abuse, 199: story_abuse_strategic,
    15: story_final_notice, 54: story_final_notice, 97: story_final_notice,
    131: story_final_notice, 206: story_final_notice, 264: story_final_notice,
    318: story_final_notice, 389: story_final_notice,
    11: story_warn, 36: story_warn, 73: story_warn, 160: story_warn, 241: story_warn,
    300: story_warn, 371: story_warn,
    33: story_time_sink, 142: story_time_sink, 287: story_time_sink,
    19: story_watch, 44: story_watch, 67: story_watch, 102: story_watch, 223: story_watch,
    310: story_watch,
    125: story_outgrown, 188: story_outgrown,
    3: story_exempt, 50: story_exempt, 170: story_exempt, 290: story_exempt,
    12: story_held, 159: story_held, 260: story_held, 344: story_held,
    81: story_held_offboard,
    42: story_expired_exemption, 233: story_expired_exemption,
    118: story_expired_exemption_costly,
    29: missing("revenue_12m"),
    58: missing("hours_marketing_12m"),
    91: missing("late_payments_12m"),
    137: missing("orders_12m", "returns_12m"),
    176: missing("outstanding_balance", "requested_terms_days"),
    250: missing("bad_reputation", "outgrown"),
    333: missing("revenue_12m", "discounts_12m", "contract_end"),
    212: missing("hours_support_12m", then=story_late),
}


def bad_rows(rng: random.Random, used_names: set[str]) -> list[dict]:
    """Six rows that a careful adapter must reject, each for one reason."""
    rows = []
    for number, field, value in [
        (401, "revenue_12m", "12k"),
        (402, "contract_end", "2026-13-45"),
        (403, "bad_reputation", "maybe"),
        (404, "hours_support_12m", -12.5),
    ]:
        c = healthy_customer(rng, number, used_names)
        c[field] = value
        rows.append(c)
    duplicate = healthy_customer(rng, 123, used_names)  # CUST-0123 exists already
    rows.append(duplicate)
    no_id = healthy_customer(rng, 405, used_names)
    no_id["customer_id"] = ""
    rows.append(no_id)
    return rows


def cell(value) -> str:
    """Format one value as a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    return str(value)


def generate() -> list[dict]:
    rng = random.Random(SEED)
    used_names: set[str] = set()
    customers = []
    for number in range(1, N_CUSTOMERS + 1):
        c = healthy_customer(rng, number, used_names)
        story = STORIES.get(number)
        if story is not None:
            story(c, rng)
        customers.append(c)
    rows = list(customers)
    for bad in bad_rows(rng, used_names):
        # Scatter the bad rows through the file; the duplicate comes after
        # the original CUST-0123, so the original is the one evaluated.
        low = 1
        if bad["customer_id"] == "CUST-0123":
            low = next(i for i, r in enumerate(rows) if r["customer_id"] == "CUST-0123") + 1
        rows.insert(rng.randint(low, len(rows)), bad)
    return rows


def main() -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in generate():
        writer.writerow([cell(row.get(column)) for column in COLUMNS])


if __name__ == "__main__":
    main()
