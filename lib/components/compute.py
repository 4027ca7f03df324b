"""Payment API compute: HTTPS load balancer with WAF, launch template and Auto Scaling Group.

- The ALB listens on 443 only, terminates TLS with the operator's ACM certificate under a TLS 1.2/1.3
  policy without CBC suites (PCI DSS 4.2.1; ``facts.ALB_TLS_POLICIES_WITHOUT_CBC``), adds HSTS to
  every response (the listener's response-header attribute), drops invalid header fields (request smuggling) and
  writes access logs. With ``API_DOMAIN`` it forwards only that Host and answers anything else with a fixed 404.
- The WAF web ACL is associated by its ARN (docs/requirements.md seed failure 3).
- Instances: Amazon Linux 2023 looked up from AWS's public SSM parameter, IMDSv2 only (PCI DSS 2.2),
  gp3 root volume encrypted with the customer-managed data key (PCI DSS 3.5; the group launches through its own
  service-linked role, which the key's policy admits), detailed monitoring, no public IP, reachable only through
  the ALB; shell access through SSM Session Manager instead of SSH.
- The instance role (PCI DSS 7.2): AWS's minimal Session Manager statements instead of the managed
  AmazonSSMManagedInstanceCore (which reads every SSM parameter of the account: ``ssm:GetParameter*`` on "*"),
  the stack's own connection parameter, DB secret and idempotency secret, and ``kms:Decrypt`` on the data key only
  through SSM and Secrets Manager in the stack's region (``kms:ViaService``). No managed policy is attached
  (PF-INSTANCE-MANAGED-POLICIES keeps it that way; tests/unit/components/test_compute_instance_role.py
  evaluates the synthesized policies).
- Instances and their volumes are tagged at launch with the stack's tags (the provider's ``default_tags`` do
  not reach them).
- The ASG spreads over the app subnets, replaces instances the ALB finds unhealthy, scales on CPU, and
  rolls a new launch template version out with an instance refresh that keeps capacity up.
- First boot, ordered and held (issue 22): the group depends on everything the user data touches
  (``ComputeProps.boot_dependencies`` and :meth:`Compute.boot_after`, wired in ``lib/tap_stack.py``; the instance
  role's inline policies and profile here), so no instance launches before its boot can succeed. A launch
  lifecycle hook (:data:`BOOT_LIFECYCLE_HOOK`, default ABANDON, 30 minutes) keeps each instance out of service
  until its boot completes the hook (CONTINUE once the service answers ``/ready``, ABANDON on failure); the
  instance role may complete it on this group only, through the ``autoscaling`` interface endpoint. Terraform does
  not wait for capacity (``wait_for_capacity_timeout = "0"``): ``make verify-deployment`` waits for healthy targets.
- Settings roll the fleet: the runtime parameter's version is an instance tag in the launch template's
  ``tag_specifications`` (template data), so a changed setting makes a new template version, which the instance
  refresh rolls out like a new artifact.
- Replacements keep capacity: the instance maintenance policy (min 100 %, max 200 % healthy) launches a lifetime
  or health replacement before terminating the instance it replaces.
- Patching (PCI DSS 6.3.3, critical patches within one month): no instance lives longer than
  ``max_instance_lifetime_days`` (default 14, at most 30); the group replaces it from the latest launch
  template version.
  Every plan reads the newest AL2023 AMI from the SSM parameter, so an apply after an AMI release makes a new
  launch template version (``update_default_version``), which the instance refresh rolls out at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf import ITerraformDependable, Op, TerraformResource, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.alb import Alb, AlbAccessLogs
from cdktf_cdktf_provider_aws.alb_listener import (
    AlbListener,
    AlbListenerDefaultAction,
    AlbListenerDefaultActionFixedResponse,
)
from cdktf_cdktf_provider_aws.alb_listener_rule import (
    AlbListenerRule,
    AlbListenerRuleAction,
    AlbListenerRuleCondition,
    AlbListenerRuleConditionHostHeader,
)
from cdktf_cdktf_provider_aws.alb_target_group import AlbTargetGroup, AlbTargetGroupHealthCheck
from cdktf_cdktf_provider_aws.autoscaling_group import (
    AutoscalingGroup,
    AutoscalingGroupInitialLifecycleHook,
    AutoscalingGroupInstanceMaintenancePolicy,
    AutoscalingGroupInstanceRefresh,
    AutoscalingGroupInstanceRefreshPreferences,
    AutoscalingGroupLaunchTemplate,
    AutoscalingGroupTag,
)
from cdktf_cdktf_provider_aws.autoscaling_policy import (
    AutoscalingPolicy,
    AutoscalingPolicyTargetTrackingConfiguration,
    AutoscalingPolicyTargetTrackingConfigurationPredefinedMetricSpecification,
)
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.iam_instance_profile import IamInstanceProfile
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate,
    LaunchTemplateIamInstanceProfile,
    LaunchTemplateMonitoring,
    LaunchTemplateTagSpecifications,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import (
    Wafv2WebAclAssociation,
    Wafv2WebAclAssociationTimeouts,
)
from constructs import Construct

from lib.blocks.access_logs import AccessLogDestination
from lib.blocks.iam import (
    Statement,
    decrypt_via_services,
    read_object_versions_statements,
    session_manager_statements,
    write_log_stream_statement,
)
from lib.blocks.instances import AL2023_AMI_PARAMETER, encrypted_root_volume, imdsv2_only
from lib.blocks.roles import ServiceRoleProps, inline_policy, service_role
from lib.blocks.tls_policies import ALB_HSTS_HEADER, ALB_TLS_POLICY
from lib.blocks.user_data import render_user_data
from lib.naming import Naming
from lib.suppressions import suppress

TLS_POLICY = ALB_TLS_POLICY
HEALTH_CHECK_PATH = "/health"
HSTS_HEADER = ALB_HSTS_HEADER  # lib/blocks/tls_policies.py says why
# The services through which the instances decrypt with the data key (kms:ViaService): the connection string
# parameter (SSM) and the DB secret (Secrets Manager).
DATA_KEY_VIA_SERVICES = ("ssm", "secretsmanager")
CPU_TARGET_PERCENT = 60
# AWS takes max_instance_lifetime in seconds; the operator sets days (MAX_INSTANCE_LIFETIME_DAYS, 1 to 30).
SECONDS_PER_DAY = 24 * 60 * 60
# WAF answers WAFUnavailableEntityException while a new ALB settles, past the provider's 5-minute default
# (terraform-provider-aws #29080); the provider retries that error until this timeout.
WAF_ASSOCIATION_CREATE_TIMEOUT = "15m"
# The launch lifecycle hook that holds a new instance in Pending:Wait until its boot completes it (issue 22). The
# boot script names it (user data marker LIFECYCLE_HOOK); ABANDON when nobody completes it within the heartbeat,
# which is above the boot's own bound (each retried call stops after 600 s).
BOOT_LIFECYCLE_HOOK = "payment-api-boot"
BOOT_HOOK_TRANSITION = "autoscaling:EC2_INSTANCE_LAUNCHING"
BOOT_HOOK_DEFAULT_RESULT = "ABANDON"
BOOT_HOOK_HEARTBEAT_SECONDS = 1800
# The instance tag (launch template data) carrying the runtime parameter's version: a changed setting is a new
# launch template version, hence an instance refresh.
RUNTIME_SETTINGS_VERSION_TAG = "RuntimeSettingsVersion"
# Replacements (lifetime, health, refresh) launch before they terminate: never below the desired capacity.
MIN_HEALTHY_PERCENT = 100
MAX_HEALTHY_PERCENT = 200


@dataclass(frozen=True, kw_only=True)
class ScalingSettings:
    """ASG bounds and instance type (Terraform variable references, tunable per environment)."""

    instance_type: str
    """An x86_64 EC2 type (the AMI and the service artifact are x86_64)."""
    min_size: float
    """Fewest instances; 2 or more keeps the API up through one AZ failure."""
    max_size: float
    """Most instances CPU target tracking may reach."""
    desired_capacity: float
    """First size only: scaling owns it afterwards (``ignore_changes``)."""
    max_instance_lifetime_days: float
    """Age at which an instance is replaced from the latest launch template version, so it runs the AMI resolved at
    the last apply (PCI DSS 6.3.3)."""


@dataclass(frozen=True, kw_only=True)
class ApiSecrets:
    """What the instances may read at run time: the DB secret and the idempotency secret (PCI DSS 7.2). Not the
    connection-string parameter, which nothing on the instances reads."""

    app_login_secret_arn: str
    """The application's database login (``AppLoginSecret``): root reads its AWSCURRENT version at boot and hands it to
    the units with ``LoadCredential=db-login``; the migration host writes it."""
    idempotency_secret_arn: str
    """The fleet's idempotency-key HMAC secret: root reads its AWSCURRENT and AWSPREVIOUS versions at boot and hands
    them to the service with ``LoadCredential=`` (services/payment_api/boot/payment-api-credentials.service)."""
    data_key_arn: str
    """The key all three are encrypted with (decrypt only)."""
    stripe_secret_arn: str | None = None
    """With the Stripe processor, the operator's secret holding Stripe's API key and webhook endpoint secret
    (``STRIPE_SECRET_KEY_ARN``): root reads it at boot and hands it to the service with ``LoadCredential=``.

    @default None - the simulator: no Stripe secret, no statement reading one."""


@dataclass(frozen=True, kw_only=True)
class ApiDeployment:
    """What an instance installs and reads at boot (``ApiRelease``): the artifact, its settings, its log group."""

    artifact_bucket_arn: str
    """The artifacts bucket: the instance role lists and reads the versions of ``artifact_key`` there, and nothing
    else of it (PCI DSS 7.2)."""
    artifact_key: str
    """The artifact's S3 key, the same for every release (``lib/artifact.py``'s ``OBJECT_KEY``), in the user data."""
    artifact_sha256: str
    """The release's sha256, written into the user data: a new artifact is new user data, hence a new launch template
    version, which the instance refresh rolls out. The instance fetches the object version whose ``sha256`` metadata
    is this, and refuses bytes that do not match it."""
    artifact_upload: ITerraformDependable | None = None
    """The upload of the release the user data names: the launch template waits for it, so no template version names
    a release before its bytes are in the bucket.

    @default None - nothing to wait for (a test of the template alone)."""
    runtime_parameter_name: str
    """The SSM parameter with the apply-time settings (database host, secret ARN, CORS origins, processor)."""
    runtime_parameter_arn: str
    """The same parameter, for the instance role's policy."""
    runtime_parameter_version: str
    """The parameter's version (a token): an instance tag in the launch template's data, so a changed setting makes
    a new launch template version, which the instance refresh rolls out (``RuntimeSettingsVersion``)."""
    log_group_name: str
    """Where the CloudWatch agent ships the service's log file."""
    log_group_arn: str
    """The same log group, for the instance role's policy."""


