# shellcheck shell=bash
# The migration host's second stage. Its launch template's user data (lib/blocks/templates/migration_host_user_data.sh)
# sources this file once it has verified and installed the artifact that carries it, under the bootstrap's
# `set -Eeuo pipefail` and ERR trap, with APP, INSTANCE_ID, RUNTIME, step and retry. The same settings and database
# roles as an API instance's boot (boot/prepare.sh), then the release's migrations with the owner role through the
# hardened payment-api-migrate.service (it ends "schema at head" or fails the step). No service starts.
# shellcheck disable=SC2154  # APP: set by the user data that sources this file; BOOT: by boot/prepare.sh

# shellcheck source=services/payment_api/boot/prepare.sh
. "$APP/boot/prepare.sh"

step "migrations"
sed "s/@API_PORT@/0/g" "$BOOT/payment-api-migrate.service" >/etc/systemd/system/payment-api-migrate.service
chmod 0644 /etc/systemd/system/payment-api-migrate.service
systemctl daemon-reload
systemctl start payment-api-migrate.service
