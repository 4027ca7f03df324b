"""The stack's shared customer-managed KMS keys (PCI DSS 3.5/3.6: keys under our control, rotated yearly).

One key for logs and alarm notifications, one for data at rest, and one for logs in us-east-1 (the CloudFront web
ACL's log group, which must live there). Each key policy names its principals and
separates administration (the admin principal, default the account root) from use (the account's IAM policies);
where a service encrypts on our behalf, that service is restricted by a condition to this account's resources
(``lib/blocks/iam.py``), except EventBridge on the logs key: AWS supports no source condition in a key policy for
EventBridge delivering to an encrypted topic, so the topic's policy alone says which rules may publish
(``eventbridge_topic_key_use``). There is never a bare ``"AWS": "*"``.

The data key also encrypts the API instances' EBS volumes. The Auto Scaling group launches them through its
service-linked role, which the data key's policy must name; KMS refuses a policy naming a principal that does
not exist yet, so the role (``AWSServiceRoleForAutoScaling_<suffix>``, the stack's own) is created here, before
the key, and handed to the Auto Scaling group by ``autoscaling_role_arn``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.iam_service_linked_role import IamServiceLinkedRole
from constructs import Construct

from lib.blocks.iam import (
    alarms_topic_key_use,
    eventbridge_topic_key_use,
    logs_service_key_use,
    rds_events_topic_key_use,
    service_linked_role_key_use,
)
from lib.blocks.kms import KeyProps, customer_managed_key
from lib.naming import Naming

# CloudFront is global; its web ACL, that ACL's logging and whatever encrypts those logs live in us-east-1.
EDGE_REGION = "us-east-1"


@dataclass(frozen=True, kw_only=True)
class EncryptionKeysProps:
    """Where the keys live."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """The account that administers the keys and whose log groups and alarms may use the logs key."""
    region: str
    """The region whose CloudWatch Logs service may use the logs key."""
    edge_provider: TerraformProvider
    """The provider alias in us-east-1, where the CloudFront web ACL logs: its log group needs a key there
    (``edge_logs_key``; KMS keys are regional)."""
    admin_principal_arn: str | None = None
    """Who administers the keys (``KMS_ADMIN_PRINCIPAL_ARN``): an IAM role or user of the account, or its root.

    @default None - the account root (PCI DSS 3.6.1, 7.2.2: administration apart from use either way)."""


class EncryptionKeys(Construct):
    """``logs_key`` (CloudWatch Logs, the alarm topic) and ``data_key`` (RDS, its secret, SSM parameters)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: EncryptionKeysProps) -> None:
        super().__init__(scope, construct_id)
        naming, admin = props.naming, props.admin_principal_arn
        self._logs_key = customer_managed_key(
            self,
            "logs_key",
            props=KeyProps(
                naming=naming,
                purpose="logs",
                account_id=props.account_id,
                admin_principal_arn=admin,
                description="CloudWatch Logs (VPC flow logs, WAF logs) and the SNS alarm topic (alarms, RDS events)",
                service_statements=(
                    logs_service_key_use(props.region, props.account_id),
                    alarms_topic_key_use(props.region, props.account_id),
                    rds_events_topic_key_use(props.region, props.account_id),
                    eventbridge_topic_key_use(),
                ),
            ),
        )
        # The CloudFront web ACL logs in us-east-1, so its log group needs a logs key in that region (PCI DSS 3.5).
        self._edge_logs_key = customer_managed_key(
            self,
            "edge_logs_key",
            props=KeyProps(
                naming=naming,
                purpose="edge-logs",
                account_id=props.account_id,
                admin_principal_arn=admin,
                description="CloudWatch Logs in us-east-1: the CloudFront web ACL's request logs",
                service_statements=(logs_service_key_use(EDGE_REGION, props.account_id),),
                provider=props.edge_provider,
            ),
        )
        # The stack's own Auto Scaling service-linked role (a custom suffix): the account's default one is shared
        # with every other group, and granting it the data key would hand the key to all of them.
        self._autoscaling_role = IamServiceLinkedRole(
            self,
            "autoscaling_service_role",
            aws_service_name="autoscaling.amazonaws.com",
            custom_suffix=naming.suffix,
            description=f"Auto Scaling group {naming.name('api-asg')}: launches instances with data-key volumes",
            tags=naming.tags("autoscaling-service-role"),
        )
        self._data_key = customer_managed_key(
            self,
            "data_key",
            props=KeyProps(
                naming=naming,
                purpose="data",
                account_id=props.account_id,
                admin_principal_arn=admin,
                description="RDS storage, Performance Insights, the master user secret, SSM parameters and the API "
                "instances' EBS volumes",
                service_statements=tuple(service_linked_role_key_use("AutoScalingVolumes", self._autoscaling_role.arn)),
            ),
        )

    @property
    def logs_key_arn(self) -> str:
        return self._logs_key.arn

    @property
    def edge_logs_key_arn(self) -> str:
        """The us-east-1 logs key (CloudFront-scope WAF log group)."""
        return self._edge_logs_key.arn

    @property
    def data_key_arn(self) -> str:
        return self._data_key.arn

    @property
    def autoscaling_role_arn(self) -> str:
        """The Auto Scaling service-linked role the data key's policy admits (the ASG's ``service_linked_role_arn``)."""
        return self._autoscaling_role.arn

    @property
    def data_key_id(self) -> str:
        return self._data_key.key_id
