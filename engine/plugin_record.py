"""Which plugins a run used, recorded with the run (runs.plugins), and what
is missing of them now.

A run records every plugin it used: the plugin of each source kind it read
and of each function its policy calls. One entry per plugin:

    {"plugin": "billing", "name": "adieu-billing", "version": "0.3.0",
     "provides": ["source billing", "function fx_to_eur"]}

`plugin` is the entry-point name (group "adieu"), `name` and `version` the
distribution that installs it (importlib.metadata), so that
`pip install 'NAME==VERSION'` brings it back. Built-in source kinds are
recorded the same way (name "adieu"). docs/plugins.md, "What a run records".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import jsontext
from .errors import InputError, PolicyErrors, StoreError
from .plugins import Registry
from .policy import Policy, compile_policy
from .sources import SourceKind
from .stored_values import HINT


def _distribution(reg: Registry, plugin: str) -> tuple[str, str]:
    """(distribution name, version) of an entry-point plugin; ("unknown", "")
    when the plugin was registered otherwise (a test, say)."""
    text = reg.versions.get(plugin)
    if not text or text == "unknown" or " " not in text:
        return ("unknown", "")
    name, _, version = text.rpartition(" ")
    return (name, version)


def used_plugins(policy: Policy, kinds: Iterable[SourceKind], reg: Registry) \
        -> list[dict[str, Any]]:
    """The plugins a run over `kinds` under `policy` uses, sorted by plugin
    name (see the module docstring for the shape)."""
    provides: dict[str, list[str]] = {}
    for kind in kinds:
        provides.setdefault(kind.plugin, []).append(f"source {kind.kind}")
    for name, spec in sorted(policy.compiler.extra_used.items()):
        provides.setdefault(spec.plugin, []).append(f"function {name}")
    out = []
    for plugin in sorted(provides):
        dist, version = _distribution(reg, plugin)
        out.append({"plugin": plugin, "name": dist, "version": version,
                    "provides": list(dict.fromkeys(provides[plugin]))})
    return out


def recorded_plugins(run: dict[str, Any]) -> list[dict[str, Any]]:
    """runs.plugins as a list (empty for runs recorded before migration m005)."""
    text = run.get("plugins")
    if not text:
        return []
    value = jsontext.loads(text)
    return value if isinstance(value, list) else []


def _installed(entry: dict[str, Any], reg: Registry) -> bool:
    """Is what the entry provided installed now?"""
    for item in entry.get("provides", []):
        what, _, name = str(item).partition(" ")
        if what == "function" and name not in reg.functions:
            return False
        if what == "source" and name not in reg.sources:
            return False
    return True


def missing_plugins(run: dict[str, Any], reg: Registry, functions_only: bool = True) \
        -> list[dict[str, Any]]:
    """The run's recorded plugins whose functions (and, unless
    functions_only, source kinds) are not installed now."""
    out = []
    for entry in recorded_plugins(run):
        provides = [p for p in entry.get("provides", [])
                    if not functions_only or str(p).startswith("function ")]
        if provides and not _installed({**entry, "provides": provides}, reg):
            out.append(entry)
    return out


def function_of(run: dict[str, Any], function: str) -> dict[str, Any] | None:
    """The recorded plugin that provided `function` to the run, if any."""
    for entry in recorded_plugins(run):
        if f"function {function}" in entry.get("provides", []):
            return entry
    return None


def described(entry: dict[str, Any]) -> str:
    """"adieu-billing 0.3.0" (or the plugin's name when no distribution is known)."""
    if entry.get("name") in (None, "", "unknown"):
        return f"plugin {entry.get('plugin')}"
    return f"{entry['name']} {entry['version']}".strip()


def pip_hint(entry: dict[str, Any]) -> str:
    """The command that installs the recorded version again."""
    if entry.get("name") in (None, "", "unknown") or not entry.get("version"):
        return ""
    return f" (pip install '{entry['name']}=={entry['version']}')"


def needs_text(run: dict[str, Any], entry: dict[str, Any]) -> str:
    """"run 7 uses function fx_to_eur() from adieu-billing 0.3.0, which is
    not installed (pip install 'adieu-billing==0.3.0')"."""
    functions = [str(p).partition(" ")[2] + "()" for p in entry.get("provides", [])
                 if str(p).startswith("function ")]
    noun = "function" if len(functions) == 1 else "functions"
    return (f"run {run['id']} uses {noun} {', '.join(functions)} from {described(entry)}, "
            f"which is not installed{pip_hint(entry)}")


def unknown_functions(error: PolicyErrors) -> list[str]:
    """Names of the functions a stored policy failed to compile for
    (`unknown function fx_to_eur()`): a plugin no longer installed."""
    names = []
    for e in error.errors:
        match = _UNKNOWN.search(str(e))
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def compile_run_policy(run: dict[str, Any], reg: Registry) -> Policy:
    """The run's stored policy compiled with the functions installed now.

    Raises InputError (exit 2) naming the plugin and version the run needs
    when one of its functions is not installed (from runs.plugins; for a run
    recorded before plugins were, from the compile error)."""
    missing = missing_plugins(run, reg)
    if missing:
        raise InputError("; ".join(needs_text(run, entry) for entry in missing))
    try:
        return compile_policy(run["policy_text"], f"run {run['id']} policy", reg.functions)
    except PolicyErrors as exc:
        names = unknown_functions(exc)
        if names:
            raise InputError(
                f"run {run['id']} uses {', '.join(n + '()' for n in names)}, which "
                f"{'is' if len(names) == 1 else 'are'} not installed; the run predates "
                "plugin records, so which plugin gave it is not known") from None
        raise policy_text_error(run, exc) from None


def policy_text_error(run: dict[str, Any], exc: PolicyErrors) -> StoreError:
    """A stored policy_text that no longer compiles for a reason other than
    a plugin function gone (the text was edited in the database): a
    StoreError naming the run, the column and the first problem, exit 2."""
    first = exc.errors[0] if exc.errors else exc
    return StoreError(f"run {run['id']}, column policy_text: the stored policy no longer "
                      f"compiles: {first}; " + HINT)


def plugin_gone(run: dict[str, Any], reg: Registry, exc: PolicyErrors) -> bool:
    """Whether a stored policy fails to compile because a plugin function it
    uses is not installed now (else its text was damaged: policy_text_error)."""
    return bool(missing_plugins(run, reg) or unknown_functions(exc))


def version_notes(run: dict[str, Any], reg: Registry) -> list[str]:
    """For each recorded plugin installed now in another version: "run 7 used
    adieu-billing 0.3.0; 0.1.0 is installed"."""
    out = []
    for entry in recorded_plugins(run):
        plugin = entry.get("plugin")
        now = _distribution(reg, plugin) if plugin else ("unknown", "")
        if plugin in reg.provided and entry.get("version") and now[1] and \
                now[1] != entry["version"]:
            out.append(f"run {run['id']} used {described(entry)}; {now[1]} is installed")
    return out


_UNKNOWN = re.compile(r"unknown function ([A-Za-z_][A-Za-z0-9_]*)\(\)")
