"""``services/payment_api/boot/fetch-credentials.sh`` run for real with bash and jq, against a stand-in ``aws`` on
PATH that answers from files (the boot rehearsal runs it against the emulator through the real AWS CLI; this covers
what the rehearsal's simulator stack does not reach: the Stripe secret)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "services" / "payment_api" / "boot" / "fetch-credentials.sh"
HMAC_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payment-idempotency-hmac-test-Ab12Cd"
LOGIN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payment-app-db-login-test-Ef34Gh"
LOGIN_VALUE = {"username": "payment_app_b", "password": "pw-Xq7-never-printed"}
STRIPE_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payment/stripe-a1B2c3"
STRIPE_VALUE = {"api_key": "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "webhook_secret": "whsec_abcdefABCDEF0123456789"}

# The stand-in: `get-secret-value --secret-id <arn> [--version-stage <label>]` prints {"SecretString": <file>} from
# $SECRETS/<sha of arn>-<label>; `describe-secret` prints $SECRETS/labels.json. Every call is logged (arguments only).
FAKE_AWS = r"""#!/usr/bin/env bash
set -euo pipefail
echo "$*" >>"$SECRETS/calls.log"
command=$2; shift 2
id=""; stage=AWSCURRENT
while [ $# -gt 0 ]; do
  case $1 in --secret-id) id=$2; shift 2 ;; --version-stage) stage=$2; shift 2 ;; *) shift ;; esac
done
file="$SECRETS/$(printf '%s' "$id" | sha256sum | cut -c1-16)-$stage"
case $command in
  describe-secret) cat "$SECRETS/labels.json" ;;
  get-secret-value) [ -f "$file" ] || { echo "ResourceNotFoundException: $id" >&2; exit 254; }
    jq -n --rawfile s "$file" '{SecretString: $s}' ;;
