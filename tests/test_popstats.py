"""Population accumulators (engine.popstats): added one customer at a time,
split and merged in any way, they give exactly the statistics of the
in-memory Population (same digits, same key order), in little memory."""

from __future__ import annotations

import datetime as dt
import pickle
import random
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adieu import exactvalues, jsontext
from adieu.decide import make_contexts
from adieu.facts import Record
from adieu.policy import compile_policy
from adieu.popstats import accumulators, population_stats

AS_OF = dt.date(2026, 11, 1)

POLICY = """\
version: 1
name: popstats
params:
  p: 90
derive:
  per_k: revenue_12m / 7
  p_ref: percentile(revenue_12m, p)
  above: revenue_12m - mean(per_k)
rules:
  - id: big
    when: revenue_12m > p_ref and percentile(per_k, 37.5) < 10 and percentile(revenue_12m, 0) > 0
    action: flag
  - id: mean
    when: revenue_12m > mean(revenue_12m) and share(outgrown) >= 0.5
    action: flag
  - id: nested
    when: percentile(above, 50) > 0 and share(above > 0) > 0.1 and percentile(revenue_12m, 100) > 0
    action: flag
"""


@pytest.fixture(scope="module")
def policy():
    return compile_policy(POLICY, "popstats.yaml")


def _records(values: list, flags: list | None = None) -> list[Record]:
    out = []
    for i, v in enumerate(values):
        facts = {"customer_id": f"C{i}"}
        if v is not None:
            facts["revenue_12m"] = v
        flag = flags[i % len(flags)] if flags else None
        if flag is not None:
            facts["outgrown"] = flag
        out.append(Record(facts))
    return out


def _reference(policy, records):
    _, population = make_contexts(policy, records, AS_OF)
    return population.compute_all()


def _accumulate(policy, records, known=None):
    acc = accumulators(policy, AS_OF, known)
    for r in records:
        acc.add(r)
    return acc


