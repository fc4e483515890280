"""Policy lint: findings in a valid policy that are probably not what its
authors meant. Each is a PolicyWarning at file:line:col with a code;
`adieu validate` prints them and `adieu validate --strict` fails on them.

Checks (codes), each documented in docs/policy-reference.md, "Lint warnings":

- unused-param: a param no expression and no explanation template uses;
- percentile-fraction: percentile(x, p) with 0 < p < 1 (a fraction where
  a percentile from 0 to 100 is meant);
- param-text-number: a param that is text but reads as a number with a
  unit, a percent sign, a currency or thousands separators ("15%",
  "$1,000");
- expired-exemption: an exemption whose `expires` is on or before today;
- constant-condition: a rule, exemption or hold condition that names no
  fact, so it is the same for every customer;
- version-unchanged: the policy text differs from the one an earlier run
  stored under the same name and version;
- no-referrals: a policy that plans offboardings (it has `timing:` and can
  offboard: an offboard rule, or strike rules and a ladder) names no
  vendor to refer the customer to (no `timing.referrals`, and
  `max_referrals` is not 0), so every offboarding brief goes without one.

A finding is silenced by a comment `# adieu ignore:CODE` (several codes
separated by commas) at the end of its line or alone on the line above.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import PolicyWarning
from .expr import UNKNOWN, Compiled, Context, ExprError, offset_of
from .exprparse import parse_expression
from .policy import Policy
from .templates import template_names
from .yamlpos import Positions

CODES = ("unused-param", "percentile-fraction", "param-text-number", "expired-exemption",
         "constant-condition", "version-unchanged", "no-referrals")
# Calls whose value depends on nothing but their arguments.
_PURE = ("min", "max", "abs", "round", "coalesce", "is_missing", "date")
_IGNORE = re.compile(r"#\s*adieu\s+ignore:\s*([\w-]+(?:\s*,\s*[\w-]+)*)")


def lint(policy: Policy, today: dt.date | None = None,
         earlier_run: dict[str, Any] | None = None) -> list[PolicyWarning]:
    """Every lint finding of a compiled policy, sorted by position.

    today: the date expiry is checked against (default: the system date).
    earlier_run: a run row (id, as_of, policy_version) that stored this
    policy's name and version with a different text; see
    store.run_with_same_version."""
    today = today or dt.date.today()
    pos = policy.positions
    assert pos is not None, "lint needs a policy from compile_policy"
    found = [*_unused_params(policy, pos), *_percentile_fractions(policy, pos),
             *_constant_conditions(policy, pos, today),
             *_expired_exemptions(policy.doc, pos, today), *_no_referrals(policy, pos),
             *lint_document(policy.doc, pos, policy.text, filtered=False)]
    if earlier_run is not None:
        found.append(PolicyWarning(
            "version-unchanged",
            f"version {policy.version!r} of policy {policy.name!r} was stored by run "
            f"{earlier_run['id']} (as of {earlier_run['as_of']}) with a different text; change "
            "version: whenever the policy changes, so each version names one text",
            pos.at(("version",))))
    return _filter(found, policy.text)


def lint_document(doc: Any, positions: Positions, text: str, filtered: bool = True) \
        -> list[PolicyWarning]:
    """The checks that need only the YAML document, so that they also run
    on a policy with errors (a param "15%" explains the type error it
    causes in a rule)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("params"), dict):
        return []
    as_percentile = _percentile_params(doc)
    out = []
    for name, value in doc["params"].items():
        if not isinstance(value, str):
            continue
        read = number_in_text(value)
        if read is None:
            continue
        number, percent = read
        if percent and name not in as_percentile:
            number, why = (number / 100), f"{value.strip()} as a fraction"
        elif percent:
            why = "percentile() takes 0 to 100"
        else:
            why = "a number takes no unit, currency or thousands separator"
        out.append(PolicyWarning(
            "param-text-number",
            f"param {name!r} is the text {value!r}, not a number: write {name}: "
            f"{_plain(number)} ({why})", positions.at(("params", name))))
    return _filter(out, text) if filtered else out


# -- the checks ---------------------------------------------------------------

