"""`adieu serve`: the reviewer's web page, a small ASGI app (Starlette).

Pages (docs/ops-guide.md, "Reviewing in the browser"):

- GET  /?page=N               the open offboarding cases (reviewing.pending,
                              as `adieu pending`), PAGE_SIZE a page
- GET  /case?customer=ID      one customer's case: figures, the rules that
                              fired with their explanations, strikes, the
                              case history, the brief and, while the case
                              is proposed, the approve / reject form
- GET  /brief?customer=ID     the brief of the case's latest run (the HTML
                              of `adieu brief --format html`)
- POST /review                approve or reject: form fields customer,
                              verdict (approved | rejected), by, by_id,
                              no_owner_on_record, note, csrf, and the case
                              and run the page showed (case, run)

Every review goes through reviewing.review, the code of `adieu approve` and
`adieu reject`: the same checks (no approval by the account owner, names
compared as on the command line, one review per case), the same audit
entry, the same messages and warnings (shown on the page with status 400,
options named by the form's labels). A review is bound to what the page
showed: the form carries the case id and the case's latest run, and a
review of a case that changed since (a later run, another case, already
reviewed) is refused with 409 and nothing written; the same review posted
again (a double click) answers as the first did. A refused post shows the
case page again with what the reviewer typed. Pages read
through read-only connections (store.open_db_readonly); a review opens the
store for writing as the command line does (store.open_db).

Every value from the data is HTML-escaped (jinja2 autoescape, hidden
characters shown as escapes by safe_text.visible). A form carries a token
made when the server starts (a review without it is refused with 403), so
a page of another site cannot post a review; a POST whose Origin or
Sec-Fetch-Site names another site is refused too (accepted origins: the
request's own Host, and the public URLs given to create_app), and the Host
header must be one of the names allowed (against DNS rebinding; the check
is never off). A form body is read only up to MAX_FORM_BYTES (413 past it,
the rest unread)."""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import sqlite3
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

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
# The longest reason the form lets a browser send (characters): at 9 bytes a
# character sent (a 3-byte UTF-8 character, percent-encoded) it fits MAX_FORM_BYTES.
NOTE_MAX_CHARS = 7000
PAGE_SIZE = 100  # open cases a page of the index
# How long a review waits for another's write lock (a run writing) before the
# page says "busy, try again" (503); the command line waits store.BUSY_SECONDS.
REVIEW_BUSY_SECONDS = 10.0
FORM_FIELDS = ("customer", "case", "run", "verdict", "by", "by_id", "note", "csrf")
# The command line's options as the page names them (the form's labels).
PAGE_WORDS = [
    ("pass --no-owner-on-record", 'tick "The source gives no account owner"'),
    ("--no-owner-on-record", '"The source gives no account owner"'),
    ("with --by-id", 'in "Your user id"'),
    ("--by-id", '"Your user id"'),
    ("--by", '"Your name"'),
]
VERDICTS = ("approved", "rejected")  # reviewing.review's verdicts
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The brief is shown in a sandboxed frame of the case page: no script, no request out.
BRIEF_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"


class NotFound(Exception):
    """A customer or case the database does not hold (404)."""


class NoBrief(Exception):
    """The case's latest decision has no brief (409): not an offboarding,
    or the case was rejected or withdrawn."""


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


def page_text(message: str) -> str:
    """A command-line message as the page says it: options named by the
    form's labels ('--by-id' -> '"Your user id"')."""
    for option, label in PAGE_WORDS:
        message = re.sub(re.escape(option) + r"(?![\w-])", label, message)
    return message


