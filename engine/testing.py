"""A conformance kit for data-source plugins, for the plugin's own tests.

    from adieu.testing import check_plugin, check_source

    def test_my_source_conforms(tmp_path):
        check_source("billing", "tests/data/export.jsonl", bad_location="tests/data/broken.jsonl")

Each check raises AssertionError naming what is wrong, so it reads well
under pytest. See docs/plugins.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pluggy

from . import hookspecs
from .errors import AdieuError
from .intake import read_records
from .mapping import IDENTITY, load_mapping
from .plugins import Registry, collect
from .policy import canonical_facts
from .sources import SourceContext, SourceKind, SourceRecord, check_options

PLAIN_TYPES = (str, int, float, Decimal, bool, dt.date, type(None))


def registry_of(plugin: Any, name: str = "plugin-under-test") -> Registry:
    """What one plugin module (or object) registers, through a fresh plugin manager."""
    pm = pluggy.PluginManager("adieu")
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(plugin, name=name)
        pm.check_pending()  # every hook implementation has a specification
    except pluggy.PluginValidationError as exc:
        raise AssertionError(f"the plugin's hooks do not match adieu's: {exc}") from exc
    reg = collect(pm)
    assert not reg.broken, f"plugin failed while registering: {reg.broken}"
    return reg


def check_plugin(plugin: Any) -> Registry:
    """The plugin's hooks are known hooks, and what they register is well formed."""
    reg = registry_of(plugin)
    assert reg.sources or reg.functions, "the plugin registers no source kind and no function"
    for kind in reg.sources.values():
        assert kind.description, f"source kind {kind.kind!r} has no description"
        if kind.mapping:
            load_mapping(kind.mapping, canonical_facts())  # raises with the line on error
    return reg


def _kind(plugin_or_kind: Any, kind: str | None) -> SourceKind:
    if isinstance(plugin_or_kind, SourceKind):
        return plugin_or_kind
    if isinstance(plugin_or_kind, str):
        from .plugins import registry
        sources = registry().sources
        assert plugin_or_kind in sources, \
            f"source kind {plugin_or_kind!r} is not installed (known: {sorted(sources)})"
        return sources[plugin_or_kind]
    reg = registry_of(plugin_or_kind)
    assert reg.sources, "the plugin registers no source kind"
    if kind is None:
        assert len(reg.sources) == 1, "the plugin has several kinds: name one with kind="
        return next(iter(reg.sources.values()))
    return reg.sources[kind]


def check_source(plugin_or_kind: Any, location: str, *, kind: str | None = None,
                 as_of: dt.date = dt.date(2026, 11, 1), options: dict[str, Any] | None = None,
                 bad_location: str | None = None, min_records: int = 1) -> list[Any]:
    """Run a source through adieu's conformance checks and return the typed
    customer records it gave.

    plugin_or_kind: an installed kind's name ("csv"), a plugin module, or a
    SourceKind. Checks: the reader streams (returns an iterator, not a list);
    it yields SourceRecords whose values are plain (text, numbers, booleans,
    dates, None) and keyed by text; each record says where it came from
    (file and row, or provenance); mapped through the kind's default mapping
    and coerced, at least min_records customers with a customer_id come out
    and every fact has its declared type; a bad_location raises adieu's
    error type with a location, not any other exception."""
    source = _kind(plugin_or_kind, kind)
    mapping = load_mapping(source.mapping, canonical_facts()) if source.mapping else IDENTITY
    check_options(mapping.options, [source], mapping.option_lines, "in the mapping's options")
    check_options(options, [source], given="given to check_source")
    context = SourceContext(as_of, {**mapping.options, **(options or {})},
                            {name: rule.fact for name, rule in mapping.fields.items()})
    produced = source.reader(location, context)
    assert isinstance(produced, Iterator), \
        f"reader must stream (return an iterator or generator), got {type(produced).__name__}"
    records: list[SourceRecord] = []
    for record in produced:
        assert isinstance(record, SourceRecord), \
            f"reader yielded {type(record).__name__}, expected adieu.SourceRecord"
        assert isinstance(record.values, dict), "SourceRecord.values must be a dict"
        for key, value in record.values.items():
            assert isinstance(key, str), f"field name {key!r} is not text"
            assert isinstance(value, PLAIN_TYPES), \
                f"field {key!r} holds a {type(value).__name__}; use text, numbers, " \
                "booleans or dates"
        assert record.warning is None or isinstance(record.warning, str), \
            "SourceRecord.warning must be text or None"
        assert record.file or record.provenance, \
            "every record needs provenance: a file (and row) or a provenance dict"
        if record.error is None:
            assert record.row is not None or record.provenance, \
                f"record from {record.file} has neither a row number nor provenance"
        records.append(record)
    facts = canonical_facts()
    intake = read_records(iter(records), {**facts, **mapping.fact_types}, mapping,
                          with_provenance=True)
    assert len(intake.records) >= min_records, (
        f"expected at least {min_records} customer(s), got {len(intake.records)}; rejects: "
        + "; ".join(str(r) for r in intake.rejects[:5]))
    converters = {"number": (int, Decimal), "integer": (int,), "string": (str,),
                  "boolean": (bool,), "date": (dt.date,)}
    for rec in intake.records:
        assert rec.facts.get("customer_id"), "a customer without customer_id"
        for name, value in rec.facts.items():
            want = converters.get(facts.get(name, mapping.fact_types.get(name, "")))
            if want:
                assert isinstance(value, want) and not (
                    isinstance(value, bool) and bool not in want), \
                    f"fact {name!r} of {rec.customer_id} is {value!r}, not a {want}"
            assert rec.provenance.get(name), f"fact {name!r} has no provenance"
    if bad_location is not None:
        try:
            for _ in source.reader(bad_location, context):
                pass
        except AdieuError as exc:
            assert exc.location is not None and exc.location.file, \
                f"error {exc} does not name the file"
        except Exception as exc:  # the point of the check
            raise AssertionError(f"bad input raised {type(exc).__name__}: {exc}; "
                                 "raise adieu.InputError with a Location instead") from exc
        else:
            raise AssertionError(f"reading {bad_location!r} raised no error")
    return intake.records


__all__ = ["check_plugin", "check_source", "registry_of"]
