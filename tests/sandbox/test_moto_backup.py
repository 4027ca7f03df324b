"""The emulator's AWS Backup (tools/sandbox/moto_backup.py; issue 28 item 7): backup selections, a vault's recovery
points and tags read back, which moto 5.2.5 lacks and the stack's database backup needs to apply and destroy."""

from __future__ import annotations

import pytest

from tools.sandbox.emulator import client


def test_backup_selections_and_recovery_points_exist(moto_endpoint: str) -> None:
    """tools/sandbox/moto_backup.py: a selection of a plan is created, read, listed and deleted as AWS Backup does; a
    plan with a selection cannot be deleted; a vault lists its (no) recovery points, and a missing vault is refused;
    tags read back by ARN."""
    backup = client("backup", moto_endpoint, "eu-west-1")
    vault = backup.create_backup_vault(BackupVaultName="patch-vault", BackupVaultTags={"Name": "patch-vault"})
    plan = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "patch-plan",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "patch-vault"}],
        }
    )
    plan_id = plan["BackupPlanId"]
    selection = {
        "SelectionName": "db",
        "IamRoleArn": "arn:aws:iam::123456789012:role/payment-db-backup-x",
        "Resources": ["arn:aws:rds:eu-west-1:123456789012:db:payment-db-x"],
    }
    selection_id = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=selection)["SelectionId"]
    read = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id)
    assert read["BackupSelection"]["Resources"] == selection["Resources"] and read["BackupPlanId"] == plan_id
    listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert [item["SelectionId"] for item in listed] == [selection_id]
    with pytest.raises(backup.exceptions.InvalidRequestException):
        backup.delete_backup_plan(BackupPlanId=plan_id)
    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id)
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id)
    backup.delete_backup_plan(BackupPlanId=plan_id)
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName="patch-vault")["RecoveryPoints"] == []
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.list_recovery_points_by_backup_vault(BackupVaultName="no-such-vault")
    assert backup.list_tags(ResourceArn=vault["BackupVaultArn"])["Tags"] == {"Name": "patch-vault"}
