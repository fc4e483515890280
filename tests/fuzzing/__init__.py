"""Helpers for the fuzz targets (tests/test_fuzz_*.py): hypothesis strategies
(tests/fuzzing/strategies.py) and `targets`, which makes each property two
tests: a small derandomized one for `make test` and a `fuzz`-marked one with
>= 10,000 examples for `make fuzz` (profiles registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings

import adieu.errors as errors


def targets(*strategies: Any, **kw: Any) -> Callable[[Callable[..., None]],
                                                      tuple[Callable, Callable]]:
    """Decorator: (small test, fuzz test) of one property over `strategies`.
    Use as `test_x, test_x_fuzz = targets(st1, st2)(check)`."""
    def wrap(check: Callable[..., None]) -> tuple[Callable, Callable]:
        small = settings(settings.get_profile("small"))(given(*strategies, **kw)(check))
        fuzz = pytest.mark.fuzz(settings(settings.get_profile("fuzz"))(
            given(*strategies, **kw)(check)))
        return small, fuzz
    return wrap


def located(exc: BaseException) -> bool:
    """True if an adieu error says where: a Location with a file (and a line,
    row or field), or, for error collections, every member located."""
    if isinstance(exc, errors.PolicyErrors):
        return bool(exc.errors) and all(located(e) for e in exc.errors)
    members = getattr(exc, "errors", None)
    if isinstance(members, list) and members and all(isinstance(e, errors.AdieuError)
                                                    for e in members):
        return all(located(e) for e in members)
    loc = getattr(exc, "location", None)
    return loc is not None and loc.file is not None


def one_line(exc: BaseException) -> bool:
    """Each finding is one line of text and none is empty."""
    text = str(exc)
    return bool(text.strip()) and all(line.strip() for line in text.split("\n"))
