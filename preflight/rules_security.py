"""Encryption at rest (PCI DSS 3.5; EBS on a customer key), key policies (administration apart from use, PCI DSS
3.6.1), instance metadata hardening (PCI DSS 2.2), tags on launched instances and volumes, the ALB's TLS policy
(PCI DSS 4.2) and the database audit log (PCI DSS 10.2).

checkov covers much of this resource by resource; these rules state the project's own, stricter baseline
(every log group and topic on a customer key, SSM parameters only as SecureString) and fail synth on a
regression instead of waiting for the scan in CI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from facts import ALB_TLS_POLICIES_WITHOUT_CBC, CLOUDWATCH_RETENTION_DAYS, load_data
from preflight.model import Finding, Resource, Severity, StackView, finding, rule, truthy

_IAM_FACTS = load_data("iam.json")
# Actions with no resource types (Service Authorization Reference): "*" is the only Resource they can have.
ACTIONS_WITHOUT_RESOURCE_TYPES: frozenset[str] = frozenset(_IAM_FACTS["actions_without_resource_types"])
# Actions whose "*" a condition key scopes instead (cloudwatch:PutMetricData by cloudwatch:namespace): accepted only
# with that key in the statement's Condition.
ACTIONS_SCOPED_BY_CONDITION_KEY: Mapping[str, str] = {
    action: key for action, key in _IAM_FACTS["actions_scoped_by_condition_key"].items() if not action.startswith("_")
}
# AWS managed policies an EC2 instance role may carry, each with the reason; everything else is refused.
INSTANCE_ROLE_MANAGED_POLICIES: Mapping[str, str] = _IAM_FACTS["instance_role_managed_policies"]["allowed"]
KNOWN_REFUSED_MANAGED_POLICIES: Mapping[str, str] = _IAM_FACTS["instance_role_managed_policies"]["refused"]


def _bucket_refs(view: StackView, bucket: Resource) -> set[str]:
    return view.references_to(bucket, ("id", "bucket", "arn"))


@rule(
    "PF-ENCRYPTION-AT-REST",
    "Every storage resource of the cardholder data environment is encrypted: RDS, "
    "EBS in launch templates, S3 (explicit SSE), log groups and SNS on KMS, SSM as "
    "SecureString.",
    pci=("3.5, 3.6, 3.7", "10.2, 10.3, 10.5"),
)
def check_encryption(view: StackView) -> Iterator[Finding]:
    yield from _unencrypted_databases(view)
    yield from _unencrypted_volumes(view)
    yield from _unencrypted_buckets(view)
    yield from _unencrypted_logs_topics_and_parameters(view)


def _unencrypted_databases(view: StackView) -> Iterator[Finding]:
    """RDS instances and clusters without storage encryption, or encrypted with the AWS managed key."""
    for db in view.resources("aws_db_instance") + view.resources("aws_rds_cluster"):
        if truthy(db.get("storage_encrypted")) is not True:
            yield finding(
                "PF-ENCRYPTION-AT-REST",
                db,
                f"storage_encrypted is {db.get('storage_encrypted')!r}. "
                "Fix: storage_encrypted = true with kms_key_id set to the "
                "data key.",
            )
        elif not db.get("kms_key_id"):
            yield finding(
                "PF-ENCRYPTION-AT-REST",
                db,
                "storage is encrypted with the AWS managed key (no kms_key_id), "
                "which cannot be restricted or audited per key. Fix: set "
                "kms_key_id to the customer managed data key.",
            )


def _unencrypted_volumes(view: StackView) -> Iterator[Finding]:
    """Launch templates whose EBS volumes are not encrypted (or not mapped at all), and unencrypted EBS volumes."""
    for template in view.resources("aws_launch_template"):
        mappings = template.blocks("block_device_mappings")
        if not mappings:
            yield finding(
                "PF-ENCRYPTION-AT-REST",
                template,
                "no block_device_mappings: the root volume inherits the AMI's (unencrypted) snapshot "
                'settings. Fix: map the root device with ebs { encrypted = true, volume_type = "gp3" }.',
            )
        for mapping in mappings:
            for ebs in source_blocks(mapping, "ebs"):  # an object or a list of them; anything else is skipped
                if truthy(ebs.get("encrypted")) is not True:
                    yield finding(
                        "PF-ENCRYPTION-AT-REST",
                        template,
                        f"EBS volume {mapping.get('device_name')!r} has encrypted = "
                        f"{ebs.get('encrypted')!r}. Fix: encrypted = true.",
                    )
    for volume in view.resources("aws_ebs_volume"):
        if truthy(volume.get("encrypted")) is not True:
            yield finding("PF-ENCRYPTION-AT-REST", volume, "EBS volume is not encrypted. Fix: encrypted = true.")


def _unencrypted_buckets(view: StackView) -> Iterator[Finding]:
    """Buckets no server-side encryption configuration (inline or separate resource) applies to."""
    sse_targets: set[str] = set()
    for config in view.resources("aws_s3_bucket_server_side_encryption_configuration"):
        if any(rule_block.get("apply_server_side_encryption_by_default") for rule_block in config.blocks("rule")):
            sse_targets.add(str(config.get("bucket")))
    for bucket in view.resources("aws_s3_bucket"):
        inline = bucket.blocks("server_side_encryption_configuration")
        if not inline and not _bucket_refs(view, bucket) & sse_targets:
            yield finding(
                "PF-ENCRYPTION-AT-REST",
                bucket,
                "no aws_s3_bucket_server_side_encryption_configuration references this bucket. Fix: add "
                "one (aws:kms with a customer key; AES256 only where the writer cannot use KMS, such as "
                "ALB access logs).",
            )


def _unencrypted_logs_topics_and_parameters(view: StackView) -> Iterator[Finding]:
    """Log groups and SNS topics without a customer key, and SSM parameters that are not SecureString."""
    for group in view.resources("aws_cloudwatch_log_group"):
        if not group.get("kms_key_id"):
            yield finding(
                "PF-ENCRYPTION-AT-REST",
                group,
                f"log group {group.get('name')!r} has no kms_key_id. "
                "Fix: kms_key_id = the logs key ARN (its key policy must "
                "allow logs.<region>.amazonaws.com).",
            )
    for topic in view.resources("aws_sns_topic"):
        if not topic.get("kms_master_key_id"):
            yield finding(
                "PF-ENCRYPTION-AT-REST",
                topic,
                f"SNS topic {topic.get('name')!r} has no kms_master_key_id. "
                "Fix: kms_master_key_id = a customer key that lets "
                "cloudwatch.amazonaws.com use it.",
            )
    for parameter in view.resources("aws_ssm_parameter"):
        if parameter.get("type") != "SecureString":
            yield finding(
                "PF-ENCRYPTION-AT-REST",
                parameter,
                f"SSM parameter {parameter.get('name')!r} has type {parameter.get('type')!r}. Fix: "
                'type = "SecureString" with key_id = the data key.',
            )


def _policy_documents(view: StackView, resource: Resource, attribute: str) -> Iterator[list[Mapping[str, Any]]]:
    """Statements of a JSON policy string, or of the aws_iam_policy_document data source it references."""
    raw = resource.get(attribute)
    source, _ = view.referenced(raw)
    if source is not None and source.type == "aws_iam_policy_document":
        statements: list[Mapping[str, Any]] = []
        for block in source.blocks("statement"):
            principals: dict[str, list[str]] = {}
            for principal in source_blocks(block, "principals"):
                principals.setdefault(str(principal.get("type")), []).extend(principal.get("identifiers") or [])
            statements.append(
                {
                    "Effect": block.get("effect", "Allow"),
                    "Principal": principals,
                    "Condition": source_blocks(block, "condition") or None,
                }
            )
        yield statements
        return
    if not isinstance(raw, str):
        return
    try:
        document = json.loads(raw)
    except ValueError:
        return
    found = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(found, Mapping):
        found = [found]
    if isinstance(found, list):
        yield [s for s in found if isinstance(s, Mapping)]


def source_blocks(block: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = block.get(key)
    if isinstance(value, Mapping):
        return [value]
    return [item for item in value or [] if isinstance(item, Mapping)]


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        aws = principal.get("AWS")
        values = aws if isinstance(aws, list) else [aws]
        return "*" in values
    return False


@rule(
    "PF-POLICY-WILDCARD-PRINCIPAL",
    'A key or resource policy that allows "AWS": "*" without a condition '
    "hands the resource to every AWS account; principals must be named.",
    pci=("3.5, 3.6, 3.7", "7.2, 8.2, 8.6"),
)
def check_wildcard_principals(view: StackView) -> Iterator[Finding]:
    targets = (
        ("aws_kms_key", "policy"),
        ("aws_kms_key_policy", "policy"),
        ("aws_s3_bucket_policy", "policy"),
        ("aws_sns_topic_policy", "policy"),
        ("aws_sns_topic", "policy"),
        ("aws_cloudwatch_log_resource_policy", "policy_document"),
    )
    for rtype, attribute in targets:
        for resource in view.resources(rtype):
            for statements in _policy_documents(view, resource, attribute):
                for index, statement in enumerate(statements):
                    if statement.get("Effect", "Allow") != "Allow" or not _is_everyone(statement.get("Principal")):
                        continue
                    if statement.get("Condition"):
                        continue
                    sid = statement.get("Sid", f"statement {index}")
                    yield finding(
                        "PF-POLICY-WILDCARD-PRINCIPAL",
                        resource,
                        f"{attribute} {sid!r} allows Principal {json.dumps(statement.get('Principal'))} "
                        "with no Condition. Fix: name the principals (account root, role ARNs, service "
                        "principals) or add a condition such as aws:SourceArn / aws:PrincipalAccount.",
                    )


@rule(
    "PF-IMDSV2",
    'Instances must require IMDSv2 session tokens (http_tokens = "required"); IMDSv1 lets an SSRF '
    "in the payment API read the instance role's credentials.",
    pci=("2.2",),
)
def check_imdsv2(view: StackView) -> Iterator[Finding]:
    for resource in view.resources("aws_launch_template") + view.resources("aws_instance"):
        options = resource.blocks("metadata_options")
        tokens = options[0].get("http_tokens") if options else None
        if tokens != "required":
            yield finding(
                "PF-IMDSV2",
                resource,
                f"metadata_options.http_tokens is {tokens!r} (IMDSv1 allowed). "
                'Fix: metadata_options { http_tokens = "required", '
                "http_put_response_hop_limit = 1 }.",
            )


@rule(
    "PF-LAUNCH-TAGS",
    "Launch templates tag the instances and volumes they launch (tag_specifications): the "
    "provider's default_tags do not reach them, so the CDE's volumes would go untagged.",
)
def check_launch_tags(view: StackView) -> Iterator[Finding]:
    for template in view.resources("aws_launch_template"):
        tagged = {str(spec.get("resource_type")) for spec in template.blocks("tag_specifications") if spec.get("tags")}
        missing = [kind for kind in ("instance", "volume") if kind not in tagged]
        if missing:
            yield finding(
                "PF-LAUNCH-TAGS",
                template,
                f"no tag_specifications with tags for {' and '.join(missing)}: launched resources carry "
                "no Environment or DataClassification tag. Fix: tag_specifications { resource_type = "
                '"instance" / "volume", tags = the stack\'s tags }.',
            )


@rule(
    "PF-ALB-TLS-POLICY",
    "HTTPS/TLS listeners use an allow-listed security policy: TLS 1.2 or later and no CBC "
    "cipher suites (facts.ALB_TLS_POLICIES_WITHOUT_CBC).",
    pci=("4.2",),
)
def check_alb_tls_policy(view: StackView) -> Iterator[Finding]:
    for listener in view.resources("aws_lb_listener"):
        if str(listener.get("protocol", "")).upper() not in ("HTTPS", "TLS"):
            continue
        policy = listener.get("ssl_policy")
        if policy not in ALB_TLS_POLICIES_WITHOUT_CBC:
            shown = (
                repr(policy)
                if policy is not None
                else "not set (AWS then uses ELBSecurityPolicy-2016-08: TLS 1.0, CBC)"
            )
            yield finding(
                "PF-ALB-TLS-POLICY",
                listener,
                f"ssl_policy is {shown}, which is not in the allow-list of policies without CBC suites. "
                f'Fix: ssl_policy = "{ALB_TLS_POLICIES_WITHOUT_CBC[0]}" (or another of '
                f"{', '.join(ALB_TLS_POLICIES_WITHOUT_CBC[1:])}).",
            )


PGAUDIT_REQUIRED_CLASSES = ("ddl", "role")


def _parameter_values(group: Resource) -> dict[str, str]:
    return {str(p.get("name")): str(p.get("value", "")) for p in group.blocks("parameter")}


@rule(
    "PF-RDS-AUDIT",
    "PostgreSQL parameter groups load pgaudit (shared_preload_libraries) and log DDL and role "
    "changes (pgaudit.log with ddl and role, or all) and connections: who changed the schema or "
    "privileges of the cardholder database is in its exported log.",
    pci=("10.2, 10.3, 10.5",),
)
def check_rds_audit(view: StackView) -> Iterator[Finding]:
    for group in view.resources("aws_db_parameter_group"):
        if not str(group.get("family", "")).startswith("postgres"):
            continue
        values = _parameter_values(group)
        libraries = [lib.strip() for lib in values.get("shared_preload_libraries", "").split(",")]
        if "pgaudit" not in libraries:
            yield finding(
                "PF-RDS-AUDIT",
                group,
                "shared_preload_libraries does not load pgaudit, so no statement "
                'is audited. Fix: parameter { name = "shared_preload_libraries", '
                'value = "pgaudit", apply_method = "pending-reboot" }.',
            )
        classes = {c.strip().lower() for c in values.get("pgaudit.log", "").split(",")}
        missing = [c for c in PGAUDIT_REQUIRED_CLASSES if c not in classes and "all" not in classes]
        if missing:
            yield finding(
                "PF-RDS-AUDIT",
                group,
                f"pgaudit.log is {values.get('pgaudit.log')!r}, without "
                f"{', '.join(missing)}: schema or privilege changes go unlogged. "
                'Fix: parameter { name = "pgaudit.log", value = "ddl,role" }.',
            )
        if values.get("log_connections") != "1":
            yield finding(
                "PF-RDS-AUDIT",
                group,
                f"log_connections is {values.get('log_connections')!r}: logins "
                'are not logged. Fix: parameter { name = "log_connections", '
                'value = "1" }.',
            )


# PCI DSS 10.5.1 keeps audit logs 12 months.
PCI_MIN_RETENTION_DAYS = 365
BROAD_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")


@rule(
    "PF-LOG-RETENTION",
    "Audit log groups keep 12 months (PCI DSS 10.5.1) with a retention CloudWatch accepts; "
    "a shorter one written in code stops synth, a variable's shorter default (development) "
    "warns; checkov cannot see a retention given as a variable.",
    pci=("10.2, 10.3, 10.5",),
)
def check_log_retention(view: StackView) -> Iterator[Finding]:
    for group in view.resources("aws_cloudwatch_log_group"):
        if "retention_in_days" not in group.body:
            yield finding(
                "PF-LOG-RETENTION",
                group,
                f"log group {group.get('name')!r} has no retention_in_days "
                "(kept forever, at a cost). Fix: retention_in_days = "
                "var.log_retention_days.",
                Severity.WARNING,
            )
            continue
        value, variable = view.resolve(group.get("retention_in_days"))
        if value is None:
            continue
        source = f"var.{variable} default " if variable else ""
        try:
            days = int(value)
        except (TypeError, ValueError):
            days = -1
        if days not in CLOUDWATCH_RETENTION_DAYS and days != 0:
            yield finding(
                "PF-LOG-RETENTION",
                group,
                f"retention_in_days {source}{value!r} is not a value CloudWatch "
                "accepts. Fix: one of 365, 400, 545, 731, ... (0 = never "
                "expire).",
            )
        elif 0 < days < PCI_MIN_RETENTION_DAYS and variable is None:
            # Written in code: no configuration can raise it, so it holds in production too.
            yield finding(
                "PF-LOG-RETENTION",
                group,
                f"retention_in_days is {days}, written in code, below the 12 "
                "months PCI DSS 10.5.1 asks of audit logs. Fix: "
                "retention_in_days = var.log_retention_days (LOG_RETENTION_DAYS, "
                ">= 365 in production).",
            )
        elif 0 < days < PCI_MIN_RETENTION_DAYS:
            # A development configuration (production refuses LOG_RETENTION_DAYS < 365 at synth and in the
            # variable's validation block).
            yield finding(
                "PF-LOG-RETENTION",
                group,
                f"retention_in_days {source}{days} is below the 12 months PCI DSS "
                "10.5.1 asks of audit logs. Fix: 365 or more outside sandbox "
                "environments.",
                Severity.WARNING,
            )


def _actions(statement: Mapping[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else [a for a in action if isinstance(a, str)]


def _scoped_by_condition(statement: Mapping[str, Any]) -> bool:
    """Every action of ``statement`` is one a condition key scopes (``ACTIONS_SCOPED_BY_CONDITION_KEY``), and its
    Condition names that key."""
    actions = _actions(statement)
    keys = {key for operator in (statement.get("Condition") or {}).values() for key in operator}
    return bool(actions) and all(ACTIONS_SCOPED_BY_CONDITION_KEY.get(a) in keys for a in actions)


@rule(
    "PF-IAM-LEAST-PRIVILEGE",
    "Identity policies name their actions and resources (PCI DSS 7.2.2); wildcard "
    "actions or broad AWS managed policies on a CDE role are a regression.",
    pci=("7.2, 8.2, 8.6",),
)
def check_least_privilege(view: StackView) -> Iterator[Finding]:
    for rtype in ("aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy"):
        for resource in view.resources(rtype):
            for statements in _policy_documents(view, resource, "policy"):
                for index, statement in enumerate(statements):
                    if statement.get("Effect", "Allow") != "Allow":
                        continue
                    sid = statement.get("Sid", f"statement {index}")
                    wild = [a for a in _actions(statement) if a == "*" or a.endswith(":*")]
                    if wild:
                        yield finding(
                            "PF-IAM-LEAST-PRIVILEGE",
                            resource,
                            f"policy {sid!r} allows wildcard actions {wild}. Fix: list the API actions the role calls.",
                        )
                    resources = statement.get("Resource")
                    if set(_actions(statement)) <= ACTIONS_WITHOUT_RESOURCE_TYPES:
                        continue
                    if _scoped_by_condition(statement):
                        continue
                    if resources == "*" or (isinstance(resources, list) and "*" in resources):
                        yield finding(
                            "PF-IAM-LEAST-PRIVILEGE",
                            resource,
                            f'policy {sid!r} applies {_actions(statement)} to Resource "*". Fix: name '
                            'the resource ARNs (keep "*" only for actions without resource-level '
                            "permissions).",
                            Severity.WARNING,
                        )
    for attachment in view.resources("aws_iam_role_policy_attachment") + view.resources("aws_iam_policy_attachment"):
        arn = str(attachment.get("policy_arn", ""))
        name = arn.rsplit("/", 1)[-1]
        if (
            arn.startswith("arn:aws")
            and ":aws:policy/" in arn
            and (name in BROAD_MANAGED_POLICIES or name.endswith("FullAccess"))
        ):
            yield finding(
                "PF-IAM-LEAST-PRIVILEGE",
                attachment,
                f"attaches the AWS managed policy {name!r}, far broader than a CDE role needs. Fix: an "
                "inline policy with the actions and resources the role uses.",
            )


def _trusts_service(role: Resource, service: str) -> bool:
    """Whether the role's trust policy lets ``service`` assume it."""
    try:
        document = json.loads(str(role.get("assume_role_policy", "")))
    except ValueError:
        return False
    statements = document.get("Statement", []) if isinstance(document, Mapping) else []
    for statement in [statements] if isinstance(statements, Mapping) else statements:
        if not isinstance(statement, Mapping) or statement.get("Effect", "Allow") != "Allow":
            continue
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, Mapping) else None
        if service in ([services] if isinstance(services, str) else services or []):
            return True
    return False


