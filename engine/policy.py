"""Load, validate and compile a policy file.

load (YAML with positions) -> schema check -> semantic checks -> compile.
Every finding carries file:line:col; all findings of a file are reported in
one pass."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import resources
from .errors import Location, PolicyError, PolicyErrors, PolicyFileError, did_you_mean
from .expr import BOOL, FACT_TYPES, Compiled, Compiler, ExprError, ExtraFunction, Names
from .exprparse import parse_expression
from .policy_limits import decision_text_finding, limit_findings
from .policy_schema import schema_findings
from .safe_text import id_problem, normalise_id
from .templates import MAX_TEMPLATE_FIELDS, spec_problem, template_chars
from .values import ANY, _type_of
from .yamlpos import (
    Positions,
    load_with_positions,
    read_text,
)

OUTCOMES = ("keep", "watch", "warn", "final_notice", "offboard")
MARKERS = ("exempt", "held")
# Ids decisions give to what a customer's memory adds, so a policy may not
# use them: the hold of a rejected offboarding case (engine/cases.py) and
# the database's exemptions (engine/store.py).
CASE_HOLD = "review-rejected"
REGISTRY_ID = re.compile(r"registry-[0-9]+")
ACTIONS = ("flag", "strike", "offboard")


@dataclass
class Rule:
    id: str
    title: str
    when: Compiled
    action: str
    severity: str
    explain: str | None
    location: Location


@dataclass
class Exemption:
    id: str
    when: Compiled | None
    customers: frozenset[str]
    rules: frozenset[str] | None  # None: all rules
    reason: str
    approver: str
    expires: dt.date
    source: str = "policy"

    def shields(self, rule_id: str) -> bool:
        return self.rules is None or rule_id in self.rules


@dataclass
class Hold:
    id: str
    when: Compiled
    reason: str
    except_rules: frozenset[str] = frozenset()


@dataclass
class Referral:
    when: Compiled | None
    vendors: list[str]
    note: str | None


@dataclass
class Strikes:
    window_days: int = 365
    cooldown_days: int = 30
    warn: int = 1
    final_notice: int = 2
    offboard: int = 3


@dataclass
class Timing:
    contract_end_within_days: int = 90
    notice_days: int = 60
    phase_out_days: int = 0
    weekdays_only: bool = True
    avoid: list[tuple[tuple[int, int], tuple[int, int], str]] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    max_referrals: int = 2
    rejection_days: int = 180  # a rejected offboarding is not proposed again for this long


@dataclass
class Policy:
    """A compiled policy: plain data plus compiled callables."""

    name: str
    version: str
    file: str
    text: str
    sha256: str
    on_missing: str
    facts: dict[str, str]          # fact name -> declared JSON type (number, integer, ...)
    params: dict[str, Any]
    derive: dict[str, Compiled]    # in dependency order
    rules: list[Rule]
    exemptions: list[Exemption]
    holds: list[Hold]
    strikes: Strikes
    timing: Timing
    compiler: Compiler
    # For lint (adieu.lint): the YAML document, its positions, and every
    # compiled expression by its path in the document, e.g. ("rules", 2, "when").
    doc: Any = None
    positions: Positions | None = None
    expressions: dict[tuple, Compiled] = field(default_factory=dict)
    allow_missing_facts: frozenset[str] = frozenset()  # facts a source may lack

    @property
    def derive_fns(self) -> dict[str, Any]:
        return {name: c.fn for name, c in self.derive.items()}

    @property
    def population_calls(self) -> dict[str, Any]:
        return self.compiler.population_calls

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def canonical_facts() -> dict[str, str]:
    """Canonical fact name -> JSON type, from schemas/customer.schema.json."""
    schema = resources.load_schema("customer.schema.json")
    out = {}
    for name, prop in schema["properties"].items():
        out[name] = "date" if prop.get("format") == "date" else prop["type"]
    return out


def load_policy(path: str | Path, extra_functions: dict[str, ExtraFunction] | None = None) \
        -> Policy:
    """Read and compile a policy file; raise PolicyErrors with every finding.

    A bare name that is not a file ("default", "strict.yaml") names one of
    the policies shipped with adieu."""
    p = Path(path)
    if not p.exists() and p.name == str(path):
        shipped = resources.policy_path(p.name if p.suffix else p.name + ".yaml")
        if shipped.is_file():
            p = path = shipped
    try:
        text = read_text(p, "policy")
    except PolicyError as exc:
        raise PolicyErrors([exc]) from None
    except OSError as exc:
        raise PolicyErrors([PolicyFileError(f"cannot read policy: {exc.strerror} "
                                            "(shipped policies: default, strict)",
                                            Location(str(path)))]) from None
    return compile_policy(text, str(path), extra_functions)


def compile_policy(text: str, file: str = "<policy>",
                   extra_functions: dict[str, ExtraFunction] | None = None) -> Policy:
    """Validate and compile policy text; raise PolicyErrors with every finding."""
    try:
        doc, positions = load_with_positions(text, file)
    except PolicyError as exc:
        raise PolicyErrors([exc]) from None
    too_big = limit_findings(doc, positions)  # before the schema and any compiling
    if too_big:
        raise PolicyErrors(too_big)
    errors = schema_findings(doc, positions)
    if not isinstance(doc, dict):
        raise PolicyErrors(errors)
    builder = _Builder(doc, positions, text, file, extra_functions or {})
    policy = builder.build()
    errors.extend(builder.errors)
    if errors:
        errors.sort(key=lambda e: (e.location.line or 0, e.location.column or 0)
                    if e.location else (0, 0))
        raise PolicyErrors(_dedupe(errors), (doc, positions, text))
    assert policy is not None
    return policy


def _dedupe(errors: list[PolicyError]) -> list[PolicyError]:
    seen, out = set(), []
    for e in errors:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out


class _Builder:
    """Semantic checks and compilation, collecting every error."""

    def __init__(self, doc: dict, positions: Positions, text: str, file: str,
                 extra_functions: dict[str, ExtraFunction]):
        self.doc = doc
        self.pos = positions
        self.text = text
        self.file = file
        self.extra = extra_functions
        self.errors: list[PolicyError] = []
        self.names: Names | None = None
        self.expressions: dict[tuple, Compiled] = {}

    def error(self, message: str, path: tuple, key: bool = False) -> None:
        self.errors.append(PolicyError(message, self.pos.at(path, key=key)))

    def build(self) -> Policy | None:
        doc = self.doc
        facts = dict(canonical_facts())
        declared = doc.get("facts") if isinstance(doc.get("facts"), dict) else {}
        for name, spec in declared.items():
            if name in facts:
                self.error(f"fact {name!r} is already a canonical fact", ("facts", name), True)
            elif isinstance(spec, dict) and spec.get("type") in FACT_TYPES:
                facts[name] = spec["type"]
        params = doc.get("params") if isinstance(doc.get("params"), dict) else {}
        for name in params:
            if name in facts:
                self.error(f"param {name!r} has the name of a fact", ("params", name), True)
        names = self.names = Names({n: FACT_TYPES[t] for n, t in facts.items()},
                      {k: v for k, v in params.items() if k not in facts})
        compiler = Compiler(names, self.extra)
        derive = self._derive(compiler, names, facts, params)
        rules = self._rules(compiler, names)
        exemptions = self._exemptions(compiler, {r.id for r in rules} | self._rule_ids())
        holds = self._holds(compiler, {r.id for r in rules} | self._rule_ids())
        strikes = self._strikes()
        timing = self._timing(compiler)
        on_missing = doc.get("on_missing", "watch")
        allowed = self._allowed_missing(facts)
        if self.errors:
            return None
        version = self.pos.text(("version",)) or doc.get("version")  # 2026.10, not 2026.1
        return Policy(
            name=str(doc.get("name")), version=str(version), file=self.file, text=self.text,
            sha256=hashlib.sha256(self.text.encode("utf-8")).hexdigest(),
            on_missing=on_missing, facts=facts, params=dict(params), derive=derive,
            rules=rules, exemptions=exemptions, holds=holds, strikes=strikes, timing=timing,
            compiler=compiler, doc=doc, positions=self.pos, expressions=self.expressions,
            allow_missing_facts=allowed)

    def _allowed_missing(self, facts: dict[str, str]) -> frozenset[str]:
        names = self.doc.get("allow_missing_facts")
        names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
        for j, name in enumerate(names):
            if name not in facts:
                self.error(f"allow_missing_facts names {name!r}, which is not a fact"
                           f"{did_you_mean(name, facts)}", ("allow_missing_facts", j))
        return frozenset(names)

    def _rule_ids(self) -> set[str]:
        rules = self.doc.get("rules")
        if not isinstance(rules, list):
            return set()
        return {r["id"] for r in rules if isinstance(r, dict) and isinstance(r.get("id"), str)}

    def expr(self, compiler: Compiler, text: Any, path: tuple, want: str | None = BOOL) \
            -> Compiled | None:
        try:
            self.expressions[path] = compiler.compile(text, want)
            return self.expressions[path]
        except ExprError as exc:
            hint = ""
            if exc.message.startswith("unknown name") and "; " not in exc.message:
                bad = exc.message.split("'")[1]
                hint = did_you_mean(bad, [*compiler.names.facts, *compiler.names.params,
                                           *compiler.names.derive_types])
            self.errors.append(PolicyError(f"{exc.message}{hint}",
                                           self.pos.in_scalar(path, exc.offset)))
            return None

    def _derive(self, compiler: Compiler, names: Names, facts: dict, params: dict) \
            -> dict[str, Compiled]:
        derive = self.doc.get("derive")
        if not isinstance(derive, dict):
            return {}
        for name in derive:
            if name in facts or name in params:
                self.error(f"derived fact {name!r} has the name of a "
                           f"{'fact' if name in facts else 'param'}", ("derive", name), True)
        # Dependencies, from the names each expression mentions.
        deps: dict[str, set[str]] = {}
        for name, text in derive.items():
            try:  # bounded: a text the compiler would refuse is never parsed
                tree = parse_expression(text)
                used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            except (SyntaxError, ExprError):
                used = set()  # compile reports it, with its location
            deps[name] = {u for u in used if u in derive and u != name} | \
                ({name} if name in used else set())
        order, cyclic = _topological(deps)
        for cycle in cyclic:
            self.error("derived facts depend on each other in a cycle: "
                       + " -> ".join(cycle), ("derive", cycle[0]), True)
        out: dict[str, Compiled] = {}
        for name in order:
            compiled = self.expr(compiler, derive[name], ("derive", name), want=None)
            if compiled is not None:
                names.derive_types[name] = compiled.type
                out[name] = compiled
        for name in derive:  # keep later errors about them from piling up
            names.derive_types.setdefault(name, "any")
        compiler.derive_fns = {n: c.fn for n, c in out.items()}
        return out

    def _rules(self, compiler: Compiler, names: Names) -> list[Rule]:
        rules = self.doc.get("rules")
        if not isinstance(rules, list):
            return []
        seen: dict[str, int] = {}
        out = []
        all_names = {*names.facts, *names.params, *names.derive_types}
        explains: list[tuple[int, str, tuple]] = []  # the most each one renders to
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("id"), str):
                continue
            rid = rule["id"]
            if rid in seen:
                line = self.pos.at(("rules", seen[rid], "id")).line
                self.error(f"rule id {rid!r} is used twice (first on line {line})",
                           ("rules", i, "id"))
            else:
                seen[rid] = i
            if "when" not in rule:
                continue
            compiled = self.expr(compiler, rule["when"], ("rules", i, "when"))
            template = rule.get("explain")
            if isinstance(template, str):
                chars = self._check_template(template, all_names, ("rules", i, "explain"))
                if chars is not None:
                    explains.append((chars, rid, ("rules", i, "explain")))
            if compiled is not None and rule.get("action") in ACTIONS:
                out.append(Rule(rid, str(rule.get("title", rid)), compiled, rule["action"],
                                rule.get("severity", "medium"),
                                template if isinstance(template, str) else None,
                                self.pos.at(("rules", i))))
        too_much = decision_text_finding(explains, self.doc, self.pos)
        if too_much is not None:
            self.errors.append(too_much)
        return out

    def _check_template(self, template: str, names: set[str], path: tuple) -> int | None:
        """Report what is wrong with an explanation template; return the most
        characters it can render to (None if it does not parse or has too
        many fields)."""
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            self.error(f"explanation template: {exc}", path)
            return None
        fields = sum(1 for _, name, _, _ in parsed if name is not None)
        if fields > MAX_TEMPLATE_FIELDS:  # each is formatted for every customer it fires for
            self.error(f"explanation template with {fields} fields, over the limit of "
                       f"{MAX_TEMPLATE_FIELDS}", path)
            return None
        for _, field_name, spec, conversion in parsed:
            if field_name is None:
                continue
            if not field_name.isidentifier() or conversion or (spec and "{" in spec):
                offset = template.find("{" + field_name) + 1
                self.errors.append(PolicyError(
                    f"explanation template field {{{field_name}"
                    f"{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}: "
                    "only a name and a format like {revenue_12m:,.0f} are allowed (no "
                    "attribute, index, conversion or nested field)",
                    self.pos.in_scalar(path, max(offset, 0))))
            elif field_name not in names:
                hint = did_you_mean(field_name, names)
                offset = template.find("{" + field_name) + 1
                self.errors.append(PolicyError(
                    f"explanation template names {{{field_name}}}, which is not a fact, "
                    f"param or derived fact{hint}", self.pos.in_scalar(path, max(offset, 0))))
            elif spec_problem(spec, self._type_of(field_name)):
                offset = template.find("{" + field_name + ":") + 1
                self.errors.append(PolicyError(
                    f"explanation template field {{{field_name}:{spec}}}: "
                    f"{spec_problem(spec, self._type_of(field_name))}",
                    self.pos.in_scalar(path, max(offset, 0))))
        return template_chars(parsed, self._type_of)

    def _type_of(self, name: str) -> str:
        """The static type of a name a template shows (values.NUM ...)."""
        names = self.names
        if names is None:
            return ANY
        if name in names.params:
            return _type_of(names.params[name])
        return names.derive_types.get(name) or names.facts.get(name) or ANY

    def _exemptions(self, compiler: Compiler, rule_ids: set[str]) -> list[Exemption]:
        items = self.doc.get("exemptions")
        if not isinstance(items, list):
            return []
        out, seen = [], set()
        for i, ex in enumerate(items):
            if not isinstance(ex, dict):
                continue
            eid = ex.get("id")
            if not isinstance(eid, str):
                continue  # reported by the schema
            if eid in seen:
                self.error(f"exemption id {eid!r} is used twice", ("exemptions", i, "id"))
            if REGISTRY_ID.fullmatch(eid):
                self.error(f"exemption id {eid!r} is reserved: the database's exemptions "
                           "show on decisions as registry-N", ("exemptions", i, "id"))
            seen.add(eid)
            shielded = ex.get("rules", "all")
            self._rule_refs(f"exemption {eid!r}", shielded, rule_ids, ("exemptions", i, "rules"))
            when = None
            if "when" in ex:
                when = self.expr(compiler, ex["when"], ("exemptions", i, "when"))
            try:
                expires = dt.date.fromisoformat(str(ex.get("expires")))
            except ValueError:
                continue  # reported by the schema
            customers = [normalise_id(c) for c in _list(ex.get("customers"))
                         if isinstance(c, (str, int))]
            for j, cid in enumerate(customers):
                if id_problem(cid, "customer id"):
                    self.error(f"exemption {eid!r}: {id_problem(cid, 'customer id')}",
                               ("exemptions", i, "customers", j))
            out.append(Exemption(
                str(eid), when, frozenset(customers),
                None if shielded == "all" else frozenset(
                    r for r in _list(shielded) if isinstance(r, str)),
                str(ex.get("reason", "")), str(ex.get("approver", "")), expires))
        return out

    def _rule_refs(self, owner: str, rules: Any, rule_ids: set[str], path: tuple) -> None:
        """Every rule id an exemption or hold names must exist."""
        if not isinstance(rules, list):
            return
        for j, rid in enumerate(rules):
            if isinstance(rid, str) and rid not in rule_ids:  # other values: the schema
                self.error(f"{owner} names rule {rid!r}, which does not exist"
                           f"{did_you_mean(str(rid), rule_ids)}", path + (j,))

    def _holds(self, compiler: Compiler, rule_ids: set[str]) -> list[Hold]:
        items = self.doc.get("holds")
        if not isinstance(items, list):
            return []
        out, seen = [], set()
        for i, hold in enumerate(items):
            if not isinstance(hold, dict) or "when" not in hold:
                continue
            hid = hold.get("id")
            if isinstance(hid, str) and hid in seen:
                self.error(f"hold id {hid!r} is used twice", ("holds", i, "id"))
            if hid == CASE_HOLD:
                self.error(f"hold id {hid!r} is reserved: a rejected offboarding case holds "
                           "a decision with it", ("holds", i, "id"))
            seen.add(hid if isinstance(hid, str) else None)
            when = self.expr(compiler, hold["when"], ("holds", i, "when"))
            excepted = hold.get("except_rules") if isinstance(hold.get("except_rules"), list) \
                else []
            self._rule_refs(f"hold {hold.get('id')!r}", excepted, rule_ids,
                            ("holds", i, "except_rules"))
            if when is not None:
                out.append(Hold(str(hold.get("id")), when, str(hold.get("reason", "")),
                                frozenset(str(r) for r in excepted)))
        return out

    def _strikes(self) -> Strikes:
        spec = self.doc.get("strikes") if isinstance(self.doc.get("strikes"), dict) else {}
        ladder = spec.get("ladder") if isinstance(spec.get("ladder"), dict) else {}
        s = Strikes()
        for key in ("window_days", "cooldown_days"):
            if isinstance(spec.get(key), int):
                setattr(s, key, spec[key])
        for key in ("warn", "final_notice", "offboard"):
            if isinstance(ladder.get(key), int):
                setattr(s, key, ladder[key])
        if not s.warn <= s.final_notice <= s.offboard:
            self.error("the strike ladder must climb: warn <= final_notice <= offboard "
                       f"(got {s.warn}, {s.final_notice}, {s.offboard})", ("strikes", "ladder"))
        if s.cooldown_days >= s.window_days:
            self.error("strikes: cooldown_days must be shorter than window_days",
                       ("strikes", "cooldown_days"))
        return s

    def _timing(self, compiler: Compiler) -> Timing:
        spec = self.doc.get("timing") if isinstance(self.doc.get("timing"), dict) else {}
        t = Timing()
        for key in ("contract_end_within_days", "notice_days", "phase_out_days",
                    "max_referrals", "rejection_days"):
            if isinstance(spec.get(key), int) and not isinstance(spec.get(key), bool):
                setattr(t, key, spec[key])
        if isinstance(spec.get("weekdays_only"), bool):
            t.weekdays_only = spec["weekdays_only"]
        for i, period in enumerate(_list(spec.get("avoid"))):
            if not isinstance(period, dict):
                continue
            try:
                bounds = []
                for end in ("from", "to"):
                    month, day = (int(x) for x in str(period.get(end)).split("-"))
                    dt.date(2024, month, day)  # a leap year accepts 02-29
                    bounds.append((month, day))
            except (ValueError, TypeError):
                self.error("timing.avoid: 'from' and 'to' must be month-days like 12-24",
                           ("timing", "avoid", i))
                continue
            t.avoid.append((bounds[0], bounds[1], str(period.get("reason", ""))))
        for i, ref in enumerate(_list(spec.get("referrals"))):
            if not isinstance(ref, dict) or not isinstance(ref.get("vendors"), list):
                continue
            when = None
            if "when" in ref:
                when = self.expr(compiler, ref["when"], ("timing", "referrals", i, "when"))
                if when is None:
                    continue
            t.referrals.append(Referral(when, [str(v) for v in ref["vendors"]],
                                        ref.get("note")))
        if t.phase_out_days > t.notice_days:
            self.error("timing: phase_out_days cannot be longer than notice_days",
                       ("timing", "phase_out_days"))
        return t


def _list(value: Any) -> list:
    """A list the schema asks for, or [] when it is something else (the
    schema error is reported; the other checks go on)."""
    return value if isinstance(value, list) else []


def _topological(deps: dict[str, set[str]]) -> tuple[list[str], list[list[str]]]:
    """Order names so dependencies come first; also return each cycle found."""
    order: list[str] = []
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(deps.get(name, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[name] = 2
        order.append(name)

    for name in deps:
        if name not in state:
            visit(name, [])
    in_cycle = {n for c in cycles for n in c}
    return [n for n in order if n not in in_cycle], cycles
