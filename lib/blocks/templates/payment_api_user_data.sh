#!/bin/bash
# Payment API instance bootstrap: docs/payment-api.md "Boot sequence" (rendered by lib/blocks/user_data.py; no brace
# interpolation: Terraform would parse it). The sandbox runs this very text (tools/sandbox/rehearsal/).
set -Eeuo pipefail
umask 077
BOOT_LOG=/var/log/payment-api-boot.log
exec >>"$BOOT_LOG" 2>&1

# shellcheck disable=SC2034  # used by the artifact's boot/configure.sh, sourced below
API_PORT=@@API_PORT@@
ARTIFACT_KEY=@@ARTIFACT_KEY@@
ARTIFACT_SHA256=@@ARTIFACT_HASH@@
RUNTIME_PARAMETER=@@RUNTIME_PARAMETER@@
LOG_GROUP=@@LOG_GROUP@@
# shellcheck disable=SC2034  # used by the artifact's boot/hardening.sh (OS security logs, file integrity)
OS_LOG_GROUP=@@OS_LOG_GROUP@@
ASG_NAME=@@ASG_NAME@@
LIFECYCLE_HOOK=@@LIFECYCLE_HOOK@@
export AWS_DEFAULT_REGION=@@REGION@@
SERVICE_LOGS="api migrate"

complete_hook() {
  retry aws autoscaling complete-lifecycle-action --auto-scaling-group-name "$ASG_NAME" \
    --lifecycle-hook-name "$LIFECYCLE_HOOK" --instance-id "$INSTANCE_ID" --lifecycle-action-result "$1"
}

# A failed boot abandons the instance (the group terminates it); a good one completed the hook CONTINUE below.
finish() {
  if [ "$1" -ne 0 ]; then
    echo "boot: abandoning this instance"
    if [ -z "$INSTANCE_ID" ] || ! complete_hook ABANDON; then
      echo "boot: the hook was not completed: its heartbeat timeout abandons the instance"
    fi
  fi
}

@@INCLUDE bootstrap.sh@@

# The rest ships in the artifact (verified above): boot/configure.sh with the systemd units beside it.
# shellcheck source=/dev/null
. "$APP/boot/configure.sh"

step "lifecycle hook: CONTINUE"
complete_hook CONTINUE
step "done"
