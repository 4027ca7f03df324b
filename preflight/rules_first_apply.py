"""What fails a first ``terraform apply`` in a fresh account although validate and the emulator pass.

The emulator runs no timing races and checks fewer AWS rules: these classes were found by an audit against
AWS documentation and open terraform-provider-aws issues (each rule names its source). Ordering rules check
``depends_on`` because Terraform creates independent resources in parallel: a distribution or load balancer
that only references a bucket's *name* can be created before that bucket's ACLs or policy exist.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from facts import CLOUDFRONT_LOGGING_UNSUPPORTED_REGIONS, apply_method_for, minimum_storage_ceiling
from preflight.model import Finding, Resource, Severity, StackView, finding, rule

ACL_OWNERSHIP = ("BucketOwnerPreferred", "ObjectWriter")
ALB_LOG_PRINCIPALS = ("logdelivery.elasticloadbalancing.amazonaws.com",)
MIN_WAF_ASSOCIATION_MINUTES = 15
GP3_BASELINE_LIMIT_GIB = 400  # below it, RDS gp3 storage has fixed IOPS/throughput and refuses either setting
CERTIFICATE_REGION = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):")
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# What a boot script names a stack resource by: resource type -> the attribute holding that name. A literal value
# (no Terraform token) of at least MIN_NAME_LENGTH characters found in the decoded user data is a resource the boot
# reads, calls or writes.
BOOT_NAMED_ATTRIBUTES = {
    "aws_ssm_parameter": "name",
    "aws_s3_object": "key",
    "aws_s3_bucket": "bucket",
    "aws_cloudwatch_log_group": "name",
    "aws_secretsmanager_secret": "name",
}
MIN_NAME_LENGTH = 8
# The principal that writes WAF's logs into CloudWatch Logs, and the write it needs (CloudWatch Logs User Guide,
# "Logs sent to CloudWatch Logs").
LOG_DELIVERY_PRINCIPAL = "delivery.logs.amazonaws.com"
LOG_DELIVERY_ACTIONS = {"logs:PutLogEvents", "logs:*", "*"}


# --------------------------------------------------------------------------------------------------- helpers
def _depends_on(resource: Resource) -> set[str]:
    return {str(d) for d in resource.get("depends_on") or []}


def _bucket_of(view: StackView, value: Any) -> Resource | None:
    """The aws_s3_bucket a reference such as ``${aws_s3_bucket.x.bucket_domain_name}`` names."""
    target, _attr = view.referenced(value)
    return target if target is not None and target.type == "aws_s3_bucket" else None


def _logging_to_buckets(
    view: StackView, rtype: str, block: str
) -> Iterator[tuple[Resource, Mapping[str, Any], Resource]]:
    """(resource, its logging block, the stack's bucket it logs to) for every ``rtype`` logging via ``block``."""
    for resource in view.resources(rtype):
        for logging in resource.blocks(block):
            bucket = _bucket_of(view, logging.get("bucket"))
            if bucket is not None:
                yield resource, logging, bucket


def _attached(view: StackView, rtype: str, bucket: Resource) -> list[Resource]:
    """Resources of ``rtype`` whose ``bucket`` argument refers to ``bucket``."""
    refs = view.references_to(bucket, ("id", "bucket", "arn"))
    return [r for r in view.resources(rtype) if str(r.get("bucket")) in refs]


def _sse_algorithms(view: StackView, bucket: Resource) -> set[str]:
    found = set()
    for config in _attached(view, "aws_s3_bucket_server_side_encryption_configuration", bucket):
        for block in config.blocks("rule"):
            default = block.get("apply_server_side_encryption_by_default") or {}
            for item in default if isinstance(default, list) else [default]:
                if isinstance(item, Mapping) and item.get("sse_algorithm"):
                    found.add(str(item["sse_algorithm"]))
    return found


def _statements(policy_text: Any) -> list[Mapping[str, Any]]:
    try:
        document = json.loads(policy_text) if isinstance(policy_text, str) else policy_text
    except ValueError:
        return []
    statements = (document or {}).get("Statement") or []
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, Mapping)]


