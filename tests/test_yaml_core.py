"""YAML is read under the 1.2 core schema, bounded, and without aliases.

Kinds covered (issue 8, items 1 and 2): YAML 1.1 scalars changing meaning
(booleans from yes/no/on, octal from a leading zero, base-60 from 1:30, a
version 2026.10 read as 2026.1); anchors and aliases expanding without
bound; files too large, too deep or too many values; tags outside the core
schema. Policies and mappings share one loader (adieu.yamlpos)."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from adieu.cli import cli
from adieu.errors import PolicyError, PolicyErrors
from adieu.mapping import load_mapping
from adieu.policy import canonical_facts, compile_policy
from adieu.yamlpos import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, load_with_positions

REPO = Path(__file__).resolve().parent.parent


def load(text: str):
    return load_with_positions(text, "f.yaml")[0]


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_with_positions(text, "f.yaml")
    return info.value


# -- what a plain scalar is read as -------------------------------------------

@pytest.mark.parametrize("text, value", [
    # only true/false (three spellings each) are booleans
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("yes", "yes"), ("no", "no"), ("Yes", "Yes"), ("NO", "NO"), ("on", "on"),
    ("off", "off"), ("y", "y"), ("n", "n"), ("Off", "Off"), ("tRUE", "tRUE"),
    # only null / ~ / nothing are null
    ("null", None), ("Null", None), ("NULL", None), ("~", None), ("", None),
    ("nULL", "nULL"), ("None", "None"),
    # integers: decimal even with a leading zero; octal and hex only with a prefix
    ("12", 12), ("-3", -3), ("+4", 4), ("010", 10), ("007", 7), ("0o17", 15),
    ("0x1F", 31), ("0b101", "0b101"), ("017", 17),
    # no base-60, no underscores, no thousands separators
    ("1:30", "1:30"), ("190:20:30", "190:20:30"), ("1_000", "1_000"), ("12,5", "12,5"),
    # numbers with a fraction or exponent are exact decimals with their digits
    ("0.1", Decimal("0.1")), ("1.10", Decimal("1.10")), ("5476.50", Decimal("5476.50")),
    ("2026.10", Decimal("2026.10")), (".5", Decimal("0.5")), ("1e3", Decimal("1E+3")),
    ("-2.5E-2", Decimal("-0.025")),
    # dates and other text stay text
    ("2026-11-01", "2026-11-01"), ("2026-02-30", "2026-02-30"), ("15%", "15%"),
    ("$500", "$500"),
])
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    got = load(f"a: {text}\n")["a"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text", [".inf", "-.inf", ".Inf", ".nan", ".NaN"])
def test_infinities_and_nan_are_refused_at_their_column(text: str) -> None:
    e = error_of(f"params:\n  x: {text}\n")
    assert (e.location.line, e.location.column) == (2, 6)
    assert e.message == (f"{text} is not a finite number; numbers must be finite (quote it "
                         "to use it as text)")


@pytest.mark.parametrize("text, value", [
    ("!!str 12", "12"), ("!!str yes", "yes"), ("!!int 012", 12), ("!!float 1", Decimal(1)),
    ("!!bool true", True), ("!!null ''", None), ('"yes"', "yes"), ("'010'", "010"),
])
def test_core_tags_and_quotes(text: str, value: object) -> None:
    assert load(f"a: {text}\n")["a"] == value


@pytest.mark.parametrize("text, message", [
    ("!!int abc", "'abc' is not a whole number"),
    ("!!bool yes", "'yes' is not true or false"),
    ("!!float x", "'x' is not a number"),
    ("!!float inf", "'inf' is not a number"),
    ("!!float NaN", "'NaN' is not a number"),
    ("!!float 1_0", "'1_0' is not a number"),
    ("1e99", "number 1e99: value too large (over 60 digits)"),
    ("!!float 1e999999999", "number 1e999999999: value too large (over 60 digits)"),
    ("9" * 61, f"number {'9' * 61}: value too large (over 60 digits)"),
    ("0x" + "f" * 60, f"number 0x{'f' * 60}: value too large (over 60 digits)"),
])
def test_a_core_tag_that_does_not_fit_its_text_is_located(text: str, message: str) -> None:
    e = error_of(f"x: 1\na: {text}\n")
    assert (e.location.line, e.location.column, e.message) == (2, 4, message)


@given(st.text(alphabet="0123456789abcdefoxXyYnN.:_+-eE~ ", min_size=1, max_size=12))
def test_any_plain_scalar_loads_as_one_of_the_core_types(text: str) -> None:
    try:
        value = load_with_positions(f"a: {text.strip() or 'x'}\n", "f")[0]
    except PolicyError:
        return  # refused with a location: .inf, a key that is a sequence ...
    got = value["a"] if isinstance(value, dict) else value
    assert got is None or type(got) in (str, int, bool, Decimal, list, dict)


# -- the examples, end to end -----------------------------------------

def test_mapping_default_NO_is_the_text_NO(tmp_path: Path, runner: CliRunner) -> None:
    """fields: {Land: {fact: country, default: NO}} over an empty Land cell
    gives country = 'NO', and a rule country != "NO" does not fire."""
    (tmp_path / "map.yaml").write_text(textwrap.dedent("""\
        fields:
          Land: {fact: country, default: NO}
        """), encoding="utf-8")
    (tmp_path / "c.csv").write_text("customer_id,Land,revenue_12m\nC1,,100\nC2,SE,100\n",
                                    encoding="utf-8")
    (tmp_path / "p.yaml").write_text(textwrap.dedent("""\
        version: 1
        name: nordics
        rules:
          - id: outside-norway
            when: country != "NO"
            action: flag
        """), encoding="utf-8")
    facts = runner.invoke(cli, ["facts", f"csv:{tmp_path / 'c.csv'}", "--mapping",
                                str(tmp_path / "map.yaml"), "--json", "--as-of", "2026-11-01"])
    assert facts.exit_code == 0, facts.output
    assert [r["country"] for r in json.loads(facts.stdout)] == ["NO", "SE"]
    result = runner.invoke(cli, ["evaluate", str(tmp_path / "p.yaml"), "--source",
                                 f"csv:{tmp_path / 'c.csv'}", "--mapping",
                                 str(tmp_path / "map.yaml"), "--as-of", "2026-11-01",
                                 "--db", str(tmp_path / "a.db"), "--json"])
    assert result.exit_code == 0, result.output
    outcomes = {d["customer_id"]: d["outcome"] for d in json.loads(result.stdout)["decisions"]}
    assert outcomes == {"C1": "keep", "C2": "watch"}


@pytest.mark.parametrize("true_words, false_words, true_values, false_values", [
    ("[yes, ja]", "[no, nein, off]", {"yes", "ja"}, {"no", "nein", "off"}),
    ("[1, 01]", "[0, true]", {"1", "01"}, {"0", "true"}),  # numbers keep their text
])
def test_true_and_false_words_are_text(tmp_path: Path, true_words: str, false_words: str,
                                        true_values: set, false_values: set) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(f"fields:\n  Flag: {{fact: paid, type: boolean, true_values: {true_words},"
                    f" false_values: {false_words}}}\n", encoding="utf-8")
    rule = load_mapping(path, canonical_facts()).fields["Flag"]
    assert (rule.true_values, rule.false_values) == (true_values, false_values)


@pytest.mark.parametrize("written, stored", [
    ("2026.10", "2026.10"), ("2026.1", "2026.1"), ("010", "010"), ("3", "3"), ("1e3", "1e3"),
    ('"2026.10"', "2026.10"), ("v2", "v2"),
])
def test_version_is_kept_as_written(written: str, stored: str, tmp_path: Path,
                                    runner: CliRunner) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(f"version: {written}\nname: v\nrules:\n  - id: r\n"
                      "    when: revenue_12m > 1\n    action: flag\n", encoding="utf-8")
    data = tmp_path / "c.csv"
    data.write_text("customer_id,revenue_12m\nC1,5\n", encoding="utf-8")
    db = tmp_path / "a.db"
    result = runner.invoke(cli, ["evaluate", str(policy), "--source", f"csv:{data}",
                                 "--as-of", "2026-11-01", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"v{stored} " in result.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("select policy_version from runs").fetchone()[0] == stored


@pytest.mark.parametrize("key, written, value", [
    ("name", "2027", "2027"), ("name", "true", "true"), ("description", "1.50", "1.50"),
])
def test_text_fields_keep_what_was_written(key: str, written: str, value: str) -> None:
    doc = {"name": "n", "description": "d"}
    doc[key] = written
    text = "version: 1\n" + "".join(f"{k}: {v}\n" for k, v in doc.items()) + \
        "rules:\n  - id: r\n    when: revenue_12m > 1\n    action: flag\n"
    policy = compile_policy(text, "p.yaml")
    assert policy.name == (value if key == "name" else "n")


def test_exemption_reason_and_approver_keep_their_text() -> None:
    policy = compile_policy(textwrap.dedent("""\
        version: 1
        name: x
        rules:
          - id: r
            when: revenue_12m > 1
            action: flag
        exemptions:
          - id: e
            customers: [0042, C-7]
            reason: 2026.10
            approver: yes
            expires: 2099-01-01
        """), "p.yaml")
    (ex,) = policy.exemptions
    assert (ex.reason, ex.approver, ex.customers) == ("2026.10", "yes",
                                                      frozenset({"0042", "C-7"}))


def test_reader_options_keep_their_digits(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("options:\n  won_stages: [0012, closedwon]\n  limit: 007\n"
                    "  strict: true\n", encoding="utf-8")
    options = load_mapping(path, canonical_facts()).options
    assert options == {"won_stages": ["0012", "closedwon"], "limit": "007", "strict": True}


def test_a_mapping_default_for_a_text_fact_keeps_its_digits(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("fields:\n  Code: {fact: code, type: string, default: 0012}\n"
                    "  Rev: {fact: revenue_12m, default: 0012}\n", encoding="utf-8")
    fields = load_mapping(path, canonical_facts()).fields
    assert fields["Code"].default == "0012"
    assert fields["Rev"].default == 12


def test_params_are_read_exactly() -> None:
    policy = compile_policy(textwrap.dedent("""\
        version: 1
        name: x
        params:
          rate: 0.1
          home: NO
          limit: 010
          share: 1.50
        rules:
          - id: r
            when: revenue_12m * rate > limit and country != home and revenue_12m > share
            action: flag
        """), "p.yaml")
    assert policy.params == {"rate": Decimal("0.1"), "home": "NO", "limit": 10,
                             "share": Decimal("1.50")}


# -- anchors, aliases, tags, merge keys --------------------------------------------

BOMB_LEVELS = "bcdefgh"


def alias_bomb() -> str:
    lines = ["version: 1", "name: bomb", "params:",
             '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in BOMB_LEVELS:
        refs = ",".join([f"*{previous}"] * 9)
        lines.append(f"  {name}: &{name} [{refs}]")
        previous = name
    return "\n".join([*lines, "rules: []"]) + "\n"


def test_the_alias_bomb_is_refused_at_its_first_anchor(tmp_path: Path,
                                                       runner: CliRunner) -> None:
    """Seven levels of aliases under params: 9 ** 8 values if expanded (16 s,
    1.3 GB and 28 MB of errors before). Refused at the first anchor, before
    any alias is looked at, so nothing is expanded."""
    text = alias_bomb()
    assert len(text.encode()) < 400
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{path}:4:6: YAML anchors (&a) are not supported; write the value out in full")
    assert len(result.output) < 1000  # one finding, not 28 MB of them


@pytest.mark.parametrize("text, where, message", [
    ("a: 1\nb: *a\n", (2, 4), "YAML aliases (*a) are not supported; write the value out in full"),
    ("a: &x {k: 1}\n", (1, 4), "YAML anchors (&x) are not supported; write the value out in full"),
    ("a:\n  - &x 1\n", (2, 5), "YAML anchors (&x) are not supported; write the value out in full"),
    ("<<: {a: 1}\n", (1, 1), "YAML merge keys (<<) are not supported"),
    ("a: !!python/object/apply:os.system [ls]\n", (1, 4),
     "YAML tag !!python/object/apply:os.system is not supported (only the core types: "
     "!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"),
    ("a: !!python/name:os.system\n", (1, 4),
     "YAML tag !!python/name:os.system is not supported (only the core types: "
     "!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"),
    ("a: !!binary aGk=\n", (1, 4), "YAML tag !!binary is not supported (only the core "
     "types: !!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"),
    ("a: !!timestamp 2026-01-01\n", (1, 4), "YAML tag !!timestamp is not supported (only "
     "the core types: !!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"),
    ("a: !!set {x}\n", (1, 4), "YAML tag !!set is not supported (only the core types: "
     "!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"),
    ("a: !custom [1]\n", (1, 4), "YAML tag !custom is not supported (only the core types: "
     "!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"),
    ("true: 1\n", (1, 1), "key 'true' is read by YAML as true; quote it (\"true\") to use "
     "it as a name"),
])
def test_refused_constructs_are_located(text: str, where: tuple, message: str) -> None:
    e = error_of(text)
    assert (e.location.line, e.location.column) == where
    assert e.message == message


def test_nesting_deeper_than_the_bound_is_located_not_a_recursion_error() -> None:
    e = error_of("x: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert e.message == f"YAML nested more than {MAX_DEPTH} levels deep"
    assert e.location.line == 1
    e = error_of("x: " + "[" * 70 + "]" * 70 + "\n")
    assert e.message == f"YAML nested more than {MAX_DEPTH} levels deep"
    assert (e.location.line, e.location.column) == (1, 3 + MAX_DEPTH)
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + "  " * 100 + "x: 1\n"
    e = error_of(block)
    assert e.message == f"YAML nested more than {MAX_DEPTH} levels deep"
    assert e.location.line == MAX_DEPTH
    assert load("x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n")


def test_too_many_values_are_refused() -> None:
    e = error_of("[" + "1," * (MAX_NODES + 10) + "1]\n")
    assert e.message == f"more than {MAX_NODES:,} YAML values in one file"


def test_a_policy_over_the_size_bound_is_refused_with_its_size(tmp_path: Path,
                                                              runner: CliRunner) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"version: 1\nname: x\nrules: []\n" + b"# padding\n" * 500_000)
    size = path.stat().st_size
    assert size > MAX_FILE_BYTES
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout == (f"{path}: policy is {size:,} bytes, over the limit of "
                             f"{MAX_FILE_BYTES:,} bytes\n")


def test_a_mapping_over_the_size_bound_is_an_input_error(tmp_path: Path,
                                                        runner: CliRunner) -> None:
    path = tmp_path / "map.yaml"
    path.write_bytes(b"fields: {}\n" + b"#" * MAX_FILE_BYTES)
    data = tmp_path / "c.csv"
    data.write_text("customer_id\nC1\n", encoding="utf-8")
    result = runner.invoke(cli, ["facts", f"csv:{data}", "--mapping", str(path)])
    assert result.exit_code == 2
    assert f"mapping is {path.stat().st_size:,} bytes, over the limit" in result.output


def test_validate_reports_an_alias_in_a_mapping_with_its_line(tmp_path: Path,
                                                              runner: CliRunner) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("fields:\n  A: &f {fact: revenue_12m}\n  B: *f\n", encoding="utf-8")
    data = tmp_path / "c.csv"
    data.write_text("customer_id,A\nC1,1\n", encoding="utf-8")
    result = runner.invoke(cli, ["facts", f"csv:{data}", "--mapping", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2:6: YAML anchors (&f) are not supported" in result.output


def test_shipped_policies_read_the_same_under_yaml_1_2() -> None:
    """The shipped files mean under 1.2 what they meant under 1.1 (apart from
    numbers now being exact), so upgrading changes no decision."""
    import yaml

    for path in [*REPO.glob("policies/*.yaml"), *REPO.glob("plugins/mappings/*.yaml")]:
        text = path.read_text(encoding="utf-8")
        old = yaml.safe_load(text)
        new = load_with_positions(text, str(path))[0]

        def same(a: object, b: object) -> bool:
            if isinstance(a, dict):
                return isinstance(b, dict) and a.keys() == b.keys() and \
                    all(same(a[k], b[k]) for k in a)
            if isinstance(a, list):
                return isinstance(b, list) and len(a) == len(b) and \
                    all(same(x, y) for x, y in zip(a, b, strict=True))
            if isinstance(a, float):
                return isinstance(b, Decimal) and Decimal(repr(a)) == b
            if hasattr(a, "isoformat"):
                return b == a.isoformat()
            return a == b and type(a) is type(b)

        assert same(old, new), path


def test_policy_errors_from_yaml_keep_the_policy_errors_type(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nname: &n x\nrules: []\n", encoding="utf-8")
    from adieu.policy import load_policy

    with pytest.raises(PolicyErrors) as info:
        load_policy(path)
    (e,) = info.value.errors
    assert str(e) == f"{path}:2:7: YAML anchors (&n) are not supported; write the value out " \
                     "in full"


def test_mapping_field_names_that_look_like_numbers_keep_their_text(tmp_path: Path,
                                                                     runner: CliRunner) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("fields: {010: customer_id, 1.50: revenue_12m, 0x1F: tier}\n",
                    encoding="utf-8")
    data = tmp_path / "c.csv"
    data.write_text("010,1.50,0x1F\nC1,12.5,gold\n", encoding="utf-8")
    result = runner.invoke(cli, ["facts", f"csv:{data}", "--mapping", str(path), "--json",
                                 "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["customer_id"], row["revenue_12m"], row["tier"]) == ("C1", 12.5, "gold")


@pytest.mark.parametrize("directive", ["%YAML 1.1", "%YAML 1.0", "%YAML 2.0"])
def test_a_yaml_version_directive_other_than_1_2_is_refused(directive: str) -> None:
    e = error_of(f"# a comment\n{directive}\n---\nversion: 1\n")
    assert (e.location.line, e.location.column) == (2, 1)
    assert e.message.startswith(f"{directive}: adieu reads YAML 1.2")
    assert load("%YAML 1.2\n---\na: yes\n") == {"a": "yes"}


def test_schema_messages_and_excerpts_stay_short(tmp_path: Path, runner: CliRunner) -> None:
    """A value is named by its kind (a list), never quoted whole; the source
    line is cut around the column."""
    path = tmp_path / "p.yaml"
    values = ",".join(["1"] * 50_000)
    path.write_text(f"version: 1\nname: x\nparams:\n  x: [{values}]\nrules: []\n",
                    encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert len(result.output) < 2000, len(result.output)
    first, excerpt, caret = result.stdout.splitlines()[:3]
    assert first == f"{path}:4:6: params/x: a list is not a number or text or true or false"
    assert excerpt.startswith("      x: [1,1,1") and excerpt.endswith("...")
    assert caret == "         ^"


def test_a_default_in_the_fields_own_true_false_words(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("fields:\n  Paid: {fact: paid, type: boolean, true_values: [ja],"
                    " false_values: [nein], default: nein}\n"
                    "  Late: {fact: late, type: boolean, true_values: [ja],"
                    " false_values: [nein], default: true}\n", encoding="utf-8")
    fields = load_mapping(path, canonical_facts()).fields
    assert (fields["Paid"].default, fields["Late"].default) == (False, True)
    path.write_text("fields:\n  Paid: {fact: paid, type: boolean, true_values: [ja],"
                    " false_values: [nein], default: yes}\n", encoding="utf-8")
    from adieu.mapping import MappingErrors

    with pytest.raises(MappingErrors) as info:
        load_mapping(path, canonical_facts())
    assert str(info.value) == (f"{path}:2:87: default for 'Paid': expected one of ja, nein, "
                               "got 'yes'")


def test_messages_show_values_as_written_and_point_at_bad_keys(tmp_path: Path,
                                                             runner: CliRunner) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nname: x\nstrikes:\n  window_days: 2.0\nfacts:\n"
                    "  ok_name: {type: string}\n  Bad-Name: {type: string}\nparams:\n"
                    "  p: {a: 1}\nrules: []\n", encoding="utf-8")
    findings = [line for line in runner.invoke(cli, ["validate", str(path)]).stdout
                .splitlines() if not line.startswith(" ")]
    assert findings == [
        f"{path}:4:16: strikes/window_days: 2.0 is not a whole number",
        f"{path}:7:3: facts: 'Bad-Name' does not have the expected form",
        f"{path}:9:6: params/p: a mapping is not a number or text or true or false",
        f"{path}:10:8: rules: [] should be non-empty",
    ]


@pytest.mark.parametrize("content, where, message", [
    (b"version: 1\nname: x\x01y\nrules: []\n", "2:8", "invalid YAML: character U+0001 is "
     "not allowed in a YAML file (write it as an escape, like \\x01, inside double quotes)"),
    (b"version: 1\nname: \xc3\xa9x\x85y\nrules: []\n", "2:9",
     "policy is not UTF-8 text: byte 20 is 0x85 (save the file as UTF-8)"),
])
def test_characters_a_policy_cannot_hold_are_located(tmp_path: Path, runner: CliRunner,
                                                     content: bytes, where: str,
                                                     message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(content)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{path}:{where}: {message}"


@pytest.mark.parametrize("spec, message", [
    ("{fact: revenue_12m, scale: 0}", "map.yaml:2:33: fields/R/scale: 0 is less than or "
     "equal to the minimum of 0"),
    ("{fact: revenue_12m, scale: -1}", "fields/R/scale: -1 is less than or equal to the "
     "minimum of 0"),
    ("{fact: outgrown, scale: 1000}", "scale for 'R': only numbers are scaled, and "
     "'outgrown' is a boolean"),
])
def test_a_scale_must_be_positive_and_for_numbers(tmp_path: Path, spec: str,
                                                  message: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(f"fields:\n  R: {spec}\n", encoding="utf-8")
    from adieu.mapping import MappingErrors

    with pytest.raises(MappingErrors) as info:
        load_mapping(path, canonical_facts())
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["csv.yaml", "salesforce.yaml", "hubspot.yaml"])
@given(data=st.data())
def test_a_mapping_with_any_value_of_another_shape_is_an_error_not_a_crash(
        name: str, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    import copy

    from adieu.errors import InputError

    doc = copy.deepcopy(load((REPO / "plugins" / "mappings" / name).read_text("utf-8")))
    paths, stack = [], [((), doc)]
    while stack:
        path, node = stack.pop()
        if path:
            paths.append(path)
        children = node.items() if isinstance(node, dict) else \
            enumerate(node) if isinstance(node, list) else ()
        stack.extend((path + (k,), v) for k, v in children)
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(st.sampled_from(
        [5, -1, 0, True, None, "x", [], [5], {}, {"a": 1}, "%d", "(", 0.5]))
    target = tmp_path_factory.mktemp("m") / "map.yaml"
    target.write_text(json.dumps(doc, default=str), encoding="utf-8")  # JSON is YAML
    try:
        load_mapping(target, canonical_facts())
    except InputError as exc:
        assert str(exc)