esac
"""


def _store(secrets: Path, arn: str, value: str, stage: str = "AWSCURRENT") -> None:
    digest = subprocess.run(["sha256sum"], input=arn, text=True, capture_output=True, check=True).stdout[:16]
    (secrets / f"{digest}-{stage}").write_text(value, encoding="utf-8")


@pytest.fixture(name="world")
def _world(tmp_path: Path) -> dict[str, Path]:
    bin_dir, secrets, folder = tmp_path / "bin", tmp_path / "secrets", tmp_path / "credentials"
    for path in (bin_dir, secrets, folder):
        path.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS, encoding="utf-8")
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    (secrets / "labels.json").write_text('{"v1": ["AWSCURRENT"]}', encoding="utf-8")
    _store(secrets, HMAC_ARN, "h" * 64)
    _store(secrets, LOGIN_ARN, json.dumps(LOGIN_VALUE))
    return {"bin": bin_dir, "secrets": secrets, "folder": folder}


def _run(world: dict[str, Path], stripe_arn: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{world['bin']}:{os.environ['PATH']}",
        "SECRETS": str(world["secrets"]),
        "IDEMPOTENCY_SECRET_ARN": HMAC_ARN,
        "APP_LOGIN_SECRET_ARN": LOGIN_ARN,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    if stripe_arn is not None:
        env["STRIPE_SECRET_ARN"] = stripe_arn
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(
        [bash, str(SCRIPT), str(world["folder"])], env=env, text=True, capture_output=True, check=False
    )


def test_the_simulator_gets_no_stripe_file(world: dict[str, Path]) -> None:
    for stripe_arn in (None, ""):  # instances booted before the setting existed have no variable at all
        done = _run(world, stripe_arn)
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in world["folder"].iterdir()) == [
            "db-login",
            "idempotency-hmac-current",
            "idempotency-hmac-previous",
        ]


def test_stripe_s_secret_becomes_a_root_only_credential_never_printed(world: dict[str, Path]) -> None:
    _store(world["secrets"], STRIPE_ARN, json.dumps(STRIPE_VALUE))
    done = _run(world, STRIPE_ARN)
    assert done.returncode == 0, done.stderr
    credential = world["folder"] / "stripe-secret"
    assert json.loads(credential.read_text(encoding="utf-8")) == STRIPE_VALUE
    assert stat.S_IMODE(credential.stat().st_mode) == 0o400
    assert f"fetch-credentials: stripe-secret (AWSCURRENT) of {STRIPE_ARN}" in done.stdout
    for value in STRIPE_VALUE.values():
        assert value not in done.stdout + done.stderr
        assert value not in (world["secrets"] / "calls.log").read_text(encoding="utf-8")  # never an argument


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"api_key": "sk_test_x"}),
        json.dumps({"api_key": "sk_test_x", "webhook_secret": 7}),
        json.dumps({"api_key": "", "webhook_secret": "whsec_x"}),
        "sk_test_not_json",
    ],
    ids=["no-webhook-secret", "number", "empty-key", "not-json"],
)
def test_a_malformed_stripe_secret_stops_the_boot_without_printing_it(world: dict[str, Path], value: str) -> None:
    _store(world["secrets"], STRIPE_ARN, value)
    (world["folder"] / "stripe-secret").write_text("stale", encoding="utf-8")
    done = _run(world, STRIPE_ARN)
    assert done.returncode == 1
    assert f"fetch-credentials: {STRIPE_ARN} is not JSON with the strings api_key and webhook_secret" in done.stderr
    assert "sk_test" not in done.stdout + done.stderr
    assert not any(p.name.startswith(".fetch.") for p in world["folder"].iterdir())  # the work folder is removed


def test_a_missing_stripe_secret_stops_the_boot(world: dict[str, Path]) -> None:
    done = _run(world, STRIPE_ARN)
    assert done.returncode != 0 and "ResourceNotFoundException" in done.stderr
    assert not (world["folder"] / "stripe-secret").exists()


def test_the_application_login_becomes_a_root_only_credential_never_printed(world: dict[str, Path]) -> None:
    done = _run(world, None)
    assert done.returncode == 0, done.stderr
    credential = world["folder"] / "db-login"
    assert json.loads(credential.read_text(encoding="utf-8")) == LOGIN_VALUE
    assert stat.S_IMODE(credential.stat().st_mode) == 0o400
    assert f"fetch-credentials: db-login (AWSCURRENT: payment_app_b) of {LOGIN_ARN}" in done.stdout
    assert LOGIN_VALUE["password"] not in done.stdout + done.stderr
    assert LOGIN_VALUE["password"] not in (world["secrets"] / "calls.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"username": "payment_owner", "password": "pw-Xq7"}),
        json.dumps({"username": "payment_app_a"}),
        json.dumps({"username": "payment_app_a", "password": ""}),
        "pw-Xq7-not-json",
    ],
    ids=["ddl-role", "no-password", "empty-password", "not-json"],
)
def test_a_malformed_login_stops_the_boot_without_printing_it(world: dict[str, Path], value: str) -> None:
    _store(world["secrets"], LOGIN_ARN, value)
    done = _run(world, None)
    assert done.returncode == 1
    assert f"fetch-credentials: {LOGIN_ARN} is not JSON with the strings username" in done.stderr
    assert "pw-Xq7" not in done.stdout + done.stderr
    assert not (world["folder"] / "db-login").exists()


def test_without_the_login_secret_s_arn_the_boot_stops_naming_it(world: dict[str, Path]) -> None:
    env = {"PATH": f"{world['bin']}:{os.environ['PATH']}", "SECRETS": str(world["secrets"])}
    env |= {"IDEMPOTENCY_SECRET_ARN": HMAC_ARN, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(world["folder"])], env=env, text=True, capture_output=True, check=False
    )
    assert done.returncode != 0 and "APP_LOGIN_SECRET_ARN: not set" in done.stderr