def _principals(statement: Mapping[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return {str(principal)} if principal else set()
    found: set[str] = set()
    for value in principal.values():
        found.update(str(v) for v in (value if isinstance(value, list) else [value]))
    return found


def _minutes(duration: Any) -> float | None:
    match = DURATION.match(str(duration or ""))
    if not duration or not match:
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 60 + minutes + seconds / 60


# ---------------------------------------------------------------------------------------------- CloudFront
@rule(
    "PF-CLOUDFRONT-LOG-BUCKET",
    "CloudFront standard logging writes with ACLs: CreateDistribution fails with 'does not enable ACL access' "
    "unless the log bucket's ownership control allows ACLs and exists first; it cannot write SSE-KMS objects.",
)
def check_cloudfront_log_bucket(view: StackView) -> Iterator[Finding]:
    for cdn, _logging, bucket in _logging_to_buckets(view, "aws_cloudfront_distribution", "logging_config"):
        ownership = _attached(view, "aws_s3_bucket_ownership_controls", bucket)
        modes = {str(b.get("object_ownership")) for o in ownership for b in o.blocks("rule")}
        if not modes & set(ACL_OWNERSHIP):
            yield finding(
                "PF-CLOUDFRONT-LOG-BUCKET",
                cdn,
                f"logs go to {bucket.address}, whose object ownership is {sorted(modes) or 'unset'}: new "
                "buckets have ACLs disabled and CloudFront refuses them. Fix: an "
                'aws_s3_bucket_ownership_controls with object_ownership = "BucketOwnerPreferred".',
            )
        elif not {o.address for o in ownership} & _depends_on(cdn):
            yield finding(
                "PF-CLOUDFRONT-LOG-BUCKET",
                cdn,
                f"the distribution does not depend on {ownership[0].address}: Terraform may create it "
                "before ACLs are enabled, and CreateDistribution fails with 'does not enable ACL "
                f"access'. Fix: depends_on = [{ownership[0].address}].",
            )
        if {"aws:kms", "aws:kms:dsse"} & _sse_algorithms(view, bucket):
            yield finding(
                "PF-CLOUDFRONT-LOG-BUCKET",
                cdn,
                f"logs go to {bucket.address}, which is SSE-KMS encrypted: CloudFront standard logging "
                'cannot write there. Fix: sse_algorithm = "AES256" on the log bucket.',
            )


@rule(
    "PF-CLOUDFRONT-LOG-REGION",
    "CloudFront standard logging cannot deliver to buckets in af-south-1, ap-east-1, eu-south-1 or me-south-1 "
    "(facts/regions.json).",
)
def check_cloudfront_log_region(view: StackView) -> Iterator[Finding]:
    for cdn, _logging, bucket in _logging_to_buckets(view, "aws_cloudfront_distribution", "logging_config"):
        region = view.region_of(bucket)  # the bucket's provider: an aliased bucket lives in the alias's region
        if region not in CLOUDFRONT_LOGGING_UNSUPPORTED_REGIONS:
            continue
        yield finding(
            "PF-CLOUDFRONT-LOG-REGION",
            cdn,
            f"logs go to a bucket of this stack in {region}, where CloudFront standard logging does not "
            "deliver. Fix: deploy to a supported region (facts/regions.json) or log to a "
            "bucket in another region.",
        )


# --------------------------------------------------------------------------------------------------- ALB
def _grants_alb_delivery(view: StackView, policy: Resource) -> bool:
    elb_accounts = {
        f"${{data.aws_elb_service_account.{d.name}.arn}}" for d in view.data_sources("aws_elb_service_account")
    }
    for statement in _statements(policy.get("policy")):
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if (
            statement.get("Effect") == "Allow"
            and any(str(a) in ("s3:PutObject", "s3:*") for a in actions)
            and _principals(statement) & (elb_accounts | set(ALB_LOG_PRINCIPALS))
        ):
            return True
    return False


@rule(
    "PF-ALB-ACCESS-LOG-BUCKET",
    "Enabling ALB access logs writes a test object at once: the bucket policy must grant the region's ELB "
    "principal and exist first ('Access Denied for bucket', provider #12010); ALB delivery needs SSE-S3.",
)
def check_alb_access_log_bucket(view: StackView) -> Iterator[Finding]:
    for alb, logs, bucket in _logging_to_buckets(view, "aws_lb", "access_logs"):
        if str(logs.get("enabled")).lower() == "false":
            continue
        granting = [p for p in _attached(view, "aws_s3_bucket_policy", bucket) if _grants_alb_delivery(view, p)]
        if not granting:
            yield finding(
                "PF-ALB-ACCESS-LOG-BUCKET",
                alb,
                f"access logs go to {bucket.address}, whose policy does not let the region's ELB account "
                "(data.aws_elb_service_account) put objects. Fix: allow s3:PutObject on "
                "<prefix>/AWSLogs/<account>/* to that principal.",
            )
        elif not {p.address for p in granting} & _depends_on(alb):
            yield finding(
                "PF-ALB-ACCESS-LOG-BUCKET",
                alb,
                f"the load balancer does not depend on {granting[0].address}: enabling access logs before "
                "the policy exists fails with 'Access Denied for bucket'. Fix: depends_on = "
                f"[{granting[0].address}].",
            )
        algorithms = _sse_algorithms(view, bucket)
        if algorithms - {"AES256"}:
            yield finding(
                "PF-ALB-ACCESS-LOG-BUCKET",
                alb,
                f"access logs go to {bucket.address}, encrypted with {sorted(algorithms)}"
                ': ALB log delivery supports SSE-S3 only. Fix: sse_algorithm = "AES256".',
            )


# -------------------------------------------------------------------------------------------- WAF, ASG
@rule(
    "PF-WAF-ASSOCIATION-TIMEOUT",
    "A WAF association with a new ALB can answer WAFUnavailableEntityException past the provider's 5-minute "
    "default (provider #29080).",
)
def check_waf_association_timeout(view: StackView) -> Iterator[Finding]:
    for association in view.resources("aws_wafv2_web_acl_association"):
        timeouts = association.get("timeouts") or {}
        minutes = _minutes(timeouts.get("create")) if isinstance(timeouts, Mapping) else None
        if minutes is None or minutes < MIN_WAF_ASSOCIATION_MINUTES:
            yield finding(
                "PF-WAF-ASSOCIATION-TIMEOUT",
                association,
                f"create timeout is {timeouts.get('create') if isinstance(timeouts, Mapping) else None!r} "
                "(provider default 5m): a new ALB can take longer to accept the association. Fix: "
                f'timeouts {{ create = "{MIN_WAF_ASSOCIATION_MINUTES}m" }}.',
                Severity.WARNING,
            )


def _listed(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value]) if item is not None]