def _unused_params(policy: Policy, pos: Positions) -> list[PolicyWarning]:
    used: set[str] = set()
    for compiled in policy.expressions.values():
        used |= compiled.names
    for rule in policy.rules:
        used |= template_names(rule.explain or "")
    return [PolicyWarning("unused-param", f"param {name!r} is used by no expression and no "
                          "explanation template; use it or remove it",
                          pos.at(("params", name), key=True))
            for name in policy.params if name not in used]


def _percentile_fractions(policy: Policy, pos: Positions) -> list[PolicyWarning]:
    out, params_done = [], set()
    for path, compiled in policy.expressions.items():
        for call in _percentile_calls(compiled.tree):
            arg = call.args[1]
            name = arg.id if isinstance(arg, ast.Name) else None
            p = policy.params.get(name) if name else getattr(arg, "value", None)
            if isinstance(p, bool) or not isinstance(p, (int, float, Decimal)) \
                    or not 0 < p < 1 or name in params_done:
                continue
            hundred = _plain(Decimal(str(p)) * 100)
            message = (f"{ast.unparse(call)} asks for the {_plain(Decimal(str(p)))}th "
                       f"percentile; p runs from 0 to 100: did you mean {hundred} for {p}?")
            if name:
                params_done.add(name)
                out.append(PolicyWarning("percentile-fraction", f"param {name!r}: {message}",
                                         pos.at(("params", name))))
            else:
                out.append(PolicyWarning("percentile-fraction", message,
                                         pos.in_scalar(path, offset_of(compiled, arg))))
    return out


def _expired_exemptions(doc: dict, pos: Positions, today: dt.date) -> list[PolicyWarning]:
    out = []
    for i, ex in enumerate(doc.get("exemptions") or []):
        try:
            expires = dt.date.fromisoformat(str(ex.get("expires")))
        except (ValueError, AttributeError):
            continue
        if today >= expires:
            out.append(PolicyWarning(
                "expired-exemption",
                f"exemption {ex.get('id')!r} expired on {expires.isoformat()}: it no longer "
                f"applies as of {today.isoformat()}; renew it with a new expires date and "
                "approver, or remove it", pos.at(("exemptions", i, "expires"))))
    return out


def _no_referrals(policy: Policy, pos: Positions) -> list[PolicyWarning]:
    doc = policy.doc if isinstance(policy.doc, dict) else {}
    timing = policy.timing
    if not isinstance(doc.get("timing"), dict) or timing.referrals or timing.max_referrals == 0:
        return []
    actions = {r.action for r in policy.rules}
    if "offboard" not in actions and "strike" not in actions:
        return []
    return [PolicyWarning(
        "no-referrals", "timing names no referrals, so no offboarding brief refers the "
        "customer to another vendor; add timing.referrals (or set max_referrals: 0 to "
        "refer nobody)", pos.at(("timing",), key=True))]


def _constant_conditions(policy: Policy, pos: Positions, today: dt.date) \
        -> list[PolicyWarning]:
    """Conditions that name no fact (only params and literals, directly or
    through derived facts): the same for every customer and every run."""
    constant: set[str] = set()
    for name, compiled in policy.derive.items():  # in dependency order
        if _is_constant(compiled, policy, constant):
            constant.add(name)
    effects = {"rules": ("the rule fires for every customer", "the rule never fires"),
               "exemptions": ("the exemption shields every customer",
                              "the exemption never applies"),
               "holds": ("the hold holds every decision", "the hold never applies")}
    out = []
    for path, compiled in policy.expressions.items():
        if path[0] not in effects or not _is_constant(compiled, policy, constant):
            continue
        ctx = Context({}, today, None, policy.derive_fns)
        try:
            value = compiled.fn(ctx)
        except Exception:  # noqa: BLE001 - a condition that cannot run is not lint's to judge
            continue
        if value is UNKNOWN:
            continue
        item = policy.doc[path[0]][path[1]]
        what = f"{path[0][:-1]} {item.get('id')!r}"
        effect = effects[path[0]][0 if value else 1]
        out.append(PolicyWarning(
            "constant-condition",
            f"{what}: the condition is always {'true' if value else 'false'} (it names no "
            f"fact), so {effect}; compare a fact or derived fact, or remove it",
            pos.at(path)))
    return out


