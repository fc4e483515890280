"""The package installs and finds its schemas and policies both as an
editable install (what `make test` uses) and from a built wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from adieu import resources

ROOT = Path(__file__).resolve().parents[1]


def test_editable_install_finds_data_next_to_the_source():
    assert resources.data_root() == ROOT
    assert resources.load_schema("policy.schema.json")["title"] == "adieu policy"
    assert resources.policy_path("default.yaml").is_file()


def test_console_script_is_installed_next_to_python():
    script = Path(sys.executable).parent / "adieu"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("adieu, version ")


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    wheels = list((tmp / "dist").glob("adieu-*.whl"))
    assert len(wheels) == 1
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheels[0])],
                   check=True, capture_output=True)
    return env_dir


def test_wheel_install_finds_schemas_and_policies(wheel_venv: Path, tmp_path: Path):
    python = wheel_venv / "bin" / "python"
    probe = ("import json; from adieu import resources; "
             "print(json.dumps([str(resources.data_root()), "
             "resources.policy_path('default.yaml').is_file()]))")
    # Run from an empty folder so nothing of the checkout is on the path.
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""}, check=True)
    root, has_default = json.loads(out.stdout)
    assert Path(root).resolve() == (wheel_venv / "share" / "adieu").resolve()
    assert has_default is True


def test_wheel_console_script_validates_and_evaluates(wheel_venv: Path, tmp_path: Path):
    adieu = str(wheel_venv / "bin" / "adieu")
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run([adieu, "validate", "default"], capture_output=True, text=True,
                         cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok (" in out.stdout
    out = subprocess.run(
        [adieu, "evaluate", "default", "--source", f"csv:{ROOT / 'examples/customers.csv'}",
         "--as-of", "2026-11-01", "--db", str(tmp_path / "w.db"), "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    outcomes = {d["outcome"] for d in json.loads(out.stdout)["decisions"]}
    assert {"keep", "offboard"} <= outcomes


def test_wheel_ships_the_brief_templates(wheel_venv: Path, tmp_path: Path):
    """adieu brief's default templates are package data: a wheel install
    writes them with --template-out, the same text as in the checkout."""
    for fmt in ("md", "html"):
        target = tmp_path / f"brief.{fmt}.j2"
        out = subprocess.run([str(wheel_venv / "bin" / "adieu"), "brief", "--template-out",
                              str(target), "--format", fmt], capture_output=True, text=True,
                             cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
        assert out.returncode == 0, out.stderr
        shipped = ROOT / "engine" / "brief_templates" / f"brief.{fmt}.j2"
        assert target.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")


def test_wheel_ships_the_serve_templates(wheel_venv: Path, tmp_path: Path):
    """adieu serve's page templates are package data, the same as in the checkout."""
    probe = ("import json; from importlib import resources; "
             "d = resources.files('adieu') / 'serve_templates'; "
             "print(json.dumps({p.name: p.read_text(encoding='utf-8') for p in d.iterdir() "
             "if p.name.endswith('.j2')}))")
    out = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", probe], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""},
                         check=True)
    shipped = {p.name: p.read_text(encoding="utf-8")
               for p in (ROOT / "engine" / "serve_templates").glob("*.j2")}
    assert json.loads(out.stdout) == shipped and "case.html.j2" in shipped


def test_wheel_without_the_serve_extra_says_how_to_get_it(wheel_venv: Path, tmp_path: Path):
    """The wheel venv has adieu's core dependencies only: no Starlette."""
    out = subprocess.run([str(wheel_venv / "bin" / "adieu"), "serve", "--db",
                          str(tmp_path / "none.db")], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 2
    assert out.stderr == "Error: adieu serve needs the serve extra: pip install 'adieu[serve]'\n"