def _resource_covers(view: StackView, pattern: str, group: Resource) -> bool:
    """Whether a policy's ``Resource`` entry covers the log streams of ``group``: its ARN token (alone, ``:*`` or
    ``:log-stream:*``), or a literal ARN pattern matching the group's literal name in its region."""
    tokens = view.references_to(group, ("arn",))
    if any(pattern in (token, f"{token}:*", f"{token}:log-stream:*") for token in tokens):
        return True
    name, _ = view.resolve(group.get("name"))
    if not isinstance(name, str) or "${" in pattern:
        return pattern == "*"
    stream = f"arn:aws:logs:{view.region_of(group) or '*'}:000000000000:log-group:{name}:log-stream:x"
    literal_pattern = re.sub(r":[0-9]{12}:", ":*:", pattern)  # any account: the policy's own account is the check
    return fnmatch.fnmatchcase(stream, literal_pattern) or fnmatch.fnmatchcase(stream, f"{literal_pattern}*")


def _delivery_statements(view: StackView, policy: Resource, group: Resource) -> list[Mapping[str, Any]]:
    """The Allow statements of a log resource policy that let the log delivery service write to ``group``."""
    return [
        statement
        for statement in _statements(policy.get("policy_document"))
        if statement.get("Effect") == "Allow"
        and LOG_DELIVERY_PRINCIPAL in _principals(statement)
        and set(_listed(statement.get("Action"))) & LOG_DELIVERY_ACTIONS
        and any(_resource_covers(view, pattern, group) for pattern in _listed(statement.get("Resource")))
    ]