def open_cases(path: str, page: int = 1) -> tuple[list[dict[str, Any]], int]:
    """The rows of one page of the index (PAGE_SIZE a page, by customer id):
    reviewing.pending plus name and owner; and how many cases are open."""
    db = open_db_readonly(path)
    if db is None:
        raise NotFound(f"no database at {path}")
    try:
        total = reviewing.pending_count(db)
        rows = reviewing.pending(db, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    finally:
        db.close()
    return [{**r, "name": (r["facts"] or {}).get("name"), "owner": _owner(r["facts"])}
            for r in rows], total


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
        due = reviewing.approval_due(db, case)
        run, row = brief_decision(db, customer_id, case["latest_run"])
        strikes = [r for r in strike_rows(db, customer_id, dt.date.fromisoformat(run["as_of"]))
                   if r["recorded_on"] <= run["as_of"]]
    finally:
        db.close()
    facts = row.get("facts") or {}
    return {"customer_id": customer_id, "case": case, "case_line": reviewing.case_line(case),
            "events": case["events"], "run": run, "decision": row, "facts": facts,
            "name": facts.get("name"), "owner": _owner(facts), "fired": row.get("fired") or [],
            "strikes": strikes, "open": case["state"] == "proposed",
            "warnings": reviewing.review_warnings(case, due=due)}


def brief_html(path: str, customer_id: str) -> str:
    """The HTML brief of the customer's case's latest run, marked DRAFT while
    not approved (as `adieu brief CUSTOMER --run N --format html`).
    NotFound without a case; AdieuError when no brief can be written (the
    case was rejected, the decision is not offboard)."""
    db = open_db_readonly(path)
    if db is None:
        raise NotFound(f"no database at {path}")
    try:
        # a database that cannot be read fails here: AdieuError (500, as the other pages)
        run, row = brief_decision(db, customer_id, _latest_case(db, customer_id)["latest_run"])
        try:
            refuse_unless_offboard(run, row)
            context = brief_context(db, run, row)
        except AdieuError as exc:
            raise NoBrief(str(exc)) from None
    finally:
        db.close()
    text, file = default_template("html")
    result = render(text, file, "html", context)
    return mark_draft(result, "html", file, context["draft_reasons"]) if context["draft"] \
        else result


def do_review(path: str, form: dict[str, Any]) -> dict[str, Any]:
    """Approve or reject through reviewing.review (AdieuError as on the
    command line; reviewing.CaseChanged unless the customer's latest case
    is still form["case"], proposed, with latest run form["run"]); returns
    the case row."""
    db = open_db(path, create=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(REVIEW_BUSY_SECONDS * 1000)}")
        return reviewing.review(db, form["customer"], None, form["verdict"], form["by"],
                                form["note"] or None, form["by_id"] or None,
                                form["no_owner_on_record"], seen=(form["case"], form["run"]))
    finally:
        db.close()


def repeated(path: str, form: dict[str, Any]) -> bool:
    """True when the case the form names already carries exactly this
    review (verdict, reviewer, id, note, run): the same form posted twice."""
    db = open_db_readonly(path)
    if db is None:
        return False
    try:
        row = db.execute("select state, reviewer, reviewer_id, review_note, review_run, "
                         "customer_id from cases where id = ?", [form["case"]]).fetchone()
    finally:
        db.close()
    return row is not None and list(row) == [
        form["verdict"], form["by"], form["by_id"] or None, form["note"] or None, form["run"],
        form["customer"]]


def origin_of(url: str) -> str | None:
    """An origin as browsers send it: 'scheme://host[:port]', lower case,
    the scheme's default port left out; None unless http(s) with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    return f"{parts.scheme.lower()}://{host}" + ("" if port in (None, default) else f":{port}")


def create_app(db_path: str, hosts: list[str] | None = None,
               token: str | None = None, origins: list[str] | None = None) -> Starlette:
    """The ASGI app over the store at db_path. hosts: the host names a Host
    header may give (default 127.0.0.1, localhost; there is no wildcard).
    origins: the origins (scheme://host[:port]) a review may be posted from
    besides the request's own Host (the public URLs behind a proxy). token:
    the form token (default: a new random one, made once per app)."""
    env = _environment()
    token = token or secrets.token_urlsafe(32)
    allowed = [h.lower() for h in (hosts or ["127.0.0.1", "localhost"])]
    if "*" in allowed:
        raise ValueError("no wildcard host: name the host names served")
    accepted = {o for o in (origin_of(url) for url in origins or []) if o}

    def page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
        text = env.get_template(template).render(token=token, **values)
        return HTMLResponse(text, status_code=status, headers={
            "Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    def message(status: int, title: str, text: str) -> HTMLResponse:
        return page("message.html.j2", status, title=title, text=text)

    async def read(what: Any, *args: Any) -> tuple[Any, Response | None]:
        """WHAT(*args) off the event loop: (its value, None), or (None, the
        page for its error: 404 not found, 409 no brief, 500 unreadable)."""
        try:
            return await run_in_threadpool(what, *args), None
        except NotFound as exc:
            return None, message(404, "Not found", str(exc))
        except NoBrief as exc:
            return None, message(409, "No brief", str(exc))
        except AdieuError as exc:
            return None, message(500, "The database cannot be read", str(exc))

    def customer_of(request: Request) -> str | None:
        value = request.query_params.get("customer")
        return None if value is None else normalise_id(value)

    async def index(request: Request) -> Response:
        number = request.query_params.get("page", "1")
        if not number.isdecimal() or not 1 <= int(number) <= 10 ** 9:
            return message(400, "No such page", "page must be a whole number from 1")
        found, failed = await read(open_cases, db_path, int(number))
        if failed:
            return failed
        rows, total = found
        first = (int(number) - 1) * PAGE_SIZE
        return page("index.html.j2", rows=rows, total=total, page_number=int(number),
                    first=first + 1, last=first + len(rows),
                    more=first + len(rows) < total)

    async def case(request: Request, error: str | None = None, status: int = 200,
                   form: dict[str, Any] | None = None, customer: str | None = None) -> Response:
        customer = customer or customer_of(request)
        if not customer:
            return message(400, "No customer", "give ?customer=ID (see the list of open cases)")
        values, failed = await read(case_page, db_path, customer)
        if failed:
            return failed
        return page("case.html.j2", status, error=None if error is None else page_text(error),
                    form=form or {}, note_max=NOTE_MAX_CHARS, **values)

    async def brief(request: Request) -> Response:
        customer = customer_of(request)
        if not customer:
            return message(400, "No customer", "give ?customer=ID")
        text, failed = await read(brief_html, db_path, customer)
        if failed:
            return failed
        return HTMLResponse(text, headers={"Content-Security-Policy": BRIEF_CSP,
                                           "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "no-store"})

    async def review(request: Request) -> Response:
        refused = _cross_site(request, accepted)
        if refused:
            return message(403, "Refused", refused)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return message(415, "Refused", "send the review form as "
                           "application/x-www-form-urlencoded (the case page's form)")
        body, whole = await _read_capped(request, MAX_FORM_BYTES)
        try:
            fields = parse_qs(body.decode("utf-8", "strict" if whole else "ignore"),
                              keep_blank_values=True, errors="strict" if whole else "ignore")
        except UnicodeDecodeError:
            return message(400, "Refused", "the form is not valid UTF-8")
        form: dict[str, Any] = {key: (fields.get(key) or [""])[0] for key in FORM_FIELDS}
        form["customer"] = normalise_id(form["customer"])
        form["no_owner_on_record"] = (fields.get("no_owner_on_record") or [""])[0] == "on"
        good_token = hmac.compare_digest(form["csrf"].encode(), token.encode())

        async def again(status: int, text: str) -> Response:
            """The case page with the form as typed (and this server's
            token), or the message alone when the form names no customer."""
            if not form["customer"]:
                return message(status, "Refused", text)
            shown = await case(request, text, status, form, form["customer"])
            return shown if shown.status_code == status else message(status, "Refused", text)

        if not whole:
            if not good_token:
                return message(413, "Refused", f"the form is larger than {MAX_FORM_BYTES} "
                               "bytes")
            return await again(413, f"the form is larger than {MAX_FORM_BYTES} bytes as sent: "
                               "shorten the reason (what arrived of it is below)")
        if not good_token:
            return await again(403, "the form's token is missing or not this server's (the "
                               "server was restarted?): check what you typed below and "
                               "review again")
        if form["verdict"] not in VERDICTS:
            return await again(400, "verdict must be approved or rejected")
        if not form["customer"]:
            return message(400, "Refused", "the form names no customer")
        if not (form["case"].isdecimal() and form["run"].isdecimal()):
            return await again(400, "the form does not say which case and run you saw: "
                               "review on the case page below")
        form["case"], form["run"] = int(form["case"]), int(form["run"])
        if blank(form["note"]):  # the page asks for a reason; the command line's --note is optional
            return await again(400, "give the reason for the review (stored as its note)")
        target = f"/case?customer={quote(form['customer'], safe='')}"
        try:
            await run_in_threadpool(do_review, db_path, form)
        except reviewing.CaseChanged as exc:
            if await run_in_threadpool(repeated, db_path, form):  # a double click
                return RedirectResponse(target, status_code=303)
            return await again(409, str(exc))
        except AdieuError as exc:  # the command line's own message
            return await again(400, str(exc))
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return await again(503, "the database is busy (a run is writing to it): nothing "
                               "was recorded; send the review again in a minute")
        return RedirectResponse(target, status_code=303)

    async def failed(request: Request, exc: Exception) -> Response:
        """An error adieu did not foresee: one line (as the command line's),
        never a traceback; a damaged database is named as such."""
        return message(500, "Internal error", unexpected_text(exc, "serve"))

    routes = [Route("/", index), Route("/case", case), Route("/brief", brief),
              Route("/review", review, methods=["POST"])]
    app = Starlette(routes=routes, middleware=[Middleware(HostCheck, hosts=allowed)],
                    exception_handlers={Exception: failed})
    app.state.hosts, app.state.origins = allowed, sorted(accepted)
    return app


async def _read_capped(request: Request, limit: int) -> tuple[bytes, bool]:
    """The request body, read no further than `limit` bytes (plus the
    chunk that crosses it): (body, True), or (what was read, False) when
    the body is larger; a Content-Length past the limit stops reading at
    the limit, the rest is never read."""
    body = bytearray()
    length = request.headers.get("content-length", "")
    whole = not (length.isdecimal() and int(length) > limit)
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), False
    return bytes(body), whole


def host_name(header: str) -> str:
    """The host of a Host header, lower case, without the port: 'localhost:8080'
    -> 'localhost', '[::1]:8080' -> '[::1]'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[:header.find("]") + 1] if "]" in header else header
    return header.split(":", 1)[0]


class HostCheck:
    """ASGI middleware: a request whose Host header is not one of `hosts`
    gets 400, so that a site whose name is made to point at this server
    (DNS rebinding) cannot read the pages or their form token."""

    def __init__(self, app: Any, hosts: list[str]) -> None:
        self.app, self.hosts = app, set(hosts)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and \
                host_name(Headers(scope=scope).get("host", "")) not in self.hosts:
            await PlainTextResponse("Invalid host header", status_code=400)(scope, receive,
                                                                            send)
            return
        await self.app(scope, receive, send)


def _cross_site(request: Request, origins: set[str]) -> str | None:
    """Why a POST comes from another site, or None: Sec-Fetch-Site
    cross-site, an Origin 'null', or an Origin that is neither the
    request's own Host (compared without case) nor one of `origins`."""
    refused = "a review may only be posted from this server's own page"
    if request.headers.get("sec-fetch-site") == "cross-site":
        return refused
    origin = request.headers.get("origin")
    if origin is None:
        return None
    if origin.strip().lower() == "null":
        return refused
    normal = origin_of(origin)
    if normal is None:
        return refused
    if normal in origins:
        return None
    own = request.headers.get("host", "").strip().lower()
    if origin.strip().lower().split("://", 1)[-1] == own or \
            normal.split("://", 1)[-1] == own:
        return None
    return refused