def _attached_to_roles(view: StackView) -> Iterator[tuple[Resource, Any, list[Any]]]:
    """(resource, role reference or name, policy ARNs) for every way Terraform attaches a managed policy."""
    for role in view.resources("aws_iam_role"):
        if role.get("managed_policy_arns"):
            yield role, f"${{aws_iam_role.{role.name}.name}}", list(role.get("managed_policy_arns"))
    for attachment in view.resources("aws_iam_role_policy_attachment"):
        yield attachment, attachment.get("role"), [attachment.get("policy_arn")]
    for attachment in view.resources("aws_iam_role_policy_attachments_exclusive"):
        yield attachment, attachment.get("role_name"), list(attachment.get("policy_arns") or [])
    for attachment in view.resources("aws_iam_policy_attachment"):
        for role_ref in attachment.get("roles") or []:
            yield attachment, role_ref, [attachment.get("policy_arn")]


@rule(
    "PF-INSTANCE-MANAGED-POLICIES",
    "Managed policies on a role EC2 instances assume come from a reviewed "
    "allow-list (facts/iam.json): AmazonSSMManagedInstanceCore alone "
    "lets an instance read every SSM parameter of the account.",
    pci=("7.2, 8.2, 8.6",),
)
def check_instance_managed_policies(view: StackView) -> Iterator[Finding]:
    ec2_roles = {
        role.name: role for role in view.resources("aws_iam_role") if _trusts_service(role, "ec2.amazonaws.com")
    }
    ec2_role_names = {str(role.get("name")) for role in ec2_roles.values()}
    for resource, role_ref, policy_arns in _attached_to_roles(view):
        role, _ = view.referenced(role_ref)
        if not ((role is not None and role.name in ec2_roles) or (role is None and str(role_ref) in ec2_role_names)):
            continue
        for arn in policy_arns:
            if arn in INSTANCE_ROLE_MANAGED_POLICIES:
                continue
            reason = KNOWN_REFUSED_MANAGED_POLICIES.get(str(arn), "not reviewed for instance roles")
            yield finding(
                "PF-INSTANCE-MANAGED-POLICIES",
                resource,
                f"attaches {arn} to an EC2 instance role: {reason} Fix: an inline policy naming the "
                "actions and resources the instances use (lib/blocks/iam.py), or add the policy with its "
                "reason to instance_role_managed_policies.allowed in facts/iam.json after review.",
            )