def _unconditioned(statements: list[Mapping[str, Any]]) -> bool:
    """Whether no statement names both the source account and the source ARN (the confused-deputy guard)."""
    for statement in statements:
        keys = {key.lower() for block in (statement.get("Condition") or {}).values() for key in (block or {})}
        if {"aws:sourceaccount", "aws:sourcearn"} <= keys:
            return False
    return True


@rule(
    "PF-WAF-LOG-POLICY",
    "WAF logging to CloudWatch Logs needs a log resource policy letting delivery.logs.amazonaws.com write to the log "
    "group; left to WAF, logging configurations rewrite the account's policy in parallel and a first apply fails "
    "with WAFLogDestinationPermissionIssueException (provider #36000). Each must depend on the stack's own policy "
    "in its region, covering its group, conditioned on aws:SourceAccount and aws:SourceArn.",
)
def check_waf_log_policy(view: StackView) -> Iterator[Finding]:
    policies = view.resources("aws_cloudwatch_log_resource_policy")
    for logging in view.resources("aws_wafv2_web_acl_logging_configuration"):
        region = view.region_of(logging)
        for destination in logging.get("log_destination_configs") or []:
            group, _attr = view.referenced(destination)
            if group is None or group.type != "aws_cloudwatch_log_group":
                continue  # an S3 bucket or a Firehose stream: WAF's permissions there are another matter
            covering = {
                policy.address: statements
                for policy in policies
                if view.region_of(policy) == region and (statements := _delivery_statements(view, policy, group))
            }
            if not covering:
                yield finding(
                    "PF-WAF-LOG-POLICY",
                    logging,
                    f"no aws_cloudwatch_log_resource_policy in {region or 'its region'} lets "
                    f"{LOG_DELIVERY_PRINCIPAL} write to {group.address}: WAF then rewrites the account's policy "
                    "itself, and parallel rewrites fail the apply (WAFLogDestinationPermissionIssueException). Fix: "
                    "a policy in that region (same provider) allowing logs:CreateLogStream and logs:PutLogEvents on "
                    '"<group arn>:*" (lib/components/waf.WafLogDelivery).',
                )
                continue
            if not set(covering) & _depends_on(logging):
                yield finding(
                    "PF-WAF-LOG-POLICY",
                    logging,
                    f"the logging configuration does not depend on {sorted(covering)[0]}, which covers "
                    f"{group.address}: Terraform may put the configuration first, and WAF rewrites the account's "
                    f"policy itself. Fix: depends_on = [{sorted(covering)[0]}] (WebApplicationFirewall.log_after).",
                )
            if all(_unconditioned(statements) for statements in covering.values()):
                yield finding(
                    "PF-WAF-LOG-POLICY",
                    logging,
                    f"the policy covering {group.address} lets {LOG_DELIVERY_PRINCIPAL} write for any account "
                    "(confused deputy). Fix: condition the statement on aws:SourceAccount (StringEquals, the "
                    "account) and aws:SourceArn (ArnLike, arn:aws:logs:<region>:<account>:*).",
                )


