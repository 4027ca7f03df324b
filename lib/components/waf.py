"""WAFv2 web ACLs (PCI DSS 6.4.1/6.4.2: an automated technical solution that detects and prevents web-based attacks
in front of public-facing applications): the stack builds this component twice, a REGIONAL ACL for the payment
API's load balancer and a CLOUDFRONT ACL for the distribution serving the payment page (the checkout *is* the page
that handles card entry, so it gets the same managed rules and rate limit). A CLOUDFRONT ACL, its logging and its
log group must be created in us-east-1: ``WafProps.provider`` is then the stack's us-east-1 provider alias.

AWS managed rule groups cover OWASP-style attacks, known bad inputs, SQL injection, known malicious
IPs and anonymizing networks; a rate-based rule blocks request floods per source IP. Requests are logged
to a KMS-encrypted log group (PCI DSS 10.2) with the query string and every credential-bearing header redacted
(``REDACTED_HEADERS``) so no credentials, session tokens, retry keys or query parameters land in logs.

The ACL is exposed as ``web_acl_arn`` only: associations need the ARN, not the id (docs/requirements.md seed failure 3).

WAF logging owns its permissions (issue 25): ``WafLogDelivery`` writes one CloudWatch Logs resource policy per region
that has WAF logging, letting ``delivery.logs.amazonaws.com`` write to exactly the ``aws-waf-logs-*`` groups of this
stack, and each logging configuration depends on its region's policy. Without it, PutLoggingConfiguration makes
WAF rewrite the account's ``AWSWAF-LOGS`` policy itself, and two configurations doing that at once (the stack's two
ACLs in us-east-1) can fail a first apply with WAFLogDestinationPermissionIssueException (provider issue #36000).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cdktf import TerraformProvider, TerraformResource
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.wafv2_web_acl import (
    Wafv2WebAcl,
    Wafv2WebAclDefaultAction,
    Wafv2WebAclDefaultActionAllow,
    Wafv2WebAclRule,
    Wafv2WebAclRuleAction,
    Wafv2WebAclRuleActionBlock,
    Wafv2WebAclRuleOverrideAction,
    Wafv2WebAclRuleOverrideActionNone,
    Wafv2WebAclRuleVisibilityConfig,
    Wafv2WebAclVisibilityConfig,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import (
    Wafv2WebAclLoggingConfiguration,
    Wafv2WebAclLoggingConfigurationRedactedFields,
    Wafv2WebAclLoggingConfigurationRedactedFieldsQueryString,
    Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader,
)
from constructs import Construct

from lib.blocks.iam import log_delivery_policy
from lib.blocks.log_groups import LogGroupProps, encrypted_log_group
from lib.naming import Naming

# AWS managed rule groups in evaluation order: cheap IP-based rules first.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",  # Tor exits, anonymizing proxies and VPNs: Log4j-style scanning sources
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
# Rules of the managed groups that would block legitimate payment traffic: counted instead (logged to the WAF
# log group and metered as CountedRequests), while every other rule of the group keeps blocking. PCI DSS 6.4.2
# asks for an automated solution that detects and prevents web-based attacks: a counted rule still detects,
# and the ones below prevent nothing an attacker needs (their traffic is also matched by the IP reputation,
# known-bad-input, SQLi and XSS rules and the rate limit, which all block).
COUNTED_RULES: dict[str, dict[str, str]] = {
    "AWSManagedRulesAnonymousIpList": {
        "HostingProviderIPList": "Merchant back ends and the processor's webhooks run in cloud hosting ranges; "
        "blocking them blocks customers. AnonymousIPList (Tor, anonymizing proxies) "
        "still blocks.",
    },
    "AWSManagedRulesCommonRuleSet": {
        "NoUserAgent_HEADER": "Server-to-server clients (merchant SDKs, scripts, webhooks) often send no "
        "User-Agent, and the header proves nothing: an attacker sets one.",
        "SizeRestrictions_BODY": "Counted here only to be blocked by the BodyOver8KB rule right after, on every path "
        "but WafProps.large_body_paths: its label is what that rule matches.",
    },
}
# A body over 8 KB is still blocked everywhere but the paths an ACL names (BodyOver8KB, matching the label the
# counted SizeRestrictions_BODY sets): no endpoint of the API accepts a body near that size (a payment is under 1 KB),
# so a larger body is not a customer's. The exception: Stripe's webhook events, which Stripe signs and the service
# verifies before it parses them, can be larger (an event carries the whole object); past 8 KB the ALB hands WAF only
# the first 8 KB anyway. (The AWS-documented way to exempt one rule of a managed group on a path; a scope-down on the
# group would exempt all its rules.)
SIZE_RESTRICTIONS_BODY_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
DEFAULT_RATE_LIMIT = 2000  # requests per 5 minutes per source IP
# An exact URI path a rule may name (no query string, no wildcard).
EXACT_PATH = re.compile(r"/[A-Za-z0-9/_.-]{1,200}")
MIN_RATE_LIMIT = 10  # WAF's smallest rate-based limit (requests per 5 minutes)
# The CSP report collector (POST /v1/csp-reports): a page load with violations sends a few reports, batched by the
# browser; 100 in 5 minutes from one IP is far above that and stops a client flooding the service's log with them.
CSP_REPORTS_RATE_LIMIT = 100
# Header values that are secrets: the operator API key (Authorization), proxy and API-key credentials, session cookies,
# temporary AWS credentials, and the Idempotency-Key, which the API contract (docs/api.md) keeps out of its own
# logs (only a hash of it is logged): whoever holds a key can replay or probe a payment request. WAF matches header
# names case-insensitively. The query string is redacted as a whole: no endpoint takes one, so anything there is a
# mistake or a probe, and either may carry a token.
REDACTED_HEADERS = (
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-amz-security-token",
    "cookie",
    "idempotency-key",
)
WAF_SCOPES = ("REGIONAL", "CLOUDFRONT")
CLOUDFRONT_REGION = "us-east-1"  # a CLOUDFRONT-scope ACL, its logging and its log group live there


def _visibility(metric_name: str) -> Wafv2WebAclRuleVisibilityConfig:
    return Wafv2WebAclRuleVisibilityConfig(
        cloudwatch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=True,
    )


def _managed_group(group: str) -> dict[str, object]:
    statement: dict[str, object] = {"name": group, "vendor_name": "AWS"}
    counted = COUNTED_RULES.get(group)
    if counted:
        statement["rule_action_override"] = [{"name": rule, "action_to_use": {"count": {}}} for rule in sorted(counted)]
    return statement


def _exact_path(path: str) -> dict[str, object]:
    """A statement matching requests to exactly ``path`` (the URI path, untransformed)."""
    return {
        "byte_match_statement": {
            "field_to_match": {"uri_path": {}},
            "positional_constraint": "EXACTLY",
            "search_string": path,
            "text_transformation": [{"priority": 0, "type": "NONE"}],
        }
    }


def _body_over_8kb(large_body_paths: tuple[str, ...]) -> dict[str, object]:
    """Block what SizeRestrictions_BODY labelled, unless the path is exactly one of ``large_body_paths``."""
    labelled: dict[str, object] = {"label_match_statement": {"scope": "LABEL", "key": SIZE_RESTRICTIONS_BODY_LABEL}}
    if not large_body_paths:
        return labelled
    exempt = [_exact_path(path) for path in large_body_paths]
    not_exempt = {
        "not_statement": {"statement": [exempt[0] if len(exempt) == 1 else {"or_statement": {"statement": exempt}}]}
    }
    return {"and_statement": {"statement": [labelled, not_exempt]}}


def _path_rate_limit(priority: int, path: str, limit: int) -> Wafv2WebAclRule:
    """Block a source IP that sends more than ``limit`` requests in 5 minutes to exactly ``path``."""
    name = "RateLimit" + "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", path) if part)
    return Wafv2WebAclRule(
        name=name,
        priority=priority,
        action=Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock()),
        statement={
            "rate_based_statement": {
                "limit": limit,
                "aggregate_key_type": "IP",
                "scope_down_statement": _exact_path(path),
            }
        },
        visibility_config=_visibility(name),
    )


def _rules(props: WafProps) -> list[Wafv2WebAclRule]:
    """The managed groups in ``MANAGED_RULE_GROUPS`` order, the per-IP rate limit, the 8 KB body limit, then the
    per-path rate limits."""
    rate_limit, large_body_paths = props.rate_limit, props.large_body_paths
    rules = [
        Wafv2WebAclRule(
            name=group,
            priority=priority,
            override_action=Wafv2WebAclRuleOverrideAction(none=Wafv2WebAclRuleOverrideActionNone()),
            # The typed bindings stop at `statement` (a deeply recursive type): it is a plain mapping.
            statement={"managed_rule_group_statement": _managed_group(group)},
            visibility_config=_visibility(group),
        )
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1)
    ]
    rules.append(
        Wafv2WebAclRule(
            name="RateLimitPerIp",
            priority=len(MANAGED_RULE_GROUPS) + 1,
            action=Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock()),
            statement={"rate_based_statement": {"limit": rate_limit, "aggregate_key_type": "IP"}},
            visibility_config=_visibility("RateLimitPerIp"),
        )
    )
    rules.append(
        Wafv2WebAclRule(
            name="BodyOver8KB",
            priority=len(MANAGED_RULE_GROUPS) + 2,
            action=Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock()),
            statement=_body_over_8kb(large_body_paths),
            visibility_config=_visibility("BodyOver8KB"),
        )
    )
    rules += [
        _path_rate_limit(len(MANAGED_RULE_GROUPS) + 3 + index, path, limit)
        for index, (path, limit) in enumerate(props.rate_limited_paths)
    ]
    return rules


@dataclass(frozen=True, kw_only=True)
class WafProps:
    """Where the firewall logs and how hard it limits one client."""

    naming: Naming
    """Names and tags."""
    protects: str
    """What the ACL is in front of, one word naming it and its log group (``api``, ``cdn``)."""
    logs_key_arn: str
    """The key encrypting the WAF log group (PCI DSS 3.5), in the ACL's region."""
    log_retention_days: float
    """Retention of the WAF log group (PCI DSS 10.5.1)."""
    rate_limit: int = DEFAULT_RATE_LIMIT
    """Requests per 5 minutes from one source IP before the rate rule blocks it.

    @default 2000 - well above a checkout's request rate, low enough to stop card-testing floods (PCI DSS 6.4.2)."""
    region: str
    """The region the ACL and its log group are created in (its provider's): the stack's for a REGIONAL ACL,
    us-east-1 for a CLOUDFRONT one. ``WafLogDelivery`` writes one log resource policy per region."""
    large_body_paths: tuple[str, ...] = ()
    """URI paths (exact) where a body over 8 KB is not blocked; every other rule still applies there.

    @default () - a body over 8 KB is blocked on every path (the API's ACL passes Stripe's webhook path when the
    stack runs Stripe)."""
    rate_limited_paths: tuple[tuple[str, int], ...] = ()
    """``(exact URI path, requests per 5 minutes)`` pairs: a source IP sending more to that path is blocked, on top of
    the ACL-wide ``rate_limit``.

    @default () - no path has a limit of its own (the API's ACL limits the CSP report collector, which anyone may
    post to without an Idempotency-Key: ``CSP_REPORTS_RATE_LIMIT``)."""
    scope: str = "REGIONAL"
    """``REGIONAL`` (a load balancer, associated by ARN) or ``CLOUDFRONT`` (a distribution's ``web_acl_id``).

    @default "REGIONAL" - the API's load balancer; the distribution's ACL passes CLOUDFRONT and the us-east-1
    provider."""
    provider: TerraformProvider | None = None
    """The provider every resource of the ACL is created through: the us-east-1 alias for a CLOUDFRONT ACL.

    @default None - the stack's provider (a REGIONAL ACL lives in the stack's region)."""

    def __post_init__(self) -> None:
        if self.scope not in WAF_SCOPES:
            raise ValueError(
                f"WafProps.scope is {self.scope!r}; allowed: {', '.join(WAF_SCOPES)}. Fix: REGIONAL for "
                "a load balancer, CLOUDFRONT (with the us-east-1 provider) for a distribution."
            )
        for path in self.large_body_paths:
            if not EXACT_PATH.fullmatch(path):
                raise ValueError(
                    f"WafProps.large_body_paths holds {path!r}; allowed: an exact URI path such as /v1/webhooks/stripe "
                    "(letters, digits, / _ . -). Fix: name the endpoint's path, without a query string or wildcard."
                )
        for path, limit in self.rate_limited_paths:
            if not EXACT_PATH.fullmatch(path) or not MIN_RATE_LIMIT <= limit <= DEFAULT_RATE_LIMIT:
                raise ValueError(
                    f"WafProps.rate_limited_paths holds ({path!r}, {limit}); allowed: an exact URI path (letters, "
                    f"digits, / _ . -) and a limit from {MIN_RATE_LIMIT} (WAF's minimum) to the ACL-wide "
                    f"{DEFAULT_RATE_LIMIT}. Fix: name the endpoint's path and a limit in that range."
                )
        if self.scope == "CLOUDFRONT" and self.region != CLOUDFRONT_REGION:
            raise ValueError(
                f"WafProps.region is {self.region!r} for a CLOUDFRONT-scope ACL; allowed: {CLOUDFRONT_REGION}. Fix: "
                f"pass region={CLOUDFRONT_REGION!r} with the us-east-1 provider alias."
            )


