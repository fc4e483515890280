"""Association lists cut off by paging (HubSpot dumps).

In a CRM v3 list page, a company's ``associations.tickets`` (or ``deals``)
holds only its first associations and then its own ``paging.next`` (the
CollectionResponseAssociatedId shape of HubSpot's clients). adieu uses every
link the dump holds, from either side, once each; when nothing completes a
cut-off list, that company's figures from it are unknown (missing, not 0)
with a warning naming the company, and a record in no list that may belong
to it is a warning, not an orphan reject."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli

AS_OF = "2026-11-01"
PAGING = {"next": {"after": "MTAx", "link": "https://api.hubapi.com/crm/v3/objects/companies/"
                                            "101/associations/tickets?after=MTAx"}}

# What each kind is about: the association type names HubSpot gives, the
# figures that come from it, and one record's properties (counted in both).
KINDS = {
    "tickets": {"to": "company_to_ticket", "back": "ticket_to_company",
                "facts": ("tickets_12m", "open_tickets"),
                "props": {"createdate": "2026-06-01T09:00:00.000Z", "hs_pipeline": "0",
                          "hs_pipeline_stage": "1"}},
    "deals": {"to": "company_to_deal", "back": "deal_to_company",
              "facts": ("won_revenue_12m", "open_pipeline"),
              "props": {"dealstage": "closedwon", "closedate": "2026-06-01T09:00:00.000Z",
                        "amount": "1000", "pipeline": "default"}},
}
OTHER = {"tickets": "deals", "deals": "tickets"}
# Five records naming company 101; its own list shows three, then paging.next.
IDS = {"tickets": ["11", "12", "13", "14", "15"], "deals": ["21", "22", "23", "24", "25"]}
# Expected figures over all five (and over one).
FULL = {"tickets_12m": 5, "open_tickets": 5, "won_revenue_12m": 5000, "open_pipeline": 0}
ONE = {"tickets_12m": 1, "open_tickets": 1, "won_revenue_12m": 1000, "open_pipeline": 0}


def company(cid: str, associations: dict | None = None) -> dict:
    item = {"id": cid, "properties": {"name": f"Company {cid}", "hs_object_id": cid,
                                      "createdate": "2019-03-04T10:15:00.000Z"},
            "archived": False}
    if associations:
        item["associations"] = associations
    return item


def listing(ids: list[str], type_: str, cut: bool = False, v4: bool = False) -> dict:
    if v4:
        results = [{"toObjectId": int(i), "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 339, "label": None}]} for i in ids]
    else:
        results = [{"id": i, "type": type_} for i in ids]
    block: dict = {"results": results}
    if cut:
        block["paging"] = PAGING
    return block


def record(kind: str, rid: str, companies: dict | None) -> dict:
    item = {"id": rid, "properties": {**KINDS[kind]["props"], "hs_object_id": rid},
            "archived": False}
    if companies is not None:
        item["associations"] = {"companies": companies}
    return item


def write(folder: Path, kind: str, results: list[dict]) -> None:
    (folder / f"{kind}_0001.json").write_text(json.dumps({"results": results}, indent=1),
                                              encoding="utf-8")


def dump(tmp_path: Path, kind: str, *, carried: bool, cut_own: str | None = None,
         name: str = "dump") -> Path:
    """Company 101 lists three of its five records of `kind`, cut off by
    paging; company 102 lists its one record (16 / 26) in full. With
    carried, each record carries its own associations.companies (v3 and v4
    shapes); cut_own names a record whose own list is cut off too."""
    folder = tmp_path / name
    folder.mkdir()
    spec = KINDS[kind]
    ids = IDS[kind]
    extra = "16" if kind == "tickets" else "26"
    write(folder, "companies", [
        company("101", {kind: listing(ids[:3], spec["to"], cut=True)}),
        company("102", {kind: listing([extra], spec["to"])}),
    ])
    records = []
    for n, rid in enumerate(ids):
        own = None
        if carried:
            own = listing(["101"], spec["back"], cut=rid == cut_own, v4=n % 2 == 1)
        records.append(record(kind, rid, own))
    records.append(record(kind, extra, listing(["102"], spec["back"]) if carried else None))
    write(folder, kind, records)
    write(folder, OTHER[kind], [])
    return folder


def facts(runner: CliRunner, folder: Path):
    result = runner.invoke(cli, ["facts", f"hubspot:{folder}", "--json", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    return result, {row["customer_id"]: row for row in json.loads(result.stdout)}


def lines(result, prefix: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_cut_off_list_completed_by_the_records_own_associations(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    result, rows = facts(runner, dump(tmp_path, kind, carried=True))
    for fact in KINDS[kind]["facts"]:
        assert rows["101"][fact] == FULL[fact], (fact, rows["101"])
        assert rows["102"][fact] == ONE[fact]
        assert "completed by" in rows["101"]["_provenance"][fact]
    assert lines(result, "rejected:") == []
    assert lines(result, "warning:") == []


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_cut_off_list_not_completed_leaves_the_figures_unknown(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    folder = dump(tmp_path, kind, carried=False)
    result, rows = facts(runner, folder)
    for fact in KINDS[kind]["facts"]:
        assert fact not in rows["101"], (fact, rows["101"])  # unknown, not 0 and not 3
        assert rows["102"][fact] == ONE[fact]              # a whole list: known
    # Records in no list may belong to 101: said so, and not as rejects.
    assert lines(result, "rejected:") == []
    warnings = lines(result, "warning:")
    noun = kind[:-1]
    facts_named = " and ".join(KINDS[kind]["facts"])
    assert warnings[0] == (
        f"warning: {folder / 'companies_0001.json'}: row 1: company 101: {facts_named} "
        f"unknown: its list of {kind} is cut off by paging (companies_0001.json row 1, "
        f"paging.next) and 3 {kind} of the dump do not say whether they belong to it (no "
        f"associations.companies of their own, or that list cut off too); save the {kind} "
        "with associations=companies to complete it")
    for rid, line in zip(IDS[kind][3:], warnings[1:], strict=True):
        assert line.endswith(
            f"{noun} {rid} is in no company's list in the dump, but the list of company 101 "
            "is cut off by paging and it carries no associations.companies: it may belong to "
            "it, so it is counted nowhere")
        assert "associated with no company" not in line
    assert len(warnings) == 3
    table = runner.invoke(cli, ["facts", f"hubspot:{folder}", "--as-of", AS_OF])
    assert table.stderr.endswith("2 customers, 0 rows rejected, 3 warnings\n")


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_record_whose_own_list_is_cut_too_keeps_the_figures_unknown(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # Records 1-5 carry their companies, but the fifth's own list is cut off:
    # it lists 101, so it is counted, and nothing is in doubt.
    last = IDS[kind][4]
    _, rows = facts(runner, dump(tmp_path, kind, carried=True, cut_own=last))
    for fact in KINDS[kind]["facts"]:
        assert rows["101"][fact] == FULL[fact]
    # A record whose own cut-off list names another company may still
    # belong to 101 (its list shows three of five): unknown.
    folder = tmp_path / "dump"
    path = folder / f"{kind}_0001.json"
    page = json.loads(path.read_text(encoding="utf-8"))
    page["results"].append(record(kind, "99", listing(["777"], KINDS[kind]["back"], cut=True)))
    path.write_text(json.dumps(page), encoding="utf-8")
    result, rows = facts(runner, folder)
    for fact in KINDS[kind]["facts"]:
        assert fact not in rows["101"]
    assert lines(result, "rejected:") == []
    warnings = lines(result, "warning:")
    assert "company 101:" in warnings[0] and f"one {kind[:-1]} of the dump does not say " \
        "whether it belongs to it" in warnings[0]
    assert f"{kind[:-1]} 99 is in no company's list in the dump" in warnings[1]
    assert "its own list of companies is cut off too" in warnings[1]


def test_orphans_are_still_orphans_when_no_list_is_cut(runner: CliRunner,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    write(folder, "companies", [company("101", {"tickets": listing(["11"], "x")})])
    write(folder, "tickets", [record("tickets", "11", None), record("tickets", "12", None)])
    result, rows = facts(runner, folder)
    assert rows["101"]["tickets_12m"] == 1
    assert lines(result, "warning:") == []
    (reject,) = lines(result, "rejected:")
    assert reject.endswith("row 2: ticket 12 is associated with no company in the dump")


def test_evaluate_prints_warnings_and_does_not_count_them_as_rejects(
        runner: CliRunner, tmp_path: Path) -> None:
    folder = dump(tmp_path, "tickets", carried=False)
    db = tmp_path / "adieu.db"
    result = runner.invoke(cli, ["evaluate", "policies/default.yaml", "--source",
                                 f"hubspot:{folder}", "--as-of", AS_OF, "--db", str(db),
                                 "--strict", "--json", "--allow-missing-facts"])
    assert result.exit_code == 0, result.output  # warnings are no rejects, even --strict
    out = json.loads(result.stdout)
    assert out["run"]["rejected"] == 0 and out["rejects"] == []
    assert [w["customer_id"] for w in out["warnings"]] == ["101", None, None]
    assert "company 101: tickets_12m and open_tickets unknown" in out["warnings"][0]["message"]
    # the source's three, and the facts the dump has no column for (allowed)
    assert len(lines(result, "warning:")) == 4
    assert len([w for w in lines(result, "warning:") if "no column for" in w]) == 1
    assert lines(result, "rejected:") == []


def test_the_documented_warning_is_what_adieu_prints(runner: CliRunner, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    dump(Path("."), "tickets", carried=False, name="hubspot-dump")
    result = runner.invoke(cli, ["facts", "hubspot:hubspot-dump", "--as-of", AS_OF])
    first = lines(result, "warning:")[0]
    doc = (Path(__file__).parents[1] / "docs" / "sources.md").read_text(encoding="utf-8")
    assert f"  {first}\n" in doc


# --------------------------------------------------------------------------
# A cut-off list is completed only by an other side that can complete it:
# every id it names is on the pages, the records carry associations.companies
# of their own, and the two sides agree. Vacuous and partial dumps leave the
# figures unknown (missing, not 0) with a warning naming the company.
# --------------------------------------------------------------------------

def small_dump(tmp_path: Path, kind: str, company_list: dict, records: list[dict],
               *, pages: list[list[dict]] | None = None, name: str = "small") -> Path:
    """Company 101 with `company_list` as its associations.<kind>; `records`
    on one page of `kind` (or `pages`, one file each, all but the last with
    paging.next); the other kind empty."""
    folder = tmp_path / name
    folder.mkdir()
    write(folder, "companies", [company("101", {kind: company_list})])
    pages = pages or [records]
    for n, results in enumerate(pages, 1):
        page = {"results": results}
        if n < len(pages):
            page["paging"] = {"next": {"after": str(n * 100)}}
        (folder / f"{kind}_{n:04d}.json").write_text(json.dumps(page), encoding="utf-8")
    write(folder, OTHER[kind], [])
    return folder


def assert_unknown(result, rows: dict, kind: str, *why: str) -> str:
    """101's figures from `kind` are unknown, and the first warning says why."""
    for fact in KINDS[kind]["facts"]:
        assert fact not in rows["101"], (fact, rows["101"])
    warning = lines(result, "warning:")[0]
    assert f"company 101: {' and '.join(KINDS[kind]['facts'])} unknown: its list of {kind} " \
           "is cut off by paging (companies_0001.json row 1, paging.next)" in warning
    for text in why:
        assert text in warning, warning
    return warning


