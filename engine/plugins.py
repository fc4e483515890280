"""The plugin manager: hook specs, entry points of the group "adieu", and
what the installed plugins registered."""

from __future__ import annotations

import functools
import importlib.metadata
import os
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .expr import ExtraFunction
from .sources import SourceKind

ENTRY_POINT_GROUP = "adieu"


@dataclass
class Registry:
    sources: dict[str, SourceKind] = field(default_factory=dict)
    functions: dict[str, ExtraFunction] = field(default_factory=dict)
    provided: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


def make_manager() -> tuple[pluggy.PluginManager, dict[str, str], dict[str, str]]:
    """A plugin manager with every allowed plugin of the entry-point group
    loaded. ADIEU_LOAD_PLUGINS (comma-separated names) restricts which load.
    A plugin that fails to import is reported by name, not fatal."""
    pm = pluggy.PluginManager("adieu")
    pm.add_hookspecs(hookspecs)
    allow = os.environ.get("ADIEU_LOAD_PLUGINS")
    allowed = None if allow is None else {n.strip() for n in allow.split(",") if n.strip()}
    broken: dict[str, str] = {}
    versions: dict[str, str] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # any failure in third-party code
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        dist = getattr(ep, "dist", None)
        versions[ep.name] = f"{dist.name} {dist.version}" if dist else "unknown"
    return pm, broken, versions


def collect(pm: pluggy.PluginManager, broken: dict[str, str] | None = None,
            versions: dict[str, str] | None = None) -> Registry:
    """Call the registration hooks one implementation at a time, so a plugin
    whose hook fails is reported by name without stopping the others."""
    reg = Registry(broken=dict(broken or {}), versions=dict(versions or {}))
    for name, plugin in pm.list_name_plugin():
        if plugin is not None:
            reg.provided[name] = {
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
                "sources": [], "functions": []}

    def add_source(plugin: str, kind: str, reader: Any, description: str = "",
                   mapping: str | None = None, options: Any = None) -> None:
        if not isinstance(kind, str) or not kind.isidentifier() or not callable(reader):
            raise ValueError(f"bad source registration {kind!r}")
        if options is not None:
            if isinstance(options, str) or not all(isinstance(o, str) for o in options):
                raise ValueError(f"bad options of source {kind!r}: give a list of names")
            options = tuple(options)
        if kind in reg.sources:
            raise ValueError(f"source kind {kind!r} is already registered by "
                             f"{reg.sources[kind].plugin}")
        reg.sources[kind] = SourceKind(kind, reader, description, plugin,
                                       str(mapping) if mapping else None, options)
        reg.provided[plugin]["sources"].append(kind)

    def add_function(plugin: str, fname: str, fn: Any, returns: str = "any",
                     min_args: int = 0, max_args: int | None = None) -> None:
        if not isinstance(fname, str) or not fname.isidentifier() or not callable(fn):
            raise ValueError(f"bad function registration {fname!r}")
        if fname in reg.functions:
            raise ValueError(f"function {fname!r} is already registered")
        reg.functions[fname] = ExtraFunction(fname, fn, returns, min_args, max_args, plugin)
        reg.provided[plugin]["functions"].append(fname)

    for hook_name, adder in (("register_sources", add_source),
                             ("register_functions", add_function)):
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name in reg.broken:
                continue
            try:
                impl.function(register=functools.partial(adder, impl.plugin_name))
            except Exception as exc:  # third-party code: report, carry on
                reg.broken[impl.plugin_name] = f"{hook_name} failed: {type(exc).__name__}: {exc}"
                reg.provided.pop(impl.plugin_name, None)
    for name in reg.broken:
        reg.sources = {k: v for k, v in reg.sources.items() if v.plugin != name}
        reg.functions = {k: v for k, v in reg.functions.items() if v.plugin != name}
    return reg


_cached: Registry | None = None


def registry(refresh: bool = False) -> Registry:
    """The registry of installed plugins (loaded once per process)."""
    global _cached
    if _cached is None or refresh:
        pm, broken, versions = make_manager()
        _cached = collect(pm, broken, versions)
    return _cached
