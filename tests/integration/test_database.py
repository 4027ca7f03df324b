"""RDS PostgreSQL: major version 15, Multi-AZ, encrypted with the data key, RDS-managed master secret, TLS
forced, private in the data subnets; connection string in SSM as a SecureString without a password."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from lib.config import StackConfig

CONNECTION_STRING = re.compile(
    r"postgres(?:ql)?://(?P<userinfo>[^@/]+)@(?P<host>[^:/]+):(?P<port>\d+)/(?P<db>[^?]+)(?P<q>.*)"
)


@pytest.fixture(scope="module")
def db_instance(aws: Callable[[str], Any], output: Callable[[str], Any]) -> dict[str, Any]:
    instances = aws("rds").describe_db_instances(DBInstanceIdentifier=output("rds_identifier"))["DBInstances"]
    assert len(instances) == 1
    return dict(instances[0])


@pytest.mark.pci("2.2")
def test_engine_postgres_major_version(db_instance: dict[str, Any], expected: StackConfig) -> None:
    assert db_instance["Engine"] == "postgres"
    assert db_instance["EngineVersion"].split(".")[0] == expected.db_engine_version == "15"


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_multi_az_private_in_data_subnets(db_instance: dict[str, Any], output: Callable[[str], Any]) -> None:
    assert db_instance["MultiAZ"] is True
    assert db_instance["PubliclyAccessible"] is False
    subnets = {s["SubnetIdentifier"] for s in db_instance["DBSubnetGroup"]["Subnets"]}
    assert subnets == set(output("data_subnet_ids"))
    assert [g["VpcSecurityGroupId"] for g in db_instance["VpcSecurityGroups"]] == [output("db_security_group_id")]


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_storage_encrypted_with_data_key(
    aws: Callable[[str], Any], db_instance: dict[str, Any], output: Callable[[str], Any]
) -> None:
    assert db_instance["StorageEncrypted"] is True
    assert db_instance["StorageType"] == "gp3"
    assert db_instance["KmsKeyId"] == output("data_kms_key_arn")
    key = aws("kms").describe_key(KeyId=output("data_kms_key_arn"))["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["KeyState"] == "Enabled"
    assert aws("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_master_password_managed_by_rds(
    aws: Callable[[str], Any], db_instance: dict[str, Any], output: Callable[[str], Any]
) -> None:
    secret = db_instance["MasterUserSecret"]
    assert secret["SecretArn"] == output("db_master_secret_arn")
    assert secret["KmsKeyId"] == output("data_kms_key_arn")
    described = aws("secretsmanager").describe_secret(SecretId=secret["SecretArn"])
    assert described["ARN"] == secret["SecretArn"]


@pytest.mark.pci("10.2, 10.3, 10.5", "10.7, 11.5")
def test_backups_logs_and_insights(db_instance: dict[str, Any], output: Callable[[str], Any]) -> None:
    assert db_instance["BackupRetentionPeriod"] >= 7
    assert db_instance["PreferredBackupWindow"] and db_instance["PreferredMaintenanceWindow"]
    assert set(db_instance["EnabledCloudwatchLogsExports"]) >= {"postgresql"}
    assert db_instance.get("PerformanceInsightsEnabled") is True
    assert db_instance.get("PerformanceInsightsKMSKeyId") == output("data_kms_key_arn")


@pytest.mark.pci("4.2")
def test_parameter_group_forces_tls(aws: Callable[[str], Any], db_instance: dict[str, Any]) -> None:
    name = db_instance["DBParameterGroups"][0]["DBParameterGroupName"]
    parameters = {
        p["ParameterName"]: p["ParameterValue"]
        for p in aws("rds").describe_db_parameters(DBParameterGroupName=name, Source="user")["Parameters"]
    }
    assert parameters.get("rds.force_ssl") == "1"
    assert parameters.get("ssl_min_protocol_version") == "TLSv1.2"


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_parameter_group_loads_pgaudit_for_ddl_and_role_and_logs_are_exported(
    aws: Callable[[str], Any], db_instance: dict[str, Any]
) -> None:
    name = db_instance["DBParameterGroups"][0]["DBParameterGroupName"]
    parameters = {
        p["ParameterName"]: p["ParameterValue"]
        for p in aws("rds").describe_db_parameters(DBParameterGroupName=name, Source="user")["Parameters"]
    }
    assert parameters.get("shared_preload_libraries") == "pg_stat_statements,pgaudit"
    assert parameters.get("pgaudit.log") == "ddl,role"
    assert parameters.get("log_connections") == "1"
    assert "postgresql" in db_instance.get("EnabledCloudwatchLogsExports", [])


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_connection_string_is_secure_string_without_password(
    aws: Callable[[str], Any], db_instance: dict[str, Any], output: Callable[[str], Any]
) -> None:
    name = output("db_connection_parameter_name")
    parameter = aws("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    value = parameter["Value"]
    match = CONNECTION_STRING.fullmatch(value)
    assert match, f"unexpected connection string shape: {value!r}"
    assert ":" not in match["userinfo"], "the connection string must not carry a password"
    assert match["host"] == db_instance["Endpoint"]["Address"]
    assert int(match["port"]) == db_instance["Endpoint"]["Port"] == 5432
    assert "sslmode=require" in match["q"] or "sslmode=verify-full" in match["q"]
    key_id = aws("ssm").describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert key_id.get("KeyId") not in (None, "alias/aws/ssm"), "encrypted with the stack's own key"
