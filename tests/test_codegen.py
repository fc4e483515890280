"""The generated code of a policy (engine/codegen.py, used by decide) and the
reference closures (engine/expr.py, decide_reference.reference_decide)
agree: on every customer of every shipped example policy, with and without
memory of earlier runs; on random policies and facts (hypothesis); and the
generated source never holds text from the policy."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import random
import re
import sys
import textwrap
import tokenize
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adieu import codegen
from adieu.codegen import compile_policy_code, compiled_code
from adieu.decide import decide, make_contexts
from adieu.decide_reference import reference_decide
from adieu.expr import UNKNOWN, Context, ExtraFunction
from adieu.intake import read_records
from adieu.ledger import Memory, PardonedStrike, Strike
from adieu.policy import Exemption, Policy, canonical_facts, compile_policy, load_policy
from adieu.run import open_source
from adieu.store import decision_row

REPO = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)
sys.path.insert(0, str(Path(__file__).parent))
import conftest  # noqa: E402
import test_decide  # noqa: E402


def billing_functions() -> dict[str, ExtraFunction]:
    """fx_to_eur from the example plugin, imported by path (not installed)."""
    path = REPO / "examples" / "plugins" / "adieu-billing" / "adieu_billing" / "__init__.py"
    spec = importlib.util.spec_from_file_location("adieu_billing_for_codegen", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"fx_to_eur": ExtraFunction("fx_to_eur", module.fx_to_eur, "number", 2, 2)}


def shipped_policies() -> list[tuple[str, Policy]]:
    out = [(p.name, load_policy(p)) for p in sorted((REPO / "policies").glob("*.yaml"))
           if not p.name.endswith(".test.yaml")]  # policy tests (adieu test), not policies
    out.append(("scenario", load_policy(REPO / "examples" / "scenario" / "scenario.yaml")))
    out.append(("billing", load_policy(REPO / "examples" / "plugins" / "adieu-billing"
                                       / "policy.yaml", billing_functions())))
    out.append(("conftest", compile_policy(conftest.POLICY)))
    out.append(("test_decide", compile_policy(test_decide.POLICY)))
    return out


def records_of(path: Path, policy: Policy) -> list[Any]:
    records, mapping = open_source(f"csv:{path}", AS_OF, None, None, policy.facts)
    return read_records(records, policy.facts, mapping).records


def datasets(tmp: Path, policy: Policy) -> list[list[Any]]:
    fixture = tmp / "fixture.csv"
    fixture.write_text("\n".join([conftest.CSV_HEADER, *conftest.CSV_ROWS]) + "\n",
                       encoding="utf-8")
    snapshots = sorted((REPO / "examples" / "scenario" / "snapshots").glob("*.csv"))
    out = [records_of(REPO / "examples" / "customers.csv", policy), records_of(fixture, policy)]
    out += [records_of(p, policy) for p in snapshots[::4]]
    for records in out:  # the billing policy's currency fact, known or not
        for i, r in enumerate(records):
            r.facts.setdefault("currency", ("EUR", "USD", "GBP", "XYZ", None)[i % 5])
    return out


def memory_for(policy: Policy, cid: str, rng: random.Random) -> Memory:
    """Earlier strikes (old, in the cool-down, expired, of this very date, of
    a rule the policy no longer has), registry exemptions (live, expired,
    for some rules or all) and pardons of the as-of date."""
    ids = [r.id for r in policy.rules] + ["retired-rule"]
    strikes = [Strike(rng.choice(ids), AS_OF - dt.timedelta(days=rng.choice(
        (0, 3, 20, 40, 100, 200, 400)))) for _ in range(rng.randrange(4))]
    exemptions = [Exemption(f"registry-{k}", None, frozenset([cid]),
                            rng.choice((None, frozenset(rng.sample(ids, 2)))), "reason",
                            "approver", AS_OF + dt.timedelta(days=rng.choice((-5, 0, 30))),
                            "registry") for k in range(rng.choice((0, 0, 1, 2)))]
    pardoned = [PardonedStrike(rng.choice(ids), AS_OF, "Ann Lee")
                for _ in range(rng.choice((0, 0, 1)))]
    return Memory(strikes, exemptions, None, pardoned)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type, written the same (Decimal 1.0 is not 1.00)."""
    if a is UNKNOWN or b is UNKNOWN:
        return a is b
    return type(a) is type(b) and a == b and str(a) == str(b)


