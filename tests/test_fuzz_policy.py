"""Fuzz target: the policy loader (engine/policy.py over engine/yamlpos.py).
Random YAML documents (tags, anchors, aliases, merge keys, odd scalars, block
and flow styles) and line-level mutations of policies/default.yaml: loading
either gives a Policy or raises PolicyErrors whose every finding names the
file and where in it; `adieu validate` exits 1 (invalid) or 2 (unreadable).
No other exception, no hang (the profile's deadline)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fuzzing import located, one_line, targets
from fuzzing.strategies import mutated_lines, policy_shaped, yaml_documents

from adieu.cli import cli
from adieu.errors import PolicyErrors
from adieu.policy import Policy, compile_policy, load_policy

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = (REPO / "policies" / "default.yaml").read_text(encoding="utf-8")


def _loads_or_locates(text: str) -> None:
    try:
        policy = compile_policy(text, "fuzz.yaml")
    except PolicyErrors as exc:
        assert located(exc), str(exc)
        assert one_line(exc), str(exc)
        assert all(e.location.file == "fuzz.yaml" for e in exc.errors), str(exc)
    else:
        assert isinstance(policy, Policy)


def check_random_yaml(text: str) -> None:
    _loads_or_locates(text)


test_random_yaml, test_random_yaml_fuzz = targets(yaml_documents)(check_random_yaml)
test_policy_shaped_yaml, test_policy_shaped_yaml_fuzz = targets(policy_shaped())(
    check_random_yaml)


def check_mutated_default(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("pol") / "mutant.yaml"
    path.write_bytes(data)
    try:
        load_policy(path)
    except PolicyErrors as exc:
        assert located(exc), str(exc)
        assert one_line(exc), str(exc)


test_mutated_default, test_mutated_default_fuzz = targets(
    data=mutated_lines(DEFAULT_TEXT))(check_mutated_default)


def check_validate_exit_code(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("val") / "mutant.yaml"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code:
        assert "unexpected error" not in result.output
        assert str(path) in result.output


test_validate_exit_code, test_validate_exit_code_fuzz = targets(
    data=mutated_lines(DEFAULT_TEXT))(check_validate_exit_code)
