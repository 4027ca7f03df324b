"""Our moto server: moto's own server app, with small fidelity patches, on a port chosen by the OS.

Why a launcher of our own instead of ``moto_server``:

* The sandbox's second ``terraform plan`` must show no changes. Where moto reads a value back differently
  from what it was given (and from what AWS returns), the provider sees drift that real AWS would never
  show. We fix those read-backs here, in the emulator, and never with ``ignore_changes`` in the stack: a
  stack change would hide real drift in real accounts.
* The stack uses a few APIs moto does not implement at all (CloudFront response headers policies); a
  minimal, faithful in-memory implementation lets the whole stack apply.
* Binding port 0 and reporting the chosen port through ``--port-file`` avoids the race of "find a free
  port, then start the server on it".
* Every 4xx/5xx answer is printed with its error code and message (``ErrorBodyLogger``), so the moto log
  of a failed apply says which call was refused and why.
* Every request served is logged as ``request <service> <operation> <region> <status> <resource>``
  (``tools/sandbox/request_log.py``): the deployer policy is tested against those lines.
* Calls that carry an idempotency token are answered once, as AWS does, and every SDK retry is logged
  with what happened to the attempt before it (``tools/sandbox/client_tokens.py``).

Each patch is one function registered with :func:`fidelity_patch`, says which moto behaviour it corrects
and what AWS does instead, and is applied before the first request. The list is printed at start-up so
the moto log shows which patches were active. Patches only touch read-back fidelity or add missing
operations; they never relax a validation AWS performs.

Run as ``python -m tools.sandbox.moto_server --port-file PATH``; the runner does that for you.
"""

# Patching moto means calling and replacing its protected helpers (``_get_param`` and friends).
# pylint: disable=protected-access

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

from tools.sandbox import moto_autoscaling, moto_backup, moto_events, moto_firehose, moto_s3, moto_sts
from tools.sandbox.client_tokens import ClientTokenReplay, RetryJournal, buffered_body, preload_models
from tools.sandbox.fidelity import APPLIED as _APPLIED
from tools.sandbox.fidelity import PATCHES as _PATCHES
from tools.sandbox.fidelity import fidelity_patch
from tools.sandbox.request_log import RequestLog, rest_operations

# Signing names of the query and JSON services the stack calls: their models are loaded before the first
# request (ClientTokenReplay reads them), so no call waits seconds for one while Terraform runs ten at a time.
PRELOADED_MODELS = (
    "ec2",
    "firehose",
    "secretsmanager",
    "acm",
    "ssm",
    "logs",
    "kms",
    "rds",
    "iam",
    "sts",
    "sns",
    "autoscaling",
    "wafv2",
    "events",
)
# REST services whose operations the request log matches by method, path and query (botocore's models).
PRELOADED_REST_MODELS = ("s3", "cloudfront", "route53", "backup")

# Modules whose @fidelity_patch functions register at import, beside this one's (one file per concern).
PATCH_MODULES = (moto_autoscaling, moto_backup, moto_s3, moto_sts, moto_firehose, moto_events)


# -------------------------------------------------------------------------------------------- EC2 templates
@fidelity_patch(
    "CreateLaunchTemplateVersion keeps its UserData as the base64 text it was sent, as CreateLaunchTemplate does "
    "(moto stores it unparsed, and an instance launched from such a version fails an assertion: a 500 on the "
    "scale-out or instance refresh that follows an apply changing the launch template)"
)
def ec2_launch_template_version_user_data() -> None:
    """Parse the new version's UserData the way moto's CreateLaunchTemplate does (``parse_user_data``)."""
    from moto.core.types import Base64EncodedString  # pylint: disable=import-outside-toplevel
    from moto.ec2.models.launch_templates import LaunchTemplate  # pylint: disable=import-outside-toplevel
    from moto.ec2.utils import parse_user_data  # pylint: disable=import-outside-toplevel

    create_version = LaunchTemplate.create_version

    def create_with_parsed_user_data(self: Any, data: dict[str, Any], description: str) -> Any:
        if data.get("UserData") is not None and not isinstance(data["UserData"], Base64EncodedString):
            data = {**data, "UserData": parse_user_data(data["UserData"])}
        return create_version(self, data, description)

    LaunchTemplate.create_version = create_with_parsed_user_data  # type: ignore[method-assign]  # fidelity patch


