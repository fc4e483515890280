"""`adieu serve`'s rules, in process (Starlette's TestClient), over the
report tests' small base (tests/reportdata.py: two runs of the default
policy; CUST-0001, owned by Chloe Martin and named with a <script>, waits
for review with four other customers).

The page applies the command line's review rules through the same code:
a refused self-approval shows `adieu approve`'s own message with status
400; an unknown customer is 404; a post without this server's form token,
or from another site, is 403 and changes nothing; every value from the
data is escaped."""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from reportdata import SCRIPT_NAME, hostile_db

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

from adieu.serve import create_app  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with:DeprecationWarning")

OWNER_SPELLED_OTHERWISE = "MARTIN, chloe"  # the owner of CUST-0001 is Chloe Martin
state = latest_case


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_db(tmp_path_factory.mktemp("serve"))


@pytest.fixture
def db(base_db: Path, tmp_path: Path) -> Path:
    """A copy of the base for one test (reviews change it)."""
    return copy_db(base_db, tmp_path)


def form(customer: str = "CUST-0001", verdict: str = "approved", by: str = "Rita Reviewer",
         **more: str) -> dict[str, str]:
    return review_form(customer, verdict, by, **more)


def test_the_open_cases_are_listed_and_a_script_name_is_text(db: Path):
    conn = sqlite3.connect(db)
    proposed = [c for (c,) in conn.execute(
        "select customer_id from cases where state = 'proposed' order by customer_id")]
    conn.close()
    page = client(db).get("/")
    assert page.status_code == 200
    listed = re.findall(r'<td class="customer"><a href="/case\?customer=([^"]+)">', page.text)
    assert listed == proposed and len(proposed) == 5
    assert "<script>" not in page.text
    names = [html.unescape(n) for n in re.findall(r'<td class="name">(.*?)</td>', page.text)]
    assert SCRIPT_NAME in names
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_case_page_shows_figures_reasons_and_the_form(db: Path):
    page = client(db).get("/case", params={"customer": " CUST-0001 "})  # id as typed
    assert page.status_code == 200
    text = page.text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "abuse-of-staff" in text and "abuse_incidents_12m = 1" in text
    assert '<span class="owner">Chloe Martin</span>' in text
    assert f'name="csrf" value="{TOKEN}"' in text
    assert 'value="approved"' in text and 'value="rejected"' in text
    brief = client(db).get("/brief", params={"customer": "CUST-0001"})
    assert brief.status_code == 200 and brief.text.lstrip().startswith("<!DOCTYPE html>")
    assert "<title>DRAFT" in brief.text and "<script>" not in brief.text
    assert "sandbox" in brief.headers["content-security-policy"]


@pytest.mark.parametrize("customer, message", [
    ("NOPE-1", "no customer 'NOPE-1' in the database"),
    ("CUST-0002", "customer 'CUST-0002' has no offboarding case"),
])
def test_an_unknown_customer_or_case_is_404(db: Path, customer: str, message: str):
    for path in ("/case", "/brief"):
        page = client(db).get(path, params={"customer": customer})
        assert page.status_code == 404
        assert alerts(page.text) == [message]


def test_a_self_approval_is_refused_with_the_command_lines_message(db: Path, tmp_path: Path):
    other = tmp_path / "cli.db"
    shutil.copy(db, other)
    cli_result = CliRunner().invoke(cli, ["approve", "CUST-0001", "--by",
                                          OWNER_SPELLED_OTHERWISE, "--db", str(other)])
    assert cli_result.exit_code == 2
    entries = audit_count(db)
    page = client(db).post("/review", data=form(by=OWNER_SPELLED_OTHERWISE))
    assert page.status_code == 400
    assert [f"Error: {m}\n" for m in alerts(page.text)] == [cli_result.output]
    assert "is the account owner of CUST-0001" in cli_result.output
    assert state(db, "CUST-0001") == ("proposed", None, None)
    assert audit_count(db) == entries
    # the form is shown again with what the reviewer typed
    assert f'name="by" required maxlength="500" value="{OWNER_SPELLED_OTHERWISE}"' \
        in page.text


