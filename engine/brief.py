"""Rendering an offboarding brief from a jinja2 template, safely.

A template runs in jinja2's ImmutableSandboxedEnvironment (no attribute
starting with an underscore, no Python internals, no changing the lists
and dicts it is given: https://jinja.palletsprojects.com/en/stable/sandbox/)
with StrictUndefined: a placeholder the context lacks is an error naming
it and the template file:line, never a blank. HTML templates autoescape
every value; Markdown values are escaped so that a name cannot become
markup. A brief whose offboarding is not approved is marked DRAFT by this
module, whatever the template says (mark_draft).

Errors: InputError (exit 2) with the template file and line as location."""

from __future__ import annotations

import functools
import html
import html.parser
import math
import re
import signal
import threading
import traceback
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from .errors import InputError, Location
from .safe_text import visible

FORMATS = ("md", "html")
DRAFT_TEXT = "DRAFT: this offboarding is not approved yet. Do not send."
# Globals a template keeps (jinja2's lipsum, cycler and joiner are dropped).
_GLOBALS = ("range", "dict", "namespace")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Characters that Markdown (CommonMark) would read as markup in a value;
# a backslash before them makes them literal.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))|&(?=#?\w+;)")
# What starts a block when a value starts a line: a heading (#), a list
# item or thematic break (- + *), a setext underline (=), a ~~~ fence or
# an ordered list item (1. 1)); ` > | are escaped anywhere by _MD_SPECIAL.
_MD_BLOCK_START = re.compile(r"^(?:#|=|~~~|[+-](?=[ +-]|$)|\d{1,9}(?=[.)](?: |$)))")


def default_template_name(fmt: str) -> str:
    """'brief.md.j2' or 'brief.html.j2': package data under adieu/brief_templates/."""
    return f"brief.{fmt}.j2"


def default_template(fmt: str) -> tuple[str, str]:
    """(text, file name for messages) of the default template of `fmt`."""
    name = default_template_name(fmt)
    path = resources.files("adieu") / "brief_templates" / name
    return path.read_text(encoding="utf-8"), str(path)


