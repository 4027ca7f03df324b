"""Sessions and hosts (issue 28 item 4; PCI DSS 10.2.1, 10.2.1.2, 10.3.3, 10.5.1, 11.5.2): what an API instance's
operators and its operating system leave behind, and where.

- Session Manager preferences: the SSM document ``SSM-SessionManagerRunShell``, which AWS reads for every
  ``aws ssm start-session`` without a document of the account and region (one per account and region, so only the
  stack with ``manage_session_preferences`` owns it: ``MANAGE_SESSION_PREFERENCES``, true for the first stack there;
  the account preflight reports one that exists). Every session is streamed to ``session_log_group`` (KMS-encrypted,
  ``log_retention_days``) and its transcript uploaded to the log archive under ``session-manager/<suffix>/`` (Object
  Lock, 400 days); the session channel is encrypted with ``session_key`` (``kmsKeyId``: the agent refuses a session
  whose data key it cannot decrypt); sessions run as ``ssm-user`` (``runAsEnabled``), which the boot creates without
  sudo (services/payment_api/boot/hardening.sh), never as root; a session idle for 15 minutes ends (PCI DSS 8.2.8).
- The OS security logs: ``os_log_group`` (KMS-encrypted, ``log_retention_days``) receives, through the CloudWatch
  agent, ``/var/log/secure`` (sshd, sudo, su, useradd: authentication), the audit log when auditd writes one, and
  the file-integrity monitor's findings (boot/hardening.sh).
- The instance role's share of both: :meth:`HostSecurity.instance_statements`, an inline policy of the API instance
  role added by :meth:`HostSecurity.grant` (least privilege: each log group's streams, the archive's one prefix,
  ``kms:Decrypt`` on the session key only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.ssm_document import SsmDocument
from constructs import Construct

from lib.blocks.iam import Statement, policy_document, write_log_stream_statement
from lib.blocks.kms import KeyProps, customer_managed_key
from lib.blocks.log_groups import LogGroupProps, encrypted_log_group
from lib.naming import Naming

# AWS's name for the account's and region's Session Manager preferences (Systems Manager User Guide, "Create a
# Session Manager preferences document (command line)"): `start-session` without --document-name reads it.
SESSION_PREFERENCES_DOCUMENT = "SSM-SessionManagerRunShell"
# The non-root user sessions run as (runAsDefaultUser). The SSM agent creates it with passwordless sudo only when
# runAs is disabled; with runAs enabled it must exist, so the boot creates it, without sudo.
SESSION_USER = "ssm-user"
# PCI DSS 8.2.8: a session idle for more than 15 minutes ends (Session Manager counts minutes, as a string).
IDLE_SESSION_MINUTES = 15
# The longest session, in minutes: an operator starts a new (logged) one rather than keep a shell open all day.
MAX_SESSION_MINUTES = 60
SESSION_LOG_PREFIX = "session-manager"
# The log groups: /<project>/<project>-<path>-<suffix>, like the service's (/<project>/<project>-api-<suffix>).
SESSION_LOG_PATH = "sessions"
OS_LOG_PATH = "os-security"


@dataclass(frozen=True, kw_only=True)
class HostSecurityProps:
    """Where sessions and OS security logs go, and whether this stack owns the session preferences."""

    naming: Naming
    """Names and tags."""
    region: str
    """The stack's region (the preferences document is regional)."""
    account_id: str
    """The stack's account (the session key's policy delegates use to its IAM policies)."""
    logs_key_arn: str
    """The logs key, encrypting both log groups (PCI DSS 3.5)."""
    log_retention_days: float
    """Days both log groups keep (``log_retention_days``: 365 in production, PCI DSS 10.5.1)."""
    archive_bucket_name: str
    """The log archive (``LogArchive.bucket_name``): session transcripts under ``session-manager/<suffix>/``."""
    archive_bucket_arn: str
    """The same bucket, for the instance role's policy."""
    manage_session_preferences: bool = True
    """Create ``SSM-SessionManagerRunShell`` (``MANAGE_SESSION_PREFERENCES``).

    @default True - the first stack in an account and region owns it; every further one passes False (AWS refuses a
    second document of that name) and its sessions follow the existing preferences (the account preflight says so)."""
    admin_principal_arn: str | None = None
    """Who administers the session key (``KMS_ADMIN_PRINCIPAL_ARN``).

    @default None - the account root (lib/blocks/kms.py)."""