class WebApplicationFirewall(Construct):
    """Web ACL, its log group and logging configuration."""

    def __init__(self, scope: Construct, construct_id: str, *, props: WafProps) -> None:
        super().__init__(scope, construct_id)
        naming, provider = props.naming, props.provider
        self._region, self._provider = props.region, provider
        acl_name = naming.name(f"{props.protects}-waf")
        self._acl = Wafv2WebAcl(
            self,
            "web_acl",
            name=acl_name,
            # The description forces a new ACL when it changes: the API's is kept as first applied.
            description="Protects the payment API load balancer"
            if props.scope == "REGIONAL"
            else "Protects the payment page distribution",
            scope=props.scope,
            default_action=Wafv2WebAclDefaultAction(allow=Wafv2WebAclDefaultActionAllow()),
            rule=_rules(props),
            visibility_config=Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True,
                metric_name=acl_name,
                sampled_requests_enabled=True,
            ),
            tags=naming.tags(f"{props.protects}-waf"),
            provider=provider,
        )
        # WAF only delivers to log groups whose name starts with "aws-waf-logs-".
        self._log_group = encrypted_log_group(
            self,
            "waf_log_group",
            props=LogGroupProps(
                name=f"aws-waf-logs-{naming.name(props.protects)}",
                retention_days=props.log_retention_days,
                kms_key_arn=props.logs_key_arn,
                tags=naming.tags(f"{props.protects}-waf-logs"),
                provider=provider,
            ),
        )
        self._logging = Wafv2WebAclLoggingConfiguration(
            self,
            "waf_logging",
            resource_arn=self._acl.arn,
            log_destination_configs=[self._log_group.arn],
            redacted_fields=[
                Wafv2WebAclLoggingConfigurationRedactedFields(
                    query_string=Wafv2WebAclLoggingConfigurationRedactedFieldsQueryString(),
                ),
                *(
                    Wafv2WebAclLoggingConfigurationRedactedFields(
                        single_header=Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(name=header),
                    )
                    for header in REDACTED_HEADERS
                ),
            ],
            provider=provider,
        )

    def log_after(self, dependencies: Sequence[TerraformResource]) -> None:
        """Make the logging configuration depend on ``dependencies`` too: its region's log resource policy, which
        ``WafLogDelivery`` builds after every firewall, because it names their log groups."""
        added = [f"{resource.terraform_resource_type}.{resource.friendly_unique_id}" for resource in dependencies]
        self._logging.depends_on = [*(self._logging.depends_on or []), *added]

    @property
    def region(self) -> str:
        """The region of the ACL, its log group and its logging configuration."""
        return self._region

    @property
    def provider(self) -> TerraformProvider | None:
        """The provider the ACL is created through (None: the stack's)."""
        return self._provider

    @property
    def log_group_arn(self) -> str:
        """The ARN of the ``aws-waf-logs-*`` group the ACL logs to (without the ``:*`` suffix)."""
        return self._log_group.arn

    @property
    def web_acl_arn(self) -> str:
        """The ARN (never the id) that load balancer associations require."""
        return self._acl.arn

    @property
    def web_acl_name(self) -> str:
        return self._acl.name

    @property
    def log_group_name(self) -> str:
        return self._log_group.name


