"""`adieu history` names every way a strike stops counting for what it is
(expired, pardoned with who and why, superseded by a later run of the same
date, set aside by an exemption), and tells a rule shielded by an exemption
from a rule that no longer fires. End to end: the installed console script
over a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adieu import timeline

ADIEU = Path(sys.executable).parent / "adieu"

POLICY = textwrap.dedent("""\
    version: "1"
    name: wording
    rules:
      - id: late
        title: Late payer
        when: late_payments_12m >= 3
        action: strike
      - id: costly
        title: Costly
        when: hours_support_12m > 100
        action: strike
    strikes:
      window_days: 60
      cooldown_days: 20
    """)


class Cli:
    def __init__(self, work: Path):
        self.work, self.db = work, work / "h.db"
        (work / "p.yaml").write_text(POLICY, encoding="utf-8")

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS")}
        return subprocess.run([str(ADIEU), *args, "--db", str(self.db)], cwd=self.work,
                              env=env, capture_output=True, text=True, timeout=120)

    def run(self, as_of: str, rows: dict[str, tuple[int, int]]) -> None:
        path = self.work / f"{as_of}-{len(list(self.work.glob('*.csv')))}.csv"
        path.write_text("customer_id,late_payments_12m,hours_support_12m\n" + "".join(
            f"{cid},{late},{hours}\n" for cid, (late, hours) in rows.items()),
            encoding="utf-8")
        done = self("evaluate", "p.yaml", "--source", f"csv:{path}", "--as-of", as_of)
        assert done.returncode == 0, done.stderr

    def history(self, cid: str) -> tuple[list[dict], str]:
        data = self("history", cid, "--json")
        text = self("history", cid)
        assert data.returncode == 0 and text.returncode == 0, data.stderr + text.stderr
        return json.loads(data.stdout)["runs"], text.stdout


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    c = Cli(tmp_path_factory.mktemp("history"))
    # C-SUP: strike on 2026-01-01 in run 1; run 2 of the same date (corrected
    # facts) does not fire: superseded by run 2, not pardoned.
    # C-PAR: pardoned between runs 2 and 3. C-EXP: expires after 60 days.
    # C-SH: exempted from `late` until 2026-03-01 (after run 2): shielded in
    # run 3, fires again in run 4.
    c.run("2026-01-01", {"C-SUP": (3, 0), "C-PAR": (3, 0), "C-EXP": (3, 0), "C-SH": (3, 0)})
    c.run("2026-01-01", {"C-SUP": (0, 0), "C-PAR": (3, 0), "C-EXP": (3, 0), "C-SH": (3, 0)})
    assert c("strikes", "pardon", "C-PAR", "late", "--by", "Gustav Berg", "--reason",
             "our invoicing error").returncode == 0
    assert c("exempt", "C-SH", "--rules", "late", "--reason", "reference", "--approver", "CEO",
             "--until", "2026-03-01").returncode == 0
    c.run("2026-02-01", {"C-SUP": (0, 0), "C-PAR": (0, 0), "C-EXP": (0, 0), "C-SH": (3, 0)})
    c.run("2026-03-05", {"C-SUP": (0, 0), "C-PAR": (0, 0), "C-EXP": (0, 0), "C-SH": (3, 0)})
    return c


def test_a_superseded_strike_is_not_called_pardoned(cli: Cli) -> None:
    runs, text = cli.history("C-SUP")
    second = runs[1]
    assert (second["run_id"], second["as_of"]) == (2, "2026-01-01")
    assert second["superseded_strikes"] == ["late (2026-01-01) by run 2 of the same date"]
    assert second["pardoned_strikes"] == [] and second["expired_strikes"] == []
    assert [(s["why"], s["superseded_by_run"]) for s in second["stopped_strikes"]] == \
        [("superseded", 2)]
    assert "superseded strikes: late (2026-01-01) by run 2 of the same date" in text
    assert "pardoned" not in text


def test_a_pardoned_strike_names_who_and_why(cli: Cli) -> None:
    runs, text = cli.history("C-PAR")
    feb = next(e for e in runs if e["as_of"] == "2026-02-01")
    assert feb["pardoned_strikes"] == ["late (2026-01-01) by Gustav Berg: our invoicing error"]
    assert feb["expired_strikes"] == [] and feb["superseded_strikes"] == []
    assert "pardoned strikes: late (2026-01-01) by Gustav Berg: our invoicing error" in text


def test_an_expired_strike_is_expired(cli: Cli) -> None:
    runs, text = cli.history("C-EXP")
    feb, mar = runs[2], runs[3]
    assert feb["strikes"] == 1 and feb["stopped_strikes"] == []
    assert mar["expired_strikes"] == ["late (2026-01-01)"]
    assert mar["stopped_strikes"][0]["text"] == "late (2026-01-01) expired on 2026-03-02"
    assert mar["pardoned_strikes"] == [] and mar["superseded_strikes"] == []
    assert "expired strikes: late (2026-01-01)" in text and "pardoned" not in text


def test_a_shielded_rule_is_not_a_rule_that_stopped_firing(cli: Cli) -> None:
    runs, text = cli.history("C-SH")
    feb, mar = runs[2], runs[3]
    assert feb["fired"] == [] and feb["shielded"] == [{"rule": "late", "by": "registry-1"}]
    assert "late shielded by exemption registry-1" in feb["changes"]
    assert not any("no longer fires" in c for c in feb["changes"])
    assert mar["fired"] == ["late"] and mar["shielded"] == []
    assert "late fires again (exemption registry-1 no longer shields it)" in mar["changes"]
    assert "late now fires" not in mar["changes"]
    # (The outcome and strike count of run 3 are item 1's: not asserted here.)
    changes = [line for line in text.splitlines() if line.startswith("    changes: ")]
    assert any("late shielded by exemption registry-1" in line for line in changes)
    assert "no longer fires" not in text
    assert "    shielded: late by registry-1" in text


def test_a_customer_the_database_does_not_know_is_exit_2(cli: Cli) -> None:
    done = cli("history", "CUST-9999")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "Error: customer 'CUST-9999' is not in the database (no decisions, " \
                          "strikes or exemptions)\n"


# The decision of an exemption that shields earlier strikes lists them in
# `set_aside_strikes`; runs stored before that field existed have none.
STRIKE = {"rule": "late", "recorded_on": "2026-01-01", "expires_on": "2026-03-02"}


def test_a_strike_set_aside_by_an_exemption_says_so() -> None:
    aside = timeline.set_aside({"set_aside_strikes": [{**STRIKE, "exemption": "ref-2027"}]})
    gone = timeline.stopped(STRIKE, 3, "2026-02-01", aside, [{"superseded_by_run": None}])
    assert (gone["why"], gone["text"]) == ("set_aside",
                                           "late (2026-01-01) set aside by exemption ref-2027")


@pytest.mark.parametrize("decision", [{}, {"set_aside_strikes": None},
                                      {"set_aside_strikes": "[]"}])
def test_decisions_without_set_aside_strikes_set_nothing_aside(decision: dict) -> None:
    assert timeline.set_aside(decision) == {}


def test_a_rule_that_stops_firing_while_shielded_is_told_apart() -> None:
    before = {"fired": [], "shielded": [{"rule": "late", "by": "ref"}]}
    assert timeline.rule_changes(before, {"fired": [], "shielded": []}) == \
        ["late no longer fires (it was shielded by exemption ref)"]
    assert timeline.rule_changes({"fired": [], "shielded": []}, before) == \
        ["late fires, shielded by exemption ref"]
