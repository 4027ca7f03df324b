# shellcheck shell=bash
# Host hardening (issue 28 items 4 and 5), sourced by boot/configure.sh under the user data's `set -Eeuo pipefail`,
# ERR trap, step and retry, with AGENT (the CloudWatch agent's directory), OS_LOG_GROUP (the stack's OS security log
# group, lib/components/host_security.py) and BOOT (this folder). Three steps, each logged to the boot log:
# - security updates from the AL2023 repository of this AMI's release (PCI DSS 6.3.3), bounded;
# - ssm-user, the user Session Manager sessions run as (the preferences' runAsDefaultUser), without sudo;
# - the OS security logs to OS_LOG_GROUP: authentication (journald's auth and authpriv facilities, written to a file
#   by payment-api-auth-log.service, since AL2023 has no rsyslog and the agent reads files) and the audit log.
# shellcheck disable=SC2154  # AGENT, OS_LOG_GROUP, BOOT: set by the user data and boot/prepare.sh before this runs

# The longest the security updates may take: past it the boot goes on without them (said in the boot log, which the
# agent ships) rather than hold the instance past the lifecycle hook's 30 minutes.
SECURITY_UPDATE_SECONDS=900
# shellcheck source=services/payment_api/boot/session-user.sh
. "$BOOT/session-user.sh"  # SESSION_USER and session_user_without_sudo, shared with the migration host
OS_LOGS=/var/log/os-security

# The AMI's release (2023.x.yyyymmdd), from the file AL2023's system-release package writes.
al2023_release() {
  sed -n 's/^Amazon Linux release \(2023\.[0-9][0-9.]*\) .*/\1/p' /etc/amazon-linux-release
}

step "security updates"
release=$(al2023_release)
if [ -z "$release" ]; then
  echo "boot: /etc/amazon-linux-release names no AL2023 release: $(cat /etc/amazon-linux-release 2>&1)"
  false
fi
# --releasever pins the repository to this AMI's release (AL2023's deterministic upgrades): the fleet gets that
# release's security errata, not whatever release is newest at boot (a new release comes as a new AMI, which the
# scheduled plan reports: tools/deploy/ami_check.py). Kernel updates take effect on the instance's replacement
# (MAX_INSTANCE_LIFETIME_DAYS), not by a reboot here.
echo "boot: dnf upgrade --security --releasever=$release (at most $SECURITY_UPDATE_SECONDS s)"
if ! timeout "$SECURITY_UPDATE_SECONDS" dnf upgrade --security --releasever="$release" -y -q; then
  echo "boot: warning: security updates of release $release not applied (failed or over $SECURITY_UPDATE_SECONDS s);" \
    "the instance runs its AMI's packages"
fi

step "session user $SESSION_USER"
# Session Manager runs sessions as this user (runAsEnabled); the SSM agent creates it with passwordless sudo
# (/etc/sudoers.d/ssm-agent-users) only when runAs is disabled and the user is missing. Created here with no sudo and no
# password (boot/session-user.sh, which the migration host shares).
session_user_without_sudo

step "OS security logs"
install -d -m 0750 "$OS_LOGS"
install -m 0644 "$BOOT/payment-api-auth-log.service" /etc/systemd/system/payment-api-auth-log.service
systemctl daemon-reload
systemctl enable --now payment-api-auth-log.service
# The agent's configuration (written by the bootstrap) gains the two files, one stream each under the instance's id.
config="$AGENT/etc/amazon-cloudwatch-agent.json"
jq --arg group "$OS_LOG_GROUP" --arg auth "$OS_LOGS/auth.log" '.logs.logs_collected.files.collect_list += [
    {file_path: $auth, log_group_name: $group, log_stream_name: "{instance_id}/auth"},
    {file_path: "/var/log/audit/audit.log", log_group_name: $group, log_stream_name: "{instance_id}/audit"}
  ]' "$config" >"$config.new"
mv "$config.new" "$config"
"$AGENT/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:$config"
