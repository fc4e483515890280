"""Per-customer evaluation with facts in memory (no I/O), one child process
of bench/bench_scale.py.

    python bench/inmemory.py SAMPLE.csv [--repeat 3] [--as-of 2026-11-01]

Reads SAMPLE.csv once into each evaluator's own in-memory form (not timed),
then times, as CPU seconds (time.process_time, best of --repeat), deciding
every customer of the sample:

  handwritten   bench/baseline.py's decide() (imported by path): the p90 pass
                and decide() per customer, reasons rendered;
  adieu_decide  adieu's public path: engine.decide.make_contexts, the
                population pass, decide() per customer (the compiled policy
                when decide() uses engine/codegen.py, the closures before);
  closures      the reference closures alone: every rule's, exemption's,
                hold's and referral's `when` closure per customer (derived
                facts as they need them; the population pass too);
  compiled      engine/codegen.py's compile_policy_code(policy).fn(facts,
                as_of, population) per customer (the same conditions and
                every derived fact; the population pass too), when that
                module exists (else "not available");
  zen           bench/zen_policy.py's JDM graph in zen-engine (the `bench`
                extra), one ZenDecision.evaluate per customer.

Prints one JSON line: seconds per customer per evaluator (null when not
available, with a note), the number of customers, and per evaluator the
customers whose outcome differs from the hand-written one's.
"""

from __future__ import annotations

import array
import datetime as dt
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POLICY = ROOT / "policies" / "default.yaml"


