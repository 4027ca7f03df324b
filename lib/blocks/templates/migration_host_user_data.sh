#!/bin/bash
# Migration host bootstrap, once per release (lib/components/migration_host.py says what and why; the sandbox runs
# this very text): the shared bootstrap, the artifact's boot/migration-host.sh, the result, then power off.
set -Eeuo pipefail
umask 077
BOOT_LOG=/var/log/payment-api-boot.log
exec >>"$BOOT_LOG" 2>&1

ARTIFACT_KEY=@@ARTIFACT_KEY@@
ARTIFACT_SHA256=@@ARTIFACT_HASH@@
RUNTIME_PARAMETER=@@RUNTIME_PARAMETER@@
RESULT_PARAMETER=@@RESULT_PARAMETER@@
LOG_GROUP=@@LOG_GROUP@@
export AWS_DEFAULT_REGION=@@REGION@@
SERVICE_LOGS="migrate"
# Time for the CloudWatch agent to ship the last lines (it flushes every 5 s) before the power-off.
LOG_FLUSH_SECONDS=15

report() {
  retry aws ssm put-parameter --name "$RESULT_PARAMETER" --type String --overwrite --value "$1" >/dev/null
}

# Success or failure, the outcome goes to RESULT_PARAMETER and the host powers off (terminate on shutdown).
finish() {
  if [ "$1" -ne 0 ]; then
    report "failed: step '$STEP' (exit $1) on $INSTANCE_ID; logs: $LOG_GROUP, streams $INSTANCE_ID/boot and /migrate" ||
      echo "boot: the result was not written: make deploy's wait ends at its timeout"
  fi
  sleep "$LOG_FLUSH_SECONDS"
  echo "boot: $(date -u +%H:%M:%S) power off"
  shutdown -h now || echo "boot: shutdown failed: the instance stays until someone terminates it"
}

@@INCLUDE bootstrap.sh@@

# shellcheck source=/dev/null
. "$APP/boot/migration-host.sh"

step "result: ok"
report ok
step "done"
