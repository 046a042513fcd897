# shellcheck shell=bash
# tests/ops/report.sh — sourced by the operator tests (tests/ops/test_*.sh):
# their report lines in the format of tests/ops/run.sh. The sourcing script
# sets NAME (its name, e.g. test_deb) first.
#   ok WHAT                  "ok WHAT"
#   bad WHAT WHY             "FAIL WHAT: WHY"
#   check WHAT COMMAND...    ok when COMMAND succeeds, else bad with its output
#   expect WHAT GOT WANT     ok when GOT is WANT, else bad with what it got
#   note TEXT...             "# TEXT (seconds since the start)" on stderr
#   first_lines TEXT         at most 5 non-empty lines of TEXT on one line
#   finish                   the last line "NAME: N passed, M failed"; exit 1 on a failure
PASS=0
FAILED=0
T0=$(date +%s)
ok() { printf 'ok %s\n' "$1"; PASS=$((PASS + 1)); }
bad() { printf 'FAIL %s: %s\n' "$1" "$2"; FAILED=$((FAILED + 1)); }
note() { printf '# %s (%ds)\n' "$*" "$(( $(date +%s) - T0 ))" >&2; }
first_lines() { printf '%s\n' "$1" | grep -v '^[[:space:]]*$' | head -n 5 | tr '\n' '|' | sed 's/|$//; s/|/ | /g'; }
check() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$what"; else bad "$what" "$(first_lines "$out")"; fi
}
expect() {
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got: $(first_lines "$2")"; fi
}
finish() {
    printf '%s: %d passed, %d failed\n' "$NAME" "$PASS" "$FAILED"
    [ "$FAILED" = 0 ] && exit 0
    exit 1
}
