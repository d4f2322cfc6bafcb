from collections.abc import Callable
from typing import Any

import pytest

from components.errors import HardstackError
from components.testing import Recording
from stacks.offline import stack_config
from stacks.settings import PROFILES, parse_settings

BASE = {"aws:region": "eu-west-3", "hardstack:environment": "test", "hardstack:vpcCidr": "10.10.0.0/16"}


def settings(**overrides: Any) -> Any:
    return parse_settings({**BASE, **{f"hardstack:{k}" if ":" not in k else k: v for k, v in overrides.items()}})


def refused(**overrides: Any) -> str:
    with pytest.raises(HardstackError) as err:
        settings(**overrides)
    return str(err.value)


def test_profile_fills_what_the_stack_file_leaves_out() -> None:
    s = settings()
    assert (s.az_count, s.nat_strategy, s.protect) == (2, "single", False)
    prod = settings(environment="prod")
    assert (prod.az_count, prod.nat_strategy, prod.protect, prod.log_retention_days) == (3, "per_az", True, 365)


def test_stack_file_overrides_the_profile() -> None:
    assert settings(azCount="3", natStrategy="none").az_count == 3


@pytest.mark.parametrize("stack", ["test", "preprod", "prod"])
def test_every_stack_file_is_valid(stack: str) -> None:
    assert parse_settings(stack_config(stack)).environment == stack


def test_malformed_vpc_cidr_is_refused() -> None:
    msg = refused(vpcCidr="10.0.0/16")
    assert "hardstack:vpcCidr" in msg and "'10.0.0/16'" in msg and "CIDR notation" in msg


def test_public_vpc_cidr_is_refused() -> None:
    msg = refused(vpcCidr="52.0.0.0/16")
    assert "hardstack:vpcCidr" in msg and "RFC 1918" in msg


def test_vpc_cidr_too_small_for_the_plan_is_refused() -> None:
    msg = refused(vpcCidr="10.0.0.0/26")
    assert "hardstack:vpcCidr" in msg and "too small for the plan" in msg and "/22 or larger" in msg


@pytest.mark.parametrize("azs", [1, 7])
def test_az_count_outside_two_to_six_is_refused(azs: int) -> None:
    msg = refused(azCount=azs)
    assert "hardstack:azCount" in msg and repr(azs) in msg and "from 2 to 6" in msg


def test_unknown_nat_strategy_is_refused() -> None:
    msg = refused(natStrategy="dual")
    assert "hardstack:natStrategy" in msg and "'dual'" in msg and "per_az" in msg


def test_unknown_environment_is_refused() -> None:
    msg = refused(environment="staging")
    assert "hardstack:environment" in msg and "'staging'" in msg and "preprod" in msg


def test_world_open_admin_port_is_refused() -> None:
    rule = {"to": "app", "cidr": "0.0.0.0/0", "fromPort": 22, "description": "ssh"}
    msg = refused(extraIngress=[rule])
    assert "hardstack:extraIngress[0]" in msg and "22 (SSH)" in msg


def test_port_outside_the_range_is_refused() -> None:
    rule = {"to": "lb", "cidr": "10.1.0.0/16", "fromPort": 70000, "description": "x"}
    msg = refused(extraIngress=[rule])
    assert "hardstack:extraIngress[0].fromPort" in msg and "70000" in msg and "65535" in msg


def test_port_range_from_above_to_is_refused() -> None:
    rule = {"to": "lb", "cidr": "10.1.0.0/16", "fromPort": 9000, "toPort": 8000, "description": "x"}
    msg = refused(extraIngress=[rule])
    assert "hardstack:extraIngress[0]" in msg and "9000-8000" in msg and "from_port must be <= to_port" in msg


@pytest.mark.parametrize("key", ["hardstack:vpcCidr", "aws:region"])
def test_missing_required_key_is_refused(key: str) -> None:
    config = {k: v for k, v in BASE.items() if k != key}
    with pytest.raises(HardstackError, match=f"{key} is required"):
        parse_settings(config)


def test_missing_environment_is_refused() -> None:
    with pytest.raises(HardstackError, match="hardstack:environment is required"):
        parse_settings({"aws:region": "eu-west-3", "hardstack:vpcCidr": "10.0.0.0/16"})


def test_misspelt_key_is_refused_with_the_known_keys() -> None:
    msg = refused(vpcCIDR="10.0.0.0/16")
    assert "hardstack:vpcCIDR is not a known setting" in msg and "hardstack:vpcCidr" in msg


def test_bad_region_is_refused() -> None:
    assert "aws:region" in refused(**{"aws:region": "paris"})


def test_unknown_log_retention_is_refused() -> None:
    assert "hardstack:logRetentionDays" in refused(logRetentionDays=100)


def test_app_port_on_an_admin_port_is_refused() -> None:
    msg = refused(appPort=22)
    assert "hardstack:appPort" in msg and "SSH" in msg


@pytest.mark.parametrize(("key", "value"), [("protect", False), ("flowLogs", False)])
def test_prod_refuses_unsafe_opt_outs(key: str, value: Any) -> None:
    msg = refused(environment="prod", **{key: value})
    assert f"hardstack:{key}" in msg and "prod" in msg
    settings(**{key: value})  # the same opt-out is allowed in test


def test_profiles_cover_every_environment() -> None:
    assert set(PROFILES) == {"test", "preprod", "prod"}


def test_bad_config_registers_nothing() -> None:
    from components.testing import run_program
    from stacks.program import main

    rec = Recording()
    with pytest.raises(HardstackError, match="hardstack:natStrategy"):
        run_program(main, stack="prod", config={**stack_config("prod"), "hardstack:natStrategy": "x"}, recording=rec)
    assert len(rec) == 0


def test_structured_config_arrives_as_json(stack: Callable[..., Recording]) -> None:
    rule = {"to": "lb", "cidr": "192.168.10.0/24", "fromPort": 443, "description": "office"}
    rec = stack("test", **{"hardstack:extraIngress": [rule]})
    assert rec.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "lb-in-tcp-443-cidr-192-168-10-0-24")
