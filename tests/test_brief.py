"""adieu brief, end to end through the installed console script on a
database made by real runs: six monthly runs of examples/scenario (Alder's
offboarding approved in run 6, Elm's proposed and not approved), with
Elm's name made hostile (HTML, a line break, a bidi override)."""

from __future__ import annotations

import csv
import functools
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ADIEU = str(Path(sys.executable).parent / "adieu")
SCENARIO = REPO / "examples" / "scenario"
HOSTILE = "Elm <script>alert(1)</script> & *Co*\nLtd \u202eevil"


# adieu's clock for these tests (tests/docrun.py's sitecustomize): the
# reviewer approves Alder on the day of the June run, and the briefs are
# written that day, whatever the machine's date.
CLOCK = "2026-06-01T15:00:00+00:00"


@functools.cache
def _clock_dir() -> str:
    from docrun import SITECUSTOMIZE

    folder = tempfile.mkdtemp(prefix="brief-clock-")
    Path(folder, "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return folder


def adieu(*args: str, cwd: Path | None = None, clock: str = CLOCK) -> subprocess.CompletedProcess:
    return subprocess.run([ADIEU, *args], capture_output=True, text=True, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "100",
                               "PYTHONPATH": _clock_dir(), "DOCRUN_CLOCK": clock})


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("brief")
    path = tmp / "brief.db"
    for month in ("01", "02", "03", "04", "05", "06"):
        day = f"2026-{month}-01"
        with open(SCENARIO / "snapshots" / f"{day}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            if row["customer_id"] == "CUST-E":
                row["name"] = HOSTILE
        snapshot = tmp / f"{day}.csv"
        with open(snapshot, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        out = adieu("evaluate", str(SCENARIO / "scenario.yaml"), "--source", f"csv:{snapshot}",
                    "--as-of", day, "--db", str(path), "-q")
        assert out.returncode == 0, out.stderr
    out = adieu("approve", "CUST-A", "--run", "6", "--by", "Mara Lind", "--db", str(path))
    assert out.returncode == 0, out.stderr
    return path


def _section() -> str:
    """The text of docs/ops-guide.md's "## The offboarding brief" up to the
    next `## ` heading outside a fenced block."""
    lines = (REPO / "docs" / "ops-guide.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("## The offboarding brief") + 1
    fenced = False
    for end in range(start, len(lines)):
        if lines[end].startswith("```"):
            fenced = not fenced
        elif not fenced and lines[end].startswith("## "):
            break
    return "\n".join(lines[start:end]) + "\n"


def brief(db: Path, *args: str) -> subprocess.CompletedProcess:
    return adieu("brief", *args, "--db", str(db))


# --- the default Markdown brief of an approved offboarding -----------------

def test_approved_brief_carries_everything_domain_asks_for(db: Path):
    out = brief(db, "CUST-A", "--contact", "Jo Bloggs")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "DRAFT" not in text
    assert "Dear Jo Bloggs," in text
    # the figures behind the decision, in the policy's own rendered words
    assert ("**Repeated late payment.** 3 invoices were paid after their due date in the "
            "last 12 months (limit: 3).") in text
    # the strike history with dates
    assert "- Thursday 1 January 2026: Repeated late payment (counts until 2026-06-30)" \
        in text
    assert "- Wednesday 1 April 2026: Cost to serve exceeds revenue (counts until " \
           "2026-09-28)" in text
    assert "- Monday 1 June 2026: Repeated late payment (counts until 2026-11-28)" in text
    # the effective date and why then
    assert ("takes effect on **Friday 31 July 2026** (at the end of a 60-day notice "
            "period). Until then we serve you exactly as today.") in text
    assert "- Why this date: 60-day notice period." in text  # the staff's words stay there
    # the transition timeline: phase-out start, the steps between, effective date
    timeline = text.split("## The transition\n")[1].split("\n## ")[0].strip().splitlines()
    assert timeline == [
        "- Wednesday 1 July 2026: Transition begins: we plan the move with you and keep "
        "serving you as today",
        "- Thursday 16 July 2026: Handover: we send you a full export of your data and "
        "history",
        "- Thursday 30 July 2026: Last working day before the change: we complete the move "
        "with you",
        "- Friday 31 July 2026: The offboarding takes effect"]
    assert "- Harbor & Finch Ltd" in text  # the referral
    assert "sorry for the inconvenience" in text
    assert "Our door stays open" in text
    assert "Never send this brief by e-mail or text message alone" in text
    assert text.rstrip().endswith("Ana Ruiz")  # signed by the account owner


def test_without_a_contact_the_brief_addresses_the_team_and_tells_staff(db: Path):
    out = brief(db, "CUST-A")
    assert out.returncode == 0, out.stderr
    assert "Dear Alder Retail Ltd team," in out.stdout
    assert "No main contact on record: give one with `--contact NAME`" in out.stdout


def test_out_writes_the_file(db: Path, tmp_path: Path):
    target = tmp_path / "alder.md"
    out = brief(db, "CUST-A", "--out", str(target))
    assert out.returncode == 0 and out.stdout == ""
    assert target.read_text(encoding="utf-8") == brief(db, "CUST-A").stdout


# --- DRAFT on every page while the case is not approved -------------------

def test_unapproved_markdown_brief_is_draft_at_top_and_bottom(db: Path):
    out = brief(db, "CUST-E")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.rstrip("\n").splitlines()
    draft = "**DRAFT: this offboarding is not approved yet. Do not send.**"
    assert lines[0] == draft and lines[-1] == draft


def test_unapproved_html_brief_is_draft_in_title_banner_and_fixed_watermark(db: Path):
    out = brief(db, "CUST-E", "--format", "html")
    assert out.returncode == 0, out.stderr
    html = out.stdout
    assert re.search(r"<title>DRAFT: Offboarding brief: ", html)
    assert re.search(r'<h1 class="adieu-draft-banner" role="alert" style="[^"]*">DRAFT: ',
                     html)
    assert re.search(r'<div class="adieu-draft-watermark" aria-hidden="true" '
                     r'style="[^"]*position:fixed!important[^"]*">DRAFT</div>', html)
    assert re.search(r"\.adieu-draft-watermark\{position:fixed;", html)
    # banner and watermark come first in <body>, before any of the letter
    body = html.split("<body>", 1)[1]
    assert body.startswith('<div class="adieu-draft-watermark"')


def test_approved_html_brief_is_not_draft(db: Path):
    out = brief(db, "CUST-A", "--format", "html")
    assert out.returncode == 0, out.stderr
    assert "DRAFT" not in out.stdout
    assert "<title>Offboarding brief: Alder Retail Ltd</title>" in out.stdout


# --- hostile data ----------------------------------------------------------

def test_html_brief_shows_a_script_in_a_name_as_text(db: Path):
    html = brief(db, "CUST-E", "--format", "html").stdout
    assert "<script>" not in html
    assert "Elm &lt;script&gt;alert(1)&lt;/script&gt; &amp; *Co*\nLtd \\u202eevil" in html
    assert "\u202e" not in html


def test_markdown_brief_escapes_markup_line_breaks_and_hidden_characters(db: Path):
    text = brief(db, "CUST-E").stdout
    # CommonMark reads \\ as one backslash: a reader sees \u202eevil
    assert ("Dear Elm \\<script\\>alert(1)\\</script\\> & \\*Co\\* Ltd \\\\u202eevil "
            "team,") in text
    assert "<script>" not in text and "\u202e" not in text
    # an underscore at a word's edge would be emphasis; inside a word it stays
    text = brief(db, "CUST-E", "--contact", "_Jo_ snake_case [x](http://e.test)").stdout
    assert "Dear \\_Jo\\_ snake_case \\[x\\](http://e.test)," in text


# --- refusals --------------------------------------------------------------

def test_a_customer_who_is_not_offboarded_is_refused(db: Path):
    out = brief(db, "CUST-B")  # on warning as of 2026-06-01
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (
        "Error: customer 'CUST-B' is not offboarded in run 6 (as of 2026-06-01): the "
        "decision is warn; a brief is written only for an offboard decision (--run N "
        "picks another run)\n")


def test_an_earlier_run_that_did_not_offboard_is_refused(db: Path):
    out = brief(db, "CUST-A", "--run", "2")
    assert out.returncode == 2
    assert "is not offboarded in run 2 (as of 2026-02-01): the decision is warn" in out.stderr


def test_unknown_customer_and_run(db: Path):
    out = brief(db, "CUST-NOPE")
    assert (out.returncode, out.stderr) == (
        2, "Error: customer 'CUST-NOPE' has no decision in any run\n")
    out = brief(db, "CUST-A", "--run", "99")
    assert (out.returncode, out.stderr) == (2, "Error: no run 99 in the database\n")


def test_missing_database_is_an_error(tmp_path: Path):
    out = adieu("brief", "CUST-A", "--db", str(tmp_path / "none.db"))
    assert out.returncode == 2 and out.stderr.startswith("Error: ")


# --- templates ---------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["md", "html"])
def test_template_out_writes_the_default_and_a_copy_renders_the_same(
        db: Path, tmp_path: Path, fmt: str):
    target = tmp_path / f"mine.{fmt}.j2"
    out = adieu("brief", "--template-out", str(target), "--format", fmt)
    assert out.returncode == 0, out.stderr
    shipped = REPO / "engine" / "brief_templates" / f"brief.{fmt}.j2"
    assert target.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")
    mine = brief(db, "CUST-A", "--template", str(target), "--format", fmt)
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout == brief(db, "CUST-A", "--format", fmt).stdout
    again = adieu("brief", "--template-out", str(target), "--format", fmt)
    assert again.returncode == 2
    assert again.stderr == (f"Error: {target}: already exists: adieu does not overwrite a "
                            "template (remove it or choose another name)\n")


def test_format_follows_the_template_name(db: Path, tmp_path: Path):
    target = tmp_path / "letter.html.j2"
    assert adieu("brief", "--template-out", str(target)).returncode == 0
    assert target.read_text().lstrip().startswith("{#-")
    assert "<!DOCTYPE html>" in target.read_text()
    out = brief(db, "CUST-A", "--template", str(target))
    assert out.returncode == 0 and "<title>" in out.stdout


def test_edited_template_is_used(db: Path, tmp_path: Path):
    t = tmp_path / "short.md.j2"
    t.write_text("To {{ customer.name }}: effective {{ decision.effective_date }} "
                 "({{ decision.timing_basis }}); {{ strikes | length }} strikes; "
                 "{% for r in rules %}{{ r.id }} {{ r.figures[0].name }}="
                 "{{ r.figures[0].value }}{% endfor %}\n")
    out = brief(db, "CUST-A", "--template", str(t))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("To Alder Retail Ltd: effective 2026-07-31 (60-day notice period); "
                          "3 strikes; late-payments late_payment_limit=3\n")


def test_usage_errors(tmp_path: Path):
    out = adieu("brief")
    assert out.returncode == 2 and "Missing argument 'CUSTOMER_ID'" in out.stderr
    out = adieu("brief", "CUST-A", "--template-out", str(tmp_path / "x.j2"))
    assert out.returncode == 2 and "--template-out writes the default template" in out.stderr


# --- hostile templates ---------------------------------------------------------

def _run_template(db: Path, tmp_path: Path, text: str, name: str = "t.md.j2",
                  customer: str = "CUST-A") -> subprocess.CompletedProcess:
    t = tmp_path / name
    t.write_text(text, encoding="utf-8")
    return brief(db, customer, "--template", str(t))


@pytest.mark.parametrize("text,line,placeholder", [
    ("Hello\n\nDear {{ customer.nickname }},\n", 3, "customer.nickname"),
    ("{{ nosuch }}\n", 1, "nosuch"),
    ("a\n{{ rules[7].title }}\n", 2, "rules[7]"),
    ("a\nb\n{% for s in strikes %}{{ s.pardoned_by }}{% endfor %}\n", 3,
     "strikes[].pardoned_by"),
    ("{{ case.reviewer }}\n", 1, "case"),
    ("{% if customer.nickname %}x{% endif %}\n", 1, "customer.nickname"),
    ("{{ decision.effective_date ~ customer.nickname }}\n", 1, "customer.nickname"),
])
def test_missing_placeholder_is_named_with_file_and_line(db: Path, tmp_path: Path,
                                                         text: str, line: int,
                                                         placeholder: str):
    customer = "CUST-E" if placeholder == "case" else "CUST-A"
    if placeholder == "case":  # Elm has a proposed case; make one that has none
        text = "{{ case.nope }}\n"
        placeholder = "case.nope"
    out = _run_template(db, tmp_path, text, customer=customer)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (f"Error: {tmp_path / 't.md.j2'}:{line}: placeholder "
                          f"'{placeholder}' is not in the brief's data\n")


def test_template_syntax_error_names_file_and_line(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, "ok\n{% if %}\n{% endif %}\n")
    assert out.returncode == 2
    assert out.stderr.startswith(f"Error: {tmp_path / 't.md.j2'}:2: template syntax error: ")
    out = _run_template(db, tmp_path, "ok\nok\n{% for x in rules %}\n")
    assert out.returncode == 2
    assert out.stderr.startswith(f"Error: {tmp_path / 't.md.j2'}:")
    assert "template syntax error: Unexpected end of template" in out.stderr


@pytest.mark.parametrize("text", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ customer.__class__ }}",
    "{{ customer._adieu_path }}",
    "{{ range.__globals__ }}",
    "{{ (rules|first).items.__self__.__class__ }}",
    "{% set x = rules.append(1) %}",
    "{{ decision.outcome.__class__.__base__.__subclasses__() }}",
])
def test_template_reaching_python_internals_is_refused(db: Path, tmp_path: Path, text: str):
    out = _run_template(db, tmp_path, "x\n" + text + "\n")
    assert out.returncode == 2, out.stdout
    assert out.stdout == ""
    assert out.stderr.startswith(f"Error: {tmp_path / 't.md.j2'}:2: ")
    assert "Traceback" not in out.stderr
    assert re.search(r"template refused by the sandbox: .*unsafe|placeholder|"
                     r"template error", out.stderr)