def assert_agree(policy: Policy, records: list[Any], as_of: dt.date = AS_OF,
                 memories: dict[str, Memory] | None = None) -> int:
    """Every rule status, derived value and the whole Decision agree;
    returns how many customers were compared."""
    contexts, population = make_contexts(policy, records, as_of)
    population.compute_all()
    fn = compiled_code(policy).fn
    for ctx in contexts:
        fired, unknown, _, _, _, derived = fn(ctx.facts, as_of, population)
        ref = Context(ctx.facts, as_of, population, policy.derive_fns)
        for (name, _), value in zip(policy.derive.items(), derived, strict=True):
            assert same(value, ref.value_of(name)), (name, value, ref.value_of(name))
        statuses = {i: ("fired", m, p) for i, m, p in fired} | \
            {i: ("unknown", m, p) for i, m, p in unknown}
        for i, rule in enumerate(policy.rules):
            ref.missing, ref.problems = set(), []
            value = rule.when.fn(ref)
            want = "unknown" if value is UNKNOWN else ("fired" if value is True else "passed")
            got = statuses.get(i, ("passed", set(), []))
            assert got[0] == want, (rule.id, ctx.facts)
            if want != "passed":
                assert (sorted(got[1]), list(got[2])) == (sorted(ref.missing), ref.problems)
        memory = (memories or {}).get(ctx.facts["customer_id"])
        mine = decide(policy, ctx, as_of, memory)
        theirs = reference_decide(policy, Context(ctx.facts, as_of, population,
                                                  policy.derive_fns), as_of, memory)
        assert mine == theirs
        assert decision_row(mine, ctx.facts, None, None) == \
            decision_row(theirs, ctx.facts, None, None)
    return len(contexts)


@pytest.mark.parametrize("name", [n for n, _ in shipped_policies()])
def test_shipped_policies_agree_on_every_customer(name: str, tmp_path: Path) -> None:
    policy = dict(shipped_policies())[name]
    rng = random.Random(name)
    total = 0
    for records in datasets(tmp_path, policy):
        total += assert_agree(policy, records)
        memories = {r.facts["customer_id"]: memory_for(policy, r.facts["customer_id"], rng)
                    for r in records}
        total += assert_agree(policy, records, memories=memories)
    assert total > 800


def test_generated_code_is_kept_on_the_policy() -> None:
    policy = load_policy("default")
    assert compiled_code(policy) is compiled_code(policy)
    assert compiled_code(policy).fallbacks == 0


def test_too_deep_an_expression_falls_back_to_its_closure(monkeypatch: Any) -> None:
    # expressions nest at most exprparse.MAX_DEPTH levels; the generated code's
    # own bound is lowered here so that the fallback is still reached
    monkeypatch.setattr(codegen, "MAX_DEPTH", 8)
    deep = "revenue_12m" + "".join(f" + (orders_12m * {i}" for i in range(12)) + ")" * 12
    policy = compile_policy(textwrap.dedent(f"""\
        version: 1
        name: deep
        derive:
          deep_sum: {deep}
        rules:
          - id: deep
            title: Deep
            when: {deep} > 100
            action: flag
          - id: via-derived
            title: Via derived
            when: deep_sum > 5 and revenue_12m > 0
            action: flag
        """))
    code = compile_policy_code(policy)
    assert code.fallbacks == 2
    facts = [{"customer_id": f"C{i}", "revenue_12m": rev, "orders_12m": orders}
             for i, (rev, orders) in enumerate([(Decimal("1.5"), 2), (None, 1), (5, None),
                                                 (0, 0), (Decimal("-99999"), 1)])]
    from adieu.facts import Record
    assert assert_agree(policy, [Record(f, None, None) for f in facts]) == 5


# -- generated source holds no policy text ------------------------------------

HOSTILE = ["\"); __import__('os').system('echo pwned') #", "'''\n__import__('os')\n'''",
           "a\nb\\\"c", "{__import__}", "\\x00\x7f", "${facts}"]


