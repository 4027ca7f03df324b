#!/bin/bash
# Payment API instance boot (README "Payment API", "Boot sequence"). Rendered by lib/blocks/user_data.py, which
# substitutes the markers between double at-signs and base64-encodes the result. No brace interpolation anywhere
# (Terraform would parse it), and no value known only at apply time: those come from the runtime parameter.
#  1. python3.11, the CloudWatch agent, nftables and jq from the Amazon Linux 2023 repository (S3 gateway endpoint)
#  2. IMDS, hence the instance role's credentials, for root only
#  3. the artifact: fetched with the AWS CLI, sha256 checked against this script, installed offline into a venv
#  4. root reads the RDS master secret once, creates this instance's database roles (payment-api provision-roles)
#     and writes one credential file per unit; the serving user never sees the master credential
#  5. systemd: migrate (oneshot, owner credential), then serve (application credential), both hardened
#  6. the CloudWatch agent ships /var/log/payment-api/*.log to the service's log group
set -euo pipefail
umask 077
exec >>/var/log/payment-api-boot.log 2>&1

API_PORT=@@API_PORT@@
ARTIFACT_KEY=@@ARTIFACT_KEY@@
ARTIFACT_SHA256=@@ARTIFACT_HASH@@
RUNTIME_PARAMETER=@@RUNTIME_PARAMETER@@
LOG_GROUP=@@LOG_GROUP@@
export AWS_DEFAULT_REGION=@@REGION@@
APP=/opt/payment-api
CONF=/etc/payment-api
LOGS=/var/log/payment-api

echo "boot: packages"
dnf install -y -q python3.11 amazon-cloudwatch-agent nftables jq

echo "boot: IMDS for root only"
cat > /etc/sysconfig/nftables.conf <<'NFT'
table inet imds_guard {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr 169.254.169.254 meta skuid != 0 counter reject
  }
}
NFT
systemctl enable --now nftables.service
systemctl restart nftables.service

imds_token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
INSTANCE_ID=$(curl -sf -H "X-aws-ec2-metadata-token: $imds_token" http://169.254.169.254/latest/meta-data/instance-id)

echo "boot: runtime settings"
runtime=$(aws ssm get-parameter --name "$RUNTIME_PARAMETER" --with-decryption --query Parameter.Value --output text)
setting() { jq -er --arg key "$1" '.[$key]' <<<"$runtime"; }

echo "boot: artifact $ARTIFACT_KEY"
work=$(mktemp -d)
aws s3api get-object --bucket "$(setting artifact_bucket)" --key "$ARTIFACT_KEY" "$work/artifact.tar.gz" >/dev/null
echo "$ARTIFACT_SHA256  $work/artifact.tar.gz" | sha256sum --check --strict
rm -rf "$APP"
install -d -m 0755 "$APP"
tar -xzf "$work/artifact.tar.gz" -C "$APP" --strip-components=1 --no-same-owner --no-same-permissions
chmod -R go+rX,go-w "$APP"
kind=$(jq -er .build_kind "$APP/manifest.json")
if [ "$(setting environment)" = production ] && [ "$kind" != production ]; then
  echo "boot: refusing a $kind artifact in production (it trusts the development test CA, not RDS)"
  exit 1
fi
# An instance cannot tell AWS's RDS bundle from another PEM: only the build could (make deploy refuses what it did not
# verify). Said here so a failing verify-full is traced to its cause; a bundle without RDS's roots fails closed.
if [ "$(jq -r '.ca_bundle.verified // false' "$APP/manifest.json")" != true ]; then
  echo "boot: warning: the artifact's CA bundle was not verified against the pinned RDS roots at build time"
fi
python3.11 -m venv "$APP/venv"
"$APP/venv/bin/pip" install --quiet --no-index --find-links "$APP/wheelhouse" \
  "$APP/$(jq -er .service_wheel "$APP/manifest.json")"
chmod -R go+rX,go-w "$APP"
rm -rf "$work"

echo "boot: users and settings"
id payment-api >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin payment-api
id payment-migrate >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin payment-migrate
install -d -m 0700 "$CONF"
install -d -m 0755 "$LOGS"
cat > "$CONF/common.env" <<EOF
PAYMENT_ENVIRONMENT="$(setting environment)"
PAYMENT_PROCESSOR="$(setting processor)"
PAYMENT_CORS_ORIGINS="$(setting cors_origins)"
PAYMENT_DB_HOST="$(setting db_host)"
PAYMENT_DB_PORT="$(setting db_port)"
PAYMENT_DB_NAME="$(setting db_name)"
PAYMENT_DB_SSLMODE="verify-full"
PAYMENT_DB_SSLROOTCERT="$APP/rds-ca-bundle.pem"
EOF

echo "boot: database roles for $INSTANCE_ID"
secret=$(aws secretsmanager get-secret-value --secret-id "$(setting db_master_secret_arn)" \
  --query SecretString --output text)
(
  set -a
  . "$CONF/common.env"
  set +a
  PAYMENT_DB_MASTER_USER=$(jq -er .username <<<"$secret") PAYMENT_DB_MASTER_PASSWORD=$(jq -er .password <<<"$secret") \
    "$APP/venv/bin/payment-api" provision-roles --instance-id "$INSTANCE_ID" \
    --migrate-env "$CONF/migrate.env" --app-env "$CONF/serve.env"
)
unset secret

echo "boot: systemd units"
HARDENING="NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
IPAddressDeny=169.254.169.254/32
UMask=0077"

cat > /etc/systemd/system/payment-api-migrate.service <<EOF
[Unit]
Description=Payment API schema migration (owner role, advisory-locked)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
User=payment-migrate
EnvironmentFile=$CONF/common.env
EnvironmentFile=$CONF/migrate.env
ExecStart=$APP/venv/bin/payment-api migrate
StandardOutput=append:$LOGS/migrate.log
StandardError=inherit
$HARDENING
EOF

cat > /etc/systemd/system/payment-api.service <<EOF
[Unit]
Description=Payment API (application role)
Requires=payment-api-migrate.service
After=payment-api-migrate.service

[Service]
User=payment-api
EnvironmentFile=$CONF/common.env
EnvironmentFile=$CONF/serve.env
ExecStart=$APP/venv/bin/payment-api serve --host 0.0.0.0 --port $API_PORT
Restart=always
RestartSec=2
StandardOutput=append:$LOGS/api.log
StandardError=inherit
$HARDENING

[Install]
WantedBy=multi-user.target
EOF

cat > /etc/logrotate.d/payment-api <<EOF
$LOGS/*.log {
  daily
  rotate 7
  compress
  missingok
  copytruncate
}
EOF

echo "boot: CloudWatch agent"
cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<EOF
{"agent": {"run_as_user": "root"},
 "logs": {"logs_collected": {"files": {"collect_list": [
   {"file_path": "$LOGS/api.log", "log_group_name": "$LOG_GROUP", "log_stream_name": "{instance_id}/api"},
   {"file_path": "$LOGS/migrate.log", "log_group_name": "$LOG_GROUP", "log_stream_name": "{instance_id}/migrate"},
   {"file_path": "/var/log/payment-api-boot.log", "log_group_name": "$LOG_GROUP",
    "log_stream_name": "{instance_id}/boot"}]}}}}
EOF
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
  -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json

systemctl daemon-reload
systemctl enable --now payment-api.service
echo "boot: done"
