# shellcheck shell=bash
# The boot's settings and database roles, shared by the API instance's boot/configure.sh and the migration host's
# boot/migration-host.sh, which source it under the user data's `set -Eeuo pipefail`, ERR trap, APP, INSTANCE_ID,
# RUNTIME (the runtime parameter's JSON), step and retry. It writes the service's settings into CONF, waits for the
# database and creates this instance's login roles (payment-api provision-roles) with the RDS master secret.
# shellcheck disable=SC2154  # APP, INSTANCE_ID, RUNTIME: set by the user data that sources this file;
# DB_HOST, DB_PORT, DB_SECRET_ARN, IDEMPOTENCY_SECRET_ARN, STRIPE_SECRET_ARN: by the eval of the contract's
# boot-variables below

CONF=/etc/payment-api
LOGS=/var/log/payment-api
# shellcheck disable=SC2034  # used by the scripts that source this one (configure.sh, migration-host.sh)
BOOT=$APP/boot

# An instance cannot tell AWS's RDS bundle from another PEM: only the build could (make deploy refuses what it did not
# verify). Said here so a failing verify-full is traced to its cause; a bundle without RDS's roots fails closed.
if [ "$(jq -r '.ca_bundle.verified // false' "$APP/manifest.json")" != true ]; then
  echo "boot: warning: the artifact's CA bundle was not verified against the pinned RDS roots at build time"
fi

step "users and settings"
id payment-api >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin payment-api
id payment-migrate >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin payment-migrate
install -d -m 0700 "$CONF"
install -d -m 0755 "$LOGS"
# The runtime parameter becomes the service's settings through the contract's loader (tap_contract.runtime, installed
# from the artifact): every key checked, a missing, unknown or malformed one stops the boot here, naming it.
"$APP/venv/bin/python" -m tap_contract.runtime environment-file <<<"$RUNTIME" >"$CONF/common.env"
printf 'PAYMENT_DB_SSLMODE="verify-full"\nPAYMENT_DB_SSLROOTCERT="%s"\n' "$APP/rds-ca-bundle.pem" >>"$CONF/common.env"
# The boot's own values (DB_HOST, DB_PORT, DB_SECRET_ARN, IDEMPOTENCY_SECRET_ARN, STRIPE_SECRET_ARN), shell-quoted by
# the same loader.
boot_variables=$("$APP/venv/bin/python" -m tap_contract.runtime boot-variables <<<"$RUNTIME")
eval "$boot_variables"
# What root needs to fetch the idempotency HMAC secret and, with the Stripe processor, the Stripe secret
# (payment-api-credentials.service): their ARNs and the region, no secret. The secrets themselves go from Secrets
# Manager to tmpfs only (boot/fetch-credentials.sh).
printf 'IDEMPOTENCY_SECRET_ARN="%s"\nSTRIPE_SECRET_ARN="%s"\nAWS_DEFAULT_REGION="%s"\n' "$IDEMPOTENCY_SECRET_ARN" \
  "$STRIPE_SECRET_ARN" "$AWS_DEFAULT_REGION" >"$CONF/credentials.env"

step "database reachable"
# shellcheck disable=SC2016  # $1 and $2 are the inner bash's arguments, expanded there
database_port_open() { timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$DB_HOST" "$DB_PORT"; }
retry database_port_open

step "database roles for $INSTANCE_ID"
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
  "$APP/venv/bin/payment-api" provision-roles --instance-id "$INSTANCE_ID" \
    --migrate-env "$CONF/migrate.env" --app-env "$CONF/serve.env"
)
unset secret
