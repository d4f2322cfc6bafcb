"""The mock harness users import for their own tests: transforms, StackReferences, preview mode."""

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

from hardstack import AwsContext, Network, NetworkArgs, Tier
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id="123456789012")


def tag_everything(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_.startswith("aws:ec2/") and "tags" in args.props:
        props = {**args.props, "tags": {**(args.props["tags"] or {}), "CostCentre": "42"}}
        return pulumi.ResourceTransformResult(props, args.opts)
    return None


def test_transforms_given_to_a_component_reach_its_children_in_the_recording(run: Run) -> None:
    def program() -> None:
        args = NetworkArgs(context=CTX, cidr="10.0.0.0/16", az_count=2, tier=Tier.DEVELOPMENT)
        Network("net", args, pulumi.ResourceOptions(transforms=[tag_everything]))

    rec = run(program)
    subnets = rec.of_type("aws:ec2/subnet:Subnet")
    assert subnets and all(s.inputs["tags"]["CostCentre"] == "42" for s in subnets)


def test_stack_transforms_apply_to_every_resource(run: Run) -> None:
    def program() -> None:
        pulumi.runtime.register_resource_transform(tag_everything)
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags={"Name": "vpc"})

    assert run(program).one("aws:ec2/vpc:Vpc").inputs["tags"] == {"Name": "vpc", "CostCentre": "42"}


def test_a_transform_that_protects_is_recorded(run: Run) -> None:
    def protect(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        return pulumi.ResourceTransformResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True))
        )

    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(transforms=[protect]))

    assert run(program).one("aws:ec2/vpc:Vpc").protect


def test_without_transforms_inputs_are_recorded_as_given(run: Run) -> None:
    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags={"Name": "vpc"})

    vpc: dict[str, Any] = run(program).one("aws:ec2/vpc:Vpc").inputs
    assert vpc["tags"] == {"Name": "vpc"} and vpc["cidrBlock"] == "10.0.0.0/16"