# ------------------------------------------------------------------------------------------ key policies
# Actions that administer a KMS key and actions that use it (Service Authorization Reference, AWS KMS). A key
# policy statement is judged by which of these its action patterns cover; IAM actions are case-insensitive.
KMS_ADMIN_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:DeleteImportedKeyMaterial",
)
KMS_USE_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:Sign",
    "kms:Verify",
    "kms:GenerateMac",
    "kms:VerifyMac",
    "kms:DeriveSharedSecret",
)
# Actions that hand out use of a key to someone else: a grant is use by another route.
KMS_GRANT_ACTIONS = ("kms:CreateGrant", "kms:RetireGrant", "kms:RevokeGrant")
# The account principal (arn:aws:iam::<account>:root, or a bare account id): it delegates to IAM policies.
_ACCOUNT_PRINCIPAL = re.compile(r"^(?:[0-9]{12}|arn:aws[a-z-]*:iam::[^:]+:root)$")


def _covered(statement: Mapping[str, Any], actions: tuple[str, ...]) -> list[str]:
    """The ``actions`` an Allow statement's Action patterns cover (all of them for ``NotAction``)."""
    if "NotAction" in statement:
        return list(actions)
    patterns = [a.lower() for a in _actions(statement)]
    return [a for a in actions if any(fnmatchcase(a.lower(), pattern) for pattern in patterns)]


