"""Payment API compute: HTTPS load balancer with WAF, launch template and Auto Scaling Group.

- The ALB listens on 443 only, terminates TLS with the operator's ACM certificate under a TLS 1.2/1.3
  policy (PCI DSS 4.2.1), drops invalid header fields (request smuggling) and writes access logs.
- The WAF web ACL is associated by its ARN (seed failure 3).
- Instances: Amazon Linux 2023 looked up from AWS's public SSM parameter, IMDSv2 only (PCI DSS 2.2),
  encrypted gp3 root volume, detailed monitoring, no public IP, reachable only through the ALB; shell
  access through SSM Session Manager instead of SSH.
- The ASG spreads over the app subnets, replaces instances the ALB finds unhealthy, scales on CPU, and
  rolls a new launch template version out with an instance refresh that keeps capacity up.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResource, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.alb import Alb, AlbAccessLogs
from cdktf_cdktf_provider_aws.alb_listener import AlbListener, AlbListenerDefaultAction
from cdktf_cdktf_provider_aws.alb_target_group import AlbTargetGroup, AlbTargetGroupHealthCheck
from cdktf_cdktf_provider_aws.autoscaling_group import (
    AutoscalingGroup,
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
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate,
    LaunchTemplateBlockDeviceMappings,
    LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateIamInstanceProfile,
    LaunchTemplateMetadataOptions,
    LaunchTemplateMonitoring,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import (
    Wafv2WebAclAssociation,
    Wafv2WebAclAssociationTimeouts,
)
from constructs import Construct

from lib.blocks.iam import assume_role_policy, policy_document
from lib.blocks.user_data import render_user_data
from lib.naming import Naming

AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH_CHECK_PATH = "/health"
SSM_MANAGED_INSTANCE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
CPU_TARGET_PERCENT = 60
# WAF answers WAFUnavailableEntityException while a new ALB settles, past the provider's 5-minute default
# (terraform-provider-aws #29080); the provider retries that error until this timeout.
WAF_ASSOCIATION_CREATE_TIMEOUT = "15m"


@dataclass(frozen=True)
class ScalingSettings:
    """ASG bounds and instance type (Terraform variable references)."""

    instance_type: str
    min_size: float
    max_size: float
    desired_capacity: float


@dataclass(frozen=True)
class ApiSecrets:
    """What the instances may read at run time: the DB connection parameter and the DB secret."""

    connection_parameter_arn: str
    db_secret_arn: str
    data_key_arn: str


class Compute(Construct):  # pylint: disable=too-many-instance-attributes
    """ALB, listener, target group, WAF association, instance role, launch template and ASG."""

    def __init__(  # pylint: disable=too-many-locals
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        vpc_id: str,
        public_subnet_ids: list[str],
        app_subnet_ids: list[str],
        alb_security_group_id: str,
        app_security_group_id: str,
        api_port: int,
        certificate_arn: str,
        web_acl_arn: str,
        access_log_bucket: str,
        access_log_prefix: str,
        access_log_ready: list[TerraformResource],
        deletion_protection: bool,
        scaling: ScalingSettings,
        secrets: ApiSecrets,
    ) -> None:
        super().__init__(scope, construct_id)
        self._alb = Alb(
            self,
            "alb",
            name=naming.name("alb", "alb"),
            internal=False,
            load_balancer_type="application",
            security_groups=[alb_security_group_id],
            subnets=public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=deletion_protection,
            access_logs=AlbAccessLogs(bucket=access_log_bucket, prefix=access_log_prefix, enabled=True),
            tags=naming.tags("alb"),
            # Enabling access logs writes a test object at once: the bucket policy must already grant it, or
            # AWS answers "Access Denied for bucket ... Please check S3bucket permission" (provider #12010).
            depends_on=access_log_ready,
        )
        self._target_group = AlbTargetGroup(
            self,
            "target_group",
            name=naming.name("api-tg", "target_group"),
            port=api_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=vpc_id,
            # The bindings type this as a string (seed failure 5).
            deregistration_delay="30",
            health_check=AlbTargetGroupHealthCheck(
                enabled=True, path=HEALTH_CHECK_PATH, protocol="HTTP", port="traffic-port", matcher="200",
                interval=15, timeout=5, healthy_threshold=2, unhealthy_threshold=3,
            ),
            tags=naming.tags("api-tg"),
        )
        self._listener = AlbListener(
            self,
            "https_listener",
            load_balancer_arn=self._alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_action=[AlbListenerDefaultAction(type="forward", target_group_arn=self._target_group.arn)],
            tags=naming.tags("https-listener"),
        )
        Wafv2WebAclAssociation(self, "waf_association", resource_arn=self._alb.arn, web_acl_arn=web_acl_arn,
                               timeouts=Wafv2WebAclAssociationTimeouts(create=WAF_ASSOCIATION_CREATE_TIMEOUT))

        profile = self._instance_profile(naming, secrets)
        ami = DataAwsSsmParameter(self, "al2023_ami", name=AL2023_AMI_PARAMETER)
        user_data = render_user_data(
            "payment_api_user_data.sh",
            {"API_PORT": str(api_port), "SERVICE_NAME": "payment-api", "ENVIRONMENT": naming.suffix},
        )
        self._launch_template = LaunchTemplate(
            self,
            "launch_template",
            name=naming.name("api-lt"),
            description="Payment API instances",
            image_id=ami.insecure_value,
            instance_type=scaling.instance_type,
            vpc_security_group_ids=[app_security_group_id],
            iam_instance_profile=LaunchTemplateIamInstanceProfile(arn=profile.arn),
            user_data=user_data,
            update_default_version=True,
            monitoring=LaunchTemplateMonitoring(enabled=True),
            metadata_options=LaunchTemplateMetadataOptions(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[LaunchTemplateBlockDeviceMappings(
                device_name="/dev/xvda",
                ebs=LaunchTemplateBlockDeviceMappingsEbs(
                    volume_size=20, volume_type="gp3", encrypted="true", delete_on_termination="true",
                ),
            )],
            tags=naming.tags("api-lt"),
        )
        self._asg = AutoscalingGroup(
            self,
            "asg",
            name=naming.name("api-asg"),
            vpc_zone_identifier=app_subnet_ids,
            min_size=scaling.min_size,
            max_size=scaling.max_size,
            desired_capacity=scaling.desired_capacity,
            health_check_type="ELB",
            health_check_grace_period=300,
            target_group_arns=[self._target_group.arn],
            launch_template=AutoscalingGroupLaunchTemplate(
                id=self._launch_template.id, version=Token.as_string(self._launch_template.latest_version),
            ),
            instance_refresh=AutoscalingGroupInstanceRefresh(
                strategy="Rolling",
                preferences=AutoscalingGroupInstanceRefreshPreferences(min_healthy_percentage=100,
                                                                       max_healthy_percentage=200),
            ),
            enabled_metrics=["GroupInServiceInstances", "GroupDesiredCapacity", "GroupTotalInstances"],
            # desired_capacity sets the first size only: afterwards target tracking owns it, and a plan that
            # reset it would terminate the instances a scale-out added. AWS's documented practice for an ASG
            # with scaling policies, not an emulator workaround.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["desired_capacity"]),
            # ASGs ignore the provider's default_tags; these propagate to the instances they launch.
            tag=[AutoscalingGroupTag(key=key, value=value, propagate_at_launch=True)
                 for key, value in naming.tags("api-instance").items()],
        )
        AutoscalingPolicy(
            self,
            "cpu_target_tracking",
            name=naming.name("api-cpu-target"),
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

    def _instance_profile(self, naming: Naming, secrets: ApiSecrets) -> IamInstanceProfile:
        """Role for the instances: Session Manager, plus reading exactly the DB parameter and secret."""
        role = IamRole(
            self,
            "instance_role",
            name=naming.name("api-instance", "iam"),
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=naming.tags("api-instance-role"),
        )
        IamRolePolicyAttachment(self, "ssm_core", role=role.name, policy_arn=SSM_MANAGED_INSTANCE_POLICY)
        IamRolePolicy(
            self,
            "read_db_connection",
            name=naming.name("api-read-db-connection", "iam"),
            role=role.id,
            policy=policy_document([
                {"Sid": "ReadConnectionString", "Effect": "Allow", "Action": ["ssm:GetParameter"],
                 "Resource": secrets.connection_parameter_arn},
                {"Sid": "ReadDatabaseSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                 "Resource": secrets.db_secret_arn},
                {"Sid": "DecryptWithDataKey", "Effect": "Allow", "Action": ["kms:Decrypt"],
                 "Resource": secrets.data_key_arn},
            ]),
        )
        return IamInstanceProfile(self, "instance_profile", name=naming.name("api-instance", "iam"), role=role.name,
                                  tags=naming.tags("api-instance-profile"))

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
