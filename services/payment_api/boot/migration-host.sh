# shellcheck shell=bash
# The migration host's second stage. Its launch template's user data (lib/blocks/templates/migration_host_user_data.sh)
# sources this file once it has verified and installed the artifact that carries it, under the bootstrap's
# `set -Eeuo pipefail` and ERR trap, with APP, INSTANCE_ID, RUNTIME, step and retry. The settings both hosts share
# (boot/prepare.sh); then, with the RDS master secret that only this host's role may read: the database roles (its own
# migrate login, a fresh password on the application login the fleet does not use), the release's migrations with the
# owner role through the hardened payment-api-migrate.service (it ends "schema at head" or fails the step), and last a
# new version of the application's login secret naming that login. No service starts.
# shellcheck disable=SC2154  # APP: set by the user data that sources this file; BOOT, CONF, DB_SECRET_ARN,
# APP_LOGIN_SECRET_ARN: by boot/prepare.sh

# shellcheck source=services/payment_api/boot/prepare.sh
. "$APP/boot/prepare.sh"
id payment-migrate >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin payment-migrate
# shellcheck source=services/payment_api/boot/session-user.sh
. "$BOOT/session-user.sh"

step "session user $SESSION_USER"
# The account's Session Manager preferences run every session as this user, here too: no sudo (as on the API instances).
session_user_without_sudo

step "database roles (migration host $INSTANCE_ID)"
# The login the app-login secret's AWSCURRENT version names (its label; empty before the first release): the fleet
# still serving uses it, so this release sets a new password on the other one (payment_api.provision). DescribeSecret
# only: this host never reads the login's value.
current_login=$(retry aws secretsmanager describe-secret --secret-id "$APP_LOGIN_SECRET_ARN" --output json |
  jq -r '[(.VersionIdsToStages // {})[] | select(index("AWSCURRENT")) | .[] | select(startswith("payment_app_"))]
    | first // ""')
# The new login's JSON stays on tmpfs, root only, until the migrations succeeded; then it becomes the secret's
# AWSCURRENT version (a failed migration leaves the secret, and so the logins new instances use, as they were).
login_dir=/run/payment-api-provision
install -d -m 0700 "$login_dir"
secret=$(retry aws secretsmanager get-secret-value --secret-id "$DB_SECRET_ARN" \
  --query SecretString --output text)
(
  set -a
  # shellcheck source=/dev/null
  . "$CONF/common.env"
  set +a
  PAYMENT_DB_MASTER_USER=$(jq -er .username <<<"$secret")
  PAYMENT_DB_MASTER_PASSWORD=$(jq -er .password <<<"$secret")
  export PAYMENT_DB_MASTER_USER PAYMENT_DB_MASTER_PASSWORD
  "$APP/venv/bin/payment-api" provision-roles --instance-id "$INSTANCE_ID" --migrate-env "$CONF/migrate.env" \
    --current-app-login "$current_login" --app-credential "$login_dir/db-login"
)
unset secret
next_login=$(jq -er .username "$login_dir/db-login")
echo "boot: application login ${current_login:-none yet} -> $next_login"

step "migrations"
sed "s/@API_PORT@/0/g" "$BOOT/payment-api-migrate.service" >/etc/systemd/system/payment-api-migrate.service
chmod 0644 /etc/systemd/system/payment-api-migrate.service
systemctl daemon-reload
systemctl start payment-api-migrate.service

step "application login: $next_login"
# One request token for the retries, so a retried call after a lost answer makes no second version. The label names
# the login, for the next release's host (above) and for operators (docs/operating.md).
token=$(cat /proc/sys/kernel/random/uuid)
retry aws secretsmanager put-secret-value --secret-id "$APP_LOGIN_SECRET_ARN" --client-request-token "$token" \
  --secret-string "file://$login_dir/db-login" --version-stages AWSCURRENT "$next_login" --output json >/dev/null
rm -rf "$login_dir"
