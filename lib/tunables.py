"""Every setting an operator can tune, declared once: the registry the rest of the project reads.

A default, a range or a meaning written in several places drifts (the README once disagreed with the code
about defaults that were written three times). So each setting is one ``Tunable`` here, and everything
else is derived from it. A setting the stack's configuration holds is a typed field of ``TunableValues``, its entry
in the field (``setting(...)``), so the fields are declared once: ``StackConfig`` (``lib/config.py``: ``from_env``,
the range checks, the production gaps) and ``StackVariables`` (``lib/variables.py``: the Terraform variables'
types, descriptions, defaults and validation blocks) are ``TunableValues``. ``environments/example.tfvars`` and
the configuration tables of docs/deploying.md are generated from the entries (``tools/docs/config_docs.py``, run by
``make docs``; ``make docs-check`` fails when they are stale).

Rules that are more than a range or a list of values (regular expressions, AWS facts such as the EC2
types, cross-field rules such as min <= desired <= max, the production guardrails) stay code in
``lib/config.py`` and ``lib/variables.py``; ``rule`` describes them in one line for the configuration table.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from dataclasses import field as dataclass_field
from typing import Any

from tap_contract import examples
from tap_contract.runtime import (
    DB_POOL_MAX,
    REQUIRES_ACTION_TIMEOUT,
    REQUIRES_ACTION_TIMEOUT_DEFAULT,
    REQUIRES_ACTION_TIMEOUT_RANGE,
)
from tap_contract.runtime import STRIPE_API_BASE as RUNTIME_STRIPE_API_BASE

from facts import CLOUDWATCH_RETENTION_DAYS, SUPPORTED_POSTGRES_MAJOR_VERSIONS

PRODUCTION = "production"
DEVELOPMENT = "development"
ENVIRONMENT_TYPES = (PRODUCTION, DEVELOPMENT)
# The processors the service registers: Stripe, and the simulator (development only; API.md, "Processor").
SIMULATED = "simulated"
STRIPE = "stripe"
PROCESSORS = (SIMULATED, STRIPE)

TEXT = "text"
WHOLE_NUMBER = "whole number"
BOOLEAN = "true/false"
KINDS = (TEXT, WHOLE_NUMBER, BOOLEAN)
_TERRAFORM_TYPES = {TEXT: "string", WHOLE_NUMBER: "number"}


@dataclass(frozen=True, kw_only=True)
class Tunable:  # pylint: disable=too-many-instance-attributes
    """One setting. ``field`` is its ``TunableValues`` field, filled in from the field's name (None: read by
    ``read_by``, not the config);
    ``env``/``terraform`` are its environment and Terraform variable names (None: it has none).

    ``default`` is the value used when nothing is given (None: no default); ``default_doc`` replaces it in
    the documents when the real default depends on something else. ``low``/``high`` is an inclusive
    whole-number range and ``allowed`` a closed list of values, both enforced at synth and, for a Terraform
    variable, at plan time. ``description`` is the Terraform variable's description; ``meaning`` the
    configuration table's line (the description when empty). ``example`` is what ``example.tfvars`` shows when the
    default cannot be used there (a required value, or one a production stack refuses). ``production_requires``
    is ``(what goes wrong without it, what to set)`` for a setting a production stack must have (unset, empty or
    false is a gap); its example value then belongs in ``tap_contract.examples.PRODUCTION``.
    """

    env: str | None
    kind: str
    meaning: str = ""
    field: str | None = None
    terraform: str | None = None
    default: Any = None
    default_doc: str | None = None
    low: int | None = None
    high: int | None = None
    allowed: tuple[str, ...] = ()
    rule: str = ""
    description: str = ""
    pci: str = ""
    example: Any = None
    group: str = ""
    read_by: str = "lib/config.py"
    production_requires: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        name = self.env or self.terraform
        if name is None:
            raise ValueError("a tunable needs an environment variable, a Terraform variable or both")
        if self.kind not in KINDS:
            raise ValueError(f"{name}: kind={self.kind!r} is invalid: use one of {', '.join(KINDS)}")
        if (self.low is None) != (self.high is None):
            raise ValueError(f"{name}: give both low and high (an inclusive range), or neither")
        if self.terraform is not None and not self.description:
            raise ValueError(f"{name}: a Terraform variable needs its description")
        if not (self.meaning or self.description):
            raise ValueError(f"{name}: say what it means (meaning or description)")

    @property
    def name(self) -> str:
        """How messages and documents call it: the environment variable, else the Terraform variable."""
        return self.env or self.terraform or ""

    @property
    def terraform_type(self) -> str:
        """The Terraform variable's type."""
        if self.kind not in _TERRAFORM_TYPES:
            raise ValueError(
                f"{self.name}: a {self.kind} setting has no Terraform variable type; use text or a whole number"
            )
        return _TERRAFORM_TYPES[self.kind]

    @property
    def line(self) -> str:
        """The configuration table's one line about it."""
        return self.meaning or self.description

    def in_range(self, value: int) -> bool:
        """True when ``value`` lies in the range (or there is none)."""
        return self.low is None or self.high is None or self.low <= value <= self.high