def back(kind: str, ids: list[str], **kw) -> dict:
    return listing(ids, KINDS[kind]["back"], **kw)


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_cut_off_list_is_not_completed_by_an_empty_other_side(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # The tester's dump: 101 lists 11 (then paging.next); tickets_0001.json is
    # {"results": []}. It used to give tickets_12m = 0, "completed".
    first = IDS[kind][0]
    folder = small_dump(tmp_path, kind, listing([first], KINDS[kind]["to"], cut=True), [])
    result, rows = facts(runner, folder)
    warning = assert_unknown(result, rows, kind, f"{kind[:-1]} {first}, which it names, is "
                             f"not in the dump's {kind} pages")
    assert "completed by" not in result.stdout
    assert warning.endswith(f"save all the {kind}, with associations=companies, to complete it")
    assert lines(result, "rejected:") == []


@pytest.mark.parametrize("v4", [False, True])
@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_listed_record_missing_from_the_pages_leaves_the_figures_unknown(
        runner: CliRunner, tmp_path: Path, kind: str, v4: bool) -> None:
    # 101 lists 11 and 12; 11 and 13 are on the pages, carrying their
    # companies; 12 is not: the pages are not the whole other side.
    a, b, c = IDS[kind][:3]
    folder = small_dump(tmp_path, kind, listing([a, b], KINDS[kind]["to"], cut=True, v4=v4),
                        [record(kind, a, back(kind, ["101"], v4=v4)),
                         record(kind, c, back(kind, ["101"], v4=v4))])
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"{kind[:-1]} {b}, which it names, is not in the "
                                       f"dump's {kind} pages")
    # With the missing record saved, the same dump is complete.
    path = folder / f"{kind}_0001.json"
    page = json.loads(path.read_text(encoding="utf-8"))
    page["results"].append(record(kind, b, back(kind, ["101"], v4=v4)))
    path.write_text(json.dumps(page), encoding="utf-8")
    result, rows = facts(runner, folder)
    fact = KINDS[kind]["facts"][0]
    assert rows["101"][fact] == 3 * ONE[fact]
    assert "completed by" in rows["101"]["_provenance"][fact]
    assert lines(result, "warning:") == []


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_records_that_carry_no_associations_complete_nothing(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # Every record on the pages is one 101 lists, but none carries its own
    # associations.companies: nothing says 101 has no others.
    ids = IDS[kind][:3]
    folder = small_dump(tmp_path, kind, listing(ids, KINDS[kind]["to"], cut=True),
                        [record(kind, rid, None) for rid in ids])
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"the {kind}' own lists disagree with the companies' "
                                       f"({kind[:-1]} {ids[0]} is listed by company 101, but "
                                       "carries no associations.companies)")


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_an_empty_cut_off_list_with_nothing_on_the_other_side(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    folder = small_dump(tmp_path, kind, listing([], KINDS[kind]["to"], cut=True), [])
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"no {kind[:-1]} of the dump carries "
                                       "associations.companies of its own")


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_listed_record_without_associations_among_records_with_them(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # Only some records carry associations: 12, which 101 lists, carries
    # none, so the records were not all saved with associations=companies
    # and 14 (no associations either) may belong to 101 as well.
    a, b, c, d = IDS[kind][:4]
    folder = small_dump(tmp_path, kind, listing([a, b], KINDS[kind]["to"], cut=True),
                        [record(kind, a, back(kind, ["101"])), record(kind, b, None),
                         record(kind, c, back(kind, ["101"], v4=True)), record(kind, d, None)])
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"one {kind[:-1]} of the dump does not say whether it "
                                       "belongs to it")
    assert lines(result, "rejected:") == []
    assert lines(result, "warning:")[1].endswith(
        f"{kind[:-1]} {d} is in no company's list in the dump, but the list of company 101 is "
        "cut off by paging and it carries no associations.companies: it may belong to it, so "
        "it is counted nowhere")
    # Without 14 nothing is in doubt, but the sides still disagree about 12.
    path = folder / f"{kind}_0001.json"
    page = json.loads(path.read_text(encoding="utf-8"))
    page["results"].pop()
    path.write_text(json.dumps(page), encoding="utf-8")
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"({kind[:-1]} {b} is listed by company 101, but "
                                       "carries no associations.companies)")


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_listed_record_whose_own_whole_list_leaves_the_company_out(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    a, b = IDS[kind][:2]
    folder = small_dump(tmp_path, kind, listing([a], KINDS[kind]["to"], cut=True, v4=True),
                        [record(kind, a, back(kind, ["777"], v4=True)),
                         record(kind, b, back(kind, ["101"]))])
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"({kind[:-1]} {a} is listed by company 101, but its "
                                       "own associations.companies does not name it)")


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_page_saved_without_associations_beside_pages_saved_with_them(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # Page 1 was saved with associations=companies, page 2 without: its
    # records may belong to 101 (warned), not orphans.
    a, b, c, d = IDS[kind][:4]
    folder = small_dump(tmp_path, kind, listing([a], KINDS[kind]["to"], cut=True), [], pages=[
        [record(kind, a, back(kind, ["101"])), record(kind, b, back(kind, ["101"]))],
        [record(kind, c, None), record(kind, d, None)]])
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"2 {kind} of the dump do not say whether they belong "
                                       "to it")
    assert lines(result, "rejected:") == []
    maybe = lines(result, "warning:")[1:]
    assert [w.split(f"_0002.json: row {n}: ")[1].split(" is in no")[0]
            for n, w in enumerate(maybe, 1)] == [f"{kind[:-1]} {c}", f"{kind[:-1]} {d}"]


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_true_orphan_on_a_page_saved_with_associations_does_not_undo_completion(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # HubSpot leaves out associations on a record that has none: on a page
    # whose other records carry theirs, such a record belongs to no company.
    a, b, c = IDS[kind][:3]
    folder = small_dump(tmp_path, kind, listing([a], KINDS[kind]["to"], cut=True, v4=True),
                        [record(kind, a, back(kind, ["101"], v4=True)),
                         record(kind, b, back(kind, ["101"])), record(kind, c, None)])
    result, rows = facts(runner, folder)
    for fact in KINDS[kind]["facts"]:
        assert rows["101"][fact] == 2 * ONE[fact]
        assert "completed by" in rows["101"]["_provenance"][fact]
    assert lines(result, "warning:") == []
    (reject,) = lines(result, "rejected:")
    assert reject.endswith(f"row 3: {kind[:-1]} {c} is associated with no company in the dump")


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_a_whole_list_naming_a_record_not_on_the_pages(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # Not cut off, but the record it names is not in the dump: its dates,
    # stages and amounts are unknown, so are the company's figures.
    a, b = IDS[kind][:2]
    folder = small_dump(tmp_path, kind, listing([a, b], KINDS[kind]["to"]),
                        [record(kind, a, None)])
    result, rows = facts(runner, folder)
    for fact in KINDS[kind]["facts"]:
        assert fact not in rows["101"]
    (warning,) = lines(result, "warning:")
    assert warning.endswith(
        f"company 101: {' and '.join(KINDS[kind]['facts'])} unknown: its list of {kind} is "
        f"whole, but {kind[:-1]} {b}, which it names, is not in the dump's {kind} pages; save "
        f"the companies and the {kind} again, one right after the other, to complete it")


def test_ids_written_as_json_numbers_with_a_fraction_match(runner: CliRunner,
                                                          tmp_path: Path) -> None:
    # A v4 link {"toObjectId": 11.0} names ticket "11" (JSON numbers with a
    # fraction are read as exact decimals).
    folder = tmp_path / "dump"
    folder.mkdir()
    (folder / "companies_0001.json").write_text(
        '{"results": [{"id": "101", "properties": {"hs_object_id": "101"}, "associations": '
        '{"tickets": {"results": [{"toObjectId": 11.0}], "paging": {"next": {"after": "x"}}}}}]}',
        encoding="utf-8")
    write(folder, "tickets", [record("tickets", "11", {"results": [{"toObjectId": 101.0}]})])
    result, rows = facts(runner, folder)
    assert rows["101"]["tickets_12m"] == 1
    assert lines(result, "warning:") == [] and lines(result, "rejected:") == []


POLICY = """\
version: 1
name: tickets
on_missing: watch
rules:
  - id: busy
    title: Many tickets
    when: tickets_12m >= 1
    action: offboard
"""


def test_evaluate_treats_the_unknown_figure_as_missing_not_zero(runner: CliRunner,
                                                               tmp_path: Path) -> None:
    # The tester's policy on the tester's dump: tickets_12m is unknown for
    # every company, so the rule is unknown (not "0 >= 1 is false"), and the
    # dump still has the column: no "no column for fact" error.
    folder = small_dump(tmp_path, "tickets", listing(["11"], "company_to_ticket", cut=True), [])
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    result = runner.invoke(cli, ["evaluate", str(policy), "--source", f"hubspot:{folder}",
                                 "--as-of", AS_OF, "--db", str(tmp_path / "a.db"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    (decision,) = out["decisions"]
    assert decision["missing"] == ["tickets_12m"]
    assert [u["rule"] for u in decision["unknown"]] == ["busy"]
    assert decision["outcome"] == "watch"  # the policy's on_missing, not keep
    assert "company 101: tickets_12m and open_tickets unknown" in out["warnings"][0]["message"]


@pytest.mark.parametrize("kind", ["tickets", "deals"])
def test_an_own_list_cut_off_before_its_first_result_is_cut_off(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # {"paging": {"next": ...}} without "results": a cut-off list that shows
    # nothing yet; the record may belong to 101, so 101's figures are unknown.
    a, b = IDS[kind][:2]
    folder = small_dump(tmp_path, kind, listing([a], KINDS[kind]["to"], cut=True),
                        [record(kind, a, back(kind, ["101"])),
                         record(kind, b, {"paging": PAGING})])
    result, rows = facts(runner, folder)
    assert_unknown(result, rows, kind, f"one {kind[:-1]} of the dump does not say whether it "
                                       "belongs to it")
    assert lines(result, "rejected:") == []
    assert "its own list of companies is cut off too" in lines(result, "warning:")[1]


# --------------------------------------------------------------------------
# List pages: the last page of each kind ends the dump (no paging.next).
# Pages are taken in file order (running numbers as numbers), then in array
# or line order within a file.
# --------------------------------------------------------------------------

NEXT = {"next": {"after": "200", "link": "https://api.hubapi.com/crm/v3/objects/x?after=200"}}


def list_page(results: list[dict], more: bool) -> dict:
    return {"results": results, **({"paging": NEXT} if more else {})}


def kind_records(kind: str, ids: list[str]) -> list[dict]:
    if kind == "companies":
        return [company(i) for i in ids]
    back = KINDS[kind]["back"]
    return [record(kind, i, listing(["101"], back)) for i in ids]


def paged_dump(tmp_path: Path, kind: str, files: dict[str, list[tuple[list[str], bool]]],
               layout: str = "files") -> Path:
    """A dump whose `kind` pages are the given files (name -> pages, each
    page (ids, has paging.next)); the other kinds are one whole page each.
    layout "array" writes a file's pages as a JSON array (page n on line
    n + 1), "lines" as JSON Lines (page n on line n), "files" one page per
    file."""
    folder = tmp_path / "dump"
    folder.mkdir()
    others = {"companies": [company("101")], "tickets": [], "deals": []}
    for other, results in others.items():
        if other != kind:
            write(folder, other, results)
    for name, pages_ in files.items():
        written = [list_page(kind_records(kind, ids), more) for ids, more in pages_]
        if layout == "lines":
            text = "\n".join(json.dumps(p) for p in written) + "\n"
        elif layout == "array" or len(written) > 1:
            text = "[\n" + ",\n".join(json.dumps(p) for p in written) + "\n]\n"
        else:
            text = json.dumps(written[0], indent=1)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def run_facts(runner: CliRunner, folder: Path):
    return runner.invoke(cli, ["facts", f"hubspot:{folder}", "--json", "--as-of", AS_OF])


@pytest.mark.parametrize("kind", ["companies", "tickets", "deals"])
def test_a_last_page_with_paging_next_is_incomplete_even_after_an_end_page(
        runner: CliRunner, tmp_path: Path, kind: str) -> None:
    # The first page has no paging.next, the last still has one: the pages
    # after the last were never saved (tickets_12m = 2 was accepted before).
    ids = ["101"] if kind == "companies" else ["11"]
    more = ["102"] if kind == "companies" else ["12"]
    folder = paged_dump(tmp_path, kind, {f"{kind}_0001.json": [(ids, False)],
                                         f"{kind}_0002.json": [(more, True)]})
    result = run_facts(runner, folder)
    assert result.exit_code == 2, result.output
    (error,) = lines(result, "Error:")
    assert error.startswith(f"Error: {folder / f'{kind}_0002.json'}:1:1: the {kind} dump is "
                            "incomplete: its last page has paging.next")


@pytest.mark.parametrize("layout", ["array", "lines"])
@pytest.mark.parametrize("kind", ["companies", "tickets", "deals"])
def test_the_last_page_of_one_file_holding_many_pages_is_checked(
        runner: CliRunner, tmp_path: Path, kind: str, layout: str) -> None:
    ids = ["101"] if kind == "companies" else ["11"]
    more = ["102"] if kind == "companies" else ["12"]
    folder = paged_dump(tmp_path, kind, {f"{kind}.json": [(ids, False), (more, True)]},
                        layout)
    result = run_facts(runner, folder)
    assert result.exit_code == 2, result.output
    (error,) = lines(result, "Error:")
    line = 3 if layout == "array" else 2  # where the last page starts
    assert error.startswith(f"Error: {folder / f'{kind}.json'}:{line}:1: the {kind} dump is "
                            "incomplete: its last page has paging.next")


def test_a_single_companies_file_as_the_location_is_checked(runner: CliRunner,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "companies.jsonl"
    path.write_text(json.dumps(list_page([company("101")], False)) + "\n"
                    + json.dumps(list_page([company("102")], True)) + "\n", encoding="utf-8")
    result = run_facts(runner, path)
    assert result.exit_code == 2
    assert f"Error: {path}:2:1: the companies dump is incomplete" in result.stderr


def test_pages_are_ordered_by_their_running_number(runner: CliRunner, tmp_path: Path) -> None:
    # tickets_1 .. tickets_10: by plain name order tickets_10 would come
    # before tickets_2, and tickets_9 (with paging.next) would be last.
    files = {f"tickets_{n}.json": [([str(10 + n)], n < 10)] for n in range(1, 11)}
    result = run_facts(runner, paged_dump(tmp_path, "tickets", files))
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["tickets_12m"] == 10
    assert lines(result, "warning:") == []
    assert row["_provenance"]["tickets_12m"].startswith("tickets_1.json: 1 ticket")


@pytest.mark.parametrize("layout", ["files", "array"])
def test_two_end_pages_are_a_warning_naming_both(runner: CliRunner, tmp_path: Path,
                                                 layout: str) -> None:
    if layout == "files":
        files = {"tickets_0001.json": [(["11"], False)], "tickets_0002.json": [(["12"], False)]}
        first, last = "tickets_0001.json", "tickets_0002.json"
    else:
        files = {"tickets.json": [(["11"], False), (["12"], False)]}
        first = last = "tickets.json"
    folder = paged_dump(tmp_path, "tickets", files, layout)
    result = run_facts(runner, folder)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["tickets_12m"] == 2  # every page read
    (warning,) = lines(result, "warning:")
    assert warning.startswith(f"warning: {folder / first}:")
    assert "this tickets page has no paging.next, so it should be the last, yet more pages " \
        f"follow up to {folder / last}" in warning
    assert "two dumps mixed, or a page saved out of order" in warning


def test_a_missing_running_number_is_a_warning(runner: CliRunner, tmp_path: Path) -> None:
    # tickets_0001 says there is a next page; tickets_0002 is not there.
    folder = paged_dump(tmp_path, "tickets", {"tickets_0001.json": [(["11"], True)],
                                              "tickets_0003.json": [(["13"], False)]})
    result = run_facts(runner, folder)
    assert result.exit_code == 0, result.output
    (warning,) = lines(result, "warning:")
    assert warning == (f"warning: {folder / 'tickets_0003.json'}: the tickets files are "
                       "numbered, but there is no tickets_0002 before this one: a page may be "
                       "missing, and its tickets would count nowhere (save the tickets again)")


@pytest.mark.parametrize("names, missing", [
    (["deals_0002.json", "deals_0003.json"], "deals_0001"),        # the first page
    (["deals_1.json", "deals_2.json", "deals_4.json.gz"], "deals_3"),
    (["deals-0.json", "deals-2.json"], "deals-1"),                 # counted from 0
])
def test_missing_running_numbers_are_named(runner: CliRunner, tmp_path: Path,
                                           names: list[str], missing: str) -> None:
    files = {n: [([str(20 + i)], i < len(names) - 1)] for i, n in enumerate(names)}
    folder = paged_dump(tmp_path, "deals", {n.removesuffix(".gz"): p for n, p in files.items()})
    for name in names:
        if name.endswith(".gz"):
            plain_ = folder / name.removesuffix(".gz")
            (folder / name).write_bytes(gzip.compress(plain_.read_bytes()))
            plain_.unlink()
    result = run_facts(runner, folder)
    assert result.exit_code == 0, result.output
    (warning,) = lines(result, "warning:")
    assert f"the deals files are numbered, but there is no {missing} before this one" in warning


@pytest.mark.parametrize("names", [
    ["deals_0001.json", "deals_0002.json"],
    ["deals_0.json", "deals_100.json", "deals_200.json"],   # offsets, not page numbers
    ["deals_20260301.json"],                                # a date
    ["deals.json", "deals_0003.json"],                      # not all numbered
])
def test_no_numbering_warning_without_a_gap_in_a_running_number(
        runner: CliRunner, tmp_path: Path, names: list[str]) -> None:
    files = {n: [([str(20 + i)], i < len(names) - 1)] for i, n in enumerate(names)}
    result = run_facts(runner, paged_dump(tmp_path, "deals", files))
    assert result.exit_code == 0, result.output
    assert lines(result, "warning:") == []


def test_the_documented_paging_checks_are_what_adieu_prints(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    doc = (Path(__file__).parents[1] / "docs" / "sources.md").read_text(encoding="utf-8")
    cases = {
        "Error:": {"tickets_0001.json": [(["11"], False)], "tickets_0002.json": [(["12"], True)]},
        "warning: hubspot-dump/tickets_0001.json": {"tickets_0001.json": [(["11"], False)],
                                                    "tickets_0002.json": [(["12"], False)]},
        "warning: hubspot-dump/tickets_0003.json": {"tickets_0001.json": [(["11"], True)],
                                                    "tickets_0003.json": [(["13"], False)]},
    }
    for n, (prefix, files) in enumerate(cases.items()):
        Path(f"case{n}").mkdir()
        folder = paged_dump(Path(f"case{n}"), "tickets", files)
        result = runner.invoke(cli, ["facts", f"hubspot:{folder}", "--as-of", AS_OF])
        (line,) = [x for x in result.stderr.splitlines() if x.startswith(prefix.split()[0])]
        line = line.replace(f"case{n}/dump", "hubspot-dump")
        assert line.startswith(prefix)
        assert f"  {line}\n" in doc, line


@pytest.mark.parametrize("next_, complete", [
    ({"after": ""}, True), ({"after": None}, True), ({}, True), (None, True),
    ({"after": "0"}, False), ({"after": 200}, False), ({"link": "https://x"}, False),
])
def test_a_last_page_leads_on_only_with_an_after(runner: CliRunner, tmp_path: Path,
                                                 next_, complete: bool) -> None:
    # The paging script stops when paging.next.after is empty: that page ends it.
    folder = paged_dump(tmp_path, "deals", {"deals_0001.json": [(["21"], True)],
                                            "deals_0002.json": [(["22"], False)]})
    path = folder / "deals_0002.json"
    last = json.loads(path.read_text(encoding="utf-8"))
    last["paging"] = {"next": next_}
    path.write_text(json.dumps(last), encoding="utf-8")
    result = run_facts(runner, folder)
    assert result.exit_code == (0 if complete else 2), result.output
    assert ("the deals dump is incomplete" in result.stderr) is not complete