@rule(
    "PF-ASG-DESIRED-CAPACITY",
    "desired_capacity beside a scaling policy, without ignore_changes, resets the group on every plan after a "
    "scale-out and terminates the added instances.",
)
def check_asg_desired_capacity(view: StackView) -> Iterator[Finding]:
    scaled = {str(p.get("autoscaling_group_name")) for p in view.resources("aws_autoscaling_policy")}
    for asg in view.resources("aws_autoscaling_group"):
        if asg.get("desired_capacity") is None or not view.references_to(asg, ("name", "id")) & scaled:
            continue
        ignored = (asg.get("lifecycle") or {}).get("ignore_changes") or []
        if "desired_capacity" not in ignored and ignored != "all":
            yield finding(
                "PF-ASG-DESIRED-CAPACITY",
                asg,
                "desired_capacity is managed by Terraform and by a scaling policy: the next plan after a "
                "scale-out sets it back. Fix: lifecycle { ignore_changes = [desired_capacity] }.",
                Severity.WARNING,
            )


def _decoded_user_data(template: Resource) -> str | None:
    """The launch template's user data as text, or None when it is not literal base64 (PF-USER-DATA reports that)."""
    raw = template.get("user_data")
    if not isinstance(raw, str) or "${" in raw:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _launch_template_of(view: StackView, asg: Resource) -> Resource | None:
    for block in asg.blocks("launch_template"):
        for key in ("id", "name"):
            target, _attr = view.referenced(block.get(key))
            if target is not None and target.type == "aws_launch_template":
                return target
    return None


def _named_in(view: StackView, script: str) -> list[tuple[Resource, str]]:
    """The stack's resources whose literal name (BOOT_NAMED_ATTRIBUTES) the script contains, with that name."""
    found = []
    for rtype, attribute in BOOT_NAMED_ATTRIBUTES.items():
        for resource in view.resources(rtype):
            name = resource.get(attribute)
            if isinstance(name, str) and "${" not in name and len(name) >= MIN_NAME_LENGTH and name in script:
                found.append((resource, name))
    return found


def _boot_companions(view: StackView, resource: Resource) -> list[Resource]:
    """What reading ``resource`` also needs: an object's bucket policies (which decide who may read it)."""
    if resource.type != "aws_s3_object":
        return []
    bucket = _bucket_of(view, resource.get("bucket"))
    return _attached(view, "aws_s3_bucket_policy", bucket) if bucket is not None else []


def _instance_role_grants(view: StackView, template: Resource) -> list[Resource]:
    """The instance profile of the launch template and every policy of its role (inline and attached)."""
    grants: list[Resource] = []
    for block in template.blocks("iam_instance_profile"):
        profile, _attr = view.referenced(block.get("arn") or block.get("name"))
        if profile is None or profile.type != "aws_iam_instance_profile":
            continue
        grants.append(profile)
        role, _attr = view.referenced(profile.get("role"))
        if role is None:
            continue
        refs = view.references_to(role, ("id", "name"))
        for rtype in ("aws_iam_role_policy", "aws_iam_role_policy_attachment"):
            grants += [p for p in view.resources(rtype) if str(p.get("role")) in refs]
    return grants


@rule(
    "PF-ASG-BOOT-DEPENDENCIES",
    "An Auto Scaling group launches as soon as it exists: if its user data names a stack resource (a parameter, "
    "an object, a log group) the group must depend on it, its bucket policy and the instance role's policies, "
    "or the first apply's instances boot before what they need exists and fail (issue 22).",
)
def check_asg_boot_dependencies(view: StackView) -> Iterator[Finding]:
    for asg in view.resources("aws_autoscaling_group"):
        template = _launch_template_of(view, asg)
        script = _decoded_user_data(template) if template is not None else None
        if template is None or script is None:
            continue
        named = _named_in(view, script)
        if not named:
            continue
        waited = _depends_on(asg) | _depends_on(template)
        needed = [(resource, f"the user data names it ({name!r})") for resource, name in named]
        needed += [
            (companion, f"it decides who may read {resource.address}")
            for resource, _name in named
            for companion in _boot_companions(view, resource)
        ]
        needed += [(grant, "the boot acts with the instance role") for grant in _instance_role_grants(view, template)]
        for resource, why in needed:
            if resource.address not in waited:
                yield finding(
                    "PF-ASG-BOOT-DEPENDENCIES",
                    asg,
                    f"the group does not depend on {resource.address}, though {why}: Terraform may launch "
                    "instances before it exists, and their first boot fails. Fix: add it to the group's depends_on "
                    f"(depends_on = [{resource.address}, ...]; lib/tap_stack.boot_dependencies).",
                )


