"""Error types. Every error a user can cause carries a location."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Location:
    """Where something is: a file and a line/column (YAML) or row/field (data)."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        text = ":".join(parts)
        if self.row is not None:
            text += f": row {self.row}"
        if self.field is not None:
            text += f": field {self.field!r}" if self.row is None else f", field {self.field!r}"
        return text


class AdieuError(Exception):
    """Base class: a message and, where known, a location."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class InputError(AdieuError):
    """Bad input data or a bad command-line value: exit code 2."""


class RecordError(InputError):
    """One bad record; the run sets it aside as a reject."""


class PolicyError(AdieuError):
    """An invalid policy (one finding); exit code 1."""

    exit_code = 1


class PolicyWarning(PolicyError):
    """A lint finding: the policy is valid but probably not what its authors
    meant. `code` names the check (for `# adieu ignore:CODE`)."""

    def __init__(self, code: str, message: str, location: Location | None = None):
        super().__init__(message, location)
        self.code = code

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location is not None else ""
        return f"{where}warning: {self.message} [{self.code}]"


class PolicyFileError(PolicyError):
    """The policy file cannot be read at all (missing, a directory, no
    permission): an input error, exit code 2, not a finding about a policy."""

    exit_code = 2


class PolicyErrors(AdieuError):
    """All findings of one validation pass. `document` is (doc, positions,
    text) of the policy when its YAML could be read, for lint. Exit code 1,
    or 2 if a policy file could not be read (PolicyFileError)."""

    def __init__(self, errors: list[PolicyError], document: tuple | None = None):
        super().__init__(f"{len(errors)} error(s) in policy")
        self.errors = errors
        self.document = document

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    @property  # type: ignore[override]
    def exit_code(self) -> int:
        """2 if a policy file could not be read (PolicyFileError), else 1."""
        return max((e.exit_code for e in self.errors), default=1)


class FileErrors(InputError):
    """Every finding in one input file (a mapping, a policy test file),
    raised together; `errors` are the InputErrors, each at its line. Exit
    code 2."""

    what = "file"

    def __init__(self, errors: list[InputError]):
        super().__init__(f"{len(errors)} error(s) in {self.what}")
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class StoreError(AdieuError):
    """A database problem (missing run, unreadable file)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'revenue_12m'?)' for a near miss, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""
