"""Issue 12, item 2: YAML beyond its own size. Policies, mapping files and
policy test files are read by one loader (engine/yamlpos.py); each bound
(bytes, depth, values, one value's length, section counts) and each
construct that could expand or run code (aliases, merge keys, non-core
tags, %TAG directives) is refused with the file, the size or count, the
limit, and the line where there is one. Through the real CLI: validate
(exit 1) for a policy, facts (exit 2) for a mapping, test (exit 2) for a
policy test file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu import yamlpos
from adieu.cli import cli
from adieu.policy_limits import MAX_COUNTS

POLICY = ('version: "1"\nname: y\nrules:\n  - id: r1\n    title: low\n'
          '    when: revenue_12m < 1000\n    action: flag\n')
CSV = "customer_id,revenue_12m\nC1,500\n"

# Each hostile fragment, appended as a top-level key `x:` (or as the file).
HOSTILE = {
    "billion laughs": ('x:\n  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
                       "  b: &b [*a, *a, *a, *a, *a, *a, *a]\n  c: [*b, *b, *b, *b, *b]\n",
                       "YAML anchors (&a) are not supported"),
    "alias alone": ("x: *nothing\n", "YAML aliases"),
    "merge key": ("x:\n  a: 1\n  <<: {b: 2}\n", "YAML merge keys (<<) are not supported"),
    "merge tag": ("x:\n  !!merge m: {b: 2}\n", "YAML tag !!merge is not supported"),
    "python tuple on a flow list": ("x: !!python/tuple [1, 2]\n",
                                    "YAML tag !!python/tuple is not supported"),
    "python object on a flow map": ("x: !!python/object:os.system {a: 1}\n",
                                    "YAML tag !!python/object:os.system is not supported"),
    "python list on a block list": ("x: !!python/list\n  - 1\n  - 2\n",
                                    "YAML tag !!python/list is not supported"),
    "custom tag on a block map": ("x: !custom\n  a: 1\n", "YAML tag !custom is not supported"),
    "set": ("x: !!set {a, b}\n", "YAML tag !!set is not supported"),
    "binary": ("x: !!binary aGVsbG8=\n", "YAML tag !!binary is not supported"),
    "timestamp": ("x: !!timestamp 2026-01-01\n", "YAML tag !!timestamp is not supported"),
}
# %TAG directives come before the document: the whole file.
DIRECTIVES = {
    "%TAG to a foreign prefix": ("%TAG !e! tag:example.com,2000:\n---\nx: !e!thing [1]\n",
                                 "YAML tag tag:example.com,2000:thing is not supported", 3),
    "%TAG redefining !!": ("%TAG !! tag:evil.example,2000:\n---\nx: !!str a\n",
                           "YAML tag tag:evil.example,2000:str is not supported", 3),
    "%TAG making ! python": ("%TAG ! tag:yaml.org,2002:python/\n---\nx: !tuple [1]\n",
                             "YAML tag !!python/tuple is not supported", 3),
}


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    assert "unexpected error" not in result.output and "Traceback" not in result.output, \
        result.output
    return result.exit_code, result.output


def policy_says(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return run(["validate", str(path)])


def mapping_says(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "c.csv").write_text(CSV, encoding="utf-8")
    return run(["facts", f"csv:{tmp_path / 'c.csv'}", "--mapping", str(path)])


def policy_test_says(tmp_path: Path, text: str) -> tuple[int, str]:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    path = tmp_path / "p.test.yaml"
    path.write_text(text, encoding="utf-8")
    return run(["test", str(path)])


TEST_HEAD = 'policy: p.yaml\nas_of: "2026-11-02"\ncases: []\n'
KINDS = {  # (how to run, head of the file, exit code)
    "policy": (policy_says, POLICY, 1),
    "mapping": (mapping_says, "", 2),
    "policy test": (policy_test_says, TEST_HEAD, 2),
}


def located(out: str, name: str, line: int | None) -> str:
    """The error line naming `name`, at `line` when given."""
    first = next(x for x in out.splitlines() if name in x and ": " in x)
    if line is not None:
        assert re.search(rf"{re.escape(name)}:{line}:[0-9]+: ", first), first
    return first


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_expanding_or_foreign_constructs_are_refused_at_their_line(
        tmp_path: Path, kind: str, case: str) -> None:
    says, head, code = KINDS[kind]
    fragment, message = HOSTILE[case]
    exit_code, out = says(tmp_path, head + fragment)
    assert exit_code == code, out
    line = head.count("\n") + next(i for i, x in enumerate(fragment.splitlines(), 1)
                                   if any(t in x for t in ("&", "*", "<<", "!")))
    first = located(out, {"policy": "p.yaml", "mapping": "m.yaml",
                          "policy test": "p.test.yaml"}[kind], line)
    assert message in first, first


@pytest.mark.parametrize("case", sorted(DIRECTIVES))
def test_tag_directives_cannot_bring_in_a_foreign_tag(tmp_path: Path, case: str) -> None:
    text, message, line = DIRECTIVES[case]
    code, out = policy_says(tmp_path, text)
    assert code == 1 and message in located(out, "p.yaml", line), out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_too_big_a_file_is_refused_with_its_size_and_the_limit(tmp_path: Path,
                                                              kind: str) -> None:
    says, head, code = KINDS[kind]
    filler = "# " + "x" * 98 + "\n"
    text = head + filler * (yamlpos.MAX_FILE_BYTES // 100 + 10)
    exit_code, out = says(tmp_path, text)
    size = len(text.encode())
    assert exit_code == code, out
    assert f"is {size:,} bytes, over the limit of {yamlpos.MAX_FILE_BYTES:,} bytes" in out


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("style", ["flow", "block", "block list"])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, kind: str,
                                                       style: str) -> None:
    """10,000 levels: was an unlocated RecursionError."""
    says, head, code = KINDS[kind]
    deep = {"flow": "x: " + "[" * 10_000 + "]" * 10_000 + "\n",
            "block": "x:\n" + "".join(" " * i + "k:\n" for i in range(1, 200)) + " " * 200
                     + "v\n",
            "block list": "x:\n" + "- " * 10_000 + "v\n"}[style]
    exit_code, out = says(tmp_path, head + deep)
    assert exit_code == code, out
    assert f"YAML nested more than {yamlpos.MAX_DEPTH} levels deep" in out
    assert re.search(r"\.yaml:[0-9]+:[0-9]+: ", out), out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_too_many_values_is_refused_with_the_limit(tmp_path: Path, kind: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader's count, lowered here to keep the test quick (the real
    100,000: tests/test_yaml_core.py), is the same for the three kinds."""
    monkeypatch.setattr(yamlpos, "MAX_NODES", 500)
    says, head, code = KINDS[kind]
    text = head + "x: [" + "1," * 505 + "1]\n"
    exit_code, out = says(tmp_path, text)
    assert exit_code == code, out
    first = located(out, {"policy": "p.yaml", "mapping": "m.yaml",
                          "policy test": "p.test.yaml"}[kind], head.count("\n") + 1)
    assert "more than 500 YAML values in one file" in first


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("what", ["value", "key"])
def test_a_huge_single_value_or_key_is_refused_with_its_length(tmp_path: Path, kind: str,
                                                              what: str) -> None:
    says, head, code = KINDS[kind]
    big = "k" * (yamlpos.MAX_SCALAR_CHARS + 1)
    text = head + (f"x: {big}\n" if what == "value" else f"? {big}\n: 1\n")
    exit_code, out = says(tmp_path, text)
    assert exit_code == code, out
    first = located(out, {"policy": "p.yaml", "mapping": "m.yaml",
                          "policy test": "p.test.yaml"}[kind], head.count("\n") + 1)
    assert f"a YAML value of {len(big):,} characters, over the limit of " \
           f"{yamlpos.MAX_SCALAR_CHARS:,}" in first


