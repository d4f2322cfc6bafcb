"""Hardened pieces of an EC2 launch template, shared by the VM fleet and the EKS node groups.

Creates no resources.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

#: What a launched instance tags: itself, its volumes and its network interfaces.
TAGGED_KINDS = ("instance", "volume", "network-interface")


def imdsv2_only() -> aws.ec2.LaunchTemplateMetadataOptionsArgs:
    """IMDSv2 required, hop limit 1: nothing one network hop away (a container) reaches the role."""
    return aws.ec2.LaunchTemplateMetadataOptionsArgs(
        http_endpoint="enabled",
        http_tokens="required",
        http_put_response_hop_limit=1,
        instance_metadata_tags="disabled",
    )


def encrypted_root_volume(
    size_gb: pulumi.Input[int], kms_key_arn: pulumi.Input[str]
) -> list[aws.ec2.LaunchTemplateBlockDeviceMappingArgs]:
    """A gp3 root volume encrypted with the customer key, deleted with the instance."""
    return [
        aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
            device_name="/dev/xvda",
            ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                volume_size=size_gb,
                volume_type="gp3",
                encrypted="true",
                kms_key_id=kms_key_arn,
                delete_on_termination="true",
            ),
        )
    ]


def tag_specifications(tags: Mapping[str, str]) -> list[aws.ec2.LaunchTemplateTagSpecificationArgs]:
    return [aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=dict(tags)) for kind in TAGGED_KINDS]
