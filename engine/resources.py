"""Find the shipped schemas and policies, from a checkout, an editable
install or a wheel (installed as data files under <prefix>/share/adieu)."""

from __future__ import annotations

import json
import sys
import sysconfig
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

_MARKER = Path("schemas") / "policy.schema.json"


def _package_dir() -> Path:
    """The folder this module was imported from (engine/ in a checkout,
    <site-packages>/adieu in an install)."""
    return Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    """Where the data files may be, in a fixed order (a list, duplicates
    removed in order; never a set, whose order changes with the hash seed):
    the checkout (engine/..), then <prefix>/share/adieu of the installation
    adieu is imported from (the folders above the package: site-packages/
    adieu -> lib/pythonX.Y -> lib -> prefix, or Lib/site-packages on
    Windows), then sys.prefix's, the data scheme path's, the base
    interpreter's and the user scheme's. So a venv's adieu uses the venv's
    files even when another adieu is installed in the base interpreter."""
    here = _package_dir()
    roots = [here.parent]  # checkout or editable install: engine/../
    roots += [up / "share" / "adieu" for up in here.parents[:4]]
    prefixes = [sys.prefix, sysconfig.get_path("data"), sys.base_prefix]
    try:
        prefixes.append(sysconfig.get_path("data", sysconfig.get_preferred_scheme("user")))
    except KeyError:  # pragma: no cover - platforms without a user scheme
        pass
    roots += [Path(p) / "share" / "adieu" for p in prefixes if p]
    return list(dict.fromkeys(roots))


@lru_cache(maxsize=1)
def data_root() -> Path:
    """The folder holding schemas/ and policies/."""
    for root in _candidates():
        if (root / _MARKER).is_file():
            return root
    raise FileNotFoundError("adieu's schemas are not installed (looked in: "
                            + ", ".join(str(p) for p in _candidates()) + ")")


def schema_path(name: str) -> Path:
    return data_root() / "schemas" / name


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load one of the shipped JSON Schemas by file name."""
    return json.loads(schema_path(name).read_text(encoding="utf-8"))


def docs_path(name: str = "") -> Path:
    """A document (NAME: "sources" for docs/sources.md) or, with no name, the docs folder: the
    checkout's docs/, or the copy installed under <prefix>/share/adieu/docs
    (a wheel ships them there, as it ships the schemas)."""
    folder = data_root() / "docs"
    if name and not name.endswith(".md"):
        name += ".md"
    return folder / name if name else folder


def policy_path(name: str) -> Path:
    """A shipped policy, e.g. policy_path("default.yaml")."""
    return data_root() / "policies" / name


# Short names `adieu schema NAME` also takes for a schema whose file name
# is longer: "test" is the policy test file's schema.
SCHEMA_ALIASES = {"test": "policy-test"}


def schema_names() -> dict[str, Path]:
    """Every shipped schema, found in the schemas folder (so schemas added
    later are served too): name -> path, the name being the file name
    without ".schema.json" ("policy", "policy-test", ...), sorted by name."""
    folder = data_root() / "schemas"
    return {p.name[: -len(".schema.json")]: p
            for p in sorted(folder.glob("*.schema.json"))}


def find_schema(name: str) -> Path | None:
    """The schema file for `name`: a name from schema_names(), an alias
    (SCHEMA_ALIASES: "test") or a file name ("policy.schema.json"); None
    if there is no such schema."""
    names = schema_names()
    key = SCHEMA_ALIASES.get(name, name)
    if key.endswith(".schema.json"):
        key = key[: -len(".schema.json")]
    return names.get(key)


def schema_registry() -> Any:
    """A referencing.Registry holding every shipped schema under its `$id`,
    which is its file name (e.g. "decision.schema.json"): a `$ref` from one
    shipped schema to another by file name resolves to the shipped file,
    with no network access. Pass it as jsonschema's `registry=`."""
    from referencing import Registry, Resource

    return Registry().with_resources(
        (path.name, Resource.from_contents(load_schema(path.name)))
        for path in schema_names().values())
