"""Getting started: adieu init (starter files), adieu policies (the shipped
policies) and adieu schema (the shipped JSON Schemas)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import resources
from ..errors import InputError, PolicyErrors
from ..policy import load_policy
from ..safe_text import echo, json_text
from ..starter import check_folder_name, next_commands, write_starter
from .common import json_option


def shipped_policies() -> list[dict[str, Any]]:
    """The policies shipped with adieu (policies/*.yaml, not the tests),
    sorted by name, each {"name": what `adieu validate NAME` takes,
    "policy_name", "policy_version": the policy's own name and version
    (the runs table's columns), "path": the installed file, "test_path":
    its policy test file or None}."""
    folder = resources.data_root() / "policies"
    out = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        try:
            policy = load_policy(path)
            name, version = policy.name, policy.version
        except PolicyErrors:  # a damaged install: listed, not hidden
            name, version = None, None
        tests = path.with_name(path.stem + ".test.yaml")
        out.append({"name": path.stem, "policy_name": name, "policy_version": version,
                    "path": str(path), "test_path": str(tests) if tests.is_file() else None})
    return out


def _complete_schema(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[str]:
    """Shell completion of `adieu schema NAME`: the shipped schema names."""
    names = [*resources.schema_names(), *resources.SCHEMA_ALIASES]
    return sorted(n for n in names if n.startswith(incomplete))


def _doc_names() -> dict[str, Path]:
    """The installed documents: name (file name without .md) -> path."""
    return {p.stem: p for p in sorted(resources.docs_path().glob("*.md"))}


def _complete_doc(ctx: click.Context, param: click.Parameter,
                  incomplete: str) -> list[str]:
    """Shell completion of `adieu docs NAME`."""
    return [n for n in _doc_names() if n.startswith(incomplete)]


def _list_files(names: dict[str, Path]) -> None:
    """One line a name: the name, padded, and its file."""
    width = max((len(n) for n in names), default=4)
    for known, path in names.items():
        echo(f"{known:<{width}}  {path}")


def _print_file(path: Path, as_path: bool) -> None:
    """Print PATH itself (as_path) or its text as it is."""
    if as_path:
        echo(str(path))
    else:
        echo(path.read_text(encoding="utf-8"), nl=False, keep="\n")


def register(cli: click.Group) -> None:
    @cli.command(name="init")
    @click.argument("directory", default=".", metavar="[DIR]", type=click.Path())
    @click.option("--force", is_flag=True, help="Overwrite files that are already there.")
    def init(directory: str, force: bool) -> None:
        """Write starter files into DIR (default: the current folder).

        policy.yaml (a copy of the shipped default policy), policy.test.yaml
        (its policy tests), customers.mapping.yaml (the CSV mapping to edit
        when your columns have other names) and customers.csv (25 sample
        customers). Each YAML file starts with a `# yaml-language-server:
        $schema=file://...` line naming the installed schema, so editors
        with the YAML language server check it as you type. The names fit
        the pre-commit hooks (.pre-commit-hooks.yaml) whether DIR is
        policies, another folder or the current one. All or nothing: on an
        error (a file already there without --force, a full disk) nothing
        is left behind, exit 2. Prints the next three commands: validate,
        test, evaluate.
        """
        check_folder_name(directory)  # "" is no folder, though Path("") is "."
        written = write_starter(Path(directory), force=force)
        for path in written:
            echo(f"wrote {path}")
        echo("")
        echo("Next:")
        for line in next_commands(directory):
            echo(f"  {line}")

    @cli.command(name="policies")
    @json_option
    def policies(as_json: bool) -> None:
        """List the policies shipped with adieu: the name that `adieu
        validate NAME` and `adieu evaluate NAME` take, the policy's version
        and where the file (and its policy tests) are installed.
        Copy one to start your own (or run `adieu init`). --json: a list
        of {name, policy_name, policy_version, path, test_path} (`adieu
        schema policies.output`)."""
        rows = shipped_policies()
        if as_json:
            click.echo(json_text(rows, indent=2))
            return
        versions = ["?" if r["policy_version"] is None else f"v{r['policy_version']}"
                    for r in rows]
        width = max((len(r["name"]) for r in rows), default=4)
        vwidth = max((len(v) for v in versions), default=2)
        for r, version in zip(rows, versions, strict=True):
            echo(f"{r['name']:<{width}}  {version:<{vwidth}}  {r['path']}")
            if r["test_path"]:
                echo(f"{'':<{width}}  {'':<{vwidth}}  tests: {r['test_path']}")

    @cli.command(name="docs")
    @click.argument("name", required=False, shell_complete=_complete_doc)
    @click.option("--path", "as_path", is_flag=True,
                  help="Print the document's path instead of its text.")
    def docs(name: str | None, as_path: bool) -> None:
        """Print one of adieu's documents (Markdown), or list them.

        The help texts and the starter files name documents by their
        path in the repository (docs/sources.md); NAME is the file name
        without .md (sources, ops-guide, policy-reference ...). A wheel installs them under
        <prefix>/share/adieu/docs; a checkout has them in docs/. With no
        NAME: each document's name and file. Unknown NAME: exit 2, listing
        the names.
        """
        names = _doc_names()
        if name is None:
            _list_files(names)
            return
        key = name.removeprefix("docs/").removesuffix(".md")
        path = names.get(key)
        if path is None:
            raise InputError(f"unknown document {name!r} (known: {', '.join(names)})")
        _print_file(path, as_path)

    @cli.command(name="schema")
    @click.argument("name", required=False, shell_complete=_complete_schema)
    @click.option("--list", "as_list", is_flag=True,
                  help="List the schema names and their files instead.")
    @click.option("--path", "as_path", is_flag=True,
                  help="Print the schema file's path instead of its text.")
    def schema(name: str | None, as_list: bool, as_path: bool) -> None:
        """Print one of adieu's JSON Schemas (draft 2020-12).

        NAME is policy, mapping, test (policy test files), customer, or any
        other schema adieu ships (`adieu schema --list`). Each schema's
        `$id` is its file name, so it resolves against where it was read
        from (the installed file). Unknown NAME: exit 2, listing the names.
        """
        names = resources.schema_names()
        if as_list:
            _list_files(names)
            return
        known_text = ", ".join([*names, *resources.SCHEMA_ALIASES])
        if name is None:
            raise click.UsageError(f"give a schema name: {known_text} (or --list)")
        path = resources.find_schema(name)
        if path is None:
            raise InputError(f"unknown schema {name!r} (known: {known_text})")
        _print_file(path, as_path)
