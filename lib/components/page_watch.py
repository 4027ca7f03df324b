"""The payment page cannot change unseen (PCI DSS 6.4.3, 11.6.1): an alert on every change to its bucket's objects,
and a scheduled check of the page as CloudFront serves it.

* ``page_objects_changed``: an EventBridge rule on the frontend bucket's ``Object Created``/``Object Deleted`` events
  (the bucket sends every object event to EventBridge, ``lib/blocks/buckets.py``) notifies the on-call topic, whose
  policy and key admit this account's rules (``lib/blocks/iam.py``). ``make deploy-frontend`` writes objects too, so
  the alert also follows every deploy (docs/operating.md says how to tell the two apart).
* ``check``: a Lambda function (``tools/page_integrity``, zipped at synth) runs on a schedule, reads the manifest
  ``make deploy-frontend`` writes from the bucket itself (not through the CloudFront it checks: a changed origin or
  edge function could serve a skimmer with a manifest written for it), fetches the page, its scripts and
  ``config.json`` through CloudFront, compares them with the manifest, the stack's ``config.json`` and
  ``lib/blocks/web_headers.py``'s headers, and publishes the number of differences; ``page_integrity_alarm`` notifies
  the on-call topic on any difference, and when no result arrives (the check stopped running).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import (
    CloudwatchEventTarget,
    CloudwatchEventTargetInputTransformer,
)
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction, LambdaFunctionEnvironment
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from lib.blocks.alarms import AlarmMetric, metric_alarm, rule_delivery_alarm
from lib.blocks.function_package import deterministic_zip
from lib.blocks.iam import Statement
from lib.blocks.log_groups import LogGroupProps, encrypted_log_group
from lib.blocks.roles import ServiceRoleProps, inline_policy, service_role
from lib.config import PROJECT_ROOT
from lib.naming import Naming
from lib.suppressions import suppress

SOURCE = PROJECT_ROOT / "tools" / "page_integrity"
PACKAGE = "page_integrity"
ZIP_PATH = PROJECT_ROOT / "dist" / "page-integrity-function.zip"
HANDLER = f"{PACKAGE}.handler.handler"
RUNTIME = "python3.12"
METRIC_NAME = "PageDifferences"  # tools/page_integrity/handler.py publishes it
MANIFEST_KEY = "integrity-manifest.json"  # tools/page_integrity/manifest.py: make deploy-frontend writes it
# An hour between checks (the issue asks for at least daily): a changed page is seen within the hour, for ~730
# short invocations a month.
CHECK_INTERVAL_SECONDS = 3600
SCHEDULE = f"rate({CHECK_INTERVAL_SECONDS // 3600} hour)"
# The alarm's period is two intervals. CloudWatch sums datapoints into periods aligned to the clock, while a rate()
# schedule runs at whatever minute the rule was created, drifting by seconds: a one-hour period can hold no run (and,
# with missing data breaching, alarm on a healthy check) or two. Every two-hour period holds at least one run, so
# "missing" now means no result for two runs in a row (the check stopped: still alarms), and the Maximum of the
# period's results alarms on any one run that found a difference.
ALARM_PERIOD_SECONDS = 2 * CHECK_INTERVAL_SECONDS
TIMEOUT_SECONDS = 120  # a page and a handful of scripts, each GET at most 20 s (check.FETCH_TIMEOUT_SECONDS)
OBJECT_EVENTS = ("Object Created", "Object Deleted")


@dataclass(frozen=True, kw_only=True)
class PageIntegrityProps:
    """The page to watch, what it must be, and where alarms go."""

    naming: Naming
    """Names and tags."""
    region: str
    """The function's region (its log group's ARN)."""
    account_id: str
    """The account of the function's log group and of the role's confused-deputy condition."""
    frontend_bucket_name: str
    """The page's bucket: its object events alert; the function reads the deployed manifest from it."""
    frontend_key_arn: str
    """The bucket's key: the function may decrypt with it through S3 only, to read the manifest."""
    page_url: str
    """``https://<the page's domain>``: the custom domain, or CloudFront's own."""
    expected_headers: Mapping[str, str]
    """The security headers the page must carry (``web_headers.response_headers`` for this stack's API and Stripe)."""
    expected_config: str
    """The ``config.json`` the stack writes (``Frontend.runtime_config``): the page must serve exactly it."""
    alarm_topic_arn: str
    """The on-call topic (``lib/components/monitoring.py``)."""
    logs_key_arn: str
    """Encrypts the function's log group (PCI DSS 3.5, 10.3)."""
    log_retention_days: float
    """Days the function's log is kept (the ``log_retention_days`` variable)."""


