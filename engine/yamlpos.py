"""Load YAML under the YAML 1.2 core schema, keeping the line and column of
every node (from the parser's marks), so errors can point at the exact
place in a policy or mapping file.

What is read as what (docs/policy-reference.md, "YAML pitfalls"): only
true/false are booleans; only null, ~ and an empty value are null;
integers are decimal (010 is ten), 0o17 octal, 0x1F hex; other numbers are
exact decimals (decimal.Decimal); yes/no/on/off, 1:30 and dates are text.
Anchors, aliases, merge keys and non-core tags are refused."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import jsonschema
import yaml

from .decimals import check_magnitude, plain_text
from .errors import Location, PolicyError, PolicyFileError

Path = tuple  # a path into the document: ("rules", 2, "when")


@dataclass
class Positions:
    """Positions of values (and of mapping keys) by path."""

    file: str
    values: dict[Path, yaml.Node] = field(default_factory=dict, repr=False)
    keys: dict[Path, yaml.Node] = field(default_factory=dict, repr=False)
    source: str = field(default="", repr=False)  # the text, which marks index into

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

    def text(self, path: Path) -> str | None:
        """What the author wrote for the plain (unquoted) scalar at path, or
        None: `2026.10` where YAML reads the number 2026.1, `007` for 7.
        Used wherever a string is expected, so text keeps its letters."""
        node = self.values.get(tuple(path))
        if isinstance(node, yaml.ScalarNode) and not node.style:
            return node.value
        return None

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
            return _in_block(self.file, node, offset, self.source) or \
                Location(self.file, m.line + 2, None)
        return Location(self.file, m.line + 1, m.column + 1)


def _in_block(file: str, node: yaml.ScalarNode, offset: int, source: str) -> Location | None:
    """Line and column of character `offset` of a block scalar (| or >).
    Folding and chomping change only the line breaks, so each source line's
    text appears in the value verbatim and in order."""
    start, end = node.start_mark, node.end_mark
    if not source:
        return None
    lines = source[start.index:end.index].split("\n")[1:]  # after the | or > line
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


# Bounds on what a policy or mapping file may hold. They are far
# above any real file (policies/default.yaml is 18 KB, about 1,500 nodes,
# nesting depth 6) and keep a hostile file from exhausting the machine.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000
# One text value or key: far above any real one (a policy's description),
# so a file cannot be one huge string copied into every message or
# decision (a policy's own texts are bounded lower: policy_limits.py).
MAX_SCALAR_CHARS = 100_000

CORE = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (CORE + t for t in ("str", "int", "float", "bool", "null"))
SEQ, MAP = CORE + "seq", CORE + "map"


class Core12Resolver(yaml.resolver.BaseResolver):
    """The YAML 1.2 core schema's implicit types (yaml.org/spec/1.2.2,
    section 10.3): only true/false (any case of the first letter or all
    caps) are booleans, only null/Null/NULL/~/empty are null, integers are
    decimal (leading zeros allowed, never octal), 0o octal or 0x hex,
    floats are decimal or .inf/.nan. Everything else is a string: yes, no,
    on, off, y, n, 1:30, 2026-11-01, 1_000 stay text."""

    yaml_implicit_resolvers: dict = {}


_DIRECTIVE = re.compile(r"^(%YAML)[ \t]+(\S*)", re.MULTILINE)
_CORE_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")

for _tag, _pattern, _first in (
    (BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (FLOAT, r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
):
    Core12Resolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


class _Refused(yaml.MarkedYAMLError):
    """A construct adieu does not read (anchor, alias, foreign tag, too deep)."""


class _Composer(yaml.composer.Composer, Core12Resolver):
    """PyYAML's composer (nodes keep their start and end marks) with the YAML
    1.2 core resolver; it refuses anchors, aliases and tags outside the core
    schema, and bounds nesting depth and node count. Mixed with a parser
    below: libyaml's (about eight times faster) where PyYAML was built with
    it, else PyYAML's own."""

    def _start(self) -> None:
        yaml.composer.Composer.__init__(self)
        Core12Resolver.__init__(self)
        self.depth = 0
        self.nodes = 0

    get_single_node = yaml.composer.Composer.get_single_node
    compose_document = yaml.composer.Composer.compose_document

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(problem=f"YAML aliases (*{event.anchor}) are not supported; write "
                                   "the value out in full", problem_mark=event.start_mark)
        if getattr(event, "anchor", None):
            raise _Refused(problem=f"YAML anchors (&{event.anchor}) are not supported; write "
                                   "the value out in full", problem_mark=event.start_mark)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in (STR, INT, FLOAT, BOOL, NULL, SEQ, MAP):
            raise _Refused(problem=f"YAML tag {_short_tag(tag)} is not supported (only the "
                                   "core types: !!str, !!int, !!float, !!bool, !!null, "
                                   "!!seq, !!map)", problem_mark=event.start_mark)
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR_CHARS:
            raise _Refused(problem=f"a YAML value of {len(event.value):,} characters, over "
                                   f"the limit of {MAX_SCALAR_CHARS:,}",
                           problem_mark=event.start_mark)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(problem=f"more than {MAX_NODES:,} YAML values in one file",
                           problem_mark=event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(problem=f"YAML nested more than {MAX_DEPTH} levels deep",
                               problem_mark=event.start_mark)
            return yaml.composer.Composer.compose_node(self, parent, index)
        finally:
            self.depth -= 1


if getattr(yaml, "__with_libyaml__", False):
    class _Loader(_Composer, yaml._yaml.CParser):  # type: ignore[name-defined]
        def __init__(self, stream: str):
            yaml._yaml.CParser.__init__(self, stream)  # type: ignore[attr-defined]
            self._start()
else:  # pragma: no cover - PyYAML built without libyaml
    class _Loader(_Composer, yaml.reader.Reader, yaml.scanner.Scanner,  # type: ignore[no-redef]
                  yaml.parser.Parser):
        def __init__(self, stream: str):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            self._start()


def _too_deep_at(text: str, file: str) -> Location | None:
    """Where a value first lies more than MAX_DEPTH levels deep, as the
    composer counts them (the document's top value is level 1), or None.

    For the paths where the composer's own check does not get there first:
    libyaml's scanner refuses deep nesting while looking ahead (its mark is
    where its own bound of 1,000 levels is passed, not ours), and deep
    recursion. PyYAML's pure-Python parser is iterative and reads events one
    at a time, so this stops at the first value too deep however long the
    rest of the file is."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent,
                                  yaml.CollectionStartEvent)):
                if depth + 1 > MAX_DEPTH:
                    m = event.start_mark
                    return Location(file, m.line + 1, m.column + 1)
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except (yaml.YAMLError, RecursionError):
        return None
    return None


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(CORE):] if tag.startswith(CORE) else tag


def check_size(size: int, file: str, what: str = "file") -> None:
    """Refuse a policy or mapping file over MAX_FILE_BYTES."""
    if size > MAX_FILE_BYTES:
        raise PolicyError(f"{what} is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} "
                          "bytes", Location(file))


def read_text(path: Any, what: str) -> str:
    """The text of a policy or mapping file: at most MAX_FILE_BYTES, UTF-8
    with or without a byte-order mark. PolicyError if it is not a regular
    file (a FIFO, device or directory: never waited on), naming the file's size,
    or the line, column and byte of the first byte that is not UTF-8.
    OSError passes through."""
    file = str(path)
    # Opened without blocking (a FIFO would wait for a writer), then refused
    # unless it is a regular file: a FIFO, device or directory never reads.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO, device or socket"
            raise PolicyFileError(f"{what} is not a regular file ({kind})", Location(file))
        check_size(info.st_size, file, what)
        raw = handle.read(MAX_FILE_BYTES + 1)
    check_size(len(raw), file, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start:exc.start].decode("utf-8", "replace")) + 1
        raise PolicyError(f"{what} is not UTF-8 text: byte {exc.start} is "
                          f"0x{raw[exc.start]:02x} (save the file as UTF-8)",
                          Location(file, raw.count(b"\n", 0, exc.start) + 1, column)) from None


def scalar(node: yaml.ScalarNode, file: str) -> Any:
    """The value of a scalar node under the YAML 1.2 core schema: str, int,
    Decimal (never float: 0.1 stays exactly 0.1), bool or None. Raise
    PolicyError at the node for .inf / .nan and for an explicit tag whose
    text does not fit (`!!int abc`)."""
    text, tag = node.value, node.tag
    if tag == STR:
        return text
    if tag == NULL:
        if text not in ("", "~", "null", "Null", "NULL"):
            raise PolicyError(f"{text!r} is not null", _mark(file, node))
        return None
    if tag == BOOL:
        if text.lower() not in ("true", "false"):
            raise PolicyError(f"{text!r} is not true or false", _mark(file, node))
        return text.lower() == "true"
    if tag == INT:
        digits = text
        try:
            if digits[:2] in ("0o", "0x"):
                return check_magnitude(int(digits[2:], 8 if digits[1] == "o" else 16))
            if not re.fullmatch(r"[-+]?[0-9]+", digits):
                raise ValueError
            return check_magnitude(int(digits))
        except ValueError:
            raise PolicyError(f"{text!r} is not a whole number", _mark(file, node)) from None
        except OverflowError as exc:
            raise PolicyError(f"number {text}: {exc}", _mark(file, node)) from None
    if tag == FLOAT:
        if text.lstrip("+-").lower() in (".inf", ".nan"):
            raise PolicyError(f"{text} is not a finite number; numbers must be finite (quote "
                              "it to use it as text)", _mark(file, node))
        if not _CORE_FLOAT.match(text):
            raise PolicyError(f"{text!r} is not a number", _mark(file, node))
        value = Decimal(text)
        if not value.is_finite():
            raise PolicyError(f"{text} is not a finite number; numbers must be finite (quote "
                              "it to use it as text)", _mark(file, node))
        try:
            return check_magnitude(value)
        except OverflowError as exc:
            raise PolicyError(f"number {text}: {exc}", _mark(file, node)) from None
    raise PolicyError(f"unsupported YAML tag {_short_tag(tag)}", _mark(file, node))


def load_with_positions(text: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain values plus the position of every value.

    Read under the YAML 1.2 core schema (see Core12Resolver): floats become
    decimal.Decimal, dates stay ISO strings (so the JSON Schema sees what
    the author wrote). Duplicate keys, true/false/null keys, merge keys,
    anchors, aliases, tags outside the core schema, files over
    MAX_FILE_BYTES, nesting over MAX_DEPTH and more than MAX_NODES values
    are PolicyErrors at their file:line:col."""
    check_size(len(text.encode("utf-8", "surrogatepass")), file)
    positions = Positions(file, source=text)
    version = _DIRECTIVE.search(text)
    if version and version.group(2) != "1.2":
        raise PolicyError(f"%YAML {version.group(2)}: adieu reads YAML 1.2 (see \"YAML "
                          "pitfalls\" in the policy reference); remove the directive",
                          Location(file, text[:version.start(1)].count("\n") + 1, 1))
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            getattr(loader, "dispose", lambda: None)()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = exc.problem or exc.context
        if "maximum nesting depth" in str(problem):  # libyaml's own bound, scanning ahead
            raise PolicyError(f"YAML nested more than {MAX_DEPTH} levels deep",
                              _too_deep_at(text, file) or loc) from None
        prefix = "" if isinstance(exc, _Refused) else "invalid YAML: "
        raise PolicyError(f"{prefix}{problem}", loc) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        at = exc.position
        loc = Location(file, text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at))
        raise PolicyError(f"invalid YAML: character U+{exc.character:04X} is not allowed in "
                          "a YAML file (write it as an escape, like \\x01, inside double "
                          "quotes)", loc) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", Location(file)) from None
    except RecursionError:
        raise PolicyError(f"YAML nested more than {MAX_DEPTH} levels deep",
                          _too_deep_at(text, file) or Location(file)) from None
    if root is None:
        return None, positions

    def build(node: yaml.Node, path: Path) -> Any:
        positions.values[path] = node
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == CORE + "merge" or (
                        isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<"
                        and not key_node.style):
                    raise PolicyError("YAML merge keys (<<) are not supported",
                                      _mark(file, key_node))
                key = build_scalar(key_node)
                if isinstance(key, bool) or key is None:
                    raise PolicyError(f"key {key_node.value!r} is read by YAML as "
                                      f"{'null' if key is None else str(key).lower()}; quote "
                                      f"it (\"{key_node.value}\") to use it as a name",
                                      _mark(file, key_node))
                if not isinstance(key, str):
                    key = key_node.value  # a key is a name: 010, 1.50, 0x1F as written
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
        return scalar(node, file)

    return build(root, ()), positions