# --------------------------------------------------------------------------------------------- CloudFront
@fidelity_patch("CloudFront origins keep OriginAccessControlId (moto drops it, so every plan re-adds the OAC)")
def cloudfront_origin_access_control_id() -> None:
    """Store the origin's ``OriginAccessControlId`` so that GetDistribution(Config) returns it like AWS."""
    from moto.cloudfront import models  # pylint: disable=import-outside-toplevel

    original_init = models.Origin.__init__

    def init(self: Any, origin: dict[str, Any]) -> None:
        original_init(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    models.Origin.__init__ = init  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "CloudFront CreateDistribution is idempotent for a repeated CallerReference with the same config, "
    "as AWS documents (moto answers 409 DistributionAlreadyExists, failing an SDK-retried create)"
)
def cloudfront_idempotent_create() -> None:
    """Return the existing distribution when a create repeats its CallerReference and config (AWS semantics);
    a different config under the same reference still gets DistributionAlreadyExists."""
    from moto.cloudfront import models  # pylint: disable=import-outside-toplevel

    original = models.CloudFrontBackend.create_distribution_with_tags

    def create(self: Any, distribution_config: dict[str, Any], tags: list[dict[str, str]]) -> Any:
        request = json.dumps(distribution_config, sort_keys=True, default=str)
        for dist in self.distributions.values():
            if getattr(dist, "request_config", None) == request:
                return dist, dist.location, dist.etag
        dist, location, etag = original(self, distribution_config, tags)
        dist.request_config = request  # type: ignore[attr-defined]  # our marker on moto's object
        return dist, location, etag

    models.CloudFrontBackend.create_distribution_with_tags = create  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "CloudFront cache behaviours return ForwardedValues only when it was given (moto invents legacy "
    "defaults next to a CachePolicyId) and ViewerCertificate.SSLSupportMethod only when given "
    "(moto always answers sni-only)"
)
def cloudfront_no_invented_defaults() -> None:
    """Keep what AWS keeps: a behaviour using a cache policy has no ForwardedValues; the default
    certificate has no SSLSupportMethod."""
    from moto.cloudfront import models  # pylint: disable=import-outside-toplevel

    behaviour_init = models.DefaultCacheBehaviour.__init__
    certificate_init = models.ViewerCertificate.__init__

    def init_behaviour(self: Any, config: dict[str, Any]) -> None:
        behaviour_init(self, config)
        if "ForwardedValues" not in config:
            self.forwarded_values = None

    def init_certificate(self: Any, config: dict[str, Any]) -> None:
        certificate_init(self, config)
        self.ssl_support_method = config.get("SSLSupportMethod") or None

    models.DefaultCacheBehaviour.__init__ = init_behaviour  # type: ignore[method-assign]  # fidelity patch
    models.ViewerCertificate.__init__ = init_certificate  # type: ignore[method-assign]  # fidelity patch


class _ResponseHeadersPolicy:  # pylint: disable=too-few-public-methods
    """One custom response headers policy, kept as the request's config structure (botocore shape)."""

    def __init__(self, config: dict[str, Any]) -> None:
        from moto.cloudfront.models import random_id  # pylint: disable=import-outside-toplevel
        from moto.core.utils import utcnow  # pylint: disable=import-outside-toplevel

        self.id = str(uuid.uuid4())
        self.config = config
        self.etag = random_id()
        self.last_modified_time = utcnow()

    def as_result(self) -> dict[str, Any]:
        """The ``ResponseHeadersPolicy`` structure AWS returns."""
        return {"Id": self.id, "LastModifiedTime": self.last_modified_time, "ResponseHeadersPolicyConfig": self.config}


