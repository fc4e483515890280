"""Every `docs/NAME.md` that the code, the schemas, the README and the docs
name is a page that exists (the mapping schema named docs/mappings.md,
which never did)."""

from __future__ import annotations

import re

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
