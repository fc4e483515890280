"""The package installs and finds its schemas and policies both as an
editable install (what `make test` uses) and from a wheel built as a
release is (`python -m build`, checked by `twine check`); a new user's
path (pip install the wheel, adieu init, the commands it prints) works."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

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


# What setuptools says when the package configuration is ambiguous (a
# folder it finds but is not told to ship, deprecated keys ...).
BUILD_WARNINGS = ("BuildBackendWarning", "SetuptoolsWarning", "SetuptoolsDeprecationWarning",
                  "Package would be ignored", "is absent from the `packages` configuration")


def source_copy(target: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored) copied to
    `target`: building there leaves no build/ or egg-info in the checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `python -m build` (sdist, then the wheel from the sdist, as a
    release does; --no-isolation: setuptools comes from the test extra, no
    download) of a copy of the checkout."""
    tmp = tmp_path_factory.mktemp("build")
    src = source_copy(tmp / "src")
    out = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                          str(tmp / "dist"), str(src)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return {"dir": tmp, "log": out.stdout + out.stderr,
            "wheel": list((tmp / "dist").glob("adieu-*.whl")),
            "sdist": list((tmp / "dist").glob("adieu-*.tar.gz"))}


@pytest.fixture(scope="module")
def wheel_venv(built: dict[str, Any]) -> Path:
    assert len(built["wheel"]) == 1
    env_dir = built["dir"] / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(built["wheel"][0])],
                   check=True, capture_output=True)
    return env_dir


def test_build_makes_an_sdist_and_a_wheel_without_setuptools_warnings(built: dict[str, Any]):
    assert len(built["wheel"]) == 1 and len(built["sdist"]) == 1
    for warning in BUILD_WARNINGS:
        assert warning not in built["log"], built["log"]


def test_twine_check_passes(built: dict[str, Any]):
    out = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                          *map(str, built["wheel"] + built["sdist"])],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("PASSED") == 2


def test_wheel_ships_every_data_folder(built: dict[str, Any]):
    names = set(zipfile.ZipFile(built["wheel"][0]).namelist())
    for folder, pattern in (("brief_templates", "*.j2"), ("report_templates", "*.j2"),
                            ("starter_files", "*"), ("mappings", "*.yaml")):
        package = "adieu_plugins" if folder == "mappings" else "adieu"
        source = ROOT / ("plugins" if package == "adieu_plugins" else "engine") / folder
        files = sorted(p.name for p in source.glob(pattern))
        assert files, folder
        for name in files:
            assert f"{package}/{folder}/{name}" in names
    data = "adieu-{}.data/data/share/adieu/".format(
        built["wheel"][0].name.split("-")[1])
    for sub in ("schemas", "policies", "docs"):
        for path in (ROOT / sub).glob("*.md" if sub == "docs" else "*"):
            assert f"{data}{sub}/{path.name}" in names


def test_new_user_path_from_the_wheel(wheel_venv: Path, tmp_path: Path):
    """pip install the wheel into an empty environment, `adieu init`, then
    the three commands it prints, as printed, with the installed script."""
    bin_dir = wheel_venv / "bin"
    env = {**os.environ, "PYTHONPATH": "", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["adieu", "init", "starter"], capture_output=True, text=True,
                         cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    first = (tmp_path / "starter" / "policy.yaml").read_text(encoding="utf-8").splitlines()[0]
    uri = urlparse(first.split("$schema=", 1)[1])
    assert uri.scheme == "file"
    schema = Path(url2pathname(uri.path))
    assert schema == (wheel_venv / "share" / "adieu" / "schemas" / "policy.schema.json").resolve()
    commands = [line.strip() for line in out.stdout.split("Next:\n", 1)[1].splitlines()
                if line.strip()]
    assert len(commands) == 3
    for line in commands:
        result = subprocess.run(shlex.split(line), capture_output=True, text=True,
                                cwd=tmp_path, env=env)
        assert result.returncode == 0, f"{line}: {result.stdout}{result.stderr}"
    assert (tmp_path / "starter" / "adieu.db").is_file()
    docs = subprocess.run(["adieu", "docs", "sources", "--path"], capture_output=True,
                          text=True, cwd=tmp_path, env=env)
    assert docs.returncode == 0, docs.stderr
    assert Path(docs.stdout.strip()) == wheel_venv / "share" / "adieu" / "docs" / "sources.md"


def test_makefile_install_is_a_stamp(tmp_path: Path):
    """`make demo` depends on `install`, which reinstalls only when
    pyproject.toml is newer than its stamp (a fake python logs the calls)."""
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n', encoding="utf-8")
    fake.chmod(0o755)
    calls = fake.parent / "calls"

    def make() -> list[str]:
        subprocess.run(["make", "-s", "install"], cwd=tmp_path, check=True,
                       capture_output=True)
        return calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []

    assert make() == ["-m pip install --quiet -e ."]
    assert make() == ["-m pip install --quiet -e ."]  # nothing changed: no reinstall
    stamp = tmp_path / ".venv" / ".installed"
    os.utime(tmp_path / "pyproject.toml", ns=(stamp.stat().st_mtime_ns + 10**9,) * 2)
    assert make() == ["-m pip install --quiet -e ."] * 2


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


def test_wheel_ships_the_datasette_metadata(wheel_venv: Path, tmp_path: Path):
    """datasette/metadata.yml is a data file: a wheel install prints its
    path under share/adieu/datasette and its text, as in the checkout."""
    adieu = str(wheel_venv / "bin" / "adieu")
    env = {**os.environ, "PYTHONPATH": "", "ADIEU_DB": ""}
    out = subprocess.run([adieu, "datasette-metadata", "--path"], capture_output=True,
                         text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).resolve() == \
        (wheel_venv / "share" / "adieu" / "datasette" / "metadata.yml").resolve()
    out = subprocess.run([adieu, "datasette-metadata"], capture_output=True, text=True,
                         cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (ROOT / "datasette" / "metadata.yml").read_text(encoding="utf-8")


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
