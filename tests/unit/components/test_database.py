"""The database (``lib/components/database.py``; docs/requirements.md#database): PostgreSQL "15", Multi-AZ,
encrypted, a managed secret, TLS forced, backups apart from maintenance."""

import json
import re
from datetime import UTC, datetime

import pytest

from tests.conftest import DEVELOPMENT_ENV, PRODUCTION_ENV, synth_stack
from tests.unit.helpers import by_path, only

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY, WEEK = 24 * 60, 7 * 24 * 60


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _interval(start: int, end: int) -> tuple[int, int]:
    return (start, end if end > start else end + DAY)  # a window may run past midnight


def window_gap(backup_window: str, maintenance_window: str) -> int:
    """Minutes between the daily backup window and the weekly maintenance window; 0 when they overlap or touch.

    RDS runs the backup window every day, so it is compared with the maintenance window on every day of the
    week, and across the week's end (Sunday night to Monday morning)."""
    backup_start, backup_end = _interval(*(_minutes(t) for t in backup_window.split("-")))
    match = re.fullmatch(r"(\w+):(\d\d:\d\d)-(\w+):(\d\d:\d\d)", maintenance_window)
    assert match, maintenance_window
    start_day, start, end_day, end = match.groups()
    maintenance_start = DAYS.index(start_day) * DAY + _minutes(start)
    maintenance_end = DAYS.index(end_day) * DAY + _minutes(end)
    if maintenance_end <= maintenance_start:
        maintenance_end += WEEK
    gaps = []
    for day in range(-1, 8):
        for shift in (-WEEK, 0, WEEK):
            b_start, b_end = day * DAY + backup_start, day * DAY + backup_end
            m_start, m_end = maintenance_start + shift, maintenance_end + shift
            gaps.append(max(0, max(b_start, m_start) - min(b_end, m_end)))
    return min(gaps)


@pytest.mark.parametrize(
    ("backup", "maintenance", "gap"),
    [
        ("03:00-04:00", "sun:06:00-sun:07:00", 120),
        ("03:00-04:00", "sun:03:00-sun:04:00", 0),  # identical
        ("02:00-05:00", "sun:03:00-sun:04:00", 0),  # backup contains maintenance
        ("03:30-03:45", "sun:03:00-sun:04:00", 0),  # maintenance contains backup
        ("03:00-04:00", "sun:03:30-sun:04:30", 0),  # overlap
        ("03:00-04:00", "sun:04:00-sun:05:00", 0),  # touching
        ("23:30-00:30", "mon:00:00-mon:01:00", 0),  # backup past midnight into the maintenance day
        ("00:00-00:30", "sun:23:30-mon:00:00", 0),  # across the week's end, touching
        ("01:00-02:00", "sun:23:00-mon:00:00", 60),  # across the week's end, an hour apart
    ],
)
def test_window_gap_sees_overlaps_in_any_form(backup: str, maintenance: str, gap: int) -> None:
    assert window_gap(backup, maintenance) == gap


@pytest.mark.seed(1)
@pytest.mark.pci("2.2")
def test_engine_is_postgres_major_version_15(resources):
    db = only(resources, "aws_db_instance")
    assert db["engine"] == "postgres" and db["engine_version"] == "15"


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_multi_az_encrypted_private_gp3(resources):
    db = only(resources, "aws_db_instance")
    assert db["multi_az"] is True and db["storage_type"] == "gp3"
    assert db["storage_encrypted"] is True and "aws_kms_key.encryption_data_key" in db["kms_key_id"]
    assert db["publicly_accessible"] is False
    assert "aws_db_subnet_group" in db["db_subnet_group_name"]
    subnet_group = only(resources, "aws_db_subnet_group")
    assert all("data_subnet" in s for s in subnet_group["subnet_ids"]) and len(subnet_group["subnet_ids"]) == 3


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_master_password_is_managed_by_rds_never_in_state(resources):
    db = only(resources, "aws_db_instance")
    assert db["manage_master_user_password"] is True
    # Nothing connects with IAM tokens (issue 27): the way in stays shut, its checkov check suppressed with the reason.
    assert db["iam_database_authentication_enabled"] is False
    skips = db["//"]["checkov"]["skip"]
    assert [skip["id"] for skip in skips if skip["id"] == "CKV_AWS_161"] == ["CKV_AWS_161"]
    assert "password" not in db
    assert "aws_kms_key.encryption_data_key" in db["master_user_secret_kms_key_id"]


