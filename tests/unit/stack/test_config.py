"""``lib/config.py`` (docs/requirements.md#stack-wiring): bad configuration stops synth with a message naming the
value and the fix, writing nothing."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lib.config import ConfigError, StackConfig
from tests.conftest import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_are_the_documented_values():
    config = StackConfig.from_env({}, region_file=Path("/nonexistent"))
    assert (config.environment_suffix, config.aws_region, config.stack_name) == ("dev", "us-east-1", "TapStackdev")
    assert (config.asg_min_size, config.asg_max_size, config.asg_desired_capacity) == (2, 6, 2)
    assert config.db_engine_version == "15" and config.deletion_protection is True and not config.sandbox
    assert config.log_retention_days >= 365


def test_region_file_is_used_when_env_is_silent(tmp_path):
    region_file = tmp_path / "AWS_REGION"
    region_file.write_text("eu-west-1\n")
    assert StackConfig.from_env({}, region_file=region_file).aws_region == "eu-west-1"
    assert StackConfig.from_env({"AWS_REGION": "us-west-2"}, region_file=region_file).aws_region == "us-west-2"


def test_config_is_immutable() -> None:
    config = StackConfig()
    with pytest.raises(AttributeError):
        config.environment_suffix = "prod"  # type: ignore[misc]  # the frozen-dataclass error under test


@pytest.mark.parametrize(
    ("environ", "named", "hint"),
    [
        ({"ENVIRONMENT_SUFFIX": "Prod_1"}, "ENVIRONMENT_SUFFIX", "lowercase"),
        ({"ENVIRONMENT_SUFFIX": "averyveryverylongsuffix"}, "ENVIRONMENT_SUFFIX", "1-12"),
        ({"AWS_REGION": "us-east-9"}, "AWS_REGION", "allowed regions"),
        ({"AWS_REGION": "eu-south-1"}, "AWS_REGION", "CloudFront standard logging cannot deliver to a bucket there"),
        ({"DB_MAX_ALLOCATED_STORAGE": "50"}, "DB_MAX_ALLOCATED_STORAGE", "55 or more (or 0 for no autoscaling)"),
        ({"DB_ALLOCATED_STORAGE": "100", "DB_MAX_ALLOCATED_STORAGE": "109"}, "DB_MAX_ALLOCATED_STORAGE", "110 or more"),
        ({"ASG_MIN_SIZE": "5", "ASG_MAX_SIZE": "3"}, "ASG_MIN_SIZE", "must not exceed ASG_MAX_SIZE=3"),
        ({"ASG_DESIRED_CAPACITY": "9"}, "ASG_DESIRED_CAPACITY", "between"),
        ({"ASG_MIN_SIZE": "two"}, "ASG_MIN_SIZE", "whole number"),
        ({"VPC_CIDR": "10.0.0.0/33"}, "VPC_CIDR", "not a CIDR"),
        ({"VPC_CIDR": "8.8.0.0/16"}, "VPC_CIDR", "private"),
        ({"DB_ENGINE_VERSION": "15.5"}, "DB_ENGINE_VERSION", "major version"),
        ({"DB_ENGINE_VERSION": "99"}, "DB_ENGINE_VERSION", "major version"),
        ({"DB_BACKUP_RETENTION_DAYS": "3"}, "DB_BACKUP_RETENTION_DAYS", "7-35"),
        ({"LOG_RETENTION_DAYS": "100"}, "LOG_RETENTION_DAYS", "365"),
        ({"INSTANCE_TYPE": "huge"}, "INSTANCE_TYPE", "t3.medium"),
        ({"DB_INSTANCE_CLASS": "t3.medium"}, "DB_INSTANCE_CLASS", "db.t3.medium"),
        ({"INSTANCE_TYPE": "zz99.huge"}, "INSTANCE_TYPE", "unknown instance family 'zz99'"),
        ({"DB_INSTANCE_CLASS": "db.fake.huge"}, "DB_INSTANCE_CLASS", "no class family 'db.fake'"),
        ({"DB_INSTANCE_CLASS": "db.t3.micro"}, "DB_INSTANCE_CLASS", "Performance Insights"),
        ({"ALARM_EMAIL": "oncall"}, "ALARM_EMAIL", "e-mail"),
        ({"SINGLE_NAT_GATEWAY": "maybe"}, "SINGLE_NAT_GATEWAY", "true or false"),
        (
            {"TERRAFORM_STATE_BUCKET": "Bad_Bucket", "ENVIRONMENT_TYPE": "development"},
            "TERRAFORM_STATE_BUCKET",
            "lowercase letters",
        ),
        ({"SANDBOX_ENDPOINT_URL": "https://ec2.amazonaws.com"}, "SANDBOX_ENDPOINT_URL", "local emulator"),
        ({"API_PORT": "443"}, "API_PORT", "other than"),
        ({"FRONTEND_DOMAIN": "pay.example.com"}, "FRONTEND_CERTIFICATE_ARN", "go together"),
        (
            {
                "FRONTEND_DOMAIN": "pay.example.com",
                "FRONTEND_CERTIFICATE_ARN": "arn:aws:acm:eu-west-1:123456789012:certificate/x",
            },
            "FRONTEND_CERTIFICATE_ARN",
            "us-east-1",
        ),
        ({"API_DOMAIN": "API.example.com"}, "API_DOMAIN", "lowercase DNS name"),
        (
            {
                "API_DOMAIN": "pay.example.com",
                "FRONTEND_DOMAIN": "pay.example.com",
                "FRONTEND_CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/x",
            },
            "API_DOMAIN",
            "name of its own",
        ),
        ({"HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ"}, "HOSTED_ZONE_ID", "neither is set"),
        ({"HOSTED_ZONE_ID": "example.com", "API_DOMAIN": "api.example.com"}, "HOSTED_ZONE_ID", "hosted zone id"),
        ({"HOSTED_ZONE_ID": "z0123456789abcdefghij", "API_DOMAIN": "api.example.com"}, "HOSTED_ZONE_ID", "upper-case"),
        ({"HOSTED_ZONE_ID": "Z" + "A" * 32, "API_DOMAIN": "api.example.com"}, "HOSTED_ZONE_ID", "up to 31"),
        (
            {"HOSTED_ZONE_ID": "/hostedzone/Z0123456789ABCDEFGHIJ", "API_DOMAIN": "api.example.com"},
            "HOSTED_ZONE_ID",
            "Give the id alone: HOSTED_ZONE_ID=Z0123456789ABCDEFGHIJ.",
        ),
    ],
)
def test_invalid_values_are_named_with_the_fix(environ, named, hint):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))
    message = str(caught.value)
    assert message.startswith((f"{named}=", f"{named} is not set")) and hint in message


@pytest.mark.parametrize(("allocated", "ceiling"), [("50", "55"), ("100", "110"), ("50", "0"), ("21", "24")])
def test_storage_ceiling_at_least_ten_percent_above_or_off(allocated, ceiling):
    config = StackConfig.from_env(
        {"DB_ALLOCATED_STORAGE": allocated, "DB_MAX_ALLOCATED_STORAGE": ceiling}, region_file=Path("/nonexistent")
    )
    assert config.db_max_allocated_storage == int(ceiling)


def test_any_aws_region_can_hold_the_state_bucket():
    config = StackConfig.from_env(
        {
            "TERRAFORM_STATE_BUCKET": "acme-tf-state",
            "ENVIRONMENT_TYPE": "development",
            "TERRAFORM_STATE_BUCKET_REGION": "us-west-1",
        },
        region_file=Path("/nonexistent"),
    )
    assert config.state_bucket_region == "us-west-1"


STATE_KEY = "arn:aws:kms:us-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STATE_ENV = {
    "TERRAFORM_STATE_BUCKET": "acme-tf-state",
    "ENVIRONMENT_TYPE": "development",
    "TERRAFORM_STATE_BUCKET_REGION": "us-west-1",
}


@pytest.mark.pci("3.5, 3.6, 3.7")
@pytest.mark.parametrize(
    "key",
    [
        STATE_KEY,
        "arn:aws:kms:us-west-1:123456789012:alias/terraform-state",
        "arn:aws:kms:us-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ],
)
def test_state_kms_key_arn_or_alias_arn_is_accepted(key):
    config = StackConfig.from_env({**STATE_ENV, "TERRAFORM_STATE_KMS_KEY_ARN": key}, region_file=Path("/nonexistent"))
    assert config.state_kms_key_arn == key


def test_state_kms_key_is_unset_by_default():
    assert StackConfig.from_env(STATE_ENV, region_file=Path("/nonexistent")).state_kms_key_arn is None


@pytest.mark.parametrize(
    ("environ", "hint"),
    [
        ({"TERRAFORM_STATE_KMS_KEY_ARN": STATE_KEY}, "TERRAFORM_STATE_BUCKET is not set"),
        (
            {**STATE_ENV, "TERRAFORM_STATE_KMS_KEY_ARN": "1234abcd-12ab-34cd-56ef-1234567890ab"},
            "expected a KMS key ARN",
        ),
        ({**STATE_ENV, "TERRAFORM_STATE_KMS_KEY_ARN": "alias/terraform-state"}, "expected a KMS key ARN"),
        ({**STATE_ENV, "TERRAFORM_STATE_KMS_KEY_ARN": "arn:aws:s3:::acme-tf-state"}, "expected a KMS key ARN"),
        (
            {**STATE_ENV, "TERRAFORM_STATE_KMS_KEY_ARN": STATE_KEY.replace("us-west-1", "eu-west-1")},
            "the key is in eu-west-1 but the state bucket is in us-west-1",
        ),
        ({**STATE_ENV, "TERRAFORM_STATE_KMS_KEY_ARN": ""}, "set but empty"),
    ],
)
def test_state_kms_key_refusals_name_the_variable_and_the_fix(environ, hint):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))
    assert str(caught.value).startswith("TERRAFORM_STATE_KMS_KEY_ARN=") and hint in str(caught.value)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:role/kms-admins",
        "arn:aws:iam::123456789012:role/platform/security/kms-admins",
        "arn:aws:iam::123456789012:user/key-custodian",
    ],
)
def test_kms_admin_principal_accepts_the_root_a_role_or_a_user(arn):
    assert (
        StackConfig.from_env({"KMS_ADMIN_PRINCIPAL_ARN": arn}, region_file=Path("/nonexistent")).kms_admin_principal_arn
        == arn
    )
    assert StackConfig.from_env({}, region_file=Path("/nonexistent")).kms_admin_principal_arn is None


@pytest.mark.parametrize(
    "arn",
    [
        "*",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::*:root",
        "123456789012",
        "arn:aws:sts::123456789012:assumed-role/kms-admins/session",
        "arn:aws:iam::123456789012:group/admins",
        "kms-admins",
    ],
)
def test_kms_admin_principal_refuses_wildcards_sessions_and_other_principals(arn):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_env({"KMS_ADMIN_PRINCIPAL_ARN": arn}, region_file=Path("/nonexistent"))
    assert str(caught.value).startswith("KMS_ADMIN_PRINCIPAL_ARN=") and "no wildcard" in str(caught.value)


BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass/log-archive-admin"


def test_break_glass_role_is_one_role_arn_with_its_path():
    nowhere = Path("/nonexistent")
    assert StackConfig.from_env({"BREAK_GLASS_ROLE_ARN": BREAK_GLASS}, region_file=nowhere).break_glass_role_arn == (
        BREAK_GLASS
    )
    assert StackConfig.from_env({}, region_file=nowhere).break_glass_role_arn is None


@pytest.mark.parametrize(
    ("arn", "said"),
    [
        ("arn:aws:iam::123456789012:role/break-glass/*", "has a wildcard"),
        (
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*",
            "a permission set's pattern, not one role",
        ),
        ("arn:aws:sts::123456789012:assumed-role/log-archive-admin/alice", "is an assumed-role session"),
        ("arn:aws:iam::123456789012:user/alice", "is an IAM user"),
        ("arn:aws:iam::123456789012:root", "is the account root"),
        ("log-archive-admin", "is not an IAM role ARN"),
    ],
)
def test_break_glass_role_refuses_patterns_sessions_and_other_principals(arn, said):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_env({"BREAK_GLASS_ROLE_ARN": arn}, region_file=Path("/nonexistent"))
    message = str(caught.value)
    assert message.startswith("BREAK_GLASS_ROLE_ARN=") and said in message
    assert "arn:aws:iam::<account>:role/<path/>name" in message and "aws iam get-role" in message


def test_break_glass_role_is_in_the_deployers_account():
    with pytest.raises(ConfigError, match=r"BREAK_GLASS_ROLE_ARN=.*names account 123456789012, but DEPLOYER_PRINCIPAL"):
        StackConfig.from_env(
            {
                "BREAK_GLASS_ROLE_ARN": BREAK_GLASS,
                "DEPLOYER_PRINCIPAL_ARNS": "arn:aws:iam::111122223333:role/ci/deploy",
            },
            region_file=Path("/nonexistent"),
        )


def test_production_requires_a_break_glass_role():
    environ = {key: value for key, value in PRODUCTION_ENV.items() if key != "BREAK_GLASS_ROLE_ARN"}
    with pytest.raises(ConfigError, match="BREAK_GLASS_ROLE_ARN"):
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))


def test_development_is_the_default_only_with_local_state():
    config = StackConfig.from_env({}, region_file=Path("/nonexistent"))
    assert config.environment_type == "development" and config.default_tags["DataClassification"] == "non-cde"
    with pytest.raises(ConfigError, match="ENVIRONMENT_TYPE is not set: it is required when TERRAFORM_STATE_BUCKET"):
        StackConfig.from_env({"TERRAFORM_STATE_BUCKET": "acme-tf-state"}, region_file=Path("/nonexistent"))


def test_development_warns_once_per_relaxed_guardrail():
    config = StackConfig.from_env(
        {"LOG_RETENTION_DAYS": "30", "DELETION_PROTECTION": "false", "ALARM_EMAIL": "none"},
        region_file=Path("/nonexistent"),
    )
    named = [warning.split("(", 1)[1].split(")", 1)[0] for warning in config.warnings]
    assert sorted(named) == [
        "ALARM_EMAIL",
        "API_DOMAIN",
        "BREAK_GLASS_ROLE_ARN",
        "DELETION_PROTECTION",
        "DEPLOYER_PRINCIPAL_ARNS",
        "FRONTEND_DOMAIN",
        "KMS_ADMIN_PRINCIPAL_ARN",
        "LOG_RETENTION_DAYS",
        "PAYMENT_PROCESSOR",
        "TERRAFORM_STATE_BUCKET",
    ]
    assert config.alarm_email == ""


def test_complete_production_configuration_has_no_warnings():
    config = StackConfig.from_env(PRODUCTION_ENV, region_file=Path("/nonexistent"))
    assert config.environment_type == "production" and not config.warnings
    assert config.default_tags["DataClassification"] == "pci-cde" and config.protected_from_deletion


def test_local_state_lives_outside_the_synth_output():
    assert (
        StackConfig.from_env({}, region_file=Path("/nonexistent")).local_state_path
        == ROOT / "terraform.TapStackdev.tfstate"
    )
    sandbox = StackConfig.from_env(
        {"SANDBOX_ENDPOINT_URL": "http://127.0.0.1:5000", "ENVIRONMENT_SUFFIX": "alice"},
        region_file=Path("/nonexistent"),
    )
    assert sandbox.local_state_path == ROOT / "sandbox-state" / "terraform.TapStackalice.tfstate"


@pytest.mark.parametrize(
    "environ", [{"ENVIRONMENT_SUFFIX": "BAD SUFFIX"}, {"ASG_MIN_SIZE": "7"}, {"DB_ENGINE_VERSION": "15.5"}]
)
def test_cli_exits_non_zero_and_writes_nothing(tmp_path, environ):
    outdir = tmp_path / "cdktf.out"
    env = {**os.environ, **environ, "CDKTF_OUTDIR": str(outdir)}
    result = subprocess.run(
        [sys.executable, "tap.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: ") and next(iter(environ)) in result.stderr
    assert not outdir.exists() and not list(tmp_path.iterdir())


def test_preflight_error_stops_synth_and_writes_nothing(tmp_path, monkeypatch, synth_json):
    """A stack that breaks a deploy-time rule is reported and never reaches cdktf.out."""
    import tap  # pylint: disable=import-outside-toplevel
    from preflight import Finding, Severity  # pylint: disable=import-outside-toplevel

    assert synth_json  # the session's stack is already built: this test only re-runs the synth path
    finding = Finding(
        rule_id="PF-TEST", severity=Severity.ERROR, path="TapStacktest/x", address="aws_x.y", message="injected"
    )
    monkeypatch.setattr(tap, "run_preflight", lambda _json: [finding])
    outdir = tmp_path / "cdktf.out"
    with pytest.raises(tap.PreflightError, match="preflight found 1 error"):
        tap.synthesize(StackConfig.from_env({"ENVIRONMENT_SUFFIX": "test"}, region_file=Path("/nonexistent")), outdir)
    assert not list(tmp_path.iterdir())


@pytest.mark.pci("1.2, 1.3, 1.4")
@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("0.0.0.0/0", "the whole internet"),
        ("10.1.0.0/16", "overlaps 10.0.0.0/8"),
        ("172.20.0.0/16", "overlaps 172.16.0.0/12"),
        ("192.168.1.0/24", "overlaps 192.168.0.0/16"),
        ("100.64.0.0/16", "overlaps 100.64.0.0/10"),
        ("169.254.169.254/32", "overlaps 169.254.0.0/16"),
        ("0.0.0.0/1", "overlaps 0.0.0.0/8"),
        ("128.0.0.0/1", "overlaps 169.254.0.0/16"),
        ("2001:db8::/32", "IPv6"),
        ("203.0.113.1/24", "not a CIDR"),
        ("example.com", "not a CIDR"),
        ("203.0.113.0/24,,198.51.100.0/24", "empty entry"),
        ("203.0.113.0/24,203.0.113.0/24", "twice"),
    ],
)
def test_payment_processor_cidrs_refuse_the_internet_and_private_ranges(value, hint):
    with pytest.raises(ConfigError) as raised:
        StackConfig.from_env({"PAYMENT_PROCESSOR_EGRESS_CIDRS": value})
    assert "PAYMENT_PROCESSOR_EGRESS_CIDRS" in str(raised.value) and hint in str(raised.value)
    assert "Fix" in str(raised.value) or "Set PAYMENT_PROCESSOR_EGRESS_CIDRS" in str(raised.value)


def test_payment_processor_cidrs_default_to_none_and_parse_a_list():
    assert not StackConfig.from_env({}).payment_processor_cidrs
    config = StackConfig.from_env({"PAYMENT_PROCESSOR_EGRESS_CIDRS": " 203.0.113.0/24 ,198.51.100.7/32"})
    assert config.payment_processor_cidrs == ("203.0.113.0/24", "198.51.100.7/32")


def test_hosted_zone_is_unset_by_default_and_taken_with_either_domain():
    assert StackConfig.from_env({}, region_file=Path("/nonexistent")).hosted_zone_id is None
    for domain in (
        {"API_DOMAIN": "api.example.com"},
        {
            "FRONTEND_DOMAIN": "pay.example.com",
            "FRONTEND_CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/x",
        },
    ):
        config = StackConfig.from_env({**domain, "HOSTED_ZONE_ID": "Z1D633PJN98FT9"}, region_file=Path("/nonexistent"))
        assert config.hosted_zone_id == "Z1D633PJN98FT9"


# ------------------------------------------------------------------ DEPLOYER_PRINCIPAL_ARNS (issue 25)
SSO_SET = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PaymentDeployer_*"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("arn:aws:iam::123456789012:role/ci/payment-deploy", ("arn:aws:iam::123456789012:role/ci/payment-deploy",)),
        (
            f" arn:aws:iam::123456789012:role/deploy , {SSO_SET}",
            ("arn:aws:iam::123456789012:role/deploy", SSO_SET),
        ),
        (
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*",
            ("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*",),
        ),
        (
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_*",
            ("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_*",),
        ),
    ],
)
def test_deployers_are_roles_or_permission_set_patterns(value, expected):
    config = StackConfig.from_env({"DEPLOYER_PRINCIPAL_ARNS": value}, region_file=Path("/nonexistent"))
    assert config.deployers == expected


@pytest.mark.parametrize(
    "value, says",
    [
        ("arn:aws:sts::123456789012:assumed-role/deploy/me", "aws iam get-role --role-name deploy --query Role.Arn"),
        ("arn:aws:iam::123456789012:user/alice", "is an IAM user"),
        ("arn:aws:iam::123456789012:root", "is the account root"),
        ("arn:aws:iam::123456789012:role/*", "has a wildcard"),
        ("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_*", "has a wildcard"),
        ("arn:aws:iam::*:role/deploy", "has a wildcard"),
        ("*", "has a wildcard"),
        ("deploy", "is not an IAM role ARN"),
        ("arn:aws:iam::123456789012:role/a,,arn:aws:iam::123456789012:role/b", "it has an empty entry"),
        ("arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/a", "it lists an entry twice"),
        ("arn:aws:iam::123456789012:role/a,arn:aws:iam::210987654321:role/b", "name 2 accounts"),
    ],
)
def test_a_bad_deployer_is_named_with_what_is_allowed_and_the_fix(value, says):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_env({"DEPLOYER_PRINCIPAL_ARNS": value}, region_file=Path("/nonexistent"))
    message = str(caught.value)
    assert message.startswith(f"DEPLOYER_PRINCIPAL_ARNS={value!r} is invalid") and says in message
    assert "List the roles that deploy" in message
    if "empty" not in says and "twice" not in says and "accounts" not in says:
        assert "allowed: an IAM role ARN with its path" in message


def test_deployers_name_the_account_the_certificate_names():
    environ = {**PRODUCTION_ENV, "DEPLOYER_PRINCIPAL_ARNS": "arn:aws:iam::210987654321:role/deploy"}
    with pytest.raises(ConfigError, match="FRONTEND_CERTIFICATE_ARN names the stack's account 123456789012"):
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))


def test_production_requires_named_deployers():
    environ = {key: value for key, value in PRODUCTION_ENV.items() if key != "DEPLOYER_PRINCIPAL_ARNS"}
    with pytest.raises(ConfigError, match="DEPLOYER_PRINCIPAL_ARNS: no deployer is named") as caught:
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))
    assert "list the roles that deploy" in str(caught.value)


# make destroy's mode (tools/deploy/destroy.py): DESTROY=1 and its option SKIP_FINAL_SNAPSHOT=1.
def test_destroy_mode_stamps_the_synth_and_lifts_protection_only_there():
    ordinary = StackConfig.from_env(dict(PRODUCTION_ENV), region_file=Path("/nonexistent"))
    assert not ordinary.destroy_mode and ordinary.protected_from_deletion
    destroying = StackConfig.from_env({**PRODUCTION_ENV, "DESTROY": "1"}, region_file=Path("/nonexistent"))
    assert destroying.destroy_mode and not destroying.protected_from_deletion
    assert destroying.deletion_protection  # the setting stays; only destroy mode's synth turns protection off
    assert re.fullmatch(r"[0-9]{14}", destroying.destroy_stamp or "")


def test_skipping_the_final_snapshot_is_refused_in_production():
    with pytest.raises(ConfigError, match=r"SKIP_FINAL_SNAPSHOT='1' is invalid: a production stack is always"):
        StackConfig.from_env(
            {**PRODUCTION_ENV, "DESTROY": "1", "SKIP_FINAL_SNAPSHOT": "1"}, region_file=Path("/nonexistent")
        )


def test_skipping_the_final_snapshot_outside_destroy_mode_is_refused():
    with pytest.raises(ConfigError, match=r"SKIP_FINAL_SNAPSHOT='1' is invalid: it is read only by `make destroy`"):
        StackConfig.from_env({"SKIP_FINAL_SNAPSHOT": "1"}, region_file=Path("/nonexistent"))
    development = StackConfig.from_env({"DESTROY": "1", "SKIP_FINAL_SNAPSHOT": "1"}, region_file=Path("/nonexistent"))
    assert development.skip_final_snapshot and development.destroy_mode


def test_a_malformed_destroy_stamp_is_refused():
    with pytest.raises(ConfigError, match="YYYYMMDDHHMMSS"):
        StackConfig(destroy_stamp="2026-01-01")


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_production_requires_the_state_s_own_key_and_a_bucketed_development_stack_warns():
    production = {key: value for key, value in PRODUCTION_ENV.items() if key != "TERRAFORM_STATE_KMS_KEY_ARN"}
    with pytest.raises(ConfigError, match=r"TERRAFORM_STATE_KMS_KEY_ARN: the state .* bucket's default key"):
        StackConfig.from_env(production, region_file=Path("/nonexistent"))
    bucketed = StackConfig.from_env(
        {"TERRAFORM_STATE_BUCKET": "acme-tf-state", "ENVIRONMENT_TYPE": "development"}, region_file=Path("/nonexistent")
    ).warnings
    assert [w for w in bucketed if "(TERRAFORM_STATE_KMS_KEY_ARN)" in w]
    local = StackConfig.from_env({}, region_file=Path("/nonexistent")).warnings
    assert not [w for w in local if "TERRAFORM_STATE_KMS_KEY_ARN" in w]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_production_stripe_without_egress_to_stripe_is_refused():
    """Stripe is reached through the processor egress rule only: production without its CIDRs could never charge."""
    production = {key: value for key, value in PRODUCTION_ENV.items() if key != "PAYMENT_PROCESSOR_EGRESS_CIDRS"}
    with pytest.raises(
        ConfigError, match=r"PAYMENT_PROCESSOR_EGRESS_CIDRS: with the Stripe processor .*Egress to Stripe"
    ):
        StackConfig.from_env(production, region_file=Path("/nonexistent"))
    development = {"PAYMENT_PROCESSOR": "stripe", "STRIPE_SECRET_KEY_ARN": PRODUCTION_ENV["STRIPE_SECRET_KEY_ARN"]}
    development["STRIPE_PUBLISHABLE_KEY"] = PRODUCTION_ENV["STRIPE_PUBLISHABLE_KEY"]
    warnings = StackConfig.from_env(development, region_file=Path("/nonexistent")).warnings
    assert [w for w in warnings if "(PAYMENT_PROCESSOR_EGRESS_CIDRS)" in w]
