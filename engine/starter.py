"""`adieu init`: the starter files a new user gets, built from what adieu
ships (the default policy and its tests, the CSV mapping, a small sample of
examples/customers.csv), each YAML file with a `# yaml-language-server:
$schema=...` modeline giving the installed schema as a file:// URI.

The modeline form is the YAML language server's own (redhat-developer/
yaml-language-server README, "Using inlined schema": `$schema=<urlToTheSchema
|relativeFilePath|absoluteFilePath>`); the server takes the value up to
the first blank (the regular expression `[$]schema=[^ ]+`), so a plain
path with a space ("C:/Users/Jane Doe/...") would be cut there: a file://
URI (Path.as_uri(), spaces and non-ASCII letters percent-encoded) names
the schema wherever adieu is installed (resources.data_root(): the
checkout, or <prefix>/share/adieu), while the starter folder can be anywhere.

Writing is all or nothing: every file goes to a temporary name in the
folder first, then all are renamed into place; on an error what this run
wrote is removed (and the folder, if this run made it)."""

from __future__ import annotations

import os
import re
import shlex
import tempfile
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
    """The first line of a YAML file that points an editor at `schema`, by
    file:// URI (no blank in it, whatever the install path)."""
    return f"# yaml-language-server: $schema={schema.resolve().as_uri()}\n"


def with_modeline(text: str, schema: Path) -> str:
    """`text` with its first-line modeline replaced (or one added) so that
    it names `schema` by file:// URI."""
    return modeline(schema) + MODELINE.sub("", text, count=1)


def _package_text(package: str, *parts: str) -> str:
    return importlib_resources.files(package).joinpath(*parts).read_text(encoding="utf-8")


# The mapping's file name: `*.mapping.yaml` tells it apart from a policy
# (adieu validate skips it with a note; the pre-commit hooks exclude it).
MAPPING_NAME = "customers.mapping.yaml"
DOC_REFERENCE = re.compile(r"docs/([A-Za-z0-9_-]+)\.md")


def _doc_references(text: str) -> str:
    """A "docs/<name>.md" reference in a shipped file, followed by where a
    user who installed a wheel (no docs/ folder) reads it: `adieu docs <name>`."""
    return DOC_REFERENCE.sub(lambda m: f"{m.group(0)} (`adieu docs {m.group(1)}`)", text)


def starter_files() -> list[StarterFile]:
    """policy.yaml (the shipped default), policy.test.yaml (its tests, now
    naming policy.yaml), customers.mapping.yaml (the CSV adapter's default
    mapping, to copy and edit) and customers.csv (25 customers), in that
    order."""
    policy = resources.policy_path("default.yaml").read_text(encoding="utf-8")
    policy = policy.replace("adieu validate policies/default.yaml", "adieu validate policy.yaml")
    tests = resources.policy_path("default.test.yaml").read_text(encoding="utf-8")
    tests = tests.replace("policies/default.test.yaml", "policy.test.yaml")
    tests = tests.replace("default.yaml", "policy.yaml")  # `policy:` and the comments
    mapping = _package_text("adieu_plugins", "mappings", "csv.yaml")
    policy, tests, mapping = (_doc_references(t) for t in (policy, tests, mapping))
    return [
        StarterFile("policy.yaml", with_modeline(policy, resources.schema_path(
            "policy.schema.json"))),
        StarterFile("policy.test.yaml", with_modeline(tests, resources.schema_path(
            "policy-test.schema.json"))),
        StarterFile(MAPPING_NAME, with_modeline(mapping, resources.schema_path(
            "mapping.schema.json"))),
        StarterFile("customers.csv", _package_text("adieu", "starter_files", "customers.csv")),
    ]


def check_folder_name(directory: str) -> None:
    """A folder name the next commands can show on one line: no control
    character (newline, tab, escape ...), not empty."""
    if directory == "":
        raise InputError("an empty folder name: give a folder (or . for the current one)",
                         Location("''"))
    bad = next((c for c in directory if ord(c) < 32 or 127 <= ord(c) < 160), None)
    if bad is not None:
        raise InputError(f"the folder name contains a control character (U+{ord(bad):04X}): "
                         "choose a name that can be typed on one line",
                         Location(repr(directory)))


