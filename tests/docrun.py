"""Run the ```console blocks of a Markdown file and compare their output.

The convention (docs/ops-guide.md is written to it; design: issue 11):

- A fenced block whose info string is ``console`` is run. It may be
  indented (inside a list item); the fence's indentation is taken off its
  lines.
- Each line starting with ``$ `` is a command, run with ``bash`` (``-o
  pipefail``) in the sandbox. The lines after it, up to the next ``$ `` line
  or the end of the block, are its expected output: standard output, then
  standard error.
- In expected output a line that is just ``...`` matches any number of
  lines (none too), and ``...`` inside a line matches any text within that
  line (doctest ELLIPSIS, line by line). Trailing spaces of each line and
  blank lines at the end of the output are not compared.
- The sandbox is a temporary directory holding copies of the repository's
  ``policies/`` and ``examples/`` (nothing else: no database). Commands run
  with that directory as the working directory, ``ADIEU_*`` variables
  unset, ``COLUMNS=100``, ``HOME`` a directory ``home/`` in the sandbox, the
  installed environment's ``bin`` (the one running the tests, so
  ``adieu`` is the installed console script) first on ``PATH``, standard
  input empty and no terminal.
- The blocks of a file run in order in one sandbox, so a later block uses
  the files (the database) an earlier one made. Exported variables
  (``export``) and the directory (``cd``) carry from one ``$`` line to the
  next within a block (variables that are not exported do not); every
  block starts again in the sandbox directory with the base environment.
- Every command must exit 0 unless a marker says otherwise.

Markers are HTML comments (invisible on the rendered page) on the lines
right before a block's opening fence (blank lines between them allowed),
one marker per comment:

``<!-- docrun: fresh -->``
    The block starts a new, empty sandbox (fresh copies, no database);
    the blocks after it run in that one.
``<!-- docrun: cwd DIR -->``
    The block's commands start in DIR, relative to the sandbox
    (``examples/scenario``); without it, in the sandbox itself.
``<!-- docrun: setup: SHELL -->``
    Hidden preparation: SHELL runs with bash in the block's starting
    directory before the block; it must exit 0, its output is not
    compared (a failure shows it). Several setup markers run in order.
    ``-->`` may not appear in SHELL.
``<!-- docrun: exit N [N ...] -->``
    The expected exit codes of the block's commands, in order; a single N
    applies to every command of the block. Default: 0 for each.
``<!-- docrun: clock YYYY-MM-DDTHH:MM:SS+00:00 -->``
    The block's commands see this as adieu's wall clock (the time a
    review, exemption, pardon or run is recorded at), fixed: the guide's
    stories (a reviewer approving on 2 June) then happen when they say,
    whatever today is. The block's setup runs with the same clock; a
    setup command may set another by prefixing ``DOCRUN_CLOCK=...`` (the
    environment variable that a ``sitecustomize`` module in the sandbox
    reads: in every adieu module, ``dt.date.today()`` and
    ``dt.datetime.now()`` give the clock). Once set, the clock stays for
    the later blocks of the sandbox, until another clock marker; before
    the first one, commands see the real clock. ``clock off`` gives the
    real clock back (for a section whose output does not depend on it).

``run_file(path)`` runs every block of a file and returns the failures, each
as text naming the file:line of the command, the command, and a unified
diff of the expected against the actual output (or of the exit code).
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.prefix) / "bin"  # the environment running the tests: its adieu
TIMEOUT = 600  # seconds for one command

FENCE_OPEN = re.compile(r"^( *)```console\s*$")
MARKER = re.compile(r"^\s*<!--\s*docrun:\s*(.*?)\s*-->\s*$")

SITECUSTOMIZE = r'''
"""docrun: a fixed wall clock for adieu when DOCRUN_CLOCK is set (tests/docrun.py).