# --------------------------------------------------------------------------------------------------- RDS
@rule(
    "PF-RDS-STORAGE",
    "RDS refuses a storage autoscaling ceiling under 110 % of the allocated storage, and gp3 IOPS/throughput "
    "below 400 GiB.",
)
def check_rds_storage(view: StackView) -> Iterator[Finding]:
    for db in view.resources("aws_db_instance"):
        allocated, _ = view.resolve(db.get("allocated_storage"))
        ceiling, ceiling_var = view.resolve(db.get("max_allocated_storage"))
        source = f" (var.{ceiling_var} default)" if ceiling_var else ""
        if (
            isinstance(allocated, (int, float))
            and isinstance(ceiling, (int, float))
            and ceiling != 0
            and ceiling < minimum_storage_ceiling(int(allocated))
        ):
            yield finding(
                "PF-RDS-STORAGE",
                db,
                f"max_allocated_storage{source} {ceiling} is less than 10 % above allocated_storage "
                f"{allocated}: RDS answers 'The maximum allocated storage must be increased by at least "
                f"10 percent'. Fix: {minimum_storage_ceiling(int(allocated))} or more, or 0 (no "
                "autoscaling).",
            )
        if ceiling_var and not any(
            "ceil(" in str(v.get("condition")) for v in (view.variables.get(ceiling_var) or {}).get("validation") or []
        ):
            yield finding(
                "PF-RDS-STORAGE",
                db,
                f"var.{ceiling_var} has no validation block holding it 10 % above the allocated storage, "
                "so a value given at plan time fails only at apply. Fix: add one.",
                Severity.WARNING,
            )
        if (
            db.get("storage_type") == "gp3"
            and isinstance(allocated, (int, float))
            and allocated < GP3_BASELINE_LIMIT_GIB
            and (db.get("iops") or db.get("storage_throughput"))
        ):
            yield finding(
                "PF-RDS-STORAGE",
                db,
                f"gp3 with {allocated} GiB sets iops/storage_throughput, which RDS only accepts from "
                f"{GP3_BASELINE_LIMIT_GIB} GiB. Fix: remove them or allocate {GP3_BASELINE_LIMIT_GIB} GiB.",
            )


@rule(
    "PF-RDS-PARAMETER-APPLY",
    "A dynamic parameter on pending-reboot waits for a reboot nobody does; 'immediate' on a static one is "
    "refused (facts/rds_parameters.json).",
)
def check_rds_parameter_apply(view: StackView) -> Iterator[Finding]:
    for group in view.resources("aws_db_parameter_group"):
        family = str(group.get("family"))
        for parameter in group.blocks("parameter"):
            name, method = str(parameter.get("name")), parameter.get("apply_method") or "immediate"
            expected = apply_method_for(family, name)
            if expected is None:
                yield finding(
                    "PF-RDS-PARAMETER-APPLY",
                    group,
                    f"parameter {name!r} of {family} is not in facts/rds_parameters.json, so "
                    "its apply method cannot be checked. Fix: add its ApplyType there with the source.",
                    Severity.WARNING,
                )
            elif method != expected:
                yield finding(
                    "PF-RDS-PARAMETER-APPLY",
                    group,
                    f"parameter {name!r} uses apply_method {method!r}, but it is "
                    f"{'dynamic' if expected == 'immediate' else 'static'} in {family}. Fix: apply_method "
                    f'= "{expected}".',
                )


