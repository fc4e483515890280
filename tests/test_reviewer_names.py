"""The independent-reviewer check cannot be bypassed: the account owner is
refused under any spelling of the name (spaces of every kind, case,
accents, compatibility forms, invisible characters, "Last, First", word
order, titles, initials, middle names, an e-mail address) for approve,
reject and revoke alike; an owner id from the source is compared with
--by-id; where no owner is on record the review needs --no-owner-on-record,
which is recorded; what the reviewer typed is stored verbatim and as
compared."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.mapping import load_mapping
from adieu.policy import canonical_facts
from adieu.reviewing import owner_id_key
from adieu.safe_text import name_keys, same_name

ROOT = Path(__file__).resolve().parents[1]
POLICY = textwrap.dedent("""\
    version: 1
    name: reviewers
    rules:
      - id: abuse
        title: Abuse of staff
        when: abuse_incidents_12m > 0
        action: offboard
    timing:
      contract_end_within_days: 0
      notice_days: 60
    """)
OWNER = "Chloe Martin"

# Ways the owner might type her own name. Each is her.
BYPASSES = [
    "Chloe  Martin", "Chloe\u00a0Martin", "Chloe\tMartin", "chloé martin", "Martin, Chloe",
    "MARTIN Chloe", "Martin Chloe", "CHLOE MARTIN", "Chloé Martín", "Chloë Martin",
    "\uff23\uff48\uff4c\uff4f\uff45 \uff2d\uff41\uff52\uff54\uff49\uff4e",  # full-width
    "Chloe\u2003Martin", "Chloe\u3000Martin", "Martin,Chloe", " Chloe Martin ",
    "Chloe-Martin", "chloe.martin", "chloe.martin@example.com", "Dr. Chloe Martin",
    "Mme Chloé MARTIN", "Chloe Martin (Sales)", "Chloe Marie Martin", "C. Martin",
    "Martin", "Chloe",
]
# Other people: each may review.
OTHERS = ["Claire Dubois", "Rita Reviewer", "Marie Curie", "Ben Okoye"]


def adieu(db: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == code, (args, result.output)
    return result


def evaluate(tmp_path: Path, columns: dict[str, str], name: str = "db") -> Path:
    """A database whose run 1 proposes C1's offboarding, C1 having the
    given extra columns (owner, owner_id)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    header = ",".join(["customer_id", "abuse_incidents_12m", *columns])
    csv = tmp_path / f"{name}.csv"
    csv.write_text(f"{header}\nC1,1{''.join(',' + v for v in columns.values())}\n",
                   encoding="utf-8")
    db = tmp_path / f"{name}.sqlite"
    adieu(db, "evaluate", str(policy), "--source", f"csv:{csv}", "--as-of", "2026-12-03")
    return db


def case_row(db: Path) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute("select * from cases").fetchone())
    finally:
        conn.close()


@pytest.mark.parametrize("typed", BYPASSES)
def test_each_spelling_of_the_owner_is_the_owner(typed: str) -> None:
    assert same_name(OWNER, typed) and same_name(typed, OWNER), typed
    assert same_name(f"{'Martin'}, {'Chloé'}", typed), typed


@pytest.mark.parametrize("other", OTHERS)
def test_other_people_are_not_the_owner(other: str) -> None:
    assert not same_name(OWNER, other)


def test_keys_fold_what_does_not_tell_people_apart() -> None:
    assert name_keys("Martin,\u00a0 CHLOÉ") == ["chloe martin"]
    assert name_keys("Dr Chloe Martin PhD") == ["chloe martin"]
    assert name_keys("Chlo\u200be Martin (Key Accounts)") == ["chloe martin"]
    assert name_keys("chloe.martin@example.com") == ["chloe martin"]


@pytest.fixture(scope="module")
def owned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return evaluate(tmp_path_factory.mktemp("owned"), {"owner": OWNER})


@pytest.mark.parametrize("verb", ["approve", "reject"])
@pytest.mark.parametrize("typed", BYPASSES)
def test_the_owner_may_not_approve_or_reject(owned: Path, verb: str, typed: str) -> None:
    refused = adieu(owned, verb, "C1", "--by", typed, code=2)
    assert refused.stderr.endswith("is the account owner of C1 and may not review its "
                                   "offboarding; an independent reviewer must approve or "
                                   "reject it\n")
    assert case_row(owned)["state"] == "proposed"


def test_the_owner_may_not_revoke(tmp_path: Path) -> None:
    db = evaluate(tmp_path, {"owner": OWNER})
    adieu(db, "approve", "C1", "--by", "Rita Reviewer")
    for typed in ("Martin, Chloé", "Chloe\u00a0Martin", "C. Martin"):
        refused = adieu(db, "revoke", "C1", "--by", typed, "--reason", "mine", code=2)
        assert "is the account owner of C1" in refused.stderr
    assert case_row(db)["state"] == "approved"
    adieu(db, "revoke", "C1", "--by", "Ben Okoye", "--reason", "paid")
    assert case_row(db)["state"] == "proposed"


def test_what_the_reviewer_typed_is_stored_verbatim_and_normalised(tmp_path: Path) -> None:
    db = evaluate(tmp_path, {"owner": OWNER})
    typed = "  Okoye,\u00a0BEN "
    adieu(db, "approve", "C1", "--by", typed, "--by-id", " 0055g00000Rev01 ")
    row = case_row(db)
    assert (row["reviewer"], row["reviewer_key"]) == (typed, "ben okoye")
    assert (row["reviewer_id"], row["reviewer_id_key"]) == (" 0055g00000Rev01 ",
                                                            "0055g00000rev01")
    assert (row["owner"], row["owner_id"], row["no_owner_on_record"]) == (OWNER, None, 0)
    conn = sqlite3.connect(db)
    try:
        (payload,) = conn.execute("select payload from audit where kind = 'case' and "
                                  "payload like '%\"event\":\"approved\"%'").fetchone()
    finally:
        conn.close()
    assert json.loads(payload)["case"]["reviewer"] == typed
    assert json.loads(payload)["case"]["reviewer_key"] == "ben okoye"