class HostSecurity(Construct):
    """The session key, the session and OS security log groups and, when owned, the session preferences."""

    def __init__(self, scope: Construct, construct_id: str, *, props: HostSecurityProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        self._props = props
        self._session_key = customer_managed_key(
            self,
            "session_key",
            props=KeyProps(
                naming=naming,
                purpose="sessions",
                account_id=props.account_id,
                admin_principal_arn=props.admin_principal_arn,
                description="Session Manager session data (the preferences' kmsKeyId): operators generate data keys, "
                "the API instances decrypt",
            ),
        )
        self._session_log_group = self._log_group("session_log_group", SESSION_LOG_PATH, "session-logs")
        self._os_log_group = self._log_group("os_log_group", OS_LOG_PATH, "os-security-logs")
        self._document: SsmDocument | None = None
        if props.manage_session_preferences:
            self._document = SsmDocument(
                self,
                "session_preferences",
                name=SESSION_PREFERENCES_DOCUMENT,
                document_type="Session",
                document_format="JSON",
                content=json.dumps(self.session_preferences()),
                tags=naming.tags("session-preferences"),
            )

    def _log_group_name(self, path: str) -> str:
        """A plain name (no token): the user data carries it, and user data may hold no Terraform reference."""
        return f"/{self._props.naming.project}/{self._props.naming.name(path)}"

    def _log_group(self, construct_id: str, path: str, component: str) -> CloudwatchLogGroup:
        props = self._props
        return encrypted_log_group(
            self,
            construct_id,
            props=LogGroupProps(
                name=self._log_group_name(path),
                retention_days=props.log_retention_days,
                kms_key_arn=props.logs_key_arn,
                tags=props.naming.tags(component),
            ),
        )

    def session_preferences(self) -> dict[str, object]:
        """The preferences document's content (Systems Manager User Guide, "Session document schema")."""
        props = self._props
        return {
            "schemaVersion": "1.0",
            "description": f"Session Manager preferences of {props.naming.name('stack')}: logged, encrypted, non-root",
            "sessionType": "Standard_Stream",
            "inputs": {
                "s3BucketName": props.archive_bucket_name,
                "s3KeyPrefix": self.session_log_prefix,
                "s3EncryptionEnabled": True,
                "cloudWatchLogGroupName": self._session_log_group.name,
                "cloudWatchEncryptionEnabled": True,
                "cloudWatchStreamingEnabled": True,
                "kmsKeyId": self._session_key.arn,
                "runAsEnabled": True,
                "runAsDefaultUser": SESSION_USER,
                "idleSessionTimeout": str(IDLE_SESSION_MINUTES),
                "maxSessionDuration": str(MAX_SESSION_MINUTES),
                "shellProfile": {"linux": "", "windows": ""},
            },
        }

    def instance_statements(self) -> list[Statement]:
        """What an API instance's SSM agent and CloudWatch agent need for the session logs and the OS security logs.

        The agent checks both destinations are encrypted before a session starts (``logs:DescribeLogGroups``, an
        action without a resource type, so on "*": it lists names and settings, reads no log event; and
        ``s3:GetEncryptionConfiguration`` on the archive), writes the transcript under its prefix only, and decrypts
        the session's data key."""
        props = self._props
        return [
            write_log_stream_statement("SessionLogStreams", self._session_log_group.arn),
            write_log_stream_statement("OsSecurityLogStreams", self._os_log_group.arn),
            {
                "Sid": "SessionLogEncryptionCheck",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups"],
                # No resource type (Service Authorization Reference; facts/iam.json): "*" is the only resource.
                "Resource": "*",
            },
            {
                "Sid": "SessionTranscripts",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": f"{props.archive_bucket_arn}/{self.session_log_prefix}/*",
            },
            {
                "Sid": "SessionArchiveEncryptionCheck",
                "Effect": "Allow",
                "Action": ["s3:GetEncryptionConfiguration"],
                "Resource": props.archive_bucket_arn,
            },
            {
                "Sid": "SessionDataKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": self._session_key.arn,
            },
        ]

    def grant(self, *, role_name: str) -> IamRolePolicy:
        """The instance role's inline policy with :meth:`instance_statements` (the API group's boot waits for it:
        the CloudWatch agent ships the OS security logs from the first boot)."""
        return IamRolePolicy(
            self,
            "instance_policy",
            name=self._props.naming.name("api-host-logs", "iam"),
            role=role_name,
            policy=policy_document(self.instance_statements()),
        )

    @property
    def session_log_prefix(self) -> str:
        """The archive prefix of this stack's session transcripts."""
        return f"{SESSION_LOG_PREFIX}/{self._props.naming.suffix}"

    @property
    def session_log_group_name(self) -> str:
        return self._session_log_group.name

    @property
    def os_log_group_name(self) -> str:
        """The OS security log group's name, plain (for the user data); the group exists before the API group boots
        (the instance policy of :meth:`grant` names its ARN, and the API group waits for that policy)."""
        return self._log_group_name(OS_LOG_PATH)

    @property
    def os_log_group(self) -> CloudwatchLogGroup:
        return self._os_log_group

    @property
    def session_key_arn(self) -> str:
        return self._session_key.arn

    @property
    def preferences_document(self) -> SsmDocument | None:
        """The preferences document, or None when another stack of the account and region owns it."""
        return self._document
