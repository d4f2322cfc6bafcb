"""`tasks.py rollout`: the latest instance refresh's outcome, read through the real AutoScaling
API model (botocore's Stubber refuses a request or a reply that does not match it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stacks.rollout import stack_region, watch

GROUP = "app-0a1b2c3"


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "autoscaling", region_name="eu-west-3", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _reply(stub: Stubber, *refreshes: dict[str, Any]) -> None:
    stub.add_response(
        "describe_instance_refreshes",
        {"InstanceRefreshes": list(refreshes)},
        {"AutoScalingGroupName": GROUP, "MaxRecords": 1},
    )


def _refresh(status: str, **extra: Any) -> dict[str, Any]:
    return {"InstanceRefreshId": "r-1", "AutoScalingGroupName": GROUP, "Status": status, **extra}


@pytest.mark.parametrize(
    ("status", "code"),
    [("Successful", 0), ("Failed", 1), ("Cancelled", 1), ("RollbackSuccessful", 1), ("InProgress", 2)],
)
def test_exit_status_follows_the_latest_refresh(stubbed: tuple[Any, Stubber], status: str, code: int) -> None:
    client, stub = stubbed
    _reply(stub, _refresh(status, PercentageComplete=50, StatusReason="because"))
    said: list[str] = []
    assert watch(client, GROUP, wait_seconds=0, say=said.append) == code
    assert said[0] == f"instance refresh r-1: {status}, 50 % replaced (because)"
    assert ("revert the change" in " ".join(said)) is (code == 1)


def test_no_refresh_yet_is_not_a_failure(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    _reply(stub)
    said: list[str] = []
    assert watch(client, GROUP, wait_seconds=0, say=said.append) == 0
    assert "no instance refresh has run" in said[0]


def test_waits_for_a_running_refresh_to_end(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    _reply(stub, _refresh("InProgress", PercentageComplete=30))
    _reply(stub, _refresh("Failed", StatusReason="alarm web-unhealthy-targets in ALARM"))
    slept: list[float] = []
    code = watch(client, GROUP, wait_seconds=600, poll_seconds=30, say=lambda _: None, sleep=slept.append)
    assert code == 1 and slept == [30]


def test_the_region_comes_from_the_stack_file() -> None:
    assert stack_region("prod") == "eu-west-3"
    with pytest.raises(SystemExit, match=r"no stacks/Pulumi\.nope\.yaml"):
        stack_region("nope")