def test_sandbox_error_says_what_was_refused(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, "{{ ''.__class__ }}\n")
    assert out.stderr == (f"Error: {tmp_path / 't.md.j2'}:1: template refused by the sandbox: "
                          "access to attribute '__class__' of 'str' object is unsafe.\n")


def test_a_template_cannot_include_other_files(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, "a\n{% include '/etc/passwd' %}\n")
    assert out.returncode == 2
    assert out.stderr == (f"Error: {tmp_path / 't.md.j2'}:2: a brief template is one file: "
                          "it cannot include or extend '/etc/passwd'\n")


def test_lipsum_and_cycler_are_not_offered(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, "{{ lipsum() }}\n")
    assert out.returncode == 2 and "placeholder 'lipsum'" in out.stderr


def test_html_template_without_title_cannot_mark_a_draft(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, "<p>{{ customer.id }}</p>\n", name="t.html.j2",
                        customer="CUST-E")
    assert out.returncode == 2
    assert out.stderr == (f"Error: {tmp_path / 't.html.j2'}: an HTML brief template needs "
                          "<title> so that a draft can be marked DRAFT on every page\n")
    # an approved brief needs no DRAFT marks: the same template is fine
    ok = _run_template(db, tmp_path, "<p>{{ customer.id }}</p>\n", name="t.html.j2")
    assert (ok.returncode, ok.stdout) == (0, "<p>CUST-A</p>\n")


