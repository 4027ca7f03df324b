# shellcheck shell=bash
# What both hosts' boots share: the API instance's boot/configure.sh and the migration host's boot/migration-host.sh
# source it under the user data's `set -Eeuo pipefail`, ERR trap, APP, INSTANCE_ID, RUNTIME (the runtime parameter's
# JSON), step and retry. It writes the service's settings into CONF and the secrets' ARNs (no secret) into
# credentials.env, and waits for the database. It reads no secret: the RDS master secret and the database roles are the
# migration host's alone (boot/migration-host.sh); an API instance logs in with the application login that its
# payment-api-credentials.service fetches (issue 27: no master or DDL credential on the serving fleet).
# shellcheck disable=SC2154  # APP, INSTANCE_ID, RUNTIME: set by the user data that sources this file;
# DB_HOST, DB_PORT, IDEMPOTENCY_SECRET_ARN, APP_LOGIN_SECRET_ARN, STRIPE_SECRET_ARN: by the eval of the contract's
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
install -d -m 0700 "$CONF"
install -d -m 0755 "$LOGS"
# The runtime parameter becomes the service's settings through the contract's loader (tap_contract.runtime, installed
# from the artifact): every key checked, a missing, unknown or malformed one stops the boot here, naming it.
"$APP/venv/bin/python" -m tap_contract.runtime environment-file <<<"$RUNTIME" >"$CONF/common.env"
printf 'PAYMENT_DB_SSLMODE="verify-full"\nPAYMENT_DB_SSLROOTCERT="%s"\n' "$APP/rds-ca-bundle.pem" >>"$CONF/common.env"
# The boot's own values (DB_HOST, DB_PORT, DB_SECRET_ARN, IDEMPOTENCY_SECRET_ARN, APP_LOGIN_SECRET_ARN,
# STRIPE_SECRET_ARN), shell-quoted by the same loader.
boot_variables=$("$APP/venv/bin/python" -m tap_contract.runtime boot-variables <<<"$RUNTIME")
eval "$boot_variables"
# What root needs to fetch the idempotency HMAC secret, the application's database login and, with the Stripe
# processor, the Stripe secret (payment-api-credentials.service): their ARNs and the region, no secret. The secrets
# themselves go from Secrets Manager to tmpfs only (boot/fetch-credentials.sh).
printf 'IDEMPOTENCY_SECRET_ARN="%s"\nAPP_LOGIN_SECRET_ARN="%s"\nSTRIPE_SECRET_ARN="%s"\nAWS_DEFAULT_REGION="%s"\n' \
  "$IDEMPOTENCY_SECRET_ARN" "$APP_LOGIN_SECRET_ARN" "$STRIPE_SECRET_ARN" "$AWS_DEFAULT_REGION" >"$CONF/credentials.env"

step "database reachable"
# shellcheck disable=SC2016  # $1 and $2 are the inner bash's arguments, expanded there
database_port_open() { timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$DB_HOST" "$DB_PORT"; }
retry database_port_open

