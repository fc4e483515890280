"""`adieu init`: the starter files a new user gets, built from what adieu
ships (the default policy and its tests, the CSV mapping, a small sample of
examples/customers.csv), each YAML file with a `# yaml-language-server:
$schema=...` modeline giving the absolute path of the installed schema.

The modeline form is the YAML language server's own (redhat-developer/
yaml-language-server README, "Using inlined schema": `$schema=<urlToTheSchema
|relativeFilePath|absoluteFilePath>`); an absolute path is used because the
starter folder can be anywhere, while the schema lives where adieu is
installed (resources.data_root(): the checkout, or <prefix>/share/adieu)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path

from . import resources
from .errors import InputError, Location

MODELINE = re.compile(r"\A# yaml-language-server: \$schema=[^\n]*\n")


@dataclass(frozen=True)
class StarterFile:
    """One file `adieu init` writes: its name in the folder and its text."""

    name: str
    text: str


def modeline(schema: Path) -> str:
    """The first line of a YAML file that points an editor at `schema`."""
    return f"# yaml-language-server: $schema={schema}\n"


def with_modeline(text: str, schema: Path) -> str:
    """`text` with its first-line modeline replaced (or one added) so that
    it names `schema` by absolute path."""
    return modeline(schema.resolve()) + MODELINE.sub("", text, count=1)


def _package_text(package: str, *parts: str) -> str:
    return importlib_resources.files(package).joinpath(*parts).read_text(encoding="utf-8")


def starter_files() -> list[StarterFile]:
    """policy.yaml (the shipped default), policy.test.yaml (its tests, now
    naming policy.yaml), mapping.yaml (the CSV adapter's default mapping, to
    copy and edit) and customers.csv (25 customers), in that order."""
    policy = resources.policy_path("default.yaml").read_text(encoding="utf-8")
    policy = policy.replace("adieu validate policies/default.yaml", "adieu validate policy.yaml")
    tests = resources.policy_path("default.test.yaml").read_text(encoding="utf-8")
    tests = tests.replace("policies/default.test.yaml", "policy.test.yaml")
    tests = tests.replace("default.yaml", "policy.yaml")  # `policy:` and the comments
    mapping = _package_text("adieu_plugins", "mappings", "csv.yaml")
    return [
        StarterFile("policy.yaml", with_modeline(policy, resources.schema_path(
            "policy.schema.json"))),
        StarterFile("policy.test.yaml", with_modeline(tests, resources.schema_path(
            "policy-test.schema.json"))),
        StarterFile("mapping.yaml", with_modeline(mapping, resources.schema_path(
            "mapping.schema.json"))),
        StarterFile("customers.csv", _package_text("adieu", "starter_files", "customers.csv")),
    ]


def write_starter(directory: Path, force: bool = False) -> list[Path]:
    """Write the starter files into `directory` (created if missing) and
    return their paths. Without `force`, a file that is already there is an
    InputError (exit 2) naming it, and nothing is written; so is a
    `directory` that is not a folder."""
    if directory.exists() and not directory.is_dir():
        raise InputError("is not a folder (adieu init DIR writes its files into a folder)",
                         Location(str(directory)))
    files = starter_files()
    targets = [directory / f.name for f in files]
    if not force:
        for target in targets:
            if target.exists() or target.is_symlink():
                raise InputError("already exists; nothing was written (--force "
                                 "overwrites it)", Location(str(target)))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent that is a file, no permission ...
        raise InputError(f"cannot make the folder: {exc.strerror}",
                         Location(str(directory))) from None
    for f, target in zip(files, targets, strict=True):
        if target.is_symlink():  # --force replaces the link, never writes through it
            target.unlink()
        try:
            target.write_text(f.text, encoding="utf-8", newline="\n")
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", Location(str(target))) from None
    return targets


def next_commands(directory: str) -> list[str]:
    """The three commands to run next (validate, test, evaluate), with the
    folder as the user typed it; the database goes into the folder too
    unless it is the current one (then ./adieu.db, the default)."""

    def path(name: str) -> str:
        return name if directory in ("", ".") else str(Path(directory) / name)

    db = "" if directory in ("", ".") else f" --db {shlex.quote(path('adieu.db'))}"
    return [
        f"adieu validate {shlex.quote(path('policy.yaml'))}",
        f"adieu test {shlex.quote(path('policy.test.yaml'))}",
        f"adieu evaluate {shlex.quote(path('policy.yaml'))} "
        f"--source {shlex.quote('csv:' + path('customers.csv'))} "
        f"--mapping {shlex.quote(path('mapping.yaml'))}{db}",
    ]
