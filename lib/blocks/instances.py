"""What every EC2 instance of the stack shares: the API fleet's launch template and the migration host's."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplateBlockDeviceMappings,
    LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateMetadataOptions,
)

# Amazon Linux 2023, x86_64, from AWS's public SSM parameter: every plan reads the newest AMI (PCI DSS 6.3.3).
AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ROOT_VOLUME_GIB = 20


def imdsv2_only() -> LaunchTemplateMetadataOptions:
    """IMDSv2 tokens required, one hop (no container on the instance reaches it), no instance tags in IMDS
    (PCI DSS 2.2)."""
    return LaunchTemplateMetadataOptions(
        http_endpoint="enabled",
        http_tokens="required",
        http_put_response_hop_limit=1,
        instance_metadata_tags="disabled",
    )


def encrypted_root_volume(key_arn: str) -> list[LaunchTemplateBlockDeviceMappings]:
    """The root volume: gp3, encrypted with ``key_arn`` (a customer managed key, PCI DSS 3.5.1), deleted with the
    instance."""
    return [
        LaunchTemplateBlockDeviceMappings(
            device_name="/dev/xvda",
            ebs=LaunchTemplateBlockDeviceMappingsEbs(
                volume_size=ROOT_VOLUME_GIB,
                volume_type="gp3",
                encrypted="true",
                kms_key_id=key_arn,
                delete_on_termination="true",
            ),
        )
    ]
