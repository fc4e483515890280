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


def adieu(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    return subprocess.run([ADIEU, *args], capture_output=True, text=True, env=env,
                          check=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "adieu.db"
    for policy, as_of, extra in ((DEFAULT, "2026-10-01", []), (STRICT, "2026-11-01", []),
                                 (DEFAULT, "2026-09-01", ["--backfill"])):
        done = adieu("evaluate", str(policy), "--source", SOURCE, "--as-of", as_of,
                     "--db", str(path), "-q", *extra)
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
                        r"[0-9:]{8} UTC by adieu [0-9a-z.]+", first[0]) or \
        re.fullmatch(r"Run 2  as of 2026-11-01  made 20[0-9-]{8} [0-9:]{8} to "
                     r"20[0-9-]{8} [0-9:]{8} UTC by adieu [0-9a-z.]+", first[0]), first[0]
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
