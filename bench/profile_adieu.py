"""Run one adieu command under cProfile and print where the time went.

    python bench/profile_adieu.py TOP evaluate POLICY --source csv:FILE ...

Prints the TOP functions by own time (tottime) and by cumulative time, as
pstats prints them. bench_scale.py --profile uses it on the first rows of
its data (not counted in any other figure: the profiler slows the run).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import sys


def main() -> None:
    top = int(sys.argv[1])
    from adieu.cli import cli

    profile = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):  # adieu's own output is not wanted
        profile.enable()
        try:
            cli.main(args=sys.argv[2:], prog_name="adieu", standalone_mode=False)
        finally:
            profile.disable()
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        text = out.getvalue()
        # From the table's header on (pstats puts the totals line before it).
        total = next((line.strip() for line in text.splitlines()
                      if "function calls" in line), "")
        table = text[text.index("   ncalls"):] if "   ncalls" in text else text
        print(f"### top {top} by {title} ({total})\n\n```\n{table.rstrip()}\n```\n")


if __name__ == "__main__":
    main()
