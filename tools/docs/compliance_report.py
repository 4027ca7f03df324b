"""Generate ``docs/compliance.md``: PCI DSS v4.0 requirements -> resources -> the checks that prove them.

    python -m tools.docs.compliance_report [--stack-file PATH] [--scan-summary PATH] [--check]

Without ``--stack-file`` it describes a fixed production configuration (``REPORT_CONFIGURATION``: S3 state,
custom domain, alarm address), synthesized into ``.compliance/`` whatever the caller's environment and
folder, so the document and its check never depend on a suffix or a path. The first lines are a stamp
(generation date, configuration, a hash of the inputs); ``--check`` compares everything but the stamp, since
a committed file cannot hold its own commit hash and the date changes every day.

Why generated: a hand-kept control matrix drifts from the code the day after it is written. This one is rebuilt
from three sources of truth — the synthesized ``cdk.tf.json`` (which resources implement a control, by
construct path), the checkov result written by ``tools/lint/checkov_scan.py`` (which checks passed, and which are
suppressed with what reason), and the test suite and preflight registry (which tests and rules declare, with
``@pytest.mark.pci`` and ``@rule(..., pci=...)``, the requirements they prove). The mapping below only says which
resource types and checkov checks belong to which requirement; never-evaluated check ids are reported instead of
silently listed. ``--check`` exits non-zero when the committed file is out of date (for CI).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_contract import examples

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from lib.artifact import POINTER_VARIABLE  # noqa: E402
from lib.synth_output import stack_file  # noqa: E402
from preflight import RULES, Rule, errors, run_preflight  # noqa: E402
from preflight.model import PCI_REQUIREMENTS  # noqa: E402
from tools.lint.checkov_scan import SUMMARY_JSON, ScanError, scan  # noqa: E402
from tools.release.build_artifact import unverified_production_pointer  # noqa: E402

OUTPUT = ROOT / "docs" / "compliance.md"
REPORT_DIR = ROOT / ".compliance"
# What the report describes: a production stack as the deploy guide's example configures it. Example values
# only where AWS would need real ones (bucket, domain, certificate); they change no resource's controls.
# The contract's example (tap_contract.examples.REPORT): the production example the tests synthesize, as deployed.
REPORT_CONFIGURATION = dict(examples.REPORT)
STAMP_BEGIN, STAMP_END = "<!-- stamp:begin -->", "<!-- stamp:end -->"

# Why a mapped check may show no result: checkov skips attributes whose value is a Terraform expression.
NOT_EVALUATED_NOTES = {
    "CKV_AWS_338": "retention_in_days is var.log_retention_days, which checkov does not resolve; PF-LOG-RETENTION "
    "checks the variable's default",
}


@dataclass(frozen=True)
class Requirement:
    """One PCI DSS v4.0 requirement and the evidence that belongs to it.

    No preflight rule ids here: each rule declares the requirements it proves (``@rule(..., pci=(...))``), as each
    test does with ``@pytest.mark.pci``, so the evidence is stated where it is implemented.
    """

    ref: str
    title: str
    how: str
    resource_types: tuple[str, ...]
    checkov: tuple[str, ...]
    real_account: str  # what only a deployment to a real AWS account can show for this requirement


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(
        "1.2, 1.3, 1.4",
        "Network security controls and segmentation of the CDE",
        "Three subnet tiers over three AZs; only the ALB is internet-facing (443); instances take the API port "
        "from the ALB's group only, the database 5432 from the instances only; data subnets have no route to "
        "the internet, and their network ACL admits 5432 from the app subnets only (and the replies); the public "
        "and app tiers have their own minimal ACLs (public: 443 and replies in, the API port to the app subnets, "
        "replies and HTTPS out; app: the API port from the public subnets, HTTPS from the VPC, Linux's reply ports "
        "in; HTTPS, 5432 to the data subnets and replies inside the VPC out); the default security group and the "
        "default network ACL are emptied; S3 traffic stays on a gateway endpoint. 1.3.2 (outbound traffic from the "
        "CDE restricted): the app tier reaches AWS APIs through interface endpoints with account-only policies, S3 "
        "through the gateway endpoint's policy, the internet only at the payment processor's listed CIDRs "
        "(PF-SG-INTERNET-EGRESS); every bucket's public access block is on (PF-S3-PUBLIC-ACCESS-BLOCK).",
        (
            "aws_vpc",
            "aws_subnet",
            "aws_route_table",
            "aws_nat_gateway",
            "aws_internet_gateway",
            "aws_security_group",
            "aws_security_group_rule",
            "aws_default_security_group",
            "aws_vpc_endpoint",
            "aws_network_acl",
            "aws_default_network_acl",
        ),
        (
            "CKV2_AWS_12",
            "CKV_AWS_23",
            "CKV_AWS_24",
            "CKV_AWS_25",
            "CKV_AWS_260",
            "CKV_AWS_130",
            "CKV_AWS_17",
            "CKV2_AWS_5",
            "CKV_AWS_382",
        ),
        "that AWS enforces the security groups and routes as configured (the emulator stores them but does "
        "not filter traffic); run a reachability check (VPC Reachability Analyzer) from the internet and from"
        " the app tier.",
    ),
    Requirement(
        "2.2",
        "Secure configuration of system components",
        "IMDSv2 required and hop limit 1; invalid HTTP headers dropped at the ALB; deletion protection; "
        "minor engine upgrades; user data free of template sequences; instance types and engine versions that "
        "exist (no half-applied stacks).",
        ("aws_launch_template", "aws_alb", "aws_lb", "aws_db_instance", "aws_autoscaling_group"),
        ("CKV_AWS_79", "CKV_AWS_131", "CKV_AWS_150", "CKV_AWS_226", "CKV_AWS_293", "CKV_AWS_341", "CKV_AWS_88"),
        "that instances really run with IMDSv2 only (the emulator ignores the setting on instances) and that "
        "the AMI is patched (the image id comes from AWS at plan time).",
    ),
    Requirement(
        "3.5, 3.6, 3.7",
        "Stored account data protected with strong cryptography and managed keys",
        "Customer-managed KMS keys with rotation and key policies that name their principals; RDS storage, "
        "Performance Insights and the RDS-managed master secret on the data key; S3, log groups and SNS "
        "encrypted; the connection string an SSM SecureString without password. 3.6.1 (key-management "
        "procedures): administration (KMS_ADMIN_PRINCIPAL_ARN) apart from use, service use conditioned on its "
        "source, rotation enforced at synth (PF-KMS-ROTATION, PF-KMS-ADMIN-USE-SEPARATED).",
        (
            "aws_kms_key",
            "aws_kms_alias",
            "aws_db_instance",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_cloudwatch_log_group",
            "aws_sns_topic",
            "aws_ssm_parameter",
        ),
        (
            "CKV_AWS_7",
            "CKV_AWS_33",
            "CKV_AWS_16",
            "CKV_AWS_354",
            "CKV_AWS_158",
            "CKV_AWS_26",
            "CKV_AWS_337",
            "CKV_AWS_145",
            "CKV2_AWS_64",
        ),
        "that AWS encrypted the data with the named keys and rotates them (the emulator records the settings "
        "only); check with `aws kms get-key-rotation-status` and each resource's KmsKeyId.",
    ),
    Requirement(
        "4.2",
        "Strong cryptography for cardholder data in transit",
        "HTTPS-only ALB listener with an ACM certificate and a TLS 1.2+ policy without CBC suites (an allow-list), "
        "HSTS on every response and, with API_DOMAIN, only that Host forwarded; CloudFront serves viewers over "
        "HTTPS only; buckets deny plain HTTP and TLS older than 1.2; the alarm topic refuses publishing without "
        "TLS; the database parameter group forces TLS.",
        (
            "aws_alb_listener",
            "aws_lb_listener",
            "aws_cloudfront_distribution",
            "aws_s3_bucket_policy",
            "aws_sns_topic_policy",
            "aws_db_parameter_group",
        ),
        ("CKV_AWS_2", "CKV_AWS_103", "CKV2_AWS_74", "CKV_AWS_34", "CKV_AWS_174", "CKV2_AWS_69", "CKV_AWS_378"),
        "the TLS versions and ciphers AWS actually negotiates (test the endpoints with a TLS scanner) and "
        "that RDS refuses plain connections.",
    ),
    Requirement(
        "6.3.2",
        "Inventory of bespoke and third-party software components",
        "Every Python lock (requirements.txt, requirements-dev.txt, requirements-awscli.txt, "
        "requirements-checkov.txt, requirements-audit.txt, services/payment_api/requirements.lock) pins every "
        "package of its closure with the sha256 of each of its files, and every install uses --require-hashes "
        "(make setup, whose local packages install in a second --no-deps step; the checkov, pip-audit and AWS CLI "
        "venvs); the npm locks (package-lock.json, web/package-lock.json) carry each package's integrity. The "
        "artifact's wheelhouse is checked against the lock's hashes on every build, cached or not, and the "
        "artifact carries requirements.lock (each wheel's sha256) beside manifest.json (each file's sha256): the "
        "instance's boot installs exactly those wheels with pip --require-hashes.",
        ("aws_launch_template",),
        (),
        "what an instance really installed (pip freeze in /opt/payment-api/venv through Session Manager against "
        "the artifact's requirements.lock); the emulator launches no instances (the boot rehearsal runs the same "
        "user data on this machine).",
    ),
    Requirement(
        "6.3.3",
        "Security patches installed within one month of release",
        "Instances run the latest Amazon Linux 2023 AMI, read from AWS's public SSM parameter at every plan; a "
        "new AMI becomes a new launch template version that an instance refresh rolls out, and no instance lives "
        "longer than max_instance_lifetime_days (14 by default, at most 30), so each is replaced on the latest "
        "version within a month. At boot each instance runs dnf upgrade --security --releasever=<the AMI's> (at "
        "most 900 s, logged; boot/hardening.sh): AL2023 pins an instance to its AMI's release, whose repository is a "
        "fixed snapshot, so for a current AMI this applies nothing and patches arrive with the next AMI; it never "
        "moves an instance to a newer release unseen. tools/deploy/ami_check.py reports a new AMI from a plan (exit "
        "2); docs/operating.md gives the scheduled job that runs it, which this repository documents but does not "
        "run. Not automatic: that schedule (set it up in your CI), the apply that rolls a new AMI out (someone runs "
        "make deploy when it reports one), a kernel update (it takes effect at the next replacement, no reboot), and "
        "what AL2023's repository does not ship."
        " Dependencies: make audit (in make test) runs pip-audit --strict on every Python lock and npm audit on "
        "both npm locks, and a known vulnerability fails it; where the advisory sources do not answer it says "
        '"advisory source unreachable (N of N not audited)" and make test\'s roll-up shows "not audited", '
        'never "passed".',
        ("aws_autoscaling_group", "aws_launch_template"),
        (),
        "that instances are really replaced within that age and boot the new AMI (the emulator launches no "
        "instances and never ages them); read the ASG's activity history and the instances' AMI ids; and that "
        "dnf reaches the release's repository through the S3 gateway endpoint and applies its errata (the boot "
        "rehearsal's dnf checks the release and applies nothing).",
    ),
    Requirement(
        "6.4.1, 6.4.2",
        "Public-facing web application protected by an automated solution",
        "WAFv2 regional web ACL on the ALB, associated by ARN, and a CLOUDFRONT-scope web ACL (us-east-1) on the "
        "distribution serving the payment page (6.4.2: every public-facing web application, the checkout "
        "included), both with AWS managed rule groups and a rate-based rule, metrics on and logging to an "
        "encrypted CloudWatch log group with the query string and credential headers redacted; a removed "
        "association or a production distribution without its ACL stops synth (PF-ALB-WAF, PF-CLOUDFRONT-WAF).",
        (
            "aws_wafv2_web_acl",
            "aws_wafv2_web_acl_association",
            "aws_wafv2_web_acl_logging_configuration",
            "aws_cloudfront_distribution",
        ),
        ("CKV2_AWS_28", "CKV_AWS_192", "CKV2_AWS_31", "CKV_AWS_342", "CKV2_AWS_76", "CKV_AWS_68", "CKV2_AWS_47"),
        "that the managed rules block attacks (the emulator stores the web ACL but inspects nothing); replay "
        "known-bad requests against the ALB and read the WAF log.",
    ),
    Requirement(
        "6.4.3, 11.6.1",
        "Payment page scripts authorized, and changes to the page detected",
        "The page is in SAQ A scope: production requires PAYMENT_PROCESSOR=stripe (the configuration refuses the "
        "simulator before synth), the deployed build is the production one, whose only card fields are Stripe's card "
        "element (an iframe served from https://js.stripe.com), so no script of ours receives card data; the "
        "simulated tokenizer exists only in the development build (web/src/buildModes.test.ts builds both and finds "
        "none of its card inputs in the production bundle). CloudFront sends the page a Content-Security-Policy that "
        "loads scripts and styles from the page's own origin and Stripe.js's documented origins only (no inline code,"
        " no 'unsafe-*'), lets it connect only to itself, the API origin (https://API_DOMAIN) and Stripe's API, "
        "forbids framing (frame-ancestors 'none') and form posts elsewhere (form-action 'self'); the same headers "
        "come from one module (lib/blocks/web_headers.py) that the browser tests serve, so the checkout is proven to "
        "work under them. The page's files carry their sha256 (make deploy-frontend) and every object change in the "
        "frontend bucket is an EventBridge event that the page-objects-changed rule sends to the on-call topic "
        "(11.6.1 a change alert; PF-PAGE-WATCH refuses a page bucket without it or without the check). The hourly "
        "page-integrity "
        "function trusts only the bucket and the stack: it reads the deployed manifest from the bucket (s3:GetObject "
        "on that one key, the frontend key's kms:Decrypt through S3 only), never through the CloudFront it checks, "
        "and compares the page, each script and config.json (the API base URL, Stripe's publishable key) fetched "
        "through CloudFront with that manifest and with the config.json and headers the stack sets; only the named "
        "deployers may write the bucket's objects or change its policy, event notifications, lifecycle or "
        "replication (DenyWritesButDeployers, DenyControlChangesButDeployers).",
        (
            "aws_cloudfront_response_headers_policy",
            "aws_s3_object",
            "aws_s3_bucket_notification",
            "aws_cloudwatch_event_rule",
            "aws_lambda_function",
        ),
        (),
        "that Stripe's card fields are an iframe on Stripe's origin (the local Stripe emulator's stand-in draws "
        "plain inputs), Stripe's own 3-D Secure challenge, live keys and payout settlement; that the scheduled check "
        "runs hourly and reaches the page through the real distribution (the emulator runs no Lambda: the check's "
        "logic is tested against the browser-test server); and the inventory and written justification of each "
        "script (6.4.3 a-c), an organisational process on top of these controls.",
    ),
    Requirement(
        "7.2, 8.2, 8.6",
        "Least privilege for system and application accounts",
        "One role per service, each trusting exactly one AWS service (the operator role, which people assume, is "
        "under 8.2.1 below), with aws:SourceAccount and aws:SourceArn "
        "conditions (7.2.2: the flow-log and RDS monitoring roles only for this stack's resources); inline policies "
        "scoped to named resources; IAM database authentication off (nothing connects with IAM tokens: no unused way "
        "in); no credentials in code or state. Schema changes run "
        "once per release on a short-lived migration host (its own role: the master secret, the release's artifact and "
        "settings, its result parameters; it terminates itself), before the API group launches; the API instances "
        "read only the application's DML login, from its own secret, and no master or DDL credential (issue 27).",
        ("aws_iam_role", "aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_iam_instance_profile"),
        ("CKV_AWS_60", "CKV_AWS_61", "CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_274", "CKV2_AWS_56", "CKV_AWS_161"),
        "the effective permissions (the emulator does not evaluate IAM policies); use IAM Access Analyzer or "
        "the policy simulator against the deployed roles.",
    ),
    Requirement(
        "8.2.1, 8.3.9, 8.4.2, 10.2.1.2",
        "Operators: one identity each, MFA, short-lived credentials, every refund attributed",
        "Refunds need an operator token of at most one hour (8.3.9: no static keys; migration 0007 removed them), "
        "issued only to a session of the stack's operator role, proven by a SigV4-signed sts:GetCallerIdentity that "
        "the service forwards to its region's STS host alone (signed Host and a 5-minute X-Amz-Date checked first). "
        "The role's trust policy requires MFA (8.4.2) and sts:SourceIdentity = the caller's IAM user name, so each "
        "session names one person (8.2.1); the role may do nothing else in AWS. Every refund records the session's "
        "full ARN and UserId and the request log names them (10.2.1.2); revocation is IAM's (revoke the role's "
        "sessions; a token outlives its session by at most the hour).",
        ("aws_iam_role",),
        (),
        "that each operator is an IAM user of their own with MFA (IAM credential report), that only the operators' "
        "group may assume the operator role, and CloudTrail's AssumeRole events carrying the SourceIdentity.",
    ),
    Requirement(
        "10.2, 10.3, 10.5",
        "Audit logs captured, protected and retained (12 months)",
        "VPC flow logs, WAF logs and PostgreSQL logs (connections, and DDL and role changes through pgaudit) in "
        "KMS-encrypted log groups with retention >= 365 days (10.5.1; shorter in code stops synth); ALB and "
        "CloudFront logs in a write-once archive (10.3.2-10.3.4: S3 Object Lock, 365-day default retention, "
        "COMPLIANCE mode in production, PF-LOG-ARCHIVE-WORM), S3 access logs (including reads of the archive, "
        "10.2.1.3) in their own bucket; both versioned, deny object deletion to everyone, keep every version 400 "
        "days and block public access (10.2.1.x: pgaudit logs DDL and role changes, flow and WAF logs). Session "
        "Manager sessions (10.2.1, 10.2.1.2; the preferences document when MANAGE_SESSION_PREFERENCES) stream to a "
        "KMS-encrypted log group and their transcripts to the archive (its default encryption), over a channel "
        "encrypted with their own KMS key, and run as ssm-user, never root; the instances' authentication and "
        "audit logs go to a KMS-encrypted OS security log group (the CloudWatch agent, boot/hardening.sh).",
        (
            "aws_flow_log",
            "aws_cloudwatch_log_group",
            "aws_s3_bucket_logging",
            "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_public_access_block",
            "aws_db_parameter_group",
            "aws_s3_bucket_object_lock_configuration",
            "aws_s3_bucket_policy",
            "aws_ssm_document",
        ),
        (
            "CKV2_AWS_11",
            "CKV_AWS_338",
            "CKV_AWS_91",
            "CKV_AWS_86",
            "CKV_AWS_18",
            "CKV_AWS_129",
            "CKV_AWS_21",
            "CKV2_AWS_6",
            "CKV_AWS_53",
            "CKV_AWS_54",
            "CKV_AWS_55",
            "CKV_AWS_56",
        ),
        "that AWS delivers the logs (flow logs, WAF, RDS, ALB, CloudFront, S3) to their destinations and "
        "keeps them for 12 months.",
    ),
    Requirement(
        "10.3.3, 10.5.1",
        "Audit logs out of a single admin's reach: shipped to the write-once archive",
        "The API's log group, the database audit log (pgaudit, the postgresql export), both web ACLs' logs and the "
        "VPC flow logs are subscribed, unfiltered, to a Kinesis Data Firehose stream of their region (us-east-1's for "
        "the CloudFront web ACL, writing across regions), which writes them under cloudwatch-logs/<region>/ of the "
        "write-once log archive (Object Lock, deny-delete policy): deleting a log group no longer deletes the only "
        "copy (10.3.3). The streams' role may write those prefixes only; CloudWatch Logs' role may put records into "
        "the two streams only; each stream's buffer is encrypted with the stack's customer managed logs key of its "
        "region (CKV_AWS_241), Firehose using it through the grant it manages. Delivery failures "
        "(DeliveryToS3.Success, DataFreshness, ThrottledRecords, the subscriptions' DeliveryErrors) alarm the on-call "
        "topic (10.7.2). The emulator delivers Logs to Firehose to S3 (tests/sandbox/test_log_shipping.py). The "
        "archive's rules are out of the deployer's reach too (10.3.2): with "
        "BREAK_GLASS_ROLE_ARN (production requires it) both log buckets' policies deny PutBucketPolicy, "
        "DeleteBucketPolicy, PutLifecycleConfiguration and PutBucketObjectLockConfiguration to every principal but "
        "that role (DenyLogBucketConfigurationChanges, evaluated with iam-simulate in tests/unit/components/"
        "test_log_archive_break_glass.py); the account preflight checks the role exists, make deploy stops before "
        "applying a plan that would change them (tools/deploy/archive_guard.py), and make destroy assumes the role "
        "for the archive (docs/operating.md, Break-glass role).",
        ("aws_kinesis_firehose_delivery_stream", "aws_cloudwatch_log_subscription_filter"),
        ("CKV_AWS_241",),
        "whether Firehose's PutObject meets Object Lock's rule that a PutObject to a bucket with a default retention "
        "carries Content-MD5 or an x-amz-checksum header (the emulator does not enforce it): look for objects under "
        "cloudwatch-logs/<region>/ of the archive, and nothing under cloudwatch-logs-errors/, within 10 minutes of an "
        "apply; and the us-east-1 stream's delivery, which has no alarm (its metrics are in us-east-1); that only the "
        "security officers may assume the break-glass role (its trust policy, MFA) and that the root user's use is "
        "restricted by the organization (the root can still delete a bucket policy that locks everyone out).",
    ),
    Requirement(
        "10.7, 11.5",
        "Failures of critical controls detected, alerted and responded to",
        "CloudWatch alarms on the ALB 5XX rate, ASG CPU, unhealthy targets and RDS CPU/storage/connections, and "
        "for detection (10.4.1) on the API web ACL's blocked requests above their anomaly-detection baseline and on "
        "the service's log group falling silent for 15 minutes (missing data breaching), on API 401 bursts and on "
        "refunds per hour above REFUNDS_PER_HOUR_ALARM (metric filters on the service's log), all "
        "notifying an encrypted SNS topic; EventBridge rules to the same topic on a KMS key disabled or scheduled "
        "for deletion, on any object change of the payment page's bucket, and on a failed, aborted or expired AWS "
        "Backup job of the database (12.10.1: the daily backup plan, BACKUP_RETENTION_DAYS, optional copy to "
        "BACKUP_COPY_REGION); RDS event subscriptions (the database's events: failover, failure, low "
        "storage, configuration changes; RDS's security-group events) to the same topic, whose policy and key admit "
        "them (PF-RDS-EVENTS); an EventBridge rule on CloudTrail's calls that switch a detection control off "
        "(alarm actions, rules and targets, the check's function, log subscriptions, the page bucket's policy and "
        "events); an alarm on each EventBridge alert rule's failed deliveries to the topic "
        "(FailedInvocations); a service dashboard; RDS enhanced monitoring and Performance Insights; detailed "
        "instance monitoring. 11.5.2 (change detection on critical files): each API instance's boot initialises an "
        "AIDE database of the files it installed (the service and its venv, its units and settings, the boot "
        "scripts, sshd's configuration, sudoers, the IMDS guard), a systemd timer runs `aide --check` hourly and "
        "its finding and failure lines reach the OS security log group (KMS-encrypted, retained), whose metric "
        "filter alarms to the same topic (file-integrity-finding); a release boots new instances with fresh "
        "databases, so a finding on a running instance is never a deployment.",
        (
            "aws_cloudwatch_metric_alarm",
            "aws_cloudwatch_log_metric_filter",
            "aws_cloudwatch_event_rule",
            "aws_db_event_subscription",
            "aws_sns_topic",
            "aws_cloudwatch_dashboard",
            "aws_backup_plan",
            "aws_db_instance",
            "aws_launch_template",
        ),
        ("CKV_AWS_118", "CKV_AWS_353", "CKV_AWS_26"),
        "that alarms fire and reach the on-call address (the emulator never evaluates metrics), and that RDS "
        "delivers its events to the encrypted topic (the emulator sends none); trigger each alarm once with `aws "
        "cloudwatch set-alarm-state` and reboot the database once. Likewise that EventBridge delivers the alert "
        "rules' events to the encrypted topic and RDS its notifications, which hangs on the topic key's policy "
        "(EventBridge admitted without aws:SourceArn/aws:SourceAccount, which AWS does not support there; RDS by "
        "its resources' ARNs): the emulator evaluates no key or topic policy on a delivery. After the first `make "
        "deploy-frontend`, the page's object-event line must reach the on-call address and the rules' "
        "`-undelivered` alarms stay OK. And that AL2023's own AIDE initialises and "
        "checks with the boot's configuration (the boot rehearsal runs Debian 12's AIDE 0.18): on one instance "
        "the first hourly line of its `<instance id>/integrity` stream in the OS security log group is "
        "`file-integrity: no differences`.",
    ),
)

OUT_OF_SCOPE = (
    ("AWS CloudTrail (10.2.1, 10.2.2)", "account/organization trail; API audit logs are an account-level control"),
    ("Amazon GuardDuty (11.5.1)", "threat detection is enabled per account and region by the platform team"),
    ("AWS Security Hub (PCI DSS standard) (11.3, 12.4)", "posture management across accounts"),
    ("AWS Config (1.2.7, 2.2, 11.5.2)", "configuration history and conformance packs are account-level"),
    ("Human access: SSO, MFA, break-glass (8.3, 8.4, 8.5)", "IAM Identity Center and organization SCPs"),
    ("Scans and tests (11.3.1, 11.3.2, 11.4)", "ASV scans and penetration tests are procedures, not code"),
)


EVIDENCE_KINDS = (
    ("tests/unit/", "on the synthesized configuration (unit tests: what Terraform will be asked to create)"),
    ("tests/integration/", "on the stack applied to a local AWS emulator (moto), read back through the AWS API"),
)


def _pci_requirements(node: ast.FunctionDef) -> list[str]:
    """The arguments of a ``@pytest.mark.pci(...)`` decorator on ``node``."""
    found: list[str] = []
    for decorator in node.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "pci"
        ):
            found += [str(arg.value) for arg in decorator.args if isinstance(arg, ast.Constant)]
    return found


def collect_tests(tests_dir: Path) -> dict[str, list[str]]:
    """``{file::test_name: [requirement, ...]}`` for every test that declares ``@pytest.mark.pci`` (parsed, not
    imported). A test is evidence only by that declaration: tooling tests and deployability checks are not."""
    found: dict[str, list[str]] = {}
    for source in sorted(tests_dir.rglob("test_*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            requirements = _pci_requirements(node)
            if requirements:
                found[f"{source.relative_to(ROOT).as_posix()}::{node.name}"] = requirements
    unknown = {ref for refs in found.values() for ref in refs} - {req.ref for req in REQUIREMENTS}
    if unknown:
        raise ValueError(
            f"@pytest.mark.pci names requirements the report does not have: {sorted(unknown)}; use one "
            "of " + ", ".join(repr(req.ref) for req in REQUIREMENTS)
        )
    return found


def check_requirement_headings(requirements: Iterable[Requirement] = REQUIREMENTS) -> None:
    """The report's headings must be exactly the ones rules may declare (``preflight.model.PCI_REQUIREMENTS``):
    otherwise a rule could declare a heading the report never prints, or a heading could never get rule evidence."""
    refs = tuple(req.ref for req in requirements)
    if refs != PCI_REQUIREMENTS:
        raise ValueError(
            f"REQUIREMENTS headings {refs} differ from preflight.model.PCI_REQUIREMENTS "
            f"{PCI_REQUIREMENTS}; keep both lists the same, in the same order"
        )


def preflight_evidence(ref: str) -> list[Rule]:
    """The rules that declare ``pci=(ref, ...)``, in the order the preflight runs them."""
    return [registered for registered in RULES.values() if ref in registered.pci]


def resources_of(config: Mapping[str, Any], types: Iterable[str]) -> list[str]:
    """Construct paths of the stack's resources of ``types`` (what the Python code names)."""
    paths = []
    for rtype in types:
        for name, body in sorted((config.get("resource") or {}).get(rtype, {}).items()):
            meta = body.get("//", {}) if isinstance(body, Mapping) else {}
            paths.append(f"`{(meta.get('metadata') or {}).get('path', name)}` ({rtype})")
    return paths