@dataclass(frozen=True, kw_only=True)
class VolumeEncryption:
    """How launched EBS volumes are encrypted, and who launches them (PCI DSS 3.5.1, 3.6.1)."""

    key_arn: str
    """The customer-managed key of the instances' EBS volumes (not the aws/ebs key, whose policy nobody can
    restrict). Its policy must admit ``launch_role_arn``."""
    launch_role_arn: str
    """The group's own Auto Scaling service-linked role (``service_linked_role_arn``): the principal that launches
    instances and so uses ``key_arn`` (the key policy names who may use it)."""


@dataclass(frozen=True, kw_only=True)
class ComputeProps:  # pylint: disable=too-many-instance-attributes
    """Network placement, TLS, the firewall, logging, sizing and run-time secrets of the payment API."""

    naming: Naming
    """Names and tags."""
    vpc_id: str
    """The VPC of the target group."""
    public_subnet_ids: list[str]
    """Where the internet-facing ALB runs, one subnet per AZ."""
    app_subnet_ids: list[str]
    """Where the instances run: private, outbound through NAT only (PCI DSS 1.3.2)."""
    alb_security_group_id: str
    """Admits HTTPS from the internet only."""
    app_security_group_id: str
    """Admits the API port from the ALB only."""
    api_port: int
    """The port the service listens on (target group port, user data)."""
    certificate_arn: str
    """ACM certificate of the API's domain, in the stack's region (PCI DSS 4.2.1)."""
    web_acl_arn: str
    """The WAF web ACL, by ARN (docs/requirements.md seed failure 3; PCI DSS 6.4.2)."""
    access_logs: AccessLogDestination
    """Where the ALB writes access logs (PCI DSS 10.2)."""
    scaling: ScalingSettings
    """Instance type and ASG bounds."""
    secrets: ApiSecrets
    """What the instance role may read."""
    deployment: ApiDeployment
    """The artifact the instances install, the runtime parameter they read at boot and their log group."""
    region: str
    """The stack's region: scopes the Session Manager registration and ``kms:ViaService`` (PCI DSS 7.2)."""
    account_id: str
    """The stack's account: scopes the Session Manager registration to its instances."""
    volumes: VolumeEncryption
    """The key of the instances' EBS volumes and the service-linked role that launches with it."""
    stack_tags: Mapping[str, str]
    """The environment-wide tags (the provider's ``default_tags``), written onto launched instances and volumes,
    which ``default_tags`` do not reach (asset inventory, PCI DSS 12.5.1; ``DataClassification`` on CDE volumes)."""
    api_domain: str | None = None
    """The API's public name (``API_DOMAIN``): the listener forwards only requests for this Host and answers any
    other with a fixed 404, so scanners reaching the ALB by IP or its AWS name never touch the API.

    @default None - every Host is forwarded (development without a name; production requires one)."""
    deletion_protection: bool = True
    """ALB deletion protection.

    @default True - a replaced ALB gets a new DNS name that every client must follow."""
    os_log_group_name: str = ""
    """Where the CloudWatch agent ships the OS security logs and the file-integrity findings
    (``HostSecurity.os_log_group_name``; services/payment_api/boot/hardening.sh).

    @default "" - none shipped (a test of the compute component alone; the stack always passes one)."""
    boot_dependencies: Sequence[ITerraformDependable] = ()
    """Everything outside this construct that an instance's user data touches at first boot: the runtime
    parameter (and through it the database), the artifact object, the service's log group, the app subnets' route
    table associations, the S3 gateway endpoint, the interface endpoints and the app tier's security group rules.
    The Auto Scaling group depends on each (with the instance role's own policies and profile, added here), so no
    instance launches before its boot can succeed. Resources created after the group that name it (the artifacts
    bucket policy names the instance role) are added with :meth:`Compute.boot_after`.

    @default () - only the instance role's policies and profile; ``lib/tap_stack.py`` passes the stack's list."""