def read_template(path: str) -> str:
    """The text of a template file (UTF-8). InputError if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"template is not UTF-8 text (byte {exc.start})",
                         Location(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read template: {exc.strerror}", Location(path)) from None


def long_date(value: Any) -> str:
    """'2027-01-29' -> 'Friday 29 January 2027' (English, no locale)."""
    import datetime as dt

    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _md_value(value: Any) -> Any:
    """A value as Markdown text: hidden characters escaped (\\x1b), line
    breaks and tabs as spaces, Markdown markup characters backslashed."""
    if isinstance(value, Markup):
        return value
    text = visible(str(value), keep="\n\r\t")
    # leading spaces would make an indented code block at a line's start
    text = re.sub(r"[\r\n\t]+", " ", text).lstrip(" ")
    text = _MD_SPECIAL.sub(lambda m: "\\" + (m.group(1) or "&"), text)
    # a value at the start of a line cannot open a block that swallows the
    # lines after it (a fence, a list, a heading)
    block = _MD_BLOCK_START.match(text)
    if block is None:
        return text
    if block.group(0)[0].isdigit():
        end = block.end()
        return text[:end] + "\\" + text[end:]
    return "\\" + text


def _html_value(value: Any) -> Any:
    """A value for HTML: hidden characters escaped as text (autoescape then
    escapes <, >, &, quotes)."""
    if isinstance(value, Markup):
        return value
    return visible(str(value), keep="\n\r\t")


# Bounds on what a template may compute, so that a template cannot exhaust
# the machine: a text or list longer than MAX_ITEMS, a number with more
# than MAX_DIGITS digits, a render longer than RENDER_SECONDS or an output
# longer than MAX_OUTPUT characters is an error naming the template file.
MAX_ITEMS = 1_000_000
MAX_DIGITS = 100
RENDER_SECONDS = 10.0
MAX_OUTPUT = 5_000_000


class TemplateLimit(Exception):
    """A template went over one of the bounds above."""


def _bounded(value: Any) -> Any:
    """`value`, or TemplateLimit if it is over a bound."""
    if isinstance(value, (str, list, tuple, bytes)) and len(value) > MAX_ITEMS:
        raise TemplateLimit(f"a value of {len(value):,} items is over the limit of "
                            f"{MAX_ITEMS:,}")
    if isinstance(value, int) and not isinstance(value, bool) and \
            abs(value) >= 10 ** MAX_DIGITS:
        raise TemplateLimit(f"a number over 10**{MAX_DIGITS} is over the limit")
    return value


def _size(value: Any) -> float:
    """How many items (a sequence) or digits (a number) `value` has."""
    if isinstance(value, (str, list, tuple, bytes)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return math.log10(abs(value)) + 1 if value else 0
    return 0


# A width, count or repeat written in a format string ("%999999999s",
# "{:>999999999}") or given to a filter (center, indent, wordwrap, truncate,
# replace): checked before the text is built, so it cannot take the memory.
_WIDE = re.compile(r"[0-9]{7,}")


def _check_args(name: str, args: tuple, kwargs: dict) -> None:
    """TemplateLimit if a filter or format call would build a text over MAX_ITEMS."""
    values = [*args, *kwargs.values()]
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ITEMS:
            raise TemplateLimit(f"{name}: {value:,} is over the limit of {MAX_ITEMS:,}")
    if name in ("format", "format_map") and values and isinstance(values[0], str) and \
            _WIDE.search(values[0]):
        raise TemplateLimit(f"{name}: a width or precision of 7 digits or more is over the limit")
    if name == "replace" and len(values) >= 3 and all(isinstance(v, str) for v in values[:3]):
        text, old, new = values[:3]
        grows = (text.count(old) if old else len(text) + 1) * len(new)
        if len(text) + grows > MAX_ITEMS:
            raise TemplateLimit(f"replace: the result would be over the limit of {MAX_ITEMS:,}")


def _guarded(name: str, fn: Any) -> Any:
    """Filter `fn` with its arguments checked and its result bounded."""
    @functools.wraps(fn)  # keeps jinja2's pass_context / pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_args(name, tuple(a for a in args if not isinstance(
            a, (jinja2.runtime.Context, jinja2.Environment, jinja2.nodes.EvalContext))), kwargs)
        return _bounded(fn(*args, **kwargs))
    return guarded


class _CodeGenerator(CodeGenerator):
    """jinja2's code generator with the result of every `~` bounded."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded(")
        super().visit_Concat(node, frame)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with `*`, `**` and `+` bounded (before computing when
    the result would be too big to build, MAX_ITEMS and MAX_DIGITS)."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])
    code_generator_class = _CodeGenerator
    bounded = staticmethod(_bounded)

    def wrap_str_format(self, value: Any) -> Any:
        """str.format and format_map, as jinja2's sandbox wraps them, with
        the format string's widths checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _check_args("format", (value.__self__,), {})
        return lambda *args, **kwargs: _bounded(wrapped(*args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str) and _WIDE.search(left):
            raise TemplateLimit("%: a width or precision of 7 digits or more is over the limit")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and \
                        len(seq) * n > MAX_ITEMS:
                    raise TemplateLimit(f"repeating {len(seq):,} items {n:,} times is over "
                                        f"the limit of {MAX_ITEMS:,}")
            if isinstance(left, int) and isinstance(right, int) and \
                    _size(left) + _size(right) > MAX_DIGITS + 2:
                raise TemplateLimit(f"a number over 10**{MAX_DIGITS} is over the limit")
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and \
                abs(left) > 1 and right > 0 and right * math.log10(abs(left)) > MAX_DIGITS:
            raise TemplateLimit(f"a number over 10**{MAX_DIGITS} is over the limit")
        return _bounded(super().call_binop(context, operator, left, right))


class _Undefined(jinja2.StrictUndefined):
    """StrictUndefined whose error names the value by its full path in the
    brief context ('customer.contact', 'rules[3]')."""

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        if self._undefined_hint is None and self._undefined_exception is jinja2.UndefinedError:
            obj, name = self._undefined_obj, self._undefined_name
            owner = getattr(obj, "_adieu_path", None) if obj is not jinja2.utils.missing \
                else ""
            if owner is None:
                full = f"{type(obj).__name__} value has no {name!r}"
            elif isinstance(name, int):
                full = f"{owner}[{name}]"
            else:
                full = f"{owner}.{name}" if owner else str(name)
            raise jinja2.UndefinedError(f"placeholder {full!r} is not in the brief's data")
        return super()._fail_with_undefined_error(*args, **kwargs)

    __iter__ = __str__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = \
        __contains__ = _fail_with_undefined_error  # type: ignore[assignment]


def environment(fmt: str) -> ImmutableSandboxedEnvironment:
    """The sandbox a brief template of `fmt` ('md' or 'html') runs in."""
    env = _Sandbox(
        undefined=_Undefined, autoescape=fmt == "html", keep_trailing_newline=True,
        finalize=_html_value if fmt == "html" else _md_value)
    env.globals = {k: v for k, v in env.globals.items() if k in _GLOBALS}
    env.filters["long_date"] = long_date
    env.filters = {name: _guarded(name, fn) for name, fn in env.filters.items()}
    return env


def _template_line(exc: BaseException, file: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == file:
            line = frame.lineno
    return line


class _time_budget:
    """Raise TemplateLimit in the main thread after `seconds` (SIGALRM),
    restoring the previous handler and timer; no budget elsewhere."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()

    def _expired(self, signum: int, frame: Any) -> None:
        raise TemplateLimit(f"rendering took longer than {self.seconds:g} seconds")

    def __enter__(self) -> None:
        if self.armed:
            self.old = signal.signal(signal.SIGALRM, self._expired)
            self.old_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
            if self.old_timer[0]:
                signal.setitimer(signal.ITIMER_REAL, *self.old_timer)


