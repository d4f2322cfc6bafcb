"""The mock harness users import for their own tests: transforms, StackReferences, secret config,
preview mode."""

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from hardstack import AwsContext, Network, NetworkArgs, Tier
from hardstack.tooling import HardstackMocks, Recording, Secret, is_secret, is_unknown, run_program, unsecret

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id="123456789012")
GET_REGION = "aws:index/getRegion:getRegion"
PARAMETER = "aws:ssm/parameter:Parameter"


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


def test_the_deprecated_register_stack_transform_applies_too() -> None:
    def program() -> None:
        pulumi.runtime.register_stack_transform(tag_everything)
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags={"Name": "vpc"})

    assert run_program(program).one("aws:ec2/vpc:Vpc").inputs["tags"]["CostCentre"] == "42"


def test_transforms_run_in_the_engines_order_own_then_parents_then_the_stacks() -> None:
    def mark(label: str) -> Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]:
        def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
            if "tags" not in args.props:
                return None
            order = [*filter(None, args.props["tags"].get("order", "").split(",")), label]
            return pulumi.ResourceTransformResult({**args.props, "tags": {"order": ",".join(order)}}, args.opts)

        return transform

    def program() -> None:
        pulumi.runtime.register_resource_transform(mark("stack"))
        group = pulumi.ComponentResource(
            "acme:index:Group", "group", None, pulumi.ResourceOptions(transforms=[mark("parent")])
        )
        child = pulumi.ResourceOptions(parent=group, transforms=[mark("own")])
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags={}, opts=child)

    assert run_program(program).one("aws:ec2/vpc:Vpc").inputs["tags"] == {"order": "own,parent,stack"}


def test_a_transform_is_given_the_resources_own_options() -> None:
    def protect(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        return pulumi.ResourceTransformResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True))
        )

    def program() -> None:
        opts = pulumi.ResourceOptions(ignore_changes=["tags"], retain_on_delete=True, transforms=[protect])
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", opts=opts)

    vpc = run_program(program).one("aws:ec2/vpc:Vpc")
    assert vpc.protect and vpc.retain_on_delete and vpc.ignore_changes == ["tags"]


