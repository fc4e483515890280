"""Which company each ticket and deal of a HubSpot dump belongs to.

A link may be saved on either side: in a company's
``associations.tickets`` (``deals``) or in a ticket's (deal's)
``associations.companies``; both are used, and a pair saved twice counts
once. Each list has the shape of HubSpot's CollectionResponseAssociatedId,
``{"results": [{"id": "12", "type": "company_to_ticket"}], "paging":
{"next": {"after": "...", "link": "..."}}}`` (v3), or ``{"toObjectId": 12,
"associationTypes": [...]}`` items (v4), or a bare list. A list with its
own ``paging.next`` is cut off: HubSpot lists only the first associations
of a record inline.

A company whose list is cut off is still complete when the other side
really settles every link, that is when all of these hold:

- every id the company's own (partial) list names is on the dump's pages
  of that kind (else those pages are not the whole other side);
- some record of that kind carries its own ``associations.companies``
  (the tickets were saved with ``associations=companies``; an empty or
  bare dump completes nothing);
- the two sides agree: each record a live company lists carries a list of
  its own that names the company, or one cut off too;
- no record may belong to the company without saying so: none whose own
  list is cut off and does not name it, and none without associations on
  a page where no record carries any (a page saved without
  ``associations=companies``). HubSpot leaves out ``associations`` on a
  record that has none, so on a page where other records carry theirs, a
  record without them has no company.

Otherwise the company's figures from that kind are unknown, and a record
that is in no list may belong to it: that is said, not blamed on the
record. Any company (cut off or not) whose list names a record that is not
on the pages has those figures unknown too: the record's dates, stages and
amounts are not in the dump."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adieu.errors import InputError, Location

from .hubspot_pages import Page, blank, id_text

# What a record says about one link kind: no list (NONE: on a page where
# other records carry theirs; BARE: on a page where none does), a whole
# list (COMPLETE) or one cut off by paging (CUT).
NONE, BARE, COMPLETE, CUT = "none", "bare", "complete", "cut"
SHOWN = 5  # ids named in one warning


def associated(item: dict[str, Any], kind: str, page: Page, row: int) -> tuple[list[str], str]:
    """(ids, state) of the records of `kind` an item lists under
    associations.<kind> (or the singular, "ticket"): ids once each, in
    order; state NONE (no such list), CUT (the list has paging.next) or
    COMPLETE. InputError for a list that is not one, or a link without id."""
    block = _block(item, kind)
    state = COMPLETE
    if isinstance(block, dict):
        paging = block.get("paging")
        if isinstance(paging, dict) and paging.get("next"):
            state = CUT
        block = block.get("results")
    if block is None:
        return [], NONE if state == COMPLETE else CUT
    if not isinstance(block, list):
        raise InputError(f"associations.{kind} is not a list of associations",
                         Location(page.file, page.line, page.column, row=row))
    out: list[str] = []
    for link in block:
        target = None
        if isinstance(link, dict):
            target = link.get("toObjectId", link.get("id"))
        elif isinstance(link, (str, int)):
            target = link
        if blank(target) or isinstance(target, (dict, list, bool)):
            raise InputError(f"an association in associations.{kind} has no id or toObjectId",
                             Location(page.file, page.line, page.column, row=row))
        text = id_text(target)
        if text not in out:
            out.append(text)
    return out, state


def _block(item: dict[str, Any], kind: str) -> Any:
    assocs = item.get("associations")
    if not isinstance(assocs, dict):
        return None
    block = assocs.get(kind)
    return assocs.get(kind[:-1]) if block is None else block


def page_carries(page: Page) -> bool:
    """Some record of a page carries associations.companies: the page was
    saved with associations=companies. (A malformed list is reported when
    its record is read.)"""
    for row, item in enumerate(page.results, 1):
        if isinstance(item, dict):
            try:
                if associated(item, "companies", page, row)[1] != NONE:
                    return True
            except InputError:
                return True
    return False


@dataclass
class Side:
    """What the dump says about one kind of related record (tickets or deals)."""

    owners: dict[str, list[str]] = field(default_factory=dict)  # record -> companies
    cut: dict[str, str] = field(default_factory=dict)  # company -> where its list is cut
    found: set[str] = field(default_factory=set)  # listed records that are on the pages
    carried: bool = False  # some record of this kind carries associations.companies
    conflict: str | None = None  # the first record whose own list disagrees with a company's
    # Records that do not say all their companies themselves, by what they
    # say (NONE, BARE or CUT), and among them those linked to each cut company.
    unsure: Counter = field(default_factory=Counter)
    unsure_linked: dict[str, Counter] = field(default_factory=dict)
    gone: dict[str, list[str]] | None = None  # company -> listed records not on the pages


class Links:
    """Company <-> ticket/deal links of a dump. Pass 1 calls company() for
    every company; pass 2 calls present() for every ticket and deal with an
    id (archived too) and record() for every live one; then unknown() and
    may_belong() tell what cannot be known."""

    def __init__(self) -> None:
        self.live: set[str] = set()
        self.archived: set[str] = set()
        self.sides = {"tickets": Side(), "deals": Side()}

    def company(self, cid: str, item: dict[str, Any], page: Page, row: int,
                is_archived: bool) -> None:
        (self.archived if is_archived else self.live).add(cid)
        for kind, side in self.sides.items():
            targets, state = associated(item, kind, page, row)
            if state == CUT:
                side.cut[cid] = f"{page.name} row {row}"
            for target in targets:
                owners = side.owners.setdefault(target, [])
                if cid not in owners:
                    owners.append(cid)

    def present(self, kind: str, oid: str) -> None:
        """A record of `kind` with this id is on the dump's pages."""
        side = self.sides[kind]
        if oid in side.owners:
            side.found.add(oid)

    def record(self, kind: str, oid: str, item: dict[str, Any], page: Page,
               row: int, carries: bool = True) -> tuple[list[str], str]:
        """(companies linked from either side, what the record itself says).
        carries: whether its page was saved with associations (page_carries)."""
        side = self.sides[kind]
        own, state = associated(item, "companies", page, row)
        if state == NONE and not carries:
            state = BARE
        if state in (COMPLETE, CUT):
            side.carried = True
        linked = list(side.owners.get(oid, ()))
        if side.conflict is None and state != CUT:
            unnamed = [c for c in linked if c in self.live and c not in own]
            if unnamed:
                says = "carries no associations.companies" if state in (NONE, BARE) \
                    else "its own associations.companies does not name it"
                side.conflict = f"{kind[:-1]} {oid} is listed by company {unnamed[0]}, but {says}"
        for cid in own:
            if cid not in linked:
                linked.append(cid)
        if state != COMPLETE and side.cut:
            side.unsure[state] += 1
            for cid in linked:
                if cid in side.cut:
                    side.unsure_linked.setdefault(cid, Counter())[state] += 1
        return linked, state

    def _doubtful_states(self, kind: str) -> tuple[str, ...]:
        """What records say that leaves it open whether they belong to a
        cut-off list: a cut-off list of their own, no associations on a page
        saved without them, and no associations at all when the dump's
        records carry none or the two sides disagree."""
        side = self.sides[kind]
        return (CUT, BARE, NONE) if side.conflict or not side.carried else (CUT, BARE)

    def doubtful(self, kind: str, cid: str) -> int:
        """How many records of `kind` may belong to company `cid` without
        the dump saying so (0 unless its list is cut off)."""
        side = self.sides[kind]
        if cid not in side.cut:
            return 0
        linked = side.unsure_linked.get(cid, Counter())
        return sum(side.unsure[s] - linked[s] for s in self._doubtful_states(kind))

    def gone(self, kind: str, cid: str) -> list[str]:
        """Records of `kind` the company lists that are not on the dump's pages."""
        side = self.sides[kind]
        if side.gone is None:
            side.gone = {}
            for oid, owners in side.owners.items():
                if oid not in side.found:
                    for owner in owners:
                        side.gone.setdefault(owner, []).append(oid)
        return side.gone.get(cid, [])

    def unknown(self, kind: str, cid: str, noun: str) -> str | None:
        """Why company `cid`'s figures from `kind` are unknown (and what to
        do about it), or None when they are known."""
        side = self.sides[kind]
        gone = self.gone(kind, cid)
        missing = ""
        if gone:
            ids = ", ".join(gone[:SHOWN]) + (", ..." if len(gone) > SHOWN else "")
            one = len(gone) == 1
            missing = f"{noun if one else kind} {ids}, which it names, " \
                      f"{'is' if one else 'are'} not in the dump's {kind} pages"
        if cid not in side.cut:
            if not gone:
                return None
            return f"its list of {kind} is whole, but {missing}; save the companies and " \
                   f"the {kind} again, one right after the other, to complete it"
        advice = f"; save the {kind} with associations=companies to complete it"
        head = f"its list of {kind} is cut off by paging ({side.cut[cid]}, paging.next) and "
        if gone:
            return head + missing + f", so they are not all its {kind}; save all the " \
                f"{kind}, with associations=companies, to complete it"
        n = self.doubtful(kind, cid)
        if n:
            how = f"{'one' if n == 1 else n} {noun if n == 1 else kind} of the dump "
            how += "does not" if n == 1 else "do not"
            return (head + f"{how} say whether {'it belongs' if n == 1 else 'they belong'} "
                    "to it (no associations.companies of their own, or that list cut off "
                    "too)" + advice)
        if side.conflict:
            return head + f"the {kind}' own lists disagree with the companies' " \
                          f"({side.conflict}), so they cannot complete it" + advice
        if not side.carried:
            return head + f"no {noun} of the dump carries associations.companies of its " \
                          "own to complete it" + advice
        return None

    def cut_live(self, kind: str) -> list[str]:
        """Live companies whose list of `kind` is cut off, in dump order."""
        return [cid for cid in self.sides[kind].cut if cid in self.live]

    def may_belong(self, kind: str, state: str) -> list[str]:
        """For a record linked to no live company: the live companies with a
        cut-off list it may belong to (none when its own list settles it)."""
        if state not in self._doubtful_states(kind):
            return []
        return self.cut_live(kind)
