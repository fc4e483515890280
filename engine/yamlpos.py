"""Load YAML keeping the line and column of every node (from the parser's
marks), so errors can point at the exact place in a policy file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Location, PolicyError

Path = tuple  # a path into the document: ("rules", 2, "when")


@dataclass
class Positions:
    """Positions of values (and of mapping keys) by path."""

    file: str
    values: dict[Path, yaml.Node] = field(default_factory=dict)
    keys: dict[Path, yaml.Node] = field(default_factory=dict)

    def at(self, path: Path, key: bool = False) -> Location:
        """Location of the value at path (or of its key), falling back to the
        nearest enclosing node that has a position."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            node = table.get(p) or self.values.get(p)
            if node is not None:
                m = node.start_mark
                return Location(self.file, m.line + 1, m.column + 1)
            p = p[:-1]
        node = self.values.get(())
        if node is not None:
            return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)
        return Location(self.file, 1, 1)

    def in_scalar(self, path: Path, offset: int) -> Location:
        """Location of character `offset` inside the scalar at path, exact for
        one-line plain and quoted scalars, the scalar's start otherwise."""
        node = self.values.get(tuple(path))
        if not isinstance(node, yaml.ScalarNode):
            return self.at(path)
        m = node.start_mark
        single_line = node.end_mark.line == m.line
        if node.style in (None, "", '"', "'") and single_line:
            extra = 1 if node.style in ('"', "'") else 0
            return Location(self.file, m.line + 1, m.column + 1 + extra + offset)
        if node.style in ("|", ">"):
            return _in_block(self.file, node, offset) or Location(self.file, m.line + 2, None)
        return Location(self.file, m.line + 1, m.column + 1)


def _in_block(file: str, node: yaml.ScalarNode, offset: int) -> Location | None:
    """Line and column of character `offset` of a block scalar (| or >).
    Folding and chomping change only the line breaks, so each source line's
    text appears in the value verbatim and in order."""
    start, end = node.start_mark, node.end_mark
    buffer = getattr(start, "buffer", None)
    if not buffer:
        return None
    lines = buffer[start.pointer:end.pointer].split("\n")[1:]  # after the | or > line
    value, cursor, last = node.value, 0, None
    for number, line in enumerate(lines, start=start.line + 2):
        text = line.strip()
        if not text:
            continue
        pos = value.find(text, cursor)
        if pos < 0:
            return None
        indent = len(line) - len(line.lstrip())
        if offset < pos + len(text):
            return Location(file, number, indent + 1 + max(offset - pos, 0))
        cursor, last = pos + len(text), (number, indent + 1 + len(text))
    return Location(file, *last) if last else None


class _Loader(yaml.SafeLoader):
    pass


def load_with_positions(text: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain values plus the position of every value.

    Dates stay ISO strings (so the JSON Schema sees what the author wrote);
    duplicate mapping keys are errors."""
    positions = Positions(file)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise PolicyError(f"invalid YAML: {exc.problem or exc.context}", loc) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", Location(file)) from None
    if root is None:
        return None, positions
    constructor = yaml.SafeLoader("")

    def build(node: yaml.Node, path: Path) -> Any:
        positions.values[path] = node
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise PolicyError("YAML merge keys (<<) are not supported",
                                      _mark(file, key_node))
                key = build_scalar(key_node)
                if isinstance(key, bool) or key is None:
                    raise PolicyError(f"key {key_node.value!r} is read by YAML as "
                                      f"{'null' if key is None else str(key).lower()}; quote "
                                      f"it (\"{key_node.value}\") to use it as a name",
                                      _mark(file, key_node))
                if not isinstance(key, (str, int)):
                    raise PolicyError(f"mapping key must be text, got {key!r}",
                                      _mark(file, key_node))
                if key in out:
                    raise PolicyError(f"duplicate key {key!r}", _mark(file, key_node))
                positions.keys[path + (key,)] = key_node
                out[key] = build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(child, path + (i,)) for i, child in enumerate(node.value)]
        return build_scalar(node)

    def build_scalar(node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise PolicyError("a mapping key must be a plain value", _mark(file, node))
        try:
            value = constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise PolicyError(f"invalid value: {exc}", _mark(file, node)) from None
        except ValueError as exc:  # e.g. an unquoted 2026-02-30
            raise PolicyError(f"invalid value {node.value!r}: {exc}", _mark(file, node)) \
                from None
        if isinstance(value, (dt.date, dt.datetime)):
            return node.value
        return value

    return build(root, ()), positions


def _mark(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