def _named_principals(statement: Mapping[str, Any]) -> list[str]:
    """The ``AWS`` principals of a statement that are not the account (roles, users, service-linked roles)."""
    principal = statement.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, Mapping) else principal
    values = [aws] if isinstance(aws, str) else [a for a in aws or [] if isinstance(a, str)]
    return [value for value in values if not _ACCOUNT_PRINCIPAL.match(value)]


def _key_policies(view: StackView) -> Iterator[tuple[Resource, list[Mapping[str, Any]]]]:
    for rtype in ("aws_kms_key", "aws_kms_key_policy"):
        for resource in view.resources(rtype):
            for statements in _policy_documents(view, resource, "policy"):
                yield resource, statements


@rule(
    "PF-KMS-ADMIN-USE-SEPARATED",
    "No key policy statement gives a named (non-account) principal both key "
    "administration and key use, or kms:*: administrators manage keys, users "
    "use them, and the account's IAM policies decide who is which.",
    pci=("3.5, 3.6, 3.7", "7.2, 8.2, 8.6"),
)
def check_key_admin_use_separated(view: StackView) -> Iterator[Finding]:
    for resource, statements in _key_policies(view):
        for index, statement in enumerate(statements):
            named = _named_principals(statement)
            if statement.get("Effect", "Allow") != "Allow" or not named:
                continue
            sid = statement.get("Sid", f"statement {index}")
            administers = _covered(statement, KMS_ADMIN_ACTIONS)
            uses = _covered(statement, KMS_USE_ACTIONS)
            if len(administers) == len(KMS_ADMIN_ACTIONS) and len(uses) == len(KMS_USE_ACTIONS):
                yield finding(
                    "PF-KMS-ADMIN-USE-SEPARATED",
                    resource,
                    f"key policy {sid!r} gives {named} every KMS action (kms:*, * or NotAction). Fix: "
                    "the key administrator gets lib.blocks.iam.KEY_ADMIN_ACTIONS only; use goes to the "
                    "account root (IAM policies) or a service principal under a condition.",
                )
            elif administers and uses:
                yield finding(
                    "PF-KMS-ADMIN-USE-SEPARATED",
                    resource,
                    f"key policy {sid!r} lets {named} both administer the key ({administers[:3]}...) "
                    f"and use it ({uses[:3]}...). Fix: split administration "
                    "(lib.blocks.iam.KEY_ADMIN_ACTIONS) from use (KEY_USE_ACTIONS) into separate "
                    "statements for separate principals (PCI DSS 3.6.1).",
                )


