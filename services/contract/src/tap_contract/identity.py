"""The stack's identity and the names of its outputs: what every deployment, tool and consumer finds it by.

``TapStack<suffix>`` is the CDKTF stack id, its folder under ``cdktf.out/stacks/``, its Terraform state key
(``<suffix>/TapStack<suffix>.tfstate`` in the S3 backend, ``terraform.TapStack<suffix>.tfstate`` in the local one)
and its key in ``cfn-outputs/flat-outputs.json``. None of them may change: a renamed stack is a new, empty state next
to the deployed one, and every reader of the outputs file would miss it.

The output names are what ``lib/tap_stack.py`` exports (``terraform output``) and what the tools and the tests read
from the outputs file (``tools/deploy/verify.py``, the sandbox, the integration tests): both name them through
:class:`Output`, so a renamed or removed output is one edit here and a failing test, not a consumer that finds nothing.
"""

from __future__ import annotations

STACK_PREFIX = "TapStack"
OUTPUTS_FILE = "cfn-outputs/flat-outputs.json"
"""The outputs file, relative to the project root: ``{"TapStack<suffix>": {output: value}}``."""


def stack_name(suffix: str) -> str:
    """``TapStack<suffix>``: the stack id, its synth folder's name, its state's name and its outputs key."""
    return f"{STACK_PREFIX}{suffix}"


def state_key(suffix: str) -> str:
    """The S3 backend's state object key: ``<suffix>/TapStack<suffix>.tfstate``."""
    return f"{suffix}/{stack_name(suffix)}.tfstate"


def local_state_file_name(name: str) -> str:
    """The local backend's state file of stack ``name`` (cdktf's own naming): ``terraform.<name>.tfstate``."""
    return f"terraform.{name}.tfstate"


def outputs_key(suffix: str) -> str:
    """The stack's key in :data:`OUTPUTS_FILE`: its name."""
    return stack_name(suffix)


class Output:
    """Every output of the stack, by name. ``DNS`` ones exist only with ``HOSTED_ZONE_ID`` (the records written)."""

    VPC_ID = "vpc_id"
    PUBLIC_SUBNET_IDS = "public_subnet_ids"
    APP_SUBNET_IDS = "app_subnet_ids"
    DATA_SUBNET_IDS = "data_subnet_ids"
    NAT_GATEWAY_IDS = "nat_gateway_ids"
    FLOW_LOG_GROUP_NAME = "flow_log_group_name"
    FLOW_LOG_ID = "flow_log_id"
    ALB_SECURITY_GROUP_ID = "alb_security_group_id"
    APP_SECURITY_GROUP_ID = "app_security_group_id"
    DB_SECURITY_GROUP_ID = "db_security_group_id"
    ENDPOINTS_SECURITY_GROUP_ID = "endpoints_security_group_id"
    INTERFACE_ENDPOINT_IDS = "interface_endpoint_ids"
    ALB_ARN = "alb_arn"
    ALB_DNS_NAME = "alb_dns_name"
    HTTPS_LISTENER_ARN = "https_listener_arn"
    TARGET_GROUP_ARN = "target_group_arn"
    ASG_NAME = "asg_name"
    LAUNCH_TEMPLATE_ID = "launch_template_id"
    WAF_WEB_ACL_ARN = "waf_web_acl_arn"
    WAF_LOG_GROUP_NAME = "waf_log_group_name"
    CLOUDFRONT_WEB_ACL_ARN = "cloudfront_web_acl_arn"
    CLOUDFRONT_WAF_LOG_GROUP_NAME = "cloudfront_waf_log_group_name"
    RDS_ENDPOINT = "rds_endpoint"
    RDS_IDENTIFIER = "rds_identifier"
    DB_MASTER_SECRET_ARN = "db_master_secret_arn"
    IDEMPOTENCY_SECRET_ARN = "idempotency_secret_arn"
    OPERATOR_ROLE_ARN = "operator_role_arn"
    DB_CONNECTION_PARAMETER_NAME = "db_connection_parameter_name"
    DB_CONNECTION_PARAMETER = "db_connection_parameter"
    """The original task's clients read this key; the same value as :attr:`DB_CONNECTION_PARAMETER_NAME`."""
    FRONTEND_BUCKET_NAME = "frontend_bucket_name"
    CLOUDFRONT_DISTRIBUTION_ID = "cloudfront_distribution_id"
    CLOUDFRONT_DOMAIN_NAME = "cloudfront_domain_name"
    LOG_BUCKET_NAME = "log_bucket_name"
    S3_ACCESS_LOG_BUCKET_NAME = "s3_access_log_bucket_name"
    ARTIFACTS_BUCKET_NAME = "artifacts_bucket_name"
    API_ARTIFACT_KEY = "api_artifact_key"
    API_ARTIFACT_SHA256 = "api_artifact_sha256"
    API_RUNTIME_PARAMETER_NAME = "api_runtime_parameter_name"
    API_LOG_GROUP_NAME = "api_log_group_name"
    SNS_TOPIC_ARN = "sns_topic_arn"
    ALARM_NAMES = "alarm_names"
    LOGS_KMS_KEY_ARN = "logs_kms_key_arn"
    DATA_KMS_KEY_ARN = "data_kms_key_arn"
    API_DNS_RECORD_NAME = "api_dns_record_name"
    FRONTEND_DNS_RECORD_NAME = "frontend_dns_record_name"

    DNS = (API_DNS_RECORD_NAME, FRONTEND_DNS_RECORD_NAME)
    """The outputs written only with ``HOSTED_ZONE_ID``."""


OUTPUTS: tuple[str, ...] = tuple(
    value for name, value in vars(Output).items() if name.isupper() and isinstance(value, str)
)
"""Every output name, in declaration order."""
ALWAYS: tuple[str, ...] = tuple(name for name in OUTPUTS if name not in Output.DNS)
"""The outputs every deployment of the stack has."""