@pytest.mark.pci("4.2")
def test_parameter_group_forces_tls(resources):
    group = only(resources, "aws_db_parameter_group")
    assert group["family"] == "postgres15"
    params = {p["name"]: p["value"] for p in group["parameter"]}
    assert params["rds.force_ssl"] == "1" and params["ssl_min_protocol_version"] == "TLSv1.2"


def test_parameters_apply_as_rds_allows(resources):
    """Dynamic parameters apply at once (on pending-reboot a later change would wait for a reboot nobody does);
    shared_preload_libraries is static, so RDS refuses 'immediate' and it waits for the next reboot."""
    group = only(resources, "aws_db_parameter_group")
    assert {p["name"]: p["apply_method"] for p in group["parameter"]} == {
        "rds.force_ssl": "immediate",
        "ssl_min_protocol_version": "immediate",
        "log_connections": "immediate",
        "log_disconnections": "immediate",
        "password_encryption": "immediate",
        "shared_preload_libraries": "pending-reboot",
        "pgaudit.log": "immediate",
    }


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_pgaudit_logs_ddl_and_role_changes_with_connections_to_exported_logs(resources):
    group = only(resources, "aws_db_parameter_group")
    params = {p["name"]: p["value"] for p in group["parameter"]}
    # RDS's default pg_stat_statements stays loaded beside pgaudit: the value replaces the default list.
    assert params["shared_preload_libraries"] == "pg_stat_statements,pgaudit"
    assert params["pgaudit.log"] == "ddl,role"
    assert params["log_connections"] == "1" and params["log_disconnections"] == "1"
    # Replacing the group (a new description) would detach it from the instance mid-apply: kept as first applied.
    assert group["description"] == "Forces TLS and logs connections"
    db = only(resources, "aws_db_instance")
    assert "postgresql" in db["enabled_cloudwatch_logs_exports"]
    # The instance names the group, so Terraform creates the group (with the static preload) first: the instance
    # starts with both libraries loaded and no reboot is pending.
    group_name = next(name for name, body in resources["aws_db_parameter_group"].items() if body is group)
    assert db["parameter_group_name"] == f"${{aws_db_parameter_group.{group_name}.name}}"


def test_backups_kept_and_windows_well_apart(resources, synth_json):
    db = only(resources, "aws_db_instance")
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}"
    assert synth_json["variable"]["db_backup_retention_days"]["default"] >= 7
    assert window_gap(db["backup_window"], db["maintenance_window"]) >= 60, (
        "backup and maintenance windows must be at least an hour apart on every day of the week"
    )


@pytest.mark.pci("10.2, 10.3, 10.5", "10.7, 11.5")
def test_protection_logs_and_insights(resources):
    db = only(resources, "aws_db_instance")
    assert db["deletion_protection"] is True and db["skip_final_snapshot"] is False
    assert db["final_snapshot_identifier"].endswith("-test")
    assert set(db["enabled_cloudwatch_logs_exports"]) == {"postgresql", "upgrade"}
    assert db["performance_insights_enabled"] is True and "aws_kms_key" in db["performance_insights_kms_key_id"]
    for export in ("postgresql", "upgrade"):
        _, group = by_path(resources, "aws_cloudwatch_log_group", f"database/log_group_{export}")
        assert group["name"] == f"/aws/rds/instance/{db['identifier']}/{export}" and "kms_key_id" in group


@pytest.mark.pci("10.7, 11.5")
def test_enhanced_monitoring_role_has_its_policy_before_the_instance_exists(resources):
    db = only(resources, "aws_db_instance")
    assert db["monitoring_interval"] == 60 and "aws_iam_role.database_monitoring_role" in db["monitoring_role_arn"]
    name, attachment = by_path(resources, "aws_iam_role_policy_attachment", "database/monitoring_policy")
    assert attachment["policy_arn"].endswith(":policy/service-role/AmazonRDSEnhancedMonitoringRole")
    assert f"aws_iam_role_policy_attachment.{name}" in db["depends_on"]


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_connection_string_is_securestring_without_password(resources):
    parameter = by_path(resources, "aws_ssm_parameter", "database/connection_string")[1]
    assert parameter["type"] == "SecureString" and "aws_kms_key.encryption_data_key" in parameter["key_id"]
    # user@host:port/db — a user:password@ form would put the secret in state and in SSM.
    assert re.match(
        r"^postgresql://[a-z_]+@\$\{aws_db_instance\.\w+\.address\}:\$\{aws_db_instance\.\w+\.port\}/"
        r"payments\?sslmode=verify-full$",
        parameter["value"],
    )