def _mark(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def schema_errors(doc: Any, positions: Positions, validator: Any) -> list[Any]:
    """The JSON Schema errors of a loaded file (within oneOf / anyOf, the
    best match); validator: a jsonschema validator of the file's schema.

    First, where the schema wants text and YAML read a plain scalar as a
    number or boolean (`version: 2026.10` is the number 2026.1, `reason:
    true`, `true_values: [1]`), what the author wrote is put back, in place.
    Values the schema also accepts as numbers are left alone (no error,
    nothing to do); callers use Positions.text for those where text
    matters. One validation pass when nothing needed its text back."""
    for _ in range(8):  # each pass fixes what one validation reports
        errors = list(validator.iter_errors(doc))
        if not _keep_text(errors, doc, positions):
            break
    return [_best(e) for e in errors]


def _best(error: Any) -> Any:
    """For a oneOf / anyOf error, the error of the branch meant: branches
    that want another type than the value's are set aside, so `scale: 0` in
    a field's object is "0 is less than or equal to the minimum of 0", not
    "{...} is not of type 'string'"; then the deepest error of what is left.
    Otherwise jsonschema's best match."""
    if not error.context:
        return error
    branches: dict[Any, list[Any]] = {}
    for e in error.context:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    meant = [e for errs in branches.values()
             if not any(e.validator == "type" and not e.relative_path for e in errs)
             for e in errs]
    if not meant:
        return jsonschema.exceptions.best_match(error.context)
    return _best(max(meant, key=lambda e: len(e.absolute_path)))


def _keep_text(errors: list[Any], doc: Any, positions: Positions) -> bool:
    fixed = False
    for error in errors:
        for e in _with_context(error):
            types = e.validator_value if e.validator == "type" else None
            wants_text = types == "string" or (isinstance(types, list) and "string" in types)
            if not wants_text or not isinstance(e.instance, (bool, int, Decimal)):
                continue
            path = tuple(e.absolute_path)
            text = positions.text(path)
            if text is not None and path and _set(doc, path, text):
                fixed = True
    return fixed


QUOTE_WIDTH = 40  # characters of a text value or key quoted in a message


def quoted(text: Any, width: int = QUOTE_WIDTH) -> str:
    """A text value or key quoted for a message: escaped (repr: a control
    character is never shown raw) and cut to `width` characters, so that
    an error about a file that is not a policy (policy: /etc/passwd) does not
    echo the file."""
    text = str(text)
    if len(text) <= width:
        return repr(text)
    return f"{text[:width]!r}... ({len(text):,} characters)"


def shown(value: Any) -> str:
    """A YAML value in a message as the author would write it: 2.0 (not
    Decimal('2.0')), true, null, 'text' (quoted: escaped, at most
    QUOTE_WIDTH characters), a mapping, a list."""
    if value is None:
        return "null (no value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_text(value)
    if isinstance(value, dict):
        return "a mapping" if value else "{}"
    if isinstance(value, list):
        return "a list" if value else "[]"
    if isinstance(value, str):
        return quoted(value)
    return repr(value)


def schema_message(error: Any) -> str:
    """jsonschema's message with the value shown as the author wrote it
    (jsonschema starts most messages with the value's Python repr)."""
    if error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) \
            else [error.validator_value]
        return f"{shown(error.instance)} is not " + " or ".join(
            _TYPE_WORDS.get(t, t) for t in types)
    message = error.message
    start = repr(error.instance)
    if message.startswith(start):
        message = shown(error.instance) + message[len(start):]
    return message