@rule(
    "PF-KMS-ADMIN-NO-USE-OR-GRANTS",
    "A key policy statement that administers a key (for any principal, the account included) neither uses it nor "
    "grants: kms:Create* or kms:*Grant* would let an administrator give itself Decrypt through a grant.",
    pci=("3.5, 3.6, 3.7", "7.2, 8.2, 8.6"),
)
def check_key_admin_no_use_or_grants(view: StackView) -> Iterator[Finding]:
    for resource, statements in _key_policies(view):
        for index, statement in enumerate(statements):
            if statement.get("Effect", "Allow") != "Allow" or not _covered(statement, KMS_ADMIN_ACTIONS):
                continue
            beyond = _covered(statement, KMS_USE_ACTIONS + KMS_GRANT_ACTIONS)
            if beyond:
                yield finding(
                    "PF-KMS-ADMIN-NO-USE-OR-GRANTS",
                    resource,
                    f"key policy {statement.get('Sid', f'statement {index}')!r} administers the key and also allows "
                    f"{beyond[:4]}. Fix: the administrator gets lib.blocks.iam.KEY_ADMIN_ACTIONS (named actions, no "
                    "kms:Create* or grant actions); use and AWS-resource grants go to the account root in their own "
                    "statements (kms:GrantIsForAWSResource).",
                )


