"""The migration host: once per release, database roles and migrations on a short-lived instance (issue 27, item 2).

- Its own instance role, the only role of the stack that may read the RDS master secret (PCI DSS 7.2.1, 8.6.2): the
  API instances never hold the master (superuser) credential for this; the host lives for one boot.
- Its own launch template: AL2023 from AWS's public SSM parameter, IMDSv2 only, no public IP, the app subnets' security
  group (it reaches the database and the interface endpoints as an API instance does), gp3 encrypted with the data key,
  and ``instance_initiated_shutdown_behavior = "terminate"``: the user data powers off at its end, success or not, and
  EC2 terminates the host.
- Its user data (``lib/blocks/templates/migration_host_user_data.sh``) shares the API's bootstrap (artifact fetched by
  its sha256, verified, installed: ``bootstrap.sh``), sources the artifact's ``boot/migration-host.sh`` (the settings
  and login roles of ``boot/prepare.sh``, then the migrations through ``payment-api-migrate.service``) and writes
  ``ok`` or ``failed: <step> ...`` to the release's result parameter, :attr:`MigrationHost.result_parameter_name`.
- The run (``terraform_data``, replaced when the release's sha256 or the launch template's version changes):
  a local-exec runs ``python -m tools.deploy.migration_wait``, which launches one host from the template and waits for
  the result parameter, bounded (:data:`WAIT_SECONDS`), failing with the parameter's name, the host's id and where its
  logs are. The API's Auto Scaling group depends on the run (``lib/tap_stack.py``), so a first apply creates the
  database, migrates it, then launches the fleet: no instance waits on a schema nobody migrates.

The result parameters are written by the host, not by Terraform: ``make destroy`` deletes them
(``tools/deploy/destroy.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf import ITerraformDependable, LocalExecProvisioner, TerraformResource, Token
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.iam_instance_profile import IamInstanceProfile
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate,
    LaunchTemplateIamInstanceProfile,
    LaunchTemplateTagSpecifications,
)
from constructs import Construct

from lib.blocks.iam import (
    Statement,
    decrypt_via_services,
    read_object_versions_statements,
    write_log_stream_statement,
)
from lib.blocks.instances import AL2023_AMI_PARAMETER, encrypted_root_volume, imdsv2_only
from lib.blocks.roles import ServiceRoleProps, inline_policy, service_role
from lib.blocks.user_data import render_user_data
from lib.naming import Naming

# How long make deploy waits for a host's result: above the boot's own bound (each retried call stops after 600 s) plus
# the migrations; the run fails past it, naming the parameter and the host.
WAIT_SECONDS = 1800
# The services through which the host decrypts with the data key: the runtime parameter (SSM), the master secret
# (Secrets Manager) and the artifact (S3).
DATA_KEY_VIA_SERVICES = ("ssm", "secretsmanager", "s3")
# The local-exec: make deploy (tools/deploy/tfcli.py) gives terraform TAP_DEPLOY_PYTHON and TAP_DEPLOY_ROOT; a bare
# `terraform apply` without them stops here, saying so.
RUN_COMMAND = (
    'if [ -z "$TAP_DEPLOY_PYTHON" ] || [ -z "$TAP_DEPLOY_ROOT" ]; then '
    'echo "the migration host is launched by make deploy (TAP_DEPLOY_PYTHON and TAP_DEPLOY_ROOT are not set)" >&2; '
    'exit 2; fi; cd "$TAP_DEPLOY_ROOT" && exec "$TAP_DEPLOY_PYTHON" -m tools.deploy.migration_wait'
)


@dataclass(frozen=True, kw_only=True)
class MigrationRelease:
    """The release the host migrates to: its artifact, its runtime settings and its log group."""

    artifact_bucket_arn: str
    """The artifacts bucket: the host reads the versions of ``artifact_key`` there, and nothing else of it."""
    artifact_key: str
    """The artifact's S3 key (one for every release)."""
    artifact_sha256: str
    """The release's sha256: in the user data (the host installs that version only) and in the result parameter's
    name; a new release replaces the run, so it launches a new host."""
    runtime_parameter_name: str
    """The SSM parameter with the apply-time settings (database host, the master secret's ARN)."""
    runtime_parameter_arn: str
    """The same parameter, for the host role's policy."""
    log_group_name: str
    """Where the host's boot and migration logs go (streams ``<instance id>/boot`` and ``<instance id>/migrate``)."""
    log_group_arn: str
    """The same log group, for the host role's policy."""