@fidelity_patch(
    "CloudFront response headers policies (Create/Get/GetConfig/Update/Delete/List) exist "
    "(moto answers 404, so the security-headers policy cannot be created)"
)
def cloudfront_response_headers_policies() -> None:
    """Add the response headers policy API to moto's CloudFront: routes, backend store and responses."""
    # pylint: disable=import-outside-toplevel
    from moto.cloudfront import responses, urls
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.core.responses import ActionResult, EmptyResult

    class NoSuchResponseHeadersPolicy(CloudFrontException):
        """404 as AWS sends it."""

        def __init__(self) -> None:
            super().__init__("NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")

    class ResponseHeadersPolicyAlreadyExists(CloudFrontException):
        """409 as AWS sends it: names are unique per account."""

        def __init__(self) -> None:
            super().__init__(
                "ResponseHeadersPolicyAlreadyExists", "A response headers policy with this name already exists."
            )

    def store(backend: Any) -> dict[str, _ResponseHeadersPolicy]:
        if not hasattr(backend, "_sandbox_rhp"):
            backend._sandbox_rhp = {}
        return backend._sandbox_rhp

    def lookup(backend: Any, policy_id: str) -> _ResponseHeadersPolicy:
        policy = store(backend).get(policy_id)
        if policy is None:
            raise NoSuchResponseHeadersPolicy()
        return policy

    def create(self: Any) -> ActionResult:
        config = self._get_param("ResponseHeadersPolicyConfig", {})
        policies = store(self.backend)
        if any(p.config.get("Name") == config.get("Name") for p in policies.values()):
            raise ResponseHeadersPolicyAlreadyExists()
        policy = _ResponseHeadersPolicy(config)
        policies[policy.id] = policy
        location = f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy.id}"
        return ActionResult({"ResponseHeadersPolicy": policy.as_result(), "Location": location, "ETag": policy.etag})

    def get(self: Any) -> ActionResult:
        policy = lookup(self.backend, self._get_param("Id"))
        return ActionResult({"ResponseHeadersPolicy": policy.as_result(), "ETag": policy.etag})

    def get_config(self: Any) -> ActionResult:
        policy = lookup(self.backend, self._get_param("Id"))
        return ActionResult({"ResponseHeadersPolicyConfig": policy.config, "ETag": policy.etag})

    def update(self: Any) -> ActionResult:
        from moto.cloudfront.models import random_id
        from moto.core.utils import utcnow

        policy = lookup(self.backend, self._get_param("Id"))
        policy.config = self._get_param("ResponseHeadersPolicyConfig", {})
        policy.etag = random_id()
        policy.last_modified_time = utcnow()
        return ActionResult({"ResponseHeadersPolicy": policy.as_result(), "ETag": policy.etag})

    def delete(self: Any) -> EmptyResult:
        lookup(self.backend, self._get_param("Id"))
        del store(self.backend)[self._get_param("Id")]
        return EmptyResult()

    def list_policies(self: Any) -> ActionResult:
        wanted = self._get_param("Type")
        items = (
            []
            if wanted == "managed"
            else [{"Type": "custom", "ResponseHeadersPolicy": p.as_result()} for p in store(self.backend).values()]
        )
        return ActionResult({"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}})

    handler = responses.CloudFrontResponse
    handler.create_response_headers_policy = create  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.get_response_headers_policy = get  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.get_response_headers_policy_config = get_config  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.update_response_headers_policy = update  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.delete_response_headers_policy = delete  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.list_response_headers_policies = list_policies  # type: ignore[attr-defined]  # handler moto lacks, added
    dispatch = handler.dispatch
    urls.url_paths.update(
        {
            "{0}/2020-05-31/response-headers-policy$": dispatch,
            "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)$": dispatch,
            "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)/config$": dispatch,
        }
    )


# -------------------------------------------------------------------------------------------------- RDS
@fidelity_patch(
    "RDS instances get a unique DbiResourceId (moto gives every instance the same one, and the "
    "provider keys reads on it, so a second instance breaks reads of the first)"
)
def rds_unique_dbi_resource_id() -> None:
    """Give each DB instance its own ``db-<26 upper-case letters/digits>`` resource id, as AWS does."""
    from moto.moto_api._internal import mock_random  # pylint: disable=import-outside-toplevel
    from moto.rds.models import DBInstance  # pylint: disable=import-outside-toplevel

    original_init = DBInstance.__init__
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.dbi_resource_id = "db-" + "".join(mock_random.choice(alphabet) for _ in range(26))

    DBInstance.__init__ = init  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "RDS instances keep Performance Insights settings given at creation (moto drops them, so "
    "PerformanceInsightsEnabled reads back false)"
)
def rds_performance_insights() -> None:
    """Store PerformanceInsightsEnabled/KMSKeyId/RetentionPeriod from CreateDBInstance, with AWS's defaults
    (7 days retention, the ``aws/rds`` key) when enabled without them."""
    from moto.rds.models import DBInstance  # pylint: disable=import-outside-toplevel

    original_init = DBInstance.__init__
    original_update = DBInstance.update

    def record(instance: Any, settings: dict[str, Any]) -> None:
        # The request says EnablePerformanceInsights; the description says PerformanceInsightsEnabled.
        enabled = str(settings.get("enable_performance_insights")).lower() == "true"
        instance.performance_insights_enabled = enabled
        if enabled:
            instance.performance_insights_retention_period = int(
                settings.get("performance_insights_retention_period")
                or getattr(instance, "performance_insights_retention_period", None)
                or 7
            )
            instance.performance_insights_kms_key_id = (
                settings.get("performance_insights_kms_key_id")
                or getattr(instance, "performance_insights_kms_key_id", None)
                or f"arn:{instance.partition}:kms:{instance.region}:{instance.account_id}:alias/aws/rds"
            )
        else:
            instance.performance_insights_retention_period = None
            instance.performance_insights_kms_key_id = None

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        record(self, kwargs)

    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        original_update(self, *args, **kwargs)
        if kwargs.get("enable_performance_insights") is not None:
            record(self, kwargs)

    DBInstance.__init__ = init  # type: ignore[method-assign]  # fidelity patch
    DBInstance.update = update  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "RDS parameters set by the user carry Source=user and DescribeDBParameters honours the Source "
    "filter (moto stores no Source, so the provider finds no user parameters and re-adds them all)"
)
def rds_parameter_source() -> None:
    """Mark modified parameters ``Source: user`` and filter DescribeDBParameters by ``Source``.

    moto keeps only the parameters a user set (no engine defaults), so a ``system``/``engine-default``
    query correctly returns none of them.
    """
    # pylint: disable=import-outside-toplevel
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import DBParameterGroupNotFoundError
    from moto.rds.models import DBParameterGroup
    from moto.rds.responses import RDSResponse

    original_update = DBParameterGroup.update_parameters

    def update_parameters(self: Any, new_parameters: Any) -> None:
        new_parameters = list(new_parameters)
        original_update(self, new_parameters)
        for parameter in new_parameters:
            self.parameters[parameter["ParameterName"]].setdefault("Source", "user")

    def describe_db_parameters(self: Any) -> ActionResult:
        name = self.params.get("DBParameterGroupName")
        groups = self.backend.describe_db_parameter_groups({"db_parameter_group_name": name})
        if not groups:
            raise DBParameterGroupNotFoundError(name)
        source = self.params.get("Source")
        parameters = [p for p in groups[0].parameters.values() if source is None or p.get("Source") == source]
        return ActionResult({"Parameters": parameters})

    DBParameterGroup.update_parameters = update_parameters  # type: ignore[method-assign]  # fidelity patch
    RDSResponse.describe_db_parameters = describe_db_parameters  # type: ignore[method-assign]  # fidelity patch