_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "string": "text",
               "boolean": "true or false", "array": "a list", "object": "a mapping",
               "null": "empty"}


def schema_location(error: Any, positions: Positions) -> Location:
    """Where a schema error lies: the value at its path, or for a key that
    breaks `propertyNames` (a fact named Bad-Name), that key."""
    path = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        return positions.at(path + (error.instance,), key=True)
    return positions.at(path)


def shorten(text: str, width: int = 160) -> str:
    """text cut in the middle to at most about `width` characters (a schema
    message quoting a huge value)."""
    if len(text) <= width:
        return text
    half = (width - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def _with_context(error: Any) -> list[Any]:
    out, stack = [], [error]
    while stack:
        e = stack.pop()
        out.append(e)
        stack.extend(e.context or ())
    return out


def _set(doc: Any, path: tuple, value: Any) -> bool:
    parent = doc
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return False
    try:
        if parent[path[-1]] == value:
            return False
        parent[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return False
    return True


def as_text(value: Any, positions: Positions, path: Path) -> Any:
    """value with every plain scalar that YAML read as a number replaced by
    the author's text (0012 stays "0012"), through lists: for settings a
    reader takes as text, as it does from `-o KEY=VALUE`."""
    if isinstance(value, list):
        return [as_text(v, positions, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        text = positions.text(path)
        return value if text is None else text
    return value