def test_sandbox_relaxes_protection_for_destroy(tmp_path, resources):
    # The runner names the API as production must (API_DOMAIN: its certificate's name, tools/sandbox/runner.py); the
    # processor is production's, so that the resources compare one for one (the Stripe secret's read policy).
    stripe = {name: value for name, value in PRODUCTION_ENV.items() if name.startswith(("PAYMENT_PROC", "STRIPE_"))}
    stack = synth_stack(
        tmp_path,
        {
            **DEVELOPMENT_ENV,
            **stripe,
            "SANDBOX_ENDPOINT_URL": "http://127.0.0.1:5000",
            "API_DOMAIN": "payments.sandbox.example.com",
        },
    )
    db = only(stack["resource"], "aws_db_instance")
    assert db["deletion_protection"] is False and db["skip_final_snapshot"] is True
    # make destroy empties the buckets, as on an account: the sandbox relies on no force_destroy.
    assert not any(b.get("force_destroy") for b in stack["resource"]["aws_s3_bucket"].values())
    for provider in stack["provider"]["aws"]:  # the stack's and the us-east-1 alias (CloudFront's WAF) alike
        assert set(provider["endpoints"][0].values()) == {"http://127.0.0.1:5000"}
        assert provider["skip_requesting_account_id"] is False and provider["s3_use_path_style"] is True
    # Sandbox mode is configuration only: exactly the production resources, no emulator-only extras.
    assert {t: sorted(v) for t, v in stack["resource"].items()} == {t: sorted(v) for t, v in resources.items()}


# `make destroy` (tools/deploy/destroy.py) synthesizes with DESTROY=1 and applies that before terraform destroy.
SNAPSHOT_ATTRIBUTES = ("deletion_protection", "skip_final_snapshot", "final_snapshot_identifier")


def _instance_and_alb(stack: dict) -> tuple[dict, dict]:
    return only(stack["resource"], "aws_db_instance"), only(stack["resource"], "aws_alb")


def test_an_ordinary_synth_keeps_every_releases_protection_and_no_dated_snapshot(resources):
    db = only(resources, "aws_db_instance")
    # What every earlier release synthesized: an ordinary plan shows no change in these attributes.
    assert {key: db[key] for key in SNAPSHOT_ATTRIBUTES} == {
        "deletion_protection": True,
        "skip_final_snapshot": False,
        "final_snapshot_identifier": "payment-db-final-test",
    }
    assert not re.search(r"-final-\d{14}", json.dumps(resources))


def test_destroy_mode_turns_protection_off_and_dates_the_final_snapshot(tmp_path):
    stack = synth_stack(tmp_path, {**PRODUCTION_ENV, "DESTROY": "1"})
    db, alb = _instance_and_alb(stack)
    assert db["deletion_protection"] is False and alb["enable_deletion_protection"] is False
    assert db["skip_final_snapshot"] is False
    assert re.fullmatch(rf"{db['identifier']}-final-\d{{14}}", db["final_snapshot_identifier"])
    stamp = db["final_snapshot_identifier"].rsplit("-", 1)[1]
    assert datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC) <= datetime.now(UTC)
    # Only those attributes move: every other resource and attribute is the ordinary synth's.
    ordinary = synth_stack(tmp_path / "ordinary", dict(PRODUCTION_ENV))
    ordinary_db, ordinary_alb = _instance_and_alb(ordinary)
    assert {k: v for k, v in db.items() if k not in SNAPSHOT_ATTRIBUTES} == {
        k: v for k, v in ordinary_db.items() if k not in SNAPSHOT_ATTRIBUTES
    }
    assert {k: v for k, v in alb.items() if k != "enable_deletion_protection"} == {
        k: v for k, v in ordinary_alb.items() if k != "enable_deletion_protection"
    }


def test_destroy_mode_skips_the_final_snapshot_only_when_asked_in_development(tmp_path):
    stack = synth_stack(tmp_path, {**DEVELOPMENT_ENV, "DESTROY": "1", "SKIP_FINAL_SNAPSHOT": "1"})
    db, _ = _instance_and_alb(stack)
    assert db["deletion_protection"] is False and db["skip_final_snapshot"] is True
    assert db.get("final_snapshot_identifier") is None


def test_the_sandbox_in_destroy_mode_keeps_a_final_snapshot_too(tmp_path):
    stack = synth_stack(
        tmp_path,
        {
            **DEVELOPMENT_ENV,
            "SANDBOX_ENDPOINT_URL": "http://127.0.0.1:5000",
            "API_DOMAIN": "payments.sandbox.example.com",
            "DESTROY": "1",
        },
    )
    db, _ = _instance_and_alb(stack)
    assert db["skip_final_snapshot"] is False and re.fullmatch(
        r"payment-db-test-final-\d{14}", db["final_snapshot_identifier"]
    )