def load_baseline() -> Any:
    """bench/baseline.py as a module (it stays free of adieu imports)."""
    spec = importlib.util.spec_from_file_location("adieu_bench_baseline", HERE / "baseline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def baseline_rows(b: Any, path: str) -> tuple[list[str], dict[str, int], list[list[Any]]]:
    """The header, the baseline's fact index and its accepted rows (typed values)."""
    f, reader, header = b.rows_of(path)
    coerce = b.make_coerce(header)
    index = {k: header.index(c) for k, c in b.NEEDED.items()}
    seen: set[str] = set()
    rows = []
    with f:
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            try:
                values = coerce(cells)
            except b.Bad:
                continue
            cid = values[index["id"]]
            if not cid or cid in seen:
                continue
            seen.add(cid)
            rows.append(values)
    return header, index, rows


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The least CPU seconds of `repeat` calls, and the last call's result."""
    least, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        least = min(least, time.process_time() - start)
    return least, result


def main() -> None:
    args = sys.argv[1:]
    path = args[0]
    repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 3
    as_of = dt.date.fromisoformat(args[args.index("--as-of") + 1]) if "--as-of" in args \
        else dt.date(2026, 11, 1)
    out: dict[str, Any] = {"notes": {}, "disagree": {}}
    b = load_baseline()
    header, index, rows = baseline_rows(b, path)
    n = len(rows)
    out["customers"] = n

    def handwritten() -> dict[str, str]:
        facts = [b.Facts(v, index) for v in rows]
        per_1k = array.array("d")
        for f in facts:
            _, p = b.derive_staff(f)
            if p is not None:
                per_1k.append(p)
        p90 = b.percentile(per_1k, b.STAFF_TIME_PERCENTILE)
        return {f["id"]: b.decide(f, p90, as_of)[0] for f in facts}

    sec, reference = best(handwritten, repeat)
    out["handwritten"] = sec / n if n else None

    from adieu.decide import decide, make_contexts
    from adieu.intake import read_records
    from adieu.policy import load_policy
    from adieu_plugins.csv_source import read_csv

    policy = load_policy(POLICY)
    records = read_records(read_csv(path), policy.facts).records

    def contexts() -> list[Any]:
        ctxs, population = make_contexts(policy, records, as_of)
        population.compute_all()
        return ctxs

    def adieu_decide() -> dict[str, str]:
        return {d.customer_id: d.outcome for d in
                (decide(policy, ctx, as_of) for ctx in contexts())}

    sec, outcomes = best(adieu_decide, repeat)
    out["adieu_decide"] = sec / n if n else None
    out["disagree"]["adieu_decide"] = disagreements(reference, outcomes)

    whens = [r.when.fn for r in policy.rules] + \
        [e.when.fn for e in policy.exemptions if e.when is not None] + \
        [h.when.fn for h in policy.holds] + \
        [r.when.fn for r in policy.timing.referrals if r.when is not None]

    def closures() -> None:
        for ctx in contexts():
            for fn in whens:
                ctx.missing, ctx.problems = set(), []
                fn(ctx)

    sec, _ = best(closures, repeat)
    out["closures"] = sec / n if n else None

    out["compiled"], out["notes"]["compiled"] = compiled(policy, contexts, repeat, n,
                                                             as_of)
    out["zen"], out["notes"]["zen"], zen_outcomes = zen(b, header, rows, index, as_of,
                                                        repeat, n)
    if zen_outcomes is not None:
        out["disagree"]["zen"] = disagreements(reference, zen_outcomes)
    print(json.dumps(out))


def compiled(policy: Any, contexts: Callable[[], list[Any]], repeat: int,
             n: int, as_of: dt.date) -> tuple[float | None, str]:
    """Seconds per customer of engine/codegen.py's compiled policy, or None
    and why not. compile_policy_code(policy) gives an object whose `fn` is
    called fn(facts, as_of, population) (engine/codegen.py's docstring);
    a plain callable is called with the context."""
    if importlib.util.find_spec("adieu.codegen") is None:
        return None, "engine/codegen.py not present"
    try:
        from adieu import codegen

        code = codegen.compile_policy_code(policy)
        fn = getattr(code, "fn", None)

        def run() -> None:
            ctxs = contexts()
            population = ctxs[0].population if ctxs else None
            if fn is not None:
                for ctx in ctxs:
                    fn(ctx.facts, as_of, population)
            else:
                for ctx in ctxs:
                    code(ctx)

        sec, _ = best(run, repeat)
    except Exception as exc:  # report, never fail the bench
        return None, f"codegen: {type(exc).__name__}: {exc}"[:200]
    how = ".fn(facts, as_of, population)" if fn is not None else "(ctx)"
    return (sec / n if n else None), f"compile_policy_code(policy){how} per customer, " \
        "population pass"


def zen(b: Any, header: list[str], rows: list[list[Any]], index: dict[str, int],
        as_of: dt.date, repeat: int, n: int) \
        -> tuple[float | None, str, dict[str, str] | None]:
    """Seconds per customer of zen-engine running bench/zen_policy.py's graph,
    a note, and its outcomes by customer id (None when zen-engine is absent)."""
    sys.path.insert(0, str(HERE))
    from zen_policy import make_decision

    try:
        decision = make_decision()
    except ImportError:
        return None, "zen-engine not installed (pip install -e '.[bench]')", None
    per_1k = [p for p in (b.derive_staff(b.Facts(v, index))[1] for v in rows)
              if p is not None]
    p90 = b.percentile(per_1k, b.STAFF_TIME_PERCENTILE)
    inputs = []
    for values in rows:
        ctx = {h: (v.isoformat() if isinstance(v, dt.date) else v)
               for h, v in zip(header, values, strict=True)}
        ctx["as_of"] = as_of.isoformat()
        ctx["staff_hours_per_1k_p90"] = p90
        inputs.append(ctx)

    def run() -> dict[str, str]:
        return {ctx["customer_id"]: decision.evaluate(ctx)["result"]["outcome"]
                for ctx in inputs}

    try:
        sec, outcomes = best(run, repeat)
    except Exception as exc:  # report, never fail the bench
        return None, f"zen: {type(exc).__name__}: {exc}"[:200], None
    return (sec / n if n else None), "derived facts, rules, ladder (no reasons text)", outcomes


def disagreements(reference: dict[str, str], other: dict[str, str]) -> int:
    """Customers whose outcome differs (or who are in only one of the two)."""
    return sum(1 for k in reference.keys() | other.keys() if reference.get(k) != other.get(k))


if __name__ == "__main__":
    main()