# ----------------------------------------------------------------------------------------- certificates
def _certificate_region_findings(
    view: StackView, resource: Resource, value: Any, wanted: str, why: str
) -> Iterator[Finding]:
    literal, variable = view.resolve(value)
    if isinstance(literal, str):
        match = CERTIFICATE_REGION.match(literal)
        if match and match.group(1) != wanted:
            yield finding(
                "PF-CERTIFICATE-REGION",
                resource,
                f"certificate {literal!r} is in {match.group(1)}; {why} (CertificateNotFound). Fix: "
                f"request or import the certificate in {wanted}.",
            )
    if variable:
        conditions = " ".join(
            str(v.get("condition")) for v in (view.variables.get(variable) or {}).get("validation") or []
        )
        if f":acm:{wanted}:" not in conditions:
            yield finding(
                "PF-CERTIFICATE-REGION",
                resource,
                f"var.{variable}'s validation does not pin the region {wanted}, so a certificate from "
                f"another region fails only at apply ({why}). Fix: match ^arn:aws:acm:{wanted}: in it.",
                Severity.WARNING,
            )


@rule("PF-CERTIFICATE-REGION", "An ALB uses ACM certificates from its own region only, CloudFront from us-east-1 only.")
def check_certificate_regions(view: StackView) -> Iterator[Finding]:
    for listener in view.resources("aws_lb_listener"):
        region = view.region_of(listener)
        if region and listener.get("certificate_arn"):
            yield from _certificate_region_findings(
                view,
                listener,
                listener.get("certificate_arn"),
                region,
                "a load balancer only uses certificates from its own region",
            )
    for cdn in view.resources("aws_cloudfront_distribution"):
        for certificate in cdn.blocks("viewer_certificate"):
            if certificate.get("acm_certificate_arn"):
                yield from _certificate_region_findings(
                    view,
                    cdn,
                    certificate.get("acm_certificate_arn"),
                    "us-east-1",
                    "CloudFront only uses certificates from us-east-1",
                )


# ------------------------------------------------------------------------------------------ key policies
def _key_of(view: StackView, value: Any) -> Resource | None:
    target, _attr = view.referenced(value)
    return target if target is not None and target.type == "aws_kms_key" else None


EVENTBRIDGE = "events.amazonaws.com"
# Condition keys AWS does not support in a key policy for EventBridge delivering to an encrypted SNS topic (the Amazon
# SNS Developer Guide, sns-key-management.html#compatibility-with-aws-services): EventBridge's KMS request carries none,
# so a statement conditioned on one never admits it and every delivery fails. The same list as lib/blocks/iam.py's
# UNSUPPORTED_EVENTBRIDGE_KEY_CONDITIONS (the preflight may not import lib/).
EVENTBRIDGE_UNSUPPORTED_KEY_CONDITIONS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID")


def _unsupported_for_eventbridge(statement: Mapping[str, Any]) -> list[str]:
    """The condition keys of ``statement`` that EventBridge's delivery to an encrypted topic never satisfies."""
    unsupported = {key.lower() for key in EVENTBRIDGE_UNSUPPORTED_KEY_CONDITIONS}
    condition = statement.get("Condition")
    blocks = condition.values() if isinstance(condition, Mapping) else []
    return sorted({str(k) for block in blocks if isinstance(block, Mapping) for k in block if k.lower() in unsupported})


def _key_services(key: Resource) -> set[str]:
    """The service principals the key's Allow statements really admit: an EventBridge statement conditioned on a key
    EventBridge's request does not carry admits nothing."""
    return {
        p
        for s in _statements(key.get("policy"))
        if s.get("Effect") == "Allow"
        for p in _principals(s)
        if not (p == EVENTBRIDGE and _unsupported_for_eventbridge(s))
    }


def _refusal_detail(key: Resource, services: set[str]) -> str:
    """Why the key refuses EventBridge although a statement names it, or nothing."""
    if EVENTBRIDGE not in services:
        return ""
    conditioned = sorted(
        {
            k
            for s in _statements(key.get("policy"))
            if EVENTBRIDGE in _principals(s)
            for k in _unsupported_for_eventbridge(s)
        }
    )
    if not conditioned:
        return ""
    return (
        f" Its {EVENTBRIDGE} statement is conditioned on {', '.join(conditioned)}, which AWS does not support in a key "
        "policy for EventBridge delivering to an encrypted topic (the SNS Developer Guide, compatibility with AWS "
        "services): every delivery fails (the rule's FailedInvocations). Drop those conditions from the key statement "
        "(lib.blocks.iam.eventbridge_topic_key_use) and keep them on the topic policy, which supports them."
    )