def render(text: str, file: str, fmt: str, context: dict[str, Any]) -> str:
    """The brief: template `text` (read from `file`) rendered with `context`
    (brief_context.brief_context). InputError (exit 2) naming file:line for
    a syntax error, a placeholder the context lacks, an attempt to reach
    Python internals, an {% include %} or {% extends %} (a brief template is
    one file) or any other error the template raises. A placeholder that
    is not in the documented context (brief_context.CONTEXT) is an error
    before rendering, whatever branch of the template uses it
    (brief_names)."""
    env = environment(fmt)
    env.loader = jinja2.FunctionLoader(
        lambda name: (text, file, lambda: True) if name == file else None)
    try:
        template = env.get_template(file)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}",
                         Location(file, exc.lineno)) from None
    from .brief_context import CONTEXT
    from .brief_names import unknown_names

    for name, line in unknown_names(env.parse(text), env, CONTEXT)[:1]:
        raise InputError(f"placeholder {name!r} is not in the brief's data",
                         Location(file, line))
    try:
        with _time_budget(RENDER_SECONDS):
            out: list[str] = []
            size = 0
            for chunk in template.generate(context):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise TemplateLimit(f"the brief is over the limit of {MAX_OUTPUT:,} "
                                        "characters")
                out.append(chunk)
            return "".join(out)
    except TemplateLimit as exc:
        raise InputError(f"template stopped: {exc}", Location(file, _template_line(exc, file))) \
            from None
    except jinja2.TemplateNotFound as exc:
        raise InputError(f"a brief template is one file: it cannot include or extend "
                         f"{exc.name!r}", Location(file, _template_line(exc, file))) from None
    except jinja2.exceptions.SecurityError as exc:
        raise InputError(f"template refused by the sandbox: {exc}",
                         Location(file, _template_line(exc, file))) from None
    except jinja2.UndefinedError as exc:
        raise InputError(str(exc.message), Location(file, _template_line(exc, file))) \
            from None
    except Exception as exc:  # a filter or operation failing on the values
        raise InputError(f"template error: {type(exc).__name__}: {exc}",
                         Location(file, _template_line(exc, file))) from None


