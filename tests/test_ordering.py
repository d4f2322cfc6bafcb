"""Creation order AWS and Kubernetes need beyond data flow, as rules over the recorded graph.

The mock runtime accepts any order; a real `pulumi up` does not. Each rule says what must exist
before what, and why, and holds transitively the way the engine waits: a resource waits for its
dependencies, its provider, and whatever its parent waits for (`hardstack.tooling.plan.waits_for`).
"""

from collections.abc import Callable

import pytest

from hardstack.tooling.plan import build_plan, waits_for
from hardstack.tooling.testing import RecordedResource, Recording
from stacks.offline import STACKS, run_stack

Rule = Callable[[RecordedResource], bool]


def of(type_: str, name: str | None = None, *, prefix: str | None = None) -> Rule:
    def match(r: RecordedResource) -> bool:
        return r.type == type_ and (name is None or r.name == name) and (prefix is None or r.name.startswith(prefix))

    return match


def missing_waits(rec: Recording, later: Rule, earlier: Rule) -> list[str]:
    """Pairs (later, earlier) where `later` may start before `earlier` is done."""
    plan = build_plan("x", rec)
    befores = [r for r in rec if earlier(r)]
    afters = [r for r in rec if later(r)]
    assert befores and afters, "a rule must match resources on both sides"
    wrong = []
    for after in afters:
        done_first = waits_for(plan, after.urn)
        wrong += [f"{after.name} does not wait for {before.name}" for before in befores if before.urn not in done_first]
    return wrong


@pytest.fixture(scope="module", params=STACKS)
def rec(request: pytest.FixtureRequest) -> Recording:
    return run_stack(request.param)


@pytest.fixture(scope="module")
def prod() -> Recording:
    return run_stack("prod")


ALB = of("aws:lb/loadBalancer:LoadBalancer")
ASG = of("aws:autoscaling/group:Group")
NODE_GROUP = of("aws:eks/nodeGroup:NodeGroup")


def test_the_alb_waits_for_the_internet_gateway_route(rec: Recording) -> None:
    # CreateLoadBalancer: "InvalidSubnet: VPC ... has no internet gateway" without it.
    assert missing_waits(rec, ALB, of("aws:ec2/route:Route", "net-public-default")) == []


def test_the_alb_waits_for_its_log_bucket_policy(prod: Recording) -> None:
    # ELB writes a test object when access logs are turned on: "Access Denied for bucket" without it.
    assert missing_waits(prod, ALB, of("aws:s3/bucketPolicy:BucketPolicy", prefix="web-logs")) == []


def test_hosts_wait_for_the_nat_routes_of_their_subnets(rec: Recording) -> None:
    # cloud-init runs once: a host that boots before its route out never installs its agents.
    assert missing_waits(rec, ASG, of("aws:ec2/route:Route", prefix="net-private-")) == []


def test_nodes_wait_for_the_nat_routes_and_the_cni(prod: Recording) -> None:
    assert missing_waits(prod, NODE_GROUP, of("aws:ec2/route:Route", prefix="net-private-")) == []
    assert missing_waits(prod, NODE_GROUP, of("aws:eks/addon:Addon", "eks-vpc-cni")) == []


def test_the_flow_log_waits_for_its_role_policy(rec: Recording) -> None:
    # CreateFlowLogs checks the role's permissions when it is called.
    assert missing_waits(rec, of("aws:ec2/flowLog:FlowLog"), of("aws:iam/rolePolicy:RolePolicy", "net-flow-logs")) == []


def test_the_migration_job_waits_for_the_policies_that_let_it_out() -> None:
    rec = run_stack("test", {"hardstack:appMigrationCommand": ["./migrate", "up"]})
    job = of("kubernetes:batch/v1:Job", "app-migrate")
    assert missing_waits(rec, job, of("kubernetes:networking.k8s.io/v1:NetworkPolicy", prefix="app-allow-")) == []


def test_the_prometheus_release_waits_for_the_storage_class_it_claims_from(rec: Recording) -> None:
    release = of("kubernetes:helm.sh/v3:Release", "monitoring")
    assert missing_waits(rec, release, of("kubernetes:storage.k8s.io/v1:StorageClass")) == []


def test_kubernetes_objects_wait_for_the_cluster_through_their_provider(prod: Recording) -> None:
    deployment = of("kubernetes:apps/v1:Deployment")
    assert missing_waits(prod, deployment, of("aws:eks/cluster:Cluster")) == []


def test_the_control_plane_does_not_wait_for_nat(prod: Recording) -> None:
    # Nothing serialised without a reason: the cluster needs subnets, not their routes out.
    plan = build_plan("prod", prod)
    cluster = prod.one("aws:eks/cluster:Cluster")
    nat_routes = {r.urn for r in prod.of_type("aws:ec2/route:Route") if r.name.startswith("net-private-")}
    assert nat_routes and not nat_routes & waits_for(plan, cluster.urn)


def test_custom_resources_wait_for_the_release_that_installs_their_crds(rec: Recording) -> None:
    rules = of("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert missing_waits(rec, rules, of("kubernetes:helm.sh/v3:Release", "monitoring")) == []


def test_platform_controllers_wait_for_the_node_groups_their_pods_run_on(rec: Recording) -> None:
    # An atomic release waits for its pods to be ready, which never happens before a node joins.
    assert missing_waits(rec, of("kubernetes:helm.sh/v3:Release", prefix="controllers-"), NODE_GROUP) == []


def test_the_apps_ingress_and_service_wait_for_the_load_balancer_controller(rec: Recording) -> None:
    # Its admission webhook (failurePolicy Fail) must answer before an Ingress is accepted; on
    # destroy the reverse order lets the controller delete the ALB it made.
    controller = of("kubernetes:helm.sh/v3:Release", "controllers-load-balancer-controller")
    for later in ("kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:core/v1:Service"):
        assert missing_waits(rec, of(later), controller) == []
