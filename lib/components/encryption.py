"""Customer-managed KMS keys (PCI DSS 3.5/3.6: keys under our control, rotated yearly).

Every key policy names its principals: the account root (so IAM policies can delegate use and the key
can never become unmanageable) and, where a service encrypts on our behalf, that service principal
restricted by a condition to this account's resources. There is never a bare ``"AWS": "*"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from lib.naming import Naming

KEY_DELETION_WINDOW_DAYS = 30


def key_policy(account_id: str, service_statements: Iterable[Mapping[str, Any]] = ()) -> str:
    """Key policy: the account administers the key; listed services may use it under their conditions."""
    statements: list[Mapping[str, Any]] = [{
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }]
    statements.extend(service_statements)
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def customer_managed_key(
    scope: Construct,
    construct_id: str,
    *,
    naming: Naming,
    purpose: str,
    description: str,
    account_id: str,
    service_statements: Iterable[Mapping[str, Any]] = (),
) -> KmsKey:
    """A rotating symmetric key with an alias ``alias/<project>-<purpose>-<suffix>``."""
    key = KmsKey(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        policy=key_policy(account_id, service_statements),
        tags=naming.tags(f"{purpose}-key"),
    )
    KmsAlias(scope, f"{construct_id}_alias", name=f"alias/{naming.name(purpose)}", target_key_id=key.key_id)
    return key


class EncryptionKeys(Construct):
    """The stack's shared keys: one for logs and alarm notifications, one for data at rest."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        account_id: str,
        region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._logs_key = customer_managed_key(
            self,
            "logs_key",
            naming=naming,
            purpose="logs",
            description="CloudWatch Logs (VPC flow logs, WAF logs) and the SNS alarm topic",
            account_id=account_id,
            service_statements=[
                {
                    "Sid": "CloudWatchLogsInThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                               "kms:Describe*"],
                    "Resource": "*",
                    "Condition": {"ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*",
                    }},
                },
                {
                    "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
            ],
        )
        self._data_key = customer_managed_key(
            self,
            "data_key",
            naming=naming,
            purpose="data",
            description="RDS storage, Performance Insights, the master user secret and SSM parameters",
            account_id=account_id,
        )

    @property
    def logs_key_arn(self) -> str:
        return self._logs_key.arn

    @property
    def data_key_arn(self) -> str:
        return self._data_key.arn

    @property
    def data_key_id(self) -> str:
        return self._data_key.key_id