class _Landmarks(html.parser.HTMLParser):
    """The offsets of the first real <title> start tag's end, </head> and
    <body> start tag's end: tags inside comments, <script> or <style>
    (which a browser does not read as tags) are not landmarks."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=False)
        # getpos() counts lines by "\n" only
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._text = text
        self.found: dict[str, tuple[int, int]] = {}
        self.feed(text)
        self.close()

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("title", "body") and tag not in self.found:
            at = self._offset()
            self.found[tag] = (at, at + len(self.get_starttag_text() or ""))

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head" and "/head" not in self.found:
            at = self._offset()
            end = self._text.find(">", at)
            self.found["/head"] = (at, end + 1 if end >= 0 else len(self._text))


# Inline !important styles: they beat any stylesheet rule of the template,
# even an !important one, for the same property.
_IMPORTANT = ("display:block!important;visibility:visible!important;opacity:1!important;"
              "clip-path:none!important;filter:none!important;")
_WATERMARK_STYLE = (_IMPORTANT + "position:fixed!important;top:40%!important;"
                    "left:0!important;right:0!important;text-align:center!important;"
                    "font-size:8rem!important;font-weight:bold!important;"
                    "color:rgba(200,0,0,.15)!important;transform:rotate(-30deg)!important;"
                    "pointer-events:none!important;z-index:2147483647!important")
_BANNER_STYLE = (_IMPORTANT + "position:static!important;border:3px solid #c00!important;"
                 "color:#c00!important;background:#fff!important;padding:.5rem 1rem!important;"
                 "text-align:center!important;font-size:1.5rem!important;"
                 "height:auto!important;width:auto!important;overflow:visible!important;"
                 "transform:none!important")


def draft_text(reasons: Sequence[str] = ()) -> str:
    """The DRAFT line: DRAFT_TEXT, or the reasons the brief is a draft
    ('DRAFT: R1; R2. Do not send.')."""
    if not reasons:
        return DRAFT_TEXT
    return f"DRAFT: {'; '.join(reasons)}. Do not send."


def mark_draft(text: str, fmt: str, file: str, reasons: Sequence[str] = ()) -> str:
    """`text` marked DRAFT on every page, saying why (`reasons`, as in
    draft_text). Markdown: a DRAFT line at the top and the bottom. HTML:
    "DRAFT" at the start of the real <title>, a banner heading at the top
    of the real <body>, and a watermark with CSS
    position: fixed, which browsers repeat on every printed page; tags in
    comments, <script> or <style> are not the real ones, and the banner and
    watermark carry inline !important styles that a template's stylesheet
    cannot override. InputError if an HTML brief has no <head>, <title> or
    <body> to mark."""
    draft = draft_text(reasons)
    if fmt == "md":
        line = f"**{_md_value(draft)}**"
        return f"{line}\n\n{text.rstrip()}\n\n{line}\n"
    style = ("<style>.adieu-draft-watermark{position:fixed;top:40%;left:0;right:0;"
             "text-align:center;font-size:8rem;font-weight:bold;color:rgba(200,0,0,.15);"
             "transform:rotate(-30deg);pointer-events:none;z-index:1000}"
             ".adieu-draft-banner{border:3px solid #c00;color:#c00;padding:.5rem 1rem;"
             "text-align:center}</style>")
    marks = (f'<div class="adieu-draft-watermark" aria-hidden="true" '
             f'style="{_WATERMARK_STYLE}">DRAFT</div>'
             f'<h1 class="adieu-draft-banner" role="alert" '
             f'style="{_BANNER_STYLE}">{html.escape(draft, quote=False)}</h1>')
    found = _Landmarks(text).found
    inserts = []
    for tag, key, where, insert in (("<title>", "title", 1, "DRAFT: "),
                                    ("</head>", "/head", 0, style),
                                    ("<body>", "body", 1, marks)):
        if key not in found:
            raise InputError(f"an HTML brief template needs {tag} so that a draft can be "
                             "marked DRAFT on every page", Location(file))
        inserts.append((found[key][where], insert))
    for at, insert in sorted(inserts, reverse=True):
        text = text[:at] + insert + text[at:]
    return text