@dataclass(frozen=True, kw_only=True)
class MigrationHostProps:  # pylint: disable=too-many-instance-attributes  # each documented; a host needs them all
    """Where the host runs, what it may read, and what it waits for."""

    naming: Naming
    """Names and tags."""
    region: str
    """The stack's region (the user data's, and ``kms:ViaService``'s)."""
    account_id: str
    """The stack's account: scopes the result parameters' ARN."""
    subnet_id: str
    """One of the app subnets: private, outbound through NAT and the endpoints only (PCI DSS 1.3.2)."""
    security_group_id: str
    """The app tier's group: the database admits it, the interface endpoints too."""
    instance_type: str
    """An x86_64 type (the AMI and the artifact are x86_64): the API's."""
    release: MigrationRelease
    """What the host installs and migrates to."""
    master_secret_arn: str
    """The RDS-managed master secret: this host's role is the only one allowed to read it."""
    app_login_secret_arn: str
    """The application's database login (``AppLoginSecret``): this host's role is the only one allowed to write it
    (a new version each release), and it never reads its value (``DescribeSecret`` for the labels only)."""
    data_key_arn: str
    """The key of the master secret, the runtime parameter, the artifact and the host's volume."""
    stack_tags: Mapping[str, str]
    """The environment-wide tags, written onto the launched host and its volume (``default_tags`` do not reach them)."""
    dependencies: Sequence[ITerraformDependable] = ()
    """What the host's boot touches (the API instances' boot dependencies): the run waits for each.

    @default () - ``lib/tap_stack.py`` passes the stack's list; :meth:`MigrationHost.run_after` adds later ones."""


