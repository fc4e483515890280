# From ../shared/perf/baseline.py (issue 10's hand-written reference), logic unchanged.
# It must import nothing from adieu: tests/test_bench.py checks that with an import scan.
"""Hand-written baseline: policies/default.yaml as plain Python.

    python3 baseline.py CSV DB [--as-of 2026-11-01] [--stream] [--full] [--phases]
    python3 baseline.py CSV --csv-only          # csv.reader alone

--phases prints the seconds spent in each phase (perf_counter around each
step of the per-customer loop; the timers run in every mode).

Does the same job as `adieu evaluate policies/default.yaml --source csv:CSV`
for that one policy, written by hand:

  * csv.reader; every cell coerced like adieu's Coercer (empty cell =
    missing; numbers, integers, booleans, dates; the schema's minimum 0 on
    hours, costs and counts); a row with any bad cell, no customer_id or an
    id seen before is a reject (stored in a rejects table);
  * the derived facts and the 13 rules of the default policy as one
    function, None standing for UNKNOWN: a missing input (or a division by
    zero) makes a derived value None, and a rule over a None is "unknown"
    (neither fires nor passes); `and` / `or` are three-valued (Kleene), as
    in adieu's expression language;
  * one percentile pass (p90 of staff_hours_per_1k over every decided
    customer with the figure, linear interpolation like adieu's);
  * exemptions (strategic-accounts; pilot-programme-2026 by id, expired),
    the strike ladder (a new database: every strike is new), on_missing:
    watch, the exempt marker, the our-fault-first hold (unknown also holds,
    as in adieu), the effective date of an offboarding;
  * the reasons rendered from the same explain templates (same text as
    adieu's `reasons` column, checked with --check);
  * sqlite3 executemany of one row per customer (outcome, fired rule ids,
    reasons JSON, effective date) in one transaction, WAL mode.

Modes:
  default   read and coerce every row into a list of tuples, then decide
            and insert (a generator feeds executemany);
  --stream  two passes over the file: pass 1 coerces every row (to know the
            rejects and duplicates) and keeps only the percentile input per
            row (an array of doubles) and the set of ids; pass 2 re-reads,
            re-coerces and decides, streaming into executemany. Flat memory
            apart from the id set.
  --full    also store what adieu stores besides the decision (the facts as
            canonical JSON per row, a sha256 hash-chained audit entry per
            decision over the row's canonical JSON, one strikes row per new
            strike): an estimate of the floor of adieu's storage contract.
"""

from __future__ import annotations

import array
import csv
import datetime as dt
import hashlib
import json
import math
import sqlite3
import sys
import time

# --- the policy's params, by hand -------------------------------------------
RATE_AM, RATE_SUP, RATE_ACC, RATE_MKT = 85, 45, 60, 70
MAX_COST_RATIO = 1.0
MAX_LOSS = 10000
LATE_PAYMENT_LIMIT = 3
TERMS_STEP_DAYS = 15
MAX_BALANCE_RATIO = 0.25
MAX_RETURN_RATE = 0.15
MIN_ORDERS_FOR_RETURN_RATE = 10
STAFF_TIME_PERCENTILE = 90
STAFF_TIME_OUTLIER_FACTOR = 1.5
MIN_STAFF_HOURS = 40
ESCALATION_LIMIT = 4
COMPLAINT_LIMIT = 3
STRIKE_WINDOW_DAYS = 365
LADDER_WARN, LADDER_FINAL, LADDER_OFFBOARD = 1, 2, 3
RANK = {"keep": 0, "watch": 1, "warn": 2, "final_notice": 3, "offboard": 4}
STRATEGIC_SHIELDS = frozenset({"cost-exceeds-revenue", "negative-margin", "staff-time-outlier"})
STRATEGIC_EXPIRES = dt.date(2027, 6, 30)
PILOT_CUSTOMERS = frozenset({"CUST-0042", "CUST-0118", "CUST-0233"})
PILOT_SHIELDS = frozenset({"cost-exceeds-revenue", "negative-margin", "high-return-rate"})
PILOT_EXPIRES = dt.date(2026, 9, 30)
# timing
CONTRACT_END_WITHIN_DAYS, NOTICE_DAYS = 90, 60
AVOID = ((12, 15), (1, 5), "the holiday season")

