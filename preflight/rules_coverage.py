"""Controls that must cover every member of a class, where a new member added without the control is the regression
(issue 28 re-review M-6): every subnet behind its tier's network ACL with the default ACL left empty, and every audit
log group shipped to the write-once archive.

Both are sets the code builds by listing (the tiers' subnets in ``lib/components/networking.py``, the shipped log
groups in ``lib/tap_stack.py``'s ``_log_shipping``): a subnet or an audit source added elsewhere is silently left on
the VPC's allow-all default ACL, or its log kept only where one administrator can delete it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model import Finding, Resource, StackView, finding, rule

# What lib/components/api_release.py names the service's log group: /<project>/<project>-api-<suffix>, read from the
# provider's default tags (Project, Environment = the suffix; lib/config.py).
API_LOG_GROUP = "/{project}/{project}-api-{suffix}"
# The log group RDS exports PostgreSQL's log to (pgaudit writes there): AWS's fixed name per instance.
RDS_POSTGRESQL_LOG_GROUP = "/aws/rds/instance/{identifier}/postgresql"


# ------------------------------------------------------------------------------------------ network ACLs
def _acls_of(view: StackView, subnet: Resource) -> list[Resource]:
    """The network ACLs that name ``subnet``, in their ``subnet_ids`` or through an association."""
    refs = view.references_to(subnet, ("id",))
    acls = [acl for acl in view.resources("aws_network_acl") if refs & {str(s) for s in acl.get("subnet_ids") or []}]
    for association in view.resources("aws_network_acl_association"):
        acl, _ = view.referenced(association.get("network_acl_id"))
        if str(association.get("subnet_id")) in refs and acl is not None and acl not in acls:
            acls.append(acl)
    return acls


def _tier(resource: Resource) -> str | None:
    tags = resource.get("tags")
    return str(tags["Tier"]) if isinstance(tags, Mapping) and tags.get("Tier") else None


def _subnet_acl_findings(view: StackView) -> Iterator[Finding]:
    for subnet in view.resources("aws_subnet"):
        acls = _acls_of(view, subnet)
        if not acls:
            yield finding(
                "PF-SUBNET-NACL",
                subnet,
                "no network ACL names this subnet, so it sits on the VPC's default ACL, which allows all traffic in "
                "and out. Fix: list it in its tier's aws_network_acl subnet_ids (lib/components/networking.py "
                "_tier_acl builds one ACL per tier from the tier's subnets).",
            )
        elif len(acls) > 1:
            yield finding(
                "PF-SUBNET-NACL",
                subnet,
                f"{len(acls)} network ACLs name this subnet ({', '.join(a.address for a in acls)}); a subnet has one, "
                "and the last apply wins. Fix: name it in its own tier's ACL only (lib/components/networking.py "
                "_tier_acl).",
            )
        elif None not in (_tier(subnet), _tier(acls[0])) and _tier(subnet) != _tier(acls[0]):
            yield finding(
                "PF-SUBNET-NACL",
                subnet,
                f"this {_tier(subnet)}-tier subnet is behind the {_tier(acls[0])}-tier ACL {acls[0].address}, which "
                f"admits what that tier serves, not what this one does. Fix: move it to the {_tier(subnet)} tier's "
                "ACL (lib/components/networking.py _tier_acl).",
            )


def _default_acl_findings(view: StackView) -> Iterator[Finding]:
    managed = {str(acl.get("default_network_acl_id")): acl for acl in view.resources("aws_default_network_acl")}
    for vpc in view.resources("aws_vpc"):
        (default_ref,) = view.references_to(vpc, ("default_network_acl_id",))
        acl = managed.get(default_ref)
        if acl is None:
            yield finding(
                "PF-SUBNET-NACL",
                vpc,
                "the VPC's default network ACL is not managed, so it keeps AWS's allow-all rules for any subnet that "
                "ends up on it. Fix: an aws_default_network_acl on default_network_acl_id with no ingress or egress "
                "(lib/components/networking.py default_nacl).",
            )
            continue
        rules = [
            f"{direction} {len(acl.blocks(direction))}" for direction in ("ingress", "egress") if acl.blocks(direction)
        ]
        rules += [r.address for r in view.resources("aws_network_acl_rule") if r.get("network_acl_id") == default_ref]
        if rules or acl.get("subnet_ids"):
            yield finding(
                "PF-SUBNET-NACL",
                acl,
                f"the VPC's default network ACL has rules or subnets ({', '.join(rules) or 'subnet_ids'}); it must "
                "allow nothing and hold no subnet, each tier's ACL admitting its own traffic. Fix: remove them "
                "(lib/components/networking.py default_nacl).",
            )


@rule(
    "PF-SUBNET-NACL",
    "Every subnet is behind its own tier's network ACL (the Tier tags agree) and the VPC's default ACL is managed with "
    "no rules and no subnet: a subnet added without its ACL would sit on AWS's allow-all default (PCI DSS 1.2.8, "
    "1.3.1, 1.3.2: the second layer under the security groups).",
    pci=("1.2, 1.3, 1.4",),
)
def check_subnet_network_acls(view: StackView) -> Iterator[Finding]:
    yield from _subnet_acl_findings(view)
    yield from _default_acl_findings(view)


# ------------------------------------------------------------------------------------------ audit log shipping
def _group_of(view: StackView, value: Any) -> Resource | None:
    target, _ = view.referenced(value)
    return target if target is not None and target.type == "aws_cloudwatch_log_group" else None


def _named_group(view: StackView, name: str) -> Resource | None:
    return next((g for g in view.resources("aws_cloudwatch_log_group") if g.get("name") == name), None)


def _audit_groups(view: StackView) -> dict[str, tuple[Resource, set[str], str]]:
    """The audit log groups by name: (the log group, or what exports to it when the stack does not create it; the
    values a subscription's ``log_group_name`` may name it by; what writes there). The flow logs' and web ACLs'
    destinations, each PostgreSQL export (pgaudit) and the API's log group."""
    groups: list[tuple[Resource | None, Resource | None, str, str]] = []  # (group, origin, name, source)
    for flow in view.resources("aws_flow_log"):
        group = _group_of(view, flow.get("log_destination")) or _group_of(view, flow.get("log_group_name"))
        groups.append((group, flow, str(group.get("name")) if group else "", f"VPC flow logs ({flow.path})"))
    for logging in view.resources("aws_wafv2_web_acl_logging_configuration"):
        for group in map(lambda d: _group_of(view, d), logging.get("log_destination_configs") or []):
            groups.append((group, logging, str(group.get("name")) if group else "", f"web ACL logs ({logging.path})"))
    for database in view.resources("aws_db_instance"):
        identifier = database.get("identifier")
        if "postgresql" in (database.get("enabled_cloudwatch_logs_exports") or []) and isinstance(identifier, str):
            name = RDS_POSTGRESQL_LOG_GROUP.format(identifier=identifier)
            groups.append((_named_group(view, name), database, name, "pgaudit (the PostgreSQL log export)"))
    tags = view.default_tags()
    if tags.get("Project") and tags.get("Environment"):
        name = API_LOG_GROUP.format(project=tags["Project"], suffix=tags["Environment"])
        groups.append((_named_group(view, name), None, name, "the payment API's access and refund lines"))
    found: dict[str, tuple[Resource, set[str], str]] = {}
    for group, origin, name, source in groups:
        blamed = group or origin
        if blamed is not None and name:
            names = {name} | (view.references_to(group, ("name",)) if group is not None else set())
            found.setdefault(name, (blamed, names, source))
    return found


def _archived_by(view: StackView, subscription: Resource) -> bool:
    """Whether ``subscription`` sends to a Firehose stream of the stack that writes to an S3 bucket of the stack."""
    stream, _ = view.referenced(subscription.get("destination_arn"))
    if stream is None or stream.type != "aws_kinesis_firehose_delivery_stream":
        return False
    targets = [block.get("bucket_arn") for block in stream.blocks("extended_s3_configuration")]
    return any(bucket is not None and bucket.type == "aws_s3_bucket" for bucket, _ in map(view.referenced, targets))


@rule(
    "PF-AUDIT-LOG-ARCHIVE",
    "Every audit log group (the VPC flow logs', each web ACL's, each PostgreSQL export for pgaudit and the API's) has "
    "a subscription filter to a Firehose stream writing to the stack's log archive bucket: the 12 months of PCI DSS "
    "10.5.1 kept out of reach of whoever administers CloudWatch Logs.",
    pci=("10.2, 10.3, 10.5", "10.3.3, 10.5.1"),
)
def check_audit_logs_archived(view: StackView) -> Iterator[Finding]:
    subscriptions = view.resources("aws_cloudwatch_log_subscription_filter")
    for name, (blamed, names, source) in _audit_groups(view).items():
        if not any(str(s.get("log_group_name")) in names and _archived_by(view, s) for s in subscriptions):
            yield finding(
                "PF-AUDIT-LOG-ARCHIVE",
                blamed,
                f"the audit log group {name!r} ({source}) has no "
                "subscription filter to a Firehose stream writing to the log archive, so its only copy is in "
                "CloudWatch Logs. Fix: add it to lib/tap_stack.py's _log_shipping (ShippedLogGroup; edge_log_groups "
                "for a us-east-1 group), which subscribes it to the archive's stream.",
            )
