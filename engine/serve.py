"""`adieu serve`: the reviewer's web page, a small ASGI app (Starlette).

Pages (docs/ops-guide.md, "Reviewing in the browser"):

- GET  /                      the open offboarding cases (reviewing.pending,
                              as `adieu pending`)
- GET  /case?customer=ID      one customer's case: figures, the rules that
                              fired with their explanations, strikes, the
                              case history, the brief and, while the case
                              is proposed, the approve / reject form
- GET  /brief?customer=ID     the brief of the case's latest run (the HTML
                              of `adieu brief --format html`)
- POST /review                approve or reject: form fields customer,
                              verdict (approved | rejected), by, by_id,
                              no_owner_on_record, note, csrf

Every review goes through reviewing.review, the code of `adieu approve` and
`adieu reject`: the same checks (no approval by the account owner, names
compared as on the command line, one review per case), the same audit
entry, the same messages (shown on the page with status 400). Pages read
through read-only connections (store.open_db_readonly); a review opens the
store for writing as the command line does (store.open_db).

Every value from the data is HTML-escaped (jinja2 autoescape, hidden
characters shown as escapes by safe_text.visible). A form carries a token
made when the server starts (a review without it is refused with 403), so
a page of another site cannot post a review; a POST whose Origin or
Sec-Fetch-Site names another site is refused too, and the Host header must
be one the server was bound to (against DNS rebinding)."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
import markupsafe
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from . import reviewing
from .brief import default_template, mark_draft, render
from .brief_context import brief_context, brief_decision, fact_text, refuse_unless_offboard
from .cli import unexpected_text
from .compact import DECIDED
from .errors import AdieuError
from .explain import fmt
from .names import owners_on_record
from .safe_text import blank, normalise_id, visible
from .store import open_db, open_db_readonly
from .strike_status import strike_rows

# The largest review form accepted (bytes); a note longer than this is refused (413).
MAX_FORM_BYTES = 64 * 1024
VERDICTS = ("approved", "rejected")  # reviewing.review's verdicts
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The brief is shown in a sandboxed frame of the case page: no script, no request out.
BRIEF_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"


class NotFound(Exception):
    """A customer or case the database does not hold (404)."""


def _value(value: Any) -> Any:
    """Every printed value: hidden characters as escapes (\\u202e), then
    autoescape escapes <, >, &, quotes."""
    if isinstance(value, markupsafe.Markup):
        return value
    return visible(str(value), keep="\n\t")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("adieu", "serve_templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=_value)
    env.filters["fact"] = fact_text
    env.filters["number"] = fmt
    env.filters["q"] = lambda value: quote(str(value), safe="")
    return env


def _owner(facts: dict[str, Any] | None) -> str:
    names, ids = owners_on_record(facts or {})  # placeholders ('N/A') name nobody
    return " / ".join(names or ids) or "no owner on record"


def _latest_case(db: Any, customer_id: str) -> dict[str, Any]:
    """The customer's latest case with its events (reviewing.customer_cases);
    NotFound naming what is missing: the customer, or a case."""
    cases = reviewing.customer_cases(db, customer_id)
    if cases:
        return cases[-1]
    known = db.execute(f"select 1 from {DECIDED} where customer_id = ? limit 1",
                       [customer_id]).fetchone()
    raise NotFound(f"no customer {customer_id!r} in the database" if known is None
                   else f"customer {customer_id!r} has no offboarding case")


def open_cases(path: str) -> list[dict[str, Any]]:
    """The rows of the index page: reviewing.pending plus name and owner."""
    db = open_db_readonly(path)
    if db is None:
        raise NotFound(f"no database at {path}")
    try:
        rows = reviewing.pending(db)
    finally:
        db.close()
    return [{**r, "name": (r["facts"] or {}).get("name"), "owner": _owner(r["facts"])}
            for r in rows]


def case_page(path: str, customer_id: str) -> dict[str, Any]:
    """What the case page shows for customer_id: its latest case (row and
    case_line), the decision of the case's latest run (facts, fired rules,
    severity), strikes as of that run, the case events. NotFound when the
    customer has no offboarding case."""
    db = open_db_readonly(path)
    if db is None:
        raise NotFound(f"no database at {path}")
    try:
        case = _latest_case(db, customer_id)
        run, row = brief_decision(db, customer_id, case["latest_run"])
        strikes = [r for r in strike_rows(db, customer_id, dt.date.fromisoformat(run["as_of"]))
                   if r["recorded_on"] <= run["as_of"]]
    finally:
        db.close()
    facts = row.get("facts") or {}
    return {"customer_id": customer_id, "case": case, "case_line": reviewing.case_line(case),
            "events": case["events"], "run": run, "decision": row, "facts": facts,
            "name": facts.get("name"), "owner": _owner(facts), "fired": row.get("fired") or [],
            "strikes": strikes, "open": case["state"] == "proposed"}


def brief_html(path: str, customer_id: str) -> str:
    """The HTML brief of the customer's case's latest run, marked DRAFT while
    not approved (as `adieu brief CUSTOMER --run N --format html`).
    NotFound without a case; AdieuError when no brief can be written (the
    case was rejected, the decision is not offboard)."""
    db = open_db_readonly(path)
    if db is None:
        raise NotFound(f"no database at {path}")
    try:
        run, row = brief_decision(db, customer_id, _latest_case(db, customer_id)["latest_run"])
        refuse_unless_offboard(run, row)
        context = brief_context(db, run, row)
    finally:
        db.close()
    text, file = default_template("html")
    result = render(text, file, "html", context)
    return mark_draft(result, "html", file) if context["draft"] else result


def do_review(path: str, form: dict[str, str]) -> dict[str, Any]:
    """Approve or reject through reviewing.review (AdieuError as on the
    command line); returns the case row."""
    db = open_db(path, create=False)
    try:
        return reviewing.review(db, form["customer"], None, form["verdict"], form["by"],
                                form["note"] or None, form["by_id"] or None,
                                form["no_owner_on_record"])
    finally:
        db.close()


def create_app(db_path: str, hosts: list[str] | None = None,
               token: str | None = None) -> Starlette:
    """The ASGI app over the store at db_path. hosts: the Host header
    values accepted (default 127.0.0.1, localhost; ["*"] for any). token:
    the form token (default: a new random one, made once per app)."""
    env = _environment()
    token = token or secrets.token_urlsafe(32)

    def page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
        text = env.get_template(template).render(token=token, **values)
        return HTMLResponse(text, status_code=status, headers={
            "Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    def message(status: int, title: str, text: str) -> HTMLResponse:
        return page("message.html.j2", status, title=title, text=text)

    def customer_of(request: Request) -> str | None:
        value = request.query_params.get("customer")
        return None if value is None else normalise_id(value)

    async def index(request: Request) -> Response:
        try:
            rows = await run_in_threadpool(open_cases, db_path)
        except NotFound as exc:
            return message(404, "Not found", str(exc))
        except AdieuError as exc:
            return message(500, "The database cannot be read", str(exc))
        return page("index.html.j2", rows=rows)

    async def case(request: Request, error: str | None = None, status: int = 200,
                   form: dict[str, Any] | None = None, customer: str | None = None) -> Response:
        customer = customer or customer_of(request)
        if not customer:
            return message(400, "No customer", "give ?customer=ID (see the list of open cases)")
        try:
            values = await run_in_threadpool(case_page, db_path, customer)
        except NotFound as exc:
            return message(404, "Not found", str(exc))
        except AdieuError as exc:
            return message(500, "The database cannot be read", str(exc))
        return page("case.html.j2", status, error=error, form=form or {}, **values)

    async def brief(request: Request) -> Response:
        customer = customer_of(request)
        if not customer:
            return message(400, "No customer", "give ?customer=ID")
        try:
            text = await run_in_threadpool(brief_html, db_path, customer)
        except NotFound as exc:
            return message(404, "Not found", str(exc))
        except AdieuError as exc:
            return message(409, "No brief", str(exc))
        return HTMLResponse(text, headers={"Content-Security-Policy": BRIEF_CSP,
                                           "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "no-store"})

    async def review(request: Request) -> Response:
        refused = _cross_site(request)
        if refused:
            return message(403, "Refused", refused)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return message(413, "Refused", f"the form is larger than {MAX_FORM_BYTES} bytes")
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {key: (fields.get(key) or [""])[0] for key in
                ("customer", "verdict", "by", "by_id", "note", "csrf")}
        if not hmac.compare_digest(form["csrf"].encode(), token.encode()):
            return message(403, "Refused", "the form's token is missing or not this "
                           "server's: reload the case page and review again")
        form["customer"] = normalise_id(form["customer"])
        form["no_owner_on_record"] = (fields.get("no_owner_on_record") or [""])[0] == "on"
        if form["verdict"] not in VERDICTS:
            return message(400, "Refused", "verdict must be approved or rejected")
        if not form["customer"]:
            return message(400, "Refused", "the form names no customer")
        if blank(form["note"]):  # the page asks for a reason; the command line's --note is optional
            return await case(request, "give the reason for the review (stored as its note)",
                              400, form, form["customer"])
        try:
            await run_in_threadpool(do_review, db_path, form)
        except AdieuError as exc:  # the command line's own message
            return await case(request, str(exc), 400, form, form["customer"])
        return RedirectResponse(f"/case?customer={quote(form['customer'], safe='')}",
                                status_code=303)

    async def failed(request: Request, exc: Exception) -> Response:
        """An error adieu did not foresee: one line (as the command line's),
        never a traceback; a damaged database is named as such."""
        return message(500, "Internal error", unexpected_text(exc, "serve"))

    routes = [Route("/", index), Route("/case", case), Route("/brief", brief),
              Route("/review", review, methods=["POST"])]
    allowed = [h.lower() for h in (hosts or ["127.0.0.1", "localhost"])]
    app = Starlette(routes=routes, middleware=[Middleware(HostCheck, hosts=allowed)],
                    exception_handlers={Exception: failed})
    app.state.hosts = allowed
    return app


def host_name(header: str) -> str:
    """The host of a Host header, lower case, without the port: 'localhost:8080'
    -> 'localhost', '[::1]:8080' -> '[::1]'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[:header.find("]") + 1] if "]" in header else header
    return header.split(":", 1)[0]


class HostCheck:
    """ASGI middleware: a request whose Host header is not one of `hosts`
    ("*": any) gets 400, so that a site whose name is made to point at
    127.0.0.1 (DNS rebinding) cannot read the pages or their form token."""

    def __init__(self, app: Any, hosts: list[str]) -> None:
        self.app, self.hosts = app, set(hosts)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "*" not in self.hosts and \
                host_name(Headers(scope=scope).get("host", "")) not in self.hosts:
            await PlainTextResponse("Invalid host header", status_code=400)(scope, receive,
                                                                            send)
            return
        await self.app(scope, receive, send)


def _cross_site(request: Request) -> str | None:
    """Why a POST comes from another site, or None: Sec-Fetch-Site
    cross-site, or an Origin whose host is not the request's Host."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return "a review may only be posted from this server's own page"
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = origin.split("://", 1)[-1]
        if host != request.headers.get("host"):
            return "a review may only be posted from this server's own page"
    elif origin == "null":
        return "a review may only be posted from this server's own page"
    return None
