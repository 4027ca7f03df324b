"""What the stack's Secrets Manager secrets share: the recovery window Secrets Manager accepts, and the secret itself
(encrypted with the stack's key, its rotation explained where checkov's rotation-Lambda rule is set aside)."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from lib.naming import Naming
from lib.suppressions import suppress

RECOVERY_WINDOW_DAYS = (0, *range(7, 31))
"""Secrets Manager takes 0 (delete at once) or 7 to 30 days."""


def check_recovery_window(days: int) -> None:
    """Raise ``ValueError`` naming ``days`` and what Secrets Manager takes, unless it is one of those."""
    if days not in RECOVERY_WINDOW_DAYS:
        raise ValueError(
            f"recovery_window_days={days!r} is invalid: Secrets Manager takes 0 (delete at once) or 7 to 30 days. "
            "Pass one of those."
        )


def stack_secret(
    scope: Construct,
    *,
    naming: Naming,
    component: str,
    description: str,
    key_arn: str,
    recovery_window_days: int,
    rotation: str,
) -> SecretsmanagerSecret:
    """The secret ``<project>-<component>-<suffix>`` (construct id ``secret``), encrypted with ``key_arn`` (PCI DSS
    3.5); ``rotation`` says how it is rotated instead of by a rotation Lambda (checkov CKV2_AWS_57's reason)."""
    check_recovery_window(recovery_window_days)
    secret = SecretsmanagerSecret(
        scope,
        "secret",
        name=naming.name(component),
        description=description,
        kms_key_id=key_arn,
        recovery_window_in_days=recovery_window_days,
        tags=naming.tags(component),
    )
    suppress(secret, "CKV2_AWS_57", rotation)
    return secret
