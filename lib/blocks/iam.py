"""IAM policy documents, built in one place (seed failure 8 of docs/requirements.md:
the same assume-role JSON pasted per module).

Policies are plain JSON strings rather than ``aws_iam_policy_document`` data sources: they synthesize to
readable literals that unit tests and the preflight can inspect without a plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

Statement = Mapping[str, Any]


def policy_document(statements: Iterable[Statement]) -> str:
    """A policy document with the current policy language version."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str, *, source_account: str | None = None, source_arn: str | None = None) -> str:
    """Trust policy letting one AWS service assume a role.

    ``source_account`` adds the ``aws:SourceAccount`` condition AWS recommends against the confused-deputy
    problem for services that act on behalf of many accounts (VPC Flow Logs, RDS monitoring); ``source_arn``
    narrows it to the resources the service acts for (``ArnLike aws:SourceArn``, PCI DSS 7.2.2).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return policy_document([statement])


# ``${aws:username}`` as Terraform must be given it: ``$${`` is its escape for a literal ``${`` (unescaped, Terraform
# would read an interpolation and refuse the configuration); the policy AWS receives holds ``${aws:username}``.
AWS_USERNAME = "$${aws:username}"


def person_assume_role_policy(account_id: str) -> str:
    """Trust policy of a role that people assume (the operator role): this account's principals, only with MFA
    (``Bool aws:MultiFactorAuthPresent``) and a SourceIdentity that is their IAM user name, so every session names the
    person (``sts:SetSourceIdentity`` allowed for that alone; it cannot change for the session's life)."""
    statement: dict[str, Any] = {
        "Sid": "PeopleWithMfaNamedBySourceIdentity",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
        "Condition": {
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "StringEquals": {"sts:SourceIdentity": AWS_USERNAME},
        },
    }
    return policy_document([statement])


def _deny_bucket_requests(sid: str, bucket_arn: str, condition: Mapping[str, Any]) -> Statement:
    """A Deny of every S3 action on the bucket and its objects, to anyone, under ``condition``."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": condition,
    }


def deny_insecure_transport(bucket_arn: str) -> Statement:
    """Bucket policy statement refusing any request not made over TLS (PCI DSS 4.2.1)."""
    return _deny_bucket_requests("DenyInsecureTransport", bucket_arn, {"Bool": {"aws:SecureTransport": "false"}})


def deny_tls_below_1_2(bucket_arn: str) -> Statement:
    """Bucket policy statement refusing requests over TLS 1.0 or 1.1 (PCI DSS 4.2.1: strong cryptography only).

    A request without TLS has no ``s3:TlsVersion`` and is left to :func:`deny_insecure_transport`."""
    return _deny_bucket_requests("DenyTlsBelow12", bucket_arn, {"NumericLessThan": {"s3:TlsVersion": "1.2"}})


# Log objects are never deleted by a request: versions go only through the lifecycle, after the retention (PCI DSS
# 10.3.2-10.3.4, 10.5.1). BypassGovernanceRetention is refused too, so a GOVERNANCE-mode lock (development) holds
# against every principal while this policy is in place; removing the policy first is a recorded change.
LOG_DELETION_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention")


def deny_log_deletion(bucket_arn: str) -> Statement:
    """Bucket policy statement refusing object deletion (and bypassing a governance lock) to anyone."""
    return {
        "Sid": "DenyLogDeletion",
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(LOG_DELETION_ACTIONS),
        "Resource": f"{bucket_arn}/*",
    }


# What changes the rules a log bucket's logs live by: its policy (the deny-delete statement above is in it), its
# lifecycle (expiry; S3 authorizes DeleteBucketLifecycle as s3:PutLifecycleConfiguration) and its Object Lock
# default retention (PCI DSS 10.3.2, 10.5.1).
LOG_BUCKET_CONFIGURATION_ACTIONS = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
)
BREAK_GLASS_SID = "DenyLogBucketConfigurationChanges"


def deny_log_bucket_configuration_changes(bucket_arn: str, break_glass_role_arn: str) -> Statement:
    """Bucket policy statement refusing changes to the bucket's policy, lifecycle and Object Lock configuration to
    every principal but the break-glass role (``BREAK_GLASS_ROLE_ARN``).

    ``aws:PrincipalArn`` is the role's ARN with its path for each of its assumed-role sessions, so the one ARN admits
    every session of the role and nothing else (as :func:`deny_object_reads_except`). The statement takes effect once
    the policy exists: the deployer creates the policy (last, after the lifecycle and the lock) on the first apply,
    and every later change to any of the three is the break-glass role's (``make deploy`` stops before it,
    ``tools/deploy/archive_guard.py``). The account root can still delete a bucket policy that locks everyone out
    (AWS's own safeguard); root use is the organization's to restrict and alert on."""
    return {
        "Sid": BREAK_GLASS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(LOG_BUCKET_CONFIGURATION_ACTIONS),
        "Resource": bucket_arn,
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": [break_glass_role_arn]}},
    }


def s3_server_access_log_delivery(
    bucket_arn: str, prefix: str, account_id: str, source_bucket_names: Iterable[str]
) -> Statement:
    """Lets S3 server access logging write under ``prefix`` for the named buckets of this account only
    (``aws:SourceArn`` and ``aws:SourceAccount``, AWS's guidance against the confused deputy)."""
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/{prefix}*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": [f"arn:aws:s3:::{name}" for name in sorted(source_bucket_names)]},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    }


def deny_object_reads_except(sid: str, bucket_arn: str, reader_arns: Iterable[str]) -> Statement:
    """Bucket policy statement refusing object reads to every principal but ``reader_arns`` (PCI DSS 7.2).

    ``aws:PrincipalArn`` is the role's ARN (with its path) for an assumed-role session, so a role's every session is
    one reader. ``ArnNotLike``: an entry may be a pattern (an IAM Identity Center permission set's roles,
    ``lib/deployer_principals.py``). A Deny, not an Allow: the account's own IAM policies could otherwise grant reads
    to anyone in it."""
    return _deny_objects_except(sid, bucket_arn, ["s3:GetObject", "s3:GetObjectVersion"], reader_arns)


# What changes a bucket's objects: writes (a multipart upload is authorized as s3:PutObject) and deletions.
OBJECT_WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")


def deny_object_writes_except(sid: str, bucket_arn: str, writer_arns: Iterable[str]) -> Statement:
    """Bucket policy statement refusing object writes and deletions to every principal but ``writer_arns`` (PCI DSS
    7.2, 6.4.3: who can change the payment page's scripts), with :func:`deny_object_reads_except`'s matching."""
    return _deny_objects_except(sid, bucket_arn, list(OBJECT_WRITE_ACTIONS), writer_arns)


# What changes how a bucket's objects are guarded or what lands in it without an object write of ours: its policy (this
# deny included), its event notifications (the object-event alert needs EventBridge on), its lifecycle (an expiry
# deletes objects with a "Lifecycle Expiration" event, not "Object Deleted"), and replication into it. IAM's name for
# PutBucketNotificationConfiguration is s3:PutBucketNotification. The bucket-level actions match the bucket's ARN, the
# replication ones its objects'.
BUCKET_CONTROL_ACTIONS = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketNotification",
    "s3:PutLifecycleConfiguration",
    "s3:ReplicateObject",
    "s3:ReplicateDelete",
)


def deny_bucket_control_changes_except(sid: str, bucket_arn: str, changer_arns: Iterable[str]) -> Statement:
    """Bucket policy statement refusing ``BUCKET_CONTROL_ACTIONS`` to every principal but ``changer_arns`` (the
    deployers, whose Terraform creates and updates the policy and the notification configuration), with
    :func:`deny_object_reads_except`'s matching (PCI DSS 6.4.3, 11.6.1: who can switch the payment page's tamper
    detection off). A wrong list cannot lock the bucket for good: the account's root user may always change or delete
    a bucket policy."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(BUCKET_CONTROL_ACTIONS),
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": list(changer_arns)}},
    }


def _deny_objects_except(sid: str, bucket_arn: str, actions: list[str], principal_arns: Iterable[str]) -> Statement:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": f"{bucket_arn}/*",
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": list(principal_arns)}},
    }


def read_object_versions_statements(sid: str, bucket_arn: str, key: str) -> list[Statement]:
    """Reading one S3 object and any of its versions, and nothing else of its bucket: list the key's versions
    (``s3:ListBucketVersions`` is a bucket action; the ``s3:prefix`` condition holds it to this key, and a request
    without a prefix has none, so it is refused), read their metadata and bytes (HeadObject and GetObject with a
    ``versionId`` are ``s3:GetObjectVersion``; without one, ``s3:GetObject``)."""
    return [
        {
            "Sid": f"{sid}Versions",
            "Effect": "Allow",
            "Action": ["s3:ListBucketVersions"],
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"s3:prefix": key}},
        },
        {
            "Sid": sid,
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{bucket_arn}/{key}",
        },
    ]


def write_log_stream_statement(sid: str, log_group_arn: str) -> Statement:
    """What the CloudWatch agent needs to ship files into one existing log group: its streams, nothing else."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
    }