def hostile_policy() -> str:
    """A policy (as JSON, which is YAML) whose names and strings try to
    break out of generated code: quotes, newlines, NUL, __import__, and
    names the generator itself uses (_k0, _d0, facts, ctx, population)."""
    def lit(s: str) -> str:
        return repr(s)  # a string literal of the expression language (Python's)

    either = " or ".join(f"tier == {lit(s)}" for s in HOSTILE)
    policy = {
        "version": 1, "name": "hostile",
        "facts": {"facts": {"type": "number"}, "_f0": {"type": "string"}},
        "params": {"__import__": HOSTILE[0], "_k0": HOSTILE[1], "u": 3, "ctx": HOSTILE[2]},
        "derive": {"_d0": "facts * u", "population": "coalesce(facts, u) + 1"},
        "rules": [
            {"id": "a-rule", "title": HOSTILE[3], "action": "flag",
             "when": f"{either} or _f0 == __import__ or _f0 in [{', '.join(map(lit, HOSTILE))}]"
                     " or ctx == tier",
             "explain": "{__import__} {_k0} {_d0} {population}"},
            {"id": "b.rule", "title": "t", "action": "strike",
             "when": "_d0 > population and tier == _k0"},
        ],
        "exemptions": [{"id": "ex-1", "when": f"_f0 == {lit(HOSTILE[4])}", "reason": HOSTILE[5],
                        "approver": HOSTILE[0], "expires": "2030-01-01"}],
        "holds": [{"id": "h", "when": "tier == ctx", "reason": HOSTILE[1]}],
    }
    return json.dumps(policy)


def test_generated_source_holds_no_policy_text() -> None:
    policy = compile_policy(hostile_policy())
    code = compile_policy_code(policy)
    assert HOSTILE[0] in code.constants  # the strings are there, as constants only
    # Every name in the source is one the generator makes, and the only
    # string literals are its own few words.
    allowed_names = {"facts", "as_of", "population", "ctx", "U", "True", "False", "None",
                     "set", "str", "repr", "type", "int", "isinstance", "TypeError",
                     "ValueError", "ArithmeticError", "ZeroDivisionError", "add", "append",
                     "days", "value", "get"}
    strings = set()
    for tok in tokenize.generate_tokens(io.StringIO(code.source).readline):
        if tok.type == tokenize.NAME and not re.fullmatch(
                r"_[a-zA-Z]+[0-9]*|def|return|if|elif|else|try|except|as|is|not|or|and|in",
                tok.string):
            assert tok.string in allowed_names, tok.string
        if tok.type == tokenize.STRING:
            strings.add(tok.string)
    assert strings <= {"'cannot compare '", "' and '", "' in '"}
    for s in [*HOSTILE, "a-rule", "b.rule", "ex-1", "tier", "__import__", "_d0 > population",
              "facts * u"]:
        assert s not in code.source, s
    from adieu.facts import Record
    rows = [{"customer_id": "1", "tier": HOSTILE[0], "_f0": HOSTILE[0], "facts": 2},
            {"customer_id": "2", "tier": HOSTILE[2], "_f0": None, "facts": None},
            {"customer_id": "3", "tier": HOSTILE[1], "_f0": HOSTILE[4],
             "facts": Decimal("0.5")}]
    assert assert_agree(policy, [Record(r, None, None) for r in rows]) == 3
    decision = decide(policy, make_contexts(policy, [Record(rows[0], None, None)], AS_OF)[0][0],
                      AS_OF)
    assert decision.fired[0].explanation.startswith(HOSTILE[0])


# -- random policies and facts ---------------------------------------------------

FACTS = canonical_facts()
BY_TYPE: dict[str, list[str]] = {}
for _name, _type in FACTS.items():
    BY_TYPE.setdefault({"integer": "number"}.get(_type, _type), []).append(_name)
NUMS = [n for n in BY_TYPE["number"] if n != "annual_revenue"][:12]
INTS = [n for n, t in FACTS.items() if t == "integer"][:8]
BOOLS, DATES = BY_TYPE["boolean"], BY_TYPE["date"]
STRS = ["tier", "industry", "country"]
PARAMS = {"p_rate": "45", "p_ratio": "0.25", "p_neg": "-3", "p_big": "1" + "0" * 40,
          "p_word": '"strategic"'}
