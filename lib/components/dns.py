"""Route 53 alias records for the stack's public names, in a hosted zone the operator owns.

Only when ``HOSTED_ZONE_ID`` is given: ``API_DOMAIN`` -> the ALB and ``FRONTEND_DOMAIN`` -> the CloudFront
distribution. Without it the stack writes no DNS, and the operator points the names at the outputs
``alb_dns_name`` and ``cloudfront_domain_name`` after apply (docs/deploying.md, "DNS").

Alias records, not CNAMEs: an alias works at a zone's apex (``FRONTEND_DOMAIN`` may be ``example.com``), costs
no queries, and follows the target's addresses. The target's hosted zone id is read from the target resource
(``aws_lb.zone_id``, ``aws_cloudfront_distribution.hosted_zone_id``), never written as a literal: an ALB's zone id
differs per region. A record of type AAAA is written only when the target answers IPv6 (a dualstack ALB, a
distribution with ``is_ipv6_enabled``); an AAAA alias to an IPv4-only target would resolve to nothing.

The zone is read with a data source, and each record has a plan-time precondition: the zone must be public and
the name must lie in it. Route 53 itself refuses a name outside the zone, but only at apply, after the rest of
the stack was created; the precondition stops the plan instead, naming the record and the zone.
An existing record of the same name and type is never overwritten (``allow_overwrite`` false): apply fails on it
and the operator decides (delete it, or import it with ``terraform import``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import Fn, Op, Precondition, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.data_aws_route53_zone import DataAwsRoute53Zone
from cdktf_cdktf_provider_aws.route53_record import Route53Record, Route53RecordAlias
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class AliasTarget:
    """An AWS resource a Route 53 alias record can point at (an ALB, a CloudFront distribution)."""

    dns_name: str
    """The target's DNS name (``aws_lb.dns_name``, ``aws_cloudfront_distribution.domain_name``)."""
    zone_id: str
    """The target's own hosted zone id (``aws_lb.zone_id``, ``aws_cloudfront_distribution.hosted_zone_id``)."""
    evaluate_target_health: bool
    """Whether Route 53 answers only while the target is healthy (true for an ALB; AWS refuses it for CloudFront)."""
    ipv6: bool = False
    """The target answers IPv6 too (a dualstack ALB, an IPv6-enabled distribution): an AAAA record beside the A.

    @default False - an A record only."""


@dataclass(frozen=True, kw_only=True)
class AliasRecord:
    """One public name and what it points at."""

    key: str
    """Short id of the record in construct ids and outputs (``api``, ``frontend``)."""
    name: str
    """The fully qualified name, without a trailing dot (``api.pay.example.com``); must lie in the zone."""
    target: AliasTarget
    """What the name resolves to."""


@dataclass(frozen=True, kw_only=True)
class DnsRecordsProps:
    """The zone and the records to write in it."""

    hosted_zone_id: str
    """The public hosted zone holding every name (``HOSTED_ZONE_ID``), e.g. ``Z0123456789ABCDEFGHIJ``."""
    records: tuple[AliasRecord, ...]
    """The names to write: ``API_DOMAIN`` -> the ALB, ``FRONTEND_DOMAIN`` -> CloudFront (each when set)."""

    def __post_init__(self) -> None:
        if not self.records:
            raise ValueError("DnsRecordsProps: no records to write; leave the component out when there are none")
        keys = [record.key for record in self.records]
        if len(set(keys)) != len(keys):
            raise ValueError(f"DnsRecordsProps: record keys must be unique, got {keys}")


class DnsRecords(Construct):
    """An A (and, for an IPv6 target, AAAA) alias record per name, checked against the zone at plan time."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DnsRecordsProps) -> None:
        super().__init__(scope, construct_id)
        zone = DataAwsRoute53Zone(self, "zone", zone_id=props.hosted_zone_id)
        zone_name = Fn.trimsuffix(Fn.lower(zone.name), ".")
        self._records: dict[str, Route53Record] = {}
        for record in props.records:
            checks = [
                Precondition(
                    condition=Fn.endswith(f".{record.name}", Fn.join("", [".", zone_name])),
                    error_message=f"{record.name} is not in hosted zone {props.hosted_zone_id} "
                    "(HOSTED_ZONE_ID): give the id of the zone that holds it, or a name in that zone.",
                ),
                Precondition(
                    condition=Op.not_(zone.private_zone),
                    error_message=f"hosted zone {props.hosted_zone_id} (HOSTED_ZONE_ID) is private: browsers and "
                    "the checkout resolve these names on the internet; give the id of the public zone.",
                ),
            ]
            for record_type in ("A", "AAAA") if record.target.ipv6 else ("A",):
                self._records[f"{record.key}_{record_type}"] = Route53Record(
                    self,
                    f"{record.key}_{record_type.lower()}",
                    zone_id=props.hosted_zone_id,
                    name=record.name,
                    type=record_type,
                    alias=Route53RecordAlias(
                        name=record.target.dns_name,
                        zone_id=record.target.zone_id,
                        evaluate_target_health=record.target.evaluate_target_health,
                    ),
                    # A record someone made by hand stays theirs: apply fails on it instead of replacing it.
                    allow_overwrite=False,
                    lifecycle=TerraformResourceLifecycle(precondition=checks),
                )

    def has_record(self, key: str) -> bool:
        """True when record ``key`` was written (its name was set)."""
        return f"{key}_A" in self._records

    def record_name(self, key: str) -> str:
        """The name written for record ``key`` (the A record's ``fqdn``)."""
        return self._records[f"{key}_A"].fqdn
