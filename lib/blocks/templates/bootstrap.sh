# Shared bootstrap of every launch template of the stack (lib/blocks/user_data.py includes it where a template says
# @@INCLUDE bootstrap.sh@@): helpers, the CloudWatch agent, packages, IMDS for root only, the runtime settings and the
# release's artifact, verified against its sha256 and installed in APP. The including template sets BOOT_LOG,
# SERVICE_LOGS, ARTIFACT_KEY, ARTIFACT_SHA256, RUNTIME_PARAMETER, LOG_GROUP and AWS_DEFAULT_REGION before it, and
# defines finish <exit status> (run at exit, success or not).
APP=/opt/payment-api
RETRY_SECONDS=600
AGENT=/opt/aws/amazon-cloudwatch-agent
INSTANCE_ID=""
STEP=start

step() {
  STEP=$1
  echo "boot: $(date -u +%H:%M:%S) $STEP"
}

# retry <command...>: until it succeeds, waiting 2, 4 ... 30 s, RETRY_SECONDS in all; exit 255 is final (no retry).
retry() {
  local start=$SECONDS delay=2 status
  until "$@"; do
    status=$?
    if ((status == 255 || SECONDS - start + delay > RETRY_SECONDS)); then
      echo "boot: gave up after $((SECONDS - start)) s: $*" >&2
      return 1
    fi
    echo "boot: retrying in $delay s: $*" >&2
    sleep "$delay"
    delay=$((delay < 30 ? delay * 2 : 30))
  done
}

# dnf install, where a name the repository does not have is a permanent failure.
dnf_install() {
  local output
  if output=$(dnf install -y -q "$@" 2>&1); then return 0; fi
  echo "$output"
  if grep -q "Unable to find a match" <<<"$output"; then return 255; fi
  return 1
}

# ERR (in subshells too, set -E) says where; EXIT abandons the instance on any failure, set -u's included.
on_error() {
  local status=$?
  echo "boot: error in step '$STEP' at line $1 (exit $status)"
  exit "$status"
}
# finish <status> is the including template's: what this instance does when its script ends (the same on success).
on_exit() {
  local status=$?
  trap - ERR
  if [ "$status" -ne 0 ]; then
    echo "boot: FAILED in step '$STEP' (exit $status)"
  fi
  finish "$status"
}
trap 'on_error $LINENO' ERR
trap on_exit EXIT

imds() {
  local token
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

step "instance id"
INSTANCE_ID=$(retry imds instance-id)

step "CloudWatch agent"
retry dnf_install amazon-cloudwatch-agent
# The boot log and each service log the template names (SERVICE_LOGS), one stream per file under the instance's id.
collect="{\"file_path\": \"$BOOT_LOG\", \"log_group_name\": \"$LOG_GROUP\", \"log_stream_name\": \"{instance_id}/boot\"}"
for name in $SERVICE_LOGS; do
  collect+=", {\"file_path\": \"/var/log/payment-api/$name.log\", \"log_group_name\": \"$LOG_GROUP\","
  collect+=" \"log_stream_name\": \"{instance_id}/$name\"}"
done
cat >"$AGENT/etc/amazon-cloudwatch-agent.json" <<EOF
{"agent": {"run_as_user": "root"},
 "logs": {"logs_collected": {"files": {"collect_list": [$collect]}}}}
EOF
"$AGENT/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:$AGENT/etc/amazon-cloudwatch-agent.json"

step "packages"
retry dnf_install python3.11 nftables jq

step "IMDS for root only"
cat >/etc/sysconfig/nftables.conf <<'NFT'
table inet imds_guard {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr 169.254.169.254 meta skuid != 0 counter reject
  }
}
NFT
systemctl enable --now nftables.service
systemctl restart nftables.service

step "runtime settings"
RUNTIME=$(retry aws ssm get-parameter --name "$RUNTIME_PARAMETER" --with-decryption --query Parameter.Value \
  --output text)
setting() { jq -er --arg key "$1" '.[$key]' <<<"$RUNTIME"; }
# Read before the artifact is here: generated from tap_contract.runtime
@@RUNTIME_READS@@

# Releases are versions of one key: ours has our sha256 in its metadata (issue 25).
object() {
  local op=$1
  shift
  retry aws s3api "$op" --bucket "$ARTIFACT_BUCKET" --key "$ARTIFACT_KEY" "$@"
}
artifact_version() {
  local ids id
  ids=$(retry aws s3api list-object-versions --bucket "$ARTIFACT_BUCKET" --prefix "$ARTIFACT_KEY" \
    --query "Versions[?Key=='$ARTIFACT_KEY'].VersionId" --output text)
  for id in $ids; do
    [ "$(object head-object --version-id "$id" --query Metadata.sha256 --output text)" = "$ARTIFACT_SHA256" ] &&
      echo "$id" && return 0
  done
  echo "boot: no version of $ARTIFACT_KEY has sha256 $ARTIFACT_SHA256: expired or never uploaded" >&2
  return 1
}

step "artifact $ARTIFACT_SHA256"
work=$(mktemp -d)
id=$(artifact_version)
object get-object --version-id "$id" "$work/artifact.tar.gz" >/dev/null
echo "$ARTIFACT_SHA256  $work/artifact.tar.gz" | sha256sum --check --strict
rm -rf "$APP"
install -d -m 0755 "$APP"
tar -xzf "$work/artifact.tar.gz" -C "$APP" --strip-components=1 --no-same-owner --no-same-permissions
rm -rf "$work"
kind=$(jq -er .build_kind "$APP/manifest.json")
if [ "$RUNTIME_ENVIRONMENT" = production ] && [ "$kind" != production ]; then
  echo "boot: refusing a $kind artifact in production (it trusts the development test CA, not RDS)"
  false
fi
wheel=$(jq -er .service_wheel "$APP/manifest.json")
# Every wheel by its sha256 (requirements.lock, written by make artifact): a wheel that is not the one built fails.
[ -f "$APP/requirements.lock" ] || { echo "boot: the artifact of $wheel has no requirements.lock (built before hashed installs): make artifact, deploy" >&2; false; }
python3.11 -m venv "$APP/venv"
"$APP/venv/bin/pip" install --quiet --no-index --find-links "$APP/wheelhouse" --find-links "$APP" \
  --require-hashes -r "$APP/requirements.lock"
chmod -R go+rX,go-w "$APP"
