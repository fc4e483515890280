"""`make fuzz` only: the two-runs-at-once test of tests/test_concurrent_runs.py
(three real `adieu evaluate` processes on one database, 20 tries each) run 20
times over, so a rare interleaving has 400 chances to show (about 110 s each on
the 2-core machine; FUZZ_REPEATS=N for fewer)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import test_concurrent_runs as races
from test_concurrent_runs import inputs  # noqa: F401 - the module's fixture, used by name


@pytest.mark.fuzz
@pytest.mark.parametrize("repeat", range(int(os.environ.get("FUZZ_REPEATS", "20"))))
def test_two_runs_at_once_twenty_times(inputs: tuple[Path, Path],  # noqa: F811
                                       tmp_path: Path, repeat: int) -> None:
    races.test_two_runs_at_once_keep_the_ladder_and_the_order(inputs, tmp_path)
