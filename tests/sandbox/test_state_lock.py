"""S3 backend state locking without DynamoDB (``use_lockfile = true``, Terraform >= 1.10), shown on moto.

A tiny configuration (one ``terraform_data`` whose provisioner sleeps, so ``apply`` holds the lock for a
while; no provider to install) uses an S3 backend on the emulator. While the apply holds the lock, the
``<key>.tflock`` object exists and a second ``plan`` fails with "Error acquiring the state lock"; once
the apply ends, the lock object is gone and the state object is there, encrypted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tools.sandbox.emulator import SANDBOX_ACCESS_KEY, SANDBOX_REGION, SANDBOX_SECRET_KEY, aws_environment, client

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")

BUCKET = "tap-state-lock-test"
STATE_KEY = "locktest/terraform.tfstate"
LOCK_KEY = f"{STATE_KEY}.tflock"
HOLD_SECONDS = 20


def backend_configuration(endpoint: str) -> dict[str, Any]:
    """The smallest configuration with an S3 backend on the emulator and an apply that takes a while."""
    return {
        "terraform": {
            "required_version": ">= 1.10.0",
            "backend": {
                "s3": {
                    "bucket": BUCKET,
                    "key": STATE_KEY,
                    "region": SANDBOX_REGION,
                    "encrypt": True,
                    "use_lockfile": True,
                    "use_path_style": True,
                    "endpoints": {"s3": endpoint},
                    "access_key": SANDBOX_ACCESS_KEY,
                    "secret_key": SANDBOX_SECRET_KEY,
                    "skip_credentials_validation": True,
                    "skip_requesting_account_id": True,
                    "skip_metadata_api_check": True,
                    "skip_region_validation": True,
                }
            },
        },
        "resource": {
            "terraform_data": {
                "hold_the_lock": {
                    "input": "lock-test",
                    "provisioner": [{"local-exec": {"command": f"sleep {HOLD_SECONDS}"}}],
                }
            }
        },
    }


def terraform(workdir: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args, "-input=false", "-no-color"],
        cwd=workdir,
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=timeout,
    )


def object_keys(s3: Any) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


@pytest.fixture(scope="module")
def workdir(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialized working directory whose S3 backend lives in a fresh bucket on the emulator."""
    client("s3", moto_endpoint).create_bucket(Bucket=BUCKET)
    folder = tmp_path_factory.mktemp("state-lock")
    (folder / "main.tf.json").write_text(json.dumps(backend_configuration(moto_endpoint), indent=2), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tf_env(moto_endpoint: str) -> dict[str, str]:
    from tools.deploy.tfcli import terraform_env  # pylint: disable=import-outside-toplevel

    return aws_environment(moto_endpoint, base=terraform_env())


def test_concurrent_plan_is_refused_while_apply_holds_the_lock(
    moto_endpoint: str, workdir: Path, tf_env: dict[str, str]
) -> None:
    s3 = client("s3", moto_endpoint)
    init = terraform(workdir, tf_env, "init")
    assert init.returncode == 0, init.stdout + init.stderr

    holder = subprocess.Popen(  # pylint: disable=consider-using-with
        ["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
        cwd=workdir,
        env=tf_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + HOLD_SECONDS
        while LOCK_KEY not in object_keys(s3) and time.monotonic() < deadline and holder.poll() is None:
            time.sleep(0.2)
        assert LOCK_KEY in object_keys(s3), "apply should hold <key>.tflock in the state bucket"
        lock_info = json.loads(s3.get_object(Bucket=BUCKET, Key=LOCK_KEY)["Body"].read())
        assert lock_info["Operation"] == "OperationTypeApply"

        second = terraform(workdir, tf_env, "plan", "-lock-timeout=0s")
        assert second.returncode != 0
        assert "Error acquiring the state lock" in second.stdout + second.stderr, second.stdout + second.stderr
    finally:
        output, _ = holder.communicate(timeout=HOLD_SECONDS + 60)
    assert holder.returncode == 0, output

    keys = object_keys(s3)
    assert LOCK_KEY not in keys, "the lock object must be removed when apply ends"
    assert STATE_KEY in keys
    assert s3.head_object(Bucket=BUCKET, Key=STATE_KEY).get("ServerSideEncryption") == "AES256", "encrypt = true"


def test_plan_succeeds_once_the_lock_is_released(moto_endpoint: str, workdir: Path, tf_env: dict[str, str]) -> None:
    result = terraform(workdir, tf_env, "plan", "-lock-timeout=0s", "-detailed-exitcode")
    assert result.returncode == 0, result.stdout + result.stderr
    assert LOCK_KEY not in object_keys(client("s3", moto_endpoint))
