"""The benchmark of issue 10 (bench/): the independent reference stays
independent, the data generator is deterministic, bench_scale.py runs end
to end and reports every row, and the ratio / PASS logic is right."""

from __future__ import annotations

import ast
import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


report = _module("report")


def imported_modules(source: str) -> set[str]:
    """Every module a Python source imports (import / from-import, and
    importlib.import_module / __import__ with a literal name)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call) and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            fn = node.func
            fname = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if fname in ("import_module", "__import__"):
                names.add(node.args[0].value)
    return names


def test_the_import_scan_finds_adieu_imports_in_every_form():
    found = imported_modules("import adieu.store\nfrom adieu_plugins import csv_source\n"
                             "from . import x\nimport importlib\n"
                             "importlib.import_module('adieu.decide')\n__import__('adieu')\n")
    assert found == {"adieu.store", "adieu_plugins", ".", "importlib", "adieu.decide",
                     "adieu"}


@pytest.mark.parametrize("script", ["baseline.py", "gen_customers.py"])
def test_reference_scripts_import_only_the_standard_library(script):
    modules = imported_modules((BENCH / script).read_text(encoding="utf-8"))
    tops = {m.split(".")[0] for m in modules}
    assert not any(m.startswith(".") for m in modules)
    assert not tops & {"adieu", "adieu_plugins", "engine", "plugins"}
    assert tops <= set(sys.stdlib_module_names) | {"__future__"}, tops


def _generate(n: int, out: Path) -> bytes:
    subprocess.run([sys.executable, str(BENCH / "gen_customers.py"), str(n), str(out),
                    str(REPO / "examples" / "customers.csv")], check=True, cwd=REPO)
    return out.read_bytes()


def test_gen_customers_is_deterministic_and_a_prefix_for_smaller_n(tmp_path):
    first = _generate(900, tmp_path / "a.csv")
    assert _generate(900, tmp_path / "b.csv") == first
    smaller = _generate(450, tmp_path / "c.csv")
    assert first.startswith(smaller) and first != smaller
    rows = list(csv.reader(first.decode().splitlines()))
    assert len(rows) == 901
    ids = [r[0] for r in rows[1:]]
    # Two whole blocks of the 406 template rows (and 88 more), each keeping
    # the template's row with an empty id and its duplicate id.
    filled = [i for i in ids if i]
    assert len(filled) == 898 and len(set(filled)) == 896
    assert ids[0] == "C0000000" and ids[406] == "C0000406"


def test_changed_copy_changes_every_hundredth_numeric_revenue(tmp_path):
    scale = _module("bench_scale")
    src = tmp_path / "in.csv"
    src.write_text("customer_id,revenue_12m\n" + "".join(
        f"C{i},{'12k' if i == 100 else i * 10}\n" for i in range(250)), encoding="utf-8")
    changed = scale.changed_copy(src, tmp_path / "out.csv")
    rows = list(csv.reader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert changed == 2  # rows 0 and 200; row 100's "12k" is not a number
    assert rows[1] == ["C0", "1000"] and rows[201] == ["C200", "3000"]
    assert rows[101] == ["C100", "12k"] and rows[2] == ["C1", "10"]


def test_verdict_and_ratio_on_given_numbers():
    assert report.verdict(0.99, 1.0) == "PASS"
    assert report.verdict(1.0, 1.0) == "PASS"
    assert report.verdict(1.01, 1.0) == "MISS"
    assert report.verdict(None, 1.0) == "n/a"
    assert report.ratio(3.0, 2.0) == 1.5
    assert report.ratio(3.0, 0) is None and report.ratio(None, 2.0) is None


def test_target_values_compare_the_right_processes():
    procs = {
        "baseline": report.Proc("b", cpu=10.0, wall=20.0, rss=150_000_000),
        "baseline_full": report.Proc("bf", cpu=5.0, wall=50.0, rss=150_000_000),
        "adieu_1": report.Proc("a1", cpu=10.0, wall=12.0, rss=251_000_000),
        "adieu_2": report.Proc("a2", cpu=14.0, wall=30.0, rss=250_000_000),
    }
    values = report.target_values(procs, {"handwritten": 10e-6, "adieu_decide": 19e-6},
                                  {"first_per_decision": 801, "rerun_per_customer": 300})
    assert values["cpu_vs_full"] == 2.0            # adieu 1 worker CPU / --full CPU
    assert values["wall_vs_plain"] == 1.5          # adieu 2 workers wall / plain wall
    assert values["rss_1"] == 251 and values["rss_2"] == 250
    assert values["per_customer"] == pytest.approx(1.9)
    text = report.targets_table(values)
    verdicts = {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").split(" | ")[-1]
                for line in text.splitlines()[2:]}
    assert verdicts == {
        "adieu CPU (1 worker) / baseline --full CPU": "MISS",
        "adieu wall (2 workers) / baseline plain wall": "PASS",
        "adieu peak RSS, 1 worker": "MISS",
        "adieu peak RSS, 2 workers (largest process)": "PASS",
        "database bytes per decision, first run": "MISS",
        "bytes added per customer by a re-run, 1 % changed": "PASS",
        "adieu decide() / hand-written decide(), CPU per customer": "PASS",
    }
    assert "| 2.00x | <= 1.00x | MISS |" in text


def test_a_missing_run_gives_no_verdict_rather_than_a_crash():
    procs = {"baseline": report.Proc("b", cpu=1.0, wall=1.0, rss=1),
             "adieu_2": report.Proc("a2", missing="not available (no --workers)")}
    values = report.target_values(procs, {}, {})
    assert values["wall_vs_plain"] is None and values["cpu_vs_full"] is None
    assert "| not available | <= 1.50x | n/a |" in report.targets_table(values)


def test_bench_scale_runs_end_to_end_at_a_tiny_n(tmp_path):
    # zen-engine hidden (as when the bench extra is not installed): a row
    # saying "not available", not a crash.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "zen.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": str(hide)}
    out = tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, str(BENCH / "bench_scale.py"), "300", "--out",
                           str(out), "--sample", "150", "--repeat", "1",
                           "--profile-rows", "200"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text in done.stdout
    assert "# adieu benchmark: 300 customer rows" in text
    assert "296 customers decided" in text  # 300 rows, 4 rejects in the first 300
    assert f"{os.cpu_count()} cores" in text and "load average before" in text
    for target in report.TARGETS.values():
        assert f"| {target.text} |" in text
    for label in ("csv.reader alone", "hand-written baseline (plain)",
                  "hand-written baseline --full", "adieu evaluate, 1 worker",
                  "adieu evaluate, 2 workers", "adieu re-run, 1 % changed, 1 worker"):
        line = next(x for x in text.splitlines() if x.startswith(f"| {label} |"))
        assert "failed" not in line, line
    for label in ("hand-written decide() (bench/baseline.py)", "adieu decide() (public path)",
                  "adieu rule conditions, reference closures",
                  "adieu compiled policy (engine/codegen.py)"):
        assert f"| {label} |" in text
    zen_line = next(x for x in text.splitlines() if x.startswith("| zen-engine"))
    assert "not available: zen-engine not installed" in zen_line
    assert "0 outcome(s) differ" in next(x for x in text.splitlines()
                                         if x.startswith("| adieu decide() (public path) |"))
    assert "B/decision" in text and "B/customer" in text
    assert "outcomes, baseline vs adieu (end to end, 1 worker): 0 of " in text
    assert "`adieu evaluate` over the first 200 rows" in text
    assert "by own time" in text and "decide.py" in text