Every adieu module reads the clock through `import datetime as dt`; in
each adieu module (as it is imported) `dt` is replaced by a proxy of the
datetime module whose date.today() and datetime.now() give the clock.
Dates and date-times made through it are real ones; isinstance works."""
import datetime as _real_dt
import importlib.abc
import os
import sys
import types

_clock = os.environ.get("DOCRUN_CLOCK")


def _proxy(at):
    class _DateMeta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, _real_dt.date)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, _real_dt.date)

        def __call__(cls, *args, **kwargs):
            return _real_dt.date(*args, **kwargs)

        def __getattr__(cls, name):
            return getattr(_real_dt.date, name)

    class _DatetimeMeta(_DateMeta):
        def __instancecheck__(cls, obj):
            return isinstance(obj, _real_dt.datetime)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, _real_dt.datetime)

        def __call__(cls, *args, **kwargs):
            return _real_dt.datetime(*args, **kwargs)

        def __getattr__(cls, name):
            return getattr(_real_dt.datetime, name)

    class date(metaclass=_DateMeta):
        @staticmethod
        def today():
            return at.date()

    class datetime(metaclass=_DatetimeMeta):
        @staticmethod
        def now(tz=None):
            return at.astimezone(tz) if tz is not None else at.replace(tzinfo=None)

        @staticmethod
        def utcnow():
            return at.astimezone(_real_dt.timezone.utc).replace(tzinfo=None)

        @staticmethod
        def today():
            return at.replace(tzinfo=None)

    module = types.ModuleType("datetime")
    module.__dict__.update(_real_dt.__dict__)
    module.date, module.datetime = date, datetime
    return module


def _patch(module):
    if getattr(module, "dt", None) is _real_dt:
        module.dt = _PROXY


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if not name.startswith(("adieu", "adieu_plugins")):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module):
            run(module)
            _patch(module)

        loader.exec_module = exec_module
        return spec


if _clock:
    _PROXY = _proxy(_real_dt.datetime.fromisoformat(_clock))
    for _name, _module in list(sys.modules.items()):
        if _name.startswith("adieu"):
            _patch(_module)
    sys.meta_path.insert(0, _Finder())
'''


@dataclass
class Command:
    """One ``$ `` line: its 1-based line number in the file, the shell text
    and the expected output lines."""

    line: int
    shell: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    """One ```console block with its markers."""

    line: int
    commands: list[Command]
    fresh: bool = False
    cwd: str = "."
    setup: list[str] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    clock: str | None = None

    def exit_code(self, index: int) -> int:
        if not self.exits:
            return 0
        return self.exits[0] if len(self.exits) == 1 else self.exits[index]


class DocrunError(Exception):
    """A block or marker that does not follow the convention (file:line in the message)."""


def parse(path: Path) -> list[Block]:
    """The console blocks of a Markdown file, in order.

    Raises DocrunError for an unknown marker, a block without a command, or
    an exit marker whose count does not match the block's commands."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start = len(m.group(1)), i
        body: list[tuple[int, str]] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            text = lines[i]
            body.append((i + 1, text[indent:] if text[:indent].strip() == "" else text))
            i += 1
        i += 1
        block = Block(line=start + 1, commands=[])
        for number, text in body:
            if text.startswith("$ "):
                block.commands.append(Command(number, text[2:]))
            elif block.commands:
                block.commands[-1].expected.append(text)
            else:
                raise DocrunError(f"{path}:{number}: output before the block's first `$ ` line")
        if not block.commands:
            raise DocrunError(f"{path}:{start + 1}: console block without a `$ ` command")
        _markers(path, lines, start, block)
        blocks.append(block)
    return blocks


def _markers(path: Path, lines: list[str], start: int, block: Block) -> None:
    found: list[tuple[int, str]] = []
    j = start - 1
    while j >= 0 and (lines[j].strip() == "" or MARKER.match(lines[j])):
        m = MARKER.match(lines[j])
        if m:
            found.append((j + 1, m.group(1)))
        j -= 1
    for number, text in reversed(found):
        where = f"{path}:{number}"
        if text == "fresh":
            block.fresh = True
        elif text.startswith("cwd "):
            block.cwd = text[4:].strip()
        elif text.startswith("setup:"):
            block.setup.append(text[6:].strip())
        elif text.startswith("clock "):
            block.clock = text[6:].strip()
        elif text.startswith("exit "):
            try:
                block.exits = [int(n) for n in text[5:].split()]
            except ValueError:
                raise DocrunError(f"{where}: exit codes must be numbers: {text!r}") from None
            if len(block.exits) not in (1, len(block.commands)):
                raise DocrunError(f"{where}: {len(block.exits)} exit codes for "
                                  f"{len(block.commands)} commands")
        else:
            raise DocrunError(f"{where}: unknown docrun marker {text!r}")


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the actual output lines match the expected ones (``...``
    rules above; trailing spaces and trailing blank lines ignored)."""
    exp, act = _trim(expected), _trim(actual)
    parts = []
    for line in exp:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append("[^\n]*".join(re.escape(p) for p in line.split("...")) + r"\n")
    return re.fullmatch("".join(parts), "".join(a + "\n" for a in act)) is not None


def _trim(lines: list[str]) -> list[str]:
    out = [line.rstrip() for line in lines]
    while out and out[-1] == "":
        out.pop()
    return out


class Sandbox:
    """A temporary directory with copies of policies/ and examples/."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="docrun-"))
        for name in ("policies", "examples"):
            shutil.copytree(ROOT / name, self.dir / name,
                            ignore=shutil.ignore_patterns("*.db", "*.db-*", "__pycache__"))
        (self.dir / "home").mkdir()
        (self.dir / ".docrun").mkdir()
        (self.dir / ".docrun" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        self.state = self.dir / ".docrun" / "state"

    def env(self, clock: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ADIEU_", "DOCRUN_", "PYTHON")) and k not in ("BASH_ENV",)}
        env.update(COLUMNS="100", HOME=str(self.dir / "home"),
                   PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
                   PYTHONPATH=str(self.dir / ".docrun"), LC_ALL="C.UTF-8", TERM="dumb")
        env.pop("LINES", None)
        if clock:
            env["DOCRUN_CLOCK"] = clock
        return env

    def bash(self, script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# Runs one command in the block's shell state: restores the variables and
# directory the previous command left, runs it, saves them again.
WRAP = r'''
if [ -f "$DOCRUN_STATE" ]; then . "$DOCRUN_STATE"; fi
cd "$DOCRUN_PWD" || exit 97
eval "$DOCRUN_COMMAND"
__docrun_rc=$?
{ export -p | grep -v -e ' DOCRUN_' -e ' PWD=' -e ' OLDPWD=' -e ' SHLVL='
  printf 'DOCRUN_PWD=%q\n' "$PWD"; } > "$DOCRUN_STATE"
exit $__docrun_rc
'''


def run_file(path: Path) -> tuple[list[str], int]:
    """Run every console block of PATH in order; return (failures, number of
    commands run). A failing command does not stop the file: later commands
    still run (and may fail in turn)."""
    failures: list[str] = []
    count = 0
    sandbox: Sandbox | None = None
    clock: str | None = None
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    try:
        for block in parse(path):
            if sandbox is None or block.fresh:
                if sandbox is not None:
                    sandbox.close()
                sandbox, clock = Sandbox(), None
            clock = None if block.clock == "off" else (block.clock or clock)
            start = (sandbox.dir / block.cwd).resolve()
            env = sandbox.env(clock)
            for script in block.setup:
                done = sandbox.bash(script, start, env)
                if done.returncode != 0:
                    failures.append(f"{rel}:{block.line}: setup `{script}` exited "
                                    f"{done.returncode}\n{done.stdout}{done.stderr}")
            sandbox.state.unlink(missing_ok=True)
            for index, command in enumerate(block.commands):
                count += 1
                run_env = {**env, "DOCRUN_STATE": str(sandbox.state),
                           "DOCRUN_PWD": str(start), "DOCRUN_COMMAND": command.shell}
                if sandbox.state.exists():
                    run_env.pop("DOCRUN_PWD")
                done = sandbox.bash(WRAP, start, run_env)
                actual = (done.stdout + done.stderr).splitlines()
                want = block.exit_code(index)
                problems = []
                if done.returncode != want:
                    problems.append(f"exit code {done.returncode}, expected {want}")
                if not matches(command.expected, actual):
                    diff = difflib.unified_diff(_trim(command.expected), _trim(actual),
                                                "expected", "actual", lineterm="")
                    problems.append("\n".join(diff))
                if problems:
                    failures.append(f"{rel}:{command.line}: $ {command.shell}\n"
                                    + "\n".join(problems))
    finally:
        if sandbox is not None:
            sandbox.close()
    return failures, count


def main(argv: list[str]) -> int:
    """python tests/docrun.py FILE...: run the files' blocks, print failures."""
    bad = 0
    for name in argv:
        failures, count = run_file(Path(name).resolve())
        for failure in failures:
            print(failure, end="\n\n")
        print(f"{name}: {count} commands, {len(failures)} failure(s)")
        bad += len(failures)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
