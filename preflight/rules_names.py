"""AWS naming rules that the provider schema does not enforce (or enforces only at apply).

Names here carry the environment suffix, so a longer ``ENVIRONMENT_SUFFIX`` can push one over a limit that
nobody sees until apply. Names with ``${data.aws_caller_identity.*.account_id}`` are measured with 12 digits
in its place; names with any other unresolved expression are skipped (they cannot be measured).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from facts import s3_bucket_name_problems
from preflight.model import ACCOUNT_ID_TOKEN, Finding, Resource, StackView, finding, rule

ACCOUNT_ID_PLACEHOLDER = "123456789012"

ELB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
IAM_NAME = re.compile(r"^[\w+=,.@-]+$")
RDS_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]*$")
LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]+$")
WAF_LOG_PREFIX = "aws-waf-logs-"

# (resource type, attribute, limit); IAM limits from the IAM quotas page; role name_prefix = 64 - 26 (the
# provider appends a 26-character unique suffix).
IAM_LIMITS = (
    ("aws_iam_role", "name", 64),
    ("aws_iam_role", "name_prefix", 38),
    ("aws_iam_policy", "name", 128),
    ("aws_iam_role_policy", "name", 128),
    ("aws_iam_instance_profile", "name", 128),
    ("aws_iam_user", "name", 64),
    ("aws_iam_group", "name", 128),
)


def _measurable(view: StackView, value: object) -> str | None:
    """The name with the account id token replaced by 12 digits; ``None`` if it still holds an expression."""
    resolved, _ = view.resolve(value)
    if not isinstance(value, str):
        return None
    text = ACCOUNT_ID_TOKEN.sub(ACCOUNT_ID_PLACEHOLDER, value)
    if "${" in text:
        return str(resolved) if isinstance(resolved, str) and "${" not in resolved else None
    return text


@rule(
    "PF-NAME-ELB",
    "ALB and target group names: at most 32 characters, alphanumerics and hyphens, not "
    "starting or ending with a hyphen, not starting with 'internal-' (ELBv2 API).",
)
def check_elb_names(view: StackView) -> Iterator[Finding]:
    for rtype, prefix_limit in (("aws_lb", 6), ("aws_lb_target_group", 6)):
        for resource in view.resources(rtype):
            name = _measurable(view, resource.get("name"))
            if name is not None:
                problems = []
                if len(name) > 32:
                    problems.append(f"{len(name)} characters (limit 32)")
                if not ELB_NAME.match(name):
                    problems.append("only alphanumerics and hyphens, not starting or ending with a hyphen")
                if rtype == "aws_lb" and name.lower().startswith("internal-"):
                    problems.append("must not start with 'internal-'")
                if problems:
                    yield finding(
                        "PF-NAME-ELB",
                        resource,
                        f"name {name!r} is invalid: {'; '.join(problems)}. Fix: shorten the component "
                        "name or ENVIRONMENT_SUFFIX (lib/naming.py builds these names).",
                    )
            prefix = _measurable(view, resource.get("name_prefix"))
            if prefix is not None and len(prefix) > prefix_limit:
                yield finding(
                    "PF-NAME-ELB",
                    resource,
                    f"name_prefix {prefix!r} is longer than {prefix_limit} characters. Fix: shorten it or use name.",
                )


@rule(
    "PF-NAME-S3",
    "S3 bucket names: 3-63 characters, lowercase letters, digits, dots and hyphens, starting and "
    "ending with a letter or digit, no '..', not an IP address, no reserved prefix/suffix.",
)
def check_s3_names(view: StackView) -> Iterator[Finding]:
    for bucket in view.resources("aws_s3_bucket"):
        name = _measurable(view, bucket.get("bucket"))
        if name is None:
            continue
        problems = s3_bucket_name_problems(name)
        if ACCOUNT_ID_PLACEHOLDER in name:
            problems = [p.replace(" characters (", " characters counting the account id as 12 (") for p in problems]
        if problems:
            yield finding(
                "PF-NAME-S3",
                bucket,
                f"bucket name {bucket.get('bucket')!r} is invalid: "
                f"{'; '.join(problems)}. Fix: shorten/lowercase the component name "
                "or ENVIRONMENT_SUFFIX.",
            )


@rule(
    "PF-NAME-IAM",
    "IAM names: roles and users at most 64 characters (role name_prefix 38), policies and "
    "instance profiles 128, characters [A-Za-z0-9+=,.@_-].",
    pci=("7.2, 8.2, 8.6",),
)
def check_iam_names(view: StackView) -> Iterator[Finding]:
    for rtype, attribute, limit in IAM_LIMITS:
        for resource in view.resources(rtype):
            name = _measurable(view, resource.get(attribute))
            if name is None:
                continue
            if len(name) > limit or not IAM_NAME.match(name):
                yield finding(
                    "PF-NAME-IAM",
                    resource,
                    f"{attribute} {name!r} is invalid: {len(name)} characters (limit {limit}) with "
                    "characters from [A-Za-z0-9+=,.@_-]. Fix: shorten the component name or "
                    "ENVIRONMENT_SUFFIX.",
                )


def _rds_identifier_problems(value: str, limit: int) -> list[str]:
    problems = []
    if not 1 <= len(value) <= limit:
        problems.append(f"{len(value)} characters (limit {limit})")
    if not RDS_IDENTIFIER.match(value):
        problems.append("lowercase letters, digits and hyphens only, starting with a letter")
    if "--" in value or value.endswith("-"):
        problems.append("no two consecutive hyphens and no trailing hyphen")
    return problems


@rule(
    "PF-NAME-RDS",
    "RDS identifiers: 1-63 lowercase letters, digits and hyphens, starting with a letter, no "
    "'--', no trailing hyphen (identifier_prefix 37; snapshot identifiers up to 255).",
)
def check_rds_names(view: StackView) -> Iterator[Finding]:
    checks = (
        ("aws_db_instance", "identifier", 63),
        ("aws_db_instance", "identifier_prefix", 37),
        ("aws_db_instance", "final_snapshot_identifier", 255),
        ("aws_db_parameter_group", "name", 255),
        ("aws_rds_cluster", "cluster_identifier", 63),
    )
    for rtype, attribute, limit in checks:
        for resource in view.resources(rtype):
            value = _measurable(view, resource.get(attribute))
            if value is None:
                continue
            problems = _rds_identifier_problems(value, limit)
            if problems:
                yield finding(
                    "PF-NAME-RDS",
                    resource,
                    f"{attribute} {value!r} is invalid: {'; '.join(problems)}. "
                    "Fix: adjust the name or ENVIRONMENT_SUFFIX.",
                )
    for group in view.resources("aws_db_subnet_group"):
        value = _measurable(view, group.get("name"))
        if value is not None and not re.fullmatch(r"[a-z0-9 ._-]{1,255}", value):
            yield finding(
                "PF-NAME-RDS",
                group,
                f"name {value!r} is invalid: lowercase letters, digits, spaces, "
                "'.', '_' and '-' only. Fix: lowercase the name.",
            )


@rule(
    "PF-NAME-LOG-GROUP",
    "CloudWatch log group names: 1-512 characters from [.-_/#A-Za-z0-9]; a WAF logging "
    "destination must be a log group named 'aws-waf-logs-...'.",
    pci=("6.4.1, 6.4.2", "10.2, 10.3, 10.5"),
)
def check_log_group_names(view: StackView) -> Iterator[Finding]:
    for group in view.resources("aws_cloudwatch_log_group"):
        name = _measurable(view, group.get("name"))
        if name is not None and (not 1 <= len(name) <= 512 or not LOG_GROUP.match(name)):
            yield finding(
                "PF-NAME-LOG-GROUP",
                group,
                f"name {name!r} is invalid: 1-512 characters from [.-_/#A-Za-z0-9]. Fix: remove other characters.",
            )
    for logging in view.resources("aws_wafv2_web_acl_logging_configuration"):
        for destination in logging.get("log_destination_configs") or []:
            target, _ = view.referenced(destination)
            if isinstance(target, Resource) and target.type == "aws_cloudwatch_log_group":
                name = _measurable(view, target.get("name"))
                if name is not None and not name.startswith(WAF_LOG_PREFIX):
                    yield finding(
                        "PF-NAME-LOG-GROUP",
                        target,
                        f"log group {name!r} receives WAF logs ({logging.path}) but does not start with "
                        f"{WAF_LOG_PREFIX!r}; WAF refuses the destination. Fix: name it "
                        f"'{WAF_LOG_PREFIX}<name>'.",
                    )
            elif (
                isinstance(destination, str)
                and ":log-group:" in destination
                and f":log-group:{WAF_LOG_PREFIX}" not in destination
            ):
                yield finding(
                    "PF-NAME-LOG-GROUP",
                    logging,
                    f"WAF log destination {destination!r} is not a log group named "
                    f"'{WAF_LOG_PREFIX}...'. Fix: log to a group with that prefix.",
                )
