"""Shell completion is click's own: `_ADIEU_COMPLETE=bash_source adieu`
(zsh_source, fish_source) prints the script to source, and the script
completes `adieu ev` to `evaluate` (docs/cli.md, "Shell completion")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def complete(**env: str) -> str:
    result = CliRunner().invoke(cli, [], prog_name="adieu", env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("shell,marker", [
    ("bash", "complete -o nosort -F _adieu_completion adieu"),
    ("zsh", "compdef _adieu_completion adieu"),
    ("fish", "complete --no-files --command adieu"),
])
def test_completion_script_is_produced(shell: str, marker: str):
    script = complete(_ADIEU_COMPLETE=f"{shell}_source")
    assert marker in script
    assert f"_ADIEU_COMPLETE={shell}_complete" in script


def test_bash_completes_a_command_name():
    out = complete(_ADIEU_COMPLETE="bash_complete", COMP_WORDS="adieu ev", COMP_CWORD="1")
    assert out.splitlines() == ["plain,evaluate"]
    out = complete(_ADIEU_COMPLETE="bash_complete", COMP_WORDS="adieu ex", COMP_CWORD="1")
    assert out.splitlines() == ["plain,exempt", "plain,exemptions", "plain,explain"]


def test_completion_offers_options_and_schema_names():
    out = complete(_ADIEU_COMPLETE="bash_complete", COMP_WORDS="adieu evaluate --as",
                   COMP_CWORD="2")
    assert out.splitlines() == ["plain,--as-of"]
    out = complete(_ADIEU_COMPLETE="bash_complete", COMP_WORDS="adieu schema po",
                   COMP_CWORD="2")
    names = sorted(p.name[: -len(".schema.json")]
                   for p in (ROOT / "schemas").glob("po*.schema.json"))
    assert {"policy", "policy-test"} <= set(names)
    assert out.splitlines() == [f"plain,{n}" for n in names]
    out = complete(_ADIEU_COMPLETE="bash_complete", COMP_WORDS="adieu schema te",
                   COMP_CWORD="2")
    tests = {p.name[: -len(".schema.json")] for p in (ROOT / "schemas").glob("te*.schema.json")}
    assert out.splitlines() == [f"plain,{n}" for n in sorted(tests | {"test"})]


def test_zsh_and_fish_complete_a_command_name():
    out = complete(_ADIEU_COMPLETE="zsh_complete", COMP_WORDS="adieu ev", COMP_CWORD="1")
    assert out.splitlines()[:2] == ["plain", "evaluate"]
    out = complete(_ADIEU_COMPLETE="fish_complete", COMP_WORDS="adieu ev", COMP_CWORD="ev")
    assert out.startswith("plain,evaluate\t")


def test_sourced_bash_script_completes_with_the_installed_script():
    """End to end: bash sources the script the console script prints, and
    its completion function fills COMPREPLY for `adieu ev`."""
    program = ('eval "$(_ADIEU_COMPLETE=bash_source adieu)"; '
               'COMP_WORDS=(adieu ev); COMP_CWORD=1; _adieu_completion adieu; '
               'printf "%s\\n" "${COMPREPLY[@]}"')
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", program],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["evaluate"]


def test_python_m_adieu_uses_the_same_completion_variable():
    env = {**os.environ, "_ADIEU_COMPLETE": "bash_complete", "COMP_WORDS": "adieu ev",
           "COMP_CWORD": "1"}
    out = subprocess.run([sys.executable, "-m", "adieu"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["plain,evaluate"]
