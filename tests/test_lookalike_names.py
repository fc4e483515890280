"""Look-alike identities (h13 finding K): owner ids and reviewer names or
ids that differ only by Unicode look-alikes (a U+2010 hyphen or U+2212
minus for '-', full-width letters, no-break and other spaces, zero-width
and other format characters, compatibility forms, digits of other
scripts) are one identity for the no-self-approval rule. Names and ids go
through one normalisation, names.fold; the command line and `adieu serve`
(reviewing.review) both refuse the owner."""

from __future__ import annotations

import csv
import shutil
import textwrap
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from adieu import reviewing
from adieu.cli import cli
from adieu.errors import InputError
from adieu.names import fold, name_keys, owner_id_key, same_name

POLICY = textwrap.dedent("""\
    version: 1
    name: lookalikes
    rules:
      - id: abuse
        title: Abuse of staff
        when: abuse_incidents_12m > 0
        action: offboard
    timing:
      contract_end_within_days: 0
      notice_days: 60
    """)

# (id on record, id the reviewer gives): one id each time.
SAME_IDS = [
    ("u-42", "u\u201042"),        # U+2010 HYPHEN
    ("u-42", "u\u221242"),        # U+2212 MINUS SIGN
    ("u-42", "u\u201342"),        # EN DASH
    ("u-42", "u\uff0d42"),        # FULLWIDTH HYPHEN-MINUS
    ("u-42", "u\ufe6342"),        # SMALL HYPHEN-MINUS
    ("u-42", "u-4\u0662"),        # ARABIC-INDIC DIGIT TWO
    ("u-42", "u-\u0664\u0662"),   # both digits Arabic-Indic
    ("u-42", "u-\uff14\uff12"),   # full-width digits
    ("u-42", "\uff55-42"),        # FULLWIDTH LATIN SMALL LETTER U
    ("u-42", "U-42"),
    ("u-42", " u-42\u00a0"),      # NO-BREAK SPACE, trimmed
    ("u-42", "u-\u200b42"),       # ZERO WIDTH SPACE
    ("u-42", "u-4\u20602"),       # WORD JOINER
    ("u-42", "u\u00ad-42"),       # SOFT HYPHEN
    ("u\u201042", "u-42"),        # the look-alike on record, the plain one typed
    ("u-\u0664\u0662", "U-42"),
    ("005Z9", "\uff10\uff10\uff15\uff3a\uff19"),  # all full-width
]
# (owner on record, name the reviewer types): one person each time.
SAME_NAMES = [
    ("Jean-Pierre Dupont", "Jean\u2010Pierre Dupont"),
    ("Jean-Pierre Dupont", "Jean\u2011Pierre Dupont"),  # NON-BREAKING HYPHEN
    ("Chloe Martin", "Chloe\u00a0Martin"),
    ("Chloe Martin", "Chloe\u2003Martin"),              # EM SPACE
    ("Chloe Martin", "Chloe\u3000Martin"),              # IDEOGRAPHIC SPACE
    ("Chloe Martin", "\uff23\uff48\uff4c\uff4f\uff45 \uff2d\uff41\uff52\uff54\uff49\uff4e"),
    ("Sofia Martin", "So\ufb01a Martin"),               # LATIN SMALL LIGATURE FI
    ("Chloe\u200bMartin", "Chloe Martin"),              # zero-width space in the source
    ("Chlo\u00ade Martin", "Chloe Martin"),             # soft hyphen in the source
    ("Chloe\u2060 Martin\u200d", "chloe martin"),
]
DIFFERENT_IDS = [("u-42", "u-43"), ("u-42", "u42x"), ("005Z9", "005Z8")]


def test_fold_is_the_one_normalisation() -> None:
    assert fold(" U\u2010\uff14\u0662\u200b\u00a0\u2003X ") == "u-42 x"
    assert fold("A\u2212B", case=False) == "A-B"
    for on_record, typed in SAME_IDS:
        assert owner_id_key(on_record) == owner_id_key(typed), (on_record, typed)
    for on_record, typed in DIFFERENT_IDS:
        assert owner_id_key(on_record) != owner_id_key(typed)
    for on_record, typed in SAME_NAMES:
        assert same_name(on_record, typed) and same_name(typed, on_record), (on_record, typed)
        if on_record.isprintable():  # a format character is removed, not a space
            assert name_keys(on_record) == name_keys(typed), (on_record, typed)


# -- one evaluated database with a customer per pair --------------------------

ID_ROWS = {f"I{i}": pair for i, pair in enumerate(SAME_IDS + DIFFERENT_IDS)}
NAME_ROWS = {f"N{i}": pair for i, pair in enumerate(SAME_NAMES)}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lookalikes")
    (folder / "policy.yaml").write_text(POLICY, encoding="utf-8")
    with open(folder / "c.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["customer_id", "abuse_incidents_12m", "owner", "owner_id"])
        for cid, (on_record, _) in ID_ROWS.items():
            out.writerow([cid, 1, "Olga Owner", on_record])
        for cid, (on_record, _) in NAME_ROWS.items():
            out.writerow([cid, 1, on_record, ""])
    db = folder / "db.sqlite"
    result = CliRunner().invoke(cli, ["evaluate", str(folder / "policy.yaml"), "--source",
                                      f"csv:{folder / 'c.csv'}", "--as-of", "2026-12-03",
                                      "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture()
def db(evaluated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "db.sqlite"
    shutil.copy(evaluated, copy)
    return copy


def _cli(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize("cid", [c for c, p in ID_ROWS.items() if p in SAME_IDS])
def test_a_lookalike_owner_id_is_refused_on_the_command_line(db: Path, cid: str) -> None:
    for verb in ("approve", "reject"):
        code, err = _cli(db, verb, cid, "--by", "Rita Reviewer", "--by-id", ID_ROWS[cid][1],
                         "--note", "x")
        assert code == 2 and "is the account owner of" in err, (ID_ROWS[cid], err)


@pytest.mark.parametrize("cid", [c for c, p in NAME_ROWS.items()])
def test_a_lookalike_owner_name_is_refused_on_the_command_line(db: Path, cid: str) -> None:
    code, err = _cli(db, "approve", cid, "--by", NAME_ROWS[cid][1])
    assert code == 2 and "is the account owner of" in err, (NAME_ROWS[cid], err)


def test_lookalikes_are_refused_by_the_review_serve_uses(db: Path) -> None:
    """reviewing.review is what `adieu serve` calls for the page's form."""
    store = sqlite_utils.Database(db)
    try:
        for cid, (_, typed) in ID_ROWS.items():
            if (ID_ROWS[cid]) in DIFFERENT_IDS:
                continue
            with pytest.raises(InputError, match="is the account owner of"):
                reviewing.review(store, cid, None, "approved", "Rita Reviewer", "x", typed)
        for cid, (_, typed) in NAME_ROWS.items():
            with pytest.raises(InputError, match="is the account owner of"):
                reviewing.review(store, cid, None, "approved", typed, "x", None,
                                 no_owner_on_record=False)
        # a different id is another person: the review is recorded
        cid = next(c for c, p in ID_ROWS.items() if p in DIFFERENT_IDS)
        row = reviewing.review(store, cid, None, "approved", "Rita Reviewer", "x",
                               ID_ROWS[cid][1])
        assert row["state"] == "approved" and row["reviewer_id_key"] == \
            owner_id_key(ID_ROWS[cid][1])
    finally:
        store.close()