def _topic_key_uses(view: StackView) -> list[tuple[Resource, Any, set[str], str]]:
    """The SNS topics CloudWatch alarms, RDS event subscriptions or EventBridge rules publish to, with the service each
    needs."""
    publishers = {
        ("cloudwatch.amazonaws.com", "CloudWatch alarms"): {
            str(a) for alarm in view.resources("aws_cloudwatch_metric_alarm") for a in alarm.get("alarm_actions") or []
        },
        ("events.rds.amazonaws.com", "RDS event subscriptions"): {
            str(s.get("sns_topic")) for s in view.resources("aws_db_event_subscription")
        },
        (EVENTBRIDGE, "EventBridge rules"): {str(t.get("arn")) for t in view.resources("aws_cloudwatch_event_target")},
    }
    return [
        (topic, topic.get("kms_master_key_id"), {service}, who)
        for (service, who), targets in publishers.items()
        for topic in view.resources("aws_sns_topic")
        if view.references_to(topic, ("arn", "id")) & targets
    ]


@rule(
    "PF-KEY-SERVICE-ACCESS",
    "A customer key must let the service that uses it in: CloudWatch Logs for log groups, CloudWatch, RDS events and "
    "EventBridge (without the source conditions AWS does not support for it) for the alarm topic, CloudFront for the "
    "frontend bucket; otherwise creates or deliveries fail at apply or run time.",
)
def check_key_service_access(view: StackView) -> Iterator[Finding]:
    uses: list[tuple[Resource, Any, set[str], str]] = []
    # CloudWatch Logs of the log group's own region (its provider's: the us-east-1 alias's WAF log group is served
    # by logs.us-east-1 whatever the stack's home region).
    uses += [
        (
            g,
            g.get("kms_key_id"),
            {f"logs.{view.region_of(g) or '<region>'}.amazonaws.com", "logs.amazonaws.com"},
            "CloudWatch Logs",
        )
        for g in view.resources("aws_cloudwatch_log_group")
    ]
    uses += _topic_key_uses(view)
    origins = {
        str(o.get("domain_name")) for cdn in view.resources("aws_cloudfront_distribution") for o in cdn.blocks("origin")
    }
    for bucket in view.resources("aws_s3_bucket"):
        if view.references_to(bucket, ("bucket_regional_domain_name", "bucket_domain_name")) & origins:
            for config in _attached(view, "aws_s3_bucket_server_side_encryption_configuration", bucket):
                for block in config.blocks("rule"):
                    default = block.get("apply_server_side_encryption_by_default") or {}
                    uses.append(
                        (
                            config,
                            default.get("kms_master_key_id") if isinstance(default, Mapping) else None,
                            {"cloudfront.amazonaws.com"},
                            "CloudFront (origin access control)",
                        )
                    )
    for user, key_ref, services, who in uses:
        key = _key_of(view, key_ref)
        if (
            key is not None
            and None not in (view.region_of(key), view.region_of(user))
            and view.region_of(key) != view.region_of(user)
        ):
            yield finding(
                "PF-KEY-SERVICE-ACCESS",
                user,
                f"{key.address} is created in {view.region_of(key)} but this resource in "
                f"{view.region_of(user)}: a KMS key serves its own region only. Fix: create the key "
                "through the same provider (alias) as the resource that uses it.",
            )
        elif key is not None and not _key_services(key) & services:
            yield finding(
                "PF-KEY-SERVICE-ACCESS",
                user,
                f"{key.address}'s policy lets no {' / '.join(sorted(services))} principal use the key, so "
                f"{who} cannot encrypt or decrypt with it.{_refusal_detail(key, services)} Fix: add an Allow "
                "statement for that service principal, conditioned on the source account or ARN where the service "
                "supports it (EventBridge to an encrypted topic does not).",
            )