WORDS = ["strategic", "standard", "", "Café", "x'y"]


def literal_num() -> st.SearchStrategy[str]:
    return st.sampled_from(["0", "1", "2", "3", "0.5", "1.10", "100", "-7", "0.001",
                            "12345678901234567890.5", "p_rate", "p_ratio", "p_neg", "p_big"])


def num_expr(derived: list[str]) -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from(NUMS), literal_num(),
                       *([st.sampled_from(derived)] if derived else []),
                       st.sampled_from([f"percentile({n}, {p})" for n in NUMS[:3]
                                        for p in (0, 50, 90)] + [f"mean({NUMS[0]})",
                                                                 f"share({BOOLS[0]})"]),
                       st.sampled_from([f"days_since({d})" for d in DATES]
                                       + [f"days_until({d})" for d in DATES]
                                       + [f"({DATES[0]} - {DATES[1]})"]),
                       # a conditional's branches have one type (a mixed one is
                       # refused at validate: tests/test_expr_bounds.py)
                       st.sampled_from([f"({NUMS[0]} if {BOOLS[0]} else 3)",
                                        f"(days_since({DATES[1]}) if {BOOLS[2]} else "
                                        f"{NUMS[1]})"]))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "//"]), inner)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"-({e})"),
            inner.map(lambda e: f"abs({e})"),
            st.tuples(inner, st.sampled_from(["0", "2", "-1", INTS[0], NUMS[2]]))
            .map(lambda t: f"round({t[0]}, {t[1]})"),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: f"min({', '.join(xs)})"),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: f"max({', '.join(xs)})"),
            st.lists(inner, min_size=1, max_size=3)
            .map(lambda xs: f"coalesce({', '.join(xs)})"),
            st.tuples(bool_leaf(), inner, inner).map(lambda t: f"({t[1]} if {t[0]} else {t[2]})"),
        )
    return st.recursive(leaves, extend, max_leaves=8)


def bool_leaf() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(BOOLS + ["true", "false"]),
                     st.sampled_from([f"is_missing({n})" for n in NUMS[:4] + DATES[:1]]),
                     st.sampled_from([f'{s} == "{w}"' for s in STRS for w in WORDS[:2]]
                                     + [f'{s} in ["strategic", "Café"]' for s in STRS]
                                     + ["tier != p_word",
                                        f'{DATES[0]} < date("2026-06-01")',
                                        f"{DATES[0]} + {INTS[0]} > {DATES[1]}",
                                        f"{DATES[0]} + {NUMS[0]} > {DATES[1]}"]))


def bool_expr(derived: list[str]) -> st.SearchStrategy[str]:
    nums = num_expr(derived)
    compare = st.tuples(nums, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), nums) \
        .map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    chain = st.tuples(nums, nums, nums).map(lambda t: f"{t[0]} < {t[1]} <= {t[2]}")
    leaves = st.one_of(bool_leaf(), compare, chain)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " and ".join(xs) + ")"),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " or ".join(xs) + ")"),
            inner.map(lambda e: f"not ({e})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[1]} if {t[0]} else {t[2]})"),
        )
    return st.recursive(leaves, extend, max_leaves=6)


DERIVED = ["d0", "d1", "d2"]
NUM_EXPRS = [num_expr(DERIVED[:k]) for k in range(len(DERIVED) + 1)]  # over earlier ones
BOOL_EXPR = bool_expr(DERIVED)