def _make_folder(directory: Path) -> bool:
    """Make `directory` (and its parents) if missing; True when this made it."""
    if directory.is_symlink() and not directory.exists():
        raise InputError(f"is a link to {os.readlink(directory)}, which does not exist",
                         Location(str(directory)))
    if directory.exists():
        if not directory.is_dir():
            raise InputError("is not a folder (adieu init DIR writes its files into a folder)",
                             Location(str(directory)))
        return False
    try:
        directory.mkdir(parents=True)
    except OSError as exc:  # a parent that is a file, no permission ...
        raise InputError(f"cannot make the folder: {exc.strerror}",
                         Location(str(directory))) from None
    return True


def _write_temporary(directory: Path, f: StarterFile) -> Path:
    """`f` written in full to a new temporary file in `directory`."""
    fd, name = tempfile.mkstemp(prefix=f".{f.name}.", suffix=".tmp", dir=directory)
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(f.text)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def write_starter(directory: Path, force: bool = False) -> list[Path]:
    """Write the starter files into `directory` (created if missing) and
    return their paths, all or nothing: each file is written to a temporary
    name in the folder, then all are renamed into place. Without `force`, a
    file that is already there is an InputError (exit 2) naming it, and
    nothing is written; so is a `directory` that is not a folder, and a
    target that is a folder (even with `force`). On a write error (a full
    disk, no permission) what this run wrote is removed, the folder too if
    this run made it, and the error names the file (exit 2): a retry after
    freeing space starts from a clean folder."""
    check_folder_name(str(directory))
    files = starter_files()
    targets = [directory / f.name for f in files]
    for target in targets:
        if target.is_dir() and not target.is_symlink():
            raise InputError("is a folder; nothing was written", Location(str(target)))
        if not force and (target.exists() or target.is_symlink()):
            raise InputError("already exists; nothing was written (--force "
                             "overwrites it)", Location(str(target)))
    made = _make_folder(directory)
    temporary: list[Path] = []
    renamed: list[Path] = []
    current = directory
    try:
        for f, target in zip(files, targets, strict=True):
            current = target
            temporary.append(_write_temporary(directory, f))
        for tmp, target in zip(temporary, targets, strict=True):
            current = target
            os.replace(tmp, target)  # replaces a link, never writes through it
            renamed.append(target)
    except OSError as exc:
        for path in [*temporary, *renamed]:
            try:
                path.unlink()
            except OSError:
                pass
        if made:
            try:
                directory.rmdir()
            except OSError:
                pass
        undone = ("the files this run had put in place were removed" if renamed
                  else "nothing was written")
        raise InputError(f"cannot write: {exc.strerror or exc}; {undone}",
                         Location(str(current))) from None
    return targets


def next_commands(directory: str) -> list[str]:
    """The three commands to run next (validate, test, evaluate), with the
    folder as the user typed it, each path shell-quoted (shlex.quote) and
    made to start with "./" when it would start with "-" (else the command
    would read it as an option); the database goes into the folder too
    unless it is the current one (then ./adieu.db, the default)."""

    def path(name: str) -> str:
        if directory in ("", "."):
            return name
        joined = str(Path(directory) / name)
        return "./" + joined if joined.startswith("-") else joined

    def q(name: str) -> str:
        return shlex.quote(path(name))

    db = "" if directory in ("", ".") else f" --db {q('adieu.db')}"
    return [
        f"adieu validate {q('policy.yaml')}",
        f"adieu test {q('policy.test.yaml')}",
        f"adieu evaluate {q('policy.yaml')} "
        f"--source {shlex.quote('csv:' + path('customers.csv'))} "
        f"--mapping {q(MAPPING_NAME)}{db}",
    ]
