# From ../shared/perf/gen_customers.py (issue 10's hand-written reference), logic unchanged.
# It must import nothing from adieu: tests/test_bench.py checks that with an import scan.
"""Replicate the data rows of examples/customers.csv to N rows with new ids.

    python3 ../shared/perf/gen_customers.py N OUT.csv [TEMPLATE.csv]   # from the project root

Every data row of the template (406 rows: 400 customers + 6 deliberately
bad rows) is copied in order, block after block, until N rows are written.
Each copy gets a new id C0000000, C0000001, ... (the row's 0-based index in
the output), with two exceptions that keep the template's bad rows bad:

  * the row whose customer_id is empty stays empty (rejected: missing id);
  * the second occurrence of an id inside the template (CUST-0123 appears
    twice) gets the new id given to the first occurrence in the same block
    (rejected: duplicate customer_id).

The other bad rows (revenue "12k", contract_end "2026-13-45",
bad_reputation "maybe", negative hours) are copied unchanged, so every
block of 406 rows holds 400 customers and 6 rejects, as the template does.
Note that the pilot-programme exemption names CUST-0042/0118/0233, which no
longer exist under the new ids (that exemption has expired anyway).

Standard library only; deterministic.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

DEFAULT_TEMPLATE = Path("examples/customers.csv")  # run from the project root


def main() -> None:
    n = int(sys.argv[1])
    out = Path(sys.argv[2])
    template = Path(sys.argv[3]) if len(sys.argv) > 3 else DEFAULT_TEMPLATE
    with open(template, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], [r for r in rows[1:] if r]
    id_col = header.index("customer_id")
    # For each template row: None (keep the id empty), or the template index
    # whose new id it must reuse (a duplicate), or its own index.
    first: dict[str, int] = {}
    alias: list[int | None] = []
    for i, r in enumerate(data):
        cid = r[id_col].strip()
        if not cid:
            alias.append(None)
        elif cid in first:
            alias.append(first[cid])
        else:
            first[cid] = i
            alias.append(i)
    width = len(data)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for k in range(n):
            block, i = divmod(k, width)
            r = list(data[i])
            a = alias[i]
            r[id_col] = "" if a is None else f"C{block * width + a:07d}"
            w.writerow(r)


if __name__ == "__main__":
    main()
