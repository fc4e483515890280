"""Fuzz target: the expression compiler and evaluation (engine/expr.py,
engine/functions.py, engine/codegen.py, templates). Random expressions from
the language's grammar (the default policy's facts, params and derives,
unknown names, huge and odd numbers, strings, dates, every operator, every
function, conditionals, nesting, refused forms) go into the default policy
as a derive, a rule's condition and its explanation template, and are linted.

Compiling either succeeds or raises PolicyErrors whose findings name the file
and line:column; a policy that compiles is evaluated on a few customers
(typical figures, zeros, every fact missing, huge figures) and every rule is
explained (explain_stored): nothing may raise but adieu's own errors."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path

import yaml
from fuzzing import located, one_line, targets
from fuzzing.strategies import expressions, typed_expressions
from hypothesis import strategies as st

from adieu.decide import evaluate_all
from adieu.errors import AdieuError, PolicyErrors
from adieu.explain import explain_stored
from adieu.facts import Record, to_json_value
from adieu.lint import lint
from adieu.policy import compile_policy, load_policy

REPO = Path(__file__).resolve().parent.parent
DEFAULT = load_policy(REPO / "policies" / "default.yaml")
DOC = yaml.safe_load((REPO / "policies" / "default.yaml").read_text(encoding="utf-8"))
NAMES = sorted(DEFAULT.facts) + sorted(DEFAULT.params) + sorted(DEFAULT.derive)
AS_OF = dt.date(2026, 11, 1)

_TYPICAL = {"number": Decimal("1234.5"), "integer": 3, "boolean": True,
            "date": dt.date(2026, 3, 1), "string": "standard"}
_ZERO = {"number": Decimal(0), "integer": 0, "boolean": False,
         "date": dt.date(1970, 1, 1), "string": ""}
_HUGE = {"number": Decimal("9" * 30 + ".99"), "integer": 10 ** 30, "boolean": True,
         "date": dt.date(9999, 12, 31), "string": "x" * 500}


def _customer(cid: str, values: dict) -> Record:
    facts = {name: values[typ] for name, typ in DEFAULT.facts.items()}
    facts["customer_id"] = cid
    return Record(facts)


CUSTOMERS = [_customer("C1", _TYPICAL), _customer("C2", _ZERO), Record({"customer_id": "C3"}),
             _customer("C4", _HUGE)]


def _policy_text(derive: str, when: str, explain: str) -> str:
    doc = copy.deepcopy(DOC)
    doc["derive"]["fz_value"] = derive
    doc["rules"].append({"id": "fz-rule", "title": "Fuzzed", "when": when,
                         "action": "flag", "explain": explain})
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10 ** 6)


def check_expression(derive: str, when: str, spec: str) -> None:
    text = _policy_text(derive, when, "{fz_value" + spec + "} and {revenue_12m}")
    try:
        policy = compile_policy(text, "fuzz.yaml")
    except PolicyErrors as exc:
        assert located(exc), str(exc)
        assert one_line(exc), str(exc)
        assert all(e.location.line is not None for e in exc.errors), str(exc)
        return
    for warning in lint(policy, AS_OF):  # what `adieu validate` adds: lint findings
        assert warning.location is not None and warning.location.line is not None, str(warning)
    try:
        decisions, population = evaluate_all(policy, list(CUSTOMERS), AS_OF)
        for record in CUSTOMERS:
            stored = {k: to_json_value(v) for k, v in record.facts.items()}
            explain_stored(policy, {"as_of": AS_OF.isoformat()}, stored, population.stats)
    except AdieuError as exc:
        assert exc.location is not None, str(exc)


_when = st.one_of(st.just("fz_value > 0"), st.just("is_missing(fz_value)"),
                  expressions(NAMES), expressions(NAMES + ["fz_value"]).map(
                      lambda e: f"({e}) > 0"))
_spec = st.sampled_from(["", "", ":,.0f", ":.0%", ":>10", ":>1000000000", ":.999999999f",
                         "!r", ":%Y", ":{x}", ":,", ":x", "[0]", ".real"])

_TYPES = {**DEFAULT.facts, **{n: "number" for n in (*DEFAULT.params, *DEFAULT.derive)}}
_derive = st.one_of(expressions(NAMES), typed_expressions(_TYPES))
_when = st.one_of(_when, typed_expressions({**_TYPES, "fz_value": "number"}))

test_expression, test_expression_fuzz = targets(_derive, _when,
                                                _spec)(check_expression)