@pytest.mark.parametrize("section, noun, limit", MAX_COUNTS)
def test_each_section_count_is_limited_with_the_limit_in_the_message(
        tmp_path: Path, section: tuple, noun: str, limit: int) -> None:
    n = limit + 1
    if section == ("rules",):
        body = "rules:\n" + "".join(f"  - {{id: r{i}, when: revenue_12m < {i}, action: flag}}\n"
                                    for i in range(n))
    elif section == ("timing", "referrals"):
        body = POLICY + "timing:\n  referrals:\n" + "  - {vendors: [V]}\n" * n
    elif section in (("exemptions",), ("holds",)):
        item = "{id: e%d, reason: r, approver: a, expires: '2027-01-01', customers: [C1]}" \
            if section == ("exemptions",) else "{id: e%d, when: 'true', reason: r}"
        body = POLICY + f"{section[0]}:\n" + "".join(f"  - {item % i}\n" for i in range(n))
    else:
        value = {"facts": "{type: number}", "params": "1", "derive": "revenue_12m"}[section[0]]
        body = POLICY + f"{section[0]}:\n" + "".join(f"  n{i}: {value}\n" for i in range(n))
    text = 'version: "1"\nname: y\n' + body if section == ("rules",) else body
    code, out = policy_says(tmp_path, text)
    assert code == 1, out
    first = out.splitlines()[0]
    assert f"{'/'.join(section)}: {n:,} {noun}, over the limit of {limit:,} in one policy" \
        in first, first