def checkov_status(summary: Mapping[str, Any], check_ids: Iterable[str]) -> list[str]:
    """Per check id: passed on N resources / failed / suppressed with reason / not evaluated."""
    lines = []
    for check_id in check_ids:
        passed = [r for r in summary.get("passed", []) if r["check_id"] == check_id]
        failed = [r for r in summary.get("failed", []) if r["check_id"] == check_id]
        suppressed = [r for r in summary.get("suppressed", []) if r["check_id"] == check_id]
        parts = []
        if passed:
            parts.append(f"passed on {len(passed)}")
        if failed:
            parts.append("**FAILED** on " + ", ".join(f"`{r['path']}`" for r in failed))
        if suppressed:
            parts.append("suppressed on " + "; ".join(f"`{r['path']}` ({r['reason']})" for r in suppressed))
        if not parts:
            parts.append(f"not evaluated ({NOT_EVALUATED_NOTES.get(check_id, 'no resource of its type here')})")
        lines.append(f"{check_id}: {', '.join(parts)}")
    return lines


def render(
    config: Mapping[str, Any], summary: Mapping[str, Any], tests: Mapping[str, list[str]], stack_name: str
) -> str:
    check_requirement_headings()
    findings = run_preflight(config)
    out = [
        "# PCI DSS v4.0 compliance map",
        "",
        "<!-- Generated by tools/docs/compliance_report.py from the synthesized stack, the checkov scan and the test "
        "suite. Do not edit: run `make compliance`. -->",
        "",
        f"Stack `{stack_name}`: {sum(len(t) for t in (config.get('resource') or {}).values())} resources. "
        f"Preflight: {len(RULES)} rules, {len(errors(findings))} errors, "
        f"{len(findings) - len(errors(findings))} warnings. "
        f"checkov {summary.get('checkov_version', '?')} ({summary.get('framework', 'terraform_json')}): "
        f"{len(summary.get('passed', []))} passed, {len(summary.get('failed', []))} unsuppressed failures, "
        f"{len(summary.get('suppressed', []))} suppressed in code.",
        "",
        "This stack is one part of a PCI DSS assessment: it provides the infrastructure controls below for the "
        "cardholder data environment (CDE). Policies, procedures and account-level services are out of scope "
        "(last section).",
        "",
        "## How to read the evidence",
        "",
        "Each requirement below lists the resources that implement it (by their path in the code), then four "
        "kinds of evidence, none of which needs an AWS account:",
        "",
        "- **Preflight rules** run inside every synthesis and stop it, before anything is written, when the "
        "configuration breaks the rule.",
        "- **checkov** is an independent open-source scanner run over the same synthesized configuration; a "
        "finding can only be suppressed in the code next to its resource, with a reason, listed at the end.",
        "- **Tests on the synthesized configuration** assert the property on what Terraform will be asked to create.",
        "- **Tests on the emulator** apply the whole stack to a local AWS emulator (moto) with the real Terraform "
        "and provider, and read each property back through the AWS API. The emulator stores settings faithfully "
        "but enforces few of them, so each requirement also says what only a deployment to a real AWS account "
        "can show.",
        "",
    ]
    for req in REQUIREMENTS:
        out += [
            f"## Requirement {req.ref}: {req.title}",
            "",
            req.how,
            "",
            "**Resources**: " + (", ".join(resources_of(config, req.resource_types)) or "none in this stack"),
            "",
        ]
        rules = preflight_evidence(req.ref)
        if rules:
            out.append(
                "**Preflight rules** (fail synth): "
                + ", ".join(f"`{r.rule_id}` ({r.rationale.split(';')[0].rstrip('.')})" for r in rules)
            )
            out.append("")
        out.append("**checkov**:")
        out += [f"- {line}" for line in checkov_status(summary, req.checkov)]
        for prefix, kind in EVIDENCE_KINDS:
            proving = [t for t, refs in tests.items() if req.ref in refs and t.startswith(prefix)]
            out += ["", f"**Tests {kind}** ({len(proving)}):"]
            out += [f"- `{t}`" for t in proving] or ["- none"]
        out += ["", f"**Only a real AWS account shows** {req.real_account}", ""]
    out += [
        "## Suppressed checkov findings",
        "",
        "Each is declared with `lib.suppressions.suppress()` next to the resource; the scan fails when one no "
        "longer matches a failure.",
        "",
    ]
    suppressed = summary.get("suppressed", [])
    out += [f"- `{s['check_id']}` on `{s['path']}`: {s['reason']}" for s in suppressed] or ["- none"]
    out += [
        "",
        "## Out of scope: account-level controls",
        "",
        "Provided once per account or organization, outside this stack:",
        "",
    ]
    out += [f"- {name}: {why}" for name, why in OUT_OF_SCOPE]
    return "\n".join(out) + "\n"


