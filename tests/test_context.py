from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pytest

from hardstack import AwsContext, HardstackError, SecurityGroup, SecurityGroupArgs
from hardstack.tooling.testing import MOCK_ACCOUNT, HardstackMocks, Recording

Run = Callable[..., Recording]
GET_REGION = "aws:index/getRegion:getRegion"
PROVIDER = "pulumi:providers:aws"


def deploy_in(region: str, *, explicit_provider: str | None = None) -> Callable[[], None]:
    """A program that looks its context up for `region` and builds on it."""

    def program() -> None:
        opts = None
        if explicit_provider is not None:
            opts = pulumi.InvokeOptions(provider=aws.Provider("aws", region=explicit_provider))
        context = AwsContext.lookup(region, opts)
        SecurityGroup("web", SecurityGroupArgs(vpc_id="vpc-1", description="web"))
        pulumi.export("account", context.account_id)
        pulumi.export("region", context.region)

    return program


def test_region_other_than_the_providers_is_refused_before_any_resource(run: Run) -> None:
    rec = Recording()
    with pytest.raises(HardstackError) as refused:
        run(deploy_in("eu-west-3"), mocks=HardstackMocks(region="eu-west-1"), recording=rec)

    assert str(refused.value) == ("region = 'eu-west-3' is refused: the region of the AWS provider, eu-west-1")
    assert len(rec) == 0


def test_region_other_than_an_explicit_providers_is_refused_before_any_resource(run: Run) -> None:
    rec = Recording()
    with pytest.raises(HardstackError, match=r"^region = 'us-east-1' is refused: .*provider, eu-west-1$"):
        run(deploy_in("us-east-1", explicit_provider="eu-west-1"), mocks=HardstackMocks("eu-west-1"), recording=rec)

    # The provider itself comes first (the check asks it); nothing built on the context exists.
    assert [r.type for r in rec] == [PROVIDER]


def test_the_providers_region_gives_the_context(run: Run) -> None:
    rec = run(deploy_in("eu-west-1"), mocks=HardstackMocks(region="eu-west-1"))

    assert rec.outputs == {"account": MOCK_ACCOUNT, "region": "eu-west-1"}
    assert [i.token for i in rec.invokes].count(GET_REGION) == 1


def test_an_explicit_providers_region_gives_the_context(run: Run) -> None:
    rec = run(deploy_in("eu-west-1", explicit_provider="eu-west-1"), mocks=HardstackMocks(region="eu-west-1"))

    assert rec.outputs["region"] == "eu-west-1"
    assert rec.one("hardstack:network:SecurityGroup")


def test_malformed_region_is_refused_before_any_invoke(run: Run) -> None:
    rec = Recording()
    with pytest.raises(HardstackError, match=r"^aws:region = 'Paris' is refused"):
        run(deploy_in("Paris"), recording=rec)

    assert rec.invokes == [] and len(rec) == 0
