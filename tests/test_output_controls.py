"""Output that attacks its reader: control characters (ESC sequences that set
a window title, start a hyperlink, hide text; bidi overrides) from every
route that is not a customer's id or text fact (refused at intake): the
policy's own text, reviewers' notes and reasons, file names, rejected
cells, plugin names, rows of a database edited by hand, error messages
(ours and click's), a brief template. Every text output is escaped whether
or not it goes to a terminal (CliRunner's output is no terminal); CSV
escapes C0/C1 controls to a pipe too; JSON carries them as \\u escapes;
HTML (brief, report) escapes every value from data.

The last tests keep it so: every output call of engine/ goes through
safe_text (or JSON), and every CSV through csvout.CsvWriter."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import sqlite3
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import adieu
from adieu.cli import cli

AS_OF = "2026-11-02"
# Characters a terminal acts on or that hide text, as they would appear raw.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069"
                 "\ufeff\u2028\u2029]")
# YAML 1.2 escapes: a window title (OSC 0 ... BEL), a hyperlink (OSC 8), concealed text.
Y = "\\e]0;T\\a\\e]8;;http://x\\e\\\\\\e[8m"
SHOWN = "\\x1b]0;T\\x07\\x1b]8;;http://x\\x1b\\\\x1b[8m"   # how adieu shows Y
POLICY = textwrap.dedent(f'''\
    version: "1"
    name: "evil{Y}"
    rules:
      - id: late
        title: "Late{Y}"
        when: late_payments_12m >= 3
        action: strike
        explain: "{{name}} is late{Y}"
      - id: bad
        title: "Bad{Y}"
        when: late_payments_12m >= 5
        action: offboard
        explain: "bad{Y}"
    exemptions:
      - id: ex1
        customers: [C9]
        rules: [late]
        reason: "Ref{Y}"
        approver: "CEO{Y}"
        expires: "2030-01-01"
    holds:
      - id: h1
        when: late_payments_12m == 4
        reason: "hold{Y}"
    timing:
      referrals:
        - vendors: ["Vend{Y}", "Plain"]
          note: "note{Y}"
    ''')


# In CSV to a pipe only C0/C1 controls are escaped (bidi marks stay exact).
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def invoke(*args: str, code: int | None = 0, raw: re.Pattern = RAW):
    result = CliRunner().invoke(cli, list(args), color=True)
    out = result.stdout + result.stderr
    assert not raw.search(out), (args, out)
    if code is not None:
        assert result.exit_code == code, (args, out)
    return result


def write_source(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["customer_id", "name", "owner", "industry", "late_payments_12m"])
        writer.writerows(rows)
    return path


@pytest.fixture
def stored(tmp_path: Path) -> dict[str, str]:
    """A run of POLICY over four customers: C1 offboarded, C2 held, C9 exempt."""
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "q.yaml").write_text(POLICY.replace(">= 5", ">= 6"), encoding="utf-8")
    source = write_source(tmp_path / "c.csv", [
        ["C1", "Acme\u202eoc", "Ann\rFAKE", "retail", "5"], ["C2", "B", "Bo", "x", "4"],
        ["C9", "N", "Bo", "y", "3"], ["C3", "N", "Bo", "y", "3\x1b[8m"]])
    files = {"policy": str(tmp_path / "p.yaml"), "new": str(tmp_path / "q.yaml"),
             "src": f"csv:{source}", "db": str(tmp_path / "x.db"), "dir": str(tmp_path)}
    invoke("evaluate", files["policy"], "--source", files["src"], "--as-of", AS_OF,
           "--db", files["db"])
    return files


def test_policy_text_never_reaches_a_reader_raw(stored) -> None:
    db = ("--db", stored["db"])
    shown = invoke("explain", "C1", *db).stdout
    assert f"is late{SHOWN}" in shown and f"bad{SHOWN}" in shown and "Acme\\u202eoc" in shown
    assert f"hold{SHOWN}" in invoke("explain", "C2", *db).stdout
    invoke("explain", "C9", *db)
    invoke("validate", stored["policy"])
    for args in (("pending", *db), ("history", "C1", *db), ("strikes", "C1", *db),
                 ("runs", *db), ("segments", *db), ("replay", "1", *db),
                 ("audit", "verify", *db), ("brief", "C1", *db),
                 ("diff", stored["policy"], stored["new"], "--source", stored["src"],
                  "--as-of", AS_OF),
                 ("evaluate", stored["policy"], "--source", stored["src"], "--as-of", AS_OF,
                  "--dry-run", *db)):
        invoke(*args)
    assert "evil\\x1b]0;T\\x07" in invoke("runs", *db).stdout  # the policy's name


def test_csv_to_a_pipe_escapes_controls_and_json_carries_them(stored) -> None:
    db = ("--db", stored["db"])
    args = ("evaluate", stored["policy"], "--source", stored["src"], "--as-of", AS_OF,
            "--dry-run", *db)
    for extra in ((), ("--allow-formulas",)):
        text = invoke(*args, "--csv", *extra, raw=CONTROLS).stdout
        rows = {r[1]: r for r in csv.reader(io.StringIO(text, newline=""))}
        exact = "\x1b]0;T\x07\x1b]8;;http://x\x1b\\\x1b[8m"
        assert "\\u001b]0;T\\u0007" in rows["C1"][7]  # a JSON cell: \u escapes
        assert json.loads(rows["C1"][7]) == ["Acme\u202eoc is late" + exact, "bad" + exact]
        assert json.loads(rows["C1"][13]) == ["Vend" + exact, "Plain"]
    text = invoke(*args, "--json").stdout
    assert "bad\\u001b]0;T\\u0007" in text
    c1 = next(d for d in json.loads(text)["decisions"] if d["customer_id"] == "C1")
    assert "bad" + exact in strings(c1)  # reads back exact


def strings(value: object) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) \
        else []
    return [s for item in items for s in strings(item)]


def test_reviewer_notes_and_reasons_are_escaped(stored) -> None:
    db = ("--db", stored["db"])
    invoke("approve", "C1", "--by", "Zed Reviewer", "--note", "ok\x1b]0;T\x07", *db)
    invoke("strikes", "pardon", "C1", "late", "--by", "Zed Reviewer",
           "--reason", "r\x1b[8mhidden", *db, code=None)
    for args in (("pending", *db), ("history", "C1", *db), ("explain", "C1", *db),
                 ("strikes", "C1", *db), ("brief", "C1", *db)):
        invoke(*args, code=None)
    assert "ok\\x1b]0;T\\x07" in invoke("history", "C1", *db).stdout


def test_names_typed_for_a_reviewer_are_refused_with_the_character_escaped(stored) -> None:
    result = invoke("approve", "C1", "--by", "Zed\x1b]0;T\x07", "--db", stored["db"],
                    code=2)
    assert "U+001B" in result.stderr


def test_a_database_edited_by_hand_is_shown_escaped(stored) -> None:
    with sqlite3.connect(stored["db"]) as conn:
        conn.execute("drop trigger runs_no_update")  # as an older version or a hand would
        conn.execute("drop trigger cases_only_adieu_moves")
        conn.execute("update runs set policy_name = ?, source = ?",
                     ("pol\x1b]0;T\x07", "csv:\x1b]8;;http://x\x1b\\c.csv"))
        conn.execute("update cases set reviewer = ?, state = 'approved'",
                     ("Zed\x1b[8m Hidden",))
    db = ("--db", stored["db"])
    assert "by Zed\\x1b[8m Hidden" in invoke("history", "C1", *db).stdout
    assert "pol\\x1b]0;T\\x07" in invoke("runs", *db).stdout
    for args in (("explain", "C1", *db), ("pending", *db), ("segments", *db),
                 ("brief", "C1", *db)):
        invoke(*args, code=None)


def test_file_names_and_rejected_cells_are_escaped(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    evil = write_source(tmp_path / "c\x1b]0;T\x07.csv",
                        [["C1", "A", "Ann", "x", "5"], ["C2", "B", "Bo", "x", "1\x9b8m"]])
    result = invoke("evaluate", str(tmp_path / "p.yaml"), "--source", f"csv:{evil}",
                    "--as-of", AS_OF, "--db", str(tmp_path / "x.db"))
    assert "c\\x1b]0;T\\x07.csv:3" in result.stderr and "\\x9b" in result.stderr
    invoke("evaluate", str(tmp_path / "p.yaml"), "--source",
           f"csv:{tmp_path}/gone\x1b[8m.csv", "--as-of", AS_OF, code=2)
    bad = tmp_path / "bad\x1b]0;T\x07.yaml"
    bad.write_text("version: 1\nrules: [\x1b]\n", encoding="utf-8")
    assert "bad\\x1b]0;T\\x07.yaml" in invoke("validate", str(bad), code=None).stdout + \
        invoke("validate", str(bad), code=None).stderr
    mapping = tmp_path / "m\x1b[8m.yaml"
    mapping.write_text('fields:\n  "\\e]0;T\\a": name\n', encoding="utf-8")
    invoke("facts", f"csv:{evil}", "--mapping", str(mapping), code=None)


def test_click_usage_errors_are_escaped() -> None:
    assert "\\x1b" in invoke("--x\x1b]0;T\x07", code=2).stderr
    assert "\\x1b" in invoke("nope\x1b]0;T\x07", code=2).stderr
    assert "\\x1b" in invoke("evaluate", "--as-of", "\x1b[8m", "p.yaml", "--source", "csv:x",
                             code=2).stderr
    assert "\\x1b" in invoke("runs", "--run\x1b[8m", code=2).stderr


def test_unexpected_errors_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bad\x1b]0;T\x07")
    monkeypatch.setattr("adieu.cli.facts.registry", boom)
    monkeypatch.delenv("ADIEU_RAISE_ERRORS", raising=False)
    monkeypatch.delitem(sys.modules, "pytest")  # the handler re-raises under pytest
    result = invoke("plugins", code=2)
    assert "internal error, please report: RuntimeError: bad\\x1b]0;T\\x07" in result.stderr


def test_plugin_names_versions_and_errors_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    esc = "\x1b]8;;http://x\x1b\\"
    reg = SimpleNamespace(
        provided={f"p{esc}": {"hooks": [f"h{esc}"], "sources": [f"k{esc}"],
                              "functions": [f"f{esc}"]}},
        broken={f"b{esc}": f"ImportError: {esc}"}, versions={f"p{esc}": f"1{esc}"},
        sources={f"k{esc}": SimpleNamespace(description=f"d{esc}")})
    monkeypatch.setattr("adieu.cli.facts.registry", lambda: reg)
    out = invoke("plugins").stdout
    assert "p\\x1b]8;;http://x\\x1b\\ (1\\x1b" in out
    assert "\\u001b" in invoke("plugins", "--json").stdout


def test_a_brief_template_cannot_overwrite_a_line(stored, tmp_path: Path) -> None:
    template = tmp_path / "t.md.j2"
    template.write_text("Dear {{ customer.id }}\r\nsafe\rHIDDEN\x1b[8m\n", encoding="utf-8",
                        newline="")
    out = invoke("brief", "C1", "--template", str(template), "--db", stored["db"]).stdout
    assert "Dear C1\nsafe\nHIDDEN\\x1b[8m\n" in out  # jinja2 reads a lone CR as a line end
    # A text fact may hold a lone CR (the owner here): never raw on the output.
    out = invoke("brief", "C1", "--format", "html", "--db", stored["db"]).stdout
    assert "Ann\\x0dFAKE" in out


# -- HTML: the brief and the report escape every value from data -------------

PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
            "javascript:alert(1)", "\u202eevil")


def test_html_outputs_escape_every_value(tmp_path: Path) -> None:
    s, i, j, r = PAYLOADS
    q = i.replace('"', '\\"')  # inside YAML double quotes
    hostile = POLICY.replace("{name} is late", "{name} " + s).replace("Late", "Late " + q) \
        .replace('"Plain"', f'"{s}{j}"').replace('note: "note', f'note: "{q}')
    (tmp_path / "p.yaml").write_text(hostile, encoding="utf-8")
    source = write_source(tmp_path / "c.csv", [[
        "C1", f"{s}{r}", f"{i} Ann", f"{j}{i}", "5"], ["C2", "B", "Bo", s, "3"]])
    db = ("--db", str(tmp_path / "x.db"))
    invoke("evaluate", str(tmp_path / "p.yaml"), "--source", f"csv:{source}",
           "--as-of", AS_OF, *db)
    invoke("approve", "C1", "--by", f"Zed {s}", "--note", f"{i}{j}", *db)
    brief = tmp_path / "b.html"
    invoke("brief", "C1", "--format", "html", "--contact", f"{i} Bo", "--out", str(brief), *db)
    report = tmp_path / "r.html"
    invoke("report", "--html", str(report), "--by", "name", *db)
    for page in (brief.read_text(encoding="utf-8"), report.read_text(encoding="utf-8")):
        assert "<script" not in page and "<img" not in page and "\u202e" not in page
        assert 'href="javascript' not in page and 'src="javascript' not in page
        assert "\\u202e" in page
    page = brief.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page                    # name
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page or \
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page                # owner, contact
    assert page.count("onerror") >= 3  # owner, contact, title: all present, all escaped


# -- keeping it so ---------------------------------------------------------------

ENGINE = Path(adieu.__file__).parent
# Calls that write text out, and the wrappers that make their text safe.
OUTPUT_CALLS = {"click.echo", "click.secho", "click.echo_via_pager", "print",
                "sys.stdout.write", "sys.stderr.write"}
SAFE_CALLS = {"visible", "json_text", "json.dumps"}
# Reviewed exceptions, "file:line-free function name": none today.
ALLOWED: set[str] = set()


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _safe(node: ast.AST | None) -> bool:
    """Text built only from constants and safe_text/JSON calls."""
    if node is None or isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Call):
        name = _name(node.func)
        if name == "json.dumps":  # ASCII JSON: every control is \\u escaped
            return not any(k.arg == "ensure_ascii" for k in node.keywords)
        return name.split(".")[-1] in SAFE_CALLS
    if isinstance(node, ast.BinOp):
        return _safe(node.left) and _safe(node.right)
    if isinstance(node, ast.IfExp):
        return _safe(node.body) and _safe(node.orelse)
    if isinstance(node, ast.JoinedStr):
        return all(_safe(v.value) if isinstance(v, ast.FormattedValue) else True
                   for v in node.values)
    return False


def unsafe_output_calls(source: str, file: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _name(node.func) in OUTPUT_CALLS:
            if not _safe(node.args[0] if node.args else None):
                found.append(f"{file}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_every_output_call_goes_through_safe_text() -> None:
    """click.echo / print / sys.stdout.write of anything but constants and
    visible(...)/json_text(...)/json.dumps(...) (ASCII) is a finding: use
    safe_text.echo. A new command cannot regress."""
    found = [f for path in sorted(ENGINE.rglob("*.py")) if path.name != "safe_text.py"
             for f in unsafe_output_calls(path.read_text(encoding="utf-8"),
                                          str(path.relative_to(ENGINE)))]
    assert [f for f in found if f.split(":")[0] not in ALLOWED] == []


def test_the_output_rule_finds_what_it_must() -> None:
    bad = textwrap.dedent("""\
        click.echo(name)
        click.echo(f"hello {name}")
        print(row["owner"])
        sys.stderr.write(message)
        click.echo(json.dumps(x, ensure_ascii=False))
        click.echo("a" + name)
        click.secho(jsontext.dumps(x))
        """)
    good = textwrap.dedent("""\
        click.echo(visible(name))
        click.echo(json_text(x, indent=2))
        click.echo(json.dumps(x))
        click.echo(("" if first else ",") + json.dumps(row))
        click.echo(f"{json_text(a)}!")
        click.echo()
        echo(name)
        """)
    assert len(unsafe_output_calls(bad, "bad.py")) == 7
    assert unsafe_output_calls(good, "good.py") == []


def test_every_csv_is_written_by_csvout() -> None:
    """No csv.writer in engine/: CSV is written by csvout.CsvWriter only
    (formulas neutralised, controls escaped, ";" quoted)."""
    writers = [str(p.relative_to(ENGINE)) for p in ENGINE.rglob("*.py")
               if re.search(r"\bcsv\.(writer|DictWriter)\(", p.read_text(encoding="utf-8"))]
    assert writers == []
