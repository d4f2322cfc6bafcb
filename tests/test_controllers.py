"""Platform controllers: pinned charts, values checked against the charts, IRSA roles, ordering, capacity."""

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack import AwsContext, HardstackError
from hardstack.aws.controller_roles import (
    ControllerRoles,
    ControllerRolesArgs,
    issuer_of,
    load_balancer_controller_statements,
)
from hardstack.core.controllers import capacity_at_max, node_shape
from hardstack.core.tier import Tier
from hardstack.k8s.controllers import (
    AUTOSCALER_IMAGE_TAGS,
    CHECKED_VALUE_KEYS,
    PlatformControllers,
    PlatformControllersArgs,
    value_paths,
)
from hardstack.tooling.testing import MOCK_ACCOUNT, Recording
from tests.test_cluster import NODE_GROUP, eks

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id=MOCK_ACCOUNT)
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
PROVIDER_ARN = f"arn:aws:iam::{MOCK_ACCOUNT}:oidc-provider/oidc.eks.eu-west-3.amazonaws.com/id/0123456789ABCDEF"
ISSUER_HOST = "oidc.eks.eu-west-3.amazonaws.com/id/0123456789ABCDEF"


def controllers(tier: Tier = Tier.PRODUCTION, **kw: Any) -> Callable[[], None]:
    """Roles and releases for a cluster named `main-cluster`, after a stand-in node group."""

    def program() -> None:
        nodes = aws.ec2.SecurityGroup("stand-in-node-group")
        roles = ControllerRoles(
            "ctl",
            ControllerRolesArgs(
                context=CTX,
                cluster_name="main-cluster",
                oidc_provider_arn=PROVIDER_ARN,
                oidc_issuer=issuer_of(PROVIDER_ARN),
            ),
        )
        PlatformControllers(
            "ctl",
            PlatformControllersArgs(
                **{
                    "cluster_name": "main-cluster",
                    "region": "eu-west-3",
                    "kubernetes_version": "1.33",
                    "tier": tier,
                    "cluster_autoscaler_role_arn": roles.cluster_autoscaler_role_arn,
                    "load_balancer_controller_role_arn": roles.load_balancer_controller_role_arn,
                    "vpc_id": "vpc-1",
                    "node_groups": [nodes],
                    "role_policies": roles.policies,
                    **kw,
                }
            ),
        )

    return program


@pytest.fixture(scope="module")
def rec() -> Recording:
    from hardstack.tooling.testing import run_program

    return run_program(controllers())


def release(rec: Recording, chart: str) -> dict[str, Any]:
    (found,) = [r.inputs for r in rec.of_type(RELEASE) if r.inputs["chart"] == chart]
    return found


# --- pinned releases, values checked against the charts -----------------------------------------


def test_each_controller_is_a_pinned_release_in_kube_system(rec: Recording) -> None:
    pins = {r.inputs["chart"]: (r.inputs["version"], r.inputs["namespace"]) for r in rec.of_type(RELEASE)}
    assert pins == {
        "metrics-server": ("3.13.1", "kube-system"),
        "cluster-autoscaler": ("9.51.0", "kube-system"),
        "aws-load-balancer-controller": ("3.5.0", "kube-system"),
    }


@pytest.mark.parametrize("chart", sorted(CHECKED_VALUE_KEYS))
def test_every_value_set_is_a_key_read_in_the_pinned_charts_values_file(rec: Recording, chart: str) -> None:
    # CHECKED_VALUE_KEYS lists the keys read in each chart's values.yaml at the pinned tag; a key set
    # without that reading fails here.
    assert value_paths(release(rec, chart)["values"]) <= CHECKED_VALUE_KEYS[chart]


def test_value_paths_descend_maps_and_stop_at_lists_and_annotation_maps() -> None:
    values = {"a": {"b": 1, "c": [1]}, "sa": {"annotations": {"eks.amazonaws.com/role-arn": "x"}}}
    assert value_paths(values) == {"a.b", "a.c", "sa.annotations"}


def test_releases_wait_for_their_pods_and_roll_back_on_failure(rec: Recording) -> None:
    for r in rec.of_type(RELEASE):
        assert r.inputs["atomic"] is True and r.inputs.get("skipAwait") in (None, False)


