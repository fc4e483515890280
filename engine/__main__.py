"""`python -m adieu`: the same command line as the `adieu` script, under
the same name in --help and in shell completion (_ADIEU_COMPLETE)."""

from __future__ import annotations

from .cli import cli

if __name__ == "__main__":  # pragma: no branch
    cli(prog_name="adieu")