class Compute(Construct):
    """ALB, listener, target group, WAF association, instance role, launch template and ASG."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ComputeProps) -> None:
        super().__init__(scope, construct_id)
        self._instance_role: IamRole | None = None  # set by _instance_profile
        self._role_policies: list[IamRolePolicy] = []  # set by _instance_profile
        self._load_balancer(props)
        self._launch_template = self._instance_template(props)
        self._auto_scaling_group(props)

    def _load_balancer(self, props: ComputeProps) -> None:
        """Internet-facing ALB, HTTPS listener, target group and the WAF association."""
        naming = props.naming
        self._alb = Alb(
            self,
            "alb",
            name=naming.name("alb", "alb"),
            internal=False,
            load_balancer_type="application",
            security_groups=[props.alb_security_group_id],
            subnets=props.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=props.deletion_protection,
            access_logs=AlbAccessLogs(
                bucket=props.access_logs.bucket_name, prefix=props.access_logs.alb_prefix, enabled=True
            ),
            tags=naming.tags("alb"),
            # Enabling access logs writes a test object at once: the bucket policy must already grant it, or
            # AWS answers "Access Denied for bucket ... Please check S3bucket permission" (provider #12010).
            depends_on=[props.access_logs.delivery_policy],
        )
        self._target_group = AlbTargetGroup(
            self,
            "target_group",
            name=naming.name("api-tg", "target_group"),
            port=props.api_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=props.vpc_id,
            # The bindings type this as a string (docs/requirements.md seed failure 5).
            deregistration_delay="30",
            health_check=AlbTargetGroupHealthCheck(
                enabled=True,
                path=HEALTH_CHECK_PATH,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=naming.tags("api-tg"),
        )
        self._listener = self._https_listener(props)
        Wafv2WebAclAssociation(
            self,
            "waf_association",
            resource_arn=self._alb.arn,
            web_acl_arn=props.web_acl_arn,
            timeouts=Wafv2WebAclAssociationTimeouts(create=WAF_ASSOCIATION_CREATE_TIMEOUT),
        )

    def _https_listener(self, props: ComputeProps) -> AlbListener:
        """HTTPS with HSTS; with ``api_domain``, a fixed 404 by default and a rule forwarding only that Host."""
        forward = AlbListenerDefaultAction(type="forward", target_group_arn=self._target_group.arn)
        not_found = AlbListenerDefaultAction(
            type="fixed-response",
            fixed_response=AlbListenerDefaultActionFixedResponse(
                content_type="text/plain", status_code="404", message_body="Not Found"
            ),
        )
        listener = AlbListener(
            self,
            "https_listener",
            load_balancer_arn=self._alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=props.certificate_arn,
            default_action=[forward if props.api_domain is None else not_found],
            routing_http_response_strict_transport_security_header_value=HSTS_HEADER,
            tags=props.naming.tags("https-listener"),
        )
        if props.api_domain is not None:
            AlbListenerRule(
                self,
                "api_host_rule",
                listener_arn=listener.arn,
                priority=1,
                condition=[
                    AlbListenerRuleCondition(host_header=AlbListenerRuleConditionHostHeader(values=[props.api_domain]))
                ],
                action=[AlbListenerRuleAction(type="forward", target_group_arn=self._target_group.arn)],
                tags=props.naming.tags("api-host-rule"),
            )
            suppress(
                self._target_group,
                "CKV_AWS_378",
                "The group is reached only through the HTTPS listener's API_DOMAIN host rule (TLS 1.2+ ends at "
                "the ALB; the hop to the instances stays in the VPC's app subnets). checkov's graph check "
                "only follows a listener's default action, which here is the fixed 404.",
            )
        return listener

    def _instance_template(self, props: ComputeProps) -> LaunchTemplate:
        """AL2023, IMDSv2 only, encrypted gp3, detailed monitoring, the instance profile (PCI DSS 2.2)."""
        naming = props.naming
        ami = DataAwsSsmParameter(self, "al2023_ami", name=AL2023_AMI_PARAMETER)
        deployment = props.deployment
        user_data = render_user_data(
            "payment_api_user_data.sh",
            {
                "API_PORT": str(props.api_port),
                "REGION": props.region,
                "ARTIFACT_KEY": deployment.artifact_key,
                "ARTIFACT_HASH": deployment.artifact_sha256,
                "RUNTIME_PARAMETER": deployment.runtime_parameter_name,
                "LOG_GROUP": deployment.log_group_name,
                "ASG_NAME": naming.name("api-asg"),
                "LIFECYCLE_HOOK": BOOT_LIFECYCLE_HOOK,
                "OS_LOG_GROUP": props.os_log_group_name,
            },
        )
        self._profile = self._instance_profile(props)
        return LaunchTemplate(
            self,
            "launch_template",
            name=naming.name("api-lt"),
            description="Payment API instances",
            image_id=ami.insecure_value,
            instance_type=props.scaling.instance_type,
            vpc_security_group_ids=[props.app_security_group_id],
            iam_instance_profile=LaunchTemplateIamInstanceProfile(arn=self._profile.arn),
            user_data=user_data,
            update_default_version=True,
            monitoring=LaunchTemplateMonitoring(enabled=True),
            metadata_options=imdsv2_only(),
            block_device_mappings=encrypted_root_volume(props.volumes.key_arn),
            tag_specifications=_launch_tag_specifications(props),
            tags=naming.tags("api-lt"),
            depends_on=[deployment.artifact_upload] if deployment.artifact_upload is not None else None,
        )

    def _auto_scaling_group(self, props: ComputeProps) -> None:
        """Instances over the app subnets, held by the boot hook, replaced when the ALB finds them unhealthy."""
        naming, scaling = props.naming, props.scaling
        self._asg = AutoscalingGroup(
            self,
            "asg",
            name=naming.name("api-asg"),
            vpc_zone_identifier=props.app_subnet_ids,
            min_size=scaling.min_size,
            max_size=scaling.max_size,
            desired_capacity=scaling.desired_capacity,
            health_check_type="ELB",
            health_check_grace_period=300,
            target_group_arns=[self._target_group.arn],
            service_linked_role_arn=props.volumes.launch_role_arn,
            max_instance_lifetime=Token.as_number(Op.mul(scaling.max_instance_lifetime_days, SECONDS_PER_DAY)),
            launch_template=AutoscalingGroupLaunchTemplate(
                id=self._launch_template.id,
                version=Token.as_string(self._launch_template.latest_version),
            ),
            instance_refresh=AutoscalingGroupInstanceRefresh(
                strategy="Rolling",
                preferences=AutoscalingGroupInstanceRefreshPreferences(
                    min_healthy_percentage=MIN_HEALTHY_PERCENT, max_healthy_percentage=MAX_HEALTHY_PERCENT
                ),
            ),
            instance_maintenance_policy=AutoscalingGroupInstanceMaintenancePolicy(
                min_healthy_percentage=MIN_HEALTHY_PERCENT, max_healthy_percentage=MAX_HEALTHY_PERCENT
            ),
            initial_lifecycle_hook=[boot_lifecycle_hook()],
            # Hooked instances stay Pending:Wait until their boot completes the hook: Terraform's default wait
            # (10 minutes for InService capacity) would fail every first apply. make verify-deployment waits instead.
            wait_for_capacity_timeout="0",
            enabled_metrics=["GroupInServiceInstances", "GroupDesiredCapacity", "GroupTotalInstances"],
            # desired_capacity sets the first size only: afterwards target tracking owns it, and a plan that
            # reset it would terminate the instances a scale-out added. AWS's documented practice for an ASG
            # with scaling policies, not an emulator workaround.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["desired_capacity"]),
            # ASGs ignore the provider's default_tags; these propagate to the instances they launch.
            tag=[
                AutoscalingGroupTag(key=key, value=value, propagate_at_launch=True)
                for key, value in naming.tags("api-instance").items()
            ],
            # The first boot reads, calls and writes all of these: launched before them, it fails (issue 22).
            depends_on=[*props.boot_dependencies, *self._role_policies, self._profile],
        )
        self._cpu_scaling(props)

    def _cpu_scaling(self, props: ComputeProps) -> None:
        """Target tracking on the group's average CPU."""
        AutoscalingPolicy(
            self,
            "cpu_target_tracking",
            name=props.naming.name("api-cpu-target"),
            autoscaling_group_name=self._asg.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=AutoscalingPolicyTargetTrackingConfiguration(
                predefined_metric_specification=(
                    AutoscalingPolicyTargetTrackingConfigurationPredefinedMetricSpecification(
                        predefined_metric_type="ASGAverageCPUUtilization",
                    )
                ),
                target_value=CPU_TARGET_PERCENT,
            ),
        )

    def boot_after(self, dependencies: Sequence[TerraformResource]) -> None:
        """Make the group depend on ``dependencies`` too: for what the first boot needs but can only be created
        after this construct, because it names the instance role (the artifacts bucket policy)."""
        added = [f"{resource.terraform_resource_type}.{resource.friendly_unique_id}" for resource in dependencies]
        self._asg.depends_on = [*(self._asg.depends_on or []), *added]

    def _instance_profile(self, props: ComputeProps) -> IamInstanceProfile:
        """Role for the instances: Session Manager, plus reading exactly the DB parameter and secret (PCI DSS 7.2).

        No AWS managed policy: AmazonSSMManagedInstanceCore grants ``ssm:GetParameter(s)`` on "*"."""
        naming = props.naming
        role = service_role(
            self,
            "instance_role",
            props=ServiceRoleProps(
                name=naming.name("api-instance", "iam"),
                service="ec2.amazonaws.com",
                tags=naming.tags("api-instance-role"),
            ),
        )
        self._role_policies = [
            inline_policy(
                self,
                construct_id,
                role=role,
                name=naming.name(label, "iam"),
                statements=statements,
            )
            for construct_id, label, statements in (
                ("session_manager", "api-session-manager", session_manager_statements(props.region, props.account_id)),
                ("read_db_connection", "api-read-db-connection", _read_db_connection_statements(props)),
                ("read_idempotency_secret", "api-read-idempotency-secret", _read_idempotency_secret_statements(props)),
                ("read_app_login", "api-read-app-login", _read_app_login_statements(props)),
                ("install_api", "api-install", _install_api_statements(props)),
                ("complete_boot", "api-complete-boot", _complete_boot_statements(props)),
                *(
                    [("read_stripe_secret", "api-read-stripe-secret", _read_stripe_secret_statements(props))]
                    if props.secrets.stripe_secret_arn is not None
                    else []
                ),
            )
        ]
        self._instance_role = role
        return IamInstanceProfile(
            self,
            "instance_profile",
            name=naming.name("api-instance", "iam"),
            role=role.name,
            tags=naming.tags("api-instance-profile"),
        )

    @property
    def instance_role_arn(self) -> str:
        assert self._instance_role is not None, "built in __init__"
        return self._instance_role.arn

    @property
    def instance_role_name(self) -> str:
        """The instance role's name, for inline policies other components add (HostSecurity.grant)."""
        assert self._instance_role is not None, "built in __init__"
        return self._instance_role.name

    @property
    def alb_arn(self) -> str:
        return self._alb.arn

    @property
    def alb_arn_suffix(self) -> str:
        return self._alb.arn_suffix

    @property
    def alb_dns_name(self) -> str:
        return self._alb.dns_name

    @property
    def alb_zone_id(self) -> str:
        """The ALB's own hosted zone id (per region): the target of an alias record."""
        return self._alb.zone_id

    @property
    def alb_dualstack(self) -> bool:
        """True when the ALB answers IPv6 too (``ip_address_type`` dualstack); unset means AWS's ipv4."""
        return self._alb.ip_address_type_input in ("dualstack", "dualstack-without-public-ipv4")

    @property
    def target_group_arn(self) -> str:
        return self._target_group.arn

    @property
    def target_group_arn_suffix(self) -> str:
        return self._target_group.arn_suffix

    @property
    def asg_name(self) -> str:
        return self._asg.name

    @property
    def launch_template_id(self) -> str:
        return self._launch_template.id

    @property
    def https_listener_arn(self) -> str:
        return self._listener.arn


