# shellcheck shell=bash
# Run as root by payment-api-credentials.service: writes the fleet's idempotency HMAC secret into the folder given
# (the unit's RuntimeDirectory, tmpfs, 0700) as the files the payment API's units load with LoadCredential=:
#   idempotency-hmac-current   the secret's AWSCURRENT version
#   idempotency-hmac-previous  its AWSPREVIOUS version after a rotation. Before the first rotation: 32 random bytes made
#                              here (hex), under which no key was ever stored, so its lookups find nothing. The file must
#                              exist (LoadCredential= with a path fails the unit on a missing file, systemd 252) and the
#                              service refuses a previous secret equal to the current one.
#   db-login                   the application's database login: the app-login secret's AWSCURRENT version, JSON
#                              {"username": ..., "password": ...} (payment_app_a or payment_app_b, DML only), checked
#                              to have both as strings before it is written. The migration host wrote it; a new
#                              release's version names the other login, so an instance keeps the one it booted with.
#   stripe-secret              with the Stripe processor only (STRIPE_SECRET_ARN not empty): the Stripe secret's
#                              AWSCURRENT version, JSON {"api_key": ..., "webhook_secret": ...}, checked to have both
#                              as strings before it is written (the values are never printed).
# Each file holds exactly the secret string (no newline), 0400 root. The values go from the AWS CLI through jq into the
# files: never an argument, an environment variable or a line of output.
# IDEMPOTENCY_SECRET_ARN, APP_LOGIN_SECRET_ARN, STRIPE_SECRET_ARN and AWS_DEFAULT_REGION come from
# /etc/payment-api/credentials.env.
set -Eeuo pipefail
umask 077
folder=${1:?usage: fetch-credentials.sh <folder>}
arn=${IDEMPOTENCY_SECRET_ARN:?not set: /etc/payment-api/credentials.env names the secret}
MIN_BYTES=32

# secret_string <arn> <staging label> <file>: that version's SecretString into <file>, through jq only.
secret_string() {
  aws secretsmanager get-secret-value --secret-id "$1" --version-stage "$2" --output json |
    jq -je '.SecretString | strings' >"$3"
}

# fetch <staging label> <file>: the idempotency secret's version into <file>, checked to be at least MIN_BYTES long.
fetch() {
  secret_string "$arn" "$1" "$2"
  local size
  size=$(wc -c <"$2")
  if [ "$size" -lt "$MIN_BYTES" ]; then
    echo "fetch-credentials: the $1 version of $arn holds $size bytes; the service needs at least $MIN_BYTES" >&2
    return 1
  fi
}

# json_credential <arn> <file> <jq test> <shape>: the secret's AWSCURRENT version, checked with <jq test> (never
# printed: the message names the secret and the <shape> it must have), into <folder>/<file>, 0400.
json_credential() {
  secret_string "$1" AWSCURRENT "$work/$2"
  if ! jq -e "$3" "$work/$2" >/dev/null 2>&1; then
    echo "fetch-credentials: $1 is not JSON with $4" >&2
    return 1
  fi
  chmod 0400 "$work/$2"
  mv -f "$work/$2" "$folder/"
}

work=$(mktemp -d "$folder/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
labels=$(aws secretsmanager describe-secret --secret-id "$arn" --query VersionIdsToStages --output json)
fetch AWSCURRENT "$work/idempotency-hmac-current"
if jq -e '[.[][]] | index("AWSPREVIOUS") != null' <<<"$labels" >/dev/null; then
  fetch AWSPREVIOUS "$work/idempotency-hmac-previous"
  previous=AWSPREVIOUS
else
  head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$work/idempotency-hmac-previous"
  previous="none yet: a random placeholder"
fi
chmod 0400 "$work"/idempotency-hmac-*
mv -f "$work"/idempotency-hmac-* "$folder"/
echo "fetch-credentials: idempotency-hmac-current (AWSCURRENT) and idempotency-hmac-previous ($previous) of $arn"

login_arn=${APP_LOGIN_SECRET_ARN:?not set: /etc/payment-api/credentials.env names the application login secret}
json_credential "$login_arn" db-login \
  '(.username | strings | test("^payment_app_[ab]$")) and (.password | strings | length > 0)' \
  "the strings username (payment_app_a or payment_app_b) and password: the release's migration host writes it \
(docs/operating.md, \"Database logins\")"
login=$(jq -r .username "$folder/db-login")
echo "fetch-credentials: db-login (AWSCURRENT: $login) of $login_arn"

stripe_arn=${STRIPE_SECRET_ARN-}
if [ -n "$stripe_arn" ]; then
  json_credential "$stripe_arn" stripe-secret \
    '(.api_key | strings | length > 0) and (.webhook_secret | strings | length > 0)' \
    "the strings api_key and webhook_secret (STRIPE_SECRET_KEY_ARN: docs/deploying.md, \"The Stripe secret\")"
  echo "fetch-credentials: stripe-secret (AWSCURRENT) of $stripe_arn"
else
  rm -f "$folder/stripe-secret"
fi
