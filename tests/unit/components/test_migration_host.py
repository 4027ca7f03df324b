"""The migration host (issue 27, item 2) on the synthesized JSON: its role, its launch template, its user data, the
run that launches it and the order it puts between the database and the API group; its role evaluated with the IAM
policy evaluator (tests/unit/components/test_compute_instance_role.py's machinery)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lib.components.migration_host import RUN_COMMAND, WAIT_SECONDS
from tests.unit.components.test_compute_instance_role import (
    ACCOUNT,
    APP_LOGIN_SECRET,
    DATA_KEY,
    DB_SECRET,
    OTHER_SECRET,
    REGION,
    _evaluate,
    _requests,
    _via,
)
from tests.unit.helpers import by_path, ref

Resources = dict[str, dict[str, Any]]


def _template(resources: Resources) -> tuple[str, dict[str, Any]]:
    return by_path(resources, "aws_launch_template", "migration_host/launch_template")


def _script(resources: Resources) -> str:
    return base64.b64decode(_template(resources)[1]["user_data"], validate=True).decode("utf-8")


def _run(resources: Resources) -> tuple[str, dict[str, Any]]:
    return by_path(resources, "terraform_data", "migration_host/run")


def _sha256(resources: Resources) -> str:
    key: str = by_path(resources, "aws_s3_object", "api_release/artifact")[1]["metadata"]["sha256"]
    return key


@pytest.mark.pci("2.2")
def test_the_host_terminates_itself_from_an_imdsv2_only_encrypted_template(resources: Resources) -> None:
    _, template = _template(resources)
    assert template["instance_initiated_shutdown_behavior"] == "terminate"
    assert template["metadata_options"]["http_tokens"] == "required"
    assert template["metadata_options"]["http_put_response_hop_limit"] == 1
    ebs = template["block_device_mappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and "aws_kms_key.encryption_data_key" in ebs["kms_key_id"]
    assert "network_interfaces" not in template, "no public address: the app subnets' group only"
    profile_name, _ = by_path(resources, "aws_iam_instance_profile", "migration_host/profile")
    assert template["iam_instance_profile"]["arn"] == ref("aws_iam_instance_profile", profile_name, "arn")


def test_the_user_data_shares_the_api_bootstrap_and_reports_the_release_result(resources: Resources) -> None:
    script, api = (
        _script(resources),
        base64.b64decode(by_path(resources, "aws_launch_template", "compute/launch_template")[1]["user_data"]).decode(
            "utf-8"
        ),
    )
    sha256 = _sha256(resources)
    # The artifact's verification is one text in both (bootstrap.sh), not a copy.
    shared = script[script.index("artifact_version() {") : script.index('chmod -R go+rX,go-w "$APP"')]
    assert len(shared) > 500 and shared in api
    assert f"ARTIFACT_SHA256={sha256}" in script
    assert f"RESULT_PARAMETER=/payment/test/payment-api/migration/{sha256}" in script
    assert '. "$APP/boot/migration-host.sh"' in script and "report ok" in script
    assert "shutdown -h now" in script and 'report "failed: step' in script
    assert "complete-lifecycle-action" not in script, "the host is in no Auto Scaling group"


def test_a_new_release_launches_a_new_host_and_the_api_group_waits_for_its_result(resources: Resources) -> None:
    run_name, run = _run(resources)
    template_name, _ = _template(resources)
    assert run["triggers_replace"] == {
        "artifact_sha256": _sha256(resources),
        "launch_template_version": ref("aws_launch_template", template_name, "latest_version"),
    }
    (provisioner,) = run["provisioner"]
    exec_ = provisioner["local-exec"]
    assert exec_["command"] == RUN_COMMAND and "tools.deploy.migration_wait" in RUN_COMMAND
    env = exec_["environment"]
    assert env["MIGRATION_LAUNCH_TEMPLATE_ID"] == ref("aws_launch_template", template_name)
    assert env["MIGRATION_WAIT_SECONDS"] == str(WAIT_SECONDS)
    assert env["MIGRATION_RESULT_PARAMETER"].endswith(f"/payment-api/migration/{_sha256(resources)}")
    # After the database (through the runtime parameter that names it), the artifact and its bucket policy ...
    runtime_name, _ = by_path(resources, "aws_ssm_parameter", "api_release/runtime_parameter")
    policy_name, _ = by_path(resources, "aws_s3_bucket_policy", "api_release/policy")
    assert {f"aws_ssm_parameter.{runtime_name}", f"aws_s3_bucket_policy.{policy_name}"} <= set(run["depends_on"])
    # ... and before the API group.
    (asg,) = resources["aws_autoscaling_group"].values()
    assert f"terraform_data.{run_name}" in asg["depends_on"]


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_the_host_role_reads_the_master_secret_and_writes_only_its_result_parameters(
    synth_json: dict[str, Any],
) -> None:
    sha256 = _sha256(synth_json["resource"])
    result = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/payment/test/payment-api/migration/{sha256}"
    cases = {
        "master secret": ("secretsmanager:GetSecretValue", DB_SECRET, {}),
        "other secret": ("secretsmanager:GetSecretValue", OTHER_SECRET, {}),
        "master secret rotation": ("secretsmanager:PutSecretValue", DB_SECRET, {}),
        "app login write": ("secretsmanager:PutSecretValue", APP_LOGIN_SECRET, {}),
        "app login labels": ("secretsmanager:DescribeSecret", APP_LOGIN_SECRET, {}),
        "app login read": ("secretsmanager:GetSecretValue", APP_LOGIN_SECRET, {}),
        "app login relabel": ("secretsmanager:UpdateSecretVersionStage", APP_LOGIN_SECRET, {}),
        "other secret write": ("secretsmanager:PutSecretValue", OTHER_SECRET, {}),
        "encrypt through secrets manager": ("kms:GenerateDataKey", DATA_KEY, _via("secretsmanager")),
        "encrypt directly": ("kms:GenerateDataKey", DATA_KEY, {}),
        "encrypt through ssm": ("kms:GenerateDataKey", DATA_KEY, _via("ssm")),
        "result parameter": ("ssm:PutParameter", result, {}),
        "runtime parameter write": (
            "ssm:PutParameter",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/payment/test/payment-api/runtime",
            {},
        ),
        "other stack's result": (
            "ssm:PutParameter",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/payment/other/payment-api/migration/{sha256}",
            {},
        ),
        "decrypt through secrets manager": ("kms:Decrypt", DATA_KEY, _via("secretsmanager")),
        "decrypt directly": ("kms:Decrypt", DATA_KEY, {}),
        "terminate any instance": ("ec2:TerminateInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-1", {}),
    }
    decisions = _evaluate(_requests(synth_json, cases, role_path="migration_host/role"))
    allowed = {name for name, decision in decisions.items() if decision == "Allowed"}
    assert allowed == {
        "master secret",
        "result parameter",
        "decrypt through secrets manager",
        "app login write",
        "app login labels",
        "encrypt through secrets manager",
    }, json.dumps(decisions)
