"""The owner check, by kind of fault:

- F3: the account owner is refused however she writes her name: suffixes
  and post-nominal letters (after a comma or not), a department or role
  after a comma or dash, titles anywhere, an e-mail address (beside the
  name or alone), look-alike letters of other scripts in either name,
  German transliteration (ü = ue, ß = ss) both ways, and a name whose
  words are all among the other's (double surnames, initials run
  together). Clearly different people stay different, both ways round.
- F22: an owner cell holding a placeholder ('N/A', '-', 'none', 'TBD' ...)
  is no owner on record.
- F10: two sources naming the same owner in two spellings are no conflict
  (the first spelling kept); where --prefer settles different owners, the
  overruled owner is kept (other_owners) and may not review either.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.names import name_keys, no_owner, owners_on_record, same_name

POLICY = textwrap.dedent("""\
    version: 1
    name: owners
    rules:
      - id: abuse
        title: Abuse of staff
        when: abuse_incidents_12m > 0
        action: offboard
    timing:
      contract_end_within_days: 0
      notice_days: 60
    """)

CYR_C, CYR_O, GREEK_O = "\u0421", "\u043e", "\u039f"

# (owner on record, what the reviewer typed): each pair is one person.
SAME = [
    # a digit typed into a word (second hostile round, h9b/f01)
    ("Chloe Martin", "Chloe Martin2"), ("Chloe Martin", "Chloe2 Martin"),
    # suffixes and post-nominal letters, after a comma or not
    ("Chloe Martin", "Chloe Martin, Jr."), ("Chloe Martin", "Chloe Martin Jr"),
    ("Chloe Martin", "Chloe Martin, PhD"), ("Chloe Martin", "Chloe Martin, Ph.D."),
    ("Chloe Martin", "Chloe Martin PhD"), ("Chloe Martin", "Chloe Martin, MBA, CPA"),
    ("Chloe Martin", "Chloe Martin III"), ("Chloe Martin", "Martin, Chloe, Jr."),
    ("Chloe Martin", "Chloe Martin, M.D."),
    # a department or role after a comma, a dash or a slash
    ("Chloe Martin", "Chloe Martin, Sales"), ("Chloe Martin", "Chloe Martin - Key Accounts"),
    ("Chloe Martin", "Chloe Martin / Finance"), ("Chloe Martin", "C. Martin, Sales"),
    ("Chloe Martin", "Chloe Martin, Head of Sales EMEA"),
    ("Chloe Martin, Sales", "C. Martin, Finance"),
    # titles anywhere
    ("Chloe Martin", "Chloe Martin Dr"), ("Chloe Martin", "Chloe Dr Martin"),
    ("Chloe Martin", "Prof. Chloe Martin"), ("Chloe Martin", "Chloe Martin, Dr."),
    ("Dr Chloe Martin", "Chloe Martin"),
    # e-mail addresses, beside the name or alone
    ("Chloe Martin", "Chloe Martin <chloe@x.com>"), ("Chloe Martin", "<chloe.martin@x.com>"),
    ("Chloe Martin", "chloe.martin@x.com"), ("Chloe Martin", "mailto:chloe.martin@x.com"),
    ("Chloe Martin", "chloe_martin@x.com"), ("Chloe Martin", "Martin, Chloe <c.martin@x.com>"),
    ("Chloe Martin", "Rita <chloe.martin@x.com>"),
    ("chloe.martin@example.com", "Chloe Martin"),
    # look-alike letters of other scripts, in either name
    ("Chloe Martin", f"{CYR_C}hloe Martin"), (f"{CYR_C}hloe Martin", "Chloe Martin"),
    ("Chloe Martin", f"Chl{CYR_O}e Martin"), ("Chloe Martin", f"CHL{GREEK_O}E MARTIN"),
    ("Chloe Martin", "ChIoe Martin"), ("Chloe Martin", "Chl0e Mart1n"),
    ("Chloe Martin", "Chloe Rnartin"), ("Chloe Martin", "Chl\u0585e Martin"),
    ("Chloe Martin", "\u13df\u13bbloe Martin"), (f"{CYR_C}hl{CYR_O}e Martin", "Chloe M\u0430rtin"),
    # German transliteration, both ways
    ("Jürgen Groß", "Juergen Gross"), ("Juergen Gross", "Jürgen Groß"),
    ("Jürgen Groß", "Jurgen Gross"), ("Jürgen Groß", "JUERGEN GROSS"),
    ("Hans Müller", "Hans Mueller"), ("Gerhard Schröder", "Gerhard Schroeder"),
    ("Käthe Bäcker", "Kaethe Baecker"), ("Łukasz Nowak", "Lukasz Nowak, Sales"),
    ("Søren Kierkegaard", "Dr Soeren Kierkegaard"), ("Åse Nilsen", "Aase Nilsen"),
    ("Chloe Martin", "MartinChloe"), ("Chloe Martin", "ChloeMartin"),
    # double surnames, middle names, initials run together
    ("Chloe Martin-Dupont", "Chloe Martin"), ("Chloe Martin-Dupont", "Chloe Dupont"),
    ("Chloe Martin", "Chloe Martin-Dupont"), ("Chloe Martin Dupont", "Chloe Martin-Dupont"),
    ("Jean-Pierre Dupont", "JP Dupont"), ("Jean-Pierre Dupont", "Jean Dupont"),
    ("Jean-Pierre Dupont", "Jeanpierre Dupont"), ("Ana María García López", "Ana García"),
]

# Clearly different people: never the same, either way round.
DIFFERENT = [
    ("Ann Lee", "Anna Leeds"), ("Ann Lee", "Ann Leeds"), ("Ann Lee", "Anna Lee"),
    ("Chloe Martin", "Claire Martin"), ("Chloe Martin", "Chloe Marchand"),
    ("Chloe Martin", "Rita Reviewer <rita@x.com>"), ("Chloe Martin", "chloe.dubois@x.com"),
    ("Chloe Martin", "Claire Dubois, Sales"), ("Jürgen Groß", "Jürgen Gruber"),
    ("Chloe Martin-Dupont", "Pierre Durand"), ("Chloe Martin", "Don Smith"),
    ("Jean-Pierre Dupont", "Jean-Paul Durand"), ("Hans Müller", "Hans Miller-Schmidt"),
]


@pytest.mark.parametrize(("owner", "typed"), SAME)
def test_each_spelling_is_the_same_person_both_ways(owner: str, typed: str) -> None:
    assert same_name(owner, typed), (owner, typed)
    assert same_name(typed, owner), (typed, owner)


@pytest.mark.parametrize(("owner", "typed"), DIFFERENT)
def test_different_people_stay_different_both_ways(owner: str, typed: str) -> None:
    assert not same_name(owner, typed), (owner, typed)
    assert not same_name(typed, owner), (typed, owner)


def test_stored_keys_leave_suffixes_departments_and_addresses_out() -> None:
    assert name_keys("Chloe Martin, Jr.") == ["chloe martin"]
    assert name_keys("Chloe Martin, Ph.D.") == ["chloe martin"]
    assert name_keys("Chloe Martin Dr") == ["chloe martin"]
    assert name_keys("Chloe Martin <chloe@x.com>") == ["chloe martin"]
    assert name_keys("<chloe.martin@x.com>") == ["chloe martin"]
    assert name_keys("Dr, PhD") == ["dr phd"]  # nothing else: kept


def test_a_long_name_is_compared_without_blowing_up() -> None:
    many = " ".join(["a"] * 40)
    assert not same_name(many + " zzz", many + " yyy")
    assert same_name("Chloe Martin", " ".join(["Sales"] * 30) + " Chloe Martin")


def adieu(db: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == code, (args, result.output)
    return result


def evaluate(tmp_path: Path, header: str, *rows: str, sources: int = 1,
             extra: tuple[str, ...] = ()) -> Path:
    """Run 1 over one CSV source (or several: rows are then one file
    each, all with `header`) proposing C1's offboarding."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    args = []
    for i, row in enumerate(rows if sources > 1 else ["\n".join(rows)]):
        csv = tmp_path / f"s{i}.csv"
        csv.write_text(f"{header}\n{row}\n", encoding="utf-8")
        args += ["--source", f"csv:{csv}"]
    db = tmp_path / "db.sqlite"
    adieu(db, "evaluate", str(policy), *args, *extra, "--as-of", "2026-12-03")
    return db


