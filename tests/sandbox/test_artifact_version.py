"""The user data's choice of the artifact version (issue 25), run with the AWS CLI the rehearsal uses against the
emulator: of the versions of the one key, the one whose sha256 metadata is the launch template's, fetched by its
version id; none matching is a boot error naming the sha256. (The whole boot: tests/sandbox/test_boot_rehearsal.py
and the sandbox's release phase.)"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from lib.artifact import OBJECT_KEY
from lib.blocks.user_data import TEMPLATE_DIR
from tools.sandbox.emulator import aws_environment, client
from tools.sandbox.rehearsal.harness import AWS_CLI_VENV

BUCKET = "payment-artifacts-versions-test"
TEMPLATE = (TEMPLATE_DIR / "payment_api_user_data.sh").read_text(encoding="utf-8")


def _fetch(endpoint: str, sha256: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The template's retry, object and artifact_version functions, then its fetch of the chosen version."""
    functions = TEMPLATE[TEMPLATE.index("retry() {") : TEMPLATE.index("# dnf install")]
    functions += TEMPLATE[TEMPLATE.index("object() {") : TEMPLATE.index('step "artifact')]
    script = "\n".join(
        [
            "set -Eeuo pipefail",
            "RETRY_SECONDS=4",
            f"ARTIFACT_BUCKET={BUCKET} ARTIFACT_KEY={OBJECT_KEY} ARTIFACT_SHA256={sha256}",
            functions,
            "id=$(artifact_version)",
            f'object get-object --version-id "$id" {tmp_path}/artifact >/dev/null',
        ]
    )
    env = aws_environment(endpoint, "us-east-1", base=dict(os.environ))
    env["PATH"] = f"{AWS_CLI_VENV / 'bin'}:{env['PATH']}"
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.skipif(not (AWS_CLI_VENV / "bin" / "aws").is_file(), reason="the rehearsal's AWS CLI (.venv-awscli)")
def test_the_boot_fetches_the_version_with_its_sha256_or_fails_naming_it(moto_endpoint: str, tmp_path: Path) -> None:
    s3 = client("s3", moto_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"release A", b"release B"):
        s3.put_object(Bucket=BUCKET, Key=OBJECT_KEY, Body=body, Metadata={"sha256": hashlib.sha256(body).hexdigest()})
    s3.put_object(Bucket=BUCKET, Key=f"{OBJECT_KEY}.other", Body=b"same prefix", Metadata={"sha256": "other"})

    fetched = _fetch(moto_endpoint, hashlib.sha256(b"release A").hexdigest(), tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "artifact").read_bytes() == b"release A"  # the noncurrent version, by its sha256

    missing = "0" * 64
    refused = _fetch(moto_endpoint, missing, tmp_path)
    assert refused.returncode != 0
    assert f"boot: no version of {OBJECT_KEY} has sha256 {missing}: expired or never uploaded" in refused.stderr
