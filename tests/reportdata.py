"""Data for the report tests (tests/test_report.py, tests/test_report_browser.py):
a small base cut from examples/customers.csv in which one customer's name
is an HTML script and one industry holds markup, and that customer abuses
staff (so is offboarded at once and waits in the review queue)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADIEU = str(Path(sys.executable).parent / "adieu")
CUSTOMERS = ROOT / "examples" / "customers.csv"
POLICY = ROOT / "policies" / "default.yaml"
SCRIPT_NAME = '<script>document.title="owned"</script> & Sons <b>Ltd</b>'
MARKUP_INDUSTRY = "<i>media</i>"


def adieu(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([ADIEU, *args], capture_output=True, text=True)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def hostile_csv(path: Path, rows: int = 60) -> Path:
    """The first `rows` good customers of examples/customers.csv; the first
    is renamed SCRIPT_NAME with one abuse incident, the second's industry
    is MARKUP_INDUSTRY."""
    with CUSTOMERS.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        data = [r for r in reader][:rows]
    data[0]["name"] = SCRIPT_NAME
    data[0]["abuse_incidents_12m"] = "1"
    data[1]["industry"] = MARKUP_INDUSTRY
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def hostile_db(tmp: Path) -> Path:
    """Two runs (2026-10-01, 2026-11-01) of the default policy over hostile_csv."""
    source = hostile_csv(tmp / "hostile.csv")
    db = tmp / "hostile.db"
    for day in ("2026-10-01", "2026-11-01"):
        adieu("evaluate", str(POLICY), "--source", f"csv:{source}", "--as-of", day,
              "--db", str(db), "-q")
    return db