@st.composite
def random_policy(draw: st.DrawFn) -> str:
    lines = [f"  {name}: {draw(NUM_EXPRS[k])}" for k, name in enumerate(DERIVED)]
    rules = []
    for i in range(draw(st.integers(1, 5))):
        action = draw(st.sampled_from(["flag", "strike", "offboard", "strike"]))
        names = " ".join(f"{{{n}}}" for n in draw(st.lists(
            st.sampled_from([*DERIVED, *NUMS[:3], "p_rate", "tier"]), max_size=3)))
        rules.append(f"  - id: r{i}\n    title: Rule {i}\n    when: >-\n      "
                     f"{draw(BOOL_EXPR)}\n    action: {action}\n"
                     f"    explain: \"{names} ok {{{NUMS[0]}:,.0f}}\"")
    exemption, hold, referral = draw(BOOL_EXPR), draw(BOOL_EXPR), draw(BOOL_EXPR)
    return "\n".join([
        "version: 1", "name: random", "on_missing: " + draw(st.sampled_from(["watch", "keep"])),
        "params:", *(f"  {k}: {v}" for k, v in PARAMS.items()),
        "derive:", *lines, "rules:", *rules,
        "exemptions:", "  - id: ex", "    when: >-", f"      {exemption}",
        "    rules: [r0]", "    reason: r", "    approver: a", '    expires: "2027-01-01"',
        "  - id: by-id", "    customers: [C1]", "    reason: r", "    approver: a",
        '    expires: "2026-12-01"',
        "holds:", "  - id: h", "    when: >-", f"      {hold}", "    reason: r",
        "timing:", "  referrals:", "    - when: >-", f"        {referral}",
        "      vendors: [V1]", "      note: n", "    - vendors: [V2]",
    ])


def values_of(kind: str) -> st.SearchStrategy[Any]:
    if kind in ("number", "integer"):
        ints = st.sampled_from([0, 1, 3, 10, 250, -4, 10 ** 59 - 1])
        if kind == "integer":
            return ints
        return st.one_of(ints, st.sampled_from([Decimal("0.5"), Decimal("1.10"),
                                                Decimal("-2.25"), Decimal("0.00"),
                                                Decimal("1E+50"), Decimal("123.456789")]))
    if kind == "boolean":
        return st.booleans()
    if kind == "date":
        return st.sampled_from([dt.date(2026, 1, 31), dt.date(2026, 11, 1),
                                dt.date(2027, 2, 28), dt.date(1999, 12, 31)])
    return st.sampled_from(WORDS)


@st.composite
def customers(draw: st.DrawFn) -> list[dict[str, Any]]:
    used = [*NUMS, *INTS, *BOOLS, *DATES, *STRS]
    out = []
    for i in range(draw(st.integers(1, 6))):
        facts: dict[str, Any] = {"customer_id": f"C{i}"}
        for name in used:
            if draw(st.integers(0, 4)):  # one in five missing
                facts[name] = draw(values_of(FACTS[name]))
        out.append(facts)
    return out


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=random_policy(), rows=customers(), seed=st.integers(0, 1000))
def test_random_policies_agree(text: str, rows: list[dict[str, Any]], seed: int) -> None:
    from adieu.facts import Record
    policy = compile_policy(text)
    records = [Record(r, None, None) for r in rows]
    rng = random.Random(seed)
    memories = {r["customer_id"]: memory_for(policy, r["customer_id"], rng) for r in rows}
    assert_agree(policy, records)
    assert_agree(policy, records, memories=memories)


def test_round_of_a_date_is_unknown_with_a_problem_not_a_crash() -> None:
    """Found by test_random_policies_agree: round() of a value typed "any"
    that is a date raised AttributeError in both implementations."""
    from adieu.facts import Record
    pick = ExtraFunction("pick", lambda d, yes: d if yes else 3, "any", 2, 2)
    policy = compile_policy(textwrap.dedent("""\
        version: 1
        name: round-any
        rules:
          - id: r
            title: R
            when: round(pick(contract_end, outgrown), 0) > 1
            action: flag
        """), extra_functions={"pick": pick})
    rows = [{"customer_id": "A", "contract_end": dt.date(2027, 1, 1), "outgrown": True},
            {"customer_id": "B", "contract_end": dt.date(2027, 1, 1), "outgrown": False}]
    assert assert_agree(policy, [Record(r, None, None) for r in rows]) == 2
    contexts, _ = make_contexts(policy, [Record(r, None, None) for r in rows], AS_OF)
    first, second = (decide(policy, ctx, AS_OF) for ctx in contexts)
    assert first.unknown[0].problems == [
        "cannot compute round(pick(contract_end, outgrown), 0): round() needs a number, "
        "not date"]
    assert second.fired[0].rule == "r"