# ---------------------------------------------------------------------------------------- Auto Scaling
@fidelity_patch(
    "Auto Scaling policies read back Enabled (default true) and no empty "
    "PredictiveScalingConfiguration (moto omits the first and invents the second)"
)
def autoscaling_policy_enabled() -> None:
    """Record ``Enabled`` from PutScalingPolicy and drop an empty predictive configuration."""
    from moto.autoscaling.responses import AutoScalingResponse  # pylint: disable=import-outside-toplevel

    original = AutoScalingResponse.put_scaling_policy

    def put_scaling_policy(self: Any) -> Any:
        result = original(self)
        params = self._get_params()  # pylint: disable=protected-access
        policy = self.autoscaling_backend.policies[params["PolicyName"]]
        policy.enabled = str(params.get("Enabled", True)).lower() != "false"
        if not policy.predictive_scaling_configuration:
            policy.predictive_scaling_configuration = None
        return result

    AutoScalingResponse.put_scaling_policy = put_scaling_policy  # type: ignore[method-assign]  # fidelity patch


# Group settings moto's CreateAutoScalingGroup/UpdateAutoScalingGroup drop: request parameter -> model attribute
# (the attribute the response serializer reads back under the same name, botocore.xform_name).
KEPT_GROUP_SETTINGS = {
    "ServiceLinkedRoleARN": "service_linked_role_arn",
    "MaxInstanceLifetime": "max_instance_lifetime",
}