@rule(
    "PF-KMS-KEY-MANAGEABLE",
    "Every customer key keeps an administrator: an unconditioned statement allowing "
    "kms:PutKeyPolicy to an IAM principal, and no bypass of AWS's lockout safety check.",
    pci=("3.5, 3.6, 3.7",),
)
def check_key_manageable(view: StackView) -> Iterator[Finding]:
    for key in view.resources("aws_kms_key"):
        if truthy(key.get("bypass_policy_lockout_safety_check")) is True:
            yield finding(
                "PF-KMS-KEY-MANAGEABLE",
                key,
                "bypass_policy_lockout_safety_check = true lets a policy no principal can change take "
                "effect: the key could never be administered again. Fix: remove it.",
            )
    for resource, statements in _key_policies(view):
        if not any(
            statement.get("Effect", "Allow") == "Allow"
            and not statement.get("Condition")
            and isinstance(statement.get("Principal"), Mapping)
            and statement["Principal"].get("AWS")
            and _covered(statement, ("kms:PutKeyPolicy",))
            for statement in statements
        ):
            yield finding(
                "PF-KMS-KEY-MANAGEABLE",
                resource,
                "no statement lets an IAM principal change the key policy (kms:PutKeyPolicy): nobody "
                "could rotate administrators or revoke access. Fix: lib.blocks.iam.key_policy's "
                "KeyAdministration statement for KMS_ADMIN_PRINCIPAL_ARN (default the account root).",
            )


@rule(
    "PF-EBS-CMK",
    "Launch templates and EBS volumes encrypt with a customer-managed key (kms_key_id), not the "
    "aws/ebs default key, whose policy cannot be restricted or separated.",
    pci=("3.5, 3.6, 3.7",),
)
def check_ebs_customer_key(view: StackView) -> Iterator[Finding]:
    volumes: list[tuple[Resource, str, Any]] = [
        (volume, "EBS volume", volume.get("kms_key_id")) for volume in view.resources("aws_ebs_volume")
    ]
    for template in view.resources("aws_launch_template"):
        for mapping in template.blocks("block_device_mappings"):
            volumes += [
                (template, f"EBS volume {mapping.get('device_name')!r}", ebs.get("kms_key_id"))
                for ebs in source_blocks(mapping, "ebs")
            ]
    for resource, what, key in volumes:
        if not key or (isinstance(key, str) and "alias/aws/" in key):
            yield finding(
                "PF-EBS-CMK",
                resource,
                f"{what} has kms_key_id = {key!r}: encrypted with the AWS managed aws/ebs key. Fix: "
                "kms_key_id = the data key's ARN, whose policy admits the Auto Scaling group's "
                "service-linked role (lib/components/encryption.py).",
            )


# PCI DSS 6.3.3: critical patches within one month; AWS accepts 86400-31536000 seconds (or 0: unlimited).
MAX_INSTANCE_LIFETIME_LIMIT = 30 * 24 * 60 * 60
MIN_INSTANCE_LIFETIME = 24 * 60 * 60


@rule(
    "PF-ASG-INSTANCE-LIFETIME",
    "Auto Scaling groups replace every instance within 30 days (max_instance_lifetime) "
    "from the latest launch template: the plan-time AMI lookup reaches running "
    "instances only through an apply and its refresh, this bounds their age anyway.",
    pci=("6.3.3",),
)
def check_instance_lifetime(view: StackView) -> Iterator[Finding]:
    for group in view.resources("aws_autoscaling_group"):
        value, _ = view.resolve(group.get("max_instance_lifetime"))
        if group.get("max_instance_lifetime") is not None and value is None:
            continue  # an expression known at plan time only
        try:
            seconds = int(value) if value is not None else 0
        except (TypeError, ValueError):
            seconds = -1
        if not MIN_INSTANCE_LIFETIME <= seconds <= MAX_INSTANCE_LIFETIME_LIMIT:
            yield finding(
                "PF-ASG-INSTANCE-LIFETIME",
                group,
                f"max_instance_lifetime is {group.get('max_instance_lifetime')!r}: instances may outlive "
                "a month of security patches (or AWS refuses the value). Fix: max_instance_lifetime "
                f"between {MIN_INSTANCE_LIFETIME} and {MAX_INSTANCE_LIFETIME_LIMIT} seconds (30 days, "
                "MAX_INSTANCE_LIFETIME_DAYS).",
            )


