"""AWS Backup of the database (``lib/components/backup.py``, issue 28 item 7): a vault on the data key, a daily plan
kept a tunable number of days, the selection of the DB instance under a role only AWS Backup of the account assumes,
and with BACKUP_COPY_REGION a copy to a vault (with its own key) in that region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from lib.components.backup import BACKUP_SERVICE_POLICY, DAILY_SCHEDULE, FAILED_STATES, failed_jobs_pattern
from lib.config import ConfigError, StackConfig
from tests.conftest import PRODUCTION_ENV, synth_stack
from tests.unit.helpers import by_path, ref

Resources = dict[str, dict[str, Any]]


def _plan_rule(resources: Resources) -> dict[str, Any]:
    _, plan = by_path(resources, "aws_backup_plan", "backup/plan")
    (rule,) = plan["rule"]
    return rule


@pytest.mark.pci("10.7, 11.5")
def test_the_database_is_selected_for_a_daily_plan_into_a_vault_on_the_data_key(
    resources: Resources, synth_json: dict[str, Any]
) -> None:
    vault_name, vault = by_path(resources, "aws_backup_vault", "backup/vault")
    data_key, _ = by_path(resources, "aws_kms_key", "encryption/data_key")
    assert vault["kms_key_arn"] == ref("aws_kms_key", data_key, "arn")
    assert vault["force_destroy"] is False  # production: make destroy keeps the vault and its recovery points
    rule = _plan_rule(resources)
    assert rule["schedule"] == DAILY_SCHEDULE and rule["target_vault_name"] == ref(
        "aws_backup_vault", vault_name, "name"
    )
    assert rule["lifecycle"]["delete_after"] == "${var.backup_retention_days}"
    assert synth_json["variable"]["backup_retention_days"]["default"] == 35
    assert "copy_action" not in rule  # BACKUP_COPY_REGION unset
    plan_name, _ = by_path(resources, "aws_backup_plan", "backup/plan")
    db_name, _ = by_path(resources, "aws_db_instance", "database/instance")
    _, selection = by_path(resources, "aws_backup_selection", "backup/selection")
    assert selection["plan_id"] == ref("aws_backup_plan", plan_name, "id")
    assert selection["resources"] == [ref("aws_db_instance", db_name, "arn")]


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_the_plans_role_trusts_aws_backup_of_the_account_only(resources: Resources) -> None:
    role_name, role = by_path(resources, "aws_iam_role", "backup/role")
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]
    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    assert (
        statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "${data.aws_caller_identity.current.account_id}"
    )
    _, selection = by_path(resources, "aws_backup_selection", "backup/selection")
    assert selection["iam_role_arn"] == ref("aws_iam_role", role_name, "arn")
    _, attachment = by_path(resources, "aws_iam_role_policy_attachment", "backup/role_policy")
    assert attachment["policy_arn"] == BACKUP_SERVICE_POLICY
    attachment_name, _ = by_path(resources, "aws_iam_role_policy_attachment", "backup/role_policy")
    assert f"aws_iam_role_policy_attachment.{attachment_name}" in selection["depends_on"]


def test_a_development_vault_is_destroyed_with_its_recovery_points(dev_synth_json: dict[str, Any]) -> None:
    _, vault = by_path(dev_synth_json["resource"], "aws_backup_vault", "backup/vault")
    assert vault["force_destroy"] is True


@pytest.mark.pci("10.7, 11.5")
def test_backup_copy_region_copies_every_recovery_point_to_a_vault_there(tmp_path: Path) -> None:
    stack = synth_stack(tmp_path, {**PRODUCTION_ENV, "BACKUP_COPY_REGION": "us-west-2"})
    resources = stack["resource"]
    copy_name, copy_vault = by_path(resources, "aws_backup_vault", "backup/copy_vault")
    key_name, key = by_path(resources, "aws_kms_key", "backup/copy_key")
    providers = {p.get("alias"): p["region"] for p in stack["provider"]["aws"]}
    assert providers["backup_copy"] == "us-west-2"
    assert copy_vault["provider"] == key["provider"] == "aws.backup_copy"
    assert copy_vault["kms_key_arn"] == ref("aws_kms_key", key_name, "arn") and key["enable_key_rotation"] is True
    (copy,) = _plan_rule(resources)["copy_action"]
    assert copy["destination_vault_arn"] == ref("aws_backup_vault", copy_name, "arn")
    assert copy["lifecycle"]["delete_after"] == "${var.backup_retention_days}"


@pytest.mark.parametrize(
    ("region", "says"),
    [
        ("us-east-1", "must leave the stack's region"),
        ("mars-north-1", "allowed regions are"),
        ("af-south-1", "allowed"),
    ],
)
def test_backup_copy_region_is_another_supported_region(region: str, says: str) -> None:
    with pytest.raises(ConfigError, match="BACKUP_COPY_REGION") as refused:
        StackConfig.from_env({**PRODUCTION_ENV, "BACKUP_COPY_REGION": region})
    assert says in str(refused.value) and "unset it for no copy" in str(refused.value)


VAULT = "payment-db-backups-x"
VAULT_ARN = f"arn:aws:backup:us-east-1:123456789012:backup-vault:{VAULT}"


def _event(detail_type: str, **detail: str) -> dict[str, Any]:
    return {"source": "aws.backup", "detail-type": detail_type, "detail": detail}


@pytest.mark.pci("10.7, 11.5")
def test_failed_backup_and_copy_jobs_of_the_vault_reach_the_topic(resources: Resources) -> None:
    rule_name, rule = by_path(resources, "aws_cloudwatch_event_rule", "backup/jobs_failed")
    vault_name, _ = by_path(resources, "aws_backup_vault", "backup/vault")
    assert json.loads(rule["event_pattern"]) == failed_jobs_pattern(
        ref("aws_backup_vault", vault_name, "name"), ref("aws_backup_vault", vault_name, "arn")
    )
    _, target = by_path(resources, "aws_cloudwatch_event_target", "backup/jobs_failed_target")
    topic_name, _ = by_path(resources, "aws_sns_topic", "monitoring/alarm_topic")
    assert target["arn"] == ref("aws_sns_topic", topic_name, "arn")
    assert target["rule"] == ref("aws_cloudwatch_event_rule", rule_name, "name")
    template = target["input_transformer"]["input_template"]
    assert all(f"<{name}>" in template for name in target["input_transformer"]["input_paths"])
    assert "backup-jobs-failed" in template  # the runbook's name


@pytest.mark.parametrize(
    ("event", "alerts"),
    [
        *((_event("Backup Job State Change", backupVaultName=VAULT, state=state), True) for state in FAILED_STATES),
        (_event("Copy Job State Change", sourceBackupVaultArn=VAULT_ARN, state="FAILED"), True),
        (_event("Backup Job State Change", backupVaultName=VAULT, state="COMPLETED"), False),
        (_event("Backup Job State Change", backupVaultName=VAULT, state="RUNNING"), False),
        (_event("Backup Job State Change", backupVaultName="someone-elses", state="FAILED"), False),
        (_event("Copy Job State Change", sourceBackupVaultArn=f"{VAULT_ARN}-other", state="FAILED"), False),
        (_event("Copy Job State Change", sourceBackupVaultArn=VAULT_ARN, state="COMPLETED"), False),
        # A copy into this vault from elsewhere names it as destination: not this stack's copy.
        (_event("Copy Job State Change", destinationBackupVaultArn=VAULT_ARN, state="FAILED"), False),
        (_event("Restore Job State Change", backupVaultName=VAULT, state="FAILED"), False),
    ],
)
def test_the_pattern_matches_only_failed_jobs_of_this_vault(event: dict[str, Any], alerts: bool) -> None:
    """Matched as EventBridge matches (moto's implementation of the pattern language, $or included)."""
    pattern = EventPattern.load(json.dumps(failed_jobs_pattern(VAULT, VAULT_ARN)))
    assert pattern.matches_event(event) is alerts  # type: ignore[arg-type]  # moto's TypedDict of a sent event
