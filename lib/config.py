"""One validated, immutable configuration object for the whole stack.

Everything a user can set comes in through ``StackConfig.from_env`` and is checked before any construct
is created, so a bad value stops synth with a message that names the variable, the value and what is
allowed, and nothing is written to ``cdktf.out``. Every setting's default, range and allowed values come
from its entry in ``lib/tunables.py``; the rules here that are more than that (patterns, AWS facts,
cross-field rules, the production guardrails) read their bounds from there too. Values an operator tunes
per environment (sizes, thresholds, retention) are only *defaults* here: the stack exposes them as
Terraform input variables, whose validation blocks repeat these rules for values given at plan time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from tap_contract import identity

from facts import (
    AWS_REGION_NAMES,
    CLOUDFRONT_LOGGING_UNSUPPORTED_REGIONS,
    SUPPORTED_REGIONS,
    db_class_problem,
    ec2_type_problem,
    egress_cidr_problem,
    minimum_storage_ceiling,
    s3_bucket_name_problems,
    tag_value_problem,
    vpc_cidr_problem,
)
from lib import deployer_principals
from lib.tunables import (
    BOOLEAN,
    CONFIG_TUNABLES,
    DEVELOPMENT,
    ENVIRONMENT_TYPES,
    PROCESSORS,
    PRODUCTION,
    SIMULATED,
    STRIPE,
    SUFFIX_MAX_LENGTH,
    WHOLE_NUMBER,
    Tunable,
    TunableValues,
    default,
    tunable,
)

T = TypeVar("T")

# The suffix ends up in every resource name. The tightest AWS limit it meets is the ALB/target group name
# (32 characters, "payment-api-tg-" takes 15) and S3 bucket names (lowercase, no underscores).
SUFFIX_PATTERN = re.compile(rf"^[a-z0-9](?:[a-z0-9-]{{0,{SUFFIX_MAX_LENGTH - 2}}}[a-z0-9])?$")
# A KMS key by key ARN (single- or multi-Region key id) or alias ARN; group 1 is the key's region.
KMS_KEY_ARN_PATTERN = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:kms:([a-z0-9-]+):[0-9]{12}:"
    r"(?:key/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
    r"|alias/[A-Za-z0-9/_-]{1,250})$"
)

# Who may administer the stack's KMS keys: the account root or one IAM role or user (no wildcard, no session ARN).
IAM_PRINCIPAL_ARN_PATTERN = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:iam::[0-9]{12}:(?:root|(?:role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})$"
)

# A Route 53 hosted zone id as AWS returns it without the "/hostedzone/" prefix (the API allows 32 characters;
# every id AWS issues starts with Z: Z1D633PJN98FT9, Z0123456789ABCDEFGHIJ).
HOSTED_ZONE_ID_PATTERN = re.compile(r"Z[A-Z0-9]{1,31}")

REGION_FILE = Path(__file__).resolve().parent / "AWS_REGION"
# The project root: the local backend keeps its state here, outside every synth output (cdktf's own default).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_STATE_DIR = PROJECT_ROOT / "sandbox-state"

# The explicit "no alarm subscription" (development only); an empty ALARM_EMAIL is an error, not an opt-out.
NO_ALARM_EMAIL = "none"
PCI_MIN_LOG_RETENTION_DAYS = 365
# The processor a development stack runs when PAYMENT_PROCESSOR is unset; production has no default.
DEVELOPMENT_PROCESSOR = SIMULATED
# A Secrets Manager secret's full ARN (group 1: its region); the suffix is the 6 characters AWS appends to the name.
STRIPE_SECRET_ARN_PATTERN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:secretsmanager:([a-z0-9-]+):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}"
)
STRIPE_PUBLISHABLE_KEY_PATTERN = re.compile(r"pk_(?:live|test)_[A-Za-z0-9]{8,247}")
# A Stripe emulator's base URL, as the service accepts it (payment_api/config.py's ORIGIN): scheme, host, port.
STRIPE_API_BASE_PATTERN = re.compile(r"https?://[a-z0-9.-]+(?::[0-9]{1,5})?")
# Ports the API must not take: SSH, the ALB's HTTPS listener and PostgreSQL, which the security groups use.
RESERVED_PORTS = (22, 443, 5432)
# `make destroy`'s synth (DESTROY=1) stamps the final snapshot's name with its UTC start: <db>-final-<stamp>.
DESTROY_STAMP_FORMAT = "%Y%m%d%H%M%S"
DESTROY_STAMP_PATTERN = re.compile(r"[0-9]{14}")
# Read by from_env besides the tunables: `make destroy`'s mode and its one option (tools/deploy/destroy.py sets DESTROY;
# the user gives SKIP_FINAL_SNAPSHOT). Not tunables: no environment file or plan ever sets them.
DESTROY_MODE_VARIABLES = ("DESTROY", "SKIP_FINAL_SNAPSHOT")


def _shown_stripe_value(value: str) -> str:
    """A Stripe setting as an error may show it: an ARN, a publishable key or a URL as given; anything else (a secret
    key pasted into the wrong variable) by its first 3 characters only."""
    if value.startswith(("arn:", "pk_", "http://", "https://")):
        return value
    return f"{value[:3]}... (not shown: it is not a publishable key or an ARN)"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable, the value and the fix."""