# Key administration (PCI DSS 3.6.1, 7.2.2), named action by action: manage, tag, rotate, schedule deletion. The
# console's default administrator set (kms:Create*, kms:Revoke*, ...) is not used: kms:Create* covers kms:CreateGrant,
# with which an administrator could give itself Decrypt. Neither use nor grants are here (preflight
# PF-KMS-ADMIN-NO-USE-OR-GRANTS). kms:PutKeyPolicy stays: AWS refuses a key policy its caller could not change back,
# so the administrator can rewrite the policy, which is a recorded change (CloudTrail, PCI DSS 10.2), not a standing
# right to use the key.
KEY_ADMIN_ACTIONS = (
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:Describe*",
    "kms:List*",
    "kms:Get*",
    "kms:PutKeyPolicy",
    "kms:UpdateKeyDescription",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
# What a key user needs for a symmetric key (the console's "Allow use of the key"): no administration.
KEY_USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
# Grants an AWS service makes for a resource it runs for a user (EBS, RDS): only with kms:GrantIsForAWSResource.
KEY_GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")


def account_root(account_id: str) -> str:
    """The account principal: in a key policy it delegates to the account's IAM policies, not to the root user."""
    return f"arn:aws:iam::{account_id}:root"


def key_policy(
    account_id: str, service_statements: Iterable[Statement] = (), *, admin_principal_arn: str | None = None
) -> str:
    """KMS key policy separating administration from use (PCI DSS 3.6.1, 7.2.2). Never ``"AWS": "*"``.

    - ``KeyAdministration``: :data:`KEY_ADMIN_ACTIONS` for ``admin_principal_arn`` (default the account root,
      i.e. whoever the account's IAM policies allow). It holds ``kms:PutKeyPolicy``, so the key stays
      manageable; AWS refuses (CreateKey/PutKeyPolicy lockout safety check) a policy its caller could not change
      back, so a role given here must be the one Terraform runs as.
    - ``KeyUseThroughIamPolicies`` and ``GrantsForAwsResourcesThroughIamPolicies``: use for the account root,
      which delegates to IAM: a role uses the key only when its identity policy allows it (the instance role's
      ``kms:ViaService``-conditioned ``kms:Decrypt``), and no key policy statement hands use to a named principal.
    - ``service_statements``: services and service-linked roles under their own conditions.
    """
    root = account_root(account_id)
    return policy_document(
        [
            {
                "Sid": "KeyAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": admin_principal_arn or root},
                "Action": list(KEY_ADMIN_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "KeyUseThroughIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": list(KEY_USE_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "GrantsForAwsResourcesThroughIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": list(KEY_GRANT_ACTIONS),
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            *service_statements,
        ]
    )


def service_linked_role_key_use(sid: str, role_arn: str) -> list[Statement]:
    """A service-linked role may use the key for the resources it launches: AWS's pattern for an Auto Scaling
    service-linked role and encrypted EBS volumes ("Required KMS key policy for use with encrypted volumes",
    EC2 Auto Scaling User Guide): the cryptographic operations, and grants only for AWS resources."""
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": list(KEY_USE_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": f"{sid}Grants",
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": ["kms:CreateGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]


def logs_service_key_use(region: str, account_id: str) -> Statement:
    """CloudWatch Logs may encrypt log groups of this account and region with the key, and no others."""
    return {
        "Sid": "CloudWatchLogsInThisAccount",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*",
            }
        },
    }