def synthesize_report_stack() -> Path:
    """Synthesize ``REPORT_CONFIGURATION`` into ``.compliance/`` with nothing from the caller's environment that
    could change the stack; return its ``cdk.tf.json``."""
    from lib.config import StackConfig  # pylint: disable=import-outside-toplevel  # no cdktf import

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "JSII_NODE", "TAP_FAST_BINDINGS", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    outdir = REPORT_DIR / "cdktf.out"
    # A production stack refuses a development artifact: the report's gets an unverified production one.
    env.update(
        {
            **REPORT_CONFIGURATION,
            "CDKTF_OUTDIR": str(outdir),
            "CHECKPOINT_DISABLE": "1",
            POINTER_VARIABLE: str(unverified_production_pointer()),
        }
    )
    result = subprocess.run(
        [sys.executable, "tap.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        raise ScanError(f"synth of the report configuration failed:\n{result.stderr.strip()}")
    stack_name = StackConfig.from_env(REPORT_CONFIGURATION).stack_name
    return stack_file(outdir, stack_name)


def stamp(inputs: Iterable[str], configuration: Mapping[str, str] | None) -> str:
    """The block that says what the document describes; excluded from ``--check``."""
    digest = hashlib.sha256("\n".join(inputs).encode("utf-8")).hexdigest()[:16]
    described = (
        ", ".join(f"{k}={v}" for k, v in sorted(configuration.items()))
        if configuration
        else "a stack file given with --stack-file"
    )
    return "\n".join(
        [
            STAMP_BEGIN,
            f"Generated {datetime.date.today().isoformat()} by `make compliance` from: {described}. Inputs hash "
            f"(synthesized stack, scan result, test list) {digest}.",
            STAMP_END,
        ]
    )


def without_stamp(text: str) -> str:
    """The document minus its stamp block: what ``--check`` compares."""
    if STAMP_BEGIN not in text:
        return text
    head, rest = text.split(STAMP_BEGIN, 1)
    return head + rest.split(STAMP_END, 1)[-1]


def load_summary(stack_file: Path, summary_file: Path) -> dict[str, Any]:
    """The scan result for ``stack_file``; re-run the scan if it is missing or older than the stack."""
    if summary_file.is_file() and summary_file.stat().st_mtime >= stack_file.stat().st_mtime:
        summary: dict[str, Any] = json.loads(summary_file.read_text(encoding="utf-8"))
        if Path(summary.get("stack_file", "")).resolve() == stack_file.resolve():
            return summary
    report = scan(stack_file)
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    summary_file.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return report.to_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs.compliance_report", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-file", type=Path, default=None)
    parser.add_argument(
        "--scan-summary",
        type=Path,
        default=None,
        help="scan result to reuse (default: .compliance/ for the report configuration, "
        f"{SUMMARY_JSON.relative_to(ROOT)} with --stack-file)",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output file is out of date")
    args = parser.parse_args(argv)
    try:
        stack_file = args.stack_file or synthesize_report_stack()
        if not stack_file.is_file():
            print(f"compliance_report: {stack_file} not found; run `make synth` first", file=sys.stderr)
            return 2
        summary_file = args.scan_summary or (SUMMARY_JSON if args.stack_file else REPORT_DIR / "scan-summary.json")
        summary = load_summary(stack_file, summary_file)
    except ScanError as exc:
        print(f"compliance_report: {exc}", file=sys.stderr)
        return 2
    config = json.loads(stack_file.read_text(encoding="utf-8"))
    tests = collect_tests(ROOT / "tests")
    body = render(config, summary, tests, stack_file.parent.name)
    inputs = [
        json.dumps(config, sort_keys=True),
        json.dumps({k: v for k, v in summary.items() if k != "stack_file"}, sort_keys=True),
        json.dumps(tests, sort_keys=True),
    ]
    title, rest = body.split("\n", 1)
    text = f"{title}\n\n{stamp(inputs, None if args.stack_file else REPORT_CONFIGURATION)}\n{rest}"
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if without_stamp(current) != without_stamp(text):
            print(
                f"{args.output} is out of date: run `make compliance` (the stamp block is not compared)",
                file=sys.stderr,
            )
            return 1
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return unsuppressed_failures(summary)


def unsuppressed_failures(summary: Mapping[str, Any]) -> int:
    """1 when checkov failed a check nobody suppressed: `make scan` covers the development stack only, and a
    control that only the production configuration has (its host rule, its certificate) must not slip through."""
    failed = summary.get("failed", [])
    for finding in failed:
        print(
            f"compliance_report: checkov {finding.get('check_id')} FAILED on {finding.get('path')} in the "
            "production configuration. Fix the resource, or suppress the check next to it with its reason "
            "(lib/suppressions.py).",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
