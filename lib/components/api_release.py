"""What a payment API instance installs and reads at boot: the artifact, its runtime settings and its log group.

- The artifacts bucket has the stack's bucket baseline (public access blocked, versioned, KMS with the data key,
  TLS 1.2+ only) and access logging; its policy lets exactly the readers named in ``restrict_reads`` (the instance
  role and the named deployers, ``DEPLOYER_PRINCIPAL_ARNS``) read objects (PCI DSS 7.2).
- Every release (``make artifact``) is uploaded to one key, ``payment-api/payment-api.tar.gz``
  (``lib/artifact.py``'s ``OBJECT_KEY``): Terraform overwrites the object in place (the same address; new bytes are
  an update, never a replacement), and the object's metadata carries the release's sha256, version and build kind.
  The user data names the release by its sha256, so the launch template gets a new version and the Auto Scaling
  group's instance refresh rolls it out; each instance fetches the object version whose ``sha256`` metadata matches.
  The lifecycle keeps the newest ``ARTIFACT_RELEASES_KEPT`` replaced releases (default 5) as noncurrent versions,
  however old (``make rollback RELEASE=<version or sha256 prefix>``); older ones expire a day after they are
  replaced.
- The runtime parameter (SSM SecureString, data key) carries what is known only at apply time (the database host, the
  master secret's and the idempotency secret's ARNs, the checkout origin CORS admits, the processor, the bucket): the
  user data holds no such value, so it stays stable and secret-free, and the instance reads the parameter at boot as
  root.
- The service's log group: KMS-encrypted with the logs key, the stack's retention (PCI DSS 10.5.1); the CloudWatch
  agent on each instance ships the service's log file into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdktf import AssetType, ITerraformDependable, TerraformAsset, Token
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_object import S3Object
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct
from tap_contract.runtime import ARTIFACT_BUCKET, Setting, parameter_value

from lib.artifact import PaymentApiArtifact
from lib.blocks.access_logs import AccessLogDestination, server_access_logging
from lib.blocks.buckets import (
    bucket_lifecycle,
    object_events_to_eventbridge,
    secure_bucket_baseline,
    tls_only_bucket_policy,
)
from lib.blocks.iam import deny_object_reads_except
from lib.blocks.log_groups import LogGroupProps, encrypted_log_group
from lib.naming import Naming
from lib.suppressions import suppress

NONCURRENT_ARTIFACT_DAYS = 1
"""Days a replaced release beyond the newest ``releases_kept`` stays (S3's minimum: the lifecycle keeps the newest
N by count, ``NewerNoncurrentVersions``; an age-only rule cannot express "the newest N")."""


# The bucket's component name (``Naming.bucket_name``): the access-log bucket admits S3 log delivery for it by name.
BUCKET_COMPONENT = "artifacts"


@dataclass(frozen=True, kw_only=True)
class ApiReleaseProps:  # pylint: disable=too-many-instance-attributes
    """The artifact, where and how it is stored, and what the instances read at boot."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """Part of the bucket name (global uniqueness)."""
    artifact: PaymentApiArtifact
    """The archive ``make artifact`` built (``lib/artifact.py`` reads its pointer)."""
    data_key_arn: str
    """Encrypts the artifacts and the runtime parameter (PCI DSS 3.5)."""
    logs_key_arn: str
    """Encrypts the service's log group (PCI DSS 3.5, 10.5)."""
    log_retention_days: float
    """The stack's log retention (PCI DSS 10.5.1)."""
    access_logs: AccessLogDestination
    """Where the bucket's server access logs go (PCI DSS 10.2)."""
    runtime: Mapping[Setting[Any], str | float]
    """The apply-time values written to the runtime parameter: every setting of ``tap_contract.runtime`` but the
    artifacts bucket, which this component fills in (Terraform references are fine here)."""
    releases_kept: int = 5
    """Replaced releases kept as noncurrent versions of the artifact object, newest first (``ARTIFACT_RELEASES_KEPT``,
    1-100: S3's range of ``NewerNoncurrentVersions``).

    @default 5"""
    force_destroy: bool = False
    """Let ``terraform destroy`` delete stored artifacts with the bucket.

    @default False - the artifacts are the deployed releases (rollback, evidence of what ran); the stack never sets
    True: ``make destroy`` empties the bucket as the deployer before it destroys."""