@fidelity_patch(
    "Auto Scaling groups keep the ServiceLinkedRoleARN and MaxInstanceLifetime they are created or "
    "updated with (moto reports the account's default AWSServiceRoleForAutoScaling and no lifetime, so "
    "every plan would change them back)"
)
def autoscaling_group_settings() -> None:
    """Store :data:`KEPT_GROUP_SETTINGS` from CreateAutoScalingGroup and UpdateAutoScalingGroup when given."""
    from moto.autoscaling.responses import AutoScalingResponse  # pylint: disable=import-outside-toplevel

    def keeping(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def handler(self: Any) -> Any:
            result = original(self)
            params = self._get_params()  # pylint: disable=protected-access
            group = self.autoscaling_backend.autoscaling_groups[params["AutoScalingGroupName"]]
            for parameter, attribute in KEPT_GROUP_SETTINGS.items():
                if params.get(parameter) is not None:
                    value = params[parameter]
                    setattr(group, attribute, int(value) if attribute == "max_instance_lifetime" else value)
            return result

        return handler

    for name in ("create_auto_scaling_group", "update_auto_scaling_group"):
        setattr(AutoScalingResponse, name, keeping(getattr(AutoScalingResponse, name)))  # fidelity patch


# -------------------------------------------------------------------------------------------------- EC2
@fidelity_patch(
    "Launch template versions do not gain a TagSpecifications entry copied from the template's own "
    "tags (moto merges ResourceType=launch-template tags into LaunchTemplateData)"
)
def ec2_launch_template_own_tags() -> None:
    """Drop ``launch-template`` entries from a version's TagSpecifications: AWS keeps the template's own tags
    on the template, and LaunchTemplateData only accepts instance/volume/... tag specifications."""
    from moto.ec2.models.launch_templates import LaunchTemplateVersion  # pylint: disable=import-outside-toplevel

    original_init = LaunchTemplateVersion.__init__

    def init(self: Any, template: Any, number: int, data: dict[str, Any], description: str) -> None:
        specifications = data.get("TagSpecifications")
        if specifications is not None:
            kept = [s for s in specifications if s.get("ResourceType") != "launch-template"]
            if kept:
                data["TagSpecifications"] = kept
            else:
                del data["TagSpecifications"]
        original_init(self, template, number, data, description)

    LaunchTemplateVersion.__init__ = init  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "Flow logs created with a CloudWatch Logs destination ARN report the log group name and deliver "
    "(moto looks only at LogGroupName, so it reports DeliverLogsStatus FAILED, 'Access error')"
)
def ec2_flow_log_destination_arn() -> None:
    """Derive ``LogGroupName`` from ``LogDestination`` (``arn:...:log-group:NAME[:*]``) like AWS does, and
    judge delivery by whether that log group exists."""
    # pylint: disable=import-outside-toplevel
    from moto.ec2.models.flow_logs import FlowLogsBackend
    from moto.logs.models import logs_backends

    original = FlowLogsBackend.create_flow_logs

    def create_flow_logs(self: Any, *args: Any, **kwargs: Any) -> Any:
        flow_logs, unsuccessful = original(self, *args, **kwargs)
        for flow_log in flow_logs:
            destination = flow_log.log_destination or ""
            if (
                flow_log.log_destination_type != "cloud-watch-logs"
                or flow_log.log_group_name
                or ":log-group:" not in destination
            ):
                continue
            name = destination.split(":log-group:", 1)[1].removesuffix(":*")
            flow_log.log_group_name = name
            if name in logs_backends[self.account_id][self.region_name].groups:
                flow_log.deliver_logs_status = "SUCCESS"
                flow_log.deliver_logs_error_message = None
        return flow_logs, unsuccessful

    FlowLogsBackend.create_flow_logs = create_flow_logs  # type: ignore[method-assign]  # fidelity patch


# ------------------------------------------------------------------------------------------------ ELBv2
@fidelity_patch(
    "Load balancers created without a Scheme are internet-facing (moto stores no scheme when the "
    "request omits it, as the provider does for internal = false)"
)
def elbv2_default_scheme() -> None:
    """Apply AWS's default ``Scheme=internet-facing`` when CreateLoadBalancer does not send one."""
    from moto.elbv2.models import ELBv2Backend  # pylint: disable=import-outside-toplevel

    original = ELBv2Backend.create_load_balancer

    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("scheme") is None:
            kwargs["scheme"] = "internet-facing"
        return original(self, *args, **kwargs)

    ELBv2Backend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]  # fidelity patch


