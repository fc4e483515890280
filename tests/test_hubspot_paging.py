"""Association lists cut off by paging (HubSpot dumps).

In a CRM v3 list page, a company's ``associations.tickets`` (or ``deals``)
holds only its first associations and then its own ``paging.next`` (the
CollectionResponseAssociatedId shape of HubSpot's clients). adieu uses every
link the dump holds, from either side, once each; when nothing completes a
cut-off list, that company's figures from it are unknown (missing, not 0)
with a warning naming the company, and a record in no list that may belong
to it is a warning, not an orphan reject."""

from __future__ import annotations

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
    assert out["run"]["rejected_rows"] == 0 and out["rejects"] == []
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