def stack_name_for(environment_suffix: str) -> str:
    """The stack of suffix ``environment_suffix``: ``TapStack<suffix>``, the CDKTF stack id, its folder under
    ``cdktf.out/stacks/`` and its key in cfn-outputs/flat-outputs.json. Renaming it would move every deployment's
    state: the tools derive it here, never by hand (the contract, ``tap_contract.identity``, spells it)."""
    return identity.stack_name(environment_suffix)


def local_state_file(folder: Path, stack_name: str) -> Path:
    """Where the local backend keeps ``stack_name``'s state inside ``folder`` (cdktf's own file name)."""
    return folder / identity.local_state_file_name(stack_name)


_DNS_NAME = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _fail(variable: str, value: object, allowed: str, fix: str) -> ConfigError:
    if value is None:
        return ConfigError(f"{variable} is not set: {allowed}. {fix}")
    return ConfigError(f"{variable}={value!r} is invalid: {allowed}. {fix}")


# What a production stack must have; each entry: (variable, what is wrong, fix). The settings production requires
# say so in their entry (``production_requires``); the rules below are more than "set". Checked in one place so
# the message lists every gap at once.
def _production_gaps(config: StackConfig) -> list[tuple[str, str, str]]:
    gaps = [
        (setting.name, *setting.production_requires)
        for setting in CONFIG_TUNABLES
        if setting.production_requires is not None and not getattr(config, str(setting.field))
    ]
    # The state's own key: required wherever the state is in S3, which production requires (a development stack on
    # local state has no bucket to encrypt, so no gap).
    if not config.state_kms_key_arn and (config.state_bucket or config.environment_type == PRODUCTION):
        gaps.append(
            (
                "TERRAFORM_STATE_KMS_KEY_ARN",
                "the state (every resource's settings, the database's endpoint, secret ARNs) would be encrypted only "
                "with the bucket's default key, which anyone who may read the bucket can use",
                "create a customer managed KMS key in the state bucket's region and set TERRAFORM_STATE_KMS_KEY_ARN "
                'to its ARN or alias ARN (docs/deploying.md, "State bucket")',
            )
        )
    if config.log_retention_days < PCI_MIN_LOG_RETENTION_DAYS:
        gaps.append(
            (
                "LOG_RETENTION_DAYS",
                f"{config.log_retention_days} days is under PCI DSS 10.5.1's 12 months",
                f"use {PCI_MIN_LOG_RETENTION_DAYS} or more",
            )
        )
    if config.payment_processor == SIMULATED:
        gaps.append(
            (
                "PAYMENT_PROCESSOR",
                "the simulator approves test tokens it was never given by a processor, so it cannot take real money",
                f"set PAYMENT_PROCESSOR={STRIPE} with STRIPE_SECRET_KEY_ARN and STRIPE_PUBLISHABLE_KEY",
            )
        )
    if config.payment_processor == STRIPE and not config.payment_processor_egress_cidrs.strip():
        gaps.append(
            (
                "PAYMENT_PROCESSOR_EGRESS_CIDRS",
                "with the Stripe processor and no egress to Stripe's addresses the instances cannot reach Stripe's "
                "API, so every payment would stay processing",
                "set PAYMENT_PROCESSOR_EGRESS_CIDRS to Stripe's published API addresses (docs/deploying.md, "
                '"Egress to Stripe")',
            )
        )
    if not config.deletion_protection:
        gaps.append(
            (
                "DELETION_PROTECTION",
                "the database and load balancer could be deleted without a final snapshot",
                "unset DELETION_PROTECTION (it defaults to true)",
            )
        )
    return gaps