def cloudwatch_alarm_arns(region: str, account_id: str) -> str:
    """The ARNs of this account's CloudWatch alarms in ``region``."""
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"


def rds_event_source_arns(region: str, account_id: str) -> str:
    """The ARNs of this account's RDS resources in ``region`` (``arn:aws:rds:<region>:<account>:*``): what RDS names as
    ``aws:SourceArn`` when it publishes an event notification. The RDS User Guide ("Granting permissions to publish
    notifications to an Amazon SNS topic", USER_Events.GrantingPermissions) sets ``aws:SourceArn`` to the RDS
    *resource* ARN (its example: ``arn:aws:rds:<region>:<account>:db:prefix-*``), not the event subscription's
    (``...:es:<name>``, which matched no event and dropped every notification). The stack subscribes two source
    types, db-instance (``...:db:<id>``) and db-security-group (``...:secgrp:<name>``), so the pattern covers every
    RDS resource type of the account and region rather than one prefix of one type."""
    return f"arn:aws:rds:{region}:{account_id}:*"


def eventbridge_rule_arns(region: str, account_id: str) -> str:
    """The ARNs of this account's EventBridge rules on the default bus in ``region`` (``...:rule/<name>``)."""
    return f"arn:aws:events:{region}:{account_id}:rule/*"


