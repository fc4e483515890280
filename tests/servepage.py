"""What tests/test_serve.py and tests/test_serve_faults.py share: the form
token, the base URL, the case and run each open customer of
tests/reportdata.py's base waits in, a copy of that base per test, the page
client, and readers of the page and the database."""

from __future__ import annotations

import html
import re
import shutil
import sqlite3
import warnings
from pathlib import Path

with warnings.catch_warnings():  # Starlette >= 1.9 asks for httpx2; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from adieu.serve import create_app  # noqa: E402

TOKEN = "test-token"
BASE = "http://127.0.0.1:8080"
# The case each customer of the base waits in, and its latest run (the hidden
# fields of its page's form).
SEEN = {"CUST-0001": (1, 2), "CUST-0007": (2, 2), "CUST-0023": (3, 2), "CUST-0015": (4, 2),
        "CUST-0054": (5, 2)}


def copy_db(base_db: Path, folder: Path) -> Path:
    """A copy of the base (with its -wal file) in FOLDER, for one test."""
    for suffix in ("", "-wal"):
        if Path(f"{base_db}{suffix}").exists():
            shutil.copy(f"{base_db}{suffix}", folder / f"adieu.db{suffix}")
    return folder / "adieu.db"


def client(db: Path, **options) -> TestClient:
    return TestClient(create_app(str(db), token=TOKEN, **options), base_url=BASE)


def alerts(text: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'role="alert">(.*?)</p>', text, re.S)]


def form(customer: str, verdict: str = "approved", by: str = "Rita Reviewer",
         **more: str) -> dict[str, str]:
    """The review form as the page would post it for CUSTOMER's case."""
    case, run = SEEN.get(customer, (1, 2))
    return {"csrf": TOKEN, "customer": customer, "case": str(case), "run": str(run),
            "verdict": verdict, "by": by, "note": "figures checked", **more}


def query(db: Path, sql: str, params: tuple = ()) -> tuple | None:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchone()
    finally:
        conn.close()


def latest_case(db: Path, customer: str) -> tuple:
    """(state, reviewer, reviewer_key) of CUSTOMER's latest case."""
    return query(db, "select state, reviewer, reviewer_key from cases where customer_id = ? "
                 "order by id desc limit 1", (customer,))


def audit_count(db: Path) -> int:
    return query(db, "select count(*) from audit")[0]
