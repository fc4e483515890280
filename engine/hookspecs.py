"""Hook specifications: the reference for plugin authors (docs/plugins.md)."""

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("adieu")
hookimpl = HookimplMarker("adieu")


@hookspec
def register_sources(register):
    """Register data-source kinds.

    Call ``register(kind, reader, description, mapping=None,
    options=None)`` once per kind. ``kind`` is the name used on the
    command line (``KIND:LOCATION``);
    ``reader`` is a callable ``reader(location: str, context:
    adieu.SourceContext) -> Iterator[adieu.SourceRecord]`` that yields one
    record per customer, streaming, each with its source fields and
    provenance (file, row, line); ``context`` carries the run's as-of date
    and the options of the mapping file and ``-o KEY=VALUE``. ``mapping``
    is the path of the kind's default mapping file (source field ->
    canonical fact), which users copy and edit. ``options`` is the list of
    option names the reader reads (``["delimiter", "encoding"]``): adieu
    then refuses any other, from ``-o`` or a mapping's ``options:``, with
    exit code 2 and a did-you-mean, before the reader is called. Without
    ``options`` (None, as plugins written before it) every option is
    passed on unchecked. A reader raises
    ``adieu.InputError`` with a location for input it cannot read at all; a
    record with a bad value is yielded as it is and the engine rejects it
    with the field named; a figure the input cannot give is left out and
    said in the record's ``warning``.
    """


@hookspec
def register_functions(register):
    """Register extra functions for policy expressions.

    Call ``register(name, fn, returns="any", min_args=0, max_args=None)``
    (those are the defaults; ``returns`` is "number", "string", "boolean",
    "date" or "any" and lets the validator type-check policies).
    ``fn`` is called with known argument values only (a missing argument
    makes the result unknown without calling it); returning None, or
    raising, makes the result unknown for that customer.
    """
