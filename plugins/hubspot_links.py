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
settles every link: each ticket carries its own, whole, list of companies
(HubSpot leaves out ``associations`` on a record that has none, so once
the tickets were saved with ``associations=companies`` a ticket without
them has no company). Otherwise the company's figures from that kind are
unknown, and a ticket that is in no list may belong to it: that is said,
not blamed on the ticket."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adieu.errors import InputError, Location

from .hubspot_pages import Page, blank, id_text

NONE, COMPLETE, CUT = "none", "complete", "cut"  # what a record says about one link kind


def associated(item: dict[str, Any], kind: str, page: Page, row: int) -> tuple[list[str], str]:
    """(ids, state) of the records of `kind` an item lists under
    associations.<kind> (or the singular, "ticket"): ids once each, in
    order; state NONE (no such list), CUT (the list has paging.next) or
    COMPLETE. InputError for a list that is not one, or a link without id."""
    assocs = item.get("associations")
    if not isinstance(assocs, dict):
        return [], NONE
    block = assocs.get(kind)
    if block is None:
        block = assocs.get(kind[:-1])
    state = COMPLETE
    if isinstance(block, dict):
        paging = block.get("paging")
        if isinstance(paging, dict) and paging.get("next"):
            state = CUT
        block = block.get("results")
    if block is None:
        return [], NONE
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


@dataclass
class Side:
    """What the dump says about one kind of related record (tickets or deals)."""

    owners: dict[str, list[str]] = field(default_factory=dict)  # record -> companies
    cut: dict[str, str] = field(default_factory=dict)  # company -> where its list is cut
    carried: bool = False  # some record of this kind carries associations.companies
    # Records that do not say all their companies themselves, by what they
    # say (NONE or CUT), and among them those linked to each cut company.
    unsure: Counter = field(default_factory=Counter)
    unsure_linked: dict[str, Counter] = field(default_factory=dict)


class Links:
    """Company <-> ticket/deal links of a dump. Pass 1 calls company() for
    every company; pass 2 calls record() for every live ticket and deal;
    then unknown() and may_belong() tell what cannot be known."""

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

    def record(self, kind: str, oid: str, item: dict[str, Any], page: Page,
               row: int) -> tuple[list[str], str]:
        """(companies linked from either side, what the record itself says)."""
        side = self.sides[kind]
        own, state = associated(item, "companies", page, row)
        if state != NONE:
            side.carried = True
        linked = list(side.owners.get(oid, ()))
        for cid in own:
            if cid not in linked:
                linked.append(cid)
        if state != COMPLETE and side.cut:
            side.unsure[state] += 1
            for cid in linked:
                if cid in side.cut:
                    side.unsure_linked.setdefault(cid, Counter())[state] += 1
        return linked, state

    def doubtful(self, kind: str, cid: str) -> int:
        """How many records of `kind` may belong to company `cid` without
        the dump saying so (0 unless its list is cut off)."""
        side = self.sides[kind]
        if cid not in side.cut:
            return 0
        linked = side.unsure_linked.get(cid, Counter())
        states = (CUT,) if side.carried else (CUT, NONE)
        return sum(side.unsure[s] - linked[s] for s in states)

    def unknown(self, kind: str, cid: str, noun: str) -> str | None:
        """Why company `cid`'s figures from `kind` are unknown, or None."""
        n = self.doubtful(kind, cid)
        if not n:
            return None
        side = self.sides[kind]
        how = f"{'one' if n == 1 else n} {noun if n == 1 else kind} of the dump "
        how += "does not" if n == 1 else "do not"
        return (f"its list of {kind} is cut off by paging ({side.cut[cid]}, paging.next) and "
                f"{how} say whether {'it belongs' if n == 1 else 'they belong'} to it "
                f"(no associations.companies of their own, or that list cut off too)")

    def cut_live(self, kind: str) -> list[str]:
        """Live companies whose list of `kind` is cut off, in dump order."""
        return [cid for cid in self.sides[kind].cut if cid in self.live]

    def may_belong(self, kind: str, state: str) -> list[str]:
        """For a record linked to no live company: the live companies with a
        cut-off list it may belong to (none when its own list settles it)."""
        side = self.sides[kind]
        if state == COMPLETE or (state == NONE and side.carried):
            return []
        return self.cut_live(kind)
