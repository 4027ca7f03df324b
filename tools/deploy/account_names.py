"""The one table of named resource types the account preflight looks up: type -> lookup call -> import id.

A resource whose name is literal in the synthesized stack fails at apply when that name already exists in the
account (or, for S3, anywhere) and this stack's state does not hold it. Each :class:`NameLookup` says which
attributes hold the name (the same keys in the synthesized body and in the state's attributes), which read-only
call finds an existing one, and what ``terraform import`` takes as that type's id (the provider documentation's
"Import" section for the type), and whether the name is account-wide (IAM, S3 and CloudFront names, and whatever
the stack creates in us-east-1 for CloudFront, are shared by the stacks of one suffix in every region: a suffix must
be unique per account across regions). A ``find`` function returns the import id when the name exists, ``None`` when it
does not, and lets any other error through for the caller to report.

Types left out, with the reason: security groups (names are unique per VPC, and the stack creates its own VPC);
managed IAM policies (the stack has none: its roles carry inline policies, which are in the table);
the Auto Scaling policy and IAM role policy attachment (they live inside a group or role of the table, so that
group's or role's lookup already reports the collision); log metric filters (named within their log group, which
is looked up); AWS Backup plans and selections (a plan is known by the ID AWS gives it, and a selection lives inside
its plan); CloudFront distributions, KMS keys, EIPs and everything else AWS names itself (no name to collide).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

Key = tuple[str, ...]
Body = Mapping[str, Any]
Account = Callable[[], str]
Find = Callable[[Any, Key, Body, Account], "str | None"]
"""(client, the name's key values, the resource body, the account id) -> import id, or None when absent."""


class HeldElsewhere(Exception):
    """The name exists but this account cannot import it (an S3 bucket name owned by another account)."""


@dataclass(frozen=True, kw_only=True)
class NameLookup:
    """How one resource type's name is looked up in the account."""

    rtype: str
    service: str
    """boto3 service name of the lookup."""
    call: str
    """The API call, as IAM spells its action (``s3:HeadBucket`` is allowed by ``s3:ListBucket``)."""
    keys: tuple[str, ...]
    """The attributes holding the name, in the synthesized body and in the state."""
    find: Find
    import_id: str
    """The form ``terraform import`` takes, for the docs and the failure message."""
    why: str = ""
    """Why the lookup or the id is what it is, where that is not obvious."""
    account_wide: bool = False
    """The name is unique across the account's regions (IAM, S3, CloudFront): a stack with the same suffix in
    another region creates it too. Whatever the type, a name the stack creates through the us-east-1 alias (the
    CloudFront firewall's) is shared with every region's stack of that suffix."""
    otherwise: str = ""
    """The alternative to importing, when it is not another ENVIRONMENT_SUFFIX (a name without the suffix).

    @default "" - pick another ENVIRONMENT_SUFFIX."""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _get(call: Callable[[], Any], *absent: str) -> Any:
    """The answer of a lookup, or None when it fails with one of the ``absent`` codes (the name does not exist)."""
    try:
        return call()
    except ClientError as error:
        if _code(error) in absent:
            return None
        raise


def _listed(answer: Any, items: str, attribute: str, name: str) -> bool:
    """Whether a describe answer lists ``name``. AWS answers a missing name with an error; the emulator answers some
    (DescribeDBParameterGroups) with an empty list, so the answer's content decides, not its presence."""
    return bool(answer) and any(item.get(attribute) == name for item in answer.get(items, []))


def _bucket(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    try:
        client.head_bucket(Bucket=key[0])
    except ClientError as error:
        if _code(error) in ("404", "NoSuchBucket", "NotFound"):
            return None
        if _code(error) in ("301", "PermanentRedirect"):
            raise HeldElsewhere(
                f"s3:HeadBucket {key[0]} answers 301: the bucket exists in another region, so this "
                "stack's provider cannot adopt it"
            ) from error
        if _code(error) in ("403", "AccessDenied", "Forbidden"):
            raise HeldElsewhere(
                f"s3:HeadBucket {key[0]} answers 403: the name belongs to another AWS account (bucket "
                "names are global), or this principal may not list it"
            ) from error
        raise
    # A bucket of another region answers HeadBucket too (the SDK follows the redirect): where is it?
    location = client.get_bucket_location(Bucket=key[0]).get("LocationConstraint") or "us-east-1"
    location = "eu-west-1" if location == "EU" else str(location)
    if location != client.meta.region_name:
        raise HeldElsewhere(
            f"bucket {key[0]} exists in {location}, not {client.meta.region_name}: most likely the same "
            "ENVIRONMENT_SUFFIX deployed in another region, and this stack's provider cannot adopt it"
        )
    return key[0]


def _role(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    return key[0] if _get(lambda: client.get_role(RoleName=key[0]), "NoSuchEntity") else None


def _role_policy(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(lambda: client.get_role_policy(RoleName=key[0], PolicyName=key[1]), "NoSuchEntity")
    return f"{key[0]}:{key[1]}" if found else None


def _instance_profile(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    return key[0] if _get(lambda: client.get_instance_profile(InstanceProfileName=key[0]), "NoSuchEntity") else None


def _service_linked_role(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    service, suffix = key
    roles = client.list_roles(PathPrefix=f"/aws-service-role/{service}/").get("Roles", [])
    return next((str(role["Arn"]) for role in roles if str(role["RoleName"]).endswith(f"_{suffix}")), None)


def _log_group(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    groups = client.describe_log_groups(logGroupNamePrefix=key[0]).get("logGroups", [])
    return key[0] if any(group.get("logGroupName") == key[0] for group in groups) else None


def _log_resource_policy(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    policies = client.describe_resource_policies().get("resourcePolicies", [])
    return key[0] if any(policy.get("policyName") == key[0] for policy in policies) else None


def _kms_alias(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    return key[0] if _get(lambda: client.describe_key(KeyId=key[0]), "NotFoundException") else None


def _db_instance(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(
        lambda: client.describe_db_instances(DBInstanceIdentifier=key[0]),
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
    )
    return key[0] if _listed(found, "DBInstances", "DBInstanceIdentifier", key[0]) else None


def _db_subnet_group(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(lambda: client.describe_db_subnet_groups(DBSubnetGroupName=key[0]), "DBSubnetGroupNotFoundFault")
    return key[0] if _listed(found, "DBSubnetGroups", "DBSubnetGroupName", key[0]) else None


def _db_parameter_group(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(
        lambda: client.describe_db_parameter_groups(DBParameterGroupName=key[0]),
        "DBParameterGroupNotFound",
        "DBParameterGroupNotFoundFault",
    )
    return key[0] if _listed(found, "DBParameterGroups", "DBParameterGroupName", key[0]) else None


def _load_balancer(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(lambda: client.describe_load_balancers(Names=[key[0]]), "LoadBalancerNotFound")
    return str(found["LoadBalancers"][0]["LoadBalancerArn"]) if found else None


def _target_group(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(lambda: client.describe_target_groups(Names=[key[0]]), "TargetGroupNotFound")
    return str(found["TargetGroups"][0]["TargetGroupArn"]) if found else None


def _ssm_parameter(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    return key[0] if _get(lambda: client.get_parameter(Name=key[0]), "ParameterNotFound") else None


def _sns_topic(client: Any, key: Key, _body: Body, account: Account) -> str | None:
    arn = f"arn:aws:sns:{client.meta.region_name}:{account()}:{key[0]}"
    return arn if _get(lambda: client.get_topic_attributes(TopicArn=arn), "NotFound", "NotFoundException") else None


def _web_acl(client: Any, key: Key, body: Body, _account: Account) -> str | None:
    scope = str(body.get("scope", "REGIONAL"))
    request: dict[str, Any] = {"Scope": scope, "Limit": 100}
    while True:
        page = client.list_web_acls(**request)
        for acl in page.get("WebACLs", []):
            if acl.get("Name") == key[0]:
                return f"{acl['Id']}/{key[0]}/{scope}"
        if not page.get("NextMarker"):
            return None
        request["NextMarker"] = page["NextMarker"]


def _origin_access_control(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    request: dict[str, Any] = {}
    while True:
        page = client.list_origin_access_controls(**request).get("OriginAccessControlList", {})
        for item in page.get("Items", []):
            if item.get("Name") == key[0]:
                return str(item["Id"])
        if not page.get("NextMarker"):
            return None
        request["Marker"] = page["NextMarker"]


def _response_headers_policy(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    request: dict[str, Any] = {"Type": "custom"}
    while True:
        page = client.list_response_headers_policies(**request).get("ResponseHeadersPolicyList", {})
        for item in page.get("Items", []):
            policy = item.get("ResponseHeadersPolicy", {})
            if policy.get("ResponseHeadersPolicyConfig", {}).get("Name") == key[0]:
                return str(policy["Id"])
        if not page.get("NextMarker"):
            return None
        request["Marker"] = page["NextMarker"]


def _launch_template(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(
        lambda: client.describe_launch_templates(LaunchTemplateNames=[key[0]]),
        "InvalidLaunchTemplateName.NotFoundException",
    )
    return str(found["LaunchTemplates"][0]["LaunchTemplateId"]) if found else None


def _ssm_document(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    return key[0] if _get(lambda: client.describe_document(Name=key[0]), "InvalidDocument") else None


def _autoscaling_group(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[key[0]]).get("AutoScalingGroups", [])
    return key[0] if groups else None


def _delivery_stream(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(lambda: client.describe_delivery_stream(DeliveryStreamName=key[0]), "ResourceNotFoundException")
    return str(found["DeliveryStreamDescription"]["DeliveryStreamARN"]) if found else None


def _lambda_function(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    return key[0] if _get(lambda: client.get_function(FunctionName=key[0]), "ResourceNotFoundException") else None


def _event_rule(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    return key[0] if _get(lambda: client.describe_rule(Name=key[0]), "ResourceNotFoundException") else None


def _backup_vault(client: Any, key: Key, _body: Body, _account: Account) -> str | None:
    found = _get(lambda: client.describe_backup_vault(BackupVaultName=key[0]), "ResourceNotFoundException")
    return key[0] if found else None


NAME_LOOKUPS: tuple[NameLookup, ...] = (
    NameLookup(
        rtype="aws_s3_bucket",
        account_wide=True,
        service="s3",
        call="s3:HeadBucket",
        keys=("bucket",),
        find=_bucket,
        import_id="bucket name",
        why="bucket names are global: a 403 is a name another account holds, which cannot be imported",
    ),
    NameLookup(
        rtype="aws_iam_role",
        account_wide=True,
        service="iam",
        call="iam:GetRole",
        keys=("name",),
        find=_role,
        import_id="role name",
    ),
    NameLookup(
        rtype="aws_iam_role_policy",
        account_wide=True,
        service="iam",
        call="iam:GetRolePolicy",
        keys=("role", "name"),
        find=_role_policy,
        import_id="role_name:policy_name",
        why="an inline policy is named within its role",
    ),
    NameLookup(
        rtype="aws_iam_instance_profile",
        account_wide=True,
        service="iam",
        call="iam:GetInstanceProfile",
        keys=("name",),
        find=_instance_profile,
        import_id="instance profile name",
    ),
    NameLookup(
        rtype="aws_iam_service_linked_role",
        account_wide=True,
        service="iam",
        call="iam:ListRoles",
        keys=("aws_service_name", "custom_suffix"),
        find=_service_linked_role,
        import_id="role ARN",
        why="the role's name (AWSServiceRoleFor<Service>_<suffix>) is AWS's: found by the service's path and "
        "the custom suffix",
    ),
    NameLookup(
        rtype="aws_cloudwatch_log_group",
        service="logs",
        call="logs:DescribeLogGroups",
        keys=("name",),
        find=_log_group,
        import_id="log group name",
        why="no get-by-name call: a prefix search, exact match",
    ),
    NameLookup(
        rtype="aws_cloudwatch_log_resource_policy",
        service="logs",
        call="logs:DescribeResourcePolicies",
        keys=("policy_name",),
        find=_log_resource_policy,
        import_id="policy name",
        why="no get-by-name call (at most 10 a region); PutResourcePolicy would silently overwrite another's",
    ),
    NameLookup(
        rtype="aws_kms_alias",
        service="kms",
        call="kms:DescribeKey",
        keys=("name",),
        find=_kms_alias,
        import_id="alias name (alias/...)",
    ),
    NameLookup(
        rtype="aws_db_instance",
        service="rds",
        call="rds:DescribeDBInstances",
        keys=("identifier",),
        find=_db_instance,
        import_id="DB instance identifier",
    ),
    NameLookup(
        rtype="aws_db_subnet_group",
        service="rds",
        call="rds:DescribeDBSubnetGroups",
        keys=("name",),
        find=_db_subnet_group,
        import_id="subnet group name",
    ),
    NameLookup(
        rtype="aws_db_parameter_group",
        service="rds",
        call="rds:DescribeDBParameterGroups",
        keys=("name",),
        find=_db_parameter_group,
        import_id="parameter group name",
    ),
    NameLookup(
        rtype="aws_alb",
        service="elbv2",
        call="elasticloadbalancing:DescribeLoadBalancers",
        keys=("name",),
        find=_load_balancer,
        import_id="load balancer ARN",
    ),
    NameLookup(
        rtype="aws_alb_target_group",
        service="elbv2",
        call="elasticloadbalancing:DescribeTargetGroups",
        keys=("name",),
        find=_target_group,
        import_id="target group ARN",
    ),
    NameLookup(
        rtype="aws_ssm_parameter",
        service="ssm",
        call="ssm:GetParameter",
        keys=("name",),
        find=_ssm_parameter,
        import_id="parameter name",
        why="read without decryption: only whether it exists matters",
    ),
    NameLookup(
        rtype="aws_ssm_document",
        service="ssm",
        call="ssm:DescribeDocument",
        keys=("name",),
        find=_ssm_document,
        import_id="document name",
        why="SSM-SessionManagerRunShell, the Session Manager preferences, is one per account and region and carries "
        "no suffix: another stack, or the console's Session Manager preferences page, may have created it",
        otherwise="otherwise, when another stack of this account and region owns the Session Manager preferences (or "
        "the account's own settings must stay), set MANAGE_SESSION_PREFERENCES=false: this stack then creates none and "
        "its sessions follow the existing preferences (importing replaces them with this stack's on the next apply)",
    ),
    NameLookup(
        rtype="aws_sns_topic",
        service="sns",
        call="sns:GetTopicAttributes",
        keys=("name",),
        find=_sns_topic,
        import_id="topic ARN",
        why="no get-by-name call: the ARN is built from the region and the account",
    ),
    NameLookup(
        rtype="aws_wafv2_web_acl",
        service="wafv2",
        call="wafv2:ListWebACLs",
        keys=("name",),
        find=_web_acl,
        import_id="ID/NAME/SCOPE",
        why="no get-by-name call; the scope (REGIONAL or CLOUDFRONT) is the body's",
    ),
    NameLookup(
        rtype="aws_cloudfront_origin_access_control",
        account_wide=True,
        service="cloudfront",
        call="cloudfront:ListOriginAccessControls",
        keys=("name",),
        find=_origin_access_control,
        import_id="origin access control ID",
        why="names are unique per account; no get-by-name call",
    ),
    NameLookup(
        rtype="aws_cloudfront_response_headers_policy",
        account_wide=True,
        service="cloudfront",
        call="cloudfront:ListResponseHeadersPolicies",
        keys=("name",),
        find=_response_headers_policy,
        import_id="policy ID",
        why="names are unique per account; no get-by-name call (custom policies only)",
    ),
    NameLookup(
        rtype="aws_launch_template",
        service="ec2",
        call="ec2:DescribeLaunchTemplates",
        keys=("name",),
        find=_launch_template,
        import_id="launch template ID",
    ),
    NameLookup(
        rtype="aws_autoscaling_group",
        service="autoscaling",
        call="autoscaling:DescribeAutoScalingGroups",
        keys=("name",),
        find=_autoscaling_group,
        import_id="group name",
    ),
    NameLookup(
        rtype="aws_kinesis_firehose_delivery_stream",
        service="firehose",
        call="firehose:DescribeDeliveryStream",
        keys=("name",),
        find=_delivery_stream,
        import_id="delivery stream ARN",
        why="the CloudFront web ACL's log stream is created in us-east-1: every region's stack of a suffix shares it",
    ),
    NameLookup(
        rtype="aws_lambda_function",
        service="lambda",
        call="lambda:GetFunction",
        keys=("function_name",),
        find=_lambda_function,
        import_id="function name",
    ),
    NameLookup(
        rtype="aws_cloudwatch_event_rule",
        service="events",
        call="events:DescribeRule",
        keys=("name",),
        find=_event_rule,
        import_id="rule name (the default event bus)",
    ),
    NameLookup(
        rtype="aws_backup_vault",
        service="backup",
        call="backup:DescribeBackupVault",
        keys=("name",),
        find=_backup_vault,
        import_id="vault name",
    ),
)
