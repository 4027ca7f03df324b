"""The application's database login secret (``lib/components/app_login_secret.py``; issue 27 item 2) on the
synthesized JSON: the stack's own, encrypted with the data key, no version from Terraform (the value never in state:
the migration host writes each one), its ARN in the runtime parameter, written only by the migration host's role and
read only by the instance role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lib.components.app_login_secret import AppLoginSecretProps
from lib.naming import Naming
from lib.suppressions import read_suppressions
from tests.unit.helpers import by_path, ref

NAMING = Naming(project="payment", suffix="test")


def _secret(synth_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return by_path(synth_json["resource"], "aws_secretsmanager_secret", "app_login_secret/secret")


def _statements(synth_json: dict[str, Any], role_path: str) -> list[dict[str, Any]]:
    resources = synth_json["resource"]
    role = by_path(resources, "aws_iam_role", role_path)[0]
    refs = {ref("aws_iam_role", role, attr) for attr in ("id", "name")}
    return [
        statement
        for body in resources["aws_iam_role_policy"].values()
        if body["role"] in refs
        for statement in json.loads(body["policy"])["Statement"]
    ]


def _naming(statement: dict[str, Any], arn: str) -> bool:
    resource = statement["Resource"]
    return arn in ([resource] if isinstance(resource, str) else resource)


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_the_secret_is_the_stacks_own_encrypted_with_the_data_key_and_holds_no_terraform_value(
    synth_json: dict[str, Any],
) -> None:
    name, secret = _secret(synth_json)
    data_key = by_path(synth_json["resource"], "aws_kms_key", "encryption/data_key")[0]
    assert secret["name"] == "payment-app-db-login-test"
    assert secret["kms_key_id"] == ref("aws_kms_key", data_key, "arn")
    assert secret["recovery_window_in_days"] == 30
    versions = synth_json["resource"].get("aws_secretsmanager_secret_version", {}).values()
    assert not [v for v in versions if v["secret_id"] == ref("aws_secretsmanager_secret", name, "id")]
    runtime_parameter = by_path(synth_json["resource"], "aws_ssm_parameter", "api_release/runtime_parameter")[1]
    assert json.loads(runtime_parameter["value"])["app_login_secret_arn"] == ref(
        "aws_secretsmanager_secret", name, "arn"
    )


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_only_the_migration_host_writes_it_and_only_the_instances_read_it(synth_json: dict[str, Any]) -> None:
    arn = ref("aws_secretsmanager_secret", _secret(synth_json)[0], "arn")
    instance = [s for s in _statements(synth_json, "compute/instance_role") if _naming(s, arn)]
    host = [s for s in _statements(synth_json, "migration_host/role") if _naming(s, arn)]
    assert [(s["Sid"], s["Action"]) for s in instance] == [("ReadAppDatabaseLogin", "secretsmanager:GetSecretValue")]
    assert [(s["Sid"], s["Action"]) for s in host] == [
        ("WriteAppDatabaseLogin", ["secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"])
    ]
    master = by_path(synth_json["resource"], "aws_db_instance", "database/instance")[0]
    master_arn = f"${{aws_db_instance.{master}.master_user_secret[0].secret_arn}}"
    assert not [s for s in _statements(synth_json, "compute/instance_role") if _naming(s, master_arn)]


def test_rotation_by_release_is_the_suppression_s_reason(synth_json: dict[str, Any]) -> None:
    address = f"aws_secretsmanager_secret.{_secret(synth_json)[0]}"
    found = [s for s in read_suppressions(synth_json) if s.address == address]
    assert [s.check_id for s in found] == ["CKV2_AWS_57"] and "every release" in found[0].reason


@pytest.mark.parametrize("days", [-1, 1, 6, 31])
def test_a_recovery_window_secrets_manager_refuses_is_refused_naming_the_value(days: int) -> None:
    with pytest.raises(ValueError, match=rf"recovery_window_days={days} is invalid: Secrets Manager takes 0"):
        AppLoginSecretProps(naming=NAMING, data_key_arn="arn:aws:kms:us-east-1:1:key/x", recovery_window_days=days)
