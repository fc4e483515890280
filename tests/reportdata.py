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


LONG_NAME = "X" * 5000
LONG_LABELS = {  # industry values: words, one unbroken word, wide characters
    2: "Industry of very long names " * 30, 3: "Y" * 800, 4: "\u9577\u3044\u696d\u754c" * 60}


def long_csv(path: Path) -> Path:
    """hostile_csv, and: the 2nd customer (in the review queue, abuse) is
    named LONG_NAME with an owner of 300 characters; customers 3 to 5 (abuse too)
    have the industries LONG_LABELS."""
    hostile_csv(path)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, data = reader.fieldnames, list(reader)
    data[1].update(name=LONG_NAME, owner="O" * 300, abuse_incidents_12m="1")
    for i, industry in LONG_LABELS.items():  # offboarded: in the top bars
        data[i].update(industry=industry, abuse_incidents_12m="1")
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def hostile_db(tmp: Path, long: bool = False) -> Path:
    """Two runs (2026-10-01, 2026-11-01) of the default policy over
    hostile_csv (long: over long_csv)."""
    source = (long_csv if long else hostile_csv)(tmp / "hostile.csv")
    db = tmp / "hostile.db"
    for day in ("2026-10-01", "2026-11-01"):
        adieu("evaluate", str(POLICY), "--source", f"csv:{source}", "--as-of", day,
              "--db", str(db), "-q")
    return db