def _service_source_condition(source_arn_pattern: str, account_id: str) -> dict[str, dict[str, str]]:
    """The confused-deputy condition for a service acting for this account's ``source_arn_pattern`` only."""
    return {"ArnLike": {"aws:SourceArn": source_arn_pattern}, "StringEquals": {"aws:SourceAccount": account_id}}


def _topic_key_use(sid: str, service: str, source_arn_pattern: str, account_id: str) -> Statement:
    """``service``, on behalf of this account's ``source_arn_pattern`` only, may publish to a topic encrypted with the
    key (SNS asks KMS for a data key in the publisher's name)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": _service_source_condition(source_arn_pattern, account_id),
    }


def rds_events_topic_key_use(region: str, account_id: str) -> Statement:
    """RDS, publishing events of this account's RDS resources of the region (``aws:SourceArn``:
    :func:`rds_event_source_arns`), may publish to a topic encrypted with the key."""
    return _topic_key_use(
        "RdsEventsPublishToEncryptedTopic",
        "events.rds.amazonaws.com",
        rds_event_source_arns(region, account_id),
        account_id,
    )


def alarms_topic_key_use(region: str, account_id: str) -> Statement:
    """CloudWatch alarms of this account and region (``aws:SourceArn``) may publish to a topic encrypted with the
    key."""
    return _topic_key_use(
        "CloudWatchAlarmsPublishToEncryptedTopic",
        "cloudwatch.amazonaws.com",
        cloudwatch_alarm_arns(region, account_id),
        account_id,
    )


EVENTBRIDGE_TOPIC_KEY_SID = "EventBridgeRulesPublishToEncryptedTopic"
# The confused-deputy keys AWS does not support in a KMS key policy for EventBridge delivering to an encrypted topic:
# the Amazon SNS Developer Guide, "Enable compatibility between event sources from AWS services and encrypted topics"
# (sns-key-management.html#compatibility-with-aws-services), says adding aws:SourceAccount, aws:SourceArn or
# aws:SourceOrgID to the key policy is not supported for EventBridge-to-encrypted-topic delivery. EventBridge's KMS
# request does not carry them, so such a condition never matches and every delivery fails (the rule's
# FailedInvocations metric: lib/blocks/alarms.py rule_delivery_alarm). preflight PF-KEY-SERVICE-ACCESS refuses them.
UNSUPPORTED_EVENTBRIDGE_KEY_CONDITIONS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID")


def eventbridge_topic_key_use() -> Statement:
    """EventBridge may publish to a topic encrypted with the key (the security alerts on CloudTrail and S3 events).

    No condition: AWS does not support :data:`UNSUPPORTED_EVENTBRIDGE_KEY_CONDITIONS` here (see there). Which rules may
    publish is decided by the topic policy (:func:`alarm_topic_policy`'s ``EventBridgeRulesPublish``: this account's
    rules of the region, ``aws:SourceArn`` and ``aws:SourceAccount``, which SNS does support), and SNS asks KMS for a
    data key only for a publish the topic policy allowed. ``kms:EncryptionContext:aws:sns:topicArn`` is left out too:
    AWS documents it for other services publishing to an encrypted topic (the GameLift FlexMatch guide's key policy),
    not for EventBridge, and an unsupported condition fails every delivery silently, the very failure fixed here."""
    return {
        "Sid": EVENTBRIDGE_TOPIC_KEY_SID,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
    }


# What the default SNS topic policy grants the owning account; a topic policy replaces the default, so it repeats it.
SNS_OWNER_ACTIONS = (
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
)


def alarm_topic_policy(topic_arn: str, *, region: str, account_id: str) -> str:
    """Topic policy of the alarm topic: no publishing without TLS (PCI DSS 4.2.1), the account keeps the rights the
    default policy gave it (named as the account root, not ``"AWS": "*"``), and CloudWatch alarms, RDS event
    subscriptions (for this account's RDS resources of the region) and EventBridge rules of this account and region
    may publish."""
    return policy_document(
        [
            {
                "Sid": "DenyPublishWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "AccountOwnerAccess",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": list(SNS_OWNER_ACTIONS),
                "Resource": topic_arn,
            },
            *(
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "SNS:Publish",
                    "Resource": topic_arn,
                    "Condition": _service_source_condition(sources, account_id),
                }
                for sid, service, sources in (
                    ("CloudWatchAlarmsPublish", "cloudwatch.amazonaws.com", cloudwatch_alarm_arns(region, account_id)),
                    (
                        "RdsEventsPublish",
                        "events.rds.amazonaws.com",
                        rds_event_source_arns(region, account_id),
                    ),
                    ("EventBridgeRulesPublish", "events.amazonaws.com", eventbridge_rule_arns(region, account_id)),
                )
            ),
        ]
    )


def cloudfront_distribution_access(
    sid: str, action: str | list[str], resource: str, distribution_arn: str
) -> Statement:
    """``action`` on ``resource`` for CloudFront, on behalf of one distribution only (origin access control)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": action,
        "Resource": resource,
        "Condition": {"StringEquals": {"aws:SourceArn": distribution_arn}},
    }


# What SSM Agent needs for Session Manager and nothing else: AWS's minimal policy ("Create a custom IAM role for
# Session Manager", Systems Manager User Guide, getting-started-create-iam-instance-profile.html; the same actions
# as the AWS managed AWSCloud9SSMInstanceProfile). It replaces AmazonSSMManagedInstanceCore, which also grants
# ssm:GetParameter(s) on "*": every parameter of the account and region, SecureStrings on the default aws/ssm
# key included. ec2messages (Run Command) and the association, inventory and patch actions are left out: the
# stack uses none of them. The ssmmessages actions have no resource types (Service Authorization Reference),
# so they can only be granted on "*".
SESSION_CHANNEL_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


def session_manager_statements(region: str, account_id: str) -> list[Statement]:
    """Session Manager on an instance: the agent's heartbeat, scoped to this account's instances in the region
    (``ssm:UpdateInstanceInformation`` takes the ``instance`` and ``managed-instance`` resource types), and the
    session channels."""
    return [
        {
            "Sid": "SessionManagerRegistration",
            "Effect": "Allow",
            "Action": ["ssm:UpdateInstanceInformation"],
            "Resource": [
                f"arn:aws:ec2:{region}:{account_id}:instance/*",
                f"arn:aws:ssm:{region}:{account_id}:managed-instance/*",
            ],
        },
        {
            "Sid": "SessionManagerChannels",
            "Effect": "Allow",
            "Action": list(SESSION_CHANNEL_ACTIONS),
            "Resource": "*",
        },
    ]


def decrypt_via_services(sid: str, key_arn: str, services: Iterable[str], region: str) -> Statement:
    """``kms:Decrypt`` with ``key_arn`` only when the request comes through one of ``services`` in ``region``
    (``kms:ViaService``): the credentials cannot decrypt a ciphertext handed to KMS directly (PCI DSS 3.6)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": key_arn,
        "Condition": {
            "StringEquals": {
                "kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in services],
            }
        },
    }


# Interface endpoints whose resources all live in this account (keys, secrets, log groups): their endpoint policy
# also holds the resource to the account (aws:ResourceAccount). The others stay on aws:PrincipalAccount only:
# SSM Agent reads AWS-owned documents and public parameters, and ssmmessages, ec2messages, monitoring
# (PutMetricData) and sts (GetCallerIdentity) act on no resource of the account; autoscaling's calls (the boot's
# CompleteLifecycleAction) are held to this stack's group by the instance role itself.
RESOURCE_ACCOUNT_ENDPOINT_SERVICES = ("kms", "secretsmanager", "logs")


def interface_endpoint_policy(service: str, account_id: str) -> str:
    """Endpoint policy of an interface endpoint: only principals of this account may use it (PCI DSS 1.4.2: no
    path out of the CDE for another account's credentials), and, for ``RESOURCE_ACCOUNT_ENDPOINT_SERVICES``, only
    on this account's resources. It narrows what IAM grants; it grants nothing by itself."""
    condition: dict[str, str] = {"aws:PrincipalAccount": account_id}
    if service in RESOURCE_ACCOUNT_ENDPOINT_SERVICES:
        condition["aws:ResourceAccount"] = account_id
    return policy_document(
        [
            {
                "Sid": "ThisAccountOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": condition},
            }
        ]
    )


def amazon_linux_repository_bucket(region: str) -> str:
    """The bucket AL2023's dnf repositories are served from in ``region`` (``al2023-repos-<region>-de612dc2``,
    the name dnf resolves its mirror list to; AL2023 User Guide, package repository access through an S3 gateway
    endpoint)."""
    return f"al2023-repos-{region}-de612dc2"


def s3_gateway_endpoint_policy(account_id: str, region: str) -> str:
    """Endpoint policy of the S3 gateway endpoint: this account's buckets (aws:ResourceAccount) and read-only access
    to the Amazon Linux 2023 repository bucket of the region, nothing else (PCI DSS 1.4.2: no exfiltration to a
    bucket of another account through the endpoint)."""
    repository = amazon_linux_repository_bucket(region)
    return policy_document(
        [
            {
                "Sid": "ThisAccountBuckets",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceAccount": account_id}},
            },
            {
                "Sid": "AmazonLinuxRepositories",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{repository}/*"],
            },
        ]
    )


# The service that writes vended logs (WAF's among them) into CloudWatch Logs, and the writes it needs (CloudWatch Logs
# User Guide, "Logs sent to CloudWatch Logs": the AWSLogDeliveryWrite policy AWS would otherwise write itself).
LOG_DELIVERY_PRINCIPAL = "delivery.logs.amazonaws.com"
LOG_DELIVERY_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def log_delivery_policy(*, log_group_arns: Iterable[str], region: str, account_id: str) -> str:
    """A CloudWatch Logs resource policy letting the log delivery service write to exactly ``log_group_arns`` (their
    log streams: ``<arn>:*``), for deliveries of ``account_id`` in ``region`` only (aws:SourceAccount,
    aws:SourceArn: the confused-deputy guard AWS documents for it)."""
    return policy_document(
        [
            {
                "Sid": "LogDeliveryWrite",
                "Effect": "Allow",
                "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
                "Action": list(LOG_DELIVERY_ACTIONS),
                "Resource": [f"{arn}:*" for arn in log_group_arns],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account_id}:*"},
                },
            }
        ]
    )
