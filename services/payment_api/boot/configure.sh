# shellcheck shell=bash
# Payment API boot, second stage. The launch template's user data (lib/blocks/templates/payment_api_user_data.sh)
# sources this file once it has verified and installed the artifact that carries it, so it runs as root under the
# bootstrap's `set -Eeuo pipefail`, ERR trap and lifecycle hook, with its APP, API_PORT, INSTANCE_ID, RUNTIME (the
# runtime parameter's JSON), step and retry. It writes the service's settings (boot/prepare.sh, shared with the
# migration host), installs the systemd units shipped beside it, starts them and waits until the service answers /ready.
# It reads no master secret, creates no database role and runs no migration: the release's migration host did that
# before the group launched; the service logs in with the application login (LoadCredential=db-login), and /ready
# answers only once the database's schema is at this artifact's head (issue 27).
# shellcheck disable=SC2154  # APP, API_PORT: set by the user data that sources this file; BOOT, STRIPE_SECRET_ARN:
# by boot/prepare.sh

# shellcheck source=services/payment_api/boot/prepare.sh
. "$APP/boot/prepare.sh"
# shellcheck source=services/payment_api/boot/hardening.sh
. "$BOOT/hardening.sh"  # security updates, the session user, the OS security logs (issue 28)
READY_SECONDS=120

step "systemd units"
# The reconciler (finishes payments left processing) and the idempotency key purge run as oneshot services on their
# timers, as the application role, hardened as the API is. All three load the idempotency HMAC secret and the
# application's database login that root's payment-api-credentials.service fetches (LoadCredential=).
for unit in payment-api-credentials.service payment-api.service \
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

step "credentials (idempotency secret, application login${STRIPE_SECRET_ARN:+, Stripe secret})"
# Started here on its own so that a failure names this step; the services Require= it, so every later start (a
# reboot empties /run) fetches again first.
retry systemctl start payment-api-credentials.service

step "systemd units: start"
systemctl enable --now payment-api.service
systemctl enable --now payment-api-reconcile.timer payment-api-purge.timer
# shellcheck source=services/payment_api/boot/integrity.sh
. "$BOOT/integrity.sh"  # file-integrity monitoring (AIDE) of what this boot installed, before the instance is ready

step "waiting for /ready"
ready() { curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$API_PORT/ready"; }
RETRY_SECONDS=$READY_SECONDS retry ready