def test_production_runs_two_of_each_behind_a_budget(rec: Recording) -> None:
    assert release(rec, "metrics-server")["values"]["replicas"] == 2
    assert release(rec, "metrics-server")["values"]["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    assert release(rec, "cluster-autoscaler")["values"]["replicaCount"] == 2
    assert release(rec, "aws-load-balancer-controller")["values"]["replicaCount"] == 2


def test_development_runs_one_of_each_without_a_budget_that_would_block_drains(run: Run) -> None:
    values = release(run(controllers(Tier.DEVELOPMENT)), "metrics-server")["values"]
    assert values == {"replicas": 1}


# --- cluster autoscaler --------------------------------------------------------------------------


def test_autoscaler_discovers_only_this_clusters_node_groups(rec: Recording) -> None:
    values = release(rec, "cluster-autoscaler")["values"]
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == "eu-west-3"
    assert values["autoDiscovery"] == {
        "clusterName": "main-cluster",
        "tags": ["k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/main-cluster"],
    }


def test_autoscaler_release_matches_the_clusters_minor(run: Run) -> None:
    values = release(run(controllers(kubernetes_version="1.32")), "cluster-autoscaler")["values"]
    assert values["image"] == {"tag": "v1.32.7"}
    assert set(AUTOSCALER_IMAGE_TAGS) == {"1.31", "1.32", "1.33", "1.34"}


def test_autoscaler_refuses_a_minor_it_has_no_release_for() -> None:
    with pytest.raises(HardstackError, match=r"kubernetes_version = '1\.30'.*1\.31, 1\.32"):
        PlatformControllersArgs(
            cluster_name="c", region="eu-west-3", kubernetes_version="1.30", cluster_autoscaler_role_arn="arn"
        )


def test_autoscaler_policy_scopes_its_writes_by_the_clusters_tag(rec: Recording) -> None:
    policy = json.loads(rec.one(POLICY, "ctl-cluster-autoscaler").inputs["policy"])
    reads, writes = policy["Statement"]
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in reads["Action"])
    assert "Condition" not in reads
    assert writes["Action"] == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert writes["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/main-cluster": "owned"}}


# --- load balancer controller --------------------------------------------------------------------


def test_load_balancer_controller_is_told_its_cluster_region_and_vpc(rec: Recording) -> None:
    values = release(rec, "aws-load-balancer-controller")["values"]
    assert (values["clusterName"], values["region"], values["vpcId"]) == ("main-cluster", "eu-west-3", "vpc-1")


def test_load_balancer_controller_leaves_service_creation_independent_of_its_webhook(rec: Recording) -> None:
    assert release(rec, "aws-load-balancer-controller")["values"]["enableServiceMutatorWebhook"] is False


def test_load_balancer_controller_deletes_only_what_it_tagged() -> None:
    # The controller tags what it creates with elbv2.k8s.aws/cluster; deletes require that tag.
    deletes = (
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:DeleteTargetGroup",
        "ec2:DeleteSecurityGroup",
    )
    holding = [s for s in load_balancer_controller_statements() if set(deletes) & set(s["Action"])]
    assert {a for s in holding for a in s["Action"]} >= set(deletes)
    assert all(s["Condition"] == {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}} for s in holding)


def test_load_balancer_controller_policy_follows_the_partition() -> None:
    resources = [r for s in load_balancer_controller_statements("aws-cn") for r in _list(s["Resource"]) if r != "*"]
    assert resources and all(r.startswith("arn:aws-cn:") for r in resources)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_load_balancer_controller_crds_are_resources_of_their_own_at_the_charts_commit(rec: Recording) -> None:
    from hardstack.k8s.controllers import LOAD_BALANCER_CONTROLLER_CRDS_COMMIT

    crds = rec.of_type("kubernetes:yaml/v2:ConfigFile")
    base = f"https://raw.githubusercontent.com/aws/eks-charts/{LOAD_BALANCER_CONTROLLER_CRDS_COMMIT}"
    # Every file Helm installs from the chart's crds/: the TargetGroupBinding, IngressClassParams and
    # the other elbv2/aga CRDs, and the gateway.k8s.aws ones.
    assert sorted(c.inputs["file"] for c in crds) == [
        f"{base}/stable/aws-load-balancer-controller/crds/crds.yaml",
        f"{base}/stable/aws-load-balancer-controller/crds/gateway-crds.yaml",
    ]
    (release,) = [r for r in rec.of_type(RELEASE) if r.inputs["chart"] == "aws-load-balancer-controller"]
    # Helm installs crds/ once and never upgrades them: the release leaves them to these resources,
    # and waits for them (its webhooks serve TargetGroupBindings); on destroy it goes first.
    assert release.inputs["skipCrds"] is True
    assert {c.urn for c in crds} <= set(release.dependencies)
    others = [r for r in rec.of_type(RELEASE) if r is not release]
    assert others and all(not r.inputs.get("skipCrds") for r in others)


def test_load_balancer_controller_needs_the_vpc() -> None:
    with pytest.raises(HardstackError, match=r"vpc_id = None .* VPC id"):
        PlatformControllersArgs(
            cluster_name="c", region="eu-west-3", kubernetes_version="1.33", load_balancer_controller_role_arn="arn"
        )