def case_row(db: Path) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute("select * from cases").fetchone())
    finally:
        conn.close()


@pytest.mark.parametrize(("owner", "typed"), [
    ("Chloe Martin", "Chloe Martin, PhD"), ("Chloe Martin", "Chloe Martin, Sales"),
    ("Chloe Martin", "Chloe Martin Dr"), ("Chloe Martin", "Chloe Martin <chloe@x.com>"),
    ("Chloe Martin", f"{CYR_C}hloe Martin"), (f"{CYR_C}hloe Martin", "Chloe Martin"),
    ("Chloe Martin-Dupont", "Chloe Martin"), ("Jürgen Groß", "Juergen Gross"),
    ("Jean-Pierre Dupont", "JP Dupont"), ("Chloe Martin", "Chloe Martin, Jr."),
])
def test_the_owner_is_refused_on_the_command_line(tmp_path: Path, owner: str,
                                                  typed: str) -> None:
    db = evaluate(tmp_path, "customer_id,abuse_incidents_12m,owner", f'C1,1,"{owner}"')
    for verb in ("approve", "reject"):
        refused = adieu(db, verb, "C1", "--by", typed, code=2)
        assert "is the account owner of C1 and may not review" in refused.stderr
    assert case_row(db)["state"] == "proposed"
    adieu(db, "approve", "C1", "--by", "Ann Lee")
    refused = adieu(db, "revoke", "C1", "--by", typed, "--reason", "mine", code=2)
    assert "is the account owner of C1" in refused.stderr


# -- F22: placeholders are no owner on record -------------------------------

PLACEHOLDER_CELLS = ["N/A", "n/a", "NA", "-", "--", "—", "?", "none", "None", "NULL",
                     "unassigned", "Unassigned", "not assigned", "TBD", "tbd", "TBA",
                     "unknown", "No owner", "#N/A", " n / a ", "(none)"]