def test_an_approval_is_written_as_on_the_command_line(db: Path):
    entries = audit_count(db)
    page = client(db).post("/review", data=form(by="  rita   REVIEWER "),
                           follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/case?customer=CUST-0001"
    reviewer, key = state(db, "CUST-0001")[1:]
    assert state(db, "CUST-0001")[0] == "approved" and reviewer == "  rita   REVIEWER "
    assert key == "rita reviewer"
    conn = sqlite3.connect(db)
    (payload,) = conn.execute("select payload from audit order by seq desc limit 1").fetchone()
    conn.close()
    assert audit_count(db) == entries + 1
    entry = json.loads(payload)
    assert entry["event"] == "approved" and entry["case"]["reviewer_key"] == "rita reviewer"
    assert entry["case"]["review_note"] == "figures checked"
    verify = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    assert verify.exit_code == 0, verify.output
    after = client(db).get("/case", params={"customer": "CUST-0001"})
    assert "approved by" in after.text and 'name="csrf"' not in after.text  # no form
    again = client(db).post("/review", data=form(by="Sam Second"))
    assert again.status_code == 409  # the case changed since the form was shown
    assert alerts(again.text)[0].startswith("the case changed since you opened it: it is "
                                            "approved (reviewed by   rita   REVIEWER  at")


def test_a_rejection_closes_the_case_and_its_brief(db: Path):
    page = client(db).post("/review", data=form("CUST-0007", "rejected"))
    assert page.status_code == 200  # followed to the case page
    assert state(db, "CUST-0007")[0] == "rejected"
    brief = client(db).get("/brief", params={"customer": "CUST-0007"})
    assert brief.status_code == 409 and "there is no brief to write" in brief.text


@pytest.mark.parametrize("change, headers", [
    ({"csrf": ""}, {}),
    ({"csrf": "another-servers-token"}, {}),
    ({}, {"origin": "https://evil.example"}),
    ({}, {"origin": "null"}),
    ({}, {"sec-fetch-site": "cross-site"}),
])
def test_a_post_without_the_token_or_from_another_site_is_refused(db: Path, change: dict,
                                                                   headers: dict):
    entries = audit_count(db)
    page = client(db).post("/review", data={**form(), **change}, headers=headers)
    assert page.status_code == 403
    assert state(db, "CUST-0001") == ("proposed", None, None)
    assert audit_count(db) == entries


@pytest.mark.parametrize("hosts, host, status", [
    (None, "evil.example:8080", 400),  # DNS rebinding: another site's name
    (None, "localhost:8080", 200),
    (None, "LOCALHOST", 200),
    (["127.0.0.1", "[::1]", "localhost"], "[::1]:8080", 200),
    (["127.0.0.1", "[::1]", "localhost"], "[::2]:8080", 400),
    (["127.0.0.1", "localhost", "reviews.example.org"], "Reviews.Example.org:443", 200),
])
def test_only_the_host_names_served_are_answered(db: Path, hosts, host: str, status: int):
    page = TestClient(create_app(str(db), hosts, token=TOKEN), base_url=BASE).get(
        "/", headers={"host": host})
    assert page.status_code == status


def test_a_bad_verdict_and_a_hidden_character_in_a_name_are_refused(db: Path):
    page = client(db).post("/review", data=form(verdict="effective"))
    assert page.status_code == 400
    page = client(db).post("/review", data=form(by="Rita\u202eReviewer"))
    assert page.status_code == 400
    assert "\u202e" not in page.text
    assert alerts(page.text) == ['"Your name" may not contain an invisible or formatting '
                                 "character (U+202E)"]
    assert state(db, "CUST-0001") == ("proposed", None, None)


def test_serve_without_the_extra_says_how_to_install_it(monkeypatch, db: Path):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn fails
    result = CliRunner().invoke(cli, ["serve", "--db", str(db)])
    assert result.exit_code == 2
    assert result.output == "Error: adieu serve needs the serve extra: pip install " \
                            "'adieu[serve]'\n"


@pytest.mark.parametrize("host, more, warned, hosts", [
    ("127.0.0.1", [], False, ["127.0.0.1", "localhost"]),
    ("LOCALHOST", [], False, ["127.0.0.1", "localhost"]),
    ("0.0.0.0", ["--allow-host", "Review.LAN"], True, ["127.0.0.1", "localhost",
                                                        "review.lan"]),
    ("127.0.0.1", ["--public-url", "https://review.corp.example/"], False,
     ["127.0.0.1", "localhost", "review.corp.example"]),
    ("::1", [], False, ["127.0.0.1", "[::1]", "localhost"]),
])
def test_serve_binds_to_the_host_and_warns_off_this_machine(monkeypatch, db: Path,
                                                            host: str, more: list[str],
                                                            warned: bool, hosts: list[str]):
    from adieu.cli import serve as serve_cli

    started = {}

    def run_server(app, sock):
        started.update(app=app, address=sock.getsockname())

    monkeypatch.setattr(serve_cli, "run_server", run_server)
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--host", host,
                                      "--port", "0", *more])
    assert result.exit_code == 0, result.output
    assert ("warning: serving on" in result.output) == warned
    assert started["app"].state.hosts == hosts


def test_serve_needs_an_existing_database(tmp_path: Path):
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no database at" in result.output


def test_a_review_without_a_reason_is_refused(db: Path):
    page = client(db).post("/review", data={**form(), "note": " \t "})
    assert page.status_code == 400
    assert alerts(page.text) == ["give the reason for the review (stored as its note)"]
    assert state(db, "CUST-0001") == ("proposed", None, None)


def test_an_unforeseen_error_is_one_line_not_a_traceback(db: Path, monkeypatch):
    from adieu import reviewing

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(reviewing, "pending", broken)
    page = TestClient(create_app(str(db), token=TOKEN), base_url=BASE,
                      raise_server_exceptions=False).get("/")
    assert page.status_code == 500
    assert alerts(page.text) == ["internal error, please report: RuntimeError: boom while "
                                 "running `adieu serve` (set ADIEU_RAISE_ERRORS=1 to see the "
                                 "traceback)"]
    assert "Traceback" not in page.text


def test_a_database_removed_while_serving_is_404_not_a_crash(tmp_path: Path, db: Path):
    app = create_app(str(db), token=TOKEN)
    db.rename(tmp_path / "moved.db")
    page = TestClient(app, base_url=BASE).get("/")
    assert page.status_code == 404
    assert alerts(page.text) == [f"no database at {db}"]


def test_the_case_page_shows_a_date_passed_when_the_approval_was_recorded(tmp_path: Path):
    """RB2: approved --on the run's day, recorded after the date: the case
    page carries the warning `adieu approve` gives."""
    from test_review_on import adieu as review_cli
    from test_review_on import months

    from adieu.serve import case_page

    db = tmp_path / "year.db"
    months(db, 1, 2, 3, 4, 5, 6)
    code, out = review_cli(db, "approve", "CUST-A", "--run", "6", "--by", "Mara Lind",
                           "--on", "2026-06-01")
    assert code == 0, out
    warnings = case_page(str(db), "CUST-A")["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith(
        "case 2's date 2026-07-31 has passed (the approval of 2026-06-01 was recorded on ")
