"""Route 53 alias records (``lib/components/dns.py``, with ``HOSTED_ZONE_ID``): each points at a target of this
stack that will answer for its name.

An alias record that applies can still send every visitor to an error: a zone id written as a literal is right
in one region only (an ALB's alias zone id differs per region: Z35SXDOTRQ7X7K in us-east-1, Z32O12XQLNTSW2 in
eu-west-1), CloudFront answers 403 for a host name that is not among the distribution's aliases, and an ALB whose
HTTPS listener routes by host answers its default 404 to any other name. Route 53 itself refuses
EvaluateTargetHealth for a CloudFront target, at apply, after the rest of the stack was created.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from preflight.model import Finding, Resource, Severity, StackView, finding, rule

# Alias targets the stack may point at: resource type -> (attribute of the DNS name, attribute of its zone id).
ALIAS_TARGETS = {
    "aws_lb": ("dns_name", "zone_id"),
    "aws_alb": ("dns_name", "zone_id"),
    "aws_cloudfront_distribution": ("domain_name", "hosted_zone_id"),
}


def _alias_target(view: StackView, record: Resource) -> tuple[Resource | None, str | None]:
    """The target resource of ``record``'s alias when name and zone id reference the same one properly, else
    (None, why not)."""
    alias = (record.blocks("alias") or [{}])[0]
    name_target, name_attr = view.referenced(alias.get("name"))
    zone_target, zone_attr = view.referenced(alias.get("zone_id"))
    if zone_target is None:
        return None, (
            f"its alias zone_id is {alias.get('zone_id')!r}, not a reference to the target: a target's "
            "alias zone id depends on its region and kind (an ALB's differs per region). Fix: "
            "zone_id = ${aws_lb.<name>.zone_id} or ${aws_cloudfront_distribution.<name>.hosted_zone_id}."
        )
    if (
        name_target is None
        or name_target.address != zone_target.address
        or ALIAS_TARGETS.get(zone_target.type) != (name_attr, zone_attr)
    ):
        return None, (
            f"its alias name ({alias.get('name')!r}) and zone_id ({alias.get('zone_id')!r}) do not name "
            "one ALB or distribution with its DNS name and its zone id. Fix: name = "
            "${aws_lb.<name>.dns_name} with zone_id = ${aws_lb.<name>.zone_id}, or the distribution's "
            "domain_name with its hosted_zone_id."
        )
    return zone_target, None


def _served_by_alb(view: StackView, alb: Resource, name: str) -> bool:
    """True when an HTTPS listener of ``alb`` forwards requests for host ``name``."""
    for listener in view.resources("aws_lb_listener"):
        if listener.get("load_balancer_arn") != f"${{{alb.address}.arn}}" or listener.get("protocol") != "HTTPS":
            continue
        if any(a.get("type") == "forward" for a in listener.blocks("default_action")):
            return True
        for listener_rule in view.resources("aws_lb_listener_rule") + view.resources("aws_alb_listener_rule"):
            if listener_rule.get("listener_arn") != f"${{{listener.address}.arn}}":
                continue
            hosts = [
                str(v)
                for c in listener_rule.blocks("condition")
                for h in (c.get("host_header") or {},)
                for v in (h.get("values") or [])
            ]
            if any(a.get("type") == "forward" for a in listener_rule.blocks("action")) and any(
                fnmatchcase(name, host.lower()) for host in hosts
            ):
                return True
    return False


@rule(
    "PF-DNS-ALIAS-TARGET",
    "A Route 53 alias record must name its target by reference (an ALB's alias zone id differs per region), with "
    "EvaluateTargetHealth off for CloudFront (Route 53 refuses it at apply), and point at a target that answers "
    "for the record's name (CloudFront's aliases, the ALB listener's host rules), or visitors get 403/404.",
)
def check_dns_alias_target(view: StackView) -> Iterator[Finding]:
    for record in view.resources("aws_route53_record"):
        if not record.blocks("alias"):
            continue
        target, problem = _alias_target(view, record)
        if target is None:
            yield finding("PF-DNS-ALIAS-TARGET", record, f"{record.get('name')}: {problem}")
            continue
        name = str(record.get("name", "")).lower().rstrip(".")
        alias = record.blocks("alias")[0]
        if target.type == "aws_cloudfront_distribution":
            if str(alias.get("evaluate_target_health")).lower() == "true":
                yield finding(
                    "PF-DNS-ALIAS-TARGET",
                    record,
                    f"{name}: evaluate_target_health is true for a CloudFront target, which Route 53 "
                    "refuses. Fix: evaluate_target_health = false.",
                )
            aliases = [str(a).lower() for a in target.get("aliases") or []]
            if not any(fnmatchcase(name, a) for a in aliases):
                yield finding(
                    "PF-DNS-ALIAS-TARGET",
                    record,
                    f"{name} points at {target.address}, whose aliases are {aliases or 'none'}: CloudFront "
                    "answers 403 for any other host name. Fix: add the name to the distribution's aliases "
                    "(with a certificate that covers it), or point another name.",
                )
        elif not _served_by_alb(view, target, name):
            yield finding(
                "PF-DNS-ALIAS-TARGET",
                record,
                f"{name} points at {target.address}, whose HTTPS listeners forward no request for that "
                "host (their host-header rules name others): visitors get the default 404. Fix: use the "
                "name of the listener's host rule (API_DOMAIN), or add a rule for it.",
            )
        if record.get("type") == "AAAA" and not _answers_ipv6(target):
            yield finding(
                "PF-DNS-ALIAS-TARGET",
                record,
                f"{name}: an AAAA alias of {target.address}, which answers IPv4 only: the record resolves "
                "to nothing. Fix: drop the AAAA record, or enable IPv6 on the target.",
                severity=Severity.WARNING,
            )


def _answers_ipv6(target: Resource) -> bool:
    if target.type == "aws_cloudfront_distribution":
        return str(target.get("is_ipv6_enabled")).lower() == "true"
    return str(target.get("ip_address_type", "ipv4")).startswith("dualstack")
