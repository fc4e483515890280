"""`adieu serve` against the faults a hostile tester found (h13 findings
N, I, D, O, M, E, B, G): a review bound to what the page showed, the Host
check never off (--allow-host, --public-url behind a proxy), the form body
capped while it is read, the command line's warnings and the form's own
words on the page, a refused post keeping what was typed, start-up errors
as one line with exit 2, paging. In process over tests/reportdata.py's
base (five open cases, each in case 1..5 with latest run 2)."""

from __future__ import annotations

import html
import re
import socket
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from reportdata import hostile_db

from adieu.cli import cli

pytest.importorskip("starlette")
from servepage import (  # noqa: E402
    BASE,
    TOKEN,
    TestClient,
    alerts,
    audit_count,
    client,
    copy_db,
    latest_case,
)
from servepage import form as review_form  # noqa: E402

from adieu import reviewing, serve  # noqa: E402
from adieu.cli import serve as serve_cli  # noqa: E402
from adieu.serve import MAX_FORM_BYTES  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with:DeprecationWarning")


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_db(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def db(base_db: Path, tmp_path: Path) -> Path:
    return copy_db(base_db, tmp_path)


def form(customer: str = "CUST-0007", verdict: str = "approved", **more: str) -> dict:
    return review_form(customer, verdict, **more)


def state(db: Path, customer: str) -> tuple:
    return latest_case(db, customer)[:2]


# N: a review is bound to the case and run the page showed

def test_the_form_carries_the_case_and_run_it_shows(db: Path):
    text = client(db).get("/case", params={"customer": "CUST-0007"}).text
    assert '<input type="hidden" name="case" value="2">' in text
    assert '<input type="hidden" name="run" value="2">' in text


@pytest.mark.parametrize("change, what", [
    ({"run": "1"}, "the case changed since you opened it: run 2 as of "),
    ({"case": "1"}, "the case changed since you opened it: CUST-0007's case 1 is closed; "),
    ({"case": "", "run": ""}, "the form does not say which case and run you saw"),
])
def test_a_review_of_what_the_page_did_not_show_is_refused(db: Path, change: dict, what: str):
    entries = audit_count(db)
    page = client(db).post("/review", data={**form(), **change}, follow_redirects=False)
    assert page.status_code in (409, 400)
    assert alerts(page.text)[0].startswith(what)
    assert state(db, "CUST-0007") == ("proposed", None)
    assert audit_count(db) == entries
    assert "figures checked</textarea>" in page.text  # the reason typed is kept


def test_a_reviewed_case_refuses_another_review_but_a_double_click_is_the_same(db: Path):
    first = client(db).post("/review", data=form(), follow_redirects=False)
    entries = audit_count(db)
    again = client(db).post("/review", data=form(), follow_redirects=False)
    assert (first.status_code, again.status_code) == (303, 303)
    assert again.headers["location"] == first.headers["location"]
    other = client(db).post("/review", data=form(by="Sam Second"), follow_redirects=False)
    assert other.status_code == 409
    assert "it is approved (reviewed by Rita Reviewer at" in alerts(other.text)[0]
    assert audit_count(db) == entries and state(db, "CUST-0007") == ("approved",
                                                                      "Rita Reviewer")


def test_the_command_line_is_not_bound(db: Path):
    """reviewing.review without `seen` (adieu approve) acts on the open case."""
    result = CliRunner().invoke(cli, ["approve", "CUST-0007", "--by", "Rita Reviewer",
                                      "--run", "2", "--db", str(db)])
    assert result.exit_code == 0, result.output


# I, D, G: the Host check is never off; the proxy's public name can review

def app_of(db: Path, monkeypatch, *args: str):
    started = {}
    monkeypatch.setattr(serve_cli, "run_server", lambda app, sock: started.update(app=app))
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--port", "0", *args])
    return result, started.get("app")


def test_every_address_without_host_names_is_a_usage_error(db: Path, monkeypatch):
    result, app = app_of(db, monkeypatch, "--host", "0.0.0.0")
    assert result.exit_code == 2 and app is None
    assert "--allow-host" in result.output.splitlines()[-1]


def test_every_address_refuses_a_rebinding_host_and_the_proxy_name_reviews(db: Path,
                                                                             monkeypatch):
    result, app = app_of(db, monkeypatch, "--host", "0.0.0.0", "--allow-host",
                         "review.corp.example")
    assert result.exit_code == 0, result.output
    web = TestClient(app, base_url=BASE)
    rebound = web.get("/case", params={"customer": "CUST-0007"},
                      headers={"host": "attacker.example:8080"})
    assert rebound.status_code == 400 and "csrf" not in rebound.text
    token = re.search(r'name="csrf" value="([^"]+)"', web.get(
        "/case", params={"customer": "CUST-0007"},
        headers={"host": "review.corp.example"}).text)[1]
    refused = web.post("/review", data={**form(), "csrf": token}, headers={
        "host": "127.0.0.1:8080", "origin": "https://attacker.example"})
    assert refused.status_code == 403
    posted = web.post("/review", data={**form(), "csrf": token}, follow_redirects=False,
                      headers={"host": "review.corp.example",
                               "origin": "https://review.corp.example"})
    assert posted.status_code == 303 and state(db, "CUST-0007")[0] == "approved"


def test_a_proxy_keeping_its_upstream_host_reviews_with_public_url(db: Path, monkeypatch):
    result, app = app_of(db, monkeypatch, "--public-url", "https://Review.Corp.Example/")
    assert result.exit_code == 0, result.output
    web = TestClient(app, base_url=BASE)
    posted = web.post("/review", data={**form(), "csrf": token_of(web)},
                      follow_redirects=False,
                      headers={"origin": "https://review.corp.example",
                               "sec-fetch-site": "same-origin"})
    assert posted.status_code == 303


def token_of(web: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"',
                     web.get("/case", params={"customer": "CUST-0007"}).text)[1]


def test_host_and_origin_compare_without_case(db: Path):
    posted = client(db).post("/review", data=form(), follow_redirects=False, headers={
        "host": "LOCALHOST:8080", "origin": "http://localhost:8080"})
    assert posted.status_code == 303


def test_a_bad_public_url_is_refused(db: Path, monkeypatch):
    result, app = app_of(db, monkeypatch, "--public-url", "review.corp.example")
    assert result.exit_code == 2 and app is None
    assert result.output.startswith("Error: --public-url 'review.corp.example' is not")


# O: the body is capped while it is read

def test_a_large_body_is_refused_without_reading_it(db: Path):
    import asyncio

    from starlette.requests import Request

    received = []

    async def receive():  # 4 MiB offered, chunked (no Content-Length)
        received.append(1)
        return {"type": "http.request", "body": b"a" * 65536, "more_body": len(received) < 64}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    body, whole = asyncio.run(serve._read_capped(request, MAX_FORM_BYTES))
    assert not whole and len(body) == MAX_FORM_BYTES and len(received) == 2
    page = client(db).post("/review", content=b"a" * (MAX_FORM_BYTES + 1), headers={
        "content-type": "application/x-www-form-urlencoded"})
    assert page.status_code == 413
    declared = client(db).post("/review", content=b"csrf=x", headers={
        "content-type": "application/x-www-form-urlencoded",
        "content-length": str(MAX_FORM_BYTES + 1)})
    assert declared.status_code == 413


def test_a_reason_too_long_keeps_what_was_typed(db: Path):
    page = client(db).post("/review", data=form(note="careful " + "é" * 12000))
    assert page.status_code == 413
    assert alerts(page.text)[0].startswith(f"the form is larger than {MAX_FORM_BYTES} bytes")
    assert 'value="Rita Reviewer"' in page.text and ">careful éé" in page.text
    assert state(db, "CUST-0007") == ("proposed", None)


def test_a_stale_token_keeps_what_was_typed(db: Path):
    page = client(db).post("/review", data=form(csrf="before-a-restart",
                                                note="my long careful reason"))
    assert page.status_code == 403
    assert "my long careful reason</textarea>" in page.text
    assert f'name="csrf" value="{TOKEN}"' in page.text  # a fresh token to send again


# M, E: the command line's warnings, the page's words

def test_the_page_shows_the_warning_adieu_approve_prints(db: Path, monkeypatch):
    monkeypatch.setattr(reviewing, "now", lambda: "2999-01-02T10:00:00+00:00")
    assert client(db).post("/review", data=form()).status_code == 200
    page = client(db).get("/case", params={"customer": "CUST-0007"}).text
    (shown,) = map(html.unescape, re.findall(r'class="warning" role="status">(.*?)</p>', page))
    assert re.fullmatch(r"warning: case 2's date \d{4}-\d\d-\d\d is not after the day of "
                        r"the approval \(2999-01-02\): the next run sets a new date, with "
                        r"the policy's notice counted from this approval", shown)


def test_messages_name_the_forms_controls_not_options(db: Path):
    page = client(db).post("/review", data=form(no_owner_on_record="on"))
    assert page.status_code == 400
    (text,) = alerts(page.text)
    assert '"The source gives no account owner" is only for customers without one' in text
    assert "--" not in text
    assert serve.page_text("give your own user id of that system with --by-id") == \
        'give your own user id of that system in "Your user id"'
    assert "name=\"no_owner_on_record\" checked" in page.text


# B: start-up failures are one line, exit 2, before any "reviewing at"

def test_a_port_in_use_is_one_error_line(db: Path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--port", str(port)])
    finally:
        taken.close()
    assert result.exit_code == 2
    assert result.output == f"Error: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_a_host_that_cannot_be_bound_is_one_error_line(db: Path):
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--host", "not a host",
                                      "--allow-host", "x"])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot listen on not a host:8080: ")