_ASG_RULE = "min <= desired <= max"
# The suffix is part of every name; the tightest AWS limit it meets is 32 characters (ALB/target group).
SUFFIX_MAX_LENGTH = 12
_ENTRY = "tunable"  # where a field's metadata keeps its entry


def setting(**entry: Any) -> Any:
    """A ``TunableValues`` field from its registry entry (``Tunable``'s keywords but ``field``, which is the field's
    own name): its default is the entry's. Typed ``Any`` so that the field's annotation is its type."""
    if "field" in entry:
        raise ValueError(f"{entry.get('env')}: a field's name is its attribute name; drop field={entry['field']!r}")
    tunable = Tunable(**entry)
    return dataclass_field(default=tunable.default, metadata={_ENTRY: tunable})


@dataclass(frozen=True)
class TunableValues:  # pylint: disable=too-many-instance-attributes  # one per setting, by design
    """Every setting ``StackConfig`` holds, one typed field each, with its registry entry (``setting(...)``).

    ``StackConfig`` (``lib/config.py``) is these fields, validated; ``StackVariables`` (``lib/variables.py``) is them
    as the stack uses them, a Terraform reference where the setting is a Terraform variable. So a new tunable is one
    field here, and then whatever uses it (docs/developing.md, "Adding a tunable")."""

    # ------------------------------------------------------------------ what the stack is
    environment_type: str = setting(
        env="ENVIRONMENT_TYPE",
        kind=TEXT,
        default=DEVELOPMENT,
        default_doc=f"`{DEVELOPMENT}` with local state; **required** when `TERRAFORM_STATE_BUCKET` is set",
        allowed=ENVIRONMENT_TYPES,
        meaning="production rules or development relaxations (next section)",
    )
    environment_suffix: str = setting(
        env="ENVIRONMENT_SUFFIX",
        kind=TEXT,
        default="dev",
        rule=f"1-{SUFFIX_MAX_LENGTH} lowercase letters, digits, inner hyphens; unique per account across regions",
        meaning="suffix of every name and of the stack `TapStack<suffix>`; IAM, S3 and CloudFront names are "
        "account-wide, so one suffix in two regions collides (the account preflight refuses it)",
    )
    aws_region: str = setting(
        env="AWS_REGION",
        kind=TEXT,
        default="us-east-1",
        default_doc="`lib/AWS_REGION` if present, else `us-east-1`",
        rule="regions with >= 3 AZs and every service used (`facts/regions.json`)",
        meaning="deployment region",
    )
    state_bucket: str | None = setting(
        env="TERRAFORM_STATE_BUCKET",
        kind=TEXT,
        default_doc="unset: local backend",
        rule="AWS's full bucket naming rules",
        meaning="S3 state bucket; enables the S3 backend with `encrypt` and `use_lockfile`",
        production_requires=(
            "state would be a local file on one machine",
            "set TERRAFORM_STATE_BUCKET (and TERRAFORM_STATE_BUCKET_REGION) to an S3 bucket",
        ),
    )
    state_bucket_region: str | None = setting(
        env="TERRAFORM_STATE_BUCKET_REGION",
        kind=TEXT,
        default_doc="`AWS_REGION`",
        rule="any AWS region (`facts/aws_regions.json`)",
        meaning="region of the state bucket",
    )
    state_kms_key_arn: str | None = setting(
        env="TERRAFORM_STATE_KMS_KEY_ARN",
        kind=TEXT,
        default_doc="unset: the bucket's default encryption; **required** in production (and a warning in a "
        "development stack with a state bucket)",
        rule="a KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`) or alias ARN (`...:alias/<name>`) in "
        "the state bucket's region; only with `TERRAFORM_STATE_BUCKET`",
        meaning="customer managed KMS key the S3 backend encrypts the state with (`kms_key_id`)",
        pci="3.5",
    )
    kms_admin_principal_arn: str | None = setting(
        env="KMS_ADMIN_PRINCIPAL_ARN",
        kind=TEXT,
        default_doc="unset: the account root (`arn:aws:iam::<account>:root`, i.e. the account's IAM policies)",
        rule="`arn:aws:iam::<account>:root`, `...:role/<path/name>` or `...:user/<path/name>`; a role or user "
        "must be the principal Terraform runs as (AWS refuses a key policy its caller could not change "
        "back)",
        meaning="who administers the stack's KMS keys (policy, rotation, deletion) without using them; use is "
        "granted to the account's IAM policies",
        pci="3.6",
        production_requires=(
            "the keys' administrator would be the account root, i.e. anyone the account's IAM policies let "
            "administer keys, not one named principal",
            "set KMS_ADMIN_PRINCIPAL_ARN to the role Terraform runs as (your deploy role's ARN)",
        ),
    )
    deployer_principal_arns: str = setting(
        env="DEPLOYER_PRINCIPAL_ARNS",
        kind=TEXT,
        default="",
        default_doc="**required** in production; in development, when unset, `make deploy` and `make plan` name "
        "the caller's role (and say so)",
        rule="comma-separated IAM role ARNs with their path (`arn:aws:iam::<account>:role/<path/>name`) or IAM "
        "Identity Center permission-set patterns (`arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/"
        "<region or *>/AWSReservedSSO_<set>_*`); one account, the stack's; no other wildcard, user, root or session",
        meaning="who deploys: the only principals that may read the artifacts (so plan: the refresh reads the "
        "artifact) and write the frontend bucket; `make deploy` refuses a caller whose role is not listed",
        pci="7.2",
        production_requires=(
            "no deployer is named, so only the instance role could read the artifacts and nobody could plan after the "
            "first apply",
            "list the roles that deploy (CI's role, the SSO permission set's pattern)",
        ),
    )
    break_glass_role_arn: str | None = setting(
        env="BREAK_GLASS_ROLE_ARN",
        kind=TEXT,
        default_doc="unset: the log archive's policy refuses object deletion only (development); **required** in "
        "production",
        rule="one IAM role ARN with its path (`arn:aws:iam::<account>:role/<path/>name`), in the stack's account; no "
        "wildcard, user, root or session",
        meaning="the only principal that may change or delete the log archive's bucket policy, lifecycle and Object "
        "Lock configuration (every other principal, the deployer included, is refused); `make deploy` stops on a plan "
        "that would change them, and `make destroy` with DELETE_LOG_ARCHIVE=1 assumes it for the archive",
        pci="10.3.2",
        production_requires=(
            "any principal allowed s3:PutBucketPolicy or s3:PutLifecycleConfiguration could lift the archive's "
            "deny-delete policy or shorten its lifecycle, so the audit logs would rest on one admin's restraint",
            'set BREAK_GLASS_ROLE_ARN to the break-glass role (docs/operating.md, "Break-glass role")',
        ),
    )
    owner: str = setting(
        env="OWNER",
        kind=TEXT,
        default="platform-team",
        rule="tag value: <= 256 characters, letters, digits, spaces and `_ . : / = + - @`; no `${` or `%{`",
        meaning="`Owner` tag on every resource",
    )
    repository: str = setting(
        env="REPOSITORY",
        kind=TEXT,
        default="payment-platform-infra",
        rule="tag value, as `OWNER`",
        meaning="`Repository` tag on every resource",
    )
    # ------------------------------------------------------------------ network
    vpc_cidr: str = setting(
        env="VPC_CIDR",
        kind=TEXT,
        default="10.0.0.0/16",
        rule="/16 to /20 inside RFC 1918 (10/8, 172.16/12, 192.168/16) or 100.64.0.0/10, not overlapping "
        "Docker's 172.17.0.0/16",
        meaning="the VPC's address block, split into public, app and data subnets per AZ",
        pci="1.3",
    )
    single_nat_gateway: bool = setting(
        env="SINGLE_NAT_GATEWAY",
        kind=BOOLEAN,
        default=False,
        meaning="one shared NAT gateway instead of one per AZ (cost option, loses AZ independence); NAT gateways "
        "exist only with processor egress (PAYMENT_PROCESSOR=stripe or PAYMENT_PROCESSOR_EGRESS_CIDRS)",
    )
    payment_processor_egress_cidrs: str = setting(
        env="PAYMENT_PROCESSOR_EGRESS_CIDRS",
        kind=TEXT,
        default="",
        default_doc="unset: no internet egress",
        rule="comma-separated public IPv4 CIDRs (`203.0.113.0/24,198.51.100.7/32` style); no `0.0.0.0/0`, no "
        "private, shared (100.64/10), loopback, link-local, benchmark or multicast ranges",
        meaning="the payment processor's addresses: the only internet destinations of the API instances "
        "(HTTPS 443, through NAT)",
        pci="1.3",
    )
    payment_processor: str | None = setting(
        env="PAYMENT_PROCESSOR",
        kind=TEXT,
        default_doc="`simulated` in development; **required** in production, where it must be `stripe`",
        allowed=PROCESSORS,
        meaning="the payment processor the API calls (the runtime parameter's `processor`): `stripe` (with "
        "`STRIPE_SECRET_KEY_ARN` and `STRIPE_PUBLISHABLE_KEY`), or the simulator, which approves test tokens only "
        "and is refused in production",
        production_requires=(
            "the API would have no processor named; the simulator is the development default only",
            "set PAYMENT_PROCESSOR=stripe with STRIPE_SECRET_KEY_ARN and STRIPE_PUBLISHABLE_KEY",
        ),
    )
    payment_requires_action_timeout_minutes: int = setting(
        env=REQUIRES_ACTION_TIMEOUT.env,
        terraform="payment_requires_action_timeout_minutes",
        kind=WHOLE_NUMBER,
        default=REQUIRES_ACTION_TIMEOUT_DEFAULT,
        low=REQUIRES_ACTION_TIMEOUT_RANGE[0],
        high=REQUIRES_ACTION_TIMEOUT_RANGE[1],
        description="Minutes a Stripe payment may wait for its customer's 3-D Secure (requires_action) before the "
        "reconciler cancels its PaymentIntent and it ends failed (authentication_failed); the range is Stripe "
        "Checkout's own for a waiting payment (30 minutes to 24 hours). Through the runtime parameter "
        f"({REQUIRES_ACTION_TIMEOUT.env}); a change rolls the fleet.",
    )
    stripe_secret_key_arn: str | None = setting(
        env="STRIPE_SECRET_KEY_ARN",
        kind=TEXT,
        default_doc="unset; **required** with `PAYMENT_PROCESSOR=stripe`, refused without it",
        rule="a Secrets Manager secret ARN in the stack's region (`arn:aws:secretsmanager:<region>:<account>:secret:"
        '<name>-<6 characters>`); the secret holds JSON `{"api_key": "sk_..." or "rk_...", "webhook_secret": '
        '"whsec_..."}`',
        meaning="the Stripe secret: the only secret the instance role may read for Stripe; root hands it to the "
        "service with systemd `LoadCredential=`, never an environment file or a log",
        pci="3.6, 8.6",
    )
    stripe_publishable_key: str | None = setting(
        env="STRIPE_PUBLISHABLE_KEY",
        kind=TEXT,
        default_doc="unset; **required** with `PAYMENT_PROCESSOR=stripe`, refused without it",
        rule="`pk_live_` or `pk_test_` and letters or digits (never a secret `sk_` or restricted `rk_` key)",
        meaning="Stripe's publishable key, for the checkout's `config.json` (Stripe.js and its card element)",
    )
    stripe_api_base: str | None = setting(
        env="STRIPE_API_BASE",
        kind=TEXT,
        default_doc="unset: Stripe's API, `https://api.stripe.com`",
        rule="`http://` or `https://`, a host (lowercase name or IPv4 address) and an optional port, no path; only "
        "with `PAYMENT_PROCESSOR=stripe`; refused in production",
        meaning="a Stripe emulator the instances call instead of Stripe (the sandbox's localstripe): the runtime "
        f"parameter's `{RUNTIME_STRIPE_API_BASE.key}`, the service's `{RUNTIME_STRIPE_API_BASE.env}`; development only",
    )
    api_port: int = setting(
        env="API_PORT",
        kind=WHOLE_NUMBER,
        default=8080,
        low=1,
        high=65535,
        rule="not 22, 443 or 5432",
        meaning="port the API instances listen on",
    )
    deletion_protection: bool = setting(
        env="DELETION_PROTECTION",
        kind=BOOLEAN,
        default=True,
        default_doc="`true` (`false` in the sandbox)",
        meaning="ALB/RDS deletion protection, the RDS final snapshot and the idempotency secret's 30-day recovery "
        "window (0 days without); `false` is refused in production and never empties buckets",
    )
    # ------------------------------------------------------------------ compute
    instance_type: str = setting(
        env="INSTANCE_TYPE",
        terraform="instance_type",
        kind=TEXT,
        default="t3.medium",
        rule="an x86_64 EC2 type (`facts/ec2_instance_types.json`); arm64 types (t4g, m7g, ...) are "
        "refused until the service artifact builds for both architectures",
        description="EC2 instance type of the payment API instances.",
        group="compute",
    )
    asg_min_size: int = setting(
        env="ASG_MIN_SIZE",
        terraform="asg_min_size",
        kind=WHOLE_NUMBER,
        default=2,
        low=1,
        high=100,
        rule=_ASG_RULE,
        description="Minimum number of API instances (keep >= 2 for one per AZ failure).",
        group="compute",
    )
    asg_max_size: int = setting(
        env="ASG_MAX_SIZE",
        terraform="asg_max_size",
        kind=WHOLE_NUMBER,
        default=6,
        low=1,
        high=100,
        rule=_ASG_RULE,
        description="Maximum number of API instances the scaling policy may reach.",
        group="compute",
    )
    asg_desired_capacity: int = setting(
        env="ASG_DESIRED_CAPACITY",
        terraform="asg_desired_capacity",
        kind=WHOLE_NUMBER,
        default=2,
        low=1,
        high=100,
        rule=_ASG_RULE,
        description="Initial number of API instances.",
        group="compute",
    )
    api_db_pool_max: int = setting(
        env="API_DB_POOL_MAX",
        terraform="api_db_pool_max",
        kind=WHOLE_NUMBER,
        default=10,
        low=1,
        high=100,
        description=f"Most database connections each API instance opens ({DB_POOL_MAX.env}, through the runtime "
        "parameter); times the instances it must stay under the database's max_connections. A change rolls the fleet.",
        group="compute",
    )
    max_instance_lifetime_days: int = setting(
        env="MAX_INSTANCE_LIFETIME_DAYS",
        terraform="max_instance_lifetime_days",
        kind=WHOLE_NUMBER,
        default=14,
        low=1,
        high=30,
        pci="6.3.3",
        description="Age in days at which the Auto Scaling group replaces an instance from the latest launch "
        "template version (PCI DSS 6.3.3: patches within a month).",
        group="compute",
    )
    artifact_releases_kept: int = setting(
        env="ARTIFACT_RELEASES_KEPT",
        kind=WHOLE_NUMBER,
        default=5,
        low=1,
        high=100,  # S3's range of NewerNoncurrentVersions
        meaning="replaced payment API releases the artifacts bucket keeps as noncurrent versions of the artifact "
        "(`make rollback` targets), newest first; older ones expire a day after they are replaced",
        group="compute",
    )
    # ------------------------------------------------------------------ database
    db_engine_version: str = setting(
        env="DB_ENGINE_VERSION",
        kind=TEXT,
        default="15",
        allowed=SUPPORTED_POSTGRES_MAJOR_VERSIONS,
        rule="a full version such as `15.5` is refused",
        meaning="PostgreSQL major version (RDS picks the latest patch)",
    )
    db_instance_class: str = setting(
        env="DB_INSTANCE_CLASS",
        terraform="db_instance_class",
        kind=TEXT,
        default="db.t3.medium",
        rule="an RDS for PostgreSQL class with Performance Insights",
        description="RDS instance class of the PostgreSQL database (Performance Insights needs medium or larger).",
        group="database",
    )
    db_allocated_storage: int = setting(
        env="DB_ALLOCATED_STORAGE",
        terraform="db_allocated_storage",
        kind=WHOLE_NUMBER,
        default=50,
        low=20,
        high=65536,
        description="Initial gp3 storage of the database, in GiB.",
        group="database",
    )
    db_max_allocated_storage: int = setting(
        env="DB_MAX_ALLOCATED_STORAGE",
        terraform="db_max_allocated_storage",
        kind=WHOLE_NUMBER,
        default=200,
        low=0,
        high=65536,
        rule=">= 110 % of the allocated storage, or 0 for no autoscaling",
        description="Storage autoscaling ceiling of the database, in GiB (>= 110 % of the allocated storage, or "
        "0 for no autoscaling).",
        group="database",
    )
    db_backup_retention_days: int = setting(
        env="DB_BACKUP_RETENTION_DAYS",
        terraform="db_backup_retention_days",
        kind=WHOLE_NUMBER,
        default=7,
        low=7,
        high=35,
        description="Days of automated database backups (PCI baseline: at least 7).",
        group="database",
    )
    backup_retention_days: int = setting(
        env="BACKUP_RETENTION_DAYS",
        terraform="backup_retention_days",
        kind=WHOLE_NUMBER,
        default=35,
        low=7,
        high=3650,
        pci="12.10.1",
        description="Days AWS Backup keeps each daily recovery point of the database (and its copy in "
        "BACKUP_COPY_REGION).",
        group="database",
    )
    backup_copy_region: str | None = setting(
        env="BACKUP_COPY_REGION",
        kind=TEXT,
        default_doc="unset: no copy",
        rule="a region of `facts/regions.json`'s supported list other than `AWS_REGION`; unset for none",
        pci="12.10.1",
        meaning="AWS Backup copies each daily recovery point of the database to a vault in this region",
    )
    # ------------------------------------------------------------------ monitoring
    log_retention_days: int = setting(
        env="LOG_RETENTION_DAYS",
        terraform="log_retention_days",
        kind=WHOLE_NUMBER,
        default=365,
        allowed=tuple(str(d) for d in sorted(CLOUDWATCH_RETENTION_DAYS)),
        rule="a value CloudWatch accepts; >= 365 in a production stack",
        pci="10.5.1",
        description="Retention of every CloudWatch log group, in days (PCI DSS 10.5.1: at least 365).",
        group="monitoring",
    )
    cpu_alarm_threshold: int = setting(
        env="CPU_ALARM_THRESHOLD",
        terraform="cpu_alarm_threshold",
        kind=WHOLE_NUMBER,
        default=80,
        low=1,
        high=100,
        description="ASG average CPU (%) above which the alarm fires.",
        group="monitoring",
    )
    alb_5xx_rate_threshold: int = setting(
        env="ALB_5XX_RATE_THRESHOLD",
        terraform="alb_5xx_rate_threshold",
        kind=WHOLE_NUMBER,
        default=5,
        low=1,
        high=100,
        description="Share of ALB requests (%) answered with 5XX above which the alarm fires.",
        group="monitoring",
    )
    api_401_alarm_threshold: int = setting(
        env="API_401_ALARM_THRESHOLD",
        terraform="api_401_alarm_threshold",
        kind=WHOLE_NUMBER,
        default=100,
        low=1,
        high=100000,
        pci="10.4.1",
        description="401 answers of the payment API in five minutes above which the 401-burst alarm fires (a "
        "credential-stuffing or token-guessing burst).",
        group="monitoring",
    )
    refunds_per_hour_alarm: int = setting(
        env="REFUNDS_PER_HOUR_ALARM",
        terraform="refunds_per_hour_alarm",
        kind=WHOLE_NUMBER,
        default=20,
        low=1,
        high=100000,
        pci="10.4.1",
        description="Refunds created in one hour above which the refunds alarm fires (an operator session "
        "refunding unusually much).",
        group="monitoring",
    )
    alarm_email: str = setting(
        env="ALARM_EMAIL",
        terraform="alarm_email",
        kind=TEXT,
        default="",
        default_doc="unset",
        example=examples.ALARM_EMAIL,
        rule="an e-mail address; required in production (empty, or `ALARM_EMAIL=none`: no subscription, "
        "development only)",
        description="E-mail address subscribed to the alarm topic.",
        pci="10.7",
        meaning="on-call address subscribed to the alarm topic",
        group="monitoring",
        production_requires=(
            "the alarms would notify nobody",
            "set ALARM_EMAIL to the on-call address",
        ),
    )
    manage_session_preferences: bool = setting(
        env="MANAGE_SESSION_PREFERENCES",
        kind=BOOLEAN,
        default=True,
        default_doc="`true` (the first stack in an account and region)",
        pci="10.2.1",
        meaning="the stack owns the account's and region's Session Manager preferences (the SSM document "
        "`SSM-SessionManagerRunShell`: sessions logged to CloudWatch Logs and the log archive, KMS-encrypted, run as "
        "`ssm-user`); `false` for every further stack there (AWS allows one such document per account and region: "
        "the account preflight reports an existing one)",
    )
    # ------------------------------------------------------------------ frontend and certificates
    frontend_domain: str | None = setting(
        env="FRONTEND_DOMAIN",
        kind=TEXT,
        default_doc="unset",
        rule="a lowercase DNS name; set with `FRONTEND_CERTIFICATE_ARN` (both or neither); required in production",
        pci="4.2",
        meaning="custom frontend domain; with it CloudFront enforces TLSv1.2_2021",
        production_requires=(
            "the payment page would use CloudFront's default certificate, which allows TLS 1.0",
            "set FRONTEND_DOMAIN and FRONTEND_CERTIFICATE_ARN (us-east-1, TLS 1.2+)",
        ),
    )
    frontend_certificate_arn: str | None = setting(
        env="FRONTEND_CERTIFICATE_ARN",
        kind=TEXT,
        default_doc="unset",
        rule="an ACM certificate ARN in us-east-1",
        pci="4.2",
        meaning="the certificate of `FRONTEND_DOMAIN`",
    )
    api_domain: str | None = setting(
        env="API_DOMAIN",
        kind=TEXT,
        default_doc="unset",
        rule="a lowercase DNS name, not `FRONTEND_DOMAIN`; the name on the ALB's certificate; required in production",
        pci="6.4.3",
        meaning="the payment API's public name: the checkout's `config.json`, the CSP's `connect-src` and "
        "the API's CORS origins derive from it and `FRONTEND_DOMAIN`",
        production_requires=(
            "the checkout would not know the API's name, so its config.json, CSP and CORS could not be derived",
            "set API_DOMAIN to the name on the ALB's certificate",
        ),
    )
    hosted_zone_id: str | None = setting(
        env="HOSTED_ZONE_ID",
        kind=TEXT,
        default_doc="unset: no DNS records; point the names at the outputs after apply",
        rule="a Route 53 hosted zone id (`Z` and up to 31 upper-case letters or digits, without `/hostedzone/`) "
        "of a public zone holding `API_DOMAIN` and `FRONTEND_DOMAIN` (the plan checks); only with "
        "`API_DOMAIN` or `FRONTEND_DOMAIN`",
        meaning="the stack writes alias records there: `API_DOMAIN` -> the ALB, `FRONTEND_DOMAIN` -> CloudFront",
    )
    # ------------------------------------------------------------------ how synth runs (not the stack)
    sandbox_endpoint: str | None = setting(
        env="SANDBOX_ENDPOINT_URL",
        kind=TEXT,
        default_doc="unset",
        rule="`http://127.0.0.1:<port>` or `http://localhost:<port>`",
        meaning="local emulator endpoint; set by the sandbox only",
    )