@rule(
    "PF-RDS-EVENTS",
    "Every database instance is the source of an enabled RDS event subscription to an SNS topic: failovers, "
    "failures, low storage and configuration changes reach the on-call topic (PCI DSS 10.7.2).",
    pci=("10.7, 11.5",),
)
def check_rds_event_subscription(view: StackView) -> Iterator[Finding]:
    watched = {
        str(source)
        for subscription in view.resources("aws_db_event_subscription")
        if subscription.get("source_type") == "db-instance"
        and subscription.get("enabled") is not False
        and subscription.get("sns_topic")
        for source in subscription.get("source_ids") or []
    }
    for database in view.resources("aws_db_instance"):
        if not view.references_to(database, ("identifier", "id")) & watched:
            yield finding(
                "PF-RDS-EVENTS",
                database,
                "no enabled aws_db_event_subscription (source_type db-instance) names this database, so RDS "
                "failovers, failures and low storage reach nobody. Fix: lib/components/monitoring.py's "
                "RDS_EVENT_SOURCES subscribes the database (MonitoredResources.db_identifier) to the alarm topic.",
            )


@rule(
    "PF-RDS-BACKUP",
    "Every database instance is in the resources of an AWS Backup selection: its daily recovery points live in a vault "
    "of their own, outside the instance's automated backups, which die with it (PCI DSS 12.10.1).",
    pci=("10.7, 11.5",),
)
def check_rds_backup_selection(view: StackView) -> Iterator[Finding]:
    selected = {
        str(resource)
        for selection in view.resources("aws_backup_selection")
        for resource in selection.get("resources") or []
    }
    for database in view.resources("aws_db_instance"):
        if not view.references_to(database, ("arn",)) & selected:
            yield finding(
                "PF-RDS-BACKUP",
                database,
                "no aws_backup_selection names this database's ARN, so AWS Backup keeps no recovery point of it and "
                "deleting the instance deletes its backups. Fix: lib/components/backup.py's DatabaseBackup selects it "
                "(DatabaseBackupProps.db_instance_arn, wired in lib/tap_stack.py).",
            )


PERSON_SESSION_KEYS = ("sts:SourceIdentity", "sts:RoleSessionName")


def _trusts_principals_without_mfa(statement: Mapping[str, Any]) -> str | None:
    """Why an Allow of AssumeRole to AWS principals (people, accounts) falls short, or None: it must require MFA
    (``Bool aws:MultiFactorAuthPresent = true``) and name the person (``sts:SourceIdentity`` or ``sts:RoleSessionName``
    equal to ``${aws:username}``)."""
    principal = statement.get("Principal")
    if statement.get("Effect") != "Allow" or not (
        principal == "*" or (isinstance(principal, Mapping) and "AWS" in principal)
    ):
        return None
    condition = statement.get("Condition") or {}
    mfa = (condition.get("Bool") or {}).get("aws:MultiFactorAuthPresent")
    equals = condition.get("StringEquals") or {}
    # "$${aws:username}" in the synthesized JSON: Terraform's escape of the IAM variable, which AWS receives as ${...}.
    names = [key for key in PERSON_SESSION_KEYS if equals.get(key) in ("$${aws:username}", "${aws:username}")]
    missing = [
        part
        for part, present in (
            ('Bool aws:MultiFactorAuthPresent = "true"', str(mfa).lower() == "true"),
            ('StringEquals sts:SourceIdentity = "${aws:username}"', bool(names)),
        )
        if not present
    ]
    return ", ".join(missing) or None


@rule(
    "PF-HUMAN-ROLE-MFA",
    "A role that AWS principals (people) may assume requires MFA and a session that names the person "
    "(sts:SourceIdentity = ${aws:username}): the operator role's sessions are what refunds are attributed to.",
    pci=("8.2.1, 8.3.9, 8.4.2, 10.2.1.2",),
)
def check_human_roles(view: StackView) -> Iterator[Finding]:
    for role in view.resources("aws_iam_role"):
        try:
            document = json.loads(role.get("assume_role_policy") or "{}")
        except (TypeError, ValueError):
            continue  # a policy built at apply time: nothing to read here
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            missing = _trusts_principals_without_mfa(statement)
            if missing:
                yield finding(
                    "PF-HUMAN-ROLE-MFA",
                    role,
                    f"the trust policy lets AWS principals assume the role without {missing}. Fix: add the "
                    "condition(s) to the statement (lib.blocks.iam.person_assume_role_policy builds them), so "
                    "only an MFA session named after the IAM user may assume it.",
                )