# G2: grammar, paging

def test_the_index_is_paged(db: Path, monkeypatch):
    monkeypatch.setattr(serve, "PAGE_SIZE", 2)
    web = client(db)
    first = web.get("/").text
    assert "5 cases wait for" in first and "Cases 1 to 2 of 5" in first
    assert first.count('<td class="customer">') == 2 and 'href="/?page=2"' in first
    last = web.get("/", params={"page": "3"}).text
    assert last.count('<td class="customer">') == 1 and 'href="/?page=2"' in last
    assert 'rel="next"' not in last
    assert web.get("/", params={"page": "0"}).status_code == 400


def test_one_open_case_waits(db: Path):
    web = client(db)
    for customer in ("CUST-0001", "CUST-0007", "CUST-0023", "CUST-0015"):
        web.post("/review", data=form(customer, "rejected"))
    assert "1 case waits for an independent review" in web.get("/").text


# E: other encodings, a busy database, a keyed trail without its key

def test_a_multipart_or_invalid_utf8_form_is_refused_as_such(db: Path):
    multipart = client(db).post("/review", files={"note": ("n", b"x")}, data=form())
    assert multipart.status_code == 415 and "x-www-form-urlencoded" in multipart.text
    body = "&".join(f"{k}={v}" for k, v in form(by="Ann%FFRev").items() if k != "by") + \
        "&by=Ann%FFRev"
    bad = client(db).post("/review", content=body.encode(), headers={
        "content-type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 400 and alerts(bad.text) == ["the form is not valid UTF-8"]
    assert state(db, "CUST-0007") == ("proposed", None)


def test_a_busy_database_answers_soon_and_keeps_the_form(db: Path, monkeypatch):
    monkeypatch.setattr(serve, "REVIEW_BUSY_SECONDS", 0.1)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("begin exclusive")
    try:
        page = client(db).post("/review", data=form(note="weighed it"))
    finally:
        lock.execute("rollback")
        lock.close()
    assert page.status_code == 503
    assert alerts(page.text)[0].startswith("the database is busy")
    assert "weighed it</textarea>" in page.text
    assert state(db, "CUST-0007") == ("proposed", None)


def test_a_keyed_trail_without_its_key_does_not_start(db: Path, monkeypatch):
    monkeypatch.setenv("ADIEU_AUDIT_KEY", "k" * 32)  # an entry with a MAC
    keyed = CliRunner().invoke(cli, ["reject", "CUST-0023", "--by", "Rita Reviewer",
                                     "--db", str(db)])
    assert keyed.exit_code == 0, keyed.output
    monkeypatch.delenv("ADIEU_AUDIT_KEY")
    result, app = app_of(db, monkeypatch)
    assert result.exit_code == 2 and app is None
    assert "the audit trail is keyed" in result.output and "reviewing" not in result.output


def test_a_damaged_database_is_500_on_every_page(db: Path, tmp_path: Path):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes()[:4096])
    web = client(damaged)
    statuses = {path: web.get(path, params={"customer": "CUST-0007"}).status_code
                for path in ("/", "/case", "/brief")}
    assert statuses == {"/": 500, "/case": 500, "/brief": 500}