# --- coercion ---------------------------------------------------------------
TRUE = {"true", "yes", "y", "1", "t"}
FALSE = {"false", "no", "n", "0", "f"}


class Bad(Exception):
    pass


def num(text, minimum=None):
    if "." in text or "e" in text or "E" in text:
        try:
            v = float(text)
        except ValueError:
            raise Bad(text) from None
        if not math.isfinite(v):
            raise Bad(text)
    else:
        try:
            v = int(text)
        except ValueError:
            raise Bad(text) from None
    if minimum is not None and v < minimum:
        raise Bad(text)
    return v


def integer(text, minimum=None):
    try:
        v = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise Bad(text) from None
        if not f.is_integer():
            raise Bad(text) from None
        v = int(f)
    if minimum is not None and v < minimum:
        raise Bad(text)
    return v


def boolean(text):
    t = text.lower()
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise Bad(text)


def date(text):
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Bad(text) from None


def string(text):
    return text


def converter(kind, minimum):
    if kind == "number":
        return lambda t: num(t, minimum)
    if kind == "integer":
        return lambda t: integer(t, minimum)
    return {"boolean": boolean, "date": date, "string": string}[kind]


# customer.schema.json: type and minimum of every column of the CSV
SCHEMA = {
    "customer_id": ("string", None), "name": ("string", None), "owner": ("string", None),
    "tier": ("string", None), "industry": ("string", None), "channel": ("string", None),
    "size": ("string", None), "country": ("string", None),
    "revenue_12m": ("number", None),
    "hours_account_mgmt_12m": ("number", 0), "hours_support_12m": ("number", 0),
    "hours_accounting_12m": ("number", 0), "hours_marketing_12m": ("number", 0),
    "returns_cost_12m": ("number", 0), "refunds_12m": ("number", 0),
    "discounts_12m": ("number", 0), "acquisition_cost_unrecovered": ("number", 0),
    "late_payments_12m": ("integer", 0), "payment_terms_days": ("integer", 0),
    "requested_terms_days": ("integer", 0), "outstanding_balance": ("number", None),
    "orders_12m": ("integer", 0), "returns_12m": ("integer", 0),
    "abuse_incidents_12m": ("integer", 0), "escalations_12m": ("integer", 0),
    "staff_turnover_incidents": ("integer", 0), "complaint_incidents_12m": ("integer", 0),
    "open_our_fault_incidents": ("integer", 0),
    "bad_reputation": ("boolean", None), "outgrown": ("boolean", None),
    "reference_account": ("boolean", None), "early_adopter": ("boolean", None),
    "contract_end": ("date", None), "customer_since": ("date", None),
    "last_order_date": ("date", None),
}


def make_coerce(header):
    convs = [converter(*SCHEMA[h]) if h in SCHEMA else string for h in header]
    pairs = list(zip(range(len(header)), convs, strict=True))
    ncols = len(header)

    def coerce(cells):
        """The row's typed values (None = missing), or raise Bad."""
        if len(cells) != ncols:
            raise Bad("cells")
        out = []
        for i, conv in pairs:
            t = cells[i].strip()
            out.append(conv(t) if t else None)
        return out
    return coerce


# --- the policy -------------------------------------------------------------
def fmt(v, spec):
    if v is None:
        return "unknown"
    try:
        return format(v, spec)
    except (ValueError, TypeError):
        return str(v)