def test_an_async_transform_is_awaited() -> None:
    async def tag(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        return pulumi.ResourceTransformResult({**args.props, "tags": {"Async": "yes"}}, args.opts)

    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(transforms=[tag]))

    assert run_program(program).one("aws:ec2/vpc:Vpc").inputs["tags"] == {"Async": "yes"}


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_a_transform_may_make_an_input_secret_as_the_engine_records_it(preview: bool) -> None:
    def hide(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        return pulumi.ResourceTransformResult(
            {**args.props, "value": pulumi.Output.secret(args.props["value"])}, args.opts
        )

    def program() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        # In a preview the VPC's id is unknown: the secret input holds an unknown part.
        aws.ssm.Parameter(
            "p",
            type="String",
            value=vpc.id.apply(lambda i: f"{i}/token-1234"),
            opts=pulumi.ResourceOptions(transforms=[hide]),
        )

    param = run_program(program, preview=preview).one(PARAMETER)
    assert param.secret_inputs == ["value"] and is_secret(param.inputs["value"])
    assert is_unknown(param.inputs["value"]) == preview
    if not preview:
        assert unsecret(param.inputs["value"]).endswith("/token-1234")


class EchoMocks(HardstackMocks):
    """Answers `getRegion` with the region it was asked about."""

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == GET_REGION and args.args.get("region"):
            return {"region": args.args["region"], "name": args.args["region"], "id": args.args["region"]}, []
        return super().call(args)


def test_invoke_transforms_change_what_is_asked_and_recorded() -> None:
    def pin_region(args: pulumi.InvokeTransformArgs) -> pulumi.InvokeTransformResult | None:
        if args.token != GET_REGION:
            return None
        return pulumi.InvokeTransformResult({**args.args, "region": "eu-central-1"}, args.opts)

    def program() -> None:
        pulumi.runtime.register_invoke_transform(pin_region)
        pulumi.export("region", aws.get_region_output().region)

    rec = run_program(program, mocks=EchoMocks())

    assert rec.outputs["region"] == "eu-central-1"
    assert [i.args for i in rec.invokes if i.token == GET_REGION] == [{"region": "eu-central-1"}]


# --- StackReference outputs -------------------------------------------------------------------------

NETWORK_STACK = "acme/network/prod"


def test_stack_reference_outputs_are_the_ones_given() -> None:
    def program() -> None:
        network = pulumi.StackReference(NETWORK_STACK)
        aws.ec2.Subnet("a", vpc_id=network.get_output("vpcId"), cidr_block="10.0.0.0/24")
        pulumi.export("zones", network.require_output("zones"))

    rec = run_program(program, stack_outputs={NETWORK_STACK: {"vpcId": "vpc-0abc", "zones": ["a", "b"]}})

    assert rec.one("aws:ec2/subnet:Subnet").inputs["vpcId"] == "vpc-0abc"
    assert rec.outputs["zones"] == ["a", "b"] and rec.secret_outputs == set()


def test_a_secret_stack_output_arrives_as_a_secret() -> None:
    def program() -> None:
        pulumi.export("token", pulumi.StackReference(NETWORK_STACK).get_output("token"))

    rec = run_program(program, stack_outputs={NETWORK_STACK: {"token": Secret("t0ken")}})

    assert rec.outputs["token"] == "t0ken" and rec.secret_outputs == {"token"}


# The SDK leaves the failed reference's pending lookups unawaited; the error is what matters here.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_reference_to_a_stack_without_outputs_names_the_stack() -> None:
    def program() -> None:
        pulumi.export("vpc", pulumi.StackReference("acme/other/prod").get_output("vpcId"))

    with pytest.raises(LookupError, match=r"'acme/other/prod'.*given: acme/network/prod"):
        run_program(program, stack_outputs={NETWORK_STACK: {"vpcId": "vpc-0abc"}})


# --- secret config ----------------------------------------------------------------------------------


def test_a_secret_config_value_arrives_as_a_secret() -> None:
    seen: dict[str, bool] = {}

    def program() -> None:
        seen["secret"] = pulumi.runtime.is_config_secret("shop:dbPassword")
        seen["plain"] = pulumi.runtime.is_config_secret("shop:dbName")
        pulumi.export("password", pulumi.Config().require_secret("dbPassword"))

    config = {"shop:dbPassword": Secret("hunter2"), "shop:dbName": "orders"}
    rec = run_program(program, project="shop", config=config)

    assert seen == {"secret": True, "plain": False}
    assert rec.outputs["password"] == "hunter2" and rec.secret_outputs == {"password"}


def test_a_secret_inside_a_structured_value_makes_its_whole_key_secret() -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        seen["secret"] = pulumi.runtime.is_config_secret("shop:alertSecrets")
        seen["value"] = pulumi.Config().require_object("alertSecrets")

    run_program(program, project="shop", config={"shop:alertSecrets": {"pagerduty": Secret("k3y"), "n": 1}})

    assert seen == {"secret": True, "value": {"pagerduty": "k3y", "n": 1}}


def test_a_secret_config_value_is_recorded_as_a_secret_input() -> None:
    def program() -> None:
        token = pulumi.Config().require_secret("apiToken")
        aws.ssm.Parameter("token", type="SecureString", value=token, description="api token")

    parameter = run_program(program, project="shop", config={"shop:apiToken": Secret("t0ken")}).one(PARAMETER)

    assert parameter.secret_inputs == ["value"]
    assert is_secret(parameter.inputs["value"]) and not is_secret(parameter.inputs["description"])
    assert unsecret(parameter.inputs)["value"] == "t0ken"


def test_secret_keys_do_not_carry_over_to_the_next_run() -> None:
    seen: list[bool] = []

    def program() -> None:
        seen.append(pulumi.runtime.is_config_secret("shop:apiToken"))

    run_program(program, project="shop", config={"shop:apiToken": Secret("t0ken")})
    run_program(program, project="shop", config={"shop:apiToken": "plain"})

    assert seen == [True, False]


def test_a_secret_never_shows_its_value() -> None:
    assert "hunter2" not in repr(Secret("hunter2")) and "hunter2" not in repr({"k": Secret("hunter2")})


# --- preview ----------------------------------------------------------------------------------------


def vpc_and_subnet() -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
    aws.ec2.Subnet("a", vpc_id=vpc.id, cidr_block="10.0.0.0/24")
    pulumi.export("vpcId", vpc.id)
    pulumi.export("cidr", vpc.cidr_block)
    pulumi.export("arn", vpc.arn)
    pulumi.export("region", aws.get_region_output().region)


def test_a_preview_is_a_dry_run_and_an_up_is_not() -> None:
    seen: list[bool] = []

    def program() -> None:
        seen.append(pulumi.runtime.is_dry_run())

    run_program(program, preview=True)
    run_program(program)

    assert seen == [True, False]


def test_in_a_preview_ids_and_computed_attributes_are_unknown_while_given_inputs_are_known() -> None:
    rec = run_program(vpc_and_subnet, preview=True)

    assert is_unknown(rec.outputs["vpcId"]) and is_unknown(rec.outputs["arn"])
    assert rec.outputs["cidr"] == "10.0.0.0/16"
    subnet = rec.one("aws:ec2/subnet:Subnet")
    assert is_unknown(subnet.inputs["vpcId"]) and subnet.inputs["cidrBlock"] == "10.0.0.0/24"
    assert rec.one("aws:ec2/vpc:Vpc").inputs == {"cidrBlock": "10.0.0.0/16"}  # nothing computed


def test_in_a_preview_invokes_still_answer() -> None:
    assert run_program(vpc_and_subnet, preview=True).outputs["region"] == "eu-west-3"


def test_in_an_up_the_same_program_knows_everything() -> None:
    rec = run_program(vpc_and_subnet)

    assert rec.outputs["vpcId"] == "vpc-vpc" and not any(is_unknown(v) for v in rec.outputs.values())
    assert rec.one("aws:ec2/subnet:Subnet").inputs["vpcId"] == "vpc-vpc"


def test_in_a_preview_apply_callbacks_on_unknown_values_do_not_run() -> None:
    ran: list[str] = []

    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16").id.apply(ran.append)

    run_program(program, preview=True)
    assert ran == []
    run_program(program)
    assert ran == ["vpc-vpc"]


def test_stack_references_are_read_in_a_preview() -> None:
    def program() -> None:
        pulumi.export("vpc", pulumi.StackReference(NETWORK_STACK).get_output("vpcId"))

    rec = run_program(program, preview=True, stack_outputs={NETWORK_STACK: {"vpcId": "vpc-0abc"}})

    assert rec.outputs["vpc"] == "vpc-0abc"