# --- IRSA ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "chart", "account"),
    [
        ("ctl-cluster-autoscaler", "cluster-autoscaler", "cluster-autoscaler"),
        ("ctl-load-balancer-controller", "aws-load-balancer-controller", "aws-load-balancer-controller"),
    ],
)
def test_each_aws_controller_runs_as_its_own_role_trusted_by_its_service_account_only(
    rec: Recording, role: str, chart: str, account: str
) -> None:
    trust = json.loads(rec.one(ROLE, role).inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER_HOST}:sub": f"system:serviceaccount:kube-system:{account}",
            f"{ISSUER_HOST}:aud": "sts.amazonaws.com",
        }
    }
    values = release(rec, chart)["values"]
    service_account = values["rbac"]["serviceAccount"] if chart == "cluster-autoscaler" else values["serviceAccount"]
    assert service_account["name"] == account
    assert service_account["annotations"] == {
        "eks.amazonaws.com/role-arn": f"arn:aws:iam:eu-west-3:{MOCK_ACCOUNT}:Role/{role}"
    }


def test_metrics_server_calls_no_aws_api_and_gets_no_role(rec: Recording) -> None:
    assert sorted(r.name for r in rec.of_type(ROLE)) == ["ctl-cluster-autoscaler", "ctl-load-balancer-controller"]
    assert "serviceAccount" not in release(rec, "metrics-server")["values"]


def test_the_issuer_is_read_from_the_provider_arn_and_a_bad_arn_is_refused() -> None:
    assert issuer_of(PROVIDER_ARN) == f"https://{ISSUER_HOST}"
    with pytest.raises(HardstackError, match=r"oidc_provider_arn = 'arn:aws:iam::1:role/x' is refused"):
        ControllerRolesArgs(context=CTX, cluster_name="c", oidc_provider_arn="arn:aws:iam::1:role/x", oidc_issuer="i")


# --- ordering ------------------------------------------------------------------------------------


def test_every_release_waits_for_the_node_groups_and_the_aws_ones_for_their_policies(rec: Recording) -> None:
    nodes = rec.one("aws:ec2/securityGroup:SecurityGroup").urn
    policies = {r.urn for r in rec.of_type(POLICY)}
    for r in rec.of_type(RELEASE):
        assert nodes in r.dependencies
        if r.inputs["chart"] != "metrics-server":
            assert policies <= set(r.dependencies)


def test_the_cluster_exposes_its_node_groups_with_the_autoscalers_discovery_tags(run: Run) -> None:
    rec = run(eks())
    tags = rec.one(NODE_GROUP).inputs["tags"]
    physical = rec.one("aws:eks/cluster:Cluster").inputs["name"]
    assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert tags[f"k8s.io/cluster-autoscaler/{physical}"] == "owned"


# --- capacity ------------------------------------------------------------------------------------


def test_node_shapes_follow_the_families() -> None:
    assert node_shape("m6i.large") == node_shape("m6a.large")
    assert (node_shape("m6i.large").vcpus, node_shape("m6i.large").memory_gib) == (2, 8)
    assert (node_shape("c7i.4xlarge").vcpus, node_shape("c7i.4xlarge").memory_gib) == (16, 32)
    assert (node_shape("r6i.xlarge").vcpus, node_shape("r6i.xlarge").memory_gib) == (4, 32)
    assert (node_shape("t3.micro").vcpus, node_shape("t3.micro").memory_gib) == (2, Decimal(1))


def test_an_unknown_instance_family_is_refused_by_name() -> None:
    with pytest.raises(HardstackError, match=r"x2iedn\.large.*t3, t3a and the c, m, r families"):
        node_shape("x2iedn.large")


@given(
    replicas=st.integers(1, 500),
    cpu=st.integers(10, 4000),
    memory=st.integers(16, 8192),
    nodes=st.integers(1, 50),
    kind=st.sampled_from(["t3.large", "m6i.large", "m6i.2xlarge", "c6i.xlarge", "r6i.large"]),
)
def test_the_app_fits_exactly_up_to_the_replicas_the_nodes_can_hold(
    replicas: int, cpu: int, memory: int, nodes: int, kind: str
) -> None:
    capacity = capacity_at_max(replicas, Decimal(cpu), Decimal(memory), nodes, [kind])
    assert capacity.fits == (replicas <= capacity.max_replicas_that_fit)


@given(nodes=st.integers(1, 40), more=st.integers(1, 10), kind=st.sampled_from(["t3.large", "m6i.large", "r6i.xlarge"]))
def test_more_nodes_never_hold_fewer_replicas(nodes: int, more: int, kind: str) -> None:
    fewer = capacity_at_max(1, Decimal(100), Decimal(128), nodes, [kind])
    bigger = capacity_at_max(1, Decimal(100), Decimal(128), nodes + more, [kind])
    assert bigger.max_replicas_that_fit > fewer.max_replicas_that_fit