def test_html_template_values_are_autoescaped_even_in_a_user_template(db: Path,
                                                                        tmp_path: Path):
    out = _run_template(db, tmp_path, "<title>{{ customer.name }}</title></head><body>"
                        "{{ customer.name }}</body>\n", name="t.html.j2", customer="CUST-E")
    assert out.returncode == 0, out.stderr
    assert "<script>" not in out.stdout
    assert out.stdout.count("&lt;script&gt;") == 2


def test_unreadable_template(db: Path, tmp_path: Path):
    missing = tmp_path / "none.j2"
    out = brief(db, "CUST-A", "--template", str(missing))
    assert (out.returncode, out.stderr) == (
        2, f"Error: {missing}: cannot read template: No such file or directory\n")
    bad = tmp_path / "latin1.j2"
    bad.write_bytes(b"caf\xe9\n")
    out = brief(db, "CUST-A", "--template", str(bad))
    assert (out.returncode, out.stderr) == (
        2, f"Error: {bad}: template is not UTF-8 text (byte 3)\n")


# --- the documented context ------------------------------------------------------

def _names(value: object, prefix: str) -> set[str]:
    """The context names `value` holds under `prefix` (facts' keys are data)."""
    out = {prefix}
    if isinstance(value, dict) and prefix != "facts":
        for k, v in value.items():
            out |= _names(v, f"{prefix}.{k}")
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                out |= _names(item, f"{prefix}[]") - {f"{prefix}[]"}
    return out


