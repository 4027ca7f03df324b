"""A CloudWatch log group that is always encrypted and always expires (PCI DSS 10.5.1, 3.5).

Why a block: a log group that a service creates on first write has no retention and no key, so every log
destination of the stack is declared here first, with both set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class LogGroupProps:
    """Name, retention and key of one log group; none has a default, so none can be forgotten."""

    name: str
    """The log group name some services prescribe (WAF: ``aws-waf-logs-*``; RDS: ``/aws/rds/instance/...``)."""
    retention_days: float
    """Days kept (the ``log_retention_days`` variable; PCI DSS 10.5.1 asks for 365 in production)."""
    kms_key_arn: str
    """The logs key (PCI DSS 3.5: log lines can carry request metadata)."""
    tags: Mapping[str, str]
    """Per-resource tags, from ``Naming.tags``."""
    provider: TerraformProvider | None = None
    """The provider (region) of the log group: the us-east-1 alias for CloudFront-scope WAF logs.

    @default None - the stack's provider, in the stack's region."""


def encrypted_log_group(scope: Construct, construct_id: str, *, props: LogGroupProps) -> CloudwatchLogGroup:
    """The log group, encrypted with ``props.kms_key_arn`` and kept ``props.retention_days``."""
    return CloudwatchLogGroup(
        scope,
        construct_id,
        name=props.name,
        retention_in_days=props.retention_days,
        kms_key_id=props.kms_key_arn,
        tags=dict(props.tags),
        provider=props.provider,
    )
