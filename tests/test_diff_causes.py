"""adieu diff names what made each difference, found by deciding again
(engine/diff_causes.py), and lists every customer whose decision changed:
a move made by the data between two runs names the facts or population
figures, not a param that moved the other way; a held customer whose base
outcome changes is listed; referral and date changes name only what moved
them. Cross-checked against two `evaluate --dry-run` runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from test_diff import DEFAULT, SOURCE, adieu, diff_json, rows, variant

AS_OF = "2026-11-01"


def write_rows(path: Path, table: list[dict[str, str]]) -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, list(table[0]))
        out.writeheader()
        out.writerows(table)
    return f"csv:{path}"


def evaluate(policy: Path, source: str, as_of: str, db: Path) -> None:
    done = adieu("evaluate", str(policy), "--source", source, "--as-of", as_of,
                 "--db", str(db), "-q")
    assert done.returncode == 0, done.stderr


def rule(d: dict, section: str, cid: str, rule_id: str) -> dict:
    (entry,) = [m for m in d[section] if m["customer_id"] == cid]
    (found,) = [r for r in entry["rules"] if r["rule"] == rule_id]
    return found


def test_runs_a_move_made_by_the_data_names_the_fact_not_the_param(tmp_path: Path) -> None:
    # run 2 raises late_payment_limit 3 -> 4 (harder to fire) over data where
    # CUST-0002's late payments went 1 -> 6: the data moved it, not the param
    db = tmp_path / "runs.db"
    evaluate(DEFAULT, SOURCE, AS_OF, db)
    limit4 = variant(tmp_path, "limit4.yaml", "late_payment_limit: 3", "late_payment_limit: 4")
    text = limit4.read_text(encoding="utf-8").replace('version: "2026.11"', 'version: "2026.12"')
    limit4.write_text(text, encoding="utf-8")
    table = rows()
    for r in table:
        if r["customer_id"] == "CUST-0002":
            assert r["late_payments_12m"] == "1"
            r["late_payments_12m"] = "6"
    evaluate(limit4, write_rows(tmp_path / "dec.csv", table), "2026-12-01", db)
    d = diff_json("--run", "1", "--run", "2", "--db", str(db))
    moved = rule(d, "moved", "CUST-0002", "late-payments")
    assert (moved["old_status"], moved["new_status"]) == ("passed", "fired")
    assert moved["causes"] == ["fact late_payments_12m: 1 -> 6"]
    # the same pair of runs: a customer with 3 late payments both times
    # stopped firing because of the param, and only the param is named
    three = {r["customer_id"] for r in table if r["late_payments_12m"] == "3"}
    by_param = [r for m in d["moved"] + d["changed_base"] + d["changed_reasons"]
                if m["customer_id"] in three for r in m["rules"] if r["rule"] == "late-payments"]
    assert by_param and all(r["causes"] == ["param late_payment_limit: 3 -> 4"]
                            for r in by_param)
    out = adieu("diff", "--run", "1", "--run", "2", "--db", str(db)).stdout
    assert "late-payments: passed -> fired because fact late_payments_12m: 1 -> 6\n" in out
    table_csv = list(csv.DictReader(io.StringIO(
        adieu("diff", "--run", "1", "--run", "2", "--db", str(db), "--csv").stdout)))
    (row,) = [r for r in table_csv if r["customer_id"] == "CUST-0002"]
    assert json.loads(row["causes"]) == ["fact late_payments_12m: 1 -> 6"]


def test_runs_a_move_made_by_the_population_names_the_percentile(tmp_path: Path) -> None:
    # the same policy both runs; everyone else's support hours tripled, so
    # the 90th percentile rose and CUST-0165 (8.74 h per 1k, just over 1.5 x
    # p90) is no longer an outlier, with its own figures unchanged
    db = tmp_path / "runs.db"
    evaluate(DEFAULT, SOURCE, AS_OF, db)
    table = rows()
    for r in table:
        if r["customer_id"] != "CUST-0165":
            try:
                r["hours_support_12m"] = str(float(r["hours_support_12m"]) * 3)
            except ValueError:
                pass
    evaluate(DEFAULT, write_rows(tmp_path / "busy.csv", table), "2026-12-01", db)
    d = diff_json("--run", "1", "--run", "2", "--db", str(db))
    found = [r for m in d["moved"] + d["changed_base"] + d["changed_reasons"]
             if m["customer_id"] == "CUST-0165" for r in m["rules"]
             if r["rule"] == "staff-time-outlier"]
    assert len(found) == 1 and found[0]["old_status"] == "fired"
    causes = found[0]["causes"]
    assert causes[0].startswith("p90 of staff_hours_per_1k: 5.53 -> ")
    assert not [c for c in causes if c.startswith(("fact ", "param "))], causes


def test_runs_a_percentile_that_moved_against_the_move_is_not_named(tmp_path: Path) -> None:
    """h11 RC2 (/work/notes/h11/rc/diff_p90_against.sh): CUST-0059's own
    support hours tripled (6.71 to 13.4 staff hours per 1k), so it became
    an outlier, while others' hours rose too and lifted the p90, which did
    not make the difference. The cause is its facts; the p90 (and the derived figure that is
    the p90 under a name of its own) was named as well."""
    db = tmp_path / "runs.db"
    evaluate(DEFAULT, SOURCE, AS_OF, db)
    table = rows()
    for r in table:
        try:
            hours = float(r["hours_support_12m"])
        except ValueError:
            continue
        r["hours_support_12m"] = str(hours * (3 if r["customer_id"] == "CUST-0059" else 1.05))
    evaluate(DEFAULT, write_rows(tmp_path / "more.csv", table), "2026-12-01", db)
    d = diff_json("--run", "1", "--run", "2", "--db", str(db))
    found = [r for m in d["moved"] + d["changed_base"] + d["changed_reasons"]
             if m["customer_id"] == "CUST-0059" for r in m["rules"]
             if r["rule"] == "staff-time-outlier"]
    assert len(found) == 1 and (found[0]["old_status"], found[0]["new_status"]) == \
        ("passed", "fired"), found
    causes = found[0]["causes"]
    assert causes[0].startswith("fact hours_support_12m: "), causes
    assert not [c for c in causes if "p90" in c], causes


def test_policies_name_a_population_figure_only_when_it_made_the_difference(
        tmp_path: Path) -> None:
    p75 = variant(tmp_path, "p75.yaml", "staff_time_percentile: 90", "staff_time_percentile: 75")
    d = diff_json(str(DEFAULT), str(p75), "--source", SOURCE, "--as-of", AS_OF)
    outliers = [r for m in d["moved"] for r in m["rules"] if r["rule"] == "staff-time-outlier"]
    assert outliers
    for r in outliers:
        assert r["causes"] == ["param staff_time_percentile: 90 -> 75",
                               "p90 -> p75 of staff_hours_per_1k: 5.53 -> 4.32"]
    hours = variant(tmp_path, "hours.yaml", "min_staff_hours: 40", "min_staff_hours: 400")
    d = diff_json(str(DEFAULT), str(hours), "--source", SOURCE, "--as-of", AS_OF)
    outliers = [r for m in d["moved"] for r in m["rules"] if r["rule"] == "staff-time-outlier"]
    assert outliers and all(r["causes"] == ["param min_staff_hours: 40 -> 400"]
                            for r in outliers)


def lp1(tmp_path: Path) -> Path:
    path = variant(tmp_path, "lp1.yaml", "late_payment_limit: 3", "late_payment_limit: 1")
    text = path.read_text(encoding="utf-8")
    assert text.count("max_cost_ratio: 1.0") == 1
    path.write_text(text.replace("max_cost_ratio: 1.0", "max_cost_ratio: 0.3"), encoding="utf-8")
    return path


def test_a_held_customer_whose_base_outcome_changes_is_listed(tmp_path: Path) -> None:
    new = lp1(tmp_path)
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    (held,) = [m for m in d["changed_base"] if m["customer_id"] == "CUST-0012"]
    assert (held["old_outcome"], held["new_outcome"]) == ("held", "held")
    assert (held["old_base_outcome"], held["new_base_outcome"]) == ("warn", "final_notice")
    assert held["rules"][0]["rule"] == "cost-exceeds-revenue"
    assert held["rules"][0]["causes"] == ["param max_cost_ratio: 1.0 -> 0.3"]
    out = adieu("diff", str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF).stdout
    assert "Changed under a hold or exemption, same outcome (" in out
    assert "  CUST-0012: held (warn) -> held (final_notice) (strikes 1 -> 2)\n" in out
    assert "same outcome, changed base outcome (under a hold or exemption): " in out
    table = list(csv.DictReader(io.StringIO(adieu(
        "diff", str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF, "--csv").stdout)))
    (row,) = [r for r in table if r["customer_id"] == "CUST-0012"]
    assert (row["old_outcome"], row["new_outcome"], row["old_base_outcome"],
            row["new_base_outcome"]) == ("held", "held", "warn", "final_notice")


def _decisions(policy: Path) -> dict[str, dict]:
    done = adieu("evaluate", str(policy), "--source", SOURCE, "--as-of", AS_OF, "--dry-run",
                 "--backfill", "--json", "-q", "--db", "/nonexistent/none.db")
    assert done.returncode == 0, done.stderr
    return {x["customer_id"]: x for x in json.loads(done.stdout)["decisions"]}


def test_the_customers_listed_are_exactly_those_whose_decision_differs(tmp_path: Path) -> None:
    new = lp1(tmp_path)
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    a, b = _decisions(DEFAULT), _decisions(new)
    keys = ("outcome", "base_outcome", "effective_date", "phase_out_start", "referrals")
    changed = {c for c in a if any((a[c][k] or None) != (b[c][k] or None) for k in keys)}
    listed = {m["customer_id"] for s in ("moved", "changed_base", "changed_dates")
              for m in d[s]}
    assert listed == changed

    def reasons(x: dict) -> tuple:
        return (x["strikes"], sorted((r["rule"], r.get("shielded_by") or "")
                                     for k in ("fired", "shielded", "unknown") for r in x[k]),
                [h["id"] for h in x["holds"]], [e["id"] for e in x["exemptions"]])
    other = {c for c in a if c not in changed and reasons(a[c]) != reasons(b[c])}
    assert other and {m["customer_id"] for m in d["changed_reasons"]} == other
    assert {m["customer_id"] for m in d["changed_base"]} == \
        {c for c in a if a[c]["outcome"] == b[c]["outcome"]
         and a[c]["base_outcome"] != b[c]["base_outcome"]}


def test_a_referral_change_names_the_param_its_condition_uses(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    text = text.replace("    - when: outgrown\n", "    - when: revenue_12m > big_revenue\n")
    text = text.replace("  late_payment_limit: 3\n", "  late_payment_limit: 3\n"
                        "  big_revenue: 10000000\n")
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(text, encoding="utf-8")
    new.write_text(text.replace("big_revenue: 10000000", "big_revenue: 20000"),
                   encoding="utf-8")
    d = diff_json(str(old), str(new), "--source", SOURCE, "--as-of", AS_OF)
    assert len(d["changed_dates"]) > 100
    assert all(x["causes"] == ["param big_revenue: 10000000 -> 20000"]
               for x in d["changed_dates"])


def test_a_changed_date_names_only_the_timing_keys_that_moved_it(tmp_path: Path) -> None:
    new = variant(tmp_path, "timing.yaml", "contract_end_within_days: 90",
                  "contract_end_within_days: 400")
    text = new.read_text(encoding="utf-8").replace("notice_days: 60", "notice_days: 30")
    new.write_text(text, encoding="utf-8")
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    ends = {r["customer_id"]: r["contract_end"] for r in rows()}
    as_of = dt.date.fromisoformat(AS_OF)
    kinds = set()
    for x in d["changed_dates"]:
        end = ends[x["customer_id"]]
        days = (dt.date.fromisoformat(end) - as_of).days if end else None
        if days is not None and 90 < days <= 400:
            want = ["timing.contract_end_within_days: 90 -> 400"]
        else:
            want = ["timing.notice_days: 60 -> 30"]
        assert x["causes"] == want, (x, end)
        kinds.add(want[0])
    assert len(kinds) == 2


TOGETHER = "together: none of these alone made the difference"


def _return_rate_policy(tmp_path: Path, name: str, rate: str, orders: str) -> Path:
    path = variant(tmp_path, name, "max_return_rate: 0.15", f"max_return_rate: {rate}")
    text = path.read_text(encoding="utf-8")
    assert text.count("min_orders_for_return_rate: 10\n") == 1
    path.write_text(text.replace("min_orders_for_return_rate: 10\n",
                                 f"min_orders_for_return_rate: {orders}\n"), encoding="utf-8")
    return path


def _return_rate_moves(d: dict) -> list[tuple[dict, dict]]:
    return [(m, r) for s in ("moved", "changed_base", "changed_reasons") for m in d[s]
            for r in m["rules"] if r["rule"] == "high-return-rate"]


def test_two_params_name_only_the_one_that_made_the_difference(tmp_path: Path) -> None:
    # max_return_rate raised (can only stop the rule firing) and the order
    # minimum lowered (can only make it fire): each move names the one param
    # whose old value alone gives the old result, never the other
    new = _return_rate_policy(tmp_path, "two.yaml", "0.16", "5")
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    seen = set()
    for _, r in _return_rate_moves(d):
        orders = r["new_figures"]["orders_12m"]
        if (r["old_status"], r["new_status"]) == ("passed", "fired"):
            assert 5 <= orders < 10, r
            assert r["causes"] == ["param min_orders_for_return_rate: 10 -> 5"], r
        else:
            assert (r["old_status"], r["new_status"]) == ("fired", "passed"), r
            assert orders >= 10, r
            assert r["causes"] == ["param max_return_rate: 0.15 -> 0.16"], r
        seen.add(r["new_status"])
    assert seen == {"fired", "passed"}
    out = adieu("diff", str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF).stdout
    assert "high-return-rate: passed -> fired because param min_orders_for_return_rate: " \
        "10 -> 5\n" in out


def test_two_params_each_needed_are_both_named(tmp_path: Path) -> None:
    # both lowered: a customer with 5-9 orders and a rate in (0.10, 0.15]
    # fires only because of both (each one put back alone stops it); one
    # with 10+ orders only because of the rate; one over 15% with 5-9
    # orders only because of the minimum
    new = _return_rate_policy(tmp_path, "both.yaml", "0.10", "5")
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    rate_line = "param max_return_rate: 0.15 -> 0.10"
    orders_line = "param min_orders_for_return_rate: 10 -> 5"
    kinds = set()
    for _, r in _return_rate_moves(d):
        assert (r["old_status"], r["new_status"]) == ("passed", "fired"), r
        orders, rate = r["new_figures"]["orders_12m"], r["new_figures"]["return_rate"]
        if orders >= 10:
            want = [rate_line]
        elif rate > 0.15:
            want = [orders_line]
        else:
            want = [rate_line, orders_line]
        assert r["causes"] == want, r
        kinds.add(len(want))
    assert kinds == {1, 2}


def test_runs_a_move_that_needed_the_data_and_the_param_names_both(tmp_path: Path) -> None:
    # run 1: CUST-0002 8 orders, 1 return (under the minimum of 10); run 2:
    # max_return_rate 0.15 -> 0.10 and 16 orders, 2 returns (12.5% both
    # times): neither change alone makes the rule fire
    db = tmp_path / "runs.db"
    table = rows()
    for r in table:
        if r["customer_id"] == "CUST-0002":
            r["orders_12m"], r["returns_12m"] = "8", "1"
    evaluate(DEFAULT, write_rows(tmp_path / "nov.csv", table), AS_OF, db)
    new = variant(tmp_path, "rate10.yaml", "max_return_rate: 0.15", "max_return_rate: 0.10")
    new.write_text(new.read_text(encoding="utf-8").replace('version: "2026.11"',
                                                           'version: "2026.12"'),
                   encoding="utf-8")
    for r in table:
        if r["customer_id"] == "CUST-0002":
            r["orders_12m"], r["returns_12m"] = "16", "2"
    evaluate(new, write_rows(tmp_path / "dec.csv", table), "2026-12-01", db)
    d = diff_json("--run", "1", "--run", "2", "--db", str(db))
    moved = rule(d, "moved", "CUST-0002", "high-return-rate")
    assert (moved["old_status"], moved["new_status"]) == ("passed", "fired")
    assert moved["causes"] == ["fact orders_12m: 8 -> 16", "fact returns_12m: 1 -> 2",
                               "param max_return_rate: 0.15 -> 0.10", TOGETHER]
    # a customer whose data did not change moved by the param alone
    same = [r for m, r in _return_rate_moves(d) if m["customer_id"] != "CUST-0002"]
    assert same and all(r["causes"] == ["param max_return_rate: 0.15 -> 0.10"]
                        for r in same)


def test_runs_either_change_alone_would_have_moved_it_names_both(tmp_path: Path) -> None:
    # late payments 2 -> 6 and late_payment_limit 3 -> 2: each alone makes
    # the rule fire, so both are named (not "together")
    db = tmp_path / "runs.db"
    table = rows()
    for r in table:
        if r["customer_id"] == "CUST-0002":
            r["late_payments_12m"] = "2"
    evaluate(DEFAULT, write_rows(tmp_path / "nov.csv", table), AS_OF, db)
    new = variant(tmp_path, "lp2.yaml", "late_payment_limit: 3", "late_payment_limit: 2")
    for r in table:
        if r["customer_id"] == "CUST-0002":
            r["late_payments_12m"] = "6"
    evaluate(new, write_rows(tmp_path / "dec.csv", table), "2026-12-01", db)
    d = diff_json("--run", "1", "--run", "2", "--db", str(db))
    moved = rule(d, "moved", "CUST-0002", "late-payments")
    assert moved["causes"] == ["fact late_payments_12m: 2 -> 6",
                               "param late_payment_limit: 3 -> 2"]


def test_runs_strikes_recorded_in_between_are_named_with_a_changed_rule(
        tmp_path: Path) -> None:
    # run 1 (Nov): CUST-0002 has 1 late payment; run 2 (Dec): 6, a strike;
    # run 3 (Jan): still 6. Between runs 1 and 3 the rule changed (passed ->
    # fired) and the strike of run 2 is counted: the line names it
    db = tmp_path / "runs.db"
    table = rows()
    for as_of, late in ((AS_OF, "1"), ("2026-12-01", "6"), ("2027-01-01", "6")):
        for r in table:
            if r["customer_id"] == "CUST-0002":
                r["late_payments_12m"] = late
        evaluate(DEFAULT, write_rows(tmp_path / f"{as_of}.csv", table), as_of, db)
    d = diff_json("--run", "1", "--run", "3", "--db", str(db))
    (m,) = [m for s in ("moved", "changed_base", "changed_reasons") for m in d[s]
            if m["customer_id"] == "CUST-0002"]
    assert [r["rule"] for r in m["rules"]] == ["late-payments"]
    lines = [o for o in m["other"] if o.startswith("strikes counted: ")]
    assert lines == ["strikes counted: 0 -> 2 (active: late-payments (2026-12-01), "
                     "late-payments (2027-01-01))"]
    # run 1 -> 2: the one strike counted is the changed rule's own: no line
    d = diff_json("--run", "1", "--run", "2", "--db", str(db))
    (m,) = [m for s in ("moved", "changed_base", "changed_reasons") for m in d[s]
            if m["customer_id"] == "CUST-0002"]
    assert (m["old_strikes"], m["new_strikes"]) == (0, 1) and m["rules"]
    assert not [o for o in m["other"] if o.startswith("strikes counted")]


def test_a_referral_change_names_only_the_param_that_moved_it(tmp_path: Path) -> None:
    # big_revenue lowered (more referrals) and the referral's order minimum
    # raised from 0 to 1 (fewer, but every customer so referred has orders):
    # only big_revenue is named
    text = DEFAULT.read_text(encoding="utf-8")
    text = text.replace("    - when: outgrown\n",
                        "    - when: revenue_12m > big_revenue and orders_12m >= ref_orders\n")
    text = text.replace("  late_payment_limit: 3\n", "  late_payment_limit: 3\n"
                        "  big_revenue: 10000000\n  ref_orders: 0\n")
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(text, encoding="utf-8")
    new.write_text(text.replace("big_revenue: 10000000", "big_revenue: 20000")
                   .replace("ref_orders: 0", "ref_orders: 1"), encoding="utf-8")
    d = diff_json(str(old), str(new), "--source", SOURCE, "--as-of", AS_OF)
    assert len(d["changed_dates"]) > 100
    assert all(x["causes"] == ["param big_revenue: 10000000 -> 20000"]
               for x in d["changed_dates"])
