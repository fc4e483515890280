#!/usr/bin/env bash
# A year of runs: twelve monthly evaluations of one customer base with the
# installed `adieu`, the human actions in between (two registry exemptions,
# a pardon, two reviews; Alder's approved offboarding carried to its
# effective date), then history, strikes, audit verify and a replay of
# every run. Walked through in docs/ops-guide.md, "A year of runs".
#
#   examples/scenario/run.sh            # writes examples/scenario/scenario.db
#   ADIEU=/path/to/adieu examples/scenario/run.sh
#
# Exits non-zero as soon as anything does not go as the walkthrough says
# (the outcomes, Alder's case and its date at the key months, the trail).
# The reviews are recorded with the day they were made (`approve --on`), so
# the year is the same whatever day the script runs.

set -euo pipefail
cd "$(dirname "$0")"

ADIEU=${ADIEU:-adieu}
DB=scenario.db
POLICY=scenario.yaml
REVIEWER="Mara Lind"   # head of finance: owns no account in this base

adieu() { command "$ADIEU" "$@"; }  # `command`: the program, not this function
say() { printf '\n== %s\n' "$*"; }
evaluate() {  # evaluate MONTH (YYYY-MM-DD) [more options]
    local day=$1
    shift
    adieu evaluate "$POLICY" --source "csv:snapshots/$day.csv" --as-of "$day" --db "$DB" "$@"
}
shows() {  # shows TEXT COMMAND...: run it, print its output; stop unless TEXT is in it
    local text=$1 out
    shift
    out=$("$@")
    printf '%s\n' "$out"
    if ! grep -qF -- "$text" <<<"$out"; then
        echo "expected \"$text\" in the output of: $*" >&2
        exit 1
    fi
}
refused() {  # the command must fail with exit code 2
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -ne 2 ]; then
        echo "expected exit code 2, got $rc: $*" >&2
        exit 1
    fi
}

rm -f "$DB" "$DB-wal" "$DB-shm" tampered.db tampered.db-wal tampered.db-shm

say "Elm is a reference account: a registry exemption for its cost, until 2027-01-01"
adieu exempt CUST-E --rules cost-exceeds-revenue --reason "Reference account: speaks at our user conference" \
    --approver "Chief Commercial Officer" --until 2027-01-01 --new-customer --db "$DB"

for month in 01 02 03 04 05 06 07 08 09 10 11 12; do
    day=2026-$month-01
    say "Run of $day"
    evaluate "$day"

    case $month in
    03)
        say "Gorse's late payments were our invoicing error: pardon the strike"
        adieu strikes CUST-G --as-of "$day" --db "$DB"
        adieu strikes pardon CUST-G late-payments --by "Gustav Berg" \
            --reason "late payments caused by our invoicing error (INC-2291)" --db "$DB"
        ;;
    05)
        say "Ivy is on final notice; the CEO makes it a strategic reference until 2026-08-15"
        adieu exempt CUST-I --all --reason "Strategic reference: co-presents our autumn launch" \
            --approver "CEO" --until 2026-08-15 --db "$DB"
        ;;
    06)
        say "Ivy is exempt: its two strikes are set aside while the exemption applies"
        shows "strikes set aside while an exemption applies: 2" adieu explain CUST-I --db "$DB"
        say "Alder reaches offboard: it waits for review"
        shows "CUST-A  case 1  run 6  [medium]  3 strikes  effective 2026-07-31" \
            adieu pending --db "$DB"
        say "The account owner may not approve (any spelling)"
        refused adieu approve CUST-A --run 6 --by "ana ruiz" --db "$DB"
        say "The head of finance approved it on the day of the run"
        shows "offboarding approved by $REVIEWER" adieu approve CUST-A --run 6 --by "$REVIEWER" \
            --note "three strikes in five months; 60 days' notice to 2026-07-31" \
            --on 2026-06-01 --db "$DB"
        ;;
    07)
        say "Cedar's exemption expired on 2026-06-15"
        shows "note: exemption cedar-launch-reference expired on 2026-06-15" \
            adieu explain CUST-C --db "$DB"
        say "Alder is still proposed for offboarding: its approved case keeps 2026-07-31"
        shows "case 1: approved, effective 2026-07-31" adieu explain CUST-A --db "$DB"
        shows "nothing waits for review" adieu pending --db "$DB"
        ;;
    08)
        say "The August run is after 2026-07-31: Alder's offboarding is effective"
        shows "case 1: effective, effective 2026-07-31" adieu history CUST-A --db "$DB"
        ;;
    09)
        say "Ivy's exemption ended on 2026-08-15: its April strike, still in its window, counts again"
        shows "CUST-I: WARN" adieu explain CUST-I --db "$DB"
        ;;
    12)
        # Before Dogwood's review: a review since the run is memory, and a
        # re-run with it is a new run (docs/ops-guide.md, "Offboarding cases").
        say "Re-running a month writes nothing"
        evaluate "$day" >/dev/null
        say "Dogwood reaches offboard: it waits for review"
        shows "CUST-D  case 2  run 12" adieu pending --db "$DB"
        refused adieu approve CUST-D --run 12 --by "David Kim" --db "$DB"
        adieu approve CUST-D --run 12 --by "$REVIEWER" --note "late again after a final notice" \
            --on 2026-12-01 --db "$DB"
        shows "nothing waits for review" adieu pending --db "$DB"
        ;;
    esac
done

say "An earlier month is refused without --backfill ..."
refused evaluate 2026-09-01
say "... and with --backfill the same snapshot is still the same run"
evaluate 2026-09-01 --backfill >/dev/null
run_entries=$(adieu audit export --db "$DB" | grep -c '"kind": "run"')
if [ "$run_entries" -ne 12 ]; then
    echo "expected 12 runs in the audit trail, found $run_entries" >&2
    exit 1
fi

say "Timelines"
adieu history CUST-A --db "$DB"
adieu history CUST-B --db "$DB"
adieu history CUST-C --db "$DB"
adieu history CUST-D --db "$DB"
adieu history CUST-I --db "$DB"
shows "CUST-D: 3 active strike(s) as of 2026-12-01" adieu strikes CUST-D --as-of 2026-12-01 --db "$DB"
adieu exemptions --as-of 2026-12-01 --db "$DB"

say "The audit trail"
shows "audit trail intact: 58 entries" adieu audit verify --db "$DB"

say "Every run replays without a difference"
for run in $(seq 1 12); do
    shows "0 difference(s)" adieu replay "$run" --db "$DB"
done

if command -v sqlite3 >/dev/null; then
    say "Tampering with a copy: edit one audit entry by hand"
    sqlite3 "$DB" "pragma wal_checkpoint(truncate)" >/dev/null
    cp "$DB" tampered.db
    sqlite3 tampered.db "drop trigger audit_no_update;
        update audit set payload = replace(payload, 'approved', 'rejected')
        where kind = 'case' and customer_id = 'CUST-D'"
    rc=0
    adieu audit verify --db tampered.db || rc=$?
    if [ "$rc" -ne 1 ]; then
        echo "expected audit verify to fail with exit code 1, got $rc" >&2
        exit 1
    fi
    rm -f tampered.db tampered.db-wal tampered.db-shm
fi

say "Done: the year is in $(pwd)/$DB"
