# shellcheck shell=bash
# Payment API boot, second stage. The launch template's user data (lib/blocks/templates/payment_api_user_data.sh)
# sources this file once it has verified and installed the artifact that carries it, so it runs as root under the
# bootstrap's `set -Eeuo pipefail`, ERR trap and lifecycle hook, with its APP, API_PORT, INSTANCE_ID, RUNTIME (the
# runtime parameter's JSON), step and retry. It writes the service's settings, creates this instance's database roles,
# installs the systemd units shipped beside it, starts them and waits until the service answers /ready.
# shellcheck disable=SC2154  # APP, API_PORT, INSTANCE_ID, RUNTIME: set by the user data that sources this file;
# DB_HOST, DB_PORT, DB_SECRET_ARN, IDEMPOTENCY_SECRET_ARN, STRIPE_SECRET_ARN: by the eval of the contract's
# boot-variables below

CONF=/etc/payment-api
LOGS=/var/log/payment-api
BOOT=$APP/boot
READY_SECONDS=120

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

step "systemd units"
# The reconciler (finishes payments left processing) and the idempotency key purge run as oneshot services on their
# timers, as the application role, hardened as the API is. All three load the idempotency HMAC secret that root's
# payment-api-credentials.service fetches (LoadCredential=).
for unit in payment-api-credentials.service payment-api-migrate.service payment-api.service \
  payment-api-reconcile.service payment-api-reconcile.timer payment-api-purge.service payment-api-purge.timer; do
  sed "s/@API_PORT@/$API_PORT/g" "$BOOT/$unit" >"/etc/systemd/system/$unit"
  chmod 0644 "/etc/systemd/system/$unit"
done
# With the Stripe processor, the units that call Stripe (the API and the reconciler) also load the stripe-secret
# credential: a drop-in, so that the simulator's units name no file that does not exist (LoadCredential= with a path
# fails the unit when the file is missing).
for unit in payment-api.service payment-api-reconcile.service; do
  rm -rf "/etc/systemd/system/$unit.d"
  if [ -n "$STRIPE_SECRET_ARN" ]; then
    install -d -m 0755 "/etc/systemd/system/$unit.d"
    printf '[Service]\nLoadCredential=stripe-secret:/run/payment-api-credentials/stripe-secret\n' \
      >"/etc/systemd/system/$unit.d/stripe.conf"
    chmod 0644 "/etc/systemd/system/$unit.d/stripe.conf"
  fi
done
install -m 0644 "$BOOT/logrotate.conf" /etc/logrotate.d/payment-api
systemctl daemon-reload

step "credentials (idempotency secret${STRIPE_SECRET_ARN:+, Stripe secret})"
# Started here on its own so that a failure names this step; the services Require= it, so every later start (a
# reboot empties /run) fetches again first.
retry systemctl start payment-api-credentials.service

step "systemd units: start"
systemctl enable --now payment-api.service
systemctl enable --now payment-api-reconcile.timer payment-api-purge.timer

step "waiting for /ready"
ready() { curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$API_PORT/ready"; }
RETRY_SECONDS=$READY_SECONDS retry ready