def _in_pieces(policy, records, cuts: list[int], order: list[int] | None = None):
    """Every pass accumulated in contiguous pieces, pickled (as Dask ships
    them) and merged; order: the pieces' merge order."""
    bounds = [0, *sorted(c % (len(records) + 1) for c in cuts), len(records)]
    pieces = [records[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    order = order if order is not None else list(range(len(pieces)))
    known = None
    while True:
        parts = [pickle.loads(pickle.dumps(_accumulate(policy, pieces[i], known)))
                 for i in order]
        total = parts[0]
        for part in parts[1:]:
            total.merge(part)
        if total.complete:
            return total.stats()
        known = total.stats()


def _same(got, want) -> None:
    assert jsontext.dumps(got) == jsontext.dumps(want)  # same digits, same key order
    assert got == want


coefficients = st.integers(min_value=0, max_value=10 ** 28)
exact_decimals = st.builds(lambda sign, c, e: Decimal((sign, tuple(int(d) for d in str(c)), e)),
                           st.integers(0, 1), coefficients, st.integers(-60, 20))
tied = st.sampled_from([0, Decimal("0"), Decimal("-0.0"), Decimal("0.00"), 1, Decimal("1.0"),
                        Decimal("1.00"), Decimal("-1"), Decimal("2.5"), Decimal("2.50"),
                        Decimal("1E+2"), 100, Decimal("1e-60"), Decimal("-1e-60"),
                        Decimal("12345678901234567890.123456789"),
                        Decimal("12345678901234567890.123456788"), 10 ** 40, -(10 ** 40),
                        Decimal("9" * 28 + "E+30"), None])
values = st.one_of(exact_decimals, st.integers(-(10 ** 30), 10 ** 30), tied, st.none())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(values, max_size=60), st.lists(st.booleans() | st.none(), max_size=5),
       st.lists(st.integers(0, 100), max_size=5), st.randoms(use_true_random=False))
def test_pieces_merged_give_the_in_memory_statistics(policy, vals, flags, cuts, rnd) -> None:
    records = _records(vals, flags)
    want = _reference(policy, records)
    _same(_in_pieces(policy, records, cuts), want)
    # pieces merged in another order: the same as the records in that order
    bounds = [0, *sorted(c % (len(records) + 1) for c in cuts), len(records)]
    pieces = [records[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    order = list(range(len(pieces)))
    rnd.shuffle(order)
    shuffled = [r for i in order for r in pieces[i]]
    _same(_in_pieces(policy, records, cuts, order), _reference(policy, shuffled))


@settings(max_examples=40, deadline=None)
@given(st.lists(values, min_size=1, max_size=400), st.randoms(use_true_random=False))
def test_spilled_values_give_the_same_statistics(policy, vals, rnd) -> None:
    """Past SPILL_BYTES the exact values move to a temporary file; lines
    split across the file and the buffer stay whole."""
    records = _records(vals, [True, False, None])
    saved = exactvalues.SPILL_BYTES
    exactvalues.SPILL_BYTES = rnd.randint(1, 200)
    try:
        got = _in_pieces(policy, records, [rnd.randint(0, 400) for _ in range(3)])
    finally:
        exactvalues.SPILL_BYTES = saved
    _same(got, _reference(policy, records))


@pytest.mark.parametrize("vals, p90", [
    ([], None),                                       # nobody: no figure
    ([None, None], None),                             # all unknown
    ([Decimal("-3.50")], Decimal("-3.50")),           # one value: itself, as written
    ([100, 200, 300, 400, 1000], 760),                # 400 + 0.6 * 600
    ([Decimal("1.0"), 1, Decimal("1.00")] * 4, Decimal("1.0000")),  # ties: stable order
])
def test_examples(policy, vals, p90) -> None:
    records = _records(vals, [True])
    stats = _accumulate(policy, records).next_pass().stats()
    want = _reference(policy, records)
    _same(population_stats(policy, AS_OF, lambda: records), want)
    assert stats["percentile(revenue_12m, p)"]["value"] == p90
    assert stats["percentile(revenue_12m, p)"]["n"] == sum(v is not None for v in vals)


def test_many_equal_values_written_differently(policy) -> None:
    """Over 4,096 values with one float image (the radix select runs all
    its passes; the exact order is found by scanning): the stable order
    still picks the value as written at that rank."""
    rnd = random.Random(3)
    tied = [1, Decimal("1.0"), Decimal("1.00"), Decimal("1.000000000000000000000000001")]
    vals = [rnd.choice(tied) for _ in range(6000)] + [Decimal(rnd.randint(-50, 50)) / 3
                                                       for _ in range(600)]
    rnd.shuffle(vals)
    records = _records(vals, [True, False])
    _same(_in_pieces(policy, records, [1000, 3000, 3001]), _reference(policy, records))


def test_an_integer_past_the_float_range_keeps_its_place() -> None:
    from adieu.exactvalues import ExactValues

    store = ExactValues()
    for v in [10 ** 400, 5, -(10 ** 400), Decimal("1e400"), 10 ** 401]:
        store.add(v)
    assert store.select([0, 1, 2, 3, 4]) == [-(10 ** 400), 5, 10 ** 400, Decimal("1e400"),
                                             10 ** 401]


def test_a_sum_too_long_for_exact_digits_is_a_problem_not_a_rounded_mean(policy) -> None:
    records = _records([Decimal("1e50"), Decimal("1e-50")])
    stats = population_stats(policy, AS_OF, lambda: records)
    assert stats["mean(revenue_12m)"]["value"] is None
    assert stats["mean(revenue_12m)"]["problem"]
    _same(stats, _reference(policy, records))


def test_nested_figures_take_a_second_pass(policy) -> None:
    first = accumulators(policy, AS_OF)
    assert not first.complete
    assert "percentile(above, 50)" not in first.calls
    assert "mean(per_k)" in first.calls
    second = _accumulate(policy, _records([1, 2, 3])).next_pass()
    assert second.calls == ["percentile(above, 50)", "share(above > 0)"]
    assert second.complete


def test_unpickled_accumulators_need_the_policy_to_add(policy) -> None:
    acc = pickle.loads(pickle.dumps(_accumulate(policy, _records([1, 2]))))
    with pytest.raises(ValueError, match="attach"):
        acc.add(_records([3])[0])
    acc.attach(policy).add(_records([3])[0])
    assert acc.stats()["mean(revenue_12m)"]["value"] == 2


def test_merging_accumulators_of_different_passes_is_refused(policy) -> None:
    first = _accumulate(policy, _records([1, 2]))
    with pytest.raises(ValueError, match="different passes"):
        first.merge(first.next_pass())


MEMORY_SCRIPT = """
import datetime as dt, sys, tracemalloc
from decimal import Decimal
from adieu import decimals
from adieu.policy import compile_policy
from adieu.popstats import accumulators
n, traced = int(sys.argv[1]), sys.argv[2] == "traced"
policy = compile_policy("version: 1\\nname: m\\nrules:\\n  - id: r\\n    when: revenue_12m > "
                        "percentile(revenue_12m, 90) and revenue_12m > mean(revenue_12m)\\n"
                        "    action: flag\\n", "m.yaml")
acc = accumulators(policy, dt.date(2026, 11, 1))
if traced:
    tracemalloc.start()
def status(field):  # kB; VmHWM is this program's peak (ru_maxrss keeps the forking parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
before = status("VmRSS")
seven = Decimal(7)
for i in range(n):  # every value its own Decimal, k / 7 for k = 0 .. n - 1, shuffled
    acc.add({"revenue_12m": Decimal(i * 7919 % n) / seven})
stats = acc.stats()
grew = (status("VmHWM") - before) * 1024
peak = tracemalloc.get_traced_memory()[1] if traced else grew
lo = (n - 1) * 9 // 10  # rank (n - 1) * 0.9 = lo + 0.1: k = lo, then lo + 1, at 0.1
a, b = decimals.divide(lo, 7), decimals.divide(lo + 1, 7)
p90 = decimals.add(a, decimals.multiply(decimals.subtract(b, a), Decimal("0.1")))
assert stats["percentile(revenue_12m, 90)"] == {
    "kind": "percentile", "name": "revenue_12m", "n": n, "p": 90, "value": p90}, stats
assert stats["mean(revenue_12m)"]["value"] == decimals.divide(n - 1, 14), stats
print(peak)
"""


@pytest.mark.parametrize("n, traced, limit_mb", [(100_000, "traced", 5),
                                                 (1_000_000, "rss", 30)])
def test_values_are_kept_in_little_memory(n, traced, limit_mb) -> None:
    """Values with 28 significant digits (like the default policy's staff
    hours per 1k, a quotient), stats included: about 30 bytes a value
    (tracemalloc at 100,000; peak RSS growth at 1,000,000 under 30 MB,
    where a list of the Decimals alone takes over 100 MB)."""
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(n), traced],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    peak = int(done.stdout)
    assert peak < limit_mb * 2 ** 20, f"peak {peak / 2 ** 20:.1f} MB"
