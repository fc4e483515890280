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


class _Walk:
    def __init__(self, names: Mapping[str, str], assigned: set[str]) -> None:
        self.names = names
        self.assigned = assigned
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
            if node.name in self.names and node.name not in self.assigned:
                return node.name
            return None
        if isinstance(node, nodes.Filter) and node.name in _SAME_LIST and node.node is not None:
            base = self.path(node.node, scope)
            return base if self.kind(base) in ("list", "texts") else None
        if isinstance(node, nodes.Getattr):
            return self.child(self.path(node.node, scope), node.attr, node.lineno)
        if isinstance(node, nodes.Getitem):
            base = self.path(node.node, scope)
            if self.kind(base) in ("list", "texts"):
                return f"{base}[]"
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

    def walk(self, node: nodes.Node, scope: dict[str, str | None]) -> None:
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            self.path(node, scope)
        if isinstance(node, nodes.For):
            self.walk(node.iter, scope)
            inner = dict(scope)
            base = self.path(node.iter, scope)
            for target in node.target.find_all(nodes.Name):
                inner[target.name] = None
            if isinstance(node.target, nodes.Name) and self.kind(base) in ("list", "texts"):
                inner[node.target.name] = f"{base}[]"
            for child in (*node.body, *node.else_, *([node.test] if node.test else [])):
                self.walk(child, inner)
            return
        if isinstance(node, (nodes.Macro, nodes.CallBlock)):
            inner = {**scope, **{a.name: None for a in node.args}}
            for child in node.iter_child_nodes():
                self.walk(child, inner)
            return
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
    walk = _Walk(names, assigned)
    roots = {n for n in names if "." not in n and "[" not in n}
    loose = meta.find_undeclared_variables(ast) - roots - set(env.globals) - assigned
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name in loose:
            walk.problem(node.name, node.lineno)
    walk.walk(ast, {})
    return sorted(walk.problems.items(), key=lambda item: (item[1], item[0]))