def test_ops_guide_documents_every_context_variable(db: Path):
    from adieu.brief_context import CONTEXT, brief_context, brief_decision
    from adieu.store import open_db

    section = _section()
    documented = re.findall(r"^\| `([a-z_]+(?:\.[a-z_]+|\[\]\.[a-z_]+)*)` \|", section,
                            re.MULTILINE)
    # the table and the names templates are checked against are the same
    # ("shielded: each as in rules, plus ...")
    documented += [n.replace("rules[]", "shielded[]", 1) for n in documented
                   if n.startswith("rules[].")]
    assert sorted(documented) == sorted(CONTEXT)
    store = open_db(str(db), create=False)
    try:
        names = set()
        for cid in ("CUST-A", "CUST-E"):
            run, row = brief_decision(store, cid, None)
            context = brief_context(store, run, row, "Jo Bloggs")
            for key, value in context.items():
                names |= _names(value, key)
    finally:
        store.close()
    assert names - set(CONTEXT) == set()


# --- another policy: no names or owners, a rule without `explain`, contract end -----

def test_tiny_policy_brief_without_names_or_explanations(evaluated: Path):
    out = brief(evaluated, "C-OFF")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("**DRAFT: ") and text.rstrip().endswith("Do not send.**")
    assert "- No offboarding case on record" not in text  # the run proposed a case
    assert "- Case 1: proposed, waiting for review." in text
    assert "Dear customer team," in text
    assert "- **Escalations.**\n" in text  # no explain text: the title alone
    assert "- **Cost above revenue.** Cost 5,000 is 500% of revenue 1,000." in text
    assert "takes effect on **Tuesday 15 December 2026** (at the end of your contract term)" \
        in text
    timeline = text.split("## The transition\n")[1].split("\n## ")[0].strip().splitlines()
    assert [line.split(":")[0] for line in timeline] == [
        "- Tuesday 1 December 2026", "- Tuesday 8 December 2026",
        "- Monday 14 December 2026", "- Tuesday 15 December 2026"]
    assert text.rstrip().splitlines()[-3] == "Your account team"