def _read_db_connection_statements(props: ComputeProps) -> list[Statement]:
    """Decrypt with the data key, through Secrets Manager (the idempotency and login secrets) and SSM (the runtime
    parameter) only. Never the RDS master secret: only the migration host's role reads it (issue 27; preflight rule
    PF-API-NO-MASTER-SECRET). Not the connection-string parameter either: it stays for the stack's consumers (SPEC
    item 4), but nothing on the instances reads it (issue 28 item 7, PCI DSS 7.2)."""
    secrets = props.secrets
    return [
        decrypt_via_services("DecryptWithDataKey", secrets.data_key_arn, DATA_KEY_VIA_SERVICES, props.region),
    ]


def _read_idempotency_secret_statements(props: ComputeProps) -> list[Statement]:
    """Read the idempotency secret's versions (GetSecretValue) and which labels exist (DescribeSecret: is there an
    AWSPREVIOUS?); its decryption is the data key's ``kms:Decrypt`` through Secrets Manager, granted above."""
    return [
        {
            "Sid": "ReadIdempotencySecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": props.secrets.idempotency_secret_arn,
        }
    ]


def _read_app_login_statements(props: ComputeProps) -> list[Statement]:
    """Read the application's database login (its AWSCURRENT version, by root at boot); never write it (the migration
    host does); its decryption is the data key's ``kms:Decrypt`` through Secrets Manager, granted above."""
    return [
        {
            "Sid": "ReadAppDatabaseLogin",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": props.secrets.app_login_secret_arn,
        }
    ]