# -------------------------------------------------------------------------------------------------- SNS
# Protocols whose subscriptions AWS confirms only when the recipient follows the link it sends.
SNS_CONFIRMED_BY_RECIPIENT = ("email", "email-json")


@fidelity_patch(
    "E-mail subscriptions are PendingConfirmation until the recipient confirms, which nobody can in the "
    "emulator (moto confirms every subscription at once, so a check of the confirmation always passes)"
)
def sns_email_subscriptions_pending() -> None:
    """A new ``email``/``email-json`` subscription reads back ``PendingConfirmation=true`` and
    ``ConfirmationWasAuthenticated=false``, as AWS answers until the link in its confirmation e-mail is opened."""
    from moto.sns.models import SNSBackend  # pylint: disable=import-outside-toplevel

    original = SNSBackend.subscribe

    def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original(self, topic_arn, endpoint, protocol)
        if existing is None and protocol in SNS_CONFIRMED_BY_RECIPIENT:
            subscription.attributes.update({"PendingConfirmation": True, "ConfirmationWasAuthenticated": False})
        return subscription

    SNSBackend.subscribe = subscribe  # type: ignore[method-assign]  # fidelity patch


# -------------------------------------------------------------------------------------------- Secrets Manager
@fidelity_patch(
    "PutSecretValue moves only AWSCURRENT and AWSPREVIOUS: the version that was current keeps its other staging "
    "labels (moto replaces its whole list with AWSPREVIOUS, so a version the stack labels to keep it from being "
    "deprecated loses that label at the first rotation)"
)
def secretsmanager_rotation_keeps_custom_labels() -> None:
    """Rewrite ``FakeSecret.reset_default_version``: AWSPREVIOUS leaves whichever version held it, AWSCURRENT moves
    from the current version (which gets AWSPREVIOUS) to the new one; every other label stays where it is."""
    from moto.secretsmanager.models import FakeSecret  # pylint: disable=import-outside-toplevel

    def reset_default_version(self: Any, secret_version: dict[str, Any], version_id: str) -> None:
        for old_version in self.versions.values():
            if "AWSPREVIOUS" in old_version["version_stages"]:
                old_version["version_stages"].remove("AWSPREVIOUS")
        if self.default_version_id and self.default_version_id in self.versions:
            stages = self.versions[self.default_version_id]["version_stages"]
            self.versions[self.default_version_id]["version_stages"] = [
                *(stage for stage in stages if stage != "AWSCURRENT"),
                "AWSPREVIOUS",
            ]
        self.versions[version_id] = secret_version
        self.default_version_id = version_id

    FakeSecret.reset_default_version = reset_default_version  # type: ignore[method-assign]  # fidelity patch


# -------------------------------------------------------------------------------------------------- KMS
@fidelity_patch(
    "Keys behind alias/aws/* (created on first use, e.g. aws/ebs for encrypted volumes without a key) "
    "are AWS managed (moto marks them CUSTOMER, so they look like keys the stack forgot)"
)
def kms_aws_managed_default_keys() -> None:
    """Set ``KeyManager=AWS`` on a key when it gets a reserved ``alias/aws/...`` alias, as AWS's own
    service default keys have."""
    from moto.kms.models import KmsBackend  # pylint: disable=import-outside-toplevel

    original = KmsBackend.create_alias

    def create_alias(self: Any, target_key_id: str, alias_name: str) -> Any:
        result = original(self, target_key_id, alias_name)
        if alias_name.startswith("alias/aws/"):
            self.describe_key(target_key_id).key_manager = "AWS"
        return result

    KmsBackend.create_alias = create_alias  # type: ignore[method-assign]  # fidelity patch


# ---------------------------------------------------------------------------------------------- Route 53
@fidelity_patch(
    "Route 53 hosted zone ids start with Z, as every id AWS issues does (Z1D633PJN98FT9; moto's own "
    "comment says so, but it draws all 22 characters at random), so HOSTED_ZONE_ID's check accepts them"
)
def route53_zone_ids_start_with_z() -> None:
    """Make the first character of a generated hosted zone id ``Z``; length and alphabet stay moto's."""
    from moto.route53 import models  # pylint: disable=import-outside-toplevel

    original = models.HostedZoneIdentifier.generate

    def generate(self: Any, existing_ids: Any = None, tags: Any = None) -> str:
        zone_id: str = original(self, existing_ids=existing_ids, tags=tags)
        return zone_id if zone_id.startswith("Z") else "Z" + zone_id[1:]

    models.HostedZoneIdentifier.generate = generate  # type: ignore[method-assign]  # fidelity patch


