"""docs/sources.md's CSV section is run: each ```console block of it runs
in a sandbox (tests/docrun.py) and must print what the page shows; its
links to other sections of the page lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

from docrun import ROOT, run_file

PAGE = ROOT / "docs" / "sources.md"


def csv_section() -> tuple[int, str]:
    """(line where "## CSV" starts, counting from 0; the section's text)."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index("\n## CSV\n") + 1
    end = text.index("\n## ", start) + 1
    return text.count("\n", 0, start), text[start:end]


def test_every_console_block_of_the_csv_section_runs_as_shown(tmp_path: Path):
    first, section = csv_section()
    page = tmp_path / "sources.md"
    page.write_text("\n" * first + section, encoding="utf-8")  # the page's line numbers
    failures, count = run_file(page)
    assert count >= 8
    assert not failures, "\n\n".join(failures)


def test_the_csv_section_covers_what_the_readme_promises():
    _, section = csv_section()
    for heading in ("### The file", "### CSV options", "### Encodings", "### Decimal commas",
                    "### CSV mappings"):
        assert f"\n{heading}\n" in section, heading
    for option in ("delimiter", "encoding", "timezone"):
        assert f"| `{option}` |" in section, option
    assert "(../schemas/mapping.schema.json)" in section
    assert (ROOT / "schemas" / "mapping.schema.json").is_file()


def test_the_csv_section_links_lead_somewhere():
    text = PAGE.read_text(encoding="utf-8")
    _, section = csv_section()
    pages = {"": text}
    for target in re.findall(r"\]\(([^)\s]*#[^)\s]+)\)", section):
        name, anchor = target.split("#", 1)
        if name not in pages:
            pages[name] = (PAGE.parent / name).read_text(encoding="utf-8")
        titles = re.findall(r"^#+ (.+)$", pages[name], flags=re.MULTILINE)
        slugs = {re.sub(r"[^\w\- ]", "", t.strip().lower()).replace(" ", "-") for t in titles}
        assert anchor in slugs, f"{target}: no such section"


def test_the_decimal_comma_sentence_states_the_value_the_example_prints():
    """The sentence after the decimal-comma example names the exact values
    `adieu facts` prints in it (it said "125,500" while the output showed
    125500.0); the example's own output is checked by the docrun test."""
    _, section = csv_section()
    part = section.split("### Decimal commas\n", 1)[1]
    block = re.search(r"```console\n(.*?)```", part, re.S).group(1)
    printed = re.findall(r"^  revenue_12m = (\S+) ", block, re.M)
    assert printed == ["125500.0", "88000"]
    prose = " ".join(part[part.index("```", part.index(block)) + 3:].split())
    assert prose.startswith(f"The revenue is in thousands (`scale: 1000`): `125,5` is "
                            f"`{printed[0]}`, exactly")
    assert f"`{printed[1]}`" in prose.split("Without", 1)[0]