class MigrationHost(Construct):
    """Role, instance profile, launch template and the run that launches a host per release and waits for it."""

    def __init__(self, scope: Construct, construct_id: str, *, props: MigrationHostProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self._role, policies, profile = self._role_and_profile(props)
        self._template = self._launch_template(props, profile)
        self._run = TerraformResource(
            self,
            "run",
            # terraform_data (Terraform's built-in), written as a plain resource: cdktf's DataResource validates the
            # Terraform version by running `terraform version` at synth, and a synth needs no Terraform (tap.py runs
            # without one on PATH: tests/unit/stack/test_project_node.py). make deploy needs Terraform 1.10 or newer
            # (tools/prereqs.py).
            terraform_resource_type="terraform_data",
            provisioners=[
                LocalExecProvisioner(
                    type="local-exec",
                    interpreter=["/bin/bash", "-c"],
                    command=RUN_COMMAND,
                    environment={
                        "MIGRATION_LAUNCH_TEMPLATE_ID": self._template.id,
                        "MIGRATION_LAUNCH_TEMPLATE_VERSION": Token.as_string(self._template.latest_version),
                        "MIGRATION_SUBNET_ID": props.subnet_id,
                        "MIGRATION_RESULT_PARAMETER": self.result_parameter_name,
                        "MIGRATION_LOG_GROUP": props.release.log_group_name,
                        "MIGRATION_WAIT_SECONDS": str(WAIT_SECONDS),
                        "AWS_REGION": props.region,
                    },
                )
            ],
            depends_on=[*props.dependencies, *policies, profile, self._template],
        )
        # Replaced (so run again: a new host) when the release or the host's launch template version changes.
        self._run.add_override(
            "triggers_replace",
            {
                "artifact_sha256": props.release.artifact_sha256,
                "launch_template_version": Token.as_string(self._template.latest_version),
            },
        )

    def _role_and_profile(self, props: MigrationHostProps) -> tuple[IamRole, list[IamRolePolicy], IamInstanceProfile]:
        naming = props.naming
        role = service_role(
            self,
            "role",
            props=ServiceRoleProps(
                name=naming.name("migration-host", "iam"),
                service="ec2.amazonaws.com",
                tags=naming.tags("migration-host-role"),
            ),
        )
        policies = [
            inline_policy(
                self,
                "migrate",
                role=role,
                name=naming.name("migration-host", "iam"),
                statements=migration_host_statements(props, self.result_parameter_arn_pattern),
            )
        ]
        profile = IamInstanceProfile(
            self,
            "profile",
            name=naming.name("migration-host", "iam"),
            role=role.name,
            tags=naming.tags("migration-host-profile"),
        )
        return role, policies, profile

    def _launch_template(self, props: MigrationHostProps, profile: IamInstanceProfile) -> LaunchTemplate:
        naming, release = props.naming, props.release
        ami = DataAwsSsmParameter(self, "al2023_ami", name=AL2023_AMI_PARAMETER)
        user_data = render_user_data(
            "migration_host_user_data.sh",
            {
                "REGION": props.region,
                "ARTIFACT_KEY": release.artifact_key,
                "ARTIFACT_HASH": release.artifact_sha256,
                "RUNTIME_PARAMETER": release.runtime_parameter_name,
                "RESULT_PARAMETER": self.result_parameter_name,
                "LOG_GROUP": release.log_group_name,
            },
        )
        return LaunchTemplate(
            self,
            "launch_template",
            name=naming.name("migration-lt"),
            description="Payment API migration host: one per release, terminates itself",
            image_id=ami.insecure_value,
            instance_type=props.instance_type,
            vpc_security_group_ids=[props.security_group_id],
            iam_instance_profile=LaunchTemplateIamInstanceProfile(arn=profile.arn),
            user_data=user_data,
            update_default_version=True,
            instance_initiated_shutdown_behavior="terminate",
            metadata_options=imdsv2_only(),
            block_device_mappings=encrypted_root_volume(props.data_key_arn),
            tag_specifications=[
                LaunchTemplateTagSpecifications(
                    resource_type="instance", tags={**props.stack_tags, **naming.tags("migration-host")}
                ),
                LaunchTemplateTagSpecifications(
                    resource_type="volume", tags={**props.stack_tags, **naming.tags("migration-host-volume")}
                ),
            ],
            tags=naming.tags("migration-lt"),
        )

    def run_after(self, dependencies: Sequence[TerraformResource]) -> None:
        """Make the run wait for ``dependencies`` too: what the host reads but is created after this construct because
        it names the host's role (the artifacts bucket policy)."""
        added = [f"{resource.terraform_resource_type}.{resource.friendly_unique_id}" for resource in dependencies]
        self._run.depends_on = [*(self._run.depends_on or []), *added]

    @property
    def role_arn(self) -> str:
        return self._role.arn

    @property
    def run(self) -> TerraformResource:
        """The run: the API group depends on it, so it launches after this release's migrations succeeded."""
        return self._run

    @property
    def launch_template_id(self) -> str:
        return self._template.id

    @property
    def result_parameter_name(self) -> str:
        """``/<project>/<suffix>/payment-api/migration/<sha256>``: ``ok`` or ``failed: ...``, written by the host."""
        return f"{self.result_parameter_prefix}/{self._props.release.artifact_sha256}"

    @property
    def result_parameter_prefix(self) -> str:
        naming = self._props.naming
        return f"/{naming.project}/{naming.suffix}/payment-api/migration"

    @property
    def result_parameter_arn_pattern(self) -> str:
        props = self._props
        return f"arn:aws:ssm:{props.region}:{props.account_id}:parameter{self.result_parameter_prefix}/*"


def migration_host_statements(props: MigrationHostProps, result_parameters_arn: str) -> list[Statement]:
    """Read the master secret, the runtime settings and the artifact; decrypt them with the data key through their
    services only; write the application's login secret (encrypting through Secrets Manager only); ship the logs;
    write the result parameters of this stack, and nothing else (PCI DSS 7.2)."""
    release = props.release
    return [
        {
            "Sid": "ReadDatabaseMasterSecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": props.master_secret_arn,
        },
        {
            "Sid": "ReadRuntimeSettings",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": release.runtime_parameter_arn,
        },
        *read_object_versions_statements("ReadArtifact", release.artifact_bucket_arn, release.artifact_key),
        decrypt_via_services("DecryptWithDataKey", props.data_key_arn, DATA_KEY_VIA_SERVICES, props.region),
        {
            "Sid": "WriteAppDatabaseLogin",
            "Effect": "Allow",
            "Action": ["secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": props.app_login_secret_arn,
        },
        {
            "Sid": "EncryptAppDatabaseLogin",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": props.data_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{props.region}.amazonaws.com"}},
        },
        write_log_stream_statement("ShipMigrationLogs", release.log_group_arn),
        {
            "Sid": "WriteMigrationResult",
            "Effect": "Allow",
            "Action": "ssm:PutParameter",
            "Resource": result_parameters_arn,
        },
    ]