def div(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def and_(*vals):
    unknown = False
    for v in vals:
        if v is None:
            unknown = True
        elif not v:
            return False
    return None if unknown else True


def or_(*vals):
    unknown = False
    for v in vals:
        if v is None:
            unknown = True
        elif v:
            return True
    return None if unknown else False


def derive_staff(f):
    """staff_hours_12m and staff_hours_per_1k (the percentile's input)."""
    am, sup, acc, mkt = f["am"], f["sup"], f["acc"], f["mkt"]
    if am is None or sup is None or acc is None or mkt is None:
        return None, None
    hours = am + sup + acc + mkt
    rev = f["rev"]
    per_1k = None if rev is None or rev == 0 else hours / rev * 1000
    return hours, per_1k


def decide(f, p90, as_of):
    """(outcome, fired rule ids, reasons, effective_date, new strike rules)
    for one customer's facts f (None = missing)."""
    rev = f["rev"]
    am, sup, acc, mkt = f["am"], f["sup"], f["acc"], f["mkt"]
    staff_hours, per_1k = derive_staff(f)
    staff_cost = None if staff_hours is None else \
        am * RATE_AM + sup * RATE_SUP + acc * RATE_ACC + mkt * RATE_MKT
    direct = (f["ret_cost"] or 0) + (f["refunds"] or 0) + (f["discounts"] or 0) + \
        (f["acq"] or 0)
    cost = None if staff_cost is None else staff_cost + direct
    margin = None if cost is None or rev is None else rev - cost
    cost_ratio = div(cost, rev)
    return_rate = div(f["returns"], f["orders"])
    balance_ratio = div(f["balance"], rev)

    fired = []  # (id, action, severity, reason)
    unknown = False

    def rule(value, rid, action, severity, reason):
        nonlocal unknown
        if value is None:
            unknown = True
        elif value is True:
            fired.append((rid, action, severity, reason))

    rule(None if cost_ratio is None else cost_ratio > MAX_COST_RATIO,
         "cost-exceeds-revenue", "strike", "high", lambda: (
        f"Serving this customer cost {fmt(cost, ',.0f')} over the last 12 months "
        f"({fmt(staff_hours, ',.0f')} staff hours across all departments plus "
        f"{fmt(direct, ',.0f')} in returns, refunds, discounts and unrecovered acquisition "
        f"cost), against {fmt(rev, ',.0f')} of revenue: {fmt(cost_ratio, '.0%')} of revenue, "
        f"above our limit of {fmt(MAX_COST_RATIO, '.0%')}."))
    rule(None if margin is None else margin < -MAX_LOSS, "negative-margin", "strike", "high",
         lambda: (f"After the full cost to serve, the margin over the last 12 months was "
                  f"{fmt(margin, ',.0f')}: a loss deeper than our limit of "
                  f"{fmt(MAX_LOSS, ',.0f')}, which counts as a separate strike."))
    late = f["late"]
    rule(None if late is None else late >= LATE_PAYMENT_LIMIT, "late-payments", "strike",
         "medium", lambda: (f"{late} invoices were paid after their due date in the last 12 "
                            f"months (limit: {LATE_PAYMENT_LIMIT})."))
    req, terms = f["req_terms"], f["terms"]
    rule(None if req is None or terms is None else req >= terms + TERMS_STEP_DAYS,
         "longer-terms", "flag", "low",
         lambda: (f"The customer asks for {req} days to pay; current terms are {terms} days."))
    rule(None if balance_ratio is None else balance_ratio > MAX_BALANCE_RATIO,
         "large-balance", "flag", "medium",
         lambda: (f"The customer owes {fmt(f['balance'], ',.0f')}, which is "
                  f"{fmt(balance_ratio, '.0%')} of a year's revenue ({fmt(rev, ',.0f')}); we "
                  f"flag anything above {fmt(MAX_BALANCE_RATIO, '.0%')}."))
    orders = f["orders"]
    rule(and_(None if orders is None else orders >= MIN_ORDERS_FOR_RETURN_RATE,
              None if return_rate is None else return_rate > MAX_RETURN_RATE),
         "high-return-rate", "strike", "medium",
         lambda: (f"{f['returns']} of {orders} orders ({fmt(return_rate, '.0%')}) were "
                  f"returned or refunded in the last 12 months (limit: "
                  f"{fmt(MAX_RETURN_RATE, '.0%')}); the returns cost "
                  f"{fmt(f['ret_cost'], ',.0f')}."))
    abuse = f["abuse"]
    rule(None if abuse is None else abuse > 0, "abuse-of-staff", "offboard", "critical",
         lambda: (f"{abuse} recorded incident(s) of abuse or harassment of our staff in the "
                  f"last 12 months. We do not ask our people to accept this."))
    rule(and_(None if staff_hours is None else staff_hours >= MIN_STAFF_HOURS,
              None if per_1k is None or p90 is None
              else per_1k > p90 * STAFF_TIME_OUTLIER_FACTOR),
         "staff-time-outlier", "strike", "high",
         lambda: (f"The account took {fmt(staff_hours, ',.0f')} staff hours, that is "
                  f"{fmt(per_1k, ',.1f')} hours per 1,000 of revenue. Across all our customers "
                  f"the 90th percentile is {fmt(p90, ',.1f')}; this account is more than "
                  f"{STAFF_TIME_OUTLIER_FACTOR} times that."))
    esc = f["esc"]
    rule(None if esc is None else esc >= ESCALATION_LIMIT, "repeated-escalations", "strike",
         "medium", lambda: (f"{esc} escalations tied to this account in the last 12 months "
                            f"(limit: {ESCALATION_LIMIT})."))
    turn = f["turnover"]
    rule(None if turn is None else turn >= 1, "staff-turnover", "strike", "high",
         lambda: (f"{turn} member(s) of staff left or asked to be moved because of this "
                  f"account."))
    compl = f["complaints"]
    rule(None if compl is None else compl >= COMPLAINT_LIMIT, "staff-complaints", "flag",
         "medium", lambda: (f"Staff recorded {compl} complaints about this customer in the "
                            f"last 12 months (we look at {COMPLAINT_LIMIT} or more)."))
    rule(f["bad_rep"], "bad-reputation", "flag", "low",
         lambda: ("The customer has a bad public reputation that reflects on us; a reason to "
                  "act sooner if other problems add up."))
    rule(f["outgrown"], "outgrown", "flag", "low",
         lambda: ("The customer needs scale or services we cannot give; the right outcome is "
                  "a referral to a vendor that fits them better."))

    # exemptions
    shields = set()
    tier = f["tier"]
    if as_of < STRATEGIC_EXPIRES and \
            or_(None if tier is None else tier == "strategic", f["reference"]) is True:
        shields |= STRATEGIC_SHIELDS
    if f["id"] in PILOT_CUSTOMERS and as_of < PILOT_EXPIRES:
        shields |= PILOT_SHIELDS
    kept = [r for r in fired if r[0] not in shields]
    shielded = len(kept) != len(fired)

    strikes = sum(1 for r in kept if r[1] == "strike")
    outcome = ladder(kept, strikes)
    if shielded:
        would_have = ladder(fired, sum(1 for r in fired if r[1] == "strike"))
    else:
        would_have = outcome
    if unknown and RANK[outcome] < 1:
        outcome = "watch"
    final = outcome
    if RANK[would_have] > RANK[outcome] and RANK[outcome] <= 1:
        final = "exempt"
    if RANK[outcome] >= 2 and not any(r[0] == "abuse-of-staff" for r in kept):
        oof = f["our_fault"]
        if oof is None or oof > 0:  # an unknown hold also holds
            final = "held"
    effective = effective_date(f["contract_end"], as_of) if final == "offboard" else None
    new_strikes = [r[0] for r in kept if r[1] == "strike"]
    return final, [r[0] for r in kept], [r[3]() for r in kept], effective, new_strikes


def ladder(fired, strikes):
    if any(r[1] == "offboard" for r in fired):
        return "offboard"
    if strikes >= LADDER_OFFBOARD:
        return "offboard"
    if strikes >= LADDER_FINAL:
        return "final_notice"
    if strikes >= LADDER_WARN:
        return "warn"
    return "watch" if fired else "keep"


def effective_date(contract_end, as_of):
    if contract_end is not None and 0 < (contract_end - as_of).days <= CONTRACT_END_WITHIN_DAYS:
        day = contract_end
    else:
        day = as_of + dt.timedelta(days=NOTICE_DAYS)
    (sm, sd), (em, ed), _ = AVOID
    for _ in range(8):
        moved = False
        md = (day.month, day.day)
        if md >= (sm, sd) or md <= (em, ed):
            year = day.year if md <= (em, ed) else day.year + 1
            day = dt.date(year, em, ed) + dt.timedelta(days=1)
            moved = True
        if day.weekday() >= 5:
            day += dt.timedelta(days=7 - day.weekday())
            moved = True
        if not moved:
            break
    return day.isoformat()


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return None
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


# The facts decide() reads, by column name.
NEEDED = {"id": "customer_id", "rev": "revenue_12m", "am": "hours_account_mgmt_12m",
          "sup": "hours_support_12m", "acc": "hours_accounting_12m",
          "mkt": "hours_marketing_12m", "ret_cost": "returns_cost_12m",
          "refunds": "refunds_12m", "discounts": "discounts_12m",
          "acq": "acquisition_cost_unrecovered", "late": "late_payments_12m",
          "terms": "payment_terms_days", "req_terms": "requested_terms_days",
          "balance": "outstanding_balance", "orders": "orders_12m", "returns": "returns_12m",
          "abuse": "abuse_incidents_12m", "esc": "escalations_12m",
          "turnover": "staff_turnover_incidents", "complaints": "complaint_incidents_12m",
          "our_fault": "open_our_fault_incidents", "bad_rep": "bad_reputation",
          "outgrown": "outgrown", "reference": "reference_account", "tier": "tier",
          "contract_end": "contract_end"}


class Facts:
    """One row's typed values, looked up by the short names of NEEDED."""
    __slots__ = ("values", "index")

    def __init__(self, values, index):
        self.values, self.index = values, index

    def __getitem__(self, key):
        return self.values[self.index[key]]


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def rows_of(path):
    f = open(path, newline="", encoding="utf-8-sig")
    reader = csv.reader(f)
    header = [h.strip() for h in next(reader)]
    return f, reader, header


def main() -> None:
    args = sys.argv[1:]
    path = args[0]
    if "--csv-only" in args:
        with open(path, newline="", encoding="utf-8-sig") as f:
            n = sum(1 for _ in csv.reader(f))
        print(f"csv.reader: {n} rows")
        return
    db_path = args[1]
    as_of = dt.date.fromisoformat(args[args.index("--as-of") + 1]) if "--as-of" in args \
        else dt.date(2026, 11, 1)
    stream, full = "--stream" in args, "--full" in args
    phases = "--phases" in args
    pc = time.perf_counter
    T = dict.fromkeys(("read+coerce (pass 1)", "percentile", "pass 2 re-read+coerce",
                       "decide+render", "decision JSON", "facts JSON", "digest+chain",
                       "insert (executemany)", "commit+close"), 0.0)
    t0 = pc()

    f, reader, header = rows_of(path)
    coerce = make_coerce(header)
    index = {k: header.index(c) for k, c in NEEDED.items()}
    id_col = index["id"]
    rejects = []  # (row, customer_id, reason)
    seen = set()
    records = []
    per_1k_values = array.array("d")
    valid_rows = bytearray() if stream else None  # pass 1 verdict per data row
    for row_no, cells in enumerate(reader, 1):
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        try:
            values = coerce(cells)
        except Bad as exc:
            rejects.append((row_no, cells[id_col] if cells else None, f"bad value {exc}"))
            if stream:
                valid_rows.append(0)
            continue
        cid = values[id_col]
        if not cid or cid in seen:
            rejects.append((row_no, cid, "missing or duplicate customer_id"))
            if stream:
                valid_rows.append(0)
            continue
        seen.add(cid)
        facts = Facts(values, index)
        _, per_1k = derive_staff(facts)
        if per_1k is not None:
            per_1k_values.append(per_1k)
        if stream:
            valid_rows.append(1)
        else:
            records.append(values)
    f.close()
    T["read+coerce (pass 1)"] = pc() - t0
    t0 = pc()
    p90 = percentile(per_1k_values, STAFF_TIME_PERCENTILE)
    T["percentile"] = pc() - t0
    n_customers = len(seen)
    del seen

    if stream:
        def customers():
            f2, reader2, _ = rows_of(path)
            with f2:
                i = 0
                for cells in reader2:
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue
                    ok = valid_rows[i]
                    i += 1
                    if ok:
                        yield coerce(cells)
    else:
        def customers():
            return iter(records)

    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("create table if not exists runs (id integer primary key, as_of text, "
               "customers int, rejected int, p90 real)")
    db.execute("create table if not exists decisions (run_id int, customer_id text, "
               "outcome text, fired text, reasons text, effective_date text"
               + (", facts text" if full else "") + ", primary key (run_id, customer_id))")
    db.execute("create table if not exists rejects (run_id int, row int, customer_id text, "
               "reason text)")
    if full:
        db.execute("create table if not exists strikes (id integer primary key, customer_id "
                   "text, rule text, recorded_on text, expires_on text, run_id int)")
        db.execute("create table if not exists audit (seq integer primary key, kind text, "
                   "run_id int, customer_id text, payload text, prev_hash text, hash text)")
    db.execute("BEGIN IMMEDIATE")
    run_id = db.execute("insert into runs (as_of, customers, rejected, p90) values (?,?,?,?)",
                        [as_of.isoformat(), n_customers, len(rejects), p90]).lastrowid
    counts = {}
    prev = "0" * 64
    seq = 0
    expires = (as_of + dt.timedelta(days=STRIKE_WINDOW_DAYS)).isoformat()
    cols = header
    marks = ",".join("?" * (7 if full else 6))
    insert_decisions = f"insert into decisions values ({marks})"
    insert_strikes = ("insert into strikes (customer_id, rule, recorded_on, expires_on, "
                      "run_id) values (?,?,?,?,?)")
    insert_audit = ("insert into audit (seq, kind, run_id, customer_id, payload, prev_hash, "
                    "hash) values (?,?,?,?,?,?,?)")
    batch, strike_rows, audit_rows = [], [], []
    it = customers()
    while True:
        t0 = pc()
        values = next(it, None)
        t1 = pc()
        T["pass 2 re-read+coerce"] += t1 - t0
        if values is None:
            break
        facts = Facts(values, index)
        outcome, fired, reasons, effective, new_strikes = decide(facts, p90, as_of)
        counts[outcome] = counts.get(outcome, 0) + 1
        cid = values[id_col]
        t2 = pc()
        row = (run_id, cid, outcome, json.dumps(fired), json.dumps(reasons, ensure_ascii=False),
               effective)
        t3 = pc()
        T["decide+render"] += t2 - t1
        T["decision JSON"] += t3 - t2
        if full:
            facts_json = canonical({c: (v.isoformat() if isinstance(v, dt.date) else v)
                                    for c, v in zip(cols, values, strict=False) if v is not None})
            row = (*row, facts_json)
            t4 = pc()
            digest = hashlib.sha256(canonical(row).encode()).hexdigest()
            payload = canonical({"digest": digest, "outcome": outcome})
            seq += 1
            entry = canonical([seq, "decision", run_id, cid, payload, prev])
            h = hashlib.sha256(entry.encode()).hexdigest()
            audit_rows.append((seq, "decision", run_id, cid, payload, prev, h))
            prev = h
            for r in new_strikes:
                strike_rows.append((cid, r, as_of.isoformat(), expires, run_id))
            t5 = pc()
            T["facts JSON"] += t4 - t3
            T["digest+chain"] += t5 - t4
        batch.append(row)
        if len(batch) >= 1000:
            t6 = pc()
            db.executemany(insert_decisions, batch)
            batch = []
            if full:
                db.executemany(insert_audit, audit_rows)
                db.executemany(insert_strikes, strike_rows)
                audit_rows, strike_rows = [], []
            T["insert (executemany)"] += pc() - t6
    t6 = pc()
    db.executemany(insert_decisions, batch)
    if full:
        db.executemany(insert_audit, audit_rows)
        db.executemany(insert_strikes, strike_rows)
    db.executemany("insert into rejects values (?,?,?,?)",
                   [(run_id, *r) for r in rejects])
    T["insert (executemany)"] += pc() - t6
    t0 = pc()
    db.execute("COMMIT")
    db.close()
    T["commit+close"] = pc() - t0
    if phases:
        for k, v in T.items():
            if v:
                print(f"  phase {k:<24} {v:7.2f} s")
        print(f"  phase sum {sum(T.values()):.2f} s")
    print(f"run {run_id}: {n_customers} customers, {len(rejects)} rejects, p90 {p90!r}")
    for k in ("keep", "watch", "warn", "final_notice", "offboard", "exempt", "held"):
        print(f"  {k:<13}{counts.get(k, 0):>8}")


if __name__ == "__main__":
    main()
