"""Streaming intake: stream_records yields what read_records gathers, in
source order, and reads a source a second time with the same answers; the
duplicate index (IdIndex) finds exactly the duplicates a dict finds; the
coercion plan gives the same facts and problems as the reference Coercer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import CSV_HEADER, CSV_ROWS
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hubspot import COMPANY_PAGES, DEAL_PAGES, EXPORT, TICKET_PAGES, write_pages
from test_salesforce import export_files, write_zip

from adieu import decimals, resources
from adieu.coerceplan import Planner
from adieu.decimals import to_number
from adieu.facts import Coercer, Record, fact_minimums
from adieu.idindex import IdIndex
from adieu.intake import Intake, Notice, Reject, StreamState, read_records, stream_records
from adieu.mapping import IDENTITY, load_mapping
from adieu.policy import canonical_facts, load_policy
from adieu.run import open_source
from adieu.safe_text import normalise_id

REPO = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)

# A CSV with every kind of reject: bad numbers, bad dates, bad booleans,
# negative counts, missing ids, duplicates (also differing only in spaces
# around the id, which the id rules strip), a short row, blank cells.
HOSTILE = (
    "customer_id,tier,revenue_12m,hours_support_12m,late_payments_12m,outgrown,"
    "contract_end,extra_col\n"
    "A1,standard,100,1.5,0,false,2028-01-01,x\n"
    "A2,standard,1e3,2,1,yes,2028-01-01,\n"
    "A1,standard,5,1,0,false,2028-01-01,dup\n"
    " A2 ,standard,5,1,0,false,2028-01-01,dup with spaces\n"
    "a1,standard,5,1,0,false,2028-01-01,case differs: not a duplicate\n"
    "A3,standard,12k,1,0,false,2028-01-01,\n"
    "A4,standard,1 000,-1,0.5,maybe,2028-13-01,\n"
    ",standard,1,1,0,false,2028-01-01,\n"
    "A5,standard,NaN,1,0,false,2028-01-01T10:00:00,\n"
    "A6,standard\n"
    "A7,   ,  ,\t,,,,\n"
    "A8,standard,-0.00,1E+2,+3,TRUE,2028-02-29,\n"
    "A3,standard,1,1,0,false,2028-01-01,dup of a rejected row: kept\n"
    "A9,standard,1" + "0" * 70 + ",1,0,false,2028-01-01,\n"
    "A1,standard,5,1,0,false,2028-01-01,second dup\n"
)

MAPPING = """\
version: 1
fields:
  Account: customer_id
  Revenue (k): {fact: revenue_12m, scale: 1000}
  Hours: {fact: hours_support_12m, type: number}
  Late: {fact: late_payments_12m, type: integer}
  Ends: {fact: contract_end, format: "%d/%m/%Y"}
  Grown: {fact: outgrown, true_values: [ja], false_values: [nein]}
  Tier: {fact: tier, default: standard}
  Score: {fact: score, type: integer}
unmapped:
  keep: true
  case: snake