# The tunables no ``StackConfig`` field holds: a Terraform-only variable and what synth itself reads.
OTHER_TUNABLES: tuple[Tunable, ...] = (
    Tunable(
        env=None,
        terraform="certificate_arn",
        kind=TEXT,
        default_doc="**required**",
        example="arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
        rule="an ACM certificate ARN in the stack's region; a plan without it fails with \"No value for "
        'required variable"',
        pci="4.2",
        description="ARN of the ACM certificate for the ALB's HTTPS listener (same region as the stack).",
        group="certificate",
    ),
    Tunable(
        env="CDKTF_OUTDIR",
        kind=TEXT,
        default="cdktf.out",
        read_by="tap.py",
        meaning='synth output folder; see "Data safety"',
    ),
    Tunable(
        env="TAP_FAST_BINDINGS",
        kind=BOOLEAN,
        default_doc="unset (on)",
        read_by="lib/runtime/fast_bindings.py",
        allowed=("1", "true", "0", "false"),
        meaning='the fast binding loader (see docs/developing.md, "Fast feedback")',
    ),
)


# Each field's entry, with ``field`` filled in; then the rest. The order is the documents' order.
CONFIG_TUNABLES: tuple[Tunable, ...] = tuple(
    replace(item.metadata[_ENTRY], field=item.name) for item in fields(TunableValues)
)
TUNABLES: tuple[Tunable, ...] = CONFIG_TUNABLES + OTHER_TUNABLES


def _index(key: str) -> dict[str, Tunable]:
    index: dict[str, Tunable] = {}
    for tunable in TUNABLES:
        name = getattr(tunable, key)
        if name is None:
            continue
        if name in index:
            raise ValueError(f"{key} {name!r} is declared twice in lib/tunables.py; keep one entry")
        index[name] = tunable
    return index


BY_ENV = _index("env")
BY_FIELD = _index("field")
BY_TERRAFORM = _index("terraform")
TERRAFORM_TUNABLES = tuple(t for t in TUNABLES if t.terraform is not None)


def tunable(env: str) -> Tunable:
    """The registry entry of environment variable ``env``."""
    if env not in BY_ENV:
        raise KeyError(f"{env!r} is not in lib/tunables.py; known: {', '.join(sorted(BY_ENV))}")
    return BY_ENV[env]


def default(field: str) -> Any:
    """``StackConfig.<field>``'s default, from its registry entry."""
    if field not in BY_FIELD:
        raise KeyError(f"StackConfig.{field} has no entry in lib/tunables.py; add one")
    return BY_FIELD[field].default