@dataclass(frozen=True)
class StackConfig(TunableValues):  # pylint: disable=too-many-instance-attributes
    """Validated settings: every tunable's field (``lib/tunables.py``, the configuration table of docs/deploying.md
    says what each means), and the few values that are not tunable."""

    project: str = "payment"
    data_classification: str = "pci-cde"
    az_count: int = 3
    # Destroy mode (`make destroy` only, tools/deploy/destroy.py; not tunables: never set in an environment file).
    destroy_stamp: str | None = None
    """DESTROY=1: the UTC time of the synth (YYYYMMDDHHMMSS) that ends the final snapshot's name; None otherwise."""
    skip_final_snapshot: bool = False
    """SKIP_FINAL_SNAPSHOT=1: destroy without a final snapshot (destroy mode only, never in production)."""
    default_tags: Mapping[str, str] = field(default_factory=dict, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        self._validate()
        production = self.environment_type == PRODUCTION
        tags = {
            "Environment": self.environment_suffix,
            "EnvironmentType": self.environment_type,
            "Project": self.project,
            "Owner": self.owner,
            "Repository": self.repository,
            # A development stack is never a place for cardholder data, and says so on every resource.
            "DataClassification": self.data_classification if production else "non-cde",
            "Compliance": "pci-dss",
            "ManagedBy": "cdktf",
        }
        object.__setattr__(self, "default_tags", tags)
        if not production:
            object.__setattr__(
                self,
                "warnings",
                tuple(
                    f"development stack: {what} ({variable}); production requires: {fix}"
                    for variable, what, fix in _production_gaps(self)
                ),
            )

    # ------------------------------------------------------------------ derived values
    @property
    def stack_name(self) -> str:
        """The CDKTF stack id; also the key of cfn-outputs/flat-outputs.json."""
        return stack_name_for(self.environment_suffix)

    @property
    def sandbox(self) -> bool:
        """True when the provider is pointed at a local emulator instead of AWS."""
        return self.sandbox_endpoint is not None

    @property
    def state_key(self) -> str:
        return identity.state_key(self.environment_suffix)

    @property
    def local_state_path(self) -> Path:
        """Absolute path of the local backend's state: in the project root (the sandbox: ``sandbox-state/``),
        never inside ``cdktf.out``, where synth writes."""
        return local_state_file(SANDBOX_STATE_DIR if self.sandbox else PROJECT_ROOT, self.stack_name)

    @property
    def payment_processor_cidrs(self) -> tuple[str, ...]:
        """``PAYMENT_PROCESSOR_EGRESS_CIDRS`` as a tuple, in the given order (empty: no internet egress)."""
        return tuple(part.strip() for part in self.payment_processor_egress_cidrs.split(",") if part.strip())

    @property
    def internet_egress(self) -> bool:
        """Whether the app tier needs a way to the internet (NAT gateways, their addresses and the app subnets'
        default routes): only for the payment processor, when it is Stripe or its egress CIDRs are set. Everything
        else the instances call is inside the VPC (the interface endpoints, the S3 gateway endpoint, the database)."""
        return self.api_processor == STRIPE or bool(self.payment_processor_cidrs)

    @property
    def deployers(self) -> tuple[str, ...]:
        """``DEPLOYER_PRINCIPAL_ARNS`` as a tuple, in the given order (empty: none named, development only)."""
        return deployer_principals.parse(self.deployer_principal_arns)

    @property
    def log_lock_mode(self) -> str:
        """Object Lock mode of the log archive: COMPLIANCE in production (no principal can delete a log before
        its retention ends, PCI DSS 10.3.2, 10.5.1), GOVERNANCE in development and the sandbox, which must be
        destroyable."""
        return "COMPLIANCE" if self.environment_type == PRODUCTION else "GOVERNANCE"

    @property
    def secret_recovery_window_days(self) -> int:
        """Days a deleted stack secret can be restored: 30 with deletion protection (production always has it), 0
        without, so that a destroyed development stack can be created again at once under the same names (Secrets
        Manager keeps a deleted secret's name for its recovery window)."""
        return 30 if self.deletion_protection else 0

    @property
    def destroy_mode(self) -> bool:
        """True only in `make destroy`'s synth (DESTROY=1): deletion protection off, a dated final snapshot."""
        return self.destroy_stamp is not None

    @property
    def protected_from_deletion(self) -> bool:
        """Deletion protection of the database and the load balancer as synthesized: ``deletion_protection``,
        except in destroy mode, the one synth that turns it off (in production too, after `make destroy`'s typed
        confirmation of the stack name)."""
        return self.deletion_protection and not self.destroy_mode

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        """Every check, in the order a user fixes things: where and what the stack is, then its sizes."""
        self._validate_placement()
        self._validate_backup_copy_region()
        self._validate_state_key()
        self._validate_kms_admin()
        self._validate_deployers()
        self._validate_break_glass()
        self._validate_network()
        self._validate_sizes()
        self._validate_services()
        self._validate_frontend_domain()
        self._validate_hosted_zone()
        self._validate_sandbox()
        self._validate_destroy()
        if self.environment_type == PRODUCTION:
            self._validate_production()

    def _validate_backup_copy_region(self) -> None:
        """BACKUP_COPY_REGION: another region the stack supports (its vault is created there through a provider
        alias, so the region needs AWS Backup and a KMS key like the stack's own)."""
        region = self.backup_copy_region
        if region is None:
            return
        if region == self.aws_region:
            raise _fail(
                "BACKUP_COPY_REGION",
                region,
                "the copy must leave the stack's region (AWS_REGION): a copy beside the original survives no "
                "regional outage",
                "Set it to another region (e.g. us-west-2 for us-east-1), or unset it for no copy.",
            )
        if region not in SUPPORTED_REGIONS:
            raise _fail(
                "BACKUP_COPY_REGION",
                region,
                "allowed regions are " + ", ".join(sorted(SUPPORTED_REGIONS)) + " (facts/regions.json)",
                "Set it to one of them, or unset it for no copy.",
            )

    def _validate_destroy(self) -> None:
        if self.destroy_stamp is not None and not DESTROY_STAMP_PATTERN.fullmatch(self.destroy_stamp):
            raise _fail(
                "destroy_stamp",
                self.destroy_stamp,
                "the UTC time as YYYYMMDDHHMMSS (14 digits)",
                "Let DESTROY=1 set it (`make destroy` does).",
            )
        if self.skip_final_snapshot and not self.destroy_mode:
            raise _fail(
                "SKIP_FINAL_SNAPSHOT",
                "1",
                "it is read only by `make destroy` (destroy mode, DESTROY=1); an ordinary plan never changes the "
                "final snapshot settings",
                "Unset SKIP_FINAL_SNAPSHOT, or run `make destroy ENVIRONMENT=<name> SKIP_FINAL_SNAPSHOT=1`.",
            )
        if self.skip_final_snapshot and self.environment_type == PRODUCTION:
            raise _fail(
                "SKIP_FINAL_SNAPSHOT",
                "1",
                "a production stack is always destroyed with a final snapshot of its database, the system of "
                "record of every payment, whose records outlive the stack",
                "Unset SKIP_FINAL_SNAPSHOT; delete the snapshot later, once its retention allows, with "
                '`aws rds delete-db-snapshot` (docs/deploying.md, "Destroying a stack").',
            )

    def _validate_placement(self) -> None:
        suffix = self.environment_suffix
        if len(suffix) > SUFFIX_MAX_LENGTH or not SUFFIX_PATTERN.match(suffix):
            raise _fail(
                "ENVIRONMENT_SUFFIX",
                suffix,
                f"use 1-{SUFFIX_MAX_LENGTH} lowercase letters, digits or inner hyphens "
                "(it is part of ALB, target group and S3 bucket names, which AWS limits)",
                "Set ENVIRONMENT_SUFFIX to e.g. 'dev', 'staging' or 'pr123'.",
            )
        if self.environment_type not in ENVIRONMENT_TYPES:
            raise _fail(
                "ENVIRONMENT_TYPE",
                self.environment_type,
                "allowed values are production and development",
                "Use production for a cardholder-data environment, development for anything else.",
            )
        if self.aws_region not in SUPPORTED_REGIONS:
            why = (
                " (CloudFront standard logging cannot deliver to a bucket there)"
                if self.aws_region in CLOUDFRONT_LOGGING_UNSUPPORTED_REGIONS
                else ""
            )
            raise _fail(
                "AWS_REGION",
                self.aws_region,
                f"not a region this stack supports{why}; allowed regions are "
                + ", ".join(sorted(SUPPORTED_REGIONS))
                + " (facts/regions.json says why)",
                "Set AWS_REGION (or lib/AWS_REGION) to one of them.",
            )
        if self.state_bucket_region is not None and self.state_bucket_region not in AWS_REGION_NAMES:
            raise _fail(
                "TERRAFORM_STATE_BUCKET_REGION",
                self.state_bucket_region,
                "it is not an AWS region name (e.g. us-east-1, eu-west-1; facts/aws_regions.json)",
                "Set it to the region the state bucket lives in.",
            )
        bucket_problems = s3_bucket_name_problems(self.state_bucket) if self.state_bucket is not None else []
        if bucket_problems:
            raise _fail(
                "TERRAFORM_STATE_BUCKET",
                self.state_bucket,
                "an S3 bucket name must follow AWS's naming rules: " + "; ".join(bucket_problems),
                "Set it to the name of an existing bucket, or unset it for a local backend.",
            )
        for variable, value in (("OWNER", self.owner), ("REPOSITORY", self.repository)):
            problem = tag_value_problem(value)
            if problem:
                raise _fail(
                    variable,
                    value,
                    f"it becomes a tag value on every resource and {problem}",
                    f"Set {variable} to plain text such as 'platform-team'.",
                )

    def _validate_state_key(self) -> None:
        key = self.state_kms_key_arn
        if key is None:
            return
        if self.state_bucket is None:
            raise _fail(
                "TERRAFORM_STATE_KMS_KEY_ARN",
                key,
                "it only applies to the S3 backend, and "
                "TERRAFORM_STATE_BUCKET is not set (the state would be a local file)",
                "Set TERRAFORM_STATE_BUCKET too, or unset TERRAFORM_STATE_KMS_KEY_ARN.",
            )
        match = KMS_KEY_ARN_PATTERN.match(key)
        if match is None:
            raise _fail(
                "TERRAFORM_STATE_KMS_KEY_ARN",
                key,
                "expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>) or alias ARN (...:alias/<name>)",
                "Copy the key's ARN from the KMS console or `aws kms describe-key`.",
            )
        bucket_region = self.state_bucket_region or self.aws_region
        if match.group(1) != bucket_region:
            raise _fail(
                "TERRAFORM_STATE_KMS_KEY_ARN",
                key,
                f"the key is in {match.group(1)} but the state bucket is "
                f"in {bucket_region}; S3 encrypts only with a key of the bucket's region",
                f"Use a key in {bucket_region}.",
            )

    def _validate_kms_admin(self) -> None:
        admin = self.kms_admin_principal_arn
        if admin is not None and IAM_PRINCIPAL_ARN_PATTERN.match(admin) is None:
            raise _fail(
                "KMS_ADMIN_PRINCIPAL_ARN",
                admin,
                "expected the account root (arn:aws:iam::<account>:root) "
                "or one IAM role or user ARN (arn:aws:iam::<account>:role/<name>, ...:user/<name>); no "
                "wildcard and no assumed-role session",
                "Use the ARN of the role Terraform runs as (`aws iam get-role`), or unset it for the account root.",
            )

    def _validate_deployers(self) -> None:
        raw, entries = self.deployer_principal_arns, self.deployers
        fix = (
            "List the roles that deploy, comma-separated, e.g. DEPLOYER_PRINCIPAL_ARNS=arn:aws:iam::<account>:role/"
            "ci/payment-deploy,arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_<set>_* "
            '(docs/deploying.md, "Named deployers").'
        )
        if raw.strip() and len(entries) != len(raw.split(",")):
            raise _fail(deployer_principals.SETTING, raw, "it has an empty entry", fix)
        for entry in entries:
            problem = deployer_principals.entry_problem(entry)
            if problem:
                raise _fail(
                    deployer_principals.SETTING,
                    raw,
                    f"the entry {entry!r} {problem}; allowed: {deployer_principals.ALLOWED}",
                    fix,
                )
        if len(set(entries)) != len(entries):
            raise _fail(deployer_principals.SETTING, raw, "it lists an entry twice", fix)
        accounts = sorted({deployer_principals.account_of(entry) for entry in entries})
        if len(accounts) > 1:
            raise _fail(
                deployer_principals.SETTING,
                raw,
                f"its entries name {len(accounts)} accounts ({', '.join(accounts)}); a deployer runs Terraform in the "
                "stack's account, so every entry names that one",
                fix,
            )
        for setting, arn in (
            ("FRONTEND_CERTIFICATE_ARN", self.frontend_certificate_arn),
            ("KMS_ADMIN_PRINCIPAL_ARN", self.kms_admin_principal_arn),
        ):
            if accounts and arn and deployer_principals.account_of(arn) not in ("", accounts[0]):
                raise _fail(
                    deployer_principals.SETTING,
                    raw,
                    f"its entries name account {accounts[0]}, but {setting} names the stack's account "
                    f"{deployer_principals.account_of(arn)}",
                    f"Give the roles of account {deployer_principals.account_of(arn)} (or correct {setting}).",
                )

    def _validate_break_glass(self) -> None:
        """BREAK_GLASS_ROLE_ARN: one role ARN with its path (``aws:PrincipalArn`` of its sessions), no pattern, in the
        account the named deployers and the key administrator name."""
        role = self.break_glass_role_arn
        if role is None:
            return
        fix = (
            "Give the break-glass role's ARN with its path (`aws iam get-role --role-name <name> --query Role.Arn`), "
            'e.g. arn:aws:iam::<account>:role/break-glass/log-archive-admin (docs/operating.md, "Break-glass role").'
        )
        if deployer_principals.ROLE_ARN.match(role) is None:
            problem = deployer_principals.entry_problem(role) or "is a permission set's pattern, not one role"
            raise _fail(
                "BREAK_GLASS_ROLE_ARN",
                role,
                f"it {problem}; allowed: one IAM role ARN with its path (arn:aws:iam::<account>:role/<path/>name), "
                "no wildcard",
                fix,
            )
        for setting, arn in (
            (deployer_principals.SETTING, self.deployers[0] if self.deployers else None),
            ("KMS_ADMIN_PRINCIPAL_ARN", self.kms_admin_principal_arn),
        ):
            other = deployer_principals.account_of(arn) if arn else ""
            if other and other != deployer_principals.account_of(role):
                raise _fail(
                    "BREAK_GLASS_ROLE_ARN",
                    role,
                    f"it names account {deployer_principals.account_of(role)}, but {setting} names the stack's "
                    f"account {other}; the archive's policy can only exempt a role of its own account",
                    f"Give the break-glass role of account {other} (or correct {setting}).",
                )

    def _validate_services(self) -> None:
        versions = tunable("DB_ENGINE_VERSION").allowed
        if self.db_engine_version not in versions:
            raise _fail(
                "DB_ENGINE_VERSION",
                self.db_engine_version,
                "give a PostgreSQL major version RDS offers: " + ", ".join(versions),
                "Use the major version only (e.g. '15'): RDS picks the latest patch; "
                "a full version such as '15.5' that RDS never released fails at deploy.",
            )
        problem = ec2_type_problem(self.instance_type)
        if problem:
            raise _fail(
                "INSTANCE_TYPE",
                self.instance_type,
                problem,
                "Set INSTANCE_TYPE to an existing x86_64 EC2 instance type such as t3.medium or m7i.large.",
            )
        problem = db_class_problem(self.db_instance_class)
        if problem:
            raise _fail(
                "DB_INSTANCE_CLASS",
                self.db_instance_class,
                problem,
                "Set DB_INSTANCE_CLASS to an RDS for PostgreSQL class such as db.t3.medium.",
            )
        retention_days = tunable("LOG_RETENTION_DAYS").allowed
        if str(self.log_retention_days) not in retention_days:
            raise _fail(
                "LOG_RETENTION_DAYS",
                self.log_retention_days,
                "CloudWatch accepts " + ", ".join(retention_days),
                f"PCI DSS 10.5.1 asks for at least {PCI_MIN_LOG_RETENTION_DAYS} days of audit log history; use "
                f"{PCI_MIN_LOG_RETENTION_DAYS} or more.",
            )
        if self.alarm_email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.alarm_email):
            raise _fail(
                "ALARM_EMAIL",
                self.alarm_email,
                "expected an e-mail address",
                f"Set ALARM_EMAIL to the on-call address ('{NO_ALARM_EMAIL}' for no subscription, development only).",
            )

    def _validate_sandbox(self) -> None:
        if self.sandbox_endpoint is not None:
            parsed = urlparse(self.sandbox_endpoint)
            if parsed.scheme not in ("http", "https") or parsed.hostname not in ("127.0.0.1", "localhost"):
                raise _fail(
                    "SANDBOX_ENDPOINT_URL",
                    self.sandbox_endpoint,
                    "the sandbox only talks to a local emulator (http://127.0.0.1:<port>)",
                    "Unset it to deploy to AWS, or let `make sandbox` set it.",
                )
            if self.state_bucket is not None:
                raise _fail(
                    "TERRAFORM_STATE_BUCKET",
                    self.state_bucket,
                    "the sandbox keeps its state locally",
                    "Unset it when SANDBOX_ENDPOINT_URL is set.",
                )

    def _validate_production(self) -> None:
        if self.sandbox:
            raise _fail(
                "ENVIRONMENT_TYPE",
                PRODUCTION,
                "the sandbox is a development stack",
                "Unset ENVIRONMENT_TYPE (or set development) for `make sandbox`.",
            )
        gaps = _production_gaps(self)
        if gaps:
            raise ConfigError(
                "ENVIRONMENT_TYPE='production' refuses this configuration:\n"
                + "\n".join(f"  - {variable}: {what}. Fix: {fix}." for variable, what, fix in gaps)
                + "\nA stack that will never hold cardholder data can use ENVIRONMENT_TYPE=development instead."
            )

    def _validate_frontend_domain(self) -> None:
        if (self.frontend_domain is None) != (self.frontend_certificate_arn is None):
            raise _fail(
                "FRONTEND_DOMAIN" if self.frontend_domain is None else "FRONTEND_CERTIFICATE_ARN",
                None,
                "FRONTEND_DOMAIN and FRONTEND_CERTIFICATE_ARN go together",
                "Set both (custom domain served with TLS 1.2+) or neither (CloudFront default domain).",
            )
        for variable, value, example in (
            ("FRONTEND_DOMAIN", self.frontend_domain, "pay.example.com"),
            ("API_DOMAIN", self.api_domain, "api.pay.example.com"),
        ):
            if value is not None and not _DNS_NAME.fullmatch(value):
                raise _fail(
                    variable, value, "expected a lowercase DNS name", f"Set it to the host name, e.g. {example}."
                )
        if self.api_domain is not None and self.api_domain == self.frontend_domain:
            raise _fail(
                "API_DOMAIN",
                self.api_domain,
                "the API needs a name of its own, not FRONTEND_DOMAIN (CloudFront serves that name)",
                "Use e.g. api.<FRONTEND_DOMAIN> on the ALB's certificate.",
            )
        if self.frontend_certificate_arn is not None and not re.fullmatch(
            r"arn:aws:acm:us-east-1:\d{12}:certificate/[A-Za-z0-9-]+", self.frontend_certificate_arn
        ):
            raise _fail(
                "FRONTEND_CERTIFICATE_ARN",
                self.frontend_certificate_arn,
                "CloudFront only uses ACM certificates from us-east-1",
                "Request or import the certificate in us-east-1 and give its ARN.",
            )

    def _validate_hosted_zone(self) -> None:
        zone = self.hosted_zone_id
        if zone is None:
            return
        if not HOSTED_ZONE_ID_PATTERN.fullmatch(zone):
            bare = zone.rsplit("/", 1)[-1]
            fix = (
                f"Give the id alone: HOSTED_ZONE_ID={bare}."
                if zone.startswith("/hostedzone/") and HOSTED_ZONE_ID_PATTERN.fullmatch(bare)
                else "Copy the zone's id (not its name) from `aws route53 list-hosted-zones-by-name` or the console, "
                "e.g. Z0123456789ABCDEFGHIJ, or unset HOSTED_ZONE_ID to create the DNS records yourself."
            )
            raise _fail(
                "HOSTED_ZONE_ID",
                zone,
                "expected a Route 53 hosted zone id: Z and up to 31 upper-case letters or digits",
                fix,
            )
        if self.api_domain is None and self.frontend_domain is None:
            raise _fail(
                "HOSTED_ZONE_ID",
                zone,
                "the stack writes records for API_DOMAIN and FRONTEND_DOMAIN only, "
                "and neither is set, so there is nothing to write",
                "Set API_DOMAIN and/or FRONTEND_DOMAIN (names in that zone), or unset HOSTED_ZONE_ID.",
            )

    def _validate_network(self) -> None:
        problem = vpc_cidr_problem(self.vpc_cidr)
        if problem:
            raise _fail(
                "VPC_CIDR",
                self.vpc_cidr,
                f"{problem}; a private IPv4 block between /16 and /20 is required",
                f"Use e.g. {default('vpc_cidr')} (it is split into public, app and data subnets in each of "
                f"{self.az_count} AZs).",
            )
        self._validate_egress_cidrs()
        self._validate_processor()
        port = tunable("API_PORT")
        if not port.in_range(self.api_port) or self.api_port in RESERVED_PORTS:
            raise _fail(
                "API_PORT",
                self.api_port,
                f"a TCP port {port.low}-{port.high} other than "
                + ", ".join(str(p) for p in RESERVED_PORTS[:-1])
                + f" and {RESERVED_PORTS[-1]}",
                f"Use the port the payment API listens on, e.g. {port.default}.",
            )

    def _validate_processor(self) -> None:
        processor = self.payment_processor
        if processor is not None and processor not in PROCESSORS:
            raise _fail(
                "PAYMENT_PROCESSOR",
                processor,
                f"the service registers {' and '.join(PROCESSORS)}",
                f"Set PAYMENT_PROCESSOR={STRIPE} (production) or {SIMULATED} (development only).",
            )
        given = {
            "STRIPE_SECRET_KEY_ARN": self.stripe_secret_key_arn,
            "STRIPE_PUBLISHABLE_KEY": self.stripe_publishable_key,
        }
        if processor != STRIPE:
            for name, value in {**given, "STRIPE_API_BASE": self.stripe_api_base}.items():
                if value is not None:
                    raise _fail(
                        name,
                        _shown_stripe_value(value),
                        f"it is used only with PAYMENT_PROCESSOR={STRIPE}",
                        f"Unset {name}, or set PAYMENT_PROCESSOR={STRIPE}.",
                    )
            return
        for name, value in given.items():
            if value is None:
                raise _fail(
                    name,
                    None,
                    f"PAYMENT_PROCESSOR={STRIPE} needs it",
                    f"Set {name} ({tunable(name).rule}).",
                )
        self._validate_stripe_values()

    def _validate_stripe_values(self) -> None:
        arn = str(self.stripe_secret_key_arn)
        match = STRIPE_SECRET_ARN_PATTERN.fullmatch(arn)
        if match is None or match.group(1) != self.aws_region:
            raise _fail(
                "STRIPE_SECRET_KEY_ARN",
                arn,
                f"a Secrets Manager secret ARN in the stack's region {self.aws_region} "
                f"(arn:aws:secretsmanager:{self.aws_region}:<account>:secret:<name>-<6 characters>, as "
                "`aws secretsmanager describe-secret` prints it)",
                'Create the secret in the stack\'s region (docs/deploying.md, "The Stripe secret") and give its full '
                "ARN.",
            )
        key = str(self.stripe_publishable_key)
        if not STRIPE_PUBLISHABLE_KEY_PATTERN.fullmatch(key):
            raise ConfigError(
                f"STRIPE_PUBLISHABLE_KEY={_shown_stripe_value(key)!r} is invalid: a publishable key is pk_live_ or "
                "pk_test_ and letters or digits, the only Stripe key a page may carry. Copy it from the Stripe "
                "Dashboard's API keys page."
            )
        self._validate_stripe_api_base()

    def _validate_stripe_api_base(self) -> None:
        base = self.stripe_api_base
        if base is None:
            return
        if self.environment_type == PRODUCTION:
            raise _fail(
                "STRIPE_API_BASE",
                base,
                "a production stack talks to Stripe's own API (https://api.stripe.com) only; another base is a "
                "Stripe emulator's, for development stacks (the sandbox)",
                "Unset STRIPE_API_BASE.",
            )
        if not STRIPE_API_BASE_PATTERN.fullmatch(base):
            raise _fail(
                "STRIPE_API_BASE",
                base,
                "expected http:// or https://, a host (lowercase name or IPv4 address) and an optional port, without "
                "a path (the Stripe SDK appends /v1/...)",
                "Give the emulator's base URL, e.g. http://10.213.0.1:8420, or unset it for Stripe's API.",
            )

    @property
    def api_processor(self) -> str:
        """The processor the instances run with: the named one, else (development only) ``simulated``."""
        return self.payment_processor or DEVELOPMENT_PROCESSOR

    def _validate_egress_cidrs(self) -> None:
        raw = self.payment_processor_egress_cidrs
        cidrs = self.payment_processor_cidrs
        fix = (
            "Set PAYMENT_PROCESSOR_EGRESS_CIDRS to the processor's published public CIDRs, comma-separated "
            "(e.g. 203.0.113.0/24), or unset it for no internet egress."
        )
        if raw.strip() and len(cidrs) != len(raw.split(",")):
            raise _fail("PAYMENT_PROCESSOR_EGRESS_CIDRS", raw, "it has an empty entry", fix)
        for cidr in cidrs:
            problem = egress_cidr_problem(cidr)
            if problem:
                raise _fail("PAYMENT_PROCESSOR_EGRESS_CIDRS", raw, problem, fix)
        if len(set(cidrs)) != len(cidrs):
            raise _fail("PAYMENT_PROCESSOR_EGRESS_CIDRS", raw, "it lists a CIDR twice", fix)

    def _validate_sizes(self) -> None:
        # Every ranged setting but API_PORT (checked with its reserved ports in _validate_network).
        for ranged in CONFIG_TUNABLES:
            value = getattr(self, str(ranged.field))
            if ranged.env != "API_PORT" and not ranged.in_range(value):
                raise _fail(
                    ranged.name,
                    value,
                    f"allowed range is {ranged.low}-{ranged.high}",
                    f"Set {ranged.name} within that range (default {ranged.default}).",
                )
        if self.asg_min_size > self.asg_max_size:
            raise _fail(
                "ASG_MIN_SIZE",
                self.asg_min_size,
                f"it must not exceed ASG_MAX_SIZE={self.asg_max_size}",
                "Lower ASG_MIN_SIZE or raise ASG_MAX_SIZE.",
            )
        if not self.asg_min_size <= self.asg_desired_capacity <= self.asg_max_size:
            raise _fail(
                "ASG_DESIRED_CAPACITY",
                self.asg_desired_capacity,
                f"it must lie between ASG_MIN_SIZE={self.asg_min_size} and ASG_MAX_SIZE={self.asg_max_size}",
                "Set ASG_DESIRED_CAPACITY within the group's bounds.",
            )
        ceiling = minimum_storage_ceiling(self.db_allocated_storage)
        if self.db_max_allocated_storage != 0 and self.db_max_allocated_storage < ceiling:
            raise _fail(
                "DB_MAX_ALLOCATED_STORAGE",
                self.db_max_allocated_storage,
                f"RDS needs the autoscaling ceiling at least 10 % above DB_ALLOCATED_STORAGE="
                f"{self.db_allocated_storage}, i.e. {ceiling} or more (or 0 for no autoscaling)",
                f"Set DB_MAX_ALLOCATED_STORAGE to {ceiling} or more, or to 0.",
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, region_file: Path = REGION_FILE) -> StackConfig:
        """Build the configuration from environment variables (and ``lib/AWS_REGION`` when present).

        An unset variable takes its default; a variable that is set but empty is an error, never the default
        (a CI job whose variable came out empty must not quietly deploy the dev stack).
        """
        env = _Environment(os.environ if environ is None else environ)
        region = env.text("AWS_REGION")
        if region is None and region_file.is_file():
            region = region_file.read_text(encoding="utf-8").strip() or None
        sandbox_endpoint = env.text("SANDBOX_ENDPOINT_URL")
        state_bucket = env.text("TERRAFORM_STATE_BUCKET")
        environment_type = env.text("ENVIRONMENT_TYPE")
        if environment_type is None and state_bucket is not None:
            raise _fail(
                "ENVIRONMENT_TYPE",
                None,
                "it is required when TERRAFORM_STATE_BUCKET is set (a real deployment gets no silent "
                f"default); allowed values are {PRODUCTION} and {DEVELOPMENT}",
                f"Set ENVIRONMENT_TYPE={PRODUCTION} for a cardholder-data environment, {DEVELOPMENT} otherwise.",
            )
        alarm_email = env.text("ALARM_EMAIL")
        if alarm_email == NO_ALARM_EMAIL and environment_type == PRODUCTION:
            raise _fail(
                "ALARM_EMAIL",
                alarm_email,
                "a production stack must notify someone of its alarms",
                "Set ALARM_EMAIL to the on-call address.",
            )
        # Settings with a rule of their own are read above; every other one is read by its registry entry.
        special = {
            "AWS_REGION",
            "SANDBOX_ENDPOINT_URL",
            "TERRAFORM_STATE_BUCKET",
            "ENVIRONMENT_TYPE",
            "ALARM_EMAIL",
            "DELETION_PROTECTION",
        }
        destroy, skip = DESTROY_MODE_VARIABLES
        # Each value has its field's type: _Environment.read parses by the entry's kind (test_tunables.py).
        values: dict[str, Any] = {str(t.field): env.read(t) for t in CONFIG_TUNABLES if t.env not in special}
        return cls(
            **values,
            environment_type=environment_type or default("environment_type"),
            aws_region=region or default("aws_region"),
            state_bucket=state_bucket,
            alarm_email=default("alarm_email") if alarm_email in (None, NO_ALARM_EMAIL) else alarm_email,
            # Deletion protection and final snapshots are on unless explicitly relaxed; the sandbox relaxes
            # them because it must destroy what it applied.
            deletion_protection=env.boolean(
                "DELETION_PROTECTION", default("deletion_protection") and sandbox_endpoint is None
            ),
            sandbox_endpoint=sandbox_endpoint,
            # DESTROY=1 is `make destroy`'s synth: the stamp is this synth's UTC time.
            destroy_stamp=datetime.now(UTC).strftime(DESTROY_STAMP_FORMAT) if env.boolean(destroy, False) else None,
            skip_final_snapshot=env.boolean(skip, False),
        )


