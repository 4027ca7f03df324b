"""The one-time migration of ``make deploy`` (issue 25): an artifact object of the old form
(``payment-api/<version>/<sha256>/<archive>``) leaves Terraform's state before the plan, so the first apply of one key
for every release does not delete it. Run with the real terraform CLI against a local state that holds one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools.deploy import runner
from tools.deploy.release_migration import Run, legacy_artifacts, migrate
from tools.deploy.tfcli import terraform_env

SHA = "5a5d6698e0c3fac5f950a9f2fa719902a4750199ec08e431feef49bd079aec7a"
OLD_KEY = f"payment-api/0.1.0/{SHA}/payment-api-0.1.0-production.tar.gz"
BUCKET = "payment-artifacts-dev-123456789012"
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'


def _resource(rtype: str, name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    instance = {"schema_version": 0, "attributes": attributes, "sensitive_attributes": []}
    return {"mode": "managed", "type": rtype, "name": name, "provider": PROVIDER, "instances": [instance]}


def _state(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": 7,
        "lineage": "6f1c2a8e-0d4b-4c1e-9a57-3b2f0e1d9c88",
        "outputs": {},
        "resources": list(resources),
        "check_results": None,
    }


OLD_OBJECT = _resource("aws_s3_object", "api_release_artifact_1A2B3C4D", {"bucket": BUCKET, "key": OLD_KEY})
NEW_OBJECT = _resource(
    "aws_s3_object", "api_release_artifact_1A2B3C4D", {"bucket": BUCKET, "key": "payment-api/payment-api.tar.gz"}
)
FRONTEND_CONFIG = _resource("aws_s3_object", "frontend_config_9F8E7D6C", {"bucket": "front", "key": "config.json"})
BUCKET_RESOURCE = _resource("aws_s3_bucket", "api_release_bucket_0A1B2C3D", {"bucket": BUCKET, "id": BUCKET})


def test_only_old_form_artifact_objects_are_found() -> None:
    found = legacy_artifacts(_state(OLD_OBJECT, FRONTEND_CONFIG, BUCKET_RESOURCE))
    assert [(a.address, a.bucket, a.key) for a in found] == [
        ("aws_s3_object.api_release_artifact_1A2B3C4D", BUCKET, OLD_KEY)
    ]
    assert not legacy_artifacts(_state(NEW_OBJECT, FRONTEND_CONFIG))  # migrated: nothing to do, ever again
    assert not legacy_artifacts(None)  # a first deploy has no state


def _run_in(folder: Path) -> Run:
    """What make deploy hands migrate: its checked child runs in the stack's folder."""
    env = terraform_env()

    def run(command: list[str], what: str) -> str:
        return runner.checked(command, env, what, cwd=folder, capture=True)

    return run


@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs the terraform CLI (make setup's prerequisite)")
def test_make_deploy_takes_the_old_object_out_of_the_state_and_says_it_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """terraform state pull and state rm against a local state holding the old object, the bucket and another object:
    only the old object leaves; the output says it stays in the bucket and how to delete it."""
    (tmp_path / "terraform.tfstate").write_text(json.dumps(_state(OLD_OBJECT, FRONTEND_CONFIG, BUCKET_RESOURCE)))
    detail = migrate(_run_in(tmp_path))
    assert (
        detail == f"1 old-form artifact object(s) taken out of the state, kept in the bucket: s3://{BUCKET}/{OLD_KEY}"
    )
    listed = subprocess.run(
        ["terraform", "state", "list"], cwd=tmp_path, env=terraform_env(), capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == ["aws_s3_bucket.api_release_bucket_0A1B2C3D", "aws_s3_object.frontend_config_9F8E7D6C"]
    said = capsys.readouterr().out
    assert "aws_s3_object.api_release_artifact_1A2B3C4D" in said and "The old object STAYS in the bucket" in said
    assert f"aws s3api delete-object --bucket {BUCKET} --key {OLD_KEY} --version-id <id>" in said
    # The next deploy finds nothing to migrate and leaves the state alone.
    serial = json.loads((tmp_path / "terraform.tfstate").read_text())["serial"]
    assert migrate(_run_in(tmp_path)).startswith("no artifact object of the old form")
    assert json.loads((tmp_path / "terraform.tfstate").read_text())["serial"] == serial
