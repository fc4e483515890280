"""docs/ops-guide.md is run: every ```console block's commands run in a
sandbox and their output must be what the guide shows (tests/docrun.py has
the convention and the markers). Also the runner itself: its matching,
markers and failure reports, on small Markdown files."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from docrun import ROOT, DocrunError, matches, parse, run_file

GUIDE = ROOT / "docs" / "ops-guide.md"

# Sections of the monthly cycle that other branches of issue 11 add before
# "## Exit codes" (design note: i11-test, i11-diff, i11-brief, i11-report).
# Until they are merged their anchors may be missing here; once merged,
# test_every_link_of_the_guide_names_a_section checks them like the rest.
SECTIONS_OF_OTHER_BRANCHES = {
    "testing-a-policy", "what-a-change-does-diff", "the-offboarding-brief",
    "the-report-and-segments",
}

CYCLE = ["edit", "validate", "test", "diff", "try", "run", "list", "review", "write",
         "report"]


def anchors(text: str) -> set[str]:
    """GitHub's anchors of the Markdown headings of TEXT."""
    found = set()
    for title in re.findall(r"^#+ (.+)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "guide.md"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- the guide ----------------------------------------------------------------

def test_every_console_block_of_the_ops_guide_runs_as_shown():
    failures, count = run_file(GUIDE)
    assert count >= 50
    assert not failures, "\n\n".join(failures)


def test_every_adieu_command_of_the_guide_is_in_a_console_block():
    text = GUIDE.read_text(encoding="utf-8")
    run = {c.shell for b in parse(GUIDE) for c in b.commands}
    shown = re.findall(r"^\s*\$ (.*adieu .*)$", text, re.MULTILINE)
    assert shown
    assert set(shown) <= run
    for fence in re.finditer(r"^ *```([^\n]*)\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL):
        if fence.group(1) != "console":
            assert not re.search(r"^\s*\$ ", fence.group(2), re.MULTILINE), fence.group(0)


def test_the_monthly_cycle_lists_the_ten_steps_in_order_with_links():
    text = GUIDE.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings.index("The monthly cycle") < headings.index("The outcomes")
    section = text.split("## The monthly cycle\n", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^(\d+)\. \*\*(\w+)\*\* .*?\]\(#([\w-]+)\)", section, re.MULTILINE)
    assert [int(n) for n, _, _ in steps] == list(range(1, 11))
    assert [word.lower() for _, word, _ in steps] == CYCLE
    for command in ("validate", "test", "diff", "evaluate --dry-run", "pending", "approve",
                    "brief", "report"):
        assert f"(`{command}`" in section or f"`{command}`," in section, command


def test_every_link_of_the_guide_names_a_section():
    text = GUIDE.read_text(encoding="utf-8")
    known = anchors(text) | SECTIONS_OF_OTHER_BRANCHES
    links = re.findall(r"\]\(#([\w-]+)\)", text)
    assert "running-it-over-the-customer-base" in links
    assert sorted(set(links) - known) == []


# -- the runner ---------------------------------------------------------------

@pytest.mark.parametrize(("expected", "actual", "ok"), [
    (["a", "b"], ["a", "b"], True),
    (["a", "b"], ["a", "c"], False),
    (["a", "...", "d"], ["a", "b", "c", "d"], True),
    (["a", "...", "d"], ["a", "d"], True),
    (["a", "...", "d"], ["a", "b"], False),
    (["cost ... of revenue"], ["cost 36,317 over 12 months of revenue"], True),
    (["cost ... of revenue"], ["cost 36,317", "of revenue"], False),
    (["run 1 stored in ... s"], ["run 1 stored in 0.1 s  "], True),
    (["x", ""], ["x", "", ""], True),
    (["x", "", "y"], ["x", "y"], False),
    (["a.b"], ["axb"], False),
    ([], [], True),
    ([], ["unexpected"], False),
])
def test_output_matching(expected: list[str], actual: list[str], ok: bool):
    assert matches(expected, actual) is ok


def test_a_wrong_output_is_reported_with_line_command_and_diff(tmp_path: Path):
    path = write(tmp_path, """\
        # Guide

        ```console
        $ echo one; echo two >&2
        one
        two
        $ printf 'a\\nb\\n'
        a
        c
        ```
        """)
    failures, count = run_file(path)
    assert count == 2
    assert len(failures) == 1
    assert failures[0].startswith(f"{path}:7: $ printf 'a\\nb\\n'\n")
    assert "--- expected\n+++ actual\n" in failures[0]
    assert "\n-c\n+b" in failures[0]


def test_exit_codes_are_checked_per_command(tmp_path: Path):
    path = write(tmp_path, """\
        <!-- docrun: exit 0 3 -->
        ```console
        $ true
        $ exit 3
        ```

        ```console
        $ false
        ```
        """)
    failures, _ = run_file(path)
    assert len(failures) == 1
    assert ":8: $ false\nexit code 1, expected 0" in failures[0]


def test_the_sandbox_and_the_markers(tmp_path: Path):
    path = write(tmp_path, """\
        ```console
        $ ls
        examples
        home
        policies
        $ touch made-here; echo "${ADIEU_DB:-unset} $COLUMNS"; command -v adieu
        unset 100
        .../bin/adieu
        $ export X=1; cd policies
        $ echo "$X $(basename "$PWD")"
        1 policies
        ```

        <!-- docrun: setup: echo hidden > note.txt -->
        <!-- docrun: cwd examples -->
        ```console
        $ echo "${X:-gone} $(basename "$PWD")"; cat note.txt; ls ../made-here
        gone examples
        hidden
        ../made-here
        ```

        <!-- docrun: fresh -->
        ```console
        $ ls made-here
        ls: cannot access 'made-here': No such file or directory
        ```
        """)
    failures, count = run_file(path)
    assert count == 6
    assert len(failures) == 1, failures  # the fresh sandbox has no made-here ...
    assert "exit code 2, expected 0" in failures[0]  # ... and ls says so


def test_the_clock_marker_is_what_adieu_sees_as_today_and_now(tmp_path: Path):
    # default.yaml's exemption strategic-accounts expires on 2027-06-30.
    path = write(tmp_path, """\
        <!-- docrun: clock 2027-07-01T10:00:00+00:00 -->
        ```console
        $ adieu validate policies/default.yaml | grep -c expired-exemption
        1
        1 warning(s)
        $ adieu exempt C1 --all --reason r --approver a --until 2027-06-01 --new-customer --db x.db
        exemption registry-1 recorded for C1: all rules until 2027-06-01 (approved by a)
        warning: --until 2027-06-01 is not after today (2027-07-01): ...
        ```

        ```console
        $ adieu exempt C1 --all --reason r --approver a --until 2027-08-01 --new-customer --db x.db
        ...
        $ sqlite3 x.db "select recorded_at from exemptions"
        2027-07-01T10:00:00+00:00
        2027-07-01T10:00:00+00:00
        ```

        <!-- docrun: clock 2026-11-01T08:00:00+00:00 -->
        ```console
        $ adieu validate policies/default.yaml
        policies/default.yaml: ok (13 rules, 10 derived facts, 2 exemptions, 1 holds)
        ```
        """)
    failures, count = run_file(path)
    assert count == 5
    assert not failures, "\n\n".join(failures)


def test_a_failing_setup_is_reported(tmp_path: Path):
    path = write(tmp_path, """\
        <!-- docrun: setup: echo broken; exit 4 -->
        ```console
        $ true
        ```
        """)
    failures, _ = run_file(path)
    assert len(failures) == 1
    assert failures[0].startswith(f"{path}:2: setup `echo broken; exit 4` exited 4\nbroken")


@pytest.mark.parametrize(("text", "message"), [
    ("<!-- docrun: frehs -->\n```console\n$ true\n```\n", "unknown docrun marker 'frehs'"),
    ("<!-- docrun: exit 0 0 -->\n```console\n$ true\n```\n", "2 exit codes for 1 commands"),
    ("```console\noutput first\n$ true\n```\n", "output before the block's first"),
    ("```console\n```\n", "console block without a `$ ` command"),
])
def test_a_block_that_breaks_the_convention_is_refused(tmp_path: Path, text: str,
                                                         message: str):
    path = write(tmp_path, text)
    with pytest.raises(DocrunError, match=re.escape(message)):
        parse(path)


def test_an_indented_block_and_markers_away_from_a_block():
    path = ROOT / "docs" / "ops-guide.md"
    blocks = parse(path)
    typo = next(b for b in blocks if "late_payment_limt" in b.commands[0].shell)
    assert typo.exits == [0, 1]
    assert typo.commands[1].shell == "adieu validate policies/typo.yaml"
    assert typo.commands[1].expected[-1] == "1 error(s)"  # indentation taken off
    assert all(not b.setup for b in blocks if b.line < typo.line)


def test_the_exit_codes_section_names_test_and_diff():
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    one = next(line for line in section.splitlines() if line.startswith("| 1 |"))
    zero = next(line for line in section.splitlines() if line.startswith("| 0 |"))
    assert "`adieu test`" in one and "--coverage-min" in one
    assert "`adieu diff`" in zero and "whatever it moves" in zero