@pytest.mark.parametrize("cell", [*PLACEHOLDER_CELLS, "", "   ", None])
def test_placeholders_name_nobody(cell: str | None) -> None:
    assert no_owner(cell)
    assert owners_on_record({"owner": cell}) == ([], [])


@pytest.mark.parametrize("cell", ["000000000000000AAA", "000000000000000", "0"])
def test_an_id_of_zeros_names_nobody(cell: str) -> None:
    assert no_owner(cell)
    assert owners_on_record({"owner_id": cell}) == ([], [])


@pytest.mark.parametrize("cell", ["Chloe Martin", "Na Li", "Nan Wu", "Tba Okafor",
                                  "0055g00000Own01AAA", "Open Sesame Ltd"])
def test_real_owners_are_owners(cell: str) -> None:
    assert not no_owner(cell)


@pytest.mark.parametrize("cell", ["N/A", "-", "none", "unassigned", "TBD"])
def test_a_placeholder_owner_needs_no_owner_on_record(tmp_path: Path, cell: str) -> None:
    db = evaluate(tmp_path, "customer_id,abuse_incidents_12m,owner,owner_id",
                  f"C1,1,{cell},{cell}")
    refused = adieu(db, "approve", "C1", "--by", "Anyone", code=2)
    assert "C1 has no account owner on record in run 1" in refused.stderr
    assert "owner: no owner on record" in adieu(db, "pending").stdout
    adieu(db, "approve", "C1", "--by", "Anyone", "--no-owner-on-record")
    row = case_row(db)
    assert (row["state"], row["owner"], row["owner_id"], row["no_owner_on_record"]) == \
        ("approved", None, None, 1)


# -- F10: owners of several sources ------------------------------------------

HEADER = "customer_id,abuse_incidents_12m,owner"


def facts_of(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        (facts,) = conn.execute("select facts from decisions where customer_id = 'C1'"
                                ).fetchone()
    finally:
        conn.close()
    return json.loads(facts)


@pytest.mark.parametrize("second", ["chloe  martin", "Martin, Chloe", "CHLOÉ MARTIN",
                                    "Chloe Martin, Sales"])
def test_one_owner_spelled_two_ways_is_no_conflict(tmp_path: Path, second: str) -> None:
    db = evaluate(tmp_path, HEADER, "C1,1,Chloe Martin", f'C1,1,"{second}"', sources=2)
    assert facts_of(db)["owner"] == "Chloe Martin"
    for typed in ("Chloe Martin", second):
        adieu(db, "approve", "C1", "--by", typed, code=2)


def test_a_placeholder_yields_to_the_owner_another_source_names(tmp_path: Path) -> None:
    db = evaluate(tmp_path, HEADER, "C1,1,N/A", "C1,1,Chloe Martin", sources=2)
    assert facts_of(db)["owner"] == "Chloe Martin"
    refused = adieu(db, "approve", "C1", "--by", "Chloe Martin", code=2)
    assert "is the account owner of C1" in refused.stderr


def test_different_owners_without_prefer_stay_a_conflict(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    (tmp_path / "a.csv").write_text(f"{HEADER}\nC1,1,Chloe Martin\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(f"{HEADER}\nC1,1,Bob Stone\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["facts", f"csv:{tmp_path / 'a.csv'}",
                                      f"csv:{tmp_path / 'b.csv'}"])
    assert "sources disagree on owner" in result.output


@pytest.mark.parametrize("preferred", [0, 1])
def test_the_owner_prefer_overrules_may_not_review_either(tmp_path: Path,
                                                          preferred: int) -> None:
    prefer = f"csv:{tmp_path / f's{preferred}.csv'}"
    db = evaluate(tmp_path, "customer_id,abuse_incidents_12m,owner,owner_id",
                  "C1,1,Chloe Martin,0055g00000Own01AAA", "C1,1,Bob Stone,0055g00000Bob01AAA",
                  sources=2, extra=("--prefer", prefer))
    facts = facts_of(db)
    kept, other = ("Chloe Martin", "Bob Stone")[::1 if preferred == 0 else -1]
    kept_id, other_id = ("0055g00000Own01AAA", "0055g00000Bob01AAA")[
        ::1 if preferred == 0 else -1]
    assert (facts["owner"], facts["other_owners"]) == (kept, other)
    assert (facts["owner_id"], facts["other_owner_ids"]) == (kept_id, other_id)
    for name, uid in ((kept, "0055g00000Rev01AAA"), (other, "0055g00000Rev01AAA"),
                      ("Rita Reviewer", kept_id), ("Rita Reviewer", other_id[:15])):
        refused = adieu(db, "approve", "C1", "--by", name, "--by-id", uid, code=2)
        assert "is the account owner of C1" in refused.stderr
    assert f"owner: {kept} / {other}" in adieu(db, "pending").stdout
    adieu(db, "approve", "C1", "--by", "Rita Reviewer", "--by-id", "0055g00000Rev01AAA")
    assert case_row(db)["owner"] == kept
