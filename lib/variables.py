"""Terraform input variables: the values an operator tunes per environment without touching Python.

Each variable's type, description and whole-number range come from its entry in ``lib/tunables.py``;
its default is the validated ``StackConfig`` value (the registry default unless an environment variable
changed it at synth time). Validation blocks repeat the synth-time rules for values given at plan time
(``-var``, ``*.tfvars``, ``TF_VAR_*``): the registry's range first, then the rules that are code here.
Variables are declared at stack scope with fixed logical ids so their names in ``terraform.tfvars`` are
stable and readable.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from cdktf import TerraformStack, TerraformVariable, TerraformVariableValidationConfig

from facts import (
    EC2_X86_64_TYPES,
    RDS_CLASSES_WITHOUT_PERFORMANCE_INSIGHTS,
    RDS_POSTGRES_CLASSES,
    STORAGE_CEILING_FACTOR,
)
from lib.config import PCI_MIN_LOG_RETENTION_DAYS, StackConfig
from lib.tunables import BY_TERRAFORM, PRODUCTION, TERRAFORM_TUNABLES, Tunable, TunableValues

# The ALB only uses a certificate from its own region (CertificateNotFound otherwise): the pattern pins it.
CERTIFICATE_ARN_PATTERN = r"^arn:aws[a-z-]*:acm:{region}:[0-9]{{12}}:certificate/[A-Za-z0-9-]+$"


@dataclass(frozen=True)
class StackVariables(TunableValues):
    """Every tunable as the stack uses it: a Terraform reference (a token) where the setting is a Terraform variable,
    else the validated synth-time value. ``variables.<field>`` is always the one to use, so a setting that becomes a
    Terraform variable changes no caller.

    The annotations are the settings' (``int`` for a whole number); a whole-number reference is CDKTF's number
    token, a ``float`` at run time, which every prop it reaches accepts."""

    certificate_arn: str = ""
    """The ALB certificate: a Terraform variable with no synth-time setting (``OTHER_TUNABLES``)."""


def _variable(
    stack: TerraformStack,
    name: str,
    *,
    config: StackConfig,
    description: str | None = None,
    rules: tuple[tuple[str, str], ...] = (),
) -> TerraformVariable:
    """Declare ``name`` from its registry entry: ``config``'s value as the default, its range as the first rule."""
    setting: Tunable = BY_TERRAFORM[name]
    default: Any = getattr(config, setting.field) if setting.field is not None else None
    if setting.low is not None and setting.high is not None:
        rules = (_whole_number_between(name, setting.low, setting.high), *rules)
    variable = TerraformVariable(
        stack,
        name,
        type=setting.terraform_type,
        description=description or setting.description,
        default=default,
        nullable=False,
        validation=[
            TerraformVariableValidationConfig(condition=f"${{{condition}}}", error_message=message)
            for condition, message in rules
        ],
    )
    variable.override_logical_id(name)
    return variable


def _hcl_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def _whole_number_between(name: str, low: int, high: int) -> tuple[str, str]:
    return (
        f"var.{name} >= {low} && var.{name} <= {high} && floor(var.{name}) == var.{name}",
        f"{name} must be a whole number from {low} to {high}.",
    )


def _code_rules(config: StackConfig) -> dict[str, tuple[tuple[str, str], ...]]:
    """The validation rules that are not a plain range: patterns, AWS facts, cross-variable and production rules."""
    return {**_capacity_rules(config), **_storage_and_logging_rules(config)}


