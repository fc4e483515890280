"""Hypothesis strategies for the fuzz targets: YAML documents as text (tags,
anchors, aliases, merge keys, odd scalars, block and flow styles), line-level
mutations of a file, expressions from the policy language's grammar, and
broken CSV / JSON payloads.

Everything here returns text or bytes: the targets feed it to adieu's own
readers, so the parsers see what a user's file would hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# -- YAML ----------------------------------------------------------------------

# Scalars a YAML 1.1 / 1.2 reader treats differently, tags (core and not),
# anchors and aliases, and characters YAML refuses or escapes.
ODD_SCALARS = [
    "~", "null", "Null", "NULL", "yes", "no", "on", "off", "y", "n", "true", "False",
    "0x1F", "0o17", "017", "1_000", "1e400", "-1e-400", ".inf", "-.INF", ".nan", "1.",
    "9" * 60, "-0", "+12", "2026-02-30", "2026-11-01", "2026-11-01T25:00:00Z", "12:30:00",
    "''", '""', "'it''s'", '"\\u0000"', '"\\x1b[31m"', '"\\ud800"', "<<", "=", "?", "-",
    "!!str 12", "!!int x", "!!float", "!!binary aGk=", "!!set {a}", "!!omap [a: 1]",
    "!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!custom x",
    "!<tag:yaml.org,2002:str> s", "*nowhere", "&a", "|", ">-", "%YAML 1.1", "---", "...",
    "@x", "`x`", "{", "]", "#c", "a: b: c", "\t", "\u00a0", "\ufeff", "\x85", "é", "名前",
]

KEYS = ["version", "name", "description", "on_missing", "params", "derive", "rules", "id",
        "title", "when", "action", "severity", "explain", "exemptions", "holds", "timing",
        "strikes", "facts", "type", "rules", "reason", "approver", "expires", "referrals",
        "vendors", "<<", "?", "x", "a b", "", "1", "true", "null"]

_plain = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _quoted(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


scalars = st.one_of(
    st.sampled_from(ODD_SCALARS),
    st.integers().map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str),
    _plain.map(_quoted),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=10),
)

keys = st.one_of(st.sampled_from(KEYS), scalars)


@st.composite
def _decorated(draw: Any, node: st.SearchStrategy) -> tuple:
    """A node with, at random, an anchor, a tag (core or not) or nothing."""
    value = draw(node)
    decor = draw(st.sampled_from(["", "", "", "&a ", "&b ", "!!map ", "!!seq ", "!!str ",
                                  "!!python/tuple ", "!x ", "!!set ", "!!omap "]))
    return (decor, value)


yaml_trees = st.recursive(
    st.one_of(scalars.map(lambda s: ("scalar", s)), st.sampled_from([("alias", "*a"),
                                                                     ("alias", "*b")])),
    lambda children: st.one_of(
        st.tuples(st.just("seq"), st.booleans(), st.lists(_decorated(children), max_size=4)),
        st.tuples(st.just("map"), st.booleans(),
                  st.lists(st.tuples(keys, _decorated(children)), max_size=4)),
    ),
    max_leaves=25,
)


def render_yaml(tree: tuple, indent: int = 0) -> str:
    """YAML text of a tree from `yaml_trees`; `flow` picks [a, b] / {a: b}
    or block style per node."""
    kind = tree[0]
    if kind in ("scalar", "alias"):
        return tree[1]
    flow, items = tree[1], tree[2]
    pad = " " * indent
    if kind == "seq":
        if flow or not items:
            return "[" + ", ".join(d + _flow(v) for d, v in items) + "]"
        return "\n" + "\n".join(f"{pad}- {d}{render_yaml(v, indent + 2).lstrip(chr(10))}"
                                if v[0] in ("scalar", "alias") or d else
                                f"{pad}-{_block(v, indent + 2)}" for d, v in items)
    if flow or not items:
        return "{" + ", ".join(f"{k}: {d}{_flow(v)}" for k, (d, v) in items) + "}"
    return "\n" + "\n".join(f"{pad}{k}: {d}{_block(v, indent + 2)}" for k, (d, v) in items)


def _flow(tree: tuple) -> str:
    if tree[0] in ("scalar", "alias"):
        return tree[1]
    return render_yaml((tree[0], True, tree[2]))


def _block(tree: tuple, indent: int) -> str:
    text = render_yaml(tree, indent)
    return text if text.startswith("\n") else " " + text


yaml_documents = st.tuples(st.sampled_from(["", "", "%YAML 1.2\n---\n", "--- !!map\n",
                                            "---\n", "\ufeff"]),
                           yaml_trees).map(lambda t: t[0] + render_yaml(t[1]).lstrip("\n")
                                           + "\n")


@st.composite
def mutated_lines(draw: Any, text: str) -> bytes:
    """`text` with 1-4 line-level mutations: delete, duplicate, swap, change a
    value to a random scalar, re-indent, or insert random bytes."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "value", "indent", "chars",
                                   "scalar-line"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            value = draw(st.one_of(scalars, yaml_trees.map(_flow)))
            lines[i] = f"{head}: {value}"
        elif op == "indent":
            lines[i] = " " * draw(st.integers(0, 9)) + lines[i].lstrip()
        elif op == "scalar-line":
            lines[i] = lines[i] + " " + draw(scalars)
        else:
            raw = draw(st.text(max_size=6))
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + raw + lines[i][pos:]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:  # raw bytes, maybe not UTF-8
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(st.binary(min_size=1, max_size=8)) + data[pos:]
    return data


