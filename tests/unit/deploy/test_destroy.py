"""``make destroy``'s decisions that need no account (tools/deploy/destroy.py): the flags and their refusals, what
the inventory finds in a synthesized stack and a state, the targeted plan's check, what is announced and kept. The
whole path runs in the sandbox's destroy phase; its AWS calls are tested against moto in tests/sandbox/test_destroy.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PRODUCTION_ENV
from tools.deploy import break_glass, destroy, runner
from tools.deploy.environment import DeployEnvironmentError, Environment, load

DB = "aws_db_instance.database_instance_A1"
ALB = "aws_alb.compute_alb_B2"
ARCHIVE = "aws_s3_bucket.log_archive_bucket_C3"
ACCESS_LOGS = "aws_s3_bucket.log_archive_s3_access_bucket_D4"
ARCHIVE_LOCK = "aws_s3_bucket_object_lock_configuration.log_archive_object_lock_E5"
ARTIFACTS = "aws_s3_bucket.api_release_bucket_F6"
FRONTEND = "aws_s3_bucket.frontend_bucket_G7"


def _environment(tmp_path: Path, name: str = "qa", **environ: str) -> Environment:
    return load(name, {"AWS_REGION": "eu-west-1", "DESTROY": "1", **environ}, tmp_path)


def _production(tmp_path: Path) -> Environment:
    settings = {key: value for key, value in PRODUCTION_ENV.items() if key != "ENVIRONMENT_SUFFIX"}
    return load("prod", {**settings, "DESTROY": "1"}, tmp_path)


def _options(**overrides: Any) -> destroy.Options:
    values: dict[str, Any] = {
        "confirm": None,
        "auto_approve": False,
        "delete_log_archive": False,
        "skip_final_snapshot": False,
    }
    return destroy.Options(**{**values, **overrides})


def _body(path: str, **values: Any) -> dict[str, Any]:
    return {"//": {"metadata": {"path": path}}, **values}


def _stack() -> dict[str, Any]:
    return {
        "resource": {
            "aws_db_instance": {
                DB.split(".")[1]: _body(
                    "TapStackqa/database/instance", final_snapshot_identifier="payment-db-qa-final-20260101000000"
                )
            },
            "aws_alb": {ALB.split(".")[1]: _body("TapStackqa/compute/alb")},
            "aws_s3_bucket": {
                ARCHIVE.split(".")[1]: _body("TapStackqa/log_archive/bucket"),
                ACCESS_LOGS.split(".")[1]: _body("TapStackqa/log_archive/s3_access_bucket"),
                ARTIFACTS.split(".")[1]: _body("TapStackqa/api_release/bucket"),
                FRONTEND.split(".")[1]: _body("TapStackqa/frontend/bucket"),
            },
            "aws_s3_bucket_object_lock_configuration": {
                ARCHIVE_LOCK.split(".")[1]: _body("TapStackqa/log_archive/object_lock")
            },
        }
    }


def _state(*addresses: str) -> dict[str, Any]:
    values = {
        DB: {"identifier": "payment-db-qa"},
        ARCHIVE: {"bucket": "payment-logs-qa-1"},
        ACCESS_LOGS: {"bucket": "payment-s3-access-logs-qa-1"},
        ARTIFACTS: {"bucket": "payment-artifacts-qa-1"},
        FRONTEND: {"bucket": "payment-frontend-qa-1"},
    }
    return {
        "values": {
            "root_module": {
                "resources": [
                    {"address": address, "mode": "managed", "values": values.get(address, {})} for address in addresses
                ]
                + [{"address": "data.aws_elb_service_account.log_archive_elb_account", "mode": "data"}]
            }
        }
    }


def test_the_inventory_sorts_the_stack_into_what_destroy_unprotects_empties_and_keeps() -> None:
    everything = (DB, ALB, ARCHIVE, ACCESS_LOGS, ARCHIVE_LOCK, ARTIFACTS, FRONTEND)
    inventory = destroy.take_inventory(_stack(), "TapStackqa", _state(*everything))
    assert inventory.database == DB and inventory.database_identifier == "payment-db-qa"
    assert inventory.final_snapshot == "payment-db-qa-final-20260101000000"
    assert inventory.unprotect == [DB, ALB]
    assert inventory.buckets == {ARTIFACTS: "payment-artifacts-qa-1", FRONTEND: "payment-frontend-qa-1"}
    assert inventory.log_archive == sorted([ARCHIVE, ACCESS_LOGS, ARCHIVE_LOCK])
    assert inventory.log_buckets == {ARCHIVE: "payment-logs-qa-1", ACCESS_LOGS: "payment-s3-access-logs-qa-1"}
    assert inventory.resources == len(everything)


def test_a_half_destroyed_stack_is_inventoried_from_what_its_state_still_holds() -> None:
    inventory = destroy.take_inventory(_stack(), "TapStackqa", _state(ALB, FRONTEND))
    assert inventory.database is None and inventory.final_snapshot is None and inventory.unprotect == [ALB]
    assert not inventory.log_archive and inventory.buckets == {FRONTEND: "payment-frontend-qa-1"}


@pytest.mark.parametrize(
    ("plan", "problems"),
    [
        ([(DB, "update"), (ALB, "update"), ("aws_vpc.v", "no-op"), ("data.x.y", "read")], []),
        ([(DB, "update"), ("aws_kms_key.k", "update")], ["aws_kms_key.k (update)"]),
        ([(DB, "delete", "create")], [f"{DB} (delete/create)"]),
        ([(ALB, "delete")], [f"{ALB} (delete)"]),
    ],
)
def test_the_destroy_mode_plan_may_only_update_the_database_and_load_balancer(
    plan: list[tuple[str, ...]], problems: list[str]
) -> None:
    document = {"resource_changes": [{"address": a, "change": {"actions": list(rest)}} for a, *rest in plan]}
    assert destroy.unprotect_problems(document, [DB, ALB]) == problems


def test_a_confirm_for_another_stack_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(destroy.DestroyError, match=r"CONFIRM='TapStackprod' is not this stack's name; .* TapStackqa"):
        destroy.check_options(_environment(tmp_path), _options(confirm="TapStackprod"), terminal=True)


def test_auto_approve_destroys_development_but_not_production(tmp_path: Path) -> None:
    how = destroy.check_options(_environment(tmp_path), _options(auto_approve=True), terminal=False)
    assert how == "AUTO_APPROVE=1 (development)"
    with pytest.raises(destroy.DestroyError, match="AUTO_APPROVE=1 alone does not destroy a production stack"):
        destroy.check_options(_production(tmp_path), _options(auto_approve=True), terminal=False)
    how = destroy.check_options(_production(tmp_path), _options(confirm="TapStackprod"), terminal=False)
    assert how == "CONFIRM=TapStackprod"


def test_no_terminal_and_no_confirmation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(destroy.DestroyError, match="no terminal to confirm on: give CONFIRM=TapStackqa"):
        destroy.check_options(_environment(tmp_path), _options(), terminal=False)
    assert destroy.check_options(_environment(tmp_path), _options(), terminal=True) == "terminal"


def test_production_refuses_to_delete_its_compliance_log_archive(tmp_path: Path) -> None:
    with pytest.raises(destroy.DestroyError, match=r"Object Lock COMPLIANCE mode .* It is always kept"):
        destroy.check_options(
            _production(tmp_path), _options(confirm="TapStackprod", delete_log_archive=True), terminal=False
        )
    destroy.check_options(_environment(tmp_path), _options(auto_approve=True, delete_log_archive=True), terminal=False)


def test_production_refuses_to_skip_the_final_snapshot(tmp_path: Path) -> None:
    settings = {key: value for key, value in PRODUCTION_ENV.items() if key != "ENVIRONMENT_SUFFIX"}
    with pytest.raises(DeployEnvironmentError, match="a production stack is always destroyed with a final snapshot"):
        load("prod", {**settings, "DESTROY": "1", "SKIP_FINAL_SNAPSHOT": "1"}, tmp_path)


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_a_flag_is_1_or_0(value: str) -> None:
    with pytest.raises(destroy.DestroyError, match=rf"DELETE_LOG_ARCHIVE='{value}': allowed 1 \(on\) or 0"):
        destroy.read_options({"DELETE_LOG_ARCHIVE": value})
    assert destroy.read_options({"DELETE_LOG_ARCHIVE": "0", "CONFIRM": " TapStackqa "}) == _options(
        confirm="TapStackqa"
    )


def test_what_is_kept_is_announced_with_its_reason(tmp_path: Path) -> None:
    environment = _environment(tmp_path)
    everything = (DB, ALB, ARCHIVE, ACCESS_LOGS, ARCHIVE_LOCK, ARTIFACTS, FRONTEND)
    inventory = destroy.take_inventory(_stack(), "TapStackqa", _state(*everything))
    text = "\n".join(destroy.announce(environment, inventory, _options()))
    assert "KEEP the log archive (payment-logs-qa-1, payment-s3-access-logs-qa-1)" in text
    assert "PCI DSS 10.5.1" in text and "GOVERNANCE" in text
    assert "KEEP the final snapshot payment-db-qa-final-20260101000000 of payment-db-qa" in text
    assert "empty 2 unlocked bucket(s), every version: payment-artifacts-qa-1, payment-frontend-qa-1" in text
    kept = destroy.kept_items(environment, inventory, _options())
    assert [(item.kind, item.name) for item in kept] == [
        ("db-snapshot", "payment-db-qa-final-20260101000000"),
        ("s3-bucket", "payment-logs-qa-1"),
        ("s3-bucket", "payment-s3-access-logs-qa-1"),
    ]
    assert all(item.why and item.later for item in kept)
    deleting = destroy.kept_items(environment, inventory, _options(delete_log_archive=True))
    assert [item.kind for item in deleting] == ["db-snapshot"]
    assert "is DELETED after destroy" in "\n".join(
        destroy.announce(environment, inventory, _options(delete_log_archive=True))
    )


def test_make_deploy_refuses_destroy_mode(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DESTROY", "1")
    assert runner.main(["plan", "qa"]) == 2
    assert "make destroy`'s destroy mode" in capsys.readouterr().err


def test_the_migration_hosts_results_folder_is_read_from_the_synthesized_run(synth_json: dict[str, Any]) -> None:
    """make destroy deletes what the hosts wrote under this folder (tests/sandbox/test_destroy.py runs the deletion)."""
    assert destroy.migration_results_folder(synth_json) == "/payment/test/payment-api/migration"
    assert destroy.migration_results_folder(_stack()) is None


VAULT = "aws_backup_vault.backup_vault_H8"
COPY_VAULT = "aws_backup_vault.backup_copy_vault_I9"
COPY_KEY = "aws_kms_key.backup_copy_key_J1"
PLAN = "aws_backup_plan.backup_plan_K2"


DATA_KEY = "aws_kms_key.encryption_data_key_L3"
DATA_KEY_ALIAS = "aws_kms_alias.encryption_data_key_alias_M4"
OTHER_KEY = "aws_kms_key.encryption_logs_key_N5"


def _backup_stack(*, force_destroy: bool) -> dict[str, Any]:
    stack = _stack()
    stack["resource"]["aws_db_instance"][DB.split(".")[1]]["kms_key_id"] = f"${{{DATA_KEY}.arn}}"
    stack["resource"]["aws_kms_alias"] = {
        DATA_KEY_ALIAS.split(".")[1]: _body("TapStackqa/encryption/data_key_alias", target_key_id=f"${{{DATA_KEY}.id}}")
    }
    stack["resource"]["aws_backup_vault"] = {
        VAULT.split(".")[1]: _body("TapStackqa/backup/vault", force_destroy=force_destroy),
        COPY_VAULT.split(".")[1]: _body("TapStackqa/backup/copy_vault", force_destroy=force_destroy),
    }
    stack["resource"]["aws_kms_key"] = {
        COPY_KEY.split(".")[1]: _body("TapStackqa/backup/copy_key"),
        DATA_KEY.split(".")[1]: _body("TapStackqa/encryption/data_key"),
        OTHER_KEY.split(".")[1]: _body("TapStackqa/encryption/logs_key"),
    }
    stack["resource"]["aws_backup_plan"] = {PLAN.split(".")[1]: _body("TapStackqa/backup/plan")}
    return stack


def _backup_state() -> dict[str, Any]:
    state = _state(DB, VAULT, COPY_VAULT, COPY_KEY, PLAN, DATA_KEY, DATA_KEY_ALIAS, OTHER_KEY)
    values = {VAULT: {"name": "payment-db-backups-qa"}, COPY_VAULT: {"name": "payment-db-backups-copy-qa"}}
    values[COPY_KEY] = {"arn": "arn:aws:kms:eu-central-1:123456789012:key/k"}
    values[DATA_KEY] = {"arn": "arn:aws:kms:eu-west-1:123456789012:key/d"}
    values[DATA_KEY_ALIAS] = {"name": "alias/payment-data-qa"}
    values[OTHER_KEY] = {"arn": "arn:aws:kms:eu-west-1:123456789012:key/l"}
    for item in state["values"]["root_module"]["resources"]:
        if item["address"] in values:
            item["values"] = values[item["address"]]
    return state


def test_production_backup_vaults_and_the_copy_key_are_kept_out_of_the_destroy(tmp_path: Path) -> None:
    """Vaults without force_destroy (production) keep their recovery points: destroy removes them, the copy vault's
    key and the database's key with its alias (RDS recovery points and the final snapshot keep the database's key) from
    state, announces and lists them; the plan, the selection and the other keys are destroyed."""
    inventory = destroy.take_inventory(_backup_stack(force_destroy=False), "TapStackqa", _backup_state())
    assert inventory.backup_kept == {
        COPY_KEY: "arn:aws:kms:eu-central-1:123456789012:key/k",
        DATA_KEY: "arn:aws:kms:eu-west-1:123456789012:key/d",
        DATA_KEY_ALIAS: "alias/payment-data-qa",
        COPY_VAULT: "payment-db-backups-copy-qa",
        VAULT: "payment-db-backups-qa",
    }
    environment = _environment(tmp_path)
    assert any(
        "KEEP the database's AWS Backup vaults" in line for line in destroy.announce(environment, inventory, _options())
    )
    kept = destroy.kept_items(environment, inventory, _options())
    assert {item.name for item in kept if item.kind == "backup-vault"} == {
        "payment-db-backups-qa",
        "payment-db-backups-copy-qa",
    }
    assert {item.name for item in kept if item.kind == "kms-key"} == {
        "arn:aws:kms:eu-central-1:123456789012:key/k",
        "arn:aws:kms:eu-west-1:123456789012:key/d",
    }


def test_development_backup_vaults_are_destroyed_with_their_recovery_points() -> None:
    inventory = destroy.take_inventory(_backup_stack(force_destroy=True), "TapStackqa", _backup_state())
    assert not inventory.backup_kept


BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass/log-archive-admin"


def test_deleting_the_archive_says_up_front_it_takes_the_break_glass_role(tmp_path: Path) -> None:
    environment = _environment(tmp_path, BREAK_GLASS_ROLE_ARN=BREAK_GLASS)
    inventory = destroy.take_inventory(_stack(), "TapStackqa", _state(ARCHIVE, ACCESS_LOGS))
    text = "\n".join(destroy.announce(environment, inventory, _options(delete_log_archive=True), {"USER": "alice"}))
    assert f"as the break-glass role {BREAK_GLASS} (AssumeRole, session destroy-alice)" in text
    kept = "\n".join(destroy.announce(environment, inventory, _options(), {"USER": "alice"}))
    assert "break-glass" not in kept  # keeping the archive touches no policy
    without = "\n".join(destroy.announce(_environment(tmp_path), inventory, _options(delete_log_archive=True)))
    assert "break-glass" not in without


@pytest.mark.parametrize(
    ("environ", "session"),
    [
        ({"USER": "alice"}, "destroy-alice"),
        ({"LOGNAME": "bob@example.com"}, "destroy-bob@example.com"),
        ({"USER": "dom\\carol smith"}, "destroy-dom-carol-smith"),
        ({"USER": "x" * 80}, "destroy-" + "x" * 56),
    ],
)
def test_the_session_names_the_operator_as_sts_allows(environ: dict[str, str], session: str) -> None:
    assert break_glass.session_name(environ) == session


class _FakeSts:
    def __init__(self) -> None:
        self.error: Exception | None = None
        self.calls: list[dict[str, str]] = []

    def assume_role(self, **kwargs: str) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return {"Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t"}}


def test_the_archive_client_is_a_session_of_the_break_glass_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the role set, the archive's calls use an AssumeRole session named for the operator; without it, the
    deployer's client; a refused AssumeRole stops with the role and the fix (the archive is kept)."""
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel

    from tools.deploy import account  # pylint: disable=import-outside-toplevel

    sts = _FakeSts()
    monkeypatch.setattr(account, "boto3_clients", lambda _region, _env: lambda _service, _region2: sts)
    made: list[dict[str, str]] = []

    def s3_client(credentials: dict[str, str], _region: str) -> str:
        made.append(dict(credentials))
        return "s3"

    monkeypatch.setattr(break_glass, "s3_client", s3_client)
    operator = {"USER": "alice"}
    deployer_s3 = object()
    environment = _environment(tmp_path, BREAK_GLASS_ROLE_ARN=BREAK_GLASS)
    client, who = destroy.archive_client(
        environment, {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, operator, deployer_s3
    )
    assert client == "s3" and who == f" (as {BREAK_GLASS}, session destroy-alice)"
    assert sts.calls == [{"RoleArn": BREAK_GLASS, "RoleSessionName": "destroy-alice"}]
    assert made == [
        {
            "AWS_ACCESS_KEY_ID": "ASIA1",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_SESSION_TOKEN": "t",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        }
    ]
    assert destroy.archive_client(_environment(tmp_path), {}, operator, deployer_s3) == (deployer_s3, "")
    sts.error = ClientError({"Error": {"Code": "AccessDenied", "Message": "not trusted"}}, "AssumeRole")
    with pytest.raises(destroy.DestroyError, match="could not assume the break-glass role BREAK_GLASS_ROLE_ARN="):
        destroy.archive_client(environment, {}, operator, deployer_s3)
