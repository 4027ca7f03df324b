#!/bin/bash
# The hourly file-integrity check (payment-api-integrity.service, installed by boot/integrity.sh): `aide --check`
# against the database the boot initialised, its result as lines of OS_LOGS/file-integrity.log, which the CloudWatch
# agent ships to the OS security log group. The lines, one per check and kind (lib/components/file_integrity.py counts
# the `finding` and `check failed` ones; docs/operating.md says what each means):
#   <time> file-integrity: no differences
#   <time> file-integrity: finding: added entries        (AIDE's exit code is a bitmask: 1 added,
#   <time> file-integrity: finding: removed entries       2 removed,
#   <time> file-integrity: finding: changed entries       4 changed)
#   <time> file-integrity: report: <a line of AIDE's report> (after a finding: which files, which attributes)
#   <time> file-integrity: check failed: <why>           (AIDE's error codes 14-19, a timeout, no aide)
# AIDE's wording differs between releases; these lines do not. Usage: integrity-check.sh [LOG]
set -uo pipefail

LOG=${1:-/var/log/os-security/file-integrity.log}
AIDE_CONF=${AIDE_CONF:-/etc/aide.conf}  # boot/integrity.sh writes it; a test may name another
# The longest one check may take (the unit's TimeoutStartSec= is the backstop): past it the check counts as failed.
CHECK_SECONDS=900
# The report's lines copied after a finding (the whole report stays reproducible with `aide --check` on the host).
REPORT_LINES=400

say() { printf '%s file-integrity: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >>"$LOG"; }

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
timeout "$CHECK_SECONDS" nice -n 19 aide --config="$AIDE_CONF" --check >"$report" 2>&1 || status=$?

if ((status == 0)); then
  say "no differences"
elif ((status < 8)); then
  ((status & 1)) && say "finding: added entries"
  ((status & 2)) && say "finding: removed entries"
  ((status & 4)) && say "finding: changed entries"
  head -n "$REPORT_LINES" "$report" | while IFS= read -r line; do
    [ -n "$line" ] && say "report: $line"
  done
else
  case $status in
    124) why="aide --check ran past $CHECK_SECONDS s" ;;
    127) why="aide is not installed" ;;
    *) why="aide --check exited $status: $(tail -n 3 "$report" | tr '\n' ' ')" ;;
  esac
  say "check failed: $why"
fi
# The unit succeeds whatever the check found: the lines are the result, and a failed unit would say nothing more.
exit 0