def _read_stripe_secret_statements(props: ComputeProps) -> list[Statement]:
    """Read the Stripe secret (its current version only: Stripe's keys are rolled in Stripe's Dashboard and the secret
    updated, so no previous version is needed). Its key is the operator's: AWS's ``aws/secretsmanager`` needs no
    grant; a customer managed key must let this role decrypt through Secrets Manager (docs/deploying.md)."""
    return [
        {
            "Sid": "ReadStripeSecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": str(props.secrets.stripe_secret_arn),
        }
    ]


def _install_api_statements(props: ComputeProps) -> list[Statement]:
    """Install the API at boot: read and decrypt the artifact, read the runtime settings, ship the service logs."""
    deployment = props.deployment
    return [
        *read_object_versions_statements("ReadArtifact", deployment.artifact_bucket_arn, deployment.artifact_key),
        decrypt_via_services("DecryptArtifact", props.secrets.data_key_arn, ("s3",), props.region),
        {
            "Sid": "ReadRuntimeSettings",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": deployment.runtime_parameter_arn,
        },
        write_log_stream_statement("ShipServiceLogs", deployment.log_group_arn),
    ]


def boot_lifecycle_hook() -> AutoscalingGroupInitialLifecycleHook:
    """The launch hook every instance's boot completes (:data:`BOOT_LIFECYCLE_HOOK`): CONTINUE puts it in service,
    ABANDON (also the result when no completion comes within the heartbeat) terminates it."""
    return AutoscalingGroupInitialLifecycleHook(
        name=BOOT_LIFECYCLE_HOOK,
        lifecycle_transition=BOOT_HOOK_TRANSITION,
        default_result=BOOT_HOOK_DEFAULT_RESULT,
        heartbeat_timeout=BOOT_HOOK_HEARTBEAT_SECONDS,
    )