# -- owner ids ----------------------------------------------------------------

SF_OWNER = "0055g00000Own01AAA"  # an 18-character Salesforce User id


@pytest.fixture(scope="module")
def by_id(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run 1 proposes C1, whose owner is on record by id only (as in a
    Salesforce Data Export: Account.OwnerId)."""
    return evaluate(tmp_path_factory.mktemp("by-id"), {"owner_id": SF_OWNER})


def test_an_owner_id_on_record_needs_by_id(by_id: Path) -> None:
    refused = adieu(by_id, "approve", "C1", "--by", "Rita Reviewer", code=2)
    assert refused.stderr == (f"Error: C1's account owner is on record by id ({SF_OWNER}); "
                              "give your own user id of that system with --by-id\n")


@pytest.mark.parametrize("verb", ["approve", "reject"])
@pytest.mark.parametrize("typed_id", [SF_OWNER, SF_OWNER[:15], f" {SF_OWNER.lower()} ",
                                      SF_OWNER.replace("0", "\uff10"),  # full-width zeros
                                      f"{SF_OWNER[:9]} {SF_OWNER[9:]}"])
def test_the_owner_id_is_refused(by_id: Path, verb: str, typed_id: str) -> None:
    refused = adieu(by_id, verb, "C1", "--by", "Somebody Else", "--by-id", typed_id, code=2)
    assert "is the account owner of C1 and may not review its offboarding" in refused.stderr
    assert case_row(by_id)["state"] == "proposed"


def test_another_id_may_review_and_is_recorded(tmp_path: Path) -> None:
    db = evaluate(tmp_path, {"owner_id": SF_OWNER})
    adieu(db, "approve", "C1", "--by", "Rita Reviewer", "--by-id", "0055g00000Rev01AAA")
    row = case_row(db)
    assert (row["state"], row["owner_id"], row["reviewer_id"], row["reviewer_id_key"]) == \
        ("approved", SF_OWNER, "0055g00000Rev01AAA", "0055g00000rev01")
    # Revoking is checked the same way.
    refused = adieu(db, "revoke", "C1", "--by", "Anyone", "--by-id", SF_OWNER[:15],
                    "--reason", "r", code=2)
    assert "is the account owner of C1" in refused.stderr


def test_owner_id_keys() -> None:
    assert owner_id_key("0055g00000Own01AAA") == owner_id_key("0055g00000Own01") == \
        "0055g00000own01"
    assert owner_id_key(" 9001 ") == owner_id_key("\uff19\uff10\uff10\uff11") == "9001"


def test_owner_id_is_a_canonical_fact_of_the_crm_mappings() -> None:
    assert canonical_facts()["owner_id"] == "string"
    facts = canonical_facts()
    salesforce = load_mapping(str(ROOT / "plugins/mappings/salesforce.yaml"), facts)
    hubspot = load_mapping(str(ROOT / "plugins/mappings/hubspot.yaml"), facts)
    assert salesforce.fields["OwnerId"].fact == "owner_id"
    assert hubspot.fields["hubspot_owner_id"].fact == "owner_id"
    assert hubspot.fields["Company owner"].fact == "owner"


# -- no owner on record -------------------------------------------------------

@pytest.mark.parametrize("columns", [{}, {"owner": ""}, {"owner": "  ", "owner_id": ""}])
def test_no_owner_on_record_needs_the_flag(tmp_path: Path, columns: dict) -> None:
    db = evaluate(tmp_path, columns)
    for verb in ("approve", "reject"):
        refused = adieu(db, verb, "C1", "--by", "Rita Reviewer", code=2)
        assert refused.stderr == (
            "Error: C1 has no account owner on record in run 1, so the reviewer cannot be "
            "checked against one; pass --no-owner-on-record to review it anyway (recorded "
            "in the audit trail)\n")
    adieu(db, "approve", "C1", "--by", "Rita Reviewer", "--no-owner-on-record")
    row = case_row(db)
    assert (row["state"], row["no_owner_on_record"], row["owner"]) == ("approved", 1, None)
    conn = sqlite3.connect(db)
    try:
        payloads = [json.loads(p) for (p,) in conn.execute(
            "select payload from audit where kind = 'case' order by seq")]
    finally:
        conn.close()
    assert [(p["event"], p["case"]["no_owner_on_record"]) for p in payloads] == \
        [("opened", None), ("approved", 1)]
    # Revoking needs it too, and records it.
    refused = adieu(db, "revoke", "C1", "--by", "Ben Okoye", "--reason", "r", code=2)
    assert "pass --no-owner-on-record" in refused.stderr
    adieu(db, "revoke", "C1", "--by", "Ben Okoye", "--reason", "r", "--no-owner-on-record")


def test_the_flag_is_refused_when_an_owner_is_on_record(owned: Path) -> None:
    refused = adieu(owned, "approve", "C1", "--by", "Rita Reviewer", "--no-owner-on-record",
                    code=2)
    assert refused.stderr == ("Error: C1 has an account owner on record (Chloe Martin); "
                              "--no-owner-on-record is only for customers without one\n")
