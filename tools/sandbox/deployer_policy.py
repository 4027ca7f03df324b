"""Is the deploying identity's policy (docs/deployer-policy.json) enough? Evaluated, not read.

Every request the emulator served while the deployer worked (the sandbox's plan, apply, frontend upload, second
plan and destroy; ``request ...`` lines of the moto log, tools/sandbox/request_log.py) becomes the IAM action(s)
AWS authorizes it as, on the resource it touched, in its region. The actions no API call shows (``iam:PassRole``,
``iam:CreateServiceLinkedRole``, ``kms:CreateGrant`` by services, tagging on create, the calls of the account
preflight, ``make verify-deployment``, ``make deploy-frontend`` and the S3 backend) are added from
:data:`HAND_ADDED`, each with its reason. Each one is evaluated against the policy with the pinned IAM policy
evaluator (``@cloud-copilot/iam-simulate``, tools/iam_simulate/simulate.mjs) in one batch; what is not allowed is
returned.

    python -m tools.sandbox.deployer_policy sandbox-logs/moto.log [--policy docs/deployer-policy.json]
        [--phases sandbox-logs/phases.json --phase plan --phase apply ...] [--region R] [--account A]

exits 1 and lists the actions not allowed. ``--render --region R --account A --state-bucket B`` prints the
policy with its placeholders filled in, ready for ``aws iam create-policy``; ``--backup-copy-region C`` fills in
``<BACKUP_COPY_REGION>`` (the AWS Backup copy's region, ``BACKUP_COPY_REGION``; default the stack's region: no copy).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tap_contract import identity

from lib.blocks.iam import key_policy
from lib.runtime.node import project_node
from tools.sandbox import SANDBOX_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "docs" / "deployer-policy.json"
# What make destroy needs beyond POLICY: a customer managed policy (6,144 characters of its own), because IAM counts a
# role's inline policies together against one 10,240-character quota, which POLICY nearly fills.
DESTROY_POLICY = ROOT / "docs" / "deployer-destroy-policy.json"
# What the detection and evidence resources need (metric filters, event rules, log subscriptions, backups): a second
# customer managed policy, for the same reason.
SECURITY_POLICY = ROOT / "docs" / "deployer-security-policy.json"
# The deploying role's policies: evaluated together, as IAM does (an allow in any of them, a deny in none).
POLICIES = (POLICY, DESTROY_POLICY, SECURITY_POLICY)
# IAM's quotas (IAM User Guide, "IAM and AWS STS quotas", in characters, whitespace not counted): the total of a role's
# inline policies, and each managed policy.
INLINE_POLICIES_PER_ROLE_CHARACTERS = 10_240
MANAGED_POLICY_CHARACTERS = 6_144
SIMULATE = ROOT / "tools" / "iam_simulate" / "simulate.mjs"
SANDBOX_ACCOUNT = "123456789012"  # moto's account
SANDBOX_STATE_BUCKET = "payment-terraform-state-example"
PRINCIPAL = "arn:aws:iam::{account}:role/payment-deployer"
# The phases of a sandbox run in which the deploying identity calls AWS (tools/sandbox/runner.py). Not "emulator"
# and "leftovers" (the sandbox's own inventory), "boot" (the instance's role), "tests" (the test client).
# The sandbox's phases that run as the deployer: ``make deploy`` (less its post-apply hook, the instance's boot,
# recorded in phases.json as ``not_the_deployer``), the second plan, the no-egress shape's make plan and destroy.
DEPLOYER_PHASES = ("deploy", "settings", "drift", "no-egress", "release", "destroy")
LINE = re.compile(r"^request (\S+) (\S+) (\S+) (\S+) (\S+)")

# SigV4 signing name -> IAM service prefix, where they differ.
IAM_PREFIX = {"monitoring": "cloudwatch"}


@dataclass(frozen=True, kw_only=True)
class Request:
    """One ``request`` line of the moto log."""

    service: str
    operation: str
    region: str
    status: str
    resource: str  # "-" when not read


@dataclass(frozen=True, kw_only=True)
class ActionMapping:
    """An operation whose IAM action(s) differ from ``<prefix>:<operation>``, with the reason."""

    actions: tuple[str, ...]
    reason: str


def _s3(*actions: str, reason: str) -> ActionMapping:
    return ActionMapping(actions=tuple(f"s3:{action}" for action in actions), reason=reason)


# Where the IAM action is not the operation's name (Service Authorization Reference, "Actions defined by ...").
ACTION_EXCEPTIONS: dict[tuple[str, str], ActionMapping] = {
    ("s3", "HeadBucket"): _s3("ListBucket", reason="HeadBucket is authorized as s3:ListBucket"),
    ("s3", "ListObjects"): _s3("ListBucket", reason="listing objects is s3:ListBucket"),
    ("s3", "ListObjectsV2"): _s3("ListBucket", reason="listing objects is s3:ListBucket"),
    ("s3", "ListObjectVersions"): _s3("ListBucketVersions", reason="listing versions is s3:ListBucketVersions"),
    ("s3", "ListBuckets"): _s3("ListAllMyBuckets", reason="ListBuckets is s3:ListAllMyBuckets"),
    ("s3", "HeadObject"): _s3("GetObject", reason="HeadObject is authorized as s3:GetObject"),
    ("s3", "GetBucketEncryption"): _s3("GetEncryptionConfiguration", reason="the encryption configuration"),
    ("s3", "PutBucketEncryption"): _s3("PutEncryptionConfiguration", reason="the encryption configuration"),
    ("s3", "DeleteBucketEncryption"): _s3(
        "PutEncryptionConfiguration", reason="deleting the configuration is authorized as putting it"
    ),
    ("s3", "GetBucketLifecycleConfiguration"): _s3("GetLifecycleConfiguration", reason="the lifecycle"),
    ("s3", "PutBucketLifecycleConfiguration"): _s3("PutLifecycleConfiguration", reason="the lifecycle"),
    ("s3", "DeleteBucketLifecycle"): _s3(
        "PutLifecycleConfiguration", reason="deleting the lifecycle is authorized as putting it"
    ),
    ("s3", "GetPublicAccessBlock"): _s3("GetBucketPublicAccessBlock", reason="the bucket's public access block"),
    ("s3", "PutPublicAccessBlock"): _s3("PutBucketPublicAccessBlock", reason="the bucket's public access block"),
    ("s3", "DeletePublicAccessBlock"): _s3(
        "PutBucketPublicAccessBlock", reason="deleting the block is authorized as putting it"
    ),
    ("s3", "DeleteBucketOwnershipControls"): _s3(
        "PutBucketOwnershipControls", reason="deleting the controls is authorized as putting them"
    ),
    ("s3", "GetObjectLockConfiguration"): _s3("GetBucketObjectLockConfiguration", reason="a bucket setting"),
    ("s3", "PutObjectLockConfiguration"): _s3("PutBucketObjectLockConfiguration", reason="a bucket setting"),
    ("s3", "GetBucketNotificationConfiguration"): _s3("GetBucketNotification", reason="the notification"),
    ("s3", "PutBucketNotificationConfiguration"): _s3("PutBucketNotification", reason="the notification"),
    ("s3", "DeleteBucketTagging"): _s3("PutBucketTagging", reason="deleting tags is authorized as putting them"),
    ("s3", "GetBucketCors"): _s3("GetBucketCORS", reason="the action is spelled CORS"),
    ("s3", "PutBucketCors"): _s3("PutBucketCORS", reason="the action is spelled CORS"),
    ("s3", "DeleteBucketCors"): _s3("PutBucketCORS", reason="deleting CORS is authorized as putting it"),
    ("s3", "GetBucketReplication"): _s3("GetReplicationConfiguration", reason="the replication configuration"),
    ("s3", "GetBucketAccelerateConfiguration"): _s3("GetAccelerateConfiguration", reason="transfer acceleration"),
    ("s3", "CreateMultipartUpload"): _s3("PutObject", reason="multipart uploads are authorized as s3:PutObject"),
    ("s3", "UploadPart"): _s3("PutObject", reason="multipart uploads are authorized as s3:PutObject"),
    ("s3", "CompleteMultipartUpload"): _s3("PutObject", reason="multipart uploads are authorized as s3:PutObject"),
    ("s3", "CopyObject"): _s3("PutObject", "GetObject", reason="a copy writes the target and reads the source"),
    ("s3", "UploadPartCopy"): _s3("PutObject", "GetObject", reason="a copy writes the target and reads the source"),
    # The log keeps no query string: with a versionId the same call is s3:DeleteObjectVersion, and the provider
    # deletes every version of an object in a versioned bucket (and force_destroy empties versioned buckets).
    ("s3", "DeleteObject"): _s3(
        "DeleteObject",
        "DeleteObjectVersion",
        reason="with a versionId it is s3:DeleteObjectVersion (versioned buckets)",
    ),
    ("s3", "DeleteObjects"): _s3(
        "DeleteObject", "DeleteObjectVersion", reason="a batch delete is authorized per object, versions included"
    ),
    ("cloudfront", "CreateDistributionWithTags"): ActionMapping(
        actions=("cloudfront:CreateDistribution", "cloudfront:TagResource"),
        reason="creating with tags is authorized as CreateDistribution plus TagResource",
    ),
}

# Tags given at creation (the provider's default_tags tag everything) are authorized as the service's tagging
# action as well (each service's "Tagging on creation" page); the log does not show the tags, so they are assumed.
TAG_ON_CREATE: dict[tuple[str, str], str] = {
    ("ec2", "CreateVpc"): "ec2:CreateTags",
    ("ec2", "CreateSubnet"): "ec2:CreateTags",
    ("ec2", "CreateRouteTable"): "ec2:CreateTags",
    ("ec2", "CreateInternetGateway"): "ec2:CreateTags",
    ("ec2", "CreateNatGateway"): "ec2:CreateTags",
    ("ec2", "AllocateAddress"): "ec2:CreateTags",
    ("ec2", "CreateSecurityGroup"): "ec2:CreateTags",
    ("ec2", "CreateNetworkAcl"): "ec2:CreateTags",
    ("ec2", "CreateVpcEndpoint"): "ec2:CreateTags",
    ("ec2", "CreateFlowLogs"): "ec2:CreateTags",
    ("ec2", "CreateLaunchTemplate"): "ec2:CreateTags",
    ("kms", "CreateKey"): "kms:TagResource",
    ("iam", "CreateRole"): "iam:TagRole",
    ("iam", "CreateInstanceProfile"): "iam:TagInstanceProfile",
    ("logs", "CreateLogGroup"): "logs:TagResource",
    ("sns", "CreateTopic"): "sns:TagResource",
    ("ssm", "PutParameter"): "ssm:AddTagsToResource",
    ("rds", "CreateDBInstance"): "rds:AddTagsToResource",
    ("rds", "CreateDBSubnetGroup"): "rds:AddTagsToResource",
    ("rds", "CreateDBParameterGroup"): "rds:AddTagsToResource",
    ("elasticloadbalancing", "CreateLoadBalancer"): "elasticloadbalancing:AddTags",
    ("elasticloadbalancing", "CreateTargetGroup"): "elasticloadbalancing:AddTags",
    ("elasticloadbalancing", "CreateListener"): "elasticloadbalancing:AddTags",
    ("elasticloadbalancing", "CreateRule"): "elasticloadbalancing:AddTags",
    ("wafv2", "CreateWebACL"): "wafv2:TagResource",
    ("monitoring", "PutMetricAlarm"): "cloudwatch:TagResource",
    ("autoscaling", "CreateAutoScalingGroup"): "autoscaling:CreateOrUpdateTags",
    ("secretsmanager", "CreateSecret"): "secretsmanager:TagResource",
}

# Served, but no permission is needed (or a refusal is handled), so the policy does not grant them.
NOT_REQUIRED: dict[tuple[str, str], str] = {
    ("sts", "GetCallerIdentity"): "no permission is required (STS API reference, GetCallerIdentity)",
    ("iam", "GetUser"): (
        "the AWS provider's account-id lookup; a refusal is expected and the account is read from "
        "the AccessDenied message or sts:GetCallerIdentity (aws-sdk-go-base), so not granted"
    ),
    ("sts", "AssumeRole"): (
        "make destroy's break-glass session (DELETE_LOG_ARCHIVE=1 with BREAK_GLASS_ROLE_ARN, tools/deploy/"
        "break_glass.py): the role's trust policy names who may assume it (in one account that alone grants it), "
        "never the deployer's policies, which would give every deployer the archive's break-glass "
        '(docs/operating.md, "Break-glass role")'
    ),
}

S3_OBJECT_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:GetObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:GetObjectRetention",
        "s3:GetObjectLegalHold",
        "s3:GetObjectAcl",
        "s3:PutObjectAcl",
    }
)
SERVICE_LINKED_ROLE_SERVICES = {
    "AWSServiceRoleForAutoScaling": "autoscaling.amazonaws.com",
    "AWSServiceRoleForElasticLoadBalancing": "elasticloadbalancing.amazonaws.com",
    "AWSServiceRoleForRDS": "rds.amazonaws.com",
}


@dataclass(frozen=True, kw_only=True)
class Check:
    """One question for the evaluator: may the deployer do ``action`` on ``resource`` in ``region``?"""

    action: str
    resource: str
    region: str
    context: tuple[tuple[str, str], ...] = ()
    origin: str = field(default="served", compare=False)  # "served" or the hand-added reason
    decision: str = field(default="", compare=False)  # the evaluator's, once evaluated


@dataclass(frozen=True, kw_only=True)
class HandAdded:
    """An action no API call of the log shows, with the resource and context AWS authorizes it on, and why."""

    action: str
    resource: str  # with <ACCOUNT_ID>, <REGION>, <STATE_BUCKET> placeholders
    reason: str
    region: str = "<REGION>"
    context: tuple[tuple[str, str], ...] = ()


def _pass(role: str, service: str, why: str) -> HandAdded:
    return HandAdded(
        action="iam:PassRole",
        resource=f"arn:aws:iam::<ACCOUNT_ID>:role/{role}",
        context=(("iam:PassedToService", service),),
        region="us-east-1",
        reason=f"{why}: the caller passes the role, which no API call names (iam:PassedToService {service})",
    )


def _slr(service: str, name: str, why: str) -> HandAdded:
    return HandAdded(
        action="iam:CreateServiceLinkedRole",
        region="us-east-1",
        resource=f"arn:aws:iam::<ACCOUNT_ID>:role/aws-service-role/{service}/{name}",
        context=(("iam:AWSServiceName", service),),
        reason=why,
    )


def _read(action: str, resource: str, why: str, region: str = "<REGION>") -> HandAdded:
    return HandAdded(action=action, resource=resource, reason=why, region=region)


BUCKET = "arn:aws:s3:::payment-{component}-sandbox-<ACCOUNT_ID>"
STACK_KEY = "arn:aws:kms:<REGION>:<ACCOUNT_ID>:key/11111111-2222-3333-4444-5555"
STATE_OBJECT = f"arn:aws:s3:::<STATE_BUCKET>/{identity.state_key(SANDBOX_SUFFIX)}"
PREFLIGHT = "the account preflight (tools/deploy) reads it before terraform runs"
VERIFY = "make verify-deployment reads it after apply"
FRONTEND = "make deploy-frontend"
BACKEND = "the Terraform S3 backend (state and its use_lockfile lock) in TERRAFORM_STATE_BUCKET"
DESTROY = "make destroy (tools/deploy/destroy.py)"

HAND_ADDED: tuple[HandAdded, ...] = (
    _pass(
        "payment-api-instance-sandbox",
        "ec2.amazonaws.com",
        "the launch template's instance profile, used when Auto Scaling launches",
    ),
    _pass("payment-rds-monitoring-sandbox", "rds.amazonaws.com", "RDS enhanced monitoring's MonitoringRoleArn"),
    _pass("payment-flow-logs-sandbox", "vpc-flow-logs.amazonaws.com", "the VPC flow log's DeliverLogsPermissionArn"),
    _pass("payment-logs-firehose-sandbox", "firehose.amazonaws.com", "the log shipping streams' S3 RoleARN"),
    _pass(
        "payment-logs-to-firehose-sandbox",
        "logs.amazonaws.com",
        "the subscription filters' roleArn (CloudWatch Logs puts records into the streams)",
    ),
    _pass(
        "payment-db-backup-sandbox",
        "backup.amazonaws.com",
        "the database's backup selection's IamRoleArn (docs/deployer-security-policy.json, PassBackupRole)",
    ),
    _pass(
        "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_sandbox",
        "autoscaling.amazonaws.com",
        "the group's ServiceLinkedRoleARN (the stack's suffixed Auto Scaling role)",
    ),
    _slr(
        "autoscaling.amazonaws.com",
        "AWSServiceRoleForAutoScaling_sandbox",
        "the stack creates its suffixed Auto Scaling role (lib/components/encryption.py)",
    ),
    _slr(
        "elasticloadbalancing.amazonaws.com",
        "AWSServiceRoleForElasticLoadBalancing",
        "the first load balancer of an account creates this role with the caller's permission",
    ),
    _slr(
        "rds.amazonaws.com",
        "AWSServiceRoleForRDS",
        "the first RDS instance of an account creates this role with the caller's permission",
    ),
    HandAdded(
        action="kms:CreateGrant",
        resource=STACK_KEY,
        context=(("kms:GrantIsForAWSResource", "true"),),
        reason="RDS (storage, Performance Insights) and Secrets Manager (the RDS-managed master secret) "
        "create grants on the stack's keys with the caller's permission",
    ),
    *(
        HandAdded(
            action=action,
            resource=STACK_KEY.replace("<REGION>", region),
            region=region,
            context=(("kms:GrantIsForAWSResource", "true"),) if action == "kms:CreateGrant" else (),
            reason="Firehose's CreateDeliveryStream with a customer managed key (the log shipping streams' buffers, "
            "the logs key of each stream's region) creates the grant Firehose uses with the caller's permission "
            "(Firehose API reference, DeliveryStreamEncryptionConfigurationInput); moto makes no such call",
        )
        for region in ("<REGION>", "us-east-1")
        for action in ("kms:CreateGrant", "kms:DescribeKey")
    ),
    HandAdded(
        action="ec2:RunInstances",
        resource="*",
        reason="Auto Scaling checks that the caller may launch the group's launch template",
    ),
    HandAdded(
        action="secretsmanager:CreateSecret",
        resource="*",
        reason="RDS creates the managed master secret (ManageMasterUserPassword) as the caller",
    ),
    HandAdded(
        action="secretsmanager:TagResource", resource="*", reason="RDS tags the managed master secret as the caller"
    ),
    HandAdded(
        action="kms:GenerateDataKey",
        resource=STACK_KEY,
        context=(("kms:ViaService", "secretsmanager.<REGION>.amazonaws.com"),),
        reason="the managed master secret is encrypted with the stack's key, as the caller, via Secrets Manager",
    ),
    HandAdded(
        action="kms:Decrypt",
        resource=STACK_KEY,
        context=(("kms:ViaService", "secretsmanager.<REGION>.amazonaws.com"),),
        reason="the managed master secret is encrypted with the stack's key, as the caller, via Secrets Manager",
    ),
    *(
        _read(
            action,
            BUCKET.format(component="logs"),
            "CloudFront standard logging adds its log-delivery grant to the "
            "log bucket's ACL with the caller's credentials",
            region="us-east-1",
        )
        for action in ("s3:GetBucketAcl", "s3:PutBucketAcl")
    ),
    *(
        _read(
            action,
            "*",
            "WAF logging to CloudWatch Logs needs these of the caller (AWS WAF Developer Guide)",
            region=region,
        )
        for action in (
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
        )
        for region in ("<REGION>", "us-east-1")
    ),
    _read("acm:DescribeCertificate", "arn:aws:acm:<REGION>:<ACCOUNT_ID>:certificate/example", PREFLIGHT),
    _read(
        "acm:DescribeCertificate",
        "arn:aws:acm:us-east-1:<ACCOUNT_ID>:certificate/example",
        PREFLIGHT,
        region="us-east-1",
    ),
    _read(
        "servicequotas:GetServiceQuota",
        "arn:aws:servicequotas:<REGION>:<ACCOUNT_ID>:ec2/L-0263D0A3",
        PREFLIGHT + " (the Elastic IP quota)",
    ),
    *(
        _read(
            "servicequotas:GetAWSDefaultServiceQuota",
            "*",
            PREFLIGHT + f" (AWS's default of {code} when the account has none applied)",
        )
        for code in ("L-0263D0A3", "L-1216C47A")
    ),
    *(
        _read(
            "logs:DescribeResourcePolicies",
            "*",
            PREFLIGHT + " (the name of the stack's log resource policy, in each region with WAF logging)",
            region=region,
        )
        for region in ("<REGION>", "us-east-1")
    ),
    _read("s3:GetBucketLocation", BUCKET.format(component="artifacts"), PREFLIGHT + " (a bucket of another region)"),
    _read(
        "s3:GetObjectVersion",
        BUCKET.format(component="artifacts") + "/payment-api/payment-api.tar.gz",
        "make rollback reads a kept release's metadata and bytes by its versionId (HeadObject, GetObject), which the "
        "request log cannot tell from a read of the current version",
    ),
    _read("ec2:DescribeAddresses", "*", PREFLIGHT + " (EIPs already held)"),
    _read(
        "servicequotas:GetServiceQuota",
        "arn:aws:servicequotas:<REGION>:<ACCOUNT_ID>:ec2/L-1216C47A",
        PREFLIGHT + " (the vCPU quota)",
    ),
    _read(
        "route53:GetHostedZone",
        "arn:aws:route53:::hostedzone/Z0EXAMPLE",
        PREFLIGHT + " (HOSTED_ZONE_ID)",
        region="us-east-1",
    ),
    _read("cloudtrail:DescribeTrails", "*", PREFLIGHT),
    _read("cloudtrail:GetTrailStatus", "arn:aws:cloudtrail:<REGION>:<ACCOUNT_ID>:trail/example", PREFLIGHT),
    *(
        _read(f"elasticloadbalancing:{action}", "*", VERIFY)
        for action in ("DescribeTargetHealth", "DescribeListeners", "DescribeListenerAttributes")
    ),
    _read("wafv2:GetWebACLForResource", "*", VERIFY),
    _read("wafv2:GetWebACLForResource", "*", VERIFY, region="us-east-1"),
    _read("wafv2:GetLoggingConfiguration", "*", VERIFY),
    _read("wafv2:GetLoggingConfiguration", "*", VERIFY, region="us-east-1"),
    _read("sns:ListSubscriptionsByTopic", "arn:aws:sns:<REGION>:<ACCOUNT_ID>:payment-alarms-sandbox", VERIFY),
    _read("ec2:DescribeFlowLogs", "*", VERIFY),
    _read("cloudwatch:DescribeAlarms", "*", VERIFY + " (every alarm of output alarm_names)"),
    _read(
        "logs:DescribeLogStreams",
        "arn:aws:logs:<REGION>:<ACCOUNT_ID>:log-group:aws-waf-logs-payment-api-sandbox",
        VERIFY,
    ),
    _read(
        "logs:DescribeLogStreams",
        "arn:aws:logs:us-east-1:<ACCOUNT_ID>:log-group:aws-waf-logs-payment-cdn-sandbox",
        VERIFY,
        region="us-east-1",
    ),
    *(
        _read(action, BUCKET.format(component=component) + "/AWSLogs/example", VERIFY)
        for action in ("s3:GetObject", "s3:GetObjectRetention")
        for component in ("logs", "frontend")
    ),
    *(
        _read(action, BUCKET.format(component="frontend") + "/index.html", FRONTEND)
        for action in ("s3:PutObject", "s3:GetObject")
    ),
    _read("s3:ListBucket", BUCKET.format(component="frontend"), FRONTEND),
    _read(
        "cloudfront:CreateInvalidation",
        "arn:aws:cloudfront::<ACCOUNT_ID>:distribution/E2EXAMPLE",
        FRONTEND,
        region="us-east-1",
    ),
    _read(
        "cloudfront:GetInvalidation",
        "arn:aws:cloudfront::<ACCOUNT_ID>:distribution/E2EXAMPLE",
        FRONTEND,
        region="us-east-1",
    ),
    _read("s3:ListBucket", "arn:aws:s3:::<STATE_BUCKET>", BACKEND),
    _read(
        "rds:ModifyDBInstance",
        "arn:aws:rds:<REGION>:<ACCOUNT_ID>:db:payment-db-sandbox",
        DESTROY + " applies deletion protection off first; the sandbox's stack runs without it, so no call shows it",
    ),
    *(
        _read(
            action,
            resource,
            DESTROY + ": the final snapshot DeleteDBInstance takes, with the instance's tags (copy_tags_to_snapshot)",
        )
        for action in ("rds:CreateDBSnapshot", "rds:AddTagsToResource")
        for resource in (
            "arn:aws:rds:<REGION>:<ACCOUNT_ID>:db:payment-db-sandbox",
            "arn:aws:rds:<REGION>:<ACCOUNT_ID>:snapshot:payment-db-sandbox-final-20260101000000",
        )
    ),
    _read(
        "s3:BypassGovernanceRetention",
        BUCKET.format(component="logs") + "/AWSLogs/example",
        DESTROY + " with DELETE_LOG_ARCHIVE=1: DeleteObjects with x-amz-bypass-governance-retention (the request log "
        "keeps no headers)",
    ),
    *(
        _read(action, key, BACKEND)
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
        for key in (STATE_OBJECT, STATE_OBJECT + ".tflock")
    ),
)


def read_requests(request_log: Path, start: int = 0, end: int | None = None) -> list[Request]:
    """The ``request`` lines between byte offsets ``start`` and ``end`` (phases.json's ``moto_log_offset``)."""
    with request_log.open("rb") as handle:
        handle.seek(start)
        data = handle.read() if end is None else handle.read(max(0, end - start))
    requests = []
    for line in data.decode("utf-8", "replace").splitlines():
        match = LINE.match(line)
        if match and match.group(1) != "-":
            service, operation, region, status, resource = match.groups()
            requests.append(
                Request(service=service, operation=operation, region=region, status=status, resource=resource)
            )
    return requests


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions AWS authorizes a served operation as (empty when :data:`NOT_REQUIRED`)."""
    if (service, operation) in NOT_REQUIRED:
        return ()
    exception = ACTION_EXCEPTIONS.get((service, operation))
    actions = exception.actions if exception else (f"{IAM_PREFIX.get(service, service)}:{operation}",)
    extra = TAG_ON_CREATE.get((service, operation))
    return (*actions, extra) if extra else actions


def _iam_arn(resource: str, account: str) -> str:
    """``role/<name>``, ``instance-profile/<name>``, ``aws-service-role/<service>/<name>`` as an IAM ARN; a
    service-linked role named without its path (GetRole, DeleteServiceLinkedRole) gets it back."""
    kind, _, name = resource.partition("/")
    service = SERVICE_LINKED_ROLE_SERVICES.get(name.split("_", 1)[0]) if kind == "role" else None
    if kind == "aws-service-role":
        return f"arn:aws:iam::{account}:role/{resource}"
    if service is not None:
        return f"arn:aws:iam::{account}:role/aws-service-role/{service}/{name}"
    return f"arn:aws:iam::{account}:{resource}"


def resource_arn(action: str, request: Request, account: str) -> str:
    """The ARN the action is authorized on, from the log's resource column; ``*`` when the log names none."""
    if request.resource == "-" or request.service not in ("s3", "iam", "secretsmanager"):
        return "*"
    if request.service == "secretsmanager":
        return f"arn:aws:secretsmanager:{request.region}:{account}:{request.resource}"
    if request.service == "iam":
        return _iam_arn(request.resource, account)
    bucket, _, key = request.resource.partition("/")
    if action in S3_OBJECT_ACTIONS:  # DeleteObjects names its objects in the body: any object of the bucket
        return f"arn:aws:s3:::{bucket}/{key or '*'}"
    return f"arn:aws:s3:::{bucket}"


def request_context(action: str, resource: str) -> tuple[tuple[str, str], ...]:
    """Condition keys AWS sets for the request that the log's line implies: the service of a service-linked role
    being created (``iam:AWSServiceName``, from its path)."""
    if action == "iam:CreateServiceLinkedRole" and "/aws-service-role/" in resource:
        return (("iam:AWSServiceName", resource.split("/aws-service-role/", 1)[1].split("/", 1)[0]),)
    return ()


def served_checks(requests: Iterable[Request], account: str) -> list[Check]:
    """One check per distinct (action, resource, region) the requests need."""
    checks: dict[Check, Check] = {}
    for request in requests:
        for action in iam_actions(request.service, request.operation):
            resource = resource_arn(action, request, account)
            check = Check(
                action=action, resource=resource, region=request.region, context=request_context(action, resource)
            )
            checks.setdefault(check, check)
    return list(checks)


def fill(text: str, *, account: str, region: str, state_bucket: str, copy_region: str | None = None) -> str:
    """The placeholders of the policy and of :data:`HAND_ADDED` filled in; ``<BACKUP_COPY_REGION>`` is
    ``copy_region``, or the stack's region when the stack copies no backup (BACKUP_COPY_REGION unset): the statements
    that name it then allow nothing beyond the stack's region."""
    filled = text.replace("<BACKUP_COPY_REGION>", copy_region or region)
    return filled.replace("<ACCOUNT_ID>", account).replace("<REGION>", region).replace("<STATE_BUCKET>", state_bucket)


def hand_added_checks(account: str, region: str, state_bucket: str) -> list[Check]:
    """:data:`HAND_ADDED` with the placeholders filled in."""

    def filled(text: str) -> str:
        return fill(text, account=account, region=region, state_bucket=state_bucket)

    return [
        Check(
            action=item.action,
            resource=filled(item.resource),
            region=filled(item.region),
            context=tuple((key, filled(value)) for key, value in item.context),
            origin=item.reason,
        )
        for item in HAND_ADDED
    ]


def evaluate(checks: Sequence[Check], policy: dict[str, Any] | Sequence[dict[str, Any]], account: str) -> list[str]:
    """The evaluator's decision for each check, in order (one ``node`` process for the whole batch); ``policy`` is
    one identity policy or the role's several, evaluated together."""
    policies = [policy] if isinstance(policy, dict) else list(policy)
    # A KMS key is governed by its key policy too: the stack's (lib/blocks/iam.py), which delegates to IAM.
    stack_key_policy = json.loads(key_policy(account))
    requests = [
        {
            "name": str(index),
            "principal": PRINCIPAL.format(account=account),
            "action": check.action,
            "resource": check.resource,
            "resourceAccount": account,
            "context": {"aws:RequestedRegion": check.region, **dict(check.context)},
            "identityPolicies": [{"name": f"deployer-{number}", "policy": doc} for number, doc in enumerate(policies)],
            "resourcePolicy": stack_key_policy if ":kms:" in check.resource and ":key/" in check.resource else None,
        }
        for index, check in enumerate(checks)
    ]
    result = subprocess.run(
        [str(project_node()), str(SIMULATE)],
        input=json.dumps({"requests": requests}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"iam-simulate failed ({result.returncode}): {result.stderr.strip()[-2000:]} "
            "(node_modules missing? run `make setup`)"
        )
    results = json.loads(result.stdout)["results"]
    # "Error": the evaluator refused the question (an action that has no such resource type): a mapping to fix,
    # reported with the actions not allowed rather than read as a denial or an allow.
    return [
        str(answer["decision"]) if answer["decision"] != "Error" else f"Error {answer['errors']}" for answer in results
    ]


def load_policy(
    policy: Path, *, account: str, region: str, state_bucket: str, copy_region: str | None = None
) -> dict[str, Any]:
    """The policy document with its placeholders filled in (``_reasons`` and other ``_`` keys dropped)."""
    text = policy.read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(
        fill(text, account=account, region=region, state_bucket=state_bucket, copy_region=copy_region)
    )
    return {key: value for key, value in document.items() if not key.startswith("_")}


def stack_region(requests: Sequence[Request]) -> str:
    """The stack's region: the region most requests went to other than us-east-1, else us-east-1."""
    regions = [request.region for request in requests if request.region != "us-east-1"]
    return max(set(regions), key=regions.count) if regions else "us-east-1"


def unallowed_checks(
    requests: Sequence[Request],
    policy: Path | Sequence[Path],
    *,
    account: str = SANDBOX_ACCOUNT,
    region: str | None = None,
    state_bucket: str = SANDBOX_STATE_BUCKET,
    hand_added: bool = True,
    copy_region: str | None = None,
) -> list[Check]:
    """The checks (served and hand-added) the policy does not allow."""
    region = region or stack_region(requests)
    checks = served_checks(requests, account)
    if hand_added:
        checks += hand_added_checks(account, region, state_bucket)
    paths = [policy] if isinstance(policy, Path) else list(policy)
    documents = [
        load_policy(path, account=account, region=region, state_bucket=state_bucket, copy_region=copy_region)
        for path in paths
    ]
    decisions = evaluate(checks, documents, account)
    return [
        replace(check, decision=decision)
        for check, decision in zip(checks, decisions, strict=True)
        if decision != "Allowed"
    ]


def unallowed_actions(
    request_log: Path, policy: Path | Sequence[Path] = POLICIES, start: int = 0, end: int | None = None, **options: Any
) -> list[str]:
    """The IAM actions the requests between ``start`` and ``end`` (and :data:`HAND_ADDED`) need and the policy
    does not allow, sorted; ``options`` go to :func:`unallowed_checks`."""
    refused = unallowed_checks(read_requests(request_log, start, end), policy, **options)
    return sorted({check.action for check in refused})


def phase_ranges(phases_json: Path, names: Sequence[str]) -> list[tuple[int, int | None]]:
    """Byte ranges of the moto log that the named phases of a sandbox run cover (phases.json)."""
    return ranges_of(json.loads(phases_json.read_text(encoding="utf-8")), names, source=str(phases_json))


def ranges_of(
    document: Mapping[str, Any], names: Sequence[str], source: str = "the run"
) -> list[tuple[int, int | None]]:
    """Byte ranges of the moto log the named phases cover, less the ranges ``not_the_deployer`` names (what ran
    inside a phase as another principal: the boot hook inside ``make deploy`` acts as the instance)."""
    phases = document["phases"]
    unknown = set(names) - {phase["name"] for phase in phases}
    if unknown:
        raise ValueError(
            f"{source} has no phase {', '.join(sorted(unknown))}; it has {', '.join(phase['name'] for phase in phases)}"
        )
    ranges: list[tuple[int, int | None]] = []
    for index, phase in enumerate(phases):
        if phase["name"] in names:
            end = phases[index + 1]["moto_log_offset"] if index + 1 < len(phases) else None
            ranges.append((int(phase["moto_log_offset"]), end))
    for hole_start, hole_end in document.get("not_the_deployer") or []:
        cut: list[tuple[int, int | None]] = []
        for start, end in ranges:
            if hole_end <= start or (end is not None and hole_start >= end):
                cut.append((start, end))
                continue
            if start < hole_start:
                cut.append((start, hole_start))
            if end is None or hole_end < end:
                cut.append((hole_end, end))
        ranges = cut
    return ranges


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("request_log", type=Path, nargs="?", help="the moto log (sandbox-logs/moto.log)")
    parser.add_argument(
        "--policy",
        type=Path,
        action="append",
        help="a policy of the role (repeatable; default: docs/deployer-policy.json, docs/deployer-destroy-policy.json "
        "and docs/deployer-security-policy.json, evaluated together); --render prints the one given, default "
        "docs/deployer-policy.json",
    )
    parser.add_argument("--phases", type=Path, help="phases.json of the run: only the --phase ranges are read")
    parser.add_argument(
        "--phase",
        action="append",
        default=[],
        help=f"a phase to read (repeatable; default with --phases: {' '.join(DEPLOYER_PHASES)})",
    )
    parser.add_argument("--account", default=SANDBOX_ACCOUNT, help=f"default {SANDBOX_ACCOUNT} (moto's)")
    parser.add_argument("--region", help="the stack's region (default: read from the log)")
    parser.add_argument("--state-bucket", default=SANDBOX_STATE_BUCKET, help="TERRAFORM_STATE_BUCKET")
    parser.add_argument(
        "--backup-copy-region",
        help="BACKUP_COPY_REGION, the AWS Backup copy's region (default: the stack's region, no copy)",
    )
    parser.add_argument("--render", action="store_true", help="print the policy with the placeholders filled in")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: exit 0 when everything is allowed, 1 listing what is not, 2 on a usage error."""
    args = _arguments(argv)
    if args.render:
        if not args.region:
            print("--render needs --region (the stack's region) and --account", file=sys.stderr)
            return 2
        print(
            json.dumps(
                load_policy(
                    (args.policy or [POLICY])[0],
                    account=args.account,
                    region=args.region,
                    state_bucket=args.state_bucket,
                    copy_region=args.backup_copy_region,
                ),
                indent=2,
            )
        )
        return 0
    if args.request_log is None or not args.request_log.is_file():
        print(f"no request log at {args.request_log} (run `make sandbox` first)", file=sys.stderr)
        return 2
    try:
        ranges = phase_ranges(args.phases, args.phase or DEPLOYER_PHASES) if args.phases else [(0, None)]
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    requests = [request for start, end in ranges for request in read_requests(args.request_log, start, end)]
    refused = unallowed_checks(
        requests,
        args.policy or POLICIES,
        account=args.account,
        region=args.region,
        state_bucket=args.state_bucket,
        copy_region=args.backup_copy_region,
    )
    actions = {check.action for check in served_checks(requests, args.account)}
    print(
        f"deployer policies {', '.join(str(path) for path in args.policy or POLICIES)}: "
        f"{len(requests)} requests served, {len(actions)} distinct actions, "
        f"{len(HAND_ADDED)} hand-added checks"
    )
    if not refused:
        print("every action is allowed")
        return 0
    print(f"{len(refused)} not allowed:")
    for check in sorted(refused, key=lambda item: (item.action, item.resource)):
        print(
            f"  {check.action} on {check.resource} in {check.region}: {check.decision}"
            + (f" ({check.origin})" if check.origin != "served" else "")
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
