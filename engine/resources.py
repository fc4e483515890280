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


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    roots = [here.parent]  # checkout or editable install: engine/../
    for scheme_path in {sysconfig.get_path("data"), sys.prefix, sys.base_prefix}:
        if scheme_path:
            roots.append(Path(scheme_path) / "share" / "adieu")
    try:
        user = sysconfig.get_path("data", sysconfig.get_preferred_scheme("user"))
    except KeyError:  # pragma: no cover - platforms without a user scheme
        user = None
    if user:
        roots.append(Path(user) / "share" / "adieu")
    return roots


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


def policy_path(name: str) -> Path:
    """A shipped policy, e.g. policy_path("default.yaml")."""
    return data_root() / "policies" / name
