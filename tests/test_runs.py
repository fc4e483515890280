"""adieu runs: the stored runs, latest first, through the installed console
script on a database made by real `adieu evaluate` runs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ADIEU = str(Path(sys.executable).with_name("adieu"))
DEFAULT = REPO / "policies" / "default.yaml"
STRICT = REPO / "policies" / "strict.yaml"
SOURCE = f"csv:{REPO / 'examples' / 'customers.csv'}"


def adieu(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    if user is not None:  # the operating-system user, as getpass.getuser() reads it first
        env["LOGNAME"] = user
    return subprocess.run([ADIEU, *args], capture_output=True, text=True, env=env,
                          check=False)


# Who made each run of the fixture: --by as typed, or the user (LOGNAME).
MAKERS = {1: ("  Chlo\u00e9   Martin ", None), 2: (None, "svc\u2010monthly"),
          3: ("Ops team", "svc-monthly")}
MADE_BY = {1: "Chlo\u00e9 Martin", 2: "svc-monthly", 3: "Ops team"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "adieu.db"
    for run_id, (policy, as_of, extra) in enumerate(
            ((DEFAULT, "2026-10-01", []), (STRICT, "2026-11-01", []),
             (DEFAULT, "2026-09-01", ["--backfill"])), 1):
        by, user = MAKERS[run_id]
        done = adieu("evaluate", str(policy), "--source", SOURCE, "--as-of", as_of,
                     "--db", str(path), "-q", *extra, *(["--by", by] if by else []),
                     user=user)
        assert done.returncode == 0, done.stderr
    return path


def stored(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("select * from runs")]
    finally:
        conn.close()


def test_json_lists_every_run_latest_as_of_first_with_its_figures(db: Path) -> None:
    done = adieu("runs", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["runs"]
    # latest as-of date first: run 2 (Nov), run 1 (Oct), run 3 (the Sept backfill)
    assert [r["id"] for r in listed] == [2, 1, 3]
    by_id = {r["id"]: r for r in stored(db)}
    for r in listed:
        row = by_id[r["id"]]
        for key in ("as_of", "started_at", "finished_at", "policy_name", "policy_version",
                    "policy_sha256", "source", "customers", "rejected", "new_strikes"):
            assert r[key] == row[key], key
        assert r["counts"] == json.loads(row["counts"])
        assert sum(r["counts"].values()) == r["customers"]
        assert "policy_text" not in r
    assert listed[0]["policy_name"] == "strict"
    assert listed[0]["policy_sha256"] == \
        hashlib.sha256(STRICT.read_bytes()).hexdigest()
    assert [r["backfill"] for r in listed] == [False, False, True]
    assert listed[0]["rejected"] == 6 and listed[0]["customers"] == 400


def test_text_shows_short_hash_and_counts(db: Path) -> None:
    done = adieu("runs", "--db", str(db))
    assert done.returncode == 0, done.stderr
    first = done.stdout.split("\n\n")[0].splitlines()
    sha = hashlib.sha256(STRICT.read_bytes()).hexdigest()
    assert re.fullmatch(r"Run 2  as of 2026-11-01  made 20[0-9-]{8} [0-9:]{8} to "
                        r"[0-9:]{8} UTC by svc-monthly with adieu [0-9a-z.]+", first[0]) or \
        re.fullmatch(r"Run 2  as of 2026-11-01  made 20[0-9-]{8} [0-9:]{8} to "
                     r"20[0-9-]{8} [0-9:]{8} UTC by svc-monthly with adieu [0-9a-z.]+",
                     first[0]), first[0]
    assert f"(sha256 {sha[:12]})  source {SOURCE}" in first[1]
    assert sha not in done.stdout  # short in text
    assert first[2].startswith("  400 customers, 6 rejected, ")
    assert "  (backfill)" in done.stdout.split("\n\n")[2]


def test_when_a_run_was_made() -> None:
    from adieu.cli.runs import when

    assert when("2026-11-30T22:08:54+00:00", "2026-11-30T22:08:55+00:00") == \
        "2026-11-30 22:08:54 to 22:08:55 UTC"
    assert when("2026-11-30T23:59:59+00:00", "2026-12-01T00:00:02+00:00") == \
        "2026-11-30 23:59:59 to 2026-12-01 00:00:02 UTC"
    assert when(None, "2026-12-01T00:00:02+00:00") == "None to 2026-12-01T00:00:02+00:00"


def test_limit(db: Path) -> None:
    one = json.loads(adieu("runs", "--db", str(db), "--json", "--limit", "1").stdout)
    assert [r["id"] for r in one["runs"]] == [2]
    every = json.loads(adieu("runs", "--db", str(db), "--json", "--limit", "0").stdout)
    assert len(every["runs"]) == 3
    bad = adieu("runs", "--db", str(db), "--limit", "-1")
    assert bad.returncode == 2
    for huge in (str(2**63), "99999999999999999999999"):  # was an OverflowError in SQLite
        beyond = adieu("runs", "--db", str(db), "--json", "--limit", huge)
        assert beyond.returncode == 0, beyond.stderr
        assert len(json.loads(beyond.stdout)["runs"]) == 3


def test_listing_writes_nothing(db: Path) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert adieu("runs", "--db", str(db)).returncode == 0
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_missing_database_is_exit_2_and_an_empty_one_lists_nothing(tmp_path: Path) -> None:
    missing = adieu("runs", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no database at" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    done = adieu("runs", "--db", str(empty))
    assert done.returncode == 0 and done.stdout == "no runs yet (run `adieu evaluate`)\n"
    assert json.loads(adieu("runs", "--db", str(empty), "--json").stdout) == {"runs": []}
    not_db = tmp_path / "not.db"
    not_db.write_text("not a database", encoding="utf-8")
    bad = adieu("runs", "--db", str(not_db))
    assert bad.returncode == 2 and "cannot use database" in bad.stderr


def test_runs_record_who_made_them(db: Path) -> None:
    """--by NAME, else the operating-system user; spaces and dashes tidied
    as reviewer names are; in runs.made_by, `runs --json`, the text and the
    run's audit entry."""
    assert {r["id"]: r["made_by"] for r in stored(db)} == MADE_BY
    listed = json.loads(adieu("runs", "--db", str(db), "--json").stdout)["runs"]
    assert {r["id"]: r["made_by"] for r in listed} == MADE_BY
    text = adieu("runs", "--db", str(db)).stdout
    for run_id, name in MADE_BY.items():
        assert re.search(rf"^Run {run_id}  .* UTC by {name} with adieu \S+$", text, re.M), text
    conn = sqlite3.connect(db)
    try:
        payloads = {run_id: json.loads(p) for run_id, p in conn.execute(
            "select run_id, payload from audit where kind = 'run'")}
    finally:
        conn.close()
    assert {run_id: p["made_by"] for run_id, p in payloads.items()} == MADE_BY
    verified = adieu("audit", "verify", "--db", str(db))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_run_of_an_earlier_version_shows_no_maker(tmp_path: Path) -> None:
    """The old-layout fixture's runs were made before runs.made_by: NULL,
    "(not recorded)", and the upgraded trail still verifies."""
    old = tmp_path / "old.db"
    old.write_bytes((REPO / "tests" / "fixtures" / "main-m007.db").read_bytes())
    text = adieu("runs", "--db", str(old)).stdout
    assert re.search(r"^Run 2  .* UTC by \(not recorded\) with adieu 0\.2\.0\.dev0$", text,
                     re.M), text
    verified = adieu("audit", "verify", "--db", str(old))  # migrates it, m012 too
    assert verified.returncode == 0, verified.stdout + verified.stderr
    listed = json.loads(adieu("runs", "--db", str(old), "--json").stdout)["runs"]
    assert [r["made_by"] for r in listed] == [None, None]


