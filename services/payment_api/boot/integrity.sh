# shellcheck shell=bash
# File-integrity monitoring of the service's files (issue 28 item 4; PCI DSS 11.5.2), sourced by boot/configure.sh
# once the service, its units and its settings are installed and started, before the instance reports ready (the
# lifecycle hook: no request reaches it before then). Under the user data's `set -Eeuo pipefail`, ERR trap, step and
# retry, with APP, AGENT, OS_LOG_GROUP, OS_LOGS (boot/hardening.sh) and BOOT.
# - AIDE from the AL2023 repository, with its own configuration (/etc/aide.conf, replacing the package's whole-system
#   one): the installed service and its venv, its units, its settings, the boot scripts, sshd and sudoers, the IMDS
#   guard's rules and AIDE's own configuration; not what changes by design (logs, /run's credentials, the agent's
#   state). Its database is initialised here, from the files this boot installed: a release replaces files by
#   booting new instances, each with a database of its own, so any difference on a running instance is a finding.
# - payment-api-integrity.timer runs boot/integrity-check.sh hourly (payment-api-integrity.service), whose lines go
#   to OS_LOGS/file-integrity.log, shipped by the CloudWatch agent to OS_LOG_GROUP (stream {instance_id}/integrity),
#   where lib/components/file_integrity.py's metric filter counts the finding lines and alarms to the on-call topic.
# shellcheck disable=SC2154  # APP, AGENT, OS_LOG_GROUP, OS_LOGS, BOOT: set by the user data, boot/prepare.sh and
# boot/hardening.sh before this runs

AIDE_CONF=/etc/aide.conf
AIDE_DB_DIR=/var/lib/aide
# The longest the database's initialisation may take (it hashes ~100 MB: seconds) before the boot fails.
AIDE_INIT_SECONDS=600

# The configuration: attributes (permissions, inode, links, owner, group, size, mtime, ctime, sha512, which every AIDE
# release knows) and the selection. Each selection line is a regular expression anchored at the path's start.
# `database` became `database_in` in AIDE 0.17 (`database` is removed in 0.19): the key of the installed release.
aide_configuration() {
  local version input_key=database_in
  version=$(aide --version 2>&1 | sed -n 's/^aide \([0-9][0-9.]*\).*/\1/Ip' | head -n 1)
  case $version in
    0.1[0-6] | 0.1[0-6].*) input_key=database ;;
  esac
  cat <<CONF
# Written by the payment API's boot (boot/integrity.sh, AIDE $version); checked hourly by payment-api-integrity.timer.
$input_key=file:$AIDE_DB_DIR/aide.db.gz
database_out=file:$AIDE_DB_DIR/aide.db.new.gz
gzip_dbout=yes
report_url=stdout
SERVICE = p+i+n+u+g+s+m+c+sha512
# The service: its code, venv, boot scripts and units as the artifact installed them, its settings, its log rotation.
$APP SERVICE
/etc/payment-api SERVICE
/etc/systemd/system/payment-api SERVICE
/etc/systemd/system/[^/]+\.wants/payment-api SERVICE
/etc/logrotate.d/payment-api SERVICE
# Who may log in and what they may do, the IMDS guard, this file.
/etc/ssh/sshd_config SERVICE
/etc/sudoers SERVICE
/etc/sysconfig/nftables.conf SERVICE
$AIDE_CONF SERVICE
CONF
}

step "file integrity (AIDE)"
retry dnf_install aide
aide_configuration >"$AIDE_CONF"
chmod 0600 "$AIDE_CONF"
install -d -m 0700 "$AIDE_DB_DIR"
for unit in payment-api-integrity.service payment-api-integrity.timer; do
  install -m 0644 "$BOOT/$unit" "/etc/systemd/system/$unit"
done
systemctl daemon-reload
# Enabled before the initialisation, so that the database holds the timer's own link.
systemctl enable payment-api-integrity.timer
started=$SECONDS
timeout "$AIDE_INIT_SECONDS" aide --config="$AIDE_CONF" --init >/dev/null
mv "$AIDE_DB_DIR/aide.db.new.gz" "$AIDE_DB_DIR/aide.db.gz"
echo "boot: AIDE database of this boot's files initialised in $((SECONDS - started)) s ($AIDE_CONF)"
systemctl start payment-api-integrity.timer
# The agent ships the check's lines with the other OS security logs, one stream under the instance's id.
install -d -m 0750 "$OS_LOGS"
touch "$OS_LOGS/file-integrity.log"
config="$AGENT/etc/amazon-cloudwatch-agent.json"
jq --arg group "$OS_LOG_GROUP" --arg file "$OS_LOGS/file-integrity.log" '.logs.logs_collected.files.collect_list += [
    {file_path: $file, log_group_name: $group, log_stream_name: "{instance_id}/integrity"}
  ]' "$config" >"$config.new"
mv "$config.new" "$config"
"$AGENT/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:$config"