class ApiRelease(Construct):
    """Artifacts bucket, the artifact object, the runtime parameter and the service's log group."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ApiReleaseProps) -> None:
        super().__init__(scope, construct_id)
        naming, artifact = props.naming, props.artifact
        self._props = props
        self._bucket = S3Bucket(
            self,
            "bucket",
            bucket=naming.bucket_name(BUCKET_COMPONENT, props.account_id),
            force_destroy=props.force_destroy,
            tags=naming.tags(BUCKET_COMPONENT),
        )
        self._protect_bucket(props)
        asset = TerraformAsset(self, "archive", path=str(artifact.path), type=AssetType.FILE)
        self._object = S3Object(
            self,
            "artifact",
            bucket=self._bucket.id,
            key=artifact.object_key,
            source=asset.path,
            kms_key_id=props.data_key_arn,
            server_side_encryption="aws:kms",
            source_hash=artifact.sha256,
            content_type="application/gzip",
            # What the instance matches its version by (sha256) and make rollback rebuilds the pointer from.
            metadata=artifact.metadata,
            # No Name tag: S3 allows 10 tags on an object and the provider's default tags are 8 of them
            # (PF-S3-OBJECT-TAGS); the key names the object.
        )
        self._log_group: CloudwatchLogGroup = encrypted_log_group(
            self,
            "log_group",
            props=LogGroupProps(
                name=self.log_group_name,
                retention_days=props.log_retention_days,
                kms_key_arn=props.logs_key_arn,
                tags=naming.tags("api-logs"),
            ),
        )
        self._parameter = SsmParameter(
            self,
            "runtime_parameter",
            name=f"/{naming.project}/{naming.suffix}/payment-api/runtime",
            description="Payment API settings known at apply time, read by the instances' boot step (no secrets)",
            type="SecureString",
            key_id=props.data_key_arn,
            value=parameter_value({**props.runtime, ARTIFACT_BUCKET: self._bucket.bucket}),
            tags=naming.tags("api-runtime"),
        )

    def _protect_bucket(self, props: ApiReleaseProps) -> None:
        secure_bucket_baseline(
            self,
            "artifacts",
            bucket=self._bucket,
            object_ownership="BucketOwnerEnforced",
            encryption=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms",
                kms_master_key_id=props.data_key_arn,
            ),
        )
        bucket_lifecycle(
            self,
            "lifecycle",
            bucket=self._bucket,
            rule_id="keep-newest-replaced-artifacts",
            noncurrent_days=NONCURRENT_ARTIFACT_DAYS,
            newer_noncurrent_versions=props.releases_kept,
        )
        # A new artifact (or an unexpected write) is an event the account's monitoring can subscribe to (6.3.3).
        object_events_to_eventbridge(self, "events", bucket=self._bucket)
        suppress(
            self._bucket,
            "CKV_AWS_144",
            "The artifact is rebuilt reproducibly by `make artifact` and re-uploaded by any apply; versioning "
            "keeps earlier releases. Cross-region replication would add a copy for no control.",
        )
        server_access_logging(
            self,
            "access_logging",
            bucket=self._bucket,
            destination=props.access_logs,
            name=props.naming.name("artifacts"),
        )

    def restrict_reads(self, reader_arns: list[str]) -> S3BucketPolicy:
        """The bucket policy: TLS 1.2+ only, and object reads by ``reader_arns`` only (PCI DSS 4.2.1, 7.2).

        Returns the policy, for what must wait for it (the instances' first boot reads the artifact under it)."""
        return tls_only_bucket_policy(
            self,
            "policy",
            bucket=self._bucket,
            statements=[deny_object_reads_except("DenyReadsButInstancesAndDeployers", self._bucket.arn, reader_arns)],
        )

    @property
    def bucket_name(self) -> str:
        return self._bucket.bucket

    @property
    def bucket_arn(self) -> str:
        """The artifacts bucket (the instance role lists the artifact's versions in it, under its key only)."""
        return self._bucket.arn

    @property
    def upload(self) -> S3Object:
        """The artifact object: the launch template that names a release waits for its upload."""
        return self._object

    @property
    def object_key(self) -> str:
        return self._props.artifact.object_key

    @property
    def sha256(self) -> str:
        return self._props.artifact.sha256

    @property
    def runtime_parameter_name(self) -> str:
        return f"/{self._props.naming.project}/{self._props.naming.suffix}/payment-api/runtime"

    @property
    def runtime_parameter_arn(self) -> str:
        return self._parameter.arn

    @property
    def runtime_parameter_version(self) -> str:
        """The parameter's version (a token): it grows with every change of its value, so a launch template that
        carries it gets a new version, which the instance refresh rolls out (settings roll the fleet)."""
        return Token.as_string(self._parameter.version)

    @property
    def boot_reads(self) -> list[ITerraformDependable]:
        """What an instance's boot reads from this release: the artifact object, the runtime parameter (which
        waits for the database it names) and the service's log group (the CloudWatch agent ships into it)."""
        return [self._object, self._parameter, self._log_group]

    @property
    def log_group_name(self) -> str:
        return f"/{self._props.naming.project}/{self._props.naming.name('api')}"

    @property
    def log_group_arn(self) -> str:
        return self._log_group.arn

    @property
    def log_group_reference(self) -> str:
        """The log group's name as a reference to the resource: what is subscribed to it waits for it."""
        return self._log_group.name

    @property
    def log_group(self) -> ITerraformDependable:
        """The service's log group, for what must wait until it exists (its metric filters)."""
        return self._log_group