def test_tiny_policy_referrals_and_refusals(evaluated: Path):
    out = brief(evaluated, "C-ABUSE")
    assert out.returncode == 0, out.stderr
    assert "- BigCo\n- Other Ltd\n" in out.stdout
    out = brief(evaluated, "C-HELD")
    assert (out.returncode, out.stderr) == (2, (
        "Error: customer 'C-HELD' is not offboarded in run 1 (as of 2026-11-02): the "
        "decision is held (held back for review: no brief until the hold is resolved); a "
        "brief is written only for an offboard decision (--run N picks another run)\n"))
    for cid, outcome in (("C-EXEMPT", "exempt"), ("C-KEEP", "keep"), ("C-WATCH", "watch"),
                         ("C-FINAL", "final_notice")):
        out = brief(evaluated, cid)
        assert out.returncode == 2
        assert f"the decision is {outcome};" in out.stderr


@pytest.mark.parametrize("start,effective,steps", [
    ("2026-07-31", "2026-07-31", [("2026-07-31", "effective")]),   # phase_out_days: 0
    ("2026-07-30", "2026-07-31", [("2026-07-30", "phase_out_start"),
                                  ("2026-07-31", "effective")]),
    ("2026-07-29", "2026-07-31", [("2026-07-29", "phase_out_start"),
                                  ("2026-07-30", "last_day"), ("2026-07-31", "effective")]),
    ("2026-07-28", "2026-07-31", [("2026-07-28", "phase_out_start"),
                                  ("2026-07-29", "handover"), ("2026-07-30", "last_day"),
                                  ("2026-07-31", "effective")]),
    ("2026-07-27", "2026-07-31", [("2026-07-27", "phase_out_start"),
                                  ("2026-07-29", "handover"), ("2026-07-30", "last_day"),
                                  ("2026-07-31", "effective")]),
])
def test_timeline_steps(start: str, effective: str, steps: list[tuple[str, str]]):
    from adieu.brief_context import _timeline

    assert [(s["date"], s["step"]) for s in _timeline(start, effective)] == steps


def test_control_characters_in_a_template_do_not_reach_the_terminal(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, "\x1b[31mred\x1b[0m {{ customer.id }}\n")
    assert (out.returncode, out.stdout) == (0, "\\x1b[31mred\\x1b[0m CUST-A\n")