"""

MAPPED_CSV = (
    "Account,Revenue (k),Hours,Late,Ends,Grown,Tier,Score,Other Thing\n"
    "M1,1.5,2,3,01/02/2028,ja,,7,x\n"
    "M2,x,2,3.5,2028-01-01,vielleicht,premium,1.2,\n"
    "M1,2,2,3,01/02/2028,nein,,7,dup\n"
    "M3,,,,,,,,\n"
)


def _reference(source, fact_types, mapping, with_provenance=False,
               keep_undeclared=False) -> Intake:
    """read_records as it was before streaming (adieu 0.1 .. the plan): the
    contract stream_records keeps."""
    schema = resources.load_schema("customer.schema.json")
    coercer = Coercer(fact_types, fact_minimums(schema), keep_undeclared)
    intake = Intake()
    first_seen: dict[str, Any] = {}
    for src in source:
        if not src.values:
            for name, why in src.provenance.items():
                intake.absent.setdefault(name, (_loc(src), str(why)))
        if src.error is None and not src.is_note:
            if intake.file is None:
                intake.file = src.file
            intake.fields.update(dict.fromkeys(src.values))
        mapped, problems, origin = mapping.apply(src.values)
        cid = mapped.get("customer_id")
        cid_text = str(cid).strip() if cid is not None else None
        if src.warning:
            intake.warnings.append(Notice(src.file, src.row, src.line, cid_text or None,
                                          src.warning))
        if src.is_note:
            continue
        if src.error:
            intake.rejects.append(Reject(src.file, src.row, src.line, cid_text, None, None,
                                         src.error))
            continue
        facts, more = coercer.coerce(mapped)
        for problem in more:
            source_field = origin.get(problem.field, problem.field)
            if source_field != problem.field:
                problem.reason += f" (for fact {problem.field})"
            problem.field = source_field
        problems.extend(more)
        for problem in problems:
            intake.rejects.append(Reject(src.file, src.row, src.line, cid_text or None,
                                         problem.field, _txt(problem.value), problem.reason))
        if problems:
            continue
        key = facts["customer_id"]
        if key in first_seen:
            intake.rejects.append(Reject(
                src.file, src.row, src.line, key, origin.get("customer_id", "customer_id"),
                _txt(cid), f"duplicate customer_id, first seen at row {first_seen[key]}"))
            continue
        first_seen[key] = src.row
        intake.columns_ignored.update(origin[k] for k in mapped if k not in fact_types)
        provenance = {}
        if with_provenance:
            here = f"{src.file} row {src.row}" if src.row is not None else str(src.file)
            for fact in facts:
                field_name = origin.get(fact, fact)
                provenance[fact] = src.provenance.get(field_name) or f"{here}, {field_name}"
        intake.records.append(Record(facts, src.file, src.row, src.line, provenance))
    return intake


def _loc(src):
    from adieu.errors import Location
    return Location(src.file, src.line)


def _txt(value):
    return None if value is None else str(value)


def _sources(tmp: Path) -> dict[str, tuple[str, str | None]]:
    """name -> (source text, mapping file or None) for every fixture input."""
    out: dict[str, tuple[str, str | None]] = {}
    out["examples/customers.csv"] = (f"csv:{REPO / 'examples' / 'customers.csv'}", None)
    for snap in sorted((REPO / "examples" / "scenario" / "snapshots").glob("*.csv")):
        out[f"scenario/{snap.name}"] = (f"csv:{snap}", None)
    conf = tmp / "conftest.csv"
    conf.write_text("\n".join([CSV_HEADER, *CSV_ROWS]) + "\n", encoding="utf-8")
    out["conftest customers"] = (f"csv:{conf}", None)
    hostile = tmp / "hostile.csv"
    hostile.write_text(HOSTILE, encoding="utf-8")
    out["hostile.csv"] = (f"csv:{hostile}", None)
    mapped = tmp / "mapped.csv"
    mapped.write_text(MAPPED_CSV, encoding="utf-8")
    mapping = tmp / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    out["mapped.csv"] = (f"csv:{mapped}", str(mapping))
    dup_ignored = tmp / "dup-ignored.csv"
    dup_ignored.write_text("customer_id,note_x,revenue_12m\nA,,1\nA,filled,2\nB,,3\n",
                           encoding="utf-8")
    out["dup-ignored.csv"] = (f"csv:{dup_ignored}", None)
    out["salesforce zip"] = (f"salesforce:{write_zip(tmp / 'export.zip', export_files())}",
                             None)
    dump = tmp / "dump"
    dump.mkdir()
    write_pages(dump, "companies", COMPANY_PAGES)
    write_pages(dump, "tickets", TICKET_PAGES)
    write_pages(dump, "deals", DEAL_PAGES)
    out["hubspot dump"] = (f"hubspot:{dump}", None)
    export = tmp / "hubspot-crm-exports-all-companies-2026-11-01.csv"
    export.write_bytes(b"\xef\xbb\xbf" + EXPORT.encode("utf-8"))
    out["hubspot export"] = (f"hubspot:{export}", None)
    return out


NAMES = ["examples/customers.csv", "scenario/2026-01-01.csv", "scenario/2026-11-01.csv",
         "conftest customers", "hostile.csv", "mapped.csv", "dup-ignored.csv", "salesforce zip",
         "hubspot dump", "hubspot export"]


def _types() -> dict[str, str]:
    return {**canonical_facts(), **load_policy(REPO / "policies" / "default.yaml").facts}


def _open(source: str, mapping_file: str | None, types: dict[str, str]):
    return open_source(source, AS_OF, mapping_file, None, types)


def _key(item: Record | Reject | Notice) -> tuple:
    return (type(item).__name__, repr(item))


@pytest.mark.parametrize("provenance", [False, True])
@pytest.mark.parametrize("undeclared", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_stream_gives_what_the_reference_read_gives(tmp_path: Path, name: str,
                                                     provenance: bool, undeclared: bool):
    source, mapping_file = _sources(tmp_path)[name]
    types = _types()
    if mapping_file:
        types = {**types, **load_mapping(mapping_file, types).fact_types}
    records, mapping = _open(source, mapping_file, types)
    want = _reference(records, types, mapping, provenance, undeclared)
    state = StreamState()
    records, mapping = _open(source, mapping_file, types)
    items = list(stream_records(records, types, mapping, provenance, undeclared, state=state))
    assert [i for i in items if type(i) is Record] == want.records
    assert [i for i in items if type(i) is Reject] == want.rejects
    assert [i for i in items if type(i) is Notice] == want.warnings == state.warnings
    assert (state.fields, state.file, state.absent, state.columns_ignored) == \
        (want.fields, want.file, want.absent, want.columns_ignored)
    assert list(state.fields) == list(want.fields)  # same order
    records, mapping = _open(source, mapping_file, types)
    got = read_records(records, types, mapping, provenance, undeclared)
    assert got == want
    assert want.records or want.rejects  # the fixture reads to something


@pytest.mark.parametrize("name", NAMES)
def test_items_come_in_source_order(tmp_path: Path, name: str):
    source, mapping_file = _sources(tmp_path)[name]
    types = _types()
    if mapping_file:
        types = {**types, **load_mapping(mapping_file, types).fact_types}
    records, mapping = _open(source, mapping_file, types)
    rows = [(i.file, i.row) for i in stream_records(records, types, mapping)
            if type(i) is not Notice and i.row is not None]
    by_file: dict[Any, list[int]] = {}
    for file, row in rows:
        by_file.setdefault(file, []).append(row)
    assert all(r == sorted(r) for r in by_file.values())


def test_hostile_rejects_are_exact(tmp_path: Path):
    source, _ = _sources(tmp_path)["hostile.csv"]
    types = _types()
    records, mapping = _open(source, None, types)
    items = list(stream_records(records, types, mapping))
    dups = [(i.row, i.value, i.reason) for i in items
            if type(i) is Reject and i.reason.startswith("duplicate")]
    assert dups == [(3, "A1", "duplicate customer_id, first seen at row 1"),
                    (4, " A2 ", "duplicate customer_id, first seen at row 2"),
                    (15, "A1", "duplicate customer_id, first seen at row 1")]
    kept = [i.customer_id for i in items if type(i) is Record]
    assert kept == ["A1", "A2", "a1", "A7", "A8", "A3"]


@pytest.mark.parametrize("name", NAMES)
def test_a_second_read_with_the_same_index_gives_the_same_items(tmp_path: Path, name: str):
    source, mapping_file = _sources(tmp_path)[name]
    types = _types()
    if mapping_file:
        types = {**types, **load_mapping(mapping_file, types).fact_types}
    with IdIndex() as ids:
        records, mapping = _open(source, mapping_file, types)
        first = [_key(i) for i in stream_records(records, types, mapping, ids=ids)]
        records, mapping = _open(source, mapping_file, types)
        second = [_key(i) for i in stream_records(records, types, mapping, ids=ids)]
    assert first == second


# -- IdIndex: exactly the duplicates a dict finds ---------------------------

# Ids as cells give them: a few base ids in several cases, with spaces, tabs
# and no-break spaces around them (stripped by the id rules), non-ASCII.
_BASE = st.sampled_from(["A1", "a1", "A10", "Ä1", "A\u03011", "东京", "x" * 70, "1", "01"])
_CELL = st.tuples(_BASE, st.sampled_from(["", " ", "\t", "\u00a0", "  "]),
                  st.sampled_from(["", " ", "\u00a0"])).map(lambda t: t[1] + t[0] + t[2])


def _dict_answers(cells: list[str], rows: list[Any]) -> list[tuple[bool, Any]]:
    first: dict[str, Any] = {}
    out = []
    for cell, row in zip(cells, rows, strict=True):
        key = normalise_id(cell)
        if key in first:
            out.append((True, first[key]))
        else:
            first[key] = row
            out.append((False, row))
    return out


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_CELL, max_size=60), spill=st.sampled_from([1, 7, 64, 1 << 20]),
       key_bits=st.sampled_from([1, 3, 32]), none_rows=st.booleans())
def test_id_index_finds_what_a_dict_finds(cells, spill, key_bits, none_rows):
    rows = [None if none_rows and i % 3 == 0 else i + 1 for i in range(len(cells))]
    want = _dict_answers(cells, rows)
    with IdIndex(spill=spill, key_bits=key_bits) as ids:
        got = [ids.check(normalise_id(c), r) for c, r in zip(cells, rows, strict=True)]
        assert got == want
        assert len(ids) == len({normalise_id(c) for c in cells})
        ids.rewind()  # a second read of the same source: the same answers
        again = [ids.check(normalise_id(c), r) for c, r in zip(cells, rows, strict=True)]
        assert again == want
        ids.rewind()
        firsts = [ids.first_row(normalise_id(c), r) for c, r in zip(cells, rows, strict=True)]
        assert firsts == [f if d else None for d, f in want]


def test_id_index_is_exact_when_every_key_is_shared(tmp_path: Path):
    """One key bit: every other id shares a key; the stored texts tell them
    apart, also after they went to the temporary file (in tmp_path)."""
    cells = [f"C{i}" for i in range(3000)] + ["C17", "C2999", "c17"]
    rows = list(range(1, len(cells) + 1))
    with IdIndex(spill=100, directory=str(tmp_path), key_bits=1) as ids:
        got = [ids.check(c, r) for c, r in zip(cells, rows, strict=True)]
        assert list(tmp_path.iterdir())  # spilled to its file
    assert got == _dict_answers(cells, rows)
    assert got[-3:] == [(True, 18), (True, 3000), (False, 3003)]
    assert not list(tmp_path.iterdir())  # removed on close


def test_id_index_splits_its_buckets_and_stays_exact():
    cells = [f"id-{i % 40_000}" for i in range(45_000)]  # 5,000 repeats at the end
    rows = list(range(1, len(cells) + 1))
    with IdIndex(spill=4096) as ids:
        got = [ids.check(c, r) for c, r in zip(cells, rows, strict=True)]
        assert len(ids) == 40_000
        assert ids._bits > 4  # split at least once  # noqa: SLF001
    assert got == _dict_answers(cells, rows)


def test_rows_that_are_not_numbers_come_back_as_given():
    with IdIndex(spill=1) as ids:
        assert ids.check("a", ("x", 1)) == (False, ("x", 1))
        assert ids.check("a", 5) == (True, ("x", 1))
        assert ids.first_row("b", None) is None
        assert ids.check("b", 8) == (True, None)  # first_row would say None: use check


def test_a_duplicate_adds_no_ignored_column(tmp_path: Path):
    source, _ = _sources(tmp_path)["dup-ignored.csv"]
    types = _types()
    state = StreamState()
    records, mapping = _open(source, None, types)
    items = list(stream_records(records, types, mapping, state=state))
    assert [type(i).__name__ for i in items] == ["Record", "Reject", "Record"]
    assert state.columns_ignored == set()


# -- the coercion plan against the reference (mapping.apply + Coercer) -------


_SPACE = st.sampled_from(["", "", "", " ", "\t", "\u00a0", "\n", "\x1f", "\u2003"])
_DIGITS = st.text("0123456789", min_size=0, max_size=8) | st.text("0123456789", min_size=55,
                                                                   max_size=130)
_NUMBER = st.builds(
    lambda sign, whole, frac, exp, a, b: a + sign + whole + frac + exp + b,
    st.sampled_from(["", "", "-", "+", "--"]), _DIGITS,
    st.sampled_from(["", ""]) | _DIGITS.map(lambda d: "." + d),
    st.sampled_from(["", "", "", "e3", "E-2", "e+400", "e", "e-130"]), _SPACE, _SPACE)
_ODD = st.sampled_from([
    "NaN", "nan", "-NaN", "sNaN", "Infinity", "-inf", "inf", "1,000", "1 000", "1_000",
    "12k", "$5", "\u0661\u0662", "\uff11\uff12", "\U0001d7d9", "1.2.3", ".", "-", "+.",
    "-0", "-0.00", "0e5", "00012", "5.", "-.5", "1e3", "true", "False", " TRUE ", "yes", "Y",
    "0", "1", "t", "maybe", "2024-05-01", "2024-5-1", "2024-02-30", "+202-05-01",
    " 2024-05-01", "2024-05-01T10:00:00Z", "2024-05-01T23:30:00-05:00",
    "2024-05-01 10:00", "20240501", "2024-W01", "2024-05-1 ", "2024-05-+1", "2024-0\u0665-01",
    "2024-05-01Z", "0000-01-01", "2024-02-29", "2023-02-29", "1900-13-01",
    "\u0662\u0660\u0662\u0664-05-01",
    "", " ", "\t", "\u00a0", "\x1f", "\u200b", "A\u200bB", "e\u0301", "Ä", "x\x00y",
    "a\tb", "ok"])
# Plain digits around the 60-digit bound, the fast paths' own limit.
_PLAIN = st.builds(lambda sign, digits, frac: sign + digits + frac, st.sampled_from(["", "-"]),
                   st.text("0123456789", min_size=1, max_size=3)
                   | st.text("0123456789", min_size=56, max_size=64),
                   st.sampled_from(["", "", ".5", ".", ".000"]))
_CELL = _PLAIN | _NUMBER | _ODD | st.text(max_size=12)

HEADER = ["customer_id", "revenue_12m", "late_payments_12m", "orders_12m", "outgrown",
          "contract_end", "tier", "name", "Other Thing", "note"]


def _reference_row(values, mapping, coercer, fact_types):
    mapped, problems, origin = mapping.apply(values)
    facts, more = coercer.coerce(mapped)
    for problem in more:
        source_field = origin.get(problem.field, problem.field)
        if source_field != problem.field:
            problem.reason += f" (for fact {problem.field})"
        problem.field = source_field
    problems.extend(more)
    return (mapped.get("customer_id"), facts, problems, origin,
            [origin[k] for k in mapped if k not in fact_types])


def _same(plan_row, ref, values_have_id: bool):
    cid, facts, problems, origin, ignored = ref
    plan_row = SimpleNamespace(**dict(zip(("cid", "facts", "problems", "origin", "ignored"),
                                          plan_row, strict=True)))
    assert repr(plan_row.cid) == repr(cid)
    assert [(k, repr(v)) for k, v in plan_row.facts.items()] == \
        [(k, repr(v)) for k, v in facts.items()]
    assert [(p.field, repr(p.value), p.reason) for p in plan_row.problems] == \
        [(p.field, repr(p.value), p.reason) for p in problems]
    if not problems:
        assert plan_row.ignored == ignored
        for fact in facts:
            assert plan_row.origin.get(fact, fact) == origin.get(fact, fact)
        assert plan_row.origin.get("customer_id", "customer_id") == \
            origin.get("customer_id", "customer_id")


@settings(max_examples=400, deadline=None)
@given(cells=st.lists(_CELL, min_size=len(HEADER), max_size=len(HEADER)),
       undeclared=st.booleans(), with_id=st.booleans())
def test_the_plan_reads_cells_as_the_reference_does(cells, undeclared, with_id):
    types = _types()
    schema = resources.load_schema("customer.schema.json")
    coercer = Coercer(types, fact_minimums(schema), undeclared)
    values = dict(zip(HEADER, cells, strict=True))
    if with_id:
        values["customer_id"] = "C1"
    plan = Planner(IDENTITY, coercer, types).plan(values)
    assert plan is not None
    _same(plan.read(values), _reference_row(values, IDENTITY, coercer, types), with_id)


MAPPED_HEADER = ["Account", "Revenue (k)", "Hours", "Late", "Ends", "Grown", "Tier", "Score",
                 "Other Thing"]


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_CELL, min_size=len(MAPPED_HEADER), max_size=len(MAPPED_HEADER)))
def test_the_plan_follows_mapping_rules_as_the_reference_does(tmp_path_factory, cells):
    path = tmp_path_factory.mktemp("m") / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    types = _types()
    mapping = load_mapping(path, types)
    types = {**types, **mapping.fact_types}
    schema = resources.load_schema("customer.schema.json")
    coercer = Coercer(types, fact_minimums(schema))
    values = dict(zip(MAPPED_HEADER, cells, strict=True))
    plan = Planner(mapping, coercer, types).plan(values)
    assert plan is not None
    _same(plan.read(values), _reference_row(values, mapping, coercer, types), True)


def test_two_fields_for_one_fact_are_read_by_the_reference_path(tmp_path: Path):
    path = tmp_path / "mapping.yaml"
    path.write_text("version: 1\nfields:\n  Id: customer_id\n  Rev: revenue_12m\n"
                    "  Revenue: revenue_12m\n", encoding="utf-8")
    types = _types()
    mapping = load_mapping(path, types)
    schema = resources.load_schema("customer.schema.json")
    planner = Planner(mapping, Coercer(types, fact_minimums(schema)), types)
    assert planner.plan({"Id": "a", "Rev": "", "Revenue": "2"}) is None
    assert planner.plan({"Id": "a", "Revenue": "2"}) is not None


@settings(max_examples=500, deadline=None)
@given(text=_PLAIN | _NUMBER | _ODD)
def test_fast_numbers_are_the_reference_numbers(text):
    fast = decimals.fast_number(text)
    if fast is None:
        return
    try:  # the reference path: the regex and Decimal, as before the fast path
        text2 = text.strip(decimals.WHITESPACE)
        assert decimals.NUMBER_TEXT.fullmatch(text2)
        want = decimals.Decimal(text2)
        if "." not in text2 and "e" not in text2.lower():
            want = int(decimals.check_magnitude(want))
        elif not want and want.is_signed():
            want = want.copy_abs()
        decimals.check_magnitude(want)
    except OverflowError:
        pytest.fail(f"fast path read {text!r}, which is out of bounds")
    assert (type(fast), str(fast)) == (type(want), str(want))
    assert to_number(text) == fast


RENAMES = """\
version: 1
fields:
  Account: customer_id
  Revenue: revenue_12m
  Late: late_payments_12m
  Ends: contract_end
  Grown: outgrown
  Tier: tier
unmapped:
  keep: true
  case: snake
"""
RENAMED_HEADER = ["Account", "Revenue", "Late", "Ends", "Grown", "Tier", "Orders 12m",
                  "Other Thing"]


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_CELL, min_size=len(RENAMED_HEADER), max_size=len(RENAMED_HEADER)))
def test_the_generated_plan_names_problems_by_source_field(tmp_path_factory, cells):
    """Renames only: the generated plan (no rule converts, no defaults)
    names each problem by its source field and fact, as the reference."""
    path = tmp_path_factory.mktemp("m") / "mapping.yaml"
    path.write_text(RENAMES, encoding="utf-8")
    types = _types()
    mapping = load_mapping(path, types)
    schema = resources.load_schema("customer.schema.json")
    coercer = Coercer(types, fact_minimums(schema))
    values = dict(zip(RENAMED_HEADER, cells, strict=True))
    plan = Planner(mapping, coercer, types).plan(values)
    assert plan is not None  # and generated:
    assert plan.read.__code__.co_filename.startswith("<adieu plan of")
    _same(plan.read(values), _reference_row(values, mapping, coercer, types), True)
