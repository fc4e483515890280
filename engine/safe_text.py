"""Text that is safe to show and identifiers that can be typed.

Two jobs, shared by intake and every command:

- Identifiers (customer ids): `normalise_id` gives the form adieu keeps
  and looks up (Unicode NFC, surrounding whitespace, non-breaking spaces
  included, stripped), the same for an id read from a source, listed in a
  policy or typed on the command line; `id_problem` says why an id cannot
  be kept (a character that would not show, or would show as something
  else: controls, bidi and zero-width format characters, any other
  non-printing character).
- Text facts: `normalise_text` (NFC, stripped) and `text_problem`: a C0/C1
  control character other than tab, line feed and carriage return.
- Output: `visible` escapes every character a terminal would act on or
  hide (controls, ESC sequences, bidi overrides, zero-width characters,
  line/paragraph separators, unassigned code points) as \\x1b, \\u202e ...;
  `echo` is click.echo through `visible`; `json_text` dumps JSON whose
  strings carry those characters as \\u escapes (still valid JSON).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import click

from . import jsontext

# Categories escaped on output: controls, format characters (bidi, zero
# width, BOM), surrogates, private use, unassigned, line/paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Controls a text fact may hold: tab, line feed, carriage return.
TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r")
# What is stripped around ids and text: Python's whitespace except the
# control characters it counts as whitespace (U+000B, U+000C, U+001C-U+001F,
# U+0085), which are reported instead of silently dropped.
WHITESPACE = (" \t\n\r\u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
              + "\u2028\u2029\u202f\u205f\u3000")


# Characters that print as nothing although Unicode calls them printable:
# the default-ignorable code points that are not format characters
# (combining grapheme joiner, Hangul fillers, variation selectors, tag
# characters ...) and the blank Braille pattern. An id holding one would
# show as another id.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")


def code(ch: str) -> str:
    """'U+001B' for ESC."""
    return f"U+{ord(ch):04X}"


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN


def _escape(ch: str) -> str:
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def visible(text: Any, keep: str = "") -> str:
    """`text` with every hidden character escaped (ESC -> \\x1b, U+202E ->
    \\u202e); characters in `keep` (e.g. "\\n" for multi-line messages)
    stay. Printable text, backslashes included, is returned unchanged."""
    text = str(text)
    if text.isprintable() and not _INVISIBLE.search(text):
        return text
    return "".join(_escape(ch) if ch not in keep and (_hidden(ch) or _INVISIBLE.match(ch))
                   else ch for ch in text)


def echo(message: Any = "", err: bool = False, nl: bool = True, keep: str = "") -> None:
    """click.echo of `visible(message)`: data values never reach a terminal raw."""
    click.echo(visible(message, keep), err=err, nl=nl)


def _json_escape(ch: str) -> str:
    n = ord(ch)
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000  # a UTF-16 surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def json_text(value: Any, indent: int | None = None) -> str:
    """jsontext.dumps(value, indent) (exact decimals as JSON numbers) with
    hidden characters written as \\u escapes. JSON's own syntax is ASCII, so
    they can only be inside strings, where \\uXXXX means the same character:
    the document reads back to the same value."""
    text = jsontext.dumps(value, indent=indent)
    if text.isprintable():
        return text
    return "".join(_json_escape(ch) if _hidden(ch) and ch not in "\n" else ch
                   for ch in text)


def trim(text: str) -> str:
    """text without surrounding WHITESPACE: spaces (no-break and other
    Unicode spaces too), tabs and line breaks. Not str.strip(), which also
    drops the control characters U+001C-U+001F and U+0085 silently, so that
    "12\x1f" would read as 12."""
    return text.strip(WHITESPACE)


def normalise_id(value: Any) -> str:
    """The form a customer id is kept and looked up in: NFC, with surrounding
    whitespace (spaces, tabs, line breaks, non-breaking spaces) stripped."""
    return unicodedata.normalize("NFC", str(value)).strip(WHITESPACE)


def id_problem(text: str, name: str = "customer_id") -> str | None:
    """Why a (normalised) id cannot be kept, or None. An id must show as it
    is typed: no control character, no format character (bidi overrides,
    zero-width characters, byte-order mark), no other non-printing character
    (a non-breaking space inside it, say)."""
    invisible = _INVISIBLE.search(text)
    if text.isprintable() and not invisible:
        return None
    ch = next((c for c in text if not c.isprintable()), None) or invisible.group()
    category = unicodedata.category(ch)
    if category == "Cc":
        kind = "a control character"
    elif category == "Cf":
        kind = "an invisible formatting character"
    elif ch.isprintable():
        kind = "a character that shows as nothing"
    else:
        kind = "a character that does not print"
    return f"{name} contains {kind} ({code(ch)})"


def normalise_text(value: Any) -> str:
    """A text fact as kept: NFC, surrounding whitespace stripped."""
    return unicodedata.normalize("NFC", str(value)).strip(WHITESPACE)


def text_problem(text: str, name: str) -> str | None:
    """Why a text fact cannot be kept, or None: it holds a control character
    other than tab, line feed and carriage return (U+0000-U+001F, U+007F-
    U+009F). Format characters (bidi marks, zero-width joiners) are kept:
    right-to-left names and emoji need them; they are escaped when shown."""
    if text.isprintable():  # the common case: no control character at all
        return None
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in TEXT_CONTROLS_ALLOWED:
            return f"{name} contains a control character ({code(ch)})"
    return None


def name_problem(text: str, what: str = "a name") -> str | None:
    """Why `text` cannot be a person's name as typed (--by, --approver), or
    None: a control character, a formatting character or one that shows as
    nothing would let one name look like another. A tab is a space here
    (name_keys reads it as one)."""
    for ch in text:
        if ch == "\t":
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or _INVISIBLE.match(ch):
            kind = "a control character" if category == "Cc" else \
                "an invisible or formatting character"
            return f"{what} may not contain {kind} ({code(ch)})"
    return None


def name_keys(text: str) -> list[str]:
    """engine.names.name_keys: the folded keys a person's name is stored by."""
    from .names import name_keys as keys
    return keys(text)


def same_name(a: str, b: str) -> bool:
    """engine.names.same_name: could the two names be one person's?"""
    from .names import same_name as same
    return same(a, b)


def blank(value: Any) -> bool:
    """None, or text that is only whitespace (an empty cell): a missing value."""
    return value is None or (isinstance(value, str) and not value.strip(WHITESPACE))


class TerminalSafe:
    """A text stream wrapper for machine output (CSV): writes go through
    `visible` when the stream is a terminal, unchanged otherwise."""

    def __init__(self, stream: Any):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def write(self, text: str) -> int:
        return self.stream.write(visible(text, keep="\n") if self.tty else text)