@pytest.mark.parametrize(("by", "message"), [
    ("a\x1bb", "Error: --by may not contain a control character (U+001B)\n"),
    ("Chloe\u200bMartin",
     "Error: --by may not contain an invisible or formatting character (U+200B)\n"),
    (" \u00a0 ", "Error: --by may not be empty: name who makes the run\n"),
    # issue 11, RA8: a name that shows as nothing, a look-alike, no length limit
    ("\u0301", "Error: --by \\u0301 has no letter or digit: name who makes the run\n"),
    ("- .", "Error: --by - . has no letter or digit: name who makes the run\n"),
    ("M\u0430ra", "Error: --by M\\u0430ra mixes letters of another script that look like "
                  "Latin ones with Latin letters; type the name in one script\n"),
    ("Chlo\u0435 Martin", "Error: --by Chlo\\u0435 Martin mixes letters of another script "
                          "that look like Latin ones with Latin letters; type the name in one "
                          "script\n"),
    ("x" * 5000, "Error: --by is 5,000 characters long; at most 200\n"),
    ("x" * 201, "Error: --by is 201 characters long; at most 200\n"),
])
def test_a_bad_by_is_refused_before_anything_is_read(tmp_path: Path, by: str,
                                                      message: str) -> None:
    path = tmp_path / "a.db"
    done = adieu("evaluate", str(DEFAULT), "--source", SOURCE, "--as-of", "2026-10-01",
                 "--db", str(path), "-q", "--by", by)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message)
    assert not path.exists()


def test_a_dry_run_says_who_would_make_it(tmp_path: Path) -> None:
    done = adieu("evaluate", str(DEFAULT), "--source", SOURCE, "--as-of", "2026-10-01",
                 "--db", str(tmp_path / "a.db"), "-q", "--dry-run", "--json",
                 "--by", "Chloe Martin")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run"]["made_by"] == "Chloe Martin"


@pytest.mark.parametrize("failure", [OSError("no user"), KeyError("uid 1234")])
def test_no_user_name_is_recorded_as_none(monkeypatch: pytest.MonkeyPatch,
                                          failure: Exception) -> None:
    from adieu import names

    def getuser() -> str:
        raise failure

    monkeypatch.setattr(names.getpass, "getuser", getuser)
    assert names.made_by(None) is None
    assert names.made_by("Ops\u2014team") == "Ops-team"  # --by needs no user name
    monkeypatch.setattr(names.getpass, "getuser", lambda: "ops\x1b]0;x\x07")
    assert names.made_by(None) is None  # a user name that cannot show is not recorded
    monkeypatch.setattr(names.getpass, "getuser", lambda: "\uff4fps")
    assert names.made_by(None) == "ops"


@pytest.mark.parametrize(("by", "kept"), [
    ("Mara Lind", "Mara Lind"), ("Chloé Martin", "Chloé Martin"), ("O'Brien", "O'Brien"),
    ("\u041c\u0430\u0440\u0430", "\u041c\u0430\u0440\u0430"),  # wholly Cyrillic: kept
    ("\u03a3\u03bf\u03c6\u03af\u03b1", "\u03a3\u03bf\u03c6\u03af\u03b1"),
    ("x" * 200, "x" * 200), ("  Mara   Lind ", "Mara Lind"),
    ("\uff2d\uff41\uff52\uff41", "Mara"),  # full-width letters fold to ASCII first
    ("ops-bot 2", "ops-bot 2"),
])
def test_names_made_by_keeps(by: str, kept: str) -> None:
    """The RA8 limits leave real names alone: accents, other scripts,
    exactly 200 characters."""
    from adieu.names import made_by

    assert made_by(by) == kept