class PageIntegrity(Construct):
    """The object-event alert, the scheduled check, its role, log group and alarm."""

    def __init__(self, scope: Construct, construct_id: str, *, props: PageIntegrityProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self._object_event_alert()
        function = self._function()
        schedule = CloudwatchEventRule(
            self,
            "schedule",
            name=props.naming.name("page-integrity-schedule"),
            description="Runs the payment page's integrity check",
            schedule_expression=SCHEDULE,
            tags=props.naming.tags("page-integrity-schedule"),
        )
        CloudwatchEventTarget(self, "schedule_target", rule=schedule.name, arn=function.arn)
        LambdaPermission(
            self,
            "schedule_permission",
            statement_id="ScheduledIntegrityCheck",
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
        )
        self._alarm = self._differences_alarm()
        self._function_name = function.function_name

    def _object_event_alert(self) -> None:
        """Every object written or deleted in the page's bucket, to the on-call topic as one readable line."""
        props = self._props
        rule = CloudwatchEventRule(
            self,
            "page_objects_changed",
            name=props.naming.name("page-objects-changed"),
            description="An object of the payment page's bucket was written or deleted (PCI DSS 11.6.1)",
            event_pattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": list(OBJECT_EVENTS),
                    "detail": {"bucket": {"name": [props.frontend_bucket_name]}},
                }
            ),
            tags=props.naming.tags("page-objects-changed"),
        )
        CloudwatchEventTarget(
            self,
            "page_objects_changed_target",
            rule=rule.name,
            arn=props.alarm_topic_arn,
            input_transformer=CloudwatchEventTargetInputTransformer(
                input_paths={
                    "event": "$.detail-type",
                    "bucket": "$.detail.bucket.name",
                    "key": "$.detail.object.key",
                    "reason": "$.detail.reason",
                    "requester": "$.detail.requester",
                    "time": "$.time",
                },
                input_template=(
                    '"Payment page: <event> s3://<bucket>/<key> (<reason>) by account <requester> at <time>. '
                    'Expected during make deploy-frontend; otherwise investigate: docs/operating.md, the payment page."'
                ),
            ),
        )
        rule_delivery_alarm(
            self,
            "page_objects_changed_undelivered",
            naming=props.naming,
            name="page-objects-changed",
            rule_name=rule.name,
            topic_arn=props.alarm_topic_arn,
        )

    def _function(self) -> LambdaFunction:
        """The check: its zip, role (logs and its own metric namespace only), log group and function."""
        props, naming = self._props, self._props.naming
        name = naming.name("page-integrity", "iam")
        archive = deterministic_zip(SOURCE, ZIP_PATH, package=PACKAGE)
        asset = TerraformAsset(self, "code", path=str(archive), type=AssetType.FILE)
        log_group = encrypted_log_group(
            self,
            "log_group",
            props=LogGroupProps(
                name=f"/aws/lambda/{name}",
                retention_days=props.log_retention_days,
                kms_key_arn=props.logs_key_arn,
                tags=naming.tags("page-integrity-logs"),
            ),
        )
        role = service_role(
            self,
            "role",
            props=ServiceRoleProps(
                name=name,
                service="lambda.amazonaws.com",
                tags=naming.tags("page-integrity"),
                source_account=props.account_id,
            ),
        )
        policy = inline_policy(self, "role_policy", role=role, name=name, statements=self._statements(log_group.arn))
        function = LambdaFunction(
            self,
            "function",
            function_name=name,
            description="Checks the payment page served by CloudFront against its deployed manifest and headers",
            role=role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            filename=asset.path,
            source_code_hash=base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode(),
            timeout=TIMEOUT_SECONDS,
            memory_size=128,
            environment=LambdaFunctionEnvironment(variables=self._environment()),
            tags=naming.tags("page-integrity"),
            depends_on=[log_group, policy],
        )
        self._suppress_function_findings(function)
        return function

    def _environment(self) -> dict[str, str]:
        props = self._props
        return {
            "PAGE_URL": props.page_url,
            "FRONTEND_BUCKET": props.frontend_bucket_name,
            "EXPECTED_HEADERS": json.dumps(dict(props.expected_headers), sort_keys=True),
            "EXPECTED_CONFIG": props.expected_config,
            "METRIC_NAMESPACE": self.metric_namespace,
        }

    def _statements(self, log_group_arn: str) -> list[Statement]:
        """Write its own log streams; publish metrics in its own namespace only; read the one manifest object of the
        page's bucket, decrypting with the bucket's key through S3 only. The page, its scripts and config.json it
        reads through CloudFront, as a browser does."""
        props = self._props
        return [
            {
                "Sid": "ReadDeployedManifest",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{props.frontend_bucket_name}/{MANIFEST_KEY}",
            },
            {
                "Sid": "DecryptManifestThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": props.frontend_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{props.region}.amazonaws.com"}},
            },
            {
                "Sid": "OwnLogStreams",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{log_group_arn}:log-stream:*"],
            },
            {
                "Sid": "OwnMetricNamespace",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                # PutMetricData has no resource: the namespace condition is what scopes it.
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": self.metric_namespace}},
            },
        ]

    @staticmethod
    def _suppress_function_findings(function: LambdaFunction) -> None:
        suppress(
            function,
            "CKV_AWS_117",
            "Not in a VPC: it fetches the public CloudFront URL as a browser does and reaches nothing private; in the "
            "VPC it would need the NAT path to the internet for the same request.",
        )
        suppress(
            function,
            "CKV_AWS_116",
            "No dead-letter queue: the scheduled event carries nothing to replay, and a failed run publishes no "
            "datapoint, which the page-integrity alarm treats as breaching.",
        )
        suppress(
            function,
            "CKV_AWS_115",
            "No reserved concurrency: one short run an hour, and reserving any refuses the apply in accounts at the "
            "default concurrency quota of 10 (Lambda keeps 10 unreserved).",
        )
        suppress(
            function,
            "CKV_AWS_272",
            "No code signing: the zip is built from the reviewed repository at synth and deployed by Terraform with "
            "the deployer's rights; a signing profile would sign what the same pipeline built.",
        )
        suppress(
            function,
            "CKV_AWS_173",
            "Its environment holds the page's public URL, its bucket's name, its public security headers, the "
            "config.json every browser is served (the API URL, Stripe's publishable key) and a metric namespace: "
            "nothing secret for a customer managed key to protect (Lambda encrypts it with its own key at rest).",
        )
        suppress(
            function,
            "CKV_AWS_50",
            "No X-Ray tracing: one function making a few GETs; its log group records each difference and the "
            "alarm its result.",
        )

    def _differences_alarm(self) -> CloudwatchMetricAlarm:
        """Any difference in a two-hour period alarms; a period without a result too (two runs missing: the check
        stopped running). ``ALARM_PERIOD_SECONDS`` says why two hours, not one."""
        return metric_alarm(
            self,
            "page_integrity_alarm",
            naming=self._props.naming,
            name="page-integrity",
            description="The payment page served by CloudFront differs from its manifest or headers, or the "
            "integrity check did not report (docs/operating.md)",
            topic_arn=self._props.alarm_topic_arn,
            metric=AlarmMetric(namespace=self.metric_namespace, name=METRIC_NAME, statistic="Maximum"),
            operator="GreaterThanThreshold",
            threshold=0,
            period=ALARM_PERIOD_SECONDS,
            missing_data="breaching",
        )

    @property
    def metric_namespace(self) -> str:
        """The function's own namespace (the role may publish nowhere else)."""
        return f"{self._props.naming.project}/{self._props.naming.suffix}/PageIntegrity"

    @property
    def alarm_name(self) -> str:
        return self._alarm.alarm_name

    @property
    def function_name(self) -> str:
        return self._function_name