# ------------------------------------------------------------------------------------------------ running
def apply_fidelity_patches() -> list[str]:
    """Apply every registered patch once per process and return ``name: why`` lines for the log."""
    applied = []
    for name, why, function in _PATCHES:
        if name not in _APPLIED:
            function()
            _APPLIED.add(name)
        applied.append(f"{name}: {why}")
    return applied


class ErrorBodyLogger:  # pylint: disable=too-few-public-methods
    """WSGI middleware: print every 4xx/5xx answer as ``error answer <status> <operation>: <Code>: <Message>``.

    werkzeug's access log only shows ``POST / 400``; when an apply fails, the questions are *which* call
    the emulator refused and *why*. Query-protocol services (EC2, RDS, IAM, ELBv2, ...) name the call in
    the form body (``Action=``), JSON services in ``X-Amz-Target``, REST services by method and path.
    """

    TEXT_LIMIT = 300

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        form = self.buffer_form_body(environ)
        captured: dict[str, str] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            captured["status"] = status
            return start_response(status, headers, *args)

        body = self.app(environ, capture)
        if not captured.get("status", "200").startswith(("4", "5")):
            return body
        chunks = list(body)
        # One write per line: werkzeug's request threads log to the same file at the same time.
        sys.stdout.write(
            f"error answer {captured['status']} {self.operation(environ, form)}: "
            f"{self.describe(b''.join(chunks).decode('utf-8', 'replace'))}\n"
        )
        sys.stdout.flush()
        return chunks

    @staticmethod
    def buffer_form_body(environ: dict[str, Any]) -> bytes:
        """Read a form-encoded POST body (where query-protocol calls name their ``Action``) and put it back
        for moto to read; other requests are left untouched."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not length
            or not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded")
        ):
            return b""
        return buffered_body(environ)

    @staticmethod
    def operation(environ: dict[str, Any], form: bytes) -> str:
        """The API operation of a refused request; parsed only for errors, not for every request."""
        if environ.get("HTTP_X_AMZ_TARGET"):
            return str(environ["HTTP_X_AMZ_TARGET"])
        action = parse_qs(form.decode("utf-8", "replace")).get("Action") if form else None
        if action:
            return action[0]
        query = environ.get("QUERY_STRING")
        return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}" + (f"?{query}" if query else "")

    @classmethod
    def describe(cls, body: str) -> str:
        """``Code: Message`` from an XML or JSON error body, else the body's start."""
        code = re.search(r"<Code>(.*?)</Code>", body) or re.search(r'"__type"\s*:\s*"([^"]+)"', body)
        message = re.search(r"<Message>(.*?)</Message>", body, flags=re.DOTALL) or re.search(
            r'"[mM]essage"\s*:\s*"([^"]*)"', body
        )
        if code:
            text = f"{code.group(1).rsplit('#', 1)[-1]}: {message.group(1) if message else ''}"
        else:
            text = body
        return " ".join(text.split())[: cls.TEXT_LIMIT]


def serve(host: str, port: int, port_file: Path | None) -> None:
    """Serve moto's app until SIGTERM/SIGINT; write the bound port to ``port_file`` once listening."""
    # pylint: disable=import-outside-toplevel
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = RequestLog(ErrorBodyLogger(RetryJournal(ClientTokenReplay(DomainDispatcherApplication(create_backend_app)))))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    bound_port = int(server.server_address[1])

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if port_file is not None:
        # Write then rename, so a reader never sees a half-written number.
        partial = port_file.with_suffix(".partial")
        partial.write_text(str(bound_port), encoding="utf-8")
        partial.replace(port_file)
    print(f"moto server listening on http://{host}:{bound_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, patch moto, serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 (default) lets the OS choose")
    parser.add_argument("--port-file", type=Path, help="file to write the bound port to once listening")
    args = parser.parse_args(argv)
    for line in apply_fidelity_patches():
        print(f"fidelity patch {line}", flush=True)
    preload_models(PRELOADED_MODELS)
    for name in PRELOADED_REST_MODELS:
        rest_operations(name)
    serve(args.host, args.port, args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
