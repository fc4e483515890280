"""The `adieu` command line: a click group, one module per command family."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__
from ..errors import AdieuError
from ..safe_text import visible
from .pipes import OutputFailed, ReaderMayLeave


class _AdieuGroup(click.Group):
    """Turns adieu's errors into one clear line and the right exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Standard output and standard error both whose reader may leave
        (`adieu audit verify 2>&1 | head -1`), for the whole of click's main:
        the command, and also click's own writes around it (an error's one
        line on stderr, --help, --version). A write that meets a closed
        pipe is dropped and the command ends with its own exit code (1 for
        findings, 2 for errors), never 0 and never click's 1 for EPIPE."""
        out_before, err_before = sys.stdout, sys.stderr
        out = out_before if isinstance(out_before, ReaderMayLeave) else \
            ReaderMayLeave(out_before)
        err = err_before if isinstance(err_before, ReaderMayLeave) else \
            ReaderMayLeave(err_before)
        sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
        try:
            return super().main(*args, **kwargs)
        finally:
            for stream in (out, err):
                try:
                    stream.flush()
                except OutputFailed:
                    pass  # stdout: already exit 2 in invoke; stderr: nowhere to say it
            sys.stdout, sys.stderr = out_before, err_before

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        previous = sys.stdout
        out = previous if isinstance(previous, ReaderMayLeave) else ReaderMayLeave(previous)
        sys.stdout = out  # type: ignore[assignment]
        try:
            try:
                return self._invoke(ctx)
            finally:
                out.flush()  # what is still buffered, while a closed pipe is still caught
        except OutputFailed as exc:  # stdout on a full device: one line, exit 2
            error = click.ClickException(f"cannot write the output: {visible(exc)}")
            error.exit_code = 2
            raise error from None
        finally:
            sys.stdout = previous

    def _invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except AdieuError as exc:  # messages quote values: never print them raw
            error = click.ClickException(visible(exc, keep="\n"))
            error.exit_code = exc.exit_code
            raise error from None
        except click.ClickException as exc:
            exc.message = visible(exc.message, keep="\n")
            raise
        except (click.exceptions.Exit, click.Abort, SystemExit, OutputFailed):
            raise
        except MemoryError:
            if os.environ.get("ADIEU_RAISE_ERRORS"):
                raise
            raise _exit2(f"out of memory while running `adieu {ctx.invoked_subcommand}`"
                         " (a source or policy larger than this machine can hold; set "
                         "ADIEU_RAISE_ERRORS=1 to see where)") from None
        except Exception as exc:
            if os.environ.get("ADIEU_RAISE_ERRORS") or "pytest" in sys.modules:
                raise
            raise _exit2(unexpected_text(exc, ctx.invoked_subcommand)) from None


def unexpected_text(exc: BaseException, command: str | None = None) -> str:
    """The one line for an exception adieu did not foresee: exit 2, never an
    empty message. A stored value SQLite or the JSON decoder cannot read
    (sqlite3 "malformed JSON", msgspec DecodeError) names the database as
    damaged; anything else is an internal error to report."""
    import sqlite3

    detail = " ".join(str(exc).split()) or "(no message)"
    name = type(exc).__name__
    if isinstance(exc, sqlite3.DatabaseError) or name == "DecodeError":
        return (f"the database holds a value adieu cannot read ({name}: {detail}); it was "
                "edited or damaged (adieu audit verify; ADIEU_RAISE_ERRORS=1 shows where)")
    return (f"internal error, please report: {name}: {detail} while running "
            f"`adieu {command or ''}`".rstrip() +
            " (set ADIEU_RAISE_ERRORS=1 to see the traceback)")


def _exit2(message: str) -> click.ClickException:
    error = click.ClickException(visible(message))
    error.exit_code = 2
    return error


@click.group(cls=_AdieuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="adieu")
def cli() -> None:
    """adieu: decide, by written policy, which customers to keep, watch, warn,
    put on final notice or offboard, and keep the figures behind every decision.

    Exit codes: 0 ok, 1 findings (invalid policy, failing policy test,
    broken audit trail, replay differences), 2 usage or input errors
    (including a customer, run, rule or file that is not there). Output
    piped into a reader that stops early (`| head`) is not an error: the
    command finishes with its own code;
    output that cannot be written (a full disk) is exit 2, and so is an
    error adieu did not foresee ("internal error, please report", one line;
    ADIEU_RAISE_ERRORS=1 shows the traceback).

    The documents the help texts name (docs/sources.md and the others) are
    installed with adieu: `adieu docs sources` prints that one, `adieu docs`
    lists them.
    """


from . import (  # noqa: E402
    audit,
    brief,
    datasette,
    diff,
    evaluate,
    explain,
    facts,
    memory,
    policytest,
    report,
    review,
    runs,
    serve,
    start,
    validate,
)

for module in (validate, evaluate, explain, facts, memory, review, audit, policytest, diff,
               runs, brief, report, start, datasette, serve):
    module.register(cli)