@pytest.mark.parametrize("contact,message", [
    ("  ", "is blank: give the main contact's name"),
    ("Jo\x1bBloggs", "the name may not contain a control character (U+001B)"),
    ("Jo\u202eBloggs", "the name may not contain an invisible or formatting character "
                       "(U+202E)"),
])
def test_contact_must_be_a_name(db: Path, contact: str, message: str):
    out = brief(db, "CUST-A", "--contact", contact)
    assert out.returncode == 2
    assert out.stderr.endswith(f"Invalid value for '--contact': {message}\n")


def test_main_contact_fact_declared_by_the_policy_addresses_the_brief(tmp_path: Path):
    from conftest import CSV_HEADER, CSV_ROWS, POLICY

    policy = tmp_path / "contact.yaml"
    policy.write_text(POLICY.replace(
        "on_missing: watch\n", "on_missing: watch\nfacts:\n  main_contact:\n    type: string\n"
        "allow_missing_facts: [main_contact]\n"), encoding="utf-8")
    rows = [row + (",Pat Doe" if row.startswith("C-OFF,") else ",")
            for row in CSV_ROWS[:-1]]
    source = tmp_path / "c.csv"
    source.write_text("\n".join([CSV_HEADER + ",main_contact", *rows]) + "\n")
    path = tmp_path / "c.db"
    out = adieu("evaluate", str(policy), "--source", f"csv:{source}", "--as-of", "2026-11-02",
                "--db", str(path), "-q")
    assert out.returncode == 0, out.stderr
    assert "\nDear Pat Doe,\n" in brief(path, "C-OFF").stdout
    assert "\nDear Sam Carter,\n" in brief(path, "C-OFF", "--contact", "Sam Carter").stdout
    assert "\nDear customer team,\n" in brief(path, "C-ABUSE").stdout  # no contact


def test_a_rejected_offboarding_has_no_brief(evaluated: Path):
    out = adieu("reject", "C-OFF", "--by", "Mara Lind", "--note", "our escalations",
                "--no-owner-on-record", "--db", str(evaluated))
    assert out.returncode == 0, out.stderr
    out = brief(evaluated, "C-OFF")
    assert (out.returncode, out.stdout, out.stderr) == (2, "", (
        "Error: the offboarding of customer 'C-OFF' that run 1 proposed was rejected by "
        "Mara Lind (case 1): there is no brief to write\n"))
    assert brief(evaluated, "C-ABUSE").returncode == 0  # another customer's case is open


