"""adieu brief: the offboarding brief for one customer (docs/ops-guide.md,
"The offboarding brief")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..brief import FORMATS, default_template, mark_draft, read_template, render
from ..brief_context import (
    NOT_APPROVED,
    brief_context,
    brief_decision,
    refuse_unless_offboard,
)
from ..errors import InputError, Location
from ..safe_text import blank, echo, name_problem, normalise_id, normalise_text
from .common import RUN_ID, db_option, opened_store


def _format(fmt: str | None, template: str | None, out: str | None) -> str:
    if fmt is not None:
        return fmt
    for name in (template, out):
        if name and ".html" in Path(name).suffixes + [Path(name).suffix]:
            return "html"
    return "md"


def _contact(ctx: click.Context | None, param: Any, value: str | None) -> str | None:
    """--contact as a person's name: trimmed, not blank, nothing hidden in it."""
    if value is None:
        return None
    name = normalise_text(value)
    if blank(name):
        raise click.BadParameter("is blank: give the main contact's name")
    problem = name_problem(name, "the name")
    if problem:
        raise click.BadParameter(problem)
    return name


def _write_new(path: str, text: str) -> None:
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise InputError("already exists: adieu does not overwrite a template (remove it "
                         "or choose another name)", Location(path)) from None
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", Location(path)) from None


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("customer_id", required=False)
    @click.option("--run", "run_id", type=RUN_ID, default=None, metavar="N",
                  help="Run id (default: the latest run by as-of date that decided "
                       "CUSTOMER_ID).")
    @db_option
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                  help="md (Markdown) or html (printable). Default: html when --template "
                       "or --out names a .html file, else md.")
    @click.option("--template", "template", metavar="FILE", default=None,
                  help="A jinja2 template to use instead of the default (start from "
                       "--template-out).")
    @click.option("--contact", "contact", metavar="NAME", default=None, callback=_contact,
                  help="The customer's main contact, to address the brief to (default: "
                       "the fact main_contact, contact_name or contact, if any).")
    @click.option("--out", "out", metavar="FILE", default=None,
                  help="Write the brief to FILE (default: standard output).")
    @click.option("--template-out", "template_out", metavar="FILE", default=None,
                  help="Write the default template of --format to FILE (a new file) "
                       "for editing, and stop.")
    def brief(customer_id: str | None, run_id: int | None, db: str | None, fmt: str | None,
              template: str | None, contact: str | None, out: str | None,
              template_out: str | None) -> None:
        """Write the offboarding brief for CUSTOMER_ID: a letter to the main
        contact with the figures behind the decision, the rules and strikes
        (with dates), the effective date and why then, a transition timeline,
        referrals, an apology and an open door, plus notes for staff (never
        send it by e-mail alone).

        The decision is the customer's in --run (default: the latest run
        that decided the customer); it must be offboard, and its case not
        rejected or withdrawn, else the command refuses (exit 2). The brief
        announces the case's date, the date the company honours (a later
        run may have set it again). While the offboarding case is not
        approved, the brief is marked DRAFT (Markdown: first and last line;
        HTML: title, banner and a watermark on every printed page). So is an
        approved brief whose dates no longer hold today (the approval came
        too late for the date, the date or the transition's start has
        passed, the case is already effective), with the reason and a
        warning (exit 0).

        Templates are jinja2, run in a sandbox: a placeholder that is not
        in the brief's values (checked in every branch when the template is
        loaded) or that the decision lacks, a syntax error or reaching for
        Python internals is an error naming the template file and line
        (exit 2). HTML escapes every value. The values a template sees:
        docs/ops-guide.md.
        """
        if template_out is not None:
            if customer_id is not None or template or out or run_id is not None:
                raise click.UsageError("--template-out writes the default template; it "
                                       "takes only --format")
            _write_new(template_out, default_template(fmt or _format(None, None,
                                                                     template_out))[0])
            return
        if customer_id is None:
            raise click.UsageError("Missing argument 'CUSTOMER_ID' (or give --template-out "
                                   "FILE)")
        customer_id = normalise_id(customer_id)
        fmt = _format(fmt, template, out)
        if template is not None:
            text, file = read_template(template), template
        else:
            text, file = default_template(fmt)
        with opened_store(db) as store:
            run, row = brief_decision(store, customer_id, run_id)
            refuse_unless_offboard(run, row)
            context = brief_context(store, run, row, contact)
        result = render(text, file, fmt, context)
        if context["draft"]:
            result = mark_draft(result, fmt, file, context["draft_reasons"])
        for reason in context["draft_reasons"]:
            if reason != NOT_APPROVED:
                echo(f"warning: the brief is marked DRAFT: {reason}", err=True)
        if out is None:  # a template's own control characters never reach the terminal
            # CRLF as LF; a lone CR, which would let a line hide another, escaped
            echo(result.replace("\r\n", "\n"), keep="\n\t", nl=not result.endswith("\n"))
            return
        try:
            Path(out).write_text(result, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", Location(out)) from None
