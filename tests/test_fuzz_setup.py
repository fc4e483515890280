"""The fuzzing set-up itself: the profiles, the marker, `make fuzz`, and the
targets' checks (they must be able to fail: an unlocated error, an
"unexpected error" line, an exception that is not adieu's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_fuzz_policy
import test_fuzz_sources
from fuzzing import located, one_line
from hypothesis import settings

from adieu.errors import InputError, Location, PolicyError, PolicyErrors

REPO = Path(__file__).resolve().parent.parent


def test_profiles_small_in_make_test_and_ten_thousand_in_make_fuzz(monkeypatch) -> None:
    small = settings.get_profile("small")
    assert small.max_examples <= 50 and small.derandomize and small.deadline is not None
    fuzz = settings.get_profile("fuzz")
    assert not fuzz.derandomize and fuzz.print_blob and fuzz.deadline is not None
    monkeypatch.delenv("FUZZ_EXAMPLES", raising=False)
    text = (REPO / "tests" / "conftest.py").read_text(encoding="utf-8")
    assert '"FUZZ_EXAMPLES", "10000"' in text


def test_fuzz_marker_is_deselected_by_default_and_make_fuzz_selects_it() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[tool.pytest.ini_options]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^addopts = ".*-m \\"not fuzz\\"', section, re.M), section
    assert re.search(r'^markers = \["fuzz: ', section, re.M), section
    make = (REPO / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^fuzz:.*\n((?:\t.*\n)+)", make, re.M)
    assert target and "HYPOTHESIS_PROFILE=fuzz" in target.group(1)
    assert "-m fuzz" in target.group(1)


def test_each_target_has_a_fuzz_twin() -> None:
    for module in (test_fuzz_policy, test_fuzz_sources):
        small = {n for n in dir(module) if n.startswith("test_") and not n.endswith("_fuzz")}
        for name in small:
            twin = getattr(module, name + "_fuzz")
            assert any(m.name == "fuzz" for m in getattr(twin, "pytestmark", [])), name


def test_located_wants_a_file_for_every_finding() -> None:
    assert located(PolicyErrors([PolicyError("x", Location("p.yaml", 3, 1))]))
    assert not located(PolicyErrors([PolicyError("x", Location("p.yaml", 3, 1)),
                                     PolicyError("no place")]))
    assert not located(InputError("no place"))
    assert not one_line(InputError(""))


def test_policy_target_fails_on_an_unlocated_error(monkeypatch) -> None:
    def unlocated(text: str, file: str):
        raise PolicyErrors([PolicyError("somewhere")])

    monkeypatch.setattr(test_fuzz_policy, "compile_policy", unlocated)
    with pytest.raises(AssertionError):
        test_fuzz_policy._loads_or_locates("version: 1\n")


def test_source_target_fails_on_an_unexpected_exception(tmp_path: Path, monkeypatch) -> None:
    from adieu.cli import facts as facts_cli

    def broken(*args, **kwargs):
        raise IndexError("string index out of range")

    monkeypatch.setattr(facts_cli, "read_records", broken)
    path = tmp_path / "c.csv"
    path.write_text("customer_id\nC1\n", encoding="utf-8")
    with pytest.raises(IndexError):
        test_fuzz_sources.facts_must_cope(f"csv:{path}", "c.csv")