def test_facts_render_as_plain_text_without_python_quotes(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, "{{ facts.owner }}|{{ facts.contract_end }}|"
                        "{{ facts.reference_account }}|{{ facts.revenue_12m }}|"
                        "{{ facts.industry }}\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Ana Ruiz|2027-03-31|false|43,500|retail\n"


@pytest.mark.parametrize("value,shown", [
    ("# Big Heading", "\\# Big Heading"), ("- list item", "\\- list item"),
    ("+ item", "\\+ item"), ("* item", "\\* item"), ("1. numbered", "1\\. numbered"),
    ("3) numbered", "3\\) numbered"), ("> quote", "\\> quote"), ("===", "\\==="),
    ("---", "\\---"), ("~~~", "\\~~~"), ("```", "\\`\\`\\`"), ("| a |", "\\| a \\|"),
    ("    indented code", "indented code"),
    # what is not block markup stays as written
    ("-5", "-5"), ("1.10", "1.10"), ("2027-03-31", "2027-03-31"),
])
def test_markdown_value_starting_a_line_cannot_open_a_block(db: Path, tmp_path: Path,
                                                           value: str, shown: str):
    text = "{% for v in [" + repr(value) + "] %}{{ v }}{% endfor %}\nafter\n"
    out = _run_template(db, tmp_path, text, customer="CUST-E")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[2] == shown
    # the closing DRAFT line is still the last line, after the value
    assert lines[-1].startswith("**DRAFT") and lines[3] == "after"


@pytest.mark.parametrize("template", [
    # a decoy head and body inside a comment, a script or a style
    "<!-- <title>x</title></head><body> --><html><head><title>Final brief</title>"
    "</head><body>Hello</body></html>\n",
    "<html><head><script>'<title>x</title></head><body>'</script><title>Final brief"
    "</title></head><body>Hello</body></html>\n",
    "<html><head><style>/* <title>x</title></head><body> */</style><title>Final brief"
    "</title></head>\r\n<body>Hello</body></html>\n",
])
def test_html_draft_marks_land_on_the_real_title_and_body(db: Path, tmp_path: Path,
                                                         template: str):
    out = _run_template(db, tmp_path, template, name="t.html.j2", customer="CUST-E")
    assert out.returncode == 0, out.stderr
    assert "<title>DRAFT: Final brief</title>" in out.stdout
    assert re.search(r'</head>\r?\n?<body><div class="adieu-draft-watermark"', out.stdout)
    assert "<title>x</title>" in out.stdout  # the decoy untouched


def test_html_draft_marks_carry_inline_important_styles(db: Path, tmp_path: Path):
    # a template's stylesheet cannot hide them: inline !important wins
    out = _run_template(db, tmp_path, "<html><head><title>B</title></head><body><style>"
                        ".adieu-draft-watermark,.adieu-draft-banner{display:none!important}"
                        "</style>Hello</body></html>\n", name="t.html.j2", customer="CUST-E")
    assert out.returncode == 0, out.stderr
    for cls in ("adieu-draft-watermark", "adieu-draft-banner"):
        style = re.search(f'class="{cls}"[^>]*style="([^"]*)"', out.stdout).group(1)
        assert "display:block!important" in style
        assert "visibility:visible!important" in style


@pytest.mark.parametrize("text,message", [
    ('{{ "x" * 1000000000 }}\n', "1: template stopped: repeating 1 items 1,000,000,000 times"),
    ('a\n{{ ("x" * 100000) * 100000 }}\n',
     "2: template stopped: repeating 100,000 items 100,000 times"),
    ("{{ 2 ** 100000 }}\n", "1: template stopped: a number over 10**100"),
    ("{{ 10 ** 60 * 10 ** 60 }}\n", "1: template stopped: a number over 10**100"),
    ('{% set ns = namespace(x="xx") %}{% for i in range(40) %}'
     "{% set ns.x = ns.x ~ ns.x %}{% endfor %}\n",
     "1: template stopped: a value of 1,048,576 items"),
    ('{% set ns = namespace(x=["x"]) %}{% for i in range(40) %}'
     "{% set ns.x = ns.x + ns.x %}{% endfor %}\n",
     "1: template stopped: a value of 1,048,576 items"),
    ("{% for i in range(100000) %}{% for j in range(100) %}" + "x" * 50 +
     "{% endfor %}{% endfor %}\n",
     " template stopped: the brief is over the limit of 5,000,000 characters"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n",
     "1: template stopped: rendering took longer than 10 seconds"),
])
def test_a_template_cannot_exhaust_memory_time_or_output(db: Path, tmp_path: Path,
                                                         text: str, message: str):
    out = _run_template(db, tmp_path, text)
    assert out.returncode == 2
    assert out.stderr.startswith(f"Error: {tmp_path / 't.md.j2'}:{message}")
    assert out.stdout == ""


@pytest.mark.parametrize("text,message", [
    ('{{ "x"|center(999999999) }}\n', "1: template stopped: center: 999,999,999 is over"),
    ('{{ "x"|indent(999999999) }}\n', "1: template stopped: indent: 999,999,999 is over"),
    ('{{ "%999999999s"|format("x") }}\n', "1: template stopped: format: a width"),
    ('{{ "%999999999s" % "x" }}\n', "1: template stopped: %: a width"),
    ('{{ "{:>999999999}".format("x") }}\n', "1: template stopped: format: a width"),
    ('{{ ("x" * 1000)|replace("x", "y" * 100000) }}\n',
     "1: template stopped: replace: the result would be over"),
])
def test_a_filter_or_format_cannot_build_a_huge_text(db: Path, tmp_path: Path,
                                                      text: str, message: str):
    """Widths and counts are checked before the text is built (a filter's
    own loop would take the memory before any output limit applies)."""
    out = _run_template(db, tmp_path, text)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"Error: {tmp_path / 't.md.j2'}:{message}"), out.stderr


def test_small_computations_stay_allowed(db: Path, tmp_path: Path):
    out = _run_template(db, tmp_path, '{{ "ab" * 3 }} {{ 3 * 4 }} {{ 2 ** 10 }} '
                        "{{ ([1] + [2])|length }} {{ 1 ~ 2 }} {{ 'ab'|center(6) }}|"
                        '{{ "%5s"|format("x") }} {{ "a-b"|replace("-", "+") }} '
                        '{{ "{:>3}".format("x") }}\n')
    # Markdown values lose their leading spaces (no indented code block)
    assert (out.returncode, out.stdout) == (0, "ababab 12 1024 2 12 ab  |x a+b x\n")