# -- helpers ------------------------------------------------------------------

def _is_constant(compiled: Compiled, policy: Policy, constant_derives: set[str]) -> bool:
    if compiled.population_keys:
        return False
    for node in ast.walk(compiled.tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) not in _PURE:
            return False
    return all(n in policy.params or n in constant_derives for n in compiled.names)


def _percentile_calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == "percentile" and len(n.args) == 2]


def _percentile_params(doc: dict) -> set[str]:
    """Names used as the p of percentile(x, p) in any expression of doc."""
    texts: list[Any] = list((doc.get("derive") or {}).values()) \
        if isinstance(doc.get("derive"), dict) else []
    for key in ("rules", "exemptions", "holds"):
        texts += [item.get("when") for item in doc.get(key) or [] if isinstance(item, dict)]
    timing = doc.get("timing") if isinstance(doc.get("timing"), dict) else {}
    texts += [r.get("when") for r in timing.get("referrals") or [] if isinstance(r, dict)]
    out = set()
    for text in texts:
        try:
            tree = parse_expression(text)  # bounded before parsing
        except (SyntaxError, ExprError):
            continue
        out |= {c.args[1].id for c in _percentile_calls(tree) if isinstance(c.args[1], ast.Name)}
    return out


_NUMBER = r"(?:\d{1,3}(?:(?P<sep>[,' _\u00a0\u202f])\d{3})(?:(?P=sep)\d{3})*|\d+)(?:[.,]\d+)?"
_TEXT_NUMBER = re.compile(
    rf"^(?P<sign>[+-])?\s*(?P<pre>[$€£¥₹]|[A-Z]{{3}}(?=\s|\d))?\s*(?P<num>{_NUMBER}|\.\d+)"
    r"\s*(?P<mult>[kKM](?![a-z]))?\s*(?P<unit>%|percent|pct|[$€£¥₹]|[A-Z]{3}|x|times|"
    r"days?|d|hours?|hrs?|h|weeks?|months?|years?)?$")


def number_in_text(text: str) -> tuple[Decimal, bool] | None:
    """The number a text param stands for and whether it is a percentage:
    "15%" -> (15, True), "$1,000" -> (1000, False), "30 days" -> (30, False),
    "12,5 %" -> (12.5, True), "10k" -> (10000, False); None when the text
    has no unit, percent sign, currency, multiplier or separator. A bare
    number ("90", "0042") is left alone: it may be a code that a rule
    compares with a text fact."""
    m = _TEXT_NUMBER.match(text.strip())
    if m is None or not (m["pre"] or m["unit"] or m["mult"] or m["sep"]
                         or "," in m["num"]):
        return None
    num = m["num"]
    if m["sep"]:
        num = num.replace(m["sep"], "")
    if "," in num:  # a decimal comma: 12,5
        num = num.replace(",", ".")
    try:
        value = Decimal(num)
    except InvalidOperation:
        return None
    value *= {"k": 1000, "K": 1000, "M": 1000000}.get(m["mult"] or "", 1)
    if m["sign"] == "-":
        value = -value
    return value, m["unit"] in ("%", "percent", "pct")


def _plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 0.150 -> 0.15, 1E+3 -> 1000."""
    return format(value.normalize(), "f")


def _filter(found: list[PolicyWarning], text: str) -> list[PolicyWarning]:
    """Drop findings silenced by `# adieu ignore:CODE`; sort by position."""
    lines = text.splitlines()

    def ignored(w: PolicyWarning) -> bool:
        line = w.location.line if w.location else None
        if not line:
            return False
        candidates = [lines[line - 1]] if 0 < line <= len(lines) else []
        if 1 < line <= len(lines) + 1 and lines[line - 2].lstrip().startswith("#"):
            candidates.append(lines[line - 2])
        for candidate in candidates:
            m = _IGNORE.search(candidate)
            if m and w.code in {c.strip() for c in m.group(1).split(",")}:
                return True
        return False

    out = [w for w in found if not ignored(w)]
    out.sort(key=lambda w: (w.location.line or 0, w.location.column or 0)
             if w.location else (0, 0))
    return out