# -- expressions -----------------------------------------------------------------

FUNCTIONS = ["min", "max", "abs", "round", "coalesce", "days_since", "days_until",
             "is_missing", "date", "percentile", "mean", "share", "len", "int", "eval",
             "__import__", "getattr", "nosuch"]
BINARY = ["+", "-", "*", "/", "%", "//", "**", "<", "<=", ">", ">=", "==", "!=", "and", "or",
          "in", "not in", "is", "is not", "&", "|", "^", "<<", "@"]
NUMBERS = ["0", "1", "-1", "0.5", "100", "1000000", "9" * 40, "9" * 5000, "1e308", "1e-308",
           "1E5", "0.000000000000000000000000001", "1_000", "0x10", "0o7", "0b1", "007", "1,000",
           "1.5e3", "2j", ".5", "5.", "1/3"]
STRINGS = ['"a"', "'b'", '""', '"strategic"', '"2026-01-01"', '"x" * 3', "f'x'", 'b"x"',
           '"\\u2028"', '"{revenue_12m}"']
DATES = ['date("2026-01-01")', 'date("2026-02-30")', 'date("9999-12-31")', 'date("0001-01-01")',
         'date("x")', "date(1)"]
ODD = ["true", "false", "True", "None", "null", "[]", "[1, 2, 3]", "()", "{}", "lambda: 1",
       "[x for x in [1]]", "().__class__", "x.y", "revenue_12m[0]", "*a", "...", "`",
       "(", ")", "1 +", "if", "#", "$"]


def expressions(names: list[str]) -> st.SearchStrategy[str]:
    """Expression texts from the grammar: names (facts, params, derives of a
    policy and a few unknown ones), literals (huge and odd numbers, strings,
    dates), unary and binary operators, function calls, conditionals and
    nesting, plus a few forms the language refuses."""
    atoms = st.one_of(
        st.sampled_from(names + ["nosuch", "customer_idd", "__builtins__"]),
        st.sampled_from(NUMBERS), st.sampled_from(STRINGS), st.sampled_from(DATES),
        st.sampled_from(ODD),
        st.integers(-10 ** 30, 10 ** 30).map(str),
        st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["-", "+", "not ", "~"]), inner).map(
                lambda t: f"{t[0]}{t[1]}"),
            st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
            st.tuples(inner, st.sampled_from(["<", "<=", "=="]), inner,
                      st.sampled_from(["<", "!="]), inner).map(" ".join),
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        )

    return st.recursive(atoms, extend, max_leaves=12)


# -- CSV and JSON ------------------------------------------------------------------

CSV_PIECES = [",", ";", "\t", '"', '""', "\n", "\r\n", "\r", "\x00", "\ufeff", "\x1b", " ",
              "=1+1", "-", "N/A", "null", "1e999", "1,5", "2026-13-01", "é", "\u2028",
              "9" * 400]


