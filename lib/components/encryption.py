"""The stack's shared customer-managed KMS keys (PCI DSS 3.5/3.6: keys under our control, rotated yearly).

One key for logs and alarm notifications, one for data at rest. Each key policy names its principals: the
account root and, where a service encrypts on our behalf, that service restricted by a condition to this
account's resources (``lib/blocks/iam.py``). There is never a bare ``"AWS": "*"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from lib.blocks.iam import alarms_topic_key_use, logs_service_key_use
from lib.blocks.kms import KeyProps, customer_managed_key
from lib.naming import Naming


@dataclass(frozen=True, kw_only=True)
class EncryptionKeysProps:
    """Where the keys live."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """The account that administers the keys and whose log groups and alarms may use the logs key."""
    region: str
    """The region whose CloudWatch Logs service may use the logs key."""


class EncryptionKeys(Construct):
    """``logs_key`` (CloudWatch Logs, the alarm topic) and ``data_key`` (RDS, its secret, SSM parameters)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: EncryptionKeysProps) -> None:
        super().__init__(scope, construct_id)
        self._logs_key = customer_managed_key(self, "logs_key", props=KeyProps(
            naming=props.naming, purpose="logs", account_id=props.account_id,
            description="CloudWatch Logs (VPC flow logs, WAF logs) and the SNS alarm topic",
            service_statements=(logs_service_key_use(props.region, props.account_id),
                                alarms_topic_key_use(props.account_id)),
        ))
        self._data_key = customer_managed_key(self, "data_key", props=KeyProps(
            naming=props.naming, purpose="data", account_id=props.account_id,
            description="RDS storage, Performance Insights, the master user secret and SSM parameters",
        ))

    @property
    def logs_key_arn(self) -> str:
        return self._logs_key.arn

    @property
    def data_key_arn(self) -> str:
        return self._data_key.arn

    @property
    def data_key_id(self) -> str:
        return self._data_key.key_id
