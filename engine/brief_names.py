"""A brief template's placeholders checked against the documented context
when the template is loaded, whatever branch uses them.

Rendering alone finds an unknown name only on the path the data takes: a
typo in `{% if decision.severity == "critical" %}` passes for one customer
and fails for the next. So every name the template reads is checked on its
parsed form (jinja2's AST) against brief_context.CONTEXT:

- a name the template neither sets nor gets from the context or jinja2's
  globals is unknown (`nickname`);
- a chain of attributes or constant keys from a documented name, or from
  a loop variable over a documented list (`{% for s in strikes %}` makes
  `s` a `strikes[]`), must name a documented value (`customer.nickname`,
  `s.pardoned_by` are unknown). What Python's dict or list offers on a
  mapping or list (`rules.append`, `customer.items`) and anything read from
  a text value (`customer.name.upper()`) is left to the sandbox, as are
  names starting with an underscore; `facts` takes any key (the facts are
  the policy's).

A documented value that a decision may lack ("if any") is not an error
here: rendering a decision without it is (StrictUndefined)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import meta, nodes

# Filters that give back the list they are given (or a part of it).
_SAME_LIST = ("selectattr", "rejectattr", "sort", "reverse", "list", "unique", "select",
              "reject")


# Filters that give back one item of the list they are given.
_ONE_ITEM = ("first", "last", "random")


class _Walk:
    """Walks the template in order with a scope: template name -> the
    documented name it holds (None: a value this check does not follow).
    {% set %}, {% with %}, loop variables, namespace() attributes and
    macro arguments (per call) enter the scope where the template sets
    them; a name not in scope is a root of the context."""

    def __init__(self, names: Mapping[str, str], macros: dict[str, nodes.Macro]) -> None:
        self.names = names
        self.macros = macros
        self.expanding: set[str] = set()
        self.problems: dict[str, int] = {}

    def kind(self, name: str | None) -> str | None:
        """The kind of a documented name; an item of a list is a mapping,
        an item of a list of text a value."""
        if name is None:
            return None
        if name in self.names:
            return self.names[name]
        if name.endswith("[]"):
            return {"list": "mapping", "texts": "value"}.get(self.names.get(name[:-2], ""))
        return None

    def problem(self, name: str, line: int) -> None:
        self.problems.setdefault(name, line)

    def path(self, node: nodes.Node, scope: dict[str, str | None]) -> str | None:
        """The documented name `node` reads, or None when it is not one
        this check follows."""
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            return node.name if node.name in self.names else None
        if isinstance(node, nodes.Filter) and node.node is not None:
            base = self.path(node.node, scope)
            if self.kind(base) not in ("list", "texts"):
                return None
            if node.name in _SAME_LIST:
                return base
            return f"{base}[]" if node.name in _ONE_ITEM else None
        if isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name) and f"{node.node.name}.{node.attr}" in scope:
                return scope[f"{node.node.name}.{node.attr}"]  # a namespace() attribute
            return self.child(self.path(node.node, scope), node.attr, node.lineno)
        if isinstance(node, nodes.Getitem):
            base = self.path(node.node, scope)
            if self.kind(base) in ("list", "texts"):
                return base if isinstance(node.arg, nodes.Slice) else f"{base}[]"
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                return self.child(base, node.arg.value, node.lineno)
        return None

    def child(self, base: str | None, key: str, line: int) -> str | None:
        if base is None or key.startswith("_"):
            return None
        kind = self.kind(base)
        name = f"{base}.{key}"
        if kind == "mapping":
            if name in self.names:
                return name
            if not hasattr(dict, key):
                self.problem(name, line)
        elif kind in ("list", "texts") and not hasattr(list, key):
            self.problem(name, line)
        return None

    def bind(self, target: nodes.Node, value: nodes.Node, into: dict[str, str | None],
             scope: dict[str, str | None]) -> None:
        """Set `target` (a {% set %} or {% with %} target) in `into` to what
        `value`, read in `scope`, holds."""
        if isinstance(target, nodes.NSRef):
            into[f"{target.name}.{target.attr}"] = self.path(value, scope)
            return
        if not isinstance(target, nodes.Name):
            for name in target.find_all(nodes.Name):
                into[name.name] = None
            return
        for key in [k for k in into if k.startswith(f"{target.name}.")]:
            del into[key]
        into[target.name] = self.path(value, scope)
        if isinstance(value, nodes.Call) and isinstance(value.node, nodes.Name) \
                and value.node.name == "namespace" and "namespace" not in scope:
            into[target.name] = None
            for kw in value.kwargs:
                into[f"{target.name}.{kw.key}"] = self.path(kw.value, scope)

    def expand(self, macro: nodes.Macro, call: nodes.Call,
               scope: dict[str, str | None]) -> None:
        """Check the macro's body with the documented values a call gives
        its arguments (positional and by name)."""
        args: dict[str, str | None] = {a.name: None for a in macro.args}
        for arg, value in zip(macro.args, call.args, strict=False):
            args[arg.name] = self.path(value, scope)
        for kw in call.kwargs:
            if kw.key in args:
                args[kw.key] = self.path(kw.value, scope)
        if macro.name in self.expanding or not any(args.values()):
            return
        self.expanding.add(macro.name)
        inner: dict[str, str | None] = {"caller": None, "varargs": None, "kwargs": None,
                                        **args}
        for child in macro.body:
            self.walk(child, inner)
        self.expanding.discard(macro.name)

    def walk(self, node: nodes.Node, scope: dict[str, str | None]) -> None:
        if isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Filter)):
            self.path(node, scope)
        if isinstance(node, nodes.Assign):
            self.walk(node.node, scope)
            self.bind(node.target, node.node, scope, scope)
            return
        if isinstance(node, nodes.AssignBlock):
            for child in (*node.body, *([node.filter] if node.filter else [])):
                self.walk(child, scope)
            self.bind(node.target, nodes.Const(None), scope, scope)
            return
        if isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=False):
                self.walk(value, scope)
                self.bind(target, value, inner, scope)
            for child in node.body:
                self.walk(child, inner)
            return
        if isinstance(node, nodes.For):
            self.walk(node.iter, scope)
            inner = dict(scope)
            base = self.path(node.iter, scope)
            for target in (node.target, *node.target.find_all(nodes.Name)):
                if isinstance(target, nodes.Name):
                    inner[target.name] = None
            if isinstance(node.target, nodes.Name) and self.kind(base) in ("list", "texts"):
                inner[node.target.name] = f"{base}[]"
            inner["loop"] = None
            for child in (*node.body, *([node.test] if node.test else [])):
                self.walk(child, inner)
            for child in node.else_:
                self.walk(child, dict(scope))
            return
        if isinstance(node, (nodes.Macro, nodes.CallBlock)):
            inner = {**scope, "caller": None, "varargs": None, "kwargs": None,
                     **{a.name: None for a in node.args}}
            for child in node.iter_child_nodes():
                self.walk(child, inner)
            return
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) \
                and node.node.name in self.macros and node.node.name not in scope:
            self.expand(self.macros[node.node.name], node, scope)
        for child in node.iter_child_nodes():
            self.walk(child, scope)


def _assigned(ast: nodes.Template) -> set[str]:
    """Every name the template sets somewhere (set, for, macro arguments)."""
    out: set[str] = set()
    for node in ast.find_all((nodes.Assign, nodes.AssignBlock, nodes.For)):
        out |= {n.name for n in node.target.find_all(nodes.Name)}
        if isinstance(node.target, nodes.Name):
            out.add(node.target.name)
    for node in ast.find_all((nodes.Macro, nodes.CallBlock)):
        out |= {a.name for a in node.args}
    for node in ast.find_all(nodes.Macro):
        out.add(node.name)
    return out


def unknown_names(ast: nodes.Template, env: Any, names: Mapping[str, str],
                  ) -> list[tuple[str, int]]:
    """(name, template line) of each placeholder of `ast` that is not in
    `names` (brief_context.CONTEXT), first use of each, in line order."""
    assigned = _assigned(ast)
    walk = _Walk(names, {m.name: m for m in ast.find_all(nodes.Macro)})
    roots = {n for n in names if "." not in n and "[" not in n}
    loose = meta.find_undeclared_variables(ast) - roots - set(env.globals) - assigned
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name in loose:
            walk.problem(node.name, node.lineno)
    walk.walk(ast, {})
    return sorted(walk.problems.items(), key=lambda item: (item[1], item[0]))