class _Environment:
    """Reads one variable at a time with the rules every variable shares."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def _raw(self, name: str, default: object) -> str | None:
        if name not in self.environ:
            return None
        value = self.environ[name].strip()
        if not value:
            shown = "no value" if default is None else f"the default {default!r}"
            raise _fail(
                name, self.environ[name], "it is set but empty", f"Unset {name} to use {shown}, or give it a value."
            )
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._raw(name, default)
        return default if value is None else value

    def read(self, setting: Tunable) -> object:
        """``setting``'s value, parsed by its kind; its registry default when unset."""
        name = str(setting.env)
        if setting.kind == WHOLE_NUMBER:
            return self.integer(name, setting.default)
        if setting.kind == BOOLEAN:
            return self.boolean(name, setting.default)
        return self.text(name, setting.default)

    def _parsed(self, name: str, default: T, parse: Callable[[str], T | None], allowed: str) -> T:
        raw = self._raw(name, default)
        if raw is None:
            return default
        value = parse(raw)
        if value is None:
            raise _fail(name, raw, allowed, f"Set {name} like its default, {str(default).lower()}.")
        return value

    def integer(self, name: str, default: int) -> int:
        # ASCII digits only: int() would also read '8_080' and full-width digits as 8080.
        return self._parsed(
            name,
            default,
            lambda raw: int(raw) if re.fullmatch(r"[0-9]+", raw) else None,
            "expected a whole number written with the digits 0-9 only",
        )

    def boolean(self, name: str, default: bool) -> bool:
        words = {
            "1": True,
            "true": True,
            "yes": True,
            "on": True,
            "0": False,
            "false": False,
            "no": False,
            "off": False,
        }
        return self._parsed(
            name,
            default,
            lambda raw: words.get(raw.lower()),
            "expected true or false (also accepted: 1/0, yes/no, on/off)",
        )