def test_the_smallest_listed_type_bounds_the_capacity() -> None:
    mixed = capacity_at_max(10, Decimal(100), Decimal(128), 3, ["m6i.xlarge", "t3.medium"])
    small = capacity_at_max(10, Decimal(100), Decimal(128), 3, ["t3.medium"])
    assert mixed == small


# --- the stacks ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod() -> Recording:
    from stacks.offline import run_stack

    return run_stack("prod")


def test_every_managed_stack_installs_the_three_controllers(prod: Recording) -> None:
    charts = {r.inputs["chart"] for r in prod.of_type(RELEASE)}
    assert charts >= {"metrics-server", "cluster-autoscaler", "aws-load-balancer-controller"}


def test_the_stacks_ingress_is_an_alb_with_the_stacks_certificate_admitted_from_the_public_subnets(
    prod: Recording,
) -> None:
    from stacks.offline import stack_config

    ingress = prod.one("kubernetes:networking.k8s.io/v1:Ingress").inputs
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == stack_config("prod")["hardstack:certificateArn"]
    public = sorted(subnet["cidr"] for subnet in prod.outputs["addressPlan"]["public"])
    policy = prod.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "app-allow-http-from-load-balancer").inputs
    assert sorted(p["ipBlock"]["cidr"] for p in policy["spec"]["ingress"][0]["from"]) == public


def test_the_app_namespace_asks_for_alb_readiness_gates(prod: Recording) -> None:
    namespace = prod.one("kubernetes:core/v1:Namespace", "platform-app").inputs
    assert namespace["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_the_ingress_hostname_is_a_stack_output(prod: Recording) -> None:
    assert "appIngressHostname" in prod.outputs


def test_existing_mode_installs_the_controllers_asked_for_with_roles_on_the_given_provider() -> None:
    from stacks.offline import run_stack
    from tests.test_settings import EXISTING_KUBECONFIG

    rec = run_stack(
        "test",
        {
            "hardstack:clusterMode": "existing",
            "hardstack:kubeconfig": EXISTING_KUBECONFIG,
            "hardstack:existingClusterLoadBalancerCidrs": ["172.20.0.0/24"],
            "hardstack:clusterAutoscaler": True,
            "hardstack:loadBalancerController": True,
            "hardstack:existingClusterName": "shared",
            "hardstack:existingClusterOidcProviderArn": PROVIDER_ARN,
            "hardstack:existingClusterVpcId": "vpc-0a1b2c3d4e5f60718",
        },
    )
    trust = json.loads(rec.one(ROLE, "controllers-cluster-autoscaler").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Federated": PROVIDER_ARN}
    assert release(rec, "aws-load-balancer-controller")["values"]["vpcId"] == "vpc-0a1b2c3d4e5f60718"
    assert release(rec, "cluster-autoscaler")["values"]["autoDiscovery"]["clusterName"] == "shared"


def test_an_existing_clusters_alb_is_admitted_from_its_own_public_subnets() -> None:
    from stacks.offline import run_stack
    from tests.test_settings import EXISTING_KUBECONFIG

    rec = run_stack(
        "test",
        {
            "hardstack:clusterMode": "existing",
            "hardstack:kubeconfig": EXISTING_KUBECONFIG,
            "hardstack:existingClusterLoadBalancerCidrs": ["172.20.0.0/24"],
        },
    )
    policy = rec.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "app-allow-http-from-load-balancer").inputs
    assert policy["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "172.20.0.0/24"}}]
    # Monitoring is the cluster owner's there unless asked for (hardstack:clusterMonitoring).
    assert {r.inputs["chart"] for r in rec.of_type(RELEASE)} == {"metrics-server"}


def test_what_the_load_balancer_controller_creates_carries_the_stack_tags() -> None:
    from stacks.offline import run_stack

    # Provider default tags never reach the ALB, target groups and security groups the controller makes.
    values = release(run_stack("test", {"hardstack:tags": {"CostCenter": "42"}}), "aws-load-balancer-controller")
    tags = values["values"]["defaultTags"]
    assert {"Project": "hardstack", "Stack": "test", "ManagedBy": "pulumi", "CostCenter": "42"}.items() <= tags.items()
    assert value_paths(values["values"]) <= CHECKED_VALUE_KEYS["aws-load-balancer-controller"]


def test_the_controllers_reserve_what_they_use() -> None:
    from stacks.offline import run_stack

    rec = run_stack("test")
    for chart in ("aws-load-balancer-controller", "cluster-autoscaler"):
        resources = release(rec, chart)["values"]["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"} and "memory" in resources["limits"], chart
