"""Names typed by a person: comma-separated lists of them (an option such
as `--rules late,cost`), and customer ids checked against the ids the
database has decided.

A list option that names nothing ("", ",", " , ") is an error, never an
empty list: an empty list read as "no restriction" would widen what the
option does (an exemption of no rules shielding every rule)."""

from __future__ import annotations

import difflib
from typing import Any

from .compact import DECIDED
from .errors import InputError


def split_names(text: str, option: str, what: str = "name") -> list[str]:
    """The names in `text`, comma-separated, each stripped; empty items
    (",,", a trailing comma) are skipped; a name given twice is kept once.

    Raises InputError (exit 2) "OPTION names no WHAT" when no name is left."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise InputError(f"{option} names no {what} (got {text!r}; give "
                         f"{what}s separated by commas)")
    return names


# Characters people type for one another in ids: letter O and digit 0,
# letter I / l and digit 1.
_LOOKALIKE = str.maketrans({"o": "0", "i": "1", "l": "1"})


def _fold(customer_id: str) -> str:
    return customer_id.casefold().translate(_LOOKALIKE)


def decided_customer(db: Any, customer_id: str) -> tuple[bool, list[str]]:
    """Whether some run decided `customer_id` (exact id), and if not, the
    decided ids it may be a typo of: the same id but for case or the
    look-alikes O/0 and I/l/1, else (up to 20,000 decided ids) the closest
    by difflib. db: an open sqlite-utils Database (a new database has no
    decisions table: nothing decided)."""
    if not db["decisions"].exists():
        return False, []
    if db.execute(f"select 1 from {DECIDED} where customer_id = ? limit 1",
                  [customer_id]).fetchone():
        return True, []
    ids = [r[0] for r in db.execute(f"select distinct customer_id from {DECIDED}")]
    folded = _fold(customer_id)
    near = sorted(i for i in ids if _fold(i) == folded)
    if not near and len(ids) <= 20000:
        near = difflib.get_close_matches(customer_id, ids, n=3, cutoff=0.75)
    return False, near
