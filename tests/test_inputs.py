"""Id lists from another stack (one `Output[list[str]]`, as a StackReference returns) work everywhere."""

from collections.abc import Callable
from typing import Any

import pulumi
import test_cluster
import test_database
import test_fleet
import test_load_balancer

from hardstack import Cluster, Database, Fleet, LoadBalancer
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]


def ids(*values: str) -> pulumi.Output[list[str]]:
    """What `StackReference.get_output("subnetIds")` gives: one Output holding the whole list."""
    return pulumi.Output.from_input(list(values))


def test_load_balancer_takes_subnets_as_one_output(run: Run) -> None:
    def program() -> None:
        LoadBalancer("web", test_load_balancer.args(subnet_ids=ids("subnet-a", "subnet-b")))

    lb = run(program).one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert lb["subnets"] == ["subnet-a", "subnet-b"]


def test_fleet_takes_subnets_and_groups_as_outputs(run: Run) -> None:
    def program() -> None:
        Fleet("app", test_fleet.args(subnet_ids=ids("subnet-a", "subnet-b"), security_group_ids=ids("sg-app")))

    rec = run(program)
    assert rec.one("aws:autoscaling/group:Group").inputs["vpcZoneIdentifiers"] == ["subnet-a", "subnet-b"]
    template = rec.one("aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["networkInterfaces"][0]["securityGroups"] == ["sg-app"]


def test_database_takes_subnets_and_groups_as_outputs(run: Run) -> None:
    def program() -> None:
        Database("main", test_database.args(subnet_ids=ids("iso-a", "iso-b"), security_group_ids=ids("sg-data")))

    rec = run(program)
    assert rec.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"] == ["iso-a", "iso-b"]
    assert rec.one("aws:rds/instance:Instance").inputs["vpcSecurityGroupIds"] == ["sg-data"]


def test_cluster_takes_subnets_and_node_groups_as_outputs(run: Run) -> None:
    def program() -> None:
        built: Any = test_cluster.args(subnet_ids=ids("subnet-a", "subnet-b"), node_security_group_ids=ids("sg-x"))
        Cluster("main", built)

    rec = run(program)
    assert rec.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]["subnetIds"] == ["subnet-a", "subnet-b"]
    template = rec.of_type("aws:ec2/launchTemplate:LaunchTemplate")[0].inputs
    assert "sg-x" in template["vpcSecurityGroupIds"]