@st.composite
def broken_csv(draw: Any, header: list[str], good_row: list[str]) -> bytes:
    """A CSV built from a real header and row, then broken: ragged rows,
    stray quotes, BOMs (one or several), NULs, huge fields, mixed newlines,
    invalid UTF-8, a duplicated or missing header column."""
    rows = [list(header)] + [list(good_row) for _ in range(draw(st.integers(0, 3)))]
    for _ in range(draw(st.integers(1, 5))):
        r = draw(st.integers(0, len(rows) - 1))
        op = draw(st.sampled_from(["ragged+", "ragged-", "piece", "cell", "huge", "dup"]))
        row = rows[r]
        if op == "ragged+":
            row.append(draw(st.sampled_from(CSV_PIECES)))
        elif op == "ragged-" and row:
            row.pop()
        elif op == "piece" and row:
            c = draw(st.integers(0, len(row) - 1))
            row[c] = row[c] + draw(st.sampled_from(CSV_PIECES))
        elif op == "cell" and row:
            c = draw(st.integers(0, len(row) - 1))
            row[c] = draw(st.text(max_size=8))
        elif op == "huge" and row:
            c = draw(st.integers(0, len(row) - 1))
            row[c] = "x" * draw(st.sampled_from([1000, 70_000, 200_000]))
        elif op == "dup" and row:
            row.append(row[0])
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    out = []
    for i, row in enumerate(rows):
        nl = ["\n", "\r\n", "\r"][i % 3] if newline == "mixed" else newline
        out.append(",".join(row) + nl)
    data = "".join(out).encode("utf-8", "surrogatepass")
    prefix = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf",
                                   b"\xff\xfe", b"\x00"]))
    if draw(st.booleans()):
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(st.binary(max_size=6)) + data[pos:]
    return prefix + data


@st.composite
def broken_json(draw: Any, good: Any) -> bytes:
    """A JSON value built from a good one, with values swapped for wrong
    types (strings for numbers, lists for objects, huge numbers, deep
    nesting, null), or truncated, or not UTF-8."""
    wrong = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 40, 10 ** 40),
                      st.floats(allow_nan=False), st.text(max_size=6),
                      st.just([]), st.just({}), st.just("9" * 5000))

    def mutate(value: Any) -> Any:
        if isinstance(value, dict) and value:
            key = draw(st.sampled_from(sorted(value)))
            if draw(st.integers(0, 3)) == 0:
                return {**value, key: draw(wrong)}
            return {**value, key: mutate(value[key])}
        if isinstance(value, list) and value:
            i = draw(st.integers(0, len(value) - 1))
            if draw(st.integers(0, 3)) == 0:
                return [*value[:i], draw(wrong), *value[i + 1:]]
            return [*value[:i], mutate(value[i]), *value[i + 1:]]
        return draw(wrong)

    value = good
    for _ in range(draw(st.integers(1, 3))):
        value = mutate(value)
    text = json.dumps(value)
    how = draw(st.sampled_from(["as-is", "as-is", "truncate", "deep", "bigint", "bytes"]))
    if how == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    elif how == "deep":
        # 50 reads; 900, 1,000 (stdlib json's recursion) and 100,000 are
        # refused by the bound on nesting (adieu.jsontext.MAX_JSON_DEPTH).
        depth = draw(st.sampled_from([50, 900, 1000, 100_000]))
        text = "[" * depth + text + "]" * depth
    elif how == "bigint":
        text = text.replace("1", "1" + "0" * 4400, 1)
    data = text.encode()
    if how == "bytes":
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(st.binary(min_size=1, max_size=6)) + data[pos:]
    return data