# What a Session Manager preferences document must say (issue 28 item 4; lib/components/host_security.py writes it):
# the input, the value it must have (None: present and non-empty), and what it protects.
_SESSION_INPUTS: tuple[tuple[str, object, str], ...] = (
    ("cloudWatchLogGroupName", None, "sessions streamed to CloudWatch Logs (10.2.1)"),
    ("cloudWatchEncryptionEnabled", True, "the session log group must be KMS-encrypted"),
    ("s3BucketName", None, "session transcripts kept in the log archive (10.5.1)"),
    ("s3EncryptionEnabled", True, "the archive must be encrypted"),
    ("kmsKeyId", None, "the session channel encrypted with a customer managed key"),
    ("runAsEnabled", True, "sessions run as a named non-root user, not the agent's root"),
)
SESSION_IDLE_MINUTES_MAX = 15  # PCI DSS 8.2.8


def _session_gaps(inputs: dict[str, Any]) -> list[str]:
    gaps = [
        f"{key} {'missing' if expected is None else f'is {inputs.get(key)!r}, not {expected!r}'} ({why})"
        for key, expected, why in _SESSION_INPUTS
        if (not inputs.get(key) if expected is None else inputs.get(key) is not expected)
    ]
    if str(inputs.get("runAsDefaultUser") or "root") == "root":
        gaps.append("runAsDefaultUser is root or unset (sessions must not run as root)")
    idle = str(inputs.get("idleSessionTimeout", ""))
    if not idle.isdigit() or int(idle) > SESSION_IDLE_MINUTES_MAX:
        gaps.append(f"idleSessionTimeout is {idle or 'unset'} (at most {SESSION_IDLE_MINUTES_MAX} minutes, 8.2.8)")
    return gaps


@rule(
    "PF-SESSION-PREFERENCES",
    "A Session Manager preferences document (aws_ssm_document of type Session) logs every session to an encrypted "
    "log group and the archive, encrypts the session with a KMS key, runs sessions as a non-root user and ends them "
    "after 15 idle minutes.",
    pci=("10.2, 10.3, 10.5", "7.2, 8.2, 8.6"),
)
def check_session_preferences(view: StackView) -> Iterator[Finding]:
    for document in view.resources("aws_ssm_document"):
        if document.get("document_type") != "Session":
            continue
        try:
            inputs = json.loads(str(document.get("content") or "{}")).get("inputs") or {}
        except (TypeError, ValueError, AttributeError):
            inputs = {}
        gaps = _session_gaps(inputs if isinstance(inputs, dict) else {})
        if gaps:
            yield finding(
                "PF-SESSION-PREFERENCES",
                document,
                f"the session preferences leave sessions unlogged or unprotected: {'; '.join(gaps)}. Fix: build the "
                "document with lib.components.host_security.HostSecurity (session_preferences), which sets them all.",
            )


# ------------------------------------------------------------------------------------------ serving fleet secrets
# Actions that hand over a secret's value, and the patterns of an RDS-managed master secret (the provider's reference,
# or an ARN naming RDS's "rds!" secrets).
_SECRET_READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue")
_MASTER_SECRET_RESOURCES = (".master_user_secret", ":secret:rds!")


def _serving_roles(view: StackView) -> set[str]:
    """Names of the roles whose instance profile an Auto Scaling group's launch template names: the serving fleet's
    (the migration host's template belongs to no group)."""
    roles: set[str] = set()
    for group in view.resources("aws_autoscaling_group"):
        for block in group.blocks("launch_template"):
            template, _ = view.referenced(block.get("id"))
            for profile_block in template.blocks("iam_instance_profile") if template is not None else []:
                profile, _ = view.referenced(profile_block.get("arn") or profile_block.get("name"))
                role, _ = view.referenced(profile.get("role")) if profile is not None else (None, None)
                if role is not None:
                    roles.add(role.name)
    return roles


def _reads_master_secret(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect", "Allow") != "Allow":
        return False
    actions = [a.lower() for a in _actions(statement)]
    if not any(fnmatchcase(wanted.lower(), a) for wanted in _SECRET_READ_ACTIONS for a in actions):
        return False
    resources = statement.get("Resource", [])
    named = [resources] if isinstance(resources, str) else [r for r in resources if isinstance(r, str)]
    return any(r == "*" or any(part in r for part in _MASTER_SECRET_RESOURCES) for r in named)


@rule(
    "PF-API-NO-MASTER-SECRET",
    "The serving fleet's instance role (the role of an Auto Scaling group's launch template) may not read the RDS "
    "master secret: only the per-release migration host's role does, and the API logs in with the DML-only "
    "application login (issue 27; PCI DSS 7.2.1, 8.6.2).",
    pci=("7.2, 8.2, 8.6",),
)
def check_api_no_master_secret(view: StackView) -> Iterator[Finding]:
    serving = _serving_roles(view)
    for policy in view.resources("aws_iam_role_policy"):
        role, _ = view.referenced(policy.get("role"))
        if role is None or role.name not in serving:
            continue
        for statements in _policy_documents(view, policy, "policy"):
            for index, statement in enumerate(statements):
                if _reads_master_secret(statement):
                    yield finding(
                        "PF-API-NO-MASTER-SECRET",
                        policy,
                        f"policy {statement.get('Sid', f'statement {index}')!r} lets the API instances read the RDS "
                        f"master secret ({statement.get('Resource')}). Fix: remove it; the migration host's role "
                        "(lib/components/migration_host.py) is the only reader, and the instances read the "
                        "application login secret (lib/components/app_login_secret.py).",
                    )