@dataclass(frozen=True, kw_only=True)
class WafLogDeliveryProps:
    """The firewalls whose logging needs a resource policy, and the account the deliveries come from."""

    naming: Naming
    """Names the policies (one name, used once per region)."""
    account_id: str
    """The account of the deliveries (``aws:SourceAccount``)."""
    firewalls: Sequence[WebApplicationFirewall]
    """Every firewall of the stack; those in one region share that region's policy."""

    def __post_init__(self) -> None:
        if not self.firewalls:
            raise ValueError(
                "WafLogDeliveryProps.firewalls is empty; allowed: one or more WebApplicationFirewall. Fix: pass "
                "the stack's firewalls, or build no WafLogDelivery when nothing logs."
            )


class WafLogDelivery(Construct):
    """One ``aws_cloudwatch_log_resource_policy`` per region with WAF logging, on which each logging configuration
    of that region depends (an account has at most 10 such policies per region, so the stack adds one per region,
    not one per firewall)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: WafLogDeliveryProps) -> None:
        super().__init__(scope, construct_id)
        by_region: dict[str, list[WebApplicationFirewall]] = {}
        for firewall in props.firewalls:
            by_region.setdefault(firewall.region, []).append(firewall)
        for region, firewalls in sorted(by_region.items()):
            policy = CloudwatchLogResourcePolicy(
                self,
                f"policy_{region.replace('-', '_')}",
                policy_name=props.naming.name("waf-log-delivery"),
                policy_document=log_delivery_policy(
                    log_group_arns=[firewall.log_group_arn for firewall in firewalls],
                    region=region,
                    account_id=props.account_id,
                ),
                provider=firewalls[0].provider,
            )
            for firewall in firewalls:
                firewall.log_after([policy])