def test_half_a_million_tiny_rules_are_refused_quickly(tmp_path: Path) -> None:
    """The issue's 50 MB policy of half a million rules (311 s, 5 GB): now
    refused by its size before it is parsed; under 4 MB, by the count."""
    rule = "- {id: r, when: 'true', action: flag}\n"
    code, out = policy_says(tmp_path, 'version: "1"\nname: y\nrules:\n' + rule * 500_000)
    assert code == 1 and "over the limit of 4,194,304 bytes" in out, out


def test_a_policy_at_the_limits_still_validates(tmp_path: Path) -> None:
    """The limits are far above a real policy: 1,000 rules validate."""
    text = 'version: "1"\nname: y\nrules:\n' + "".join(
        f"  - {{id: r{i}, title: t, when: revenue_12m < {i}, action: flag}}\n"
        for i in range(1000))
    code, out = policy_says(tmp_path, text)
    assert code == 0, out


# The first value more than MAX_DEPTH levels deep in `x: <deep>` (x's mapping
# is level 1): the 64th "[" (column 3 + 64), the key b in the 63rd "{",
# the 64th "- " of a block list on the next line.
DEEP_AT = {
    "flow list": (lambda n: "x: " + "[" * n + "]" * n + "\n", 0, 67),
    "flow map": (lambda n: "x: " + "{b: " * n + "1" + "}" * n + "\n", 0, 3 + 4 * 62 + 2),
    "block list": (lambda n: "x:\n" + "- " * n + "v\n", 1, 1 + 2 * 63),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("shape", sorted(DEEP_AT))
@pytest.mark.parametrize("levels", [70, 100_000])
def test_too_deep_is_located_where_the_limit_is_passed_however_deep_the_file(
        tmp_path: Path, kind: str, shape: str, levels: int) -> None:
    """100,000 "[" on one line was located at column 1,003 (where libyaml's
    own bound of 1,000 levels is passed, scanning ahead), 70 at column 67:
    the place is where the 65th level starts, whatever path refused it."""
    says, head, code = KINDS[kind]
    make, extra_lines, column = DEEP_AT[shape]
    exit_code, out = says(tmp_path, head + make(levels))
    assert exit_code == code, out
    name = {"policy": "p.yaml", "mapping": "m.yaml", "policy test": "p.test.yaml"}[kind]
    line = head.count("\n") + 1 + extra_lines
    first = located(out, name, None)
    assert f"{name}:{line}:{column}: YAML nested more than {yamlpos.MAX_DEPTH} levels deep" \
        in first, first


def test_too_deep_after_a_recursion_error_is_located_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The other fallback path (a RecursionError while composing) names the
    same place, not just the file."""
    class Recursing:
        def __init__(self, stream: str) -> None:
            pass

        def get_single_node(self) -> None:
            raise RecursionError

    monkeypatch.setattr(yamlpos, "_Loader", Recursing)
    with pytest.raises(yamlpos.PolicyError) as info:
        yamlpos.load_with_positions("a:\n  b: " + "[" * 100 + "]" * 100 + "\n", "d.yaml")
    assert str(info.value.location) == "d.yaml:2:68", info.value.location