def typed_expressions(types: dict[str, str]) -> st.SearchStrategy[str]:
    """Mostly well-typed expressions (so that most compile and are then
    evaluated): numbers from number/integer names, literals and arithmetic,
    functions, population figures; conditions from comparisons, and/or/not,
    is_missing, `in` lists and share(). `types`: name -> JSON type
    ("number", "integer", "boolean", "date", "string")."""
    def of(*kinds: str) -> list[str]:
        return sorted(n for n, t in types.items() if t in kinds) or ["nosuch"]

    nums, bools, dates, strs = of("number", "integer"), of("boolean"), of("date"), of("string")
    num_atoms = st.one_of(st.sampled_from(nums), st.sampled_from(NUMBERS[:12]),
                          st.decimals(allow_nan=False, allow_infinity=False).map(
                              lambda d: format(d, "f")),
                          st.sampled_from(dates).map(lambda d: f"days_since({d})"),
                          st.sampled_from(dates).map(lambda d: f"days_until({d})"),
                          st.sampled_from(nums).map(lambda n: f"percentile({n}, 90)"),
                          st.sampled_from(nums).map(lambda n: f"mean({n})"))
    bool_atoms = st.one_of(st.sampled_from(bools + ["true", "false"]),
                           st.sampled_from(nums + dates + strs).map(lambda n: f"is_missing({n})"),
                           st.sampled_from(strs).map(lambda s: f'{s} in ["a", "standard"]'),
                           st.sampled_from(dates).map(lambda d: f'{d} < date("2026-06-01")'),
                           st.sampled_from(bools).map(lambda b: f"share({b}) > 0.5"))

    def num_ext(n: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(n, st.sampled_from(["+", "-", "*", "/", "%", "//"]), n).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            n.map(lambda x: f"-{x}"), n.map(lambda x: f"abs({x})"),
            n.map(lambda x: f"round({x}, 2)"), n.map(lambda x: f"round({x})"),
            st.tuples(st.sampled_from(["min", "max", "coalesce"]), st.lists(n, min_size=1,
                                                                            max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(n, bool_atoms, n).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"))

    num = st.recursive(num_atoms, num_ext, max_leaves=10)
    comparison = st.tuples(num, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), num).map(
        " ".join)
    return st.recursive(st.one_of(bool_atoms, comparison), lambda b: st.one_of(
        st.tuples(b, st.sampled_from(["and", "or"]), b).map(lambda t: f"({' '.join(t)})"),
        b.map(lambda x: f"not {x}"),
        st.tuples(b, b, b).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")),
        max_leaves=6) | num


def _leaf(values: list[str]) -> st.SearchStrategy[tuple]:
    """A decorated node: a likely value, or any tree (wrong type, tag ...)."""
    likely = st.sampled_from(values).map(lambda v: ("", ("scalar", v)))
    return st.one_of(likely, likely, likely, likely, likely, likely,
                     scalars.map(lambda v: ("", ("scalar", v))), _decorated(yaml_trees))


_RULE_KEYS = {"id": ["r1", "r2", "'a b'", "R"], "title": ["T", "''"],
              "when": ["revenue_12m > 0", "true", "late_payments_12m >= 3", "x >", "1"],
              "action": ["flag", "strike", "offboard", "delete"],
              "severity": ["low", "high", "critical", "7"],
              "explain": ['"{revenue_12m:,.0f}"', '"{nosuch}"', '"{revenue_12m:>99999}"']}


@st.composite
def policy_shaped(draw: Any) -> str:
    """YAML text shaped like a policy (version, name, params, derive, rules,
    exemptions, holds, strikes, timing) whose values are likely ones or any
    tree, with keys dropped or added at random: reaches the schema checks
    and the builder, not only the top-level refusal."""
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        keys = ["id", "title", "when", "action"] if draw(st.booleans()) else []
        keys += draw(st.lists(st.sampled_from(sorted(set(_RULE_KEYS) - set(keys))), unique=True))
        rules.append(("", ("map", draw(st.booleans()),
                           [(k, draw(_leaf(_RULE_KEYS[k]))) for k in keys])))
    top = [("version", draw(_leaf(["1", '"2026.11"', "3"]))),
           ("name", draw(_leaf(["p", "default"]))),
           ("rules", ("", ("seq", False, rules)))]
    optional = {"params": _leaf(["{rate: 50}", "{a: 1e400}", "{b: [1, 2]}"]),
                "derive": _leaf(["{cost: hours_support_12m * 50}", "{d: d + 1}",
                                 "{e: revenue_12m / 0}"]),
                "on_missing": _leaf(["watch", "keep", "offboard"]),
                "strikes": _leaf(["{window_days: 365, ladder: {warn: 1}}", "{cooldown_days: -1}"]),
                "exemptions": _leaf(["[{id: e, when: true, rules: [r1], reason: x, "
                                     "approver: y, expires: 2027-01-01}]"]),
                "holds": _leaf(["[{id: h, when: true, reason: r}]"]),
                "timing": _leaf(["{notice_days: 60}", "{notice_days: 99999999999}"]),
                "facts": _leaf(["{nps: {type: number}}", "{revenue_12m: {type: string}}"])}
    for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        top.append((key, draw(optional[key])))
    top = draw(st.permutations(top))
    if draw(st.integers(0, 3)) == 0:
        del top[draw(st.integers(0, len(top) - 1))]
    return render_yaml(("map", False, top)).lstrip("\n") + "\n"
