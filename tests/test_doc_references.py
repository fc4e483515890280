"""Every `docs/NAME.md` that the code, the schemas, the README and the docs
name is a page that exists (the mapping schema named docs/mappings.md,
which never did)."""

from __future__ import annotations

import re
from pathlib import Path

from docrun import ROOT

PLACES = ["README.md", "CHANGELOG.md", ".pre-commit-hooks.yaml", "pyproject.toml"]
FOLDERS = {"schemas": "*.json", "engine": "*.py", "plugins": "*.py", "docs": "*.md",
           "policies": "*.yaml"}


def test_every_docs_page_named_exists():
    files = [ROOT / p for p in PLACES]
    for folder, pattern in FOLDERS.items():
        files += sorted((ROOT / folder).rglob(pattern))
    named = {}
    for path in files:
        for page in re.findall(r"docs/[\w.-]+\.md", path.read_text(encoding="utf-8")):
            named.setdefault(page, path.relative_to(ROOT))
    assert "docs/sources.md" in named
    missing = {page: str(where) for page, where in named.items() if not (ROOT / page).is_file()}
    assert not missing, f"pages named but not there (page: first file naming it): {missing}"


def _without_code(text: str) -> str:
    return re.sub(r"^ *```.*?^ *```", "", text, flags=re.MULTILINE | re.DOTALL)


def _anchors(text: str) -> set[str]:
    """GitHub's anchors of the headings of a Markdown text (code blocks left out)."""
    titles = re.findall(r"^#+ (.+)$", _without_code(text), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", t.strip().lower()).replace(" ", "-") for t in titles}


def test_every_link_of_the_docs_leads_to_a_file_and_section():
    """README, CHANGELOG and docs/*.md: a relative link names a file that
    exists and, after '#', a section of it (docs/policy-reference.md linked
    `#date`, a section called `date("YYYY-MM-DD")`)."""
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
    anchors: dict[Path, set[str]] = {}
    broken = []
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", _without_code(page.read_text("utf-8"))):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            name, _, anchor = target.partition("#")
            path = (page.parent / name).resolve() if name else page
            checked += 1
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}: no such file")
            elif anchor and path.suffix == ".md":
                if path not in anchors:
                    anchors[path] = _anchors(path.read_text(encoding="utf-8"))
                if anchor not in anchors[path]:
                    broken.append(f"{page.relative_to(ROOT)}: {target}: no such section")
    assert checked > 50
    assert not broken, "\n".join(broken)