def _capacity_rules(config: StackConfig) -> dict[str, tuple[tuple[str, str], ...]]:
    """The certificate's region, the instance and database classes AWS offers, and a consistent Auto Scaling size."""
    return {
        "certificate_arn": (
            (
                f'can(regex("{CERTIFICATE_ARN_PATTERN.format(region=config.aws_region)}", var.certificate_arn))',
                f"certificate_arn must be an ACM certificate ARN in the stack's region {config.aws_region} "
                f"(arn:aws:acm:{config.aws_region}:<account>:certificate/<id>); the ALB cannot use a certificate "
                "from another region. Request or import the certificate in ACM there, then pass it with "
                "-var certificate_arn=... or TF_VAR_certificate_arn.",
            ),
        ),
        "instance_type": (
            (
                'can(regex("^[a-z][a-z0-9-]*\\\\.[a-z0-9]+$", var.instance_type))',
                "instance_type must look like an EC2 instance type, e.g. t3.medium.",
            ),
            (
                f"contains({_hcl_list(tuple(sorted(EC2_X86_64_TYPES)))}, var.instance_type)",
                "instance_type must be an x86_64 EC2 instance type AWS offers, e.g. t3.medium or m7i.large; arm64 "
                "types (t4g, m7g, ...) do not run the stack's x86_64 AMI and artifact "
                "(facts/ec2_instance_types.json).",
            ),
        ),
        "asg_max_size": (("var.asg_max_size >= var.asg_min_size", "asg_max_size must be >= asg_min_size."),),
        "asg_desired_capacity": (
            (
                "var.asg_desired_capacity >= var.asg_min_size && var.asg_desired_capacity <= var.asg_max_size",
                "asg_desired_capacity must lie between asg_min_size and asg_max_size.",
            ),
        ),
        "db_instance_class": (
            (
                'can(regex("^db\\\\.[a-z][a-z0-9-]*\\\\.[a-z0-9]+$", var.db_instance_class))',
                "db_instance_class must look like an RDS class, e.g. db.t3.medium or db.r6g.large.",
            ),
            (
                f"contains({_hcl_list(tuple(sorted(RDS_POSTGRES_CLASSES)))}, var.db_instance_class)",
                "db_instance_class must be an RDS for PostgreSQL class, e.g. db.t3.medium or db.r6g.large "
                "(facts/ec2_instance_types.json).",
            ),
            (
                f"!contains({_hcl_list(RDS_CLASSES_WITHOUT_PERFORMANCE_INSIGHTS)}, var.db_instance_class)",
                "db_instance_class must support Performance Insights (medium or larger).",
            ),
        ),
    }


def _storage_and_logging_rules(config: StackConfig) -> dict[str, tuple[tuple[str, str], ...]]:
    """The storage ceiling, the log retention CloudWatch accepts and the alarm address; production guardrails."""
    retention_values = ", ".join(BY_TERRAFORM["log_retention_days"].allowed)
    # A production stack repeats its synth-time guardrails here, so a tfvars file cannot bypass them.
    production = config.environment_type == PRODUCTION
    email_regex = 'can(regex("^[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+$", var.alarm_email))'
    return {
        "db_max_allocated_storage": (
            (
                "var.db_max_allocated_storage == 0 || var.db_max_allocated_storage >= ceil(var.db_allocated_storage * "
                f"{STORAGE_CEILING_FACTOR})",
                "db_max_allocated_storage must be 0 (no storage autoscaling) or at least 10 % above "
                "db_allocated_storage: RDS refuses a smaller ceiling.",
            ),
        ),
        "log_retention_days": (
            (
                f"contains([{retention_values}], var.log_retention_days)",
                f"log_retention_days must be one of the values CloudWatch accepts: {retention_values}.",
            ),
            *(
                (
                    (
                        f"var.log_retention_days >= {PCI_MIN_LOG_RETENTION_DAYS}",
                        f"log_retention_days must be at least {PCI_MIN_LOG_RETENTION_DAYS} in a production stack "
                        "(PCI DSS 10.5.1: 12 months of audit log history).",
                    ),
                )
                if production
                else ()
            ),
        ),
        "alarm_email": (
            (
                email_regex,
                "alarm_email must be the on-call e-mail address in a production stack (alarms that "
                "notify nobody are refused).",
            )
            if production
            else (f'var.alarm_email == "" || {email_regex}', "alarm_email must be an e-mail address or empty."),
        ),
    }


def define_variables(stack: TerraformStack, config: StackConfig) -> StackVariables:
    """Declare every input variable of the registry on ``stack``; return every tunable with those references."""
    rules = _code_rules(config)
    email_description = BY_TERRAFORM["alarm_email"].description
    descriptions = {
        "alarm_email": email_description
        if config.environment_type == PRODUCTION
        else email_description.removesuffix(".") + "; empty for no subscription (development only)."
    }
    values: dict[str, Any] = {item.name: getattr(config, item.name) for item in fields(TunableValues)}
    for setting in TERRAFORM_TUNABLES:
        name = str(setting.terraform)
        variable = _variable(stack, name, config=config, description=descriptions.get(name), rules=rules.get(name, ()))
        values[setting.field or name] = (
            variable.number_value if setting.terraform_type == "number" else variable.string_value
        )
    return StackVariables(**values)