def asg_arn_pattern(region: str, account_id: str, asg_name: str) -> str:
    """The group's ARN with its id as ``*``: built from the name, so the instance role's policy needs no reference
    to the group (which depends on the role: a reference back would be a cycle)."""
    return f"arn:aws:autoscaling:{region}:{account_id}:autoScalingGroup:*:autoScalingGroupName/{asg_name}"


def _complete_boot_statements(props: ComputeProps) -> list[Statement]:
    """Complete (or extend) this group's boot lifecycle action, and no other group's (PCI DSS 7.2)."""
    return [
        {
            "Sid": "CompleteOwnBootLifecycleAction",
            "Effect": "Allow",
            "Action": ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
            "Resource": asg_arn_pattern(props.region, props.account_id, props.naming.name("api-asg")),
        }
    ]


def _launch_tag_specifications(props: ComputeProps) -> list[LaunchTemplateTagSpecifications]:
    """The stack's tags on launched instances and volumes; instances also carry the runtime parameter's version
    (template data: a changed setting makes a new launch template version)."""
    naming = props.naming
    instance_tags = {
        **props.stack_tags,
        **naming.tags("api-instance"),
        RUNTIME_SETTINGS_VERSION_TAG: props.deployment.runtime_parameter_version,
    }
    return [
        LaunchTemplateTagSpecifications(resource_type="instance", tags=instance_tags),
        LaunchTemplateTagSpecifications(resource_type="volume", tags={**props.stack_tags, **naming.tags("api-volume")}),
    ]
