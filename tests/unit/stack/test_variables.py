"""The Terraform variables' validation blocks (docs/requirements.md#terraform-variables-and-outputs), evaluated
by the real Terraform.

Only the ``variable`` blocks of the synthesized stack are copied into a scratch configuration, so a
``terraform plan`` evaluates every validation rule without a provider or an AWS account.
"""

import json
import subprocess
from pathlib import Path

import pytest

from lib.tunables import TERRAFORM_TUNABLES
from tools.deploy.tfcli import terraform_env

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "environments" / "example.tfvars"


def _variables_only(folder: Path, stack: dict) -> Path:
    (folder / "main.tf.json").write_text(json.dumps({"variable": stack["variable"]}))
    subprocess.run(
        ["terraform", "init", "-input=false", "-no-color"],
        cwd=folder,
        env=terraform_env(),
        check=True,
        capture_output=True,
    )
    return folder


@pytest.fixture(scope="module")
def variables_dir(tmp_path_factory):
    """The variables of the committed example environment (environments/example.env: a production stack in
    eu-west-1, whose ALB certificate in environments/example.tfvars is in that region)."""
    from tests.conftest import synth_stack  # pylint: disable=import-outside-toplevel
    from tools.deploy.environment import ENVIRONMENTS, load  # pylint: disable=import-outside-toplevel

    environment = load("example", {}, ENVIRONMENTS)
    stack = synth_stack(tmp_path_factory.mktemp("example-synth"), environment.process_env)
    return _variables_only(tmp_path_factory.mktemp("variables"), stack)


@pytest.fixture(scope="module")
def dev_variables_dir(tmp_path_factory):
    """A development stack's variables, in the example's region (certificates are pinned to the stack's region)."""
    from tests.conftest import DEVELOPMENT_ENV, synth_stack  # pylint: disable=import-outside-toplevel

    stack = synth_stack(tmp_path_factory.mktemp("dev-synth"), {**DEVELOPMENT_ENV, "AWS_REGION": "eu-west-1"})
    return _variables_only(tmp_path_factory.mktemp("dev-variables"), stack)


def _plan(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["terraform", "plan", "-input=false", "-no-color", "-lock=false", *args],
        cwd=folder,
        env=terraform_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_example_tfvars_plans_cleanly(variables_dir):
    result = _plan(variables_dir, f"-var-file={EXAMPLE}")
    assert result.returncode == 0, result.stderr
    assert "No changes" in result.stdout


def test_plan_without_certificate_fails_clearly(variables_dir):
    result = _plan(variables_dir)
    assert result.returncode == 1
    assert "No value for required variable" in result.stderr and "certificate_arn" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "certificate_arn=arn:aws:iam::123456789012:server-certificate/x",
            "certificate_arn must be an ACM certificate",
        ),
        ("asg_min_size=7", "asg_max_size must be >= asg_min_size"),
        ("asg_desired_capacity=9", "asg_desired_capacity must lie between"),
        ("db_backup_retention_days=1", "db_backup_retention_days must be a whole number from 7 to 35"),
        ("log_retention_days=100", "log_retention_days must be one of the values CloudWatch accepts"),
        ("db_instance_class=t3.medium", "db_instance_class must look like an RDS class"),
        ("alarm_email=oncall", "alarm_email must be the on-call e-mail address in a production stack"),
        ("alarm_email=", "alarm_email must be the on-call e-mail address in a production stack"),
        ("log_retention_days=30", "log_retention_days must be at least 365 in a production stack"),
        ("alb_5xx_rate_threshold=0", "alb_5xx_rate_threshold must be a whole number from 1 to 100"),
        ("instance_type=zz99.huge", "instance_type must be an x86_64 EC2 instance type"),
        ("instance_type=t4g.medium", "arm64 types (t4g, m7g, ...) do not run the stack's x86_64 AMI"),
        ("instance_type=t3.medum", "instance_type must be an x86_64 EC2 instance type"),
        ("db_instance_class=db.fake.huge", "db_instance_class must be an RDS for PostgreSQL class"),
        ("db_instance_class=db.t3.nonsense", "db_instance_class must be an RDS for PostgreSQL class"),
        ("db_instance_class=db.t3.micro", "db_instance_class must support Performance Insights"),
        ("db_max_allocated_storage=50", "db_max_allocated_storage must be 0 (no storage autoscaling) or at least 10 %"),
        (
            "certificate_arn=arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "certificate_arn must be an ACM certificate ARN in the stack's region eu-west-1",
        ),
    ],
)
def test_invalid_values_fail_plan_with_their_message(variables_dir, override, message):
    result = _plan(variables_dir, f"-var-file={EXAMPLE}", "-var", override)
    assert result.returncode == 1
    assert message in " ".join(result.stderr.split())


def test_development_relaxes_only_what_development_allows(dev_variables_dir):
    relaxed = _plan(dev_variables_dir, f"-var-file={EXAMPLE}", "-var", "alarm_email=", "-var", "log_retention_days=30")
    assert relaxed.returncode == 0, relaxed.stderr
    typo = _plan(dev_variables_dir, f"-var-file={EXAMPLE}", "-var", "instance_type=t3.medum")
    assert typo.returncode == 1 and "instance_type must be an x86_64 EC2 instance type" in typo.stderr


def test_storage_autoscaling_can_be_switched_off(variables_dir):
    result = _plan(variables_dir, f"-var-file={EXAMPLE}", "-var", "db_max_allocated_storage=0")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("tunable", [t for t in TERRAFORM_TUNABLES if t.low is not None], ids=lambda t: t.terraform)
@pytest.mark.parametrize("side", ["below", "above", "fraction"])
def test_registry_range_is_enforced_at_plan(variables_dir, tunable, side):
    value = {"below": tunable.low - 1, "above": tunable.high + 1, "fraction": tunable.high - 0.5}[side]
    result = _plan(variables_dir, f"-var-file={EXAMPLE}", "-var", f"{tunable.terraform}={value}")
    assert result.returncode == 1
    assert f"{tunable.terraform} must be a whole number from {tunable.low} to {tunable.high}." in " ".join(
        result.stderr.split()
    )
