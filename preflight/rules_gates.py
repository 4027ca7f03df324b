"""Deploy-path gates: the security regressions that only ``make scan`` (checkov) used to catch.

Why here: the README's path to a real account (``make validate``, then ``terraform plan/apply``, or ``cdktf
deploy``) never runs checkov, but every one of them synthesizes, and every synth runs the preflight. So each
class of regression the scan alone stopped is a rule here as well, and stops synth: an HTTP listener, a
CloudFront behaviour that allows plain HTTP, a bucket whose public access block is off or missing, a key without
rotation, PostgreSQL without ``rds.force_ssl``, an internet-facing ALB without its WAF association. (The weak ALB
TLS policy is PF-ALB-TLS-POLICY, a short retention written in code PF-LOG-RETENTION, both in rules_security.py.)
The scan stays in CI: it knows hundreds of checks; these are the ones a deploy must never skip.

Production-only rules (a CloudFront distribution without WAF, a log archive without Object Lock) read the stack's
type from the provider's ``default_tags`` (``EnvironmentType``), which every resource carries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model import Finding, Resource, Severity, StackView, finding, rule, truthy

HTTPS_VIEWER_POLICIES = ("https-only", "redirect-to-https")
PUBLIC_ACCESS_BLOCK_SETTINGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)
# KMS rotates symmetric encryption keys only; asymmetric and HMAC keys cannot have rotation on.
ROTATABLE_KEY_SPECS = ("SYMMETRIC_DEFAULT",)


def _redirects_to_https(listener: Resource) -> bool:
    """A plain-HTTP listener whose only default action redirects to HTTPS (what checkov CKV_AWS_2 admits)."""
    actions = listener.blocks("default_action")
    return bool(actions) and all(
        action.get("type") == "redirect"
        and any(str(r.get("protocol", "")).upper() == "HTTPS" for r in _blocks(action, "redirect"))
        for action in actions
    )


def _blocks(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = body.get(key)
    if isinstance(value, Mapping):
        return [value]
    return [item for item in value or [] if isinstance(item, Mapping)] if isinstance(value, list) else []


@rule(
    "PF-ALB-HTTPS-ONLY",
    "Load balancer listeners speak HTTPS (or TLS); a plain-HTTP listener may only redirect "
    "to HTTPS: cardholder data never crosses the internet unencrypted.",
    pci=("4.2",),
)
def check_listener_protocol(view: StackView) -> Iterator[Finding]:
    for listener in view.resources("aws_lb_listener"):
        protocol = str(listener.get("protocol") or "HTTP").upper()  # AWS's default for an ALB is HTTP
        if protocol in ("HTTPS", "TLS") or (protocol == "HTTP" and _redirects_to_https(listener)):
            continue
        yield finding(
            "PF-ALB-HTTPS-ONLY",
            listener,
            f"listener on port {listener.get('port')!r} uses protocol {protocol!r} and serves requests "
            'unencrypted. Fix: protocol = "HTTPS" with certificate_arn and ssl_policy, or make its only '
            'default_action a redirect { protocol = "HTTPS", port = "443", status_code = "HTTP_301" }.',
        )


@rule(
    "PF-CLOUDFRONT-HTTPS-ONLY",
    "CloudFront cache behaviours never serve viewers over plain HTTP "
    "(viewer_protocol_policy https-only or redirect-to-https, not allow-all).",
    pci=("4.2",),
)
def check_cloudfront_viewer_protocol(view: StackView) -> Iterator[Finding]:
    for distribution in view.resources("aws_cloudfront_distribution"):
        behaviours = [("default_cache_behavior", b) for b in distribution.blocks("default_cache_behavior")]
        behaviours += [
            (f"ordered_cache_behavior {b.get('path_pattern')!r}", b)
            for b in distribution.blocks("ordered_cache_behavior")
        ]
        for where, behaviour in behaviours:
            policy = behaviour.get("viewer_protocol_policy")
            if policy not in HTTPS_VIEWER_POLICIES:
                yield finding(
                    "PF-CLOUDFRONT-HTTPS-ONLY",
                    distribution,
                    f"{where} has viewer_protocol_policy {policy!r}: the payment page would be served "
                    'over plain HTTP. Fix: viewer_protocol_policy = "https-only" (or '
                    '"redirect-to-https").',
                )


def _public_access_blocks(view: StackView) -> dict[str, Resource]:
    """Public access blocks by the reference token of the bucket they protect."""
    return {str(block.get("bucket")): block for block in view.resources("aws_s3_bucket_public_access_block")}


@rule(
    "PF-S3-PUBLIC-ACCESS-BLOCK",
    "Every bucket has its public access block with all four settings on: no ACL or "
    "policy change can make logs or builds public.",
    pci=("1.2, 1.3, 1.4", "7.2, 8.2, 8.6"),
)
def check_public_access_block(view: StackView) -> Iterator[Finding]:
    blocks = _public_access_blocks(view)
    for bucket in view.resources("aws_s3_bucket"):
        block = next((blocks[ref] for ref in view.references_to(bucket, ("id", "bucket")) if ref in blocks), None)
        if block is None:
            yield finding(
                "PF-S3-PUBLIC-ACCESS-BLOCK",
                bucket,
                f"bucket {bucket.get('bucket')!r} has no aws_s3_bucket_public_access_block. Fix: "
                "lib.blocks.buckets.secure_bucket_baseline (all four settings true).",
            )
            continue
        off = [name for name in PUBLIC_ACCESS_BLOCK_SETTINGS if truthy(block.get(name)) is not True]
        if off:
            yield finding(
                "PF-S3-PUBLIC-ACCESS-BLOCK",
                block,
                f"the public access block of bucket {bucket.get('bucket')!r} has {', '.join(off)} not "
                f"true. Fix: {' = true, '.join(off)} = true (lib.blocks.buckets.secure_bucket_baseline).",
            )


@rule(
    "PF-KMS-ROTATION",
    "Customer managed symmetric keys rotate automatically (enable_key_rotation): a "
    "cryptoperiod per key, as the key-management procedures define.",
    pci=("3.5, 3.6, 3.7",),
)
def check_key_rotation(view: StackView) -> Iterator[Finding]:
    for key in view.resources("aws_kms_key"):
        if str(key.get("customer_master_key_spec") or "SYMMETRIC_DEFAULT") not in ROTATABLE_KEY_SPECS:
            continue
        if truthy(key.get("enable_key_rotation")) is not True:
            yield finding(
                "PF-KMS-ROTATION",
                key,
                f"enable_key_rotation is {key.get('enable_key_rotation')!r}: the key material never "
                "changes. Fix: enable_key_rotation = true (lib.blocks.kms.customer_managed_key).",
            )


def _force_ssl(group: Resource) -> str | None:
    return next((str(p.get("value")) for p in group.blocks("parameter") if p.get("name") == "rds.force_ssl"), None)


@rule(
    "PF-RDS-FORCE-SSL",
    "PostgreSQL refuses connections without TLS (rds.force_ssl = 1 in the instance's own "
    "parameter group; the default group of PostgreSQL 15 and older allows plain TCP).",
    pci=("4.2",),
)
def check_rds_force_ssl(view: StackView) -> Iterator[Finding]:
    for db in view.resources("aws_db_instance"):
        if not str(db.get("engine", "")).startswith("postgres"):
            continue
        group, _ = view.referenced(db.get("parameter_group_name"))
        if group is None or group.type != "aws_db_parameter_group":
            yield finding(
                "PF-RDS-FORCE-SSL",
                db,
                f"parameter_group_name is {db.get('parameter_group_name')!r}, not a parameter group of "
                "this stack, so rds.force_ssl cannot be shown to be 1. Fix: parameter_group_name = the "
                "stack's aws_db_parameter_group.name with rds.force_ssl = 1.",
            )
        elif _force_ssl(group) != "1":
            yield finding(
                "PF-RDS-FORCE-SSL",
                group,
                f"rds.force_ssl is {_force_ssl(group)!r}: clients may connect without TLS. Fix: "
                'parameter { name = "rds.force_ssl", value = "1" }.',
            )


@rule(
    "PF-ALB-WAF",
    "Every internet-facing application load balancer is associated with a web ACL: without the "
    "association the WAF exists and filters nothing.",
    pci=("6.4.1, 6.4.2",),
)
def check_alb_waf(view: StackView) -> Iterator[Finding]:
    associated = {str(a.get("resource_arn")) for a in view.resources("aws_wafv2_web_acl_association")}
    for alb in view.resources("aws_lb"):
        if truthy(alb.get("internal")) is True or str(alb.get("load_balancer_type") or "application") != "application":
            continue
        if not view.references_to(alb, ("arn", "id")) & associated:
            yield finding(
                "PF-ALB-WAF",
                alb,
                "internet-facing ALB without an aws_wafv2_web_acl_association: requests reach the API "
                "unfiltered. Fix: Wafv2WebAclAssociation(resource_arn=alb.arn, web_acl_arn=web_acl.arn) "
                "(lib/components/compute.py).",
            )


# PCI DSS 10.5.1: audit logs kept 12 months, unalterable (10.3.2-10.3.4).
LOG_LOCK_MIN_DAYS = 365


def _log_destinations(view: StackView) -> dict[str, tuple[Resource, str]]:
    """Buckets that receive ALB or CloudFront logs, by address, with who delivers to them."""
    found: dict[str, tuple[Resource, str]] = {}
    targets = [
        (alb, block.get("bucket"), "ALB access logs")
        for alb in view.resources("aws_lb")
        for block in alb.blocks("access_logs")
    ]
    targets += [
        (cdn, block.get("bucket"), "CloudFront logs")
        for cdn in view.resources("aws_cloudfront_distribution")
        for block in cdn.blocks("logging_config")
    ]
    for _, reference, what in targets:
        bucket, _ = view.referenced(reference)
        if bucket is not None and bucket.type == "aws_s3_bucket":
            found.setdefault(bucket.address, (bucket, what))
    return found


def _number(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _lock_problem(lock: Resource | None) -> str | None:
    if lock is None:
        return "has no aws_s3_bucket_object_lock_configuration"
    if str(lock.get("object_lock_enabled") or "Enabled") != "Enabled":
        return f"has object_lock_enabled {lock.get('object_lock_enabled')!r}"
    retention = next((r for rule_ in lock.blocks("rule") for r in _blocks(rule_, "default_retention")), None)
    if retention is None:
        return "has Object Lock without a default retention (log objects are not locked)"
    if str(retention.get("mode")) != "COMPLIANCE":
        return f"locks in {retention.get('mode')!r} mode, which a principal with s3:BypassGovernanceRetention undoes"
    days, years = retention.get("days"), retention.get("years")
    if _number(days) + 365 * _number(years) < LOG_LOCK_MIN_DAYS:
        return f"locks for {days!r} days / {years!r} years, under 365 days"
    return None


@rule(
    "PF-LOG-ARCHIVE-WORM",
    "A production stack's log archive (the buckets receiving ALB and CloudFront logs) is "
    "write-once: Object Lock in COMPLIANCE mode with a default retention of at least 365 "
    "days, so no principal can delete or alter a log before PCI DSS 10.5.1's 12 months.",
    pci=("10.2, 10.3, 10.5",),
)
def check_log_archive_worm(view: StackView) -> Iterator[Finding]:
    if not view.is_production:
        return
    locks = {str(lock.get("bucket")): lock for lock in view.resources("aws_s3_bucket_object_lock_configuration")}
    for bucket, what in _log_destinations(view).values():
        lock = next((locks[ref] for ref in view.references_to(bucket, ("id", "bucket")) if ref in locks), None)
        problem = _lock_problem(lock)
        if problem:
            yield finding(
                "PF-LOG-ARCHIVE-WORM",
                lock or bucket,
                f"bucket {bucket.get('bucket')!r} receives {what} and {problem}. Fix: "
                'aws_s3_bucket_object_lock_configuration { object_lock_enabled = "Enabled", rule { '
                'default_retention { mode = "COMPLIANCE", days = 365 } } } (lib/components/log_archive.py, '
                "LogArchiveProps.lock_mode).",
            )


# What changes the rules a log bucket's logs live by (lib/blocks/iam.py, LOG_BUCKET_CONFIGURATION_ACTIONS).
LOG_RULE_ACTIONS = frozenset(
    {
        "s3:putbucketpolicy",
        "s3:deletebucketpolicy",
        "s3:putlifecycleconfiguration",
        "s3:putbucketobjectlockconfiguration",
    }
)


def _statements(policy: Resource) -> list[Mapping[str, Any]]:
    try:
        document = json.loads(str(policy.get("policy") or "{}"))
    except ValueError:
        return []
    statements = document.get("Statement") if isinstance(document, dict) else None
    items = statements if isinstance(statements, list) else [statements]
    return [item for item in items if isinstance(item, Mapping)]


def _break_glass_problem(view: StackView, bucket: Resource, policy: Resource | None) -> str | None:
    """None when ``policy`` denies :data:`LOG_RULE_ACTIONS` on ``bucket`` to every principal but one named role."""
    if policy is None:
        return "has no bucket policy"
    for statement in _statements(policy):
        actions = statement.get("Action")
        named = {str(action).lower() for action in (actions if isinstance(actions, list) else [actions])}
        if statement.get("Effect") != "Deny" or statement.get("Principal") != "*" or not LOG_RULE_ACTIONS <= named:
            continue
        target, attr = view.referenced(statement.get("Resource"))
        exempt = (statement.get("Condition") or {}).get("ArnNotLike", {}).get("aws:PrincipalArn")
        roles = exempt if isinstance(exempt, list) else [exempt]
        if (
            target is bucket
            and attr == "arn"
            and len(roles) == 1
            and ":role/" in str(roles[0])
            and "*" not in str(roles[0])
        ):
            return None
    return (
        "lets any principal allowed by IAM change its policy, lifecycle or Object Lock configuration (no Deny of "
        "s3:PutBucketPolicy, s3:DeleteBucketPolicy, s3:PutLifecycleConfiguration and "
        "s3:PutBucketObjectLockConfiguration on the bucket to all but one role, ArnNotLike aws:PrincipalArn)"
    )


@rule(
    "PF-LOG-ARCHIVE-BREAK-GLASS",
    "A production stack's log archive keeps its rules out of a single admin's reach: the bucket policy of each "
    "bucket receiving ALB and CloudFront logs denies changing the policy, the lifecycle and the Object Lock "
    "configuration to every principal but one break-glass role (BREAK_GLASS_ROLE_ARN).",
    pci=("10.3.3, 10.5.1",),
)
def check_log_archive_break_glass(view: StackView) -> Iterator[Finding]:
    if not view.is_production:
        return
    policies = {str(policy.get("bucket")): policy for policy in view.resources("aws_s3_bucket_policy")}
    for bucket, what in _log_destinations(view).values():
        policy = next((policies[ref] for ref in view.references_to(bucket, ("id", "bucket")) if ref in policies), None)
        problem = _break_glass_problem(view, bucket, policy)
        if problem:
            yield finding(
                "PF-LOG-ARCHIVE-BREAK-GLASS",
                policy or bucket,
                f"bucket {bucket.get('bucket')!r} receives {what} and {problem}. Fix: set BREAK_GLASS_ROLE_ARN "
                "(lib/components/log_archive.py, LogArchiveProps.break_glass_role_arn; lib/blocks/iam.py, "
                "deny_log_bucket_configuration_changes).",
            )


CLOUDFRONT_WAF_REGION = "us-east-1"


def _cloudfront_acl_problem(view: StackView, raw: Any) -> str | None:
    acl, attr = view.referenced(raw)
    if acl is None or acl.type != "aws_wafv2_web_acl":
        return (
            None
            if isinstance(raw, str) and ":global/webacl/" in raw
            else (
                f"web_acl_id {raw!r} is not a WAFv2 web ACL's ARN (arn:aws:wafv2:us-east-1:<account>:global/webacl/...)"
            )
        )
    if attr != "arn":
        return f"web_acl_id is the web ACL's {attr!r}; for WAFv2 CloudFront takes its ARN"
    if str(acl.get("scope")) != "CLOUDFRONT":
        return f"web ACL {acl.path} has scope {acl.get('scope')!r}; a distribution needs a CLOUDFRONT-scope ACL"
    region = view.region_of(acl)
    if region != CLOUDFRONT_WAF_REGION:
        return (
            f"web ACL {acl.path} is created in {region!r}; CLOUDFRONT-scope ACLs exist only in us-east-1 (give "
            "it the us-east-1 provider alias)"
        )
    return None


@rule(
    "PF-CLOUDFRONT-WAF",
    "The distribution serving the payment page is filtered by a CLOUDFRONT-scope WAFv2 web "
    "ACL (created in us-east-1, named by its ARN in web_acl_id): the checkout is a "
    "public-facing web application too. Required in production, a warning in development.",
    pci=("6.4.1, 6.4.2",),
)
def check_cloudfront_waf(view: StackView) -> Iterator[Finding]:
    for distribution in view.resources("aws_cloudfront_distribution"):
        raw = distribution.get("web_acl_id")
        if not raw:
            yield finding(
                "PF-CLOUDFRONT-WAF",
                distribution,
                "no web_acl_id: requests to the payment page reach it unfiltered (no managed rules, no rate "
                "limit). Fix: web_acl_id = a CLOUDFRONT-scope aws_wafv2_web_acl's .arn, created through "
                'the us-east-1 provider alias (lib/components/waf.py, WafProps.scope = "CLOUDFRONT").',
                Severity.ERROR if view.is_production else Severity.WARNING,
            )
            continue
        problem = _cloudfront_acl_problem(view, raw)
        if problem:
            yield finding(
                "PF-CLOUDFRONT-WAF",
                distribution,
                f"{problem}. Fix: web_acl_id = the CLOUDFRONT-scope aws_wafv2_web_acl's .arn, created "
                "through the us-east-1 provider alias.",
            )
