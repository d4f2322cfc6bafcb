import json
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hardstack import AwsContext, HardstackError
from hardstack.aws.cluster import (
    ADDON_VERSIONS,
    CLUSTER_LOG_TYPES,
    REQUIRED_ADDONS,
    SUPPORTED_VERSIONS,
    Cluster,
    ClusterArgs,
    ExistingCluster,
    ExistingClusterArgs,
    NodeGroupSpec,
    addon_versions_for,
    render_kubeconfig,
    role_name_of,
    validate_cluster_upgrade,
    validate_existing_kubeconfig,
    validate_node_groups_caught_up,
)
from hardstack.core.tier import Tier
from hardstack.tooling.testing import MOCK_ACCOUNT, HardstackMocks, MockNodeGroup, Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id=MOCK_ACCOUNT)
SECRETS_KEY = "arn:aws:kms:eu-west-3:123456789012:key/secrets"
VOLUME_KEY = "arn:aws:kms:eu-west-3:123456789012:key/volumes"
ISSUER = "https://oidc.eks.eu-west-3.amazonaws.com/id/0123456789ABCDEF"
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
OPS = "arn:aws:iam::123456789012:role/teams/ops-admin"
VIEWER = "arn:aws:iam::123456789012:role/auditor"
VERSIONS = {
    "vpc-cni": "v1.19.2-eksbuild.1",
    "kube-proxy": "v1.32.0-eksbuild.2",
    "coredns": "v1.11.4-eksbuild.2",
    "aws-ebs-csi-driver": "v1.38.1-eksbuild.2",
}  # explicit versions for 1.32, over the pinned table
CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def group(**kw: Any) -> NodeGroupSpec:
    base: dict[str, Any] = {
        "name": "general",
        "instance_types": ["m6i.large"],
        "min_size": 2,
        "max_size": 5,
        "desired_size": 2,
    }
    return NodeGroupSpec(**{**base, **kw})


def args(**kw: Any) -> ClusterArgs:
    base: dict[str, Any] = {
        "context": CTX,
        "version": "1.32",
        "vpc_id": "vpc-1",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "tier": Tier.DEVELOPMENT,
        "secrets_key_arn": SECRETS_KEY,
        "volume_key_arn": VOLUME_KEY,
        "admin_role_arns": [ADMIN, OPS],
        "readonly_role_arns": [VIEWER],
        "node_groups": [group()],
        "addon_versions": VERSIONS,
        "log_retention_days": 90,
        "deployer_cidrs": ["10.0.0.0/20"],
    }
    return ClusterArgs(**{**base, **kw})


def eks(**kw: Any) -> Callable[[], None]:
    built = args(**kw)

    def program() -> None:
        cluster = Cluster("main", built)
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("clusterSecurityGroupId", cluster.cluster_security_group_id)
        pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)

    return program


@pytest.fixture
def rec(run: Run) -> Recording:
    return run(eks())


def plain(value: Any) -> Any:
    """A secret input as the engine sees it is a wrapper holding the value."""
    return value["value"] if isinstance(value, dict) and "value" in value else value


def cluster_inputs(rec: Recording) -> dict[str, Any]:
    return rec.one(CLUSTER).inputs


# --- the cluster ---------------------------------------------------------------------------------


def test_secrets_are_envelope_encrypted_with_the_customer_key(rec: Recording) -> None:
    encryption = cluster_inputs(rec)["encryptionConfig"]
    assert encryption == {"resources": ["secrets"], "provider": {"keyArn": SECRETS_KEY}}


def test_cluster_role_may_use_the_secrets_key(rec: Recording) -> None:
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy", "main-cluster-secrets-key").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Resource"] == SECRETS_KEY and "kms:Decrypt" in statement["Action"]


def test_all_five_control_plane_log_types_are_enabled(rec: Recording) -> None:
    assert sorted(cluster_inputs(rec)["enabledClusterLogTypes"]) == sorted(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    )
    assert len(CLUSTER_LOG_TYPES) == 5


def test_log_group_is_the_one_eks_writes_to_with_retention_and_exists_first(rec: Recording) -> None:
    logs = rec.one("aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["name"] == "/aws/eks/hardstack-test-main/cluster"
    assert logs.inputs["retentionInDays"] == 90
    assert cluster_inputs(rec)["name"] == "hardstack-test-main"
    assert logs.urn in rec.one(CLUSTER).dependencies


def test_access_is_through_the_api_with_no_bootstrap_admin(rec: Recording) -> None:
    assert cluster_inputs(rec)["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }


def test_endpoint_is_private_only_by_default(rec: Recording) -> None:
    vpc = cluster_inputs(rec)["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == ["subnet-a", "subnet-b"]


def test_control_plane_keeps_the_subnets_it_was_created_in(rec: Recording) -> None:
    # UpdateClusterConfig refuses subnets of AZs the cluster was not created in; nodes take new AZs.
    assert rec.one(CLUSTER).ignore_changes == ["vpcConfig.subnetIds"]


def test_public_endpoint_is_limited_to_the_given_cidrs(run: Run) -> None:
    rec = run(eks(endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"]))
    vpc = cluster_inputs(rec)["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_version_is_pinned(rec: Recording) -> None:
    assert cluster_inputs(rec)["version"] == "1.32"


def test_protect_reaches_the_cluster_and_its_logs(run: Run) -> None:
    rec = run(eks(protect=True))
    cluster = rec.one(CLUSTER)
    assert cluster.protect and cluster.inputs["deletionProtection"] is True
    logs = rec.one("aws:cloudwatch/logGroup:LogGroup")
    assert logs.protect and logs.retain_on_delete


def test_nothing_is_protected_when_not_asked(rec: Recording) -> None:
    assert rec.protected() == []


# --- access entries ------------------------------------------------------------------------------


def test_each_role_gets_an_access_entry_named_by_role_and_the_right_policy(rec: Recording) -> None:
    entries = {r.name: r.inputs["principalArn"] for r in rec.of_type("aws:eks/accessEntry:AccessEntry")}
    assert entries == {"main-access-platform-admin": ADMIN, "main-access-ops-admin": OPS, "main-access-auditor": VIEWER}
    policies = {r.name: (r.inputs["policyArn"], r.inputs["accessScope"]) for r in rec.of_type(ASSOCIATION)}
    admin = ("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", {"type": "cluster"})
    view = ("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", {"type": "cluster"})
    assert policies == {"main-admin-platform-admin": admin, "main-admin-ops-admin": admin, "main-view-auditor": view}


def test_reordering_roles_keeps_every_name(run: Run) -> None:
    def names(rec: Recording) -> dict[str, Any]:
        found = rec.of_type("aws:eks/accessEntry:AccessEntry") + rec.of_type(ASSOCIATION)
        return {r.name: r.inputs["principalArn"] for r in found}

    before = names(run(eks(admin_role_arns=[ADMIN, OPS])))
    after = names(run(eks(admin_role_arns=[OPS, ADMIN])))
    assert before == after


@given(
    st.from_regex(r"[A-Za-z0-9+=,.@_-]{1,64}", fullmatch=True), st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True))
)
def test_role_key_is_the_role_name_whatever_the_path(role: str, path: list[str]) -> None:
    arn = f"arn:aws:iam::123456789012:role/{''.join(p + '/' for p in path)}{role}"
    assert role_name_of(arn) == role


# --- IRSA and the OIDC provider ------------------------------------------------------------------


def test_oidc_provider_trusts_the_cluster_issuer_for_sts(rec: Recording) -> None:
    oidc = rec.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert oidc["url"] == ISSUER and oidc["clientIdLists"] == ["sts.amazonaws.com"]


def trust(rec: Recording, role: str) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(rec.one("aws:iam/role:Role", role).inputs["assumeRolePolicy"])["Statement"][
        0
    ]
    return statement


def test_ebs_csi_role_trusts_only_its_service_account_through_the_oidc_provider(rec: Recording) -> None:
    statement = trust(rec, "main-ebs-csi")
    host = ISSUER.removeprefix("https://")
    assert statement["Principal"] == {"Federated": rec.outputs["oidcProviderArn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        f"{host}:aud": "sts.amazonaws.com",
    }


def test_ebs_csi_role_has_the_driver_policy_and_the_volume_key(rec: Recording) -> None:
    attached = rec.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "main-ebs-csi").inputs["policyArn"]
    assert attached == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy", "main-ebs-csi-volume-key").inputs["policy"])
    use, grants = policy["Statement"]
    assert use["Resource"] == VOLUME_KEY and "kms:GenerateDataKey*" in use["Action"]
    assert grants["Resource"] == VOLUME_KEY and grants["Condition"]["Bool"]["kms:GrantIsForAWSResource"] == "true"


def test_vpc_cni_uses_its_own_irsa_role_not_the_node_role(rec: Recording) -> None:
    sub = trust(rec, "main-vpc-cni")["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:aws-node" in sub.values()
    node_policies = {
        r.inputs["policyArn"]
        for r in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("main-nodes-")
    }
    assert node_policies == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    }
    assert (
        rec.one(ADDON, "main-vpc-cni").inputs["serviceAccountRoleArn"]
        == rec.one("aws:iam/role:Role", "main-vpc-cni").inputs["arn"]
    )


# --- node groups ---------------------------------------------------------------------------------


def test_node_launch_template_requires_imdsv2_with_hop_limit_one(rec: Recording) -> None:
    meta = rec.one("aws:ec2/launchTemplate:LaunchTemplate", "main-general").inputs["metadataOptions"]
    assert meta["httpTokens"] == "required" and meta["httpPutResponseHopLimit"] == 1


def test_node_volumes_are_encrypted_gp3_under_the_volume_key_and_no_key_pair(rec: Recording) -> None:
    template = rec.one("aws:ec2/launchTemplate:LaunchTemplate", "main-general").inputs
    (mapping,) = template["blockDeviceMappings"]
    assert mapping["ebs"]["volumeType"] == "gp3" and mapping["ebs"]["encrypted"] == "true"
    assert mapping["ebs"]["kmsKeyId"] == VOLUME_KEY and mapping["ebs"]["volumeSize"] == 50
    assert "keyName" not in template
    assert {s["resourceType"] for s in template["tagSpecifications"]} >= {"instance", "volume"}


def test_nodes_keep_the_cluster_security_group_next_to_extra_groups(run: Run) -> None:
    rec = run(eks(node_security_group_ids=["sg-extra"]))
    template = rec.one("aws:ec2/launchTemplate:LaunchTemplate", "main-general").inputs
    assert template["vpcSecurityGroupIds"] == ["sg-cluster", "sg-extra"]


def test_node_group_rolls_updates_and_leaves_desired_size_to_the_autoscaler(rec: Recording) -> None:
    node_group = rec.one(NODE_GROUP)
    i = node_group.inputs
    assert i["updateConfig"] == {"maxUnavailablePercentage": 33}
    assert i["scalingConfig"] == {"minSize": 2, "maxSize": 5, "desiredSize": 2}
    assert node_group.ignore_changes == ["scalingConfig.desiredSize"]
    assert i["launchTemplate"] == {"id": "lt-main-general", "version": "1"}
    assert i["amiType"] == "AL2023_x86_64_STANDARD" and i["instanceTypes"] == ["m6i.large"]
    assert i["labels"]["hardstack/node-group"] == "general"


# --- add-ons -------------------------------------------------------------------------------------


def test_four_addons_at_their_pinned_versions_overwriting_on_update(rec: Recording) -> None:
    addons = {r.inputs["addonName"]: r.inputs for r in rec.of_type(ADDON)}
    assert {name: a["addonVersion"] for name, a in addons.items()} == VERSIONS
    assert {a["resolveConflictsOnUpdate"] for a in addons.values()} == {"OVERWRITE"}
    ebs_role = rec.one("aws:iam/role:Role", "main-ebs-csi").inputs["arn"]
    assert addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"] == ebs_role


def test_coredns_and_ebs_csi_wait_for_the_nodes_and_nodes_wait_for_networking(rec: Recording) -> None:
    node_group = rec.one(NODE_GROUP)
    for addon in ("main-coredns", "main-aws-ebs-csi-driver"):
        assert node_group.urn in rec.one(ADDON, addon).dependencies
    for addon in ("main-vpc-cni", "main-kube-proxy"):
        assert rec.one(ADDON, addon).urn in node_group.dependencies


def test_every_addon_waits_for_the_control_plane(rec: Recording) -> None:
    cluster = rec.one(CLUSTER).urn
    addons = rec.of_type(ADDON)
    assert len(addons) == len(REQUIRED_ADDONS) and all(cluster in a.dependencies for a in addons)


def test_node_groups_take_their_version_from_the_control_plane(rec: Recording) -> None:
    cluster, node_group = rec.one(CLUSTER), rec.one(NODE_GROUP)
    assert node_group.inputs["version"] == cluster.inputs["version"] == "1.32"
    assert node_group.property_dependencies["version"] == [cluster.urn]
    assert cluster.urn in node_group.dependencies


# --- upgrades: one minor at a time from the running control plane ---------------------------------

MAIN = "hardstack-test-main"  # the physical name of cluster `main` in stack `test`


def on_running(
    run: Run,
    running: str,
    version: str,
    recording: Recording | None = None,
    groups: dict[str, str | MockNodeGroup] | None = None,
    **kw: Any,
) -> Recording:
    """Run cluster `main` at `version` in a region where it already runs `running`, with node `groups`."""
    built = args(version=version, addon_versions=None, **kw)
    mocks = HardstackMocks(clusters={MAIN: running}, node_groups={MAIN: groups or {}})
    return run(lambda: Cluster("main", built), mocks=mocks, recording=recording)


def test_the_running_cluster_is_looked_up_by_its_physical_name(rec: Recording, run: Run) -> None:
    assert rec.one(CLUSTER).inputs["name"] == MAIN
    tokens = [i.token for i in on_running(run, "1.32", "1.32").invokes]
    # ... then its node groups (none here), whose sizes decide what a change of bounds sends.
    assert tokens == [
        "aws:eks/getClusters:getClusters",
        "aws:eks/getCluster:getCluster",
        "aws:eks/getNodeGroups:getNodeGroups",
    ]


def running_general(min_size: int = 2, max_size: int = 5, desired_size: int = 4) -> dict[str, str | MockNodeGroup]:
    """The group `general` grown by the autoscaler to `desired_size`, as EKS reports it."""
    labels = {"hardstack/node-group": "general"}
    return {"main-general-1a2b3c4": MockNodeGroup("1.32", min_size, max_size, desired_size, labels)}


def test_a_running_group_keeps_its_size_and_leaves_it_to_the_autoscaler_while_its_bounds_stay(run: Run) -> None:
    node_group = on_running(run, "1.32", "1.32", groups=running_general()).one(NODE_GROUP)
    # Its replacement (new instance types) would start at the 4 nodes serving now, not at 2.
    assert node_group.inputs["scalingConfig"] == {"minSize": 2, "maxSize": 5, "desiredSize": 4}
    assert node_group.ignore_changes == ["scalingConfig.desiredSize"]


@pytest.mark.parametrize(
    ("bounds", "desired"),
    [
        ((5, 8), 5),  # a minimum above the 4 nodes running: UpdateNodegroupConfig needs desired >= min
        ((1, 3), 3),  # a maximum below them: desired <= max
        ((1, 9), 4),  # wider bounds: the size sent is the one running, not the stale one recorded
    ],
)
def test_new_bounds_are_sent_with_the_running_size_moved_into_them(
    run: Run, bounds: tuple[int, int], desired: int
) -> None:
    low, high = bounds
    spec = group(min_size=low, max_size=high, desired_size=low)
    node_group = on_running(run, "1.32", "1.32", groups=running_general(), node_groups=[spec]).one(NODE_GROUP)
    assert node_group.inputs["scalingConfig"] == {"minSize": low, "maxSize": high, "desiredSize": desired}
    assert node_group.ignore_changes == []


def test_a_group_made_elsewhere_is_not_taken_for_one_of_the_specs(run: Run) -> None:
    other = {"gpu-5e6f": MockNodeGroup("1.32", 0, 10, 7, {"team": "ml"})}
    node_group = on_running(run, "1.32", "1.32", groups=other).one(NODE_GROUP)
    assert node_group.inputs["scalingConfig"]["desiredSize"] == 2  # the spec's own: no group of its name runs


def test_the_next_minor_is_accepted_and_reaches_cluster_addons_and_node_groups(run: Run) -> None:
    rec = on_running(run, "1.33", "1.34")
    assert rec.one(CLUSTER).inputs["version"] == "1.34"
    assert rec.one(NODE_GROUP).inputs["version"] == "1.34"
    pinned = {a.inputs["addonName"]: a.inputs["addonVersion"] for a in rec.of_type(ADDON)}
    assert pinned == ADDON_VERSIONS["1.34"]


def test_a_skipped_minor_is_refused_before_any_resource(run: Run) -> None:
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        on_running(run, "1.32", "1.34", recording)
    assert str(err.value) == (
        "version = '1.34' is refused: 1.32 (the running version) or 1.33, the next minor: "
        "EKS upgrades one minor at a time, so go through 1.33 first"
    )
    assert len(recording) == 0


def test_a_downgrade_is_refused_before_any_resource(run: Run) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match=r"^version = '1.33' is refused: 1.34 \(the running version\): EKS cannot"):
        on_running(run, "1.34", "1.33", recording)
    assert len(recording) == 0


def test_an_upgrade_reads_every_node_group_of_the_running_cluster_first(run: Run) -> None:
    rec = on_running(run, "1.33", "1.34", groups={"general-1a2b3c4": "1.33", "batch-5d6e7f8": "1.33"})
    lookups = [(i.token.rsplit(":", 1)[-1], i.args.get("nodeGroupName")) for i in rec.invokes]
    assert lookups == [
        ("getClusters", None),
        ("getCluster", None),
        ("getNodeGroups", None),
        ("getNodeGroup", "batch-5d6e7f8"),
        ("getNodeGroup", "general-1a2b3c4"),
    ]
    assert rec.one(CLUSTER).inputs["version"] == "1.34"


def test_an_upgrade_with_a_node_group_left_behind_is_refused_before_any_resource(run: Run) -> None:
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        on_running(run, "1.33", "1.34", recording, groups={"general-1a2b3c4": "1.32", "batch-5d6e7f8": "1.33"})
    assert str(err.value) == (
        "version = '1.34' is refused: 1.33 (the running version) until every managed node group runs it "
        "(general-1a2b3c4 runs 1.32): EKS upgrades a control plane only when its managed node groups match it; "
        "`pulumi up` with 1.33 updates the node groups in place, then ask for the next minor"
    )
    assert len(recording) == 0


@given(
    st.sampled_from(SUPPORTED_VERSIONS),
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), st.sampled_from(SUPPORTED_VERSIONS)),
)
def test_an_upgrade_is_refused_exactly_when_a_node_group_is_not_at_the_running_minor(
    running: str, groups: dict[str, str]
) -> None:
    behind = sorted(g for g, v in groups.items() if v != running)
    if not behind:
        validate_node_groups_caught_up(running, groups, "1.99")
        return
    with pytest.raises(HardstackError) as err:
        validate_node_groups_caught_up(running, groups, "1.99", "hardstack:clusterVersion")
    message = str(err.value)
    assert message.startswith(f"hardstack:clusterVersion = '1.99' is refused: {running} (the running version)")
    listed = re.search(r"runs it \((.*)\): EKS", message)
    assert listed is not None
    assert listed.group(1) == ", ".join(f"{g} runs {groups[g]}" for g in behind)  # the lagging ones, no other


def test_a_first_up_finds_no_cluster_and_creates_one(rec: Recording) -> None:
    assert [i.token for i in rec.invokes] == ["aws:eks/getClusters:getClusters"]
    assert rec.one(CLUSTER).inputs["version"] == "1.32"


def test_a_running_version_given_by_the_caller_is_checked_without_a_lookup(run: Run) -> None:
    with pytest.raises(HardstackError, match=r"^version = '1.34' is refused: 1.32 \(the running version\)"):
        args(version="1.34", addon_versions=None, running_version="1.32")
    rec = run(lambda: Cluster("main", args(running_version="1.31")))
    assert rec.invokes == [] and rec.one(CLUSTER).inputs["version"] == "1.32"


@given(st.sampled_from(SUPPORTED_VERSIONS), st.sampled_from(SUPPORTED_VERSIONS))
def test_a_version_is_accepted_only_as_the_running_one_or_the_next_minor(running: str, wanted: str) -> None:
    step = int(wanted.split(".")[1]) - int(running.split(".")[1])
    if step in (0, 1):
        assert validate_cluster_upgrade(running, wanted) is (step == 1)
    else:
        with pytest.raises(HardstackError, match=re.escape(f"{running} (the running version)")):
            validate_cluster_upgrade(running, wanted)


def test_a_new_cluster_is_no_upgrade() -> None:
    assert validate_cluster_upgrade(None, "1.34") is False


def test_the_next_minor_is_named_only_when_hardstack_supports_it() -> None:
    with pytest.raises(HardstackError) as err:
        validate_cluster_upgrade("1.34", "1.33")
    assert "1.35" not in str(err.value)


# --- kubeconfig and provider ---------------------------------------------------------------------


def test_kubeconfig_output_is_secret(rec: Recording) -> None:
    assert "kubeconfig" in rec.secret_outputs


def test_kubeconfig_gets_a_token_for_this_cluster_and_region_without_a_profile(rec: Recording) -> None:
    text = rec.outputs["kubeconfig"]
    assert "AWS_PROFILE" not in text and "--profile" not in text
    (user,) = json.loads(text)["users"]
    assert user["user"]["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "hardstack-test-main",
        "--region",
        "eu-west-3",
    ]
    assert "env" not in user["user"]["exec"]


def test_kubernetes_provider_belongs_to_the_cluster_component(rec: Recording) -> None:
    provider = rec.one(K8S_PROVIDER)
    assert provider.parent == rec.one("hardstack:kubernetes:Cluster").urn
    assert "hardstack-test-main" in plain(provider.inputs["kubeconfig"])


def test_kubernetes_provider_waits_for_admin_access_and_the_addons(rec: Recording) -> None:
    waits_for = set(rec.one(K8S_PROVIDER).dependencies)
    assert rec.named("main-admin-platform-admin").urn in waits_for
    assert rec.one(ADDON, "main-coredns").urn in waits_for


def test_render_kubeconfig_is_a_kubeconfig_with_exec_auth() -> None:
    text = render_kubeconfig("c1", "https://api", "Q0E=", "eu-west-3")
    doc = yaml.safe_load(text)
    assert doc["current-context"] == "c1" and doc["clusters"][0]["cluster"]["server"] == "https://api"
    exec_ = doc["users"][0]["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1" and exec_["command"] == "aws"
    assert validate_existing_kubeconfig(text) == text


def test_render_kubeconfig_assumes_the_role_when_given() -> None:
    role = "arn:aws:iam::123456789012:role/deployer"
    exec_ = json.loads(render_kubeconfig("c1", "https://api", "Q0E=", "eu-west-3", role))["users"][0]["user"]["exec"]
    assert exec_["args"][-2:] == ["--role-arn", role]


def test_render_kubeconfig_signs_in_with_the_profile_when_given() -> None:
    text = render_kubeconfig("c1", "https://api", "Q0E=", "eu-west-3", profile="prod-deployer")
    assert json.loads(text)["users"][0]["user"]["exec"]["args"][-2:] == ["--profile", "prod-deployer"]


@given(
    name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True),
    region=st.sampled_from(["eu-west-3", "us-east-1", "ap-southeast-2"]),
)
def test_render_kubeconfig_always_names_the_cluster_and_region_and_never_a_profile(name: str, region: str) -> None:
    text = render_kubeconfig(name, "https://api", "Q0E=", region)
    args_ = json.loads(text)["users"][0]["user"]["exec"]["args"]
    assert args_[args_.index("--cluster-name") + 1] == name and args_[args_.index("--region") + 1] == region
    assert "profile" not in text.lower()


# --- existing cluster ----------------------------------------------------------------------------


def test_existing_cluster_only_builds_a_provider_from_the_kubeconfig(run: Run) -> None:
    text = render_kubeconfig("elsewhere", "https://api", "Q0E=", "eu-west-3")
    built = ExistingClusterArgs(kubeconfig=text)
    rec = run(lambda: ExistingCluster("shared", built) and None)
    component = rec.one("hardstack:kubernetes:ExistingCluster")
    assert [r.type for r in rec.children_of(component)] == [K8S_PROVIDER]
    assert "elsewhere" in plain(rec.one(K8S_PROVIDER).inputs["kubeconfig"])


@pytest.mark.parametrize("value", [None, "", "   \n"])
def test_existing_mode_without_kubeconfig_is_refused(value: Any) -> None:
    with pytest.raises(HardstackError, match="hardstack:kubeconfig = "):
        validate_existing_kubeconfig(value, "hardstack:kubeconfig")


def test_existing_cluster_without_kubeconfig_registers_nothing(run: Run) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match="kubeconfig = '<empty>'"):
        run(lambda: ExistingCluster("shared", ExistingClusterArgs(kubeconfig="")) and None, recording=recording)
    assert len(recording) == 0


@pytest.mark.parametrize("value", ["just some text", "clusters: []\ncontexts: []\n", "{unclosed: [", "- a\n- b\n"])
def test_text_that_is_not_a_kubeconfig_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(HardstackError) as err:
        validate_existing_kubeconfig(value, "hardstack:kubeconfig")
    message = str(err.value)
    assert message.startswith("hardstack:kubeconfig = ") and f"<{len(value)} characters, not shown>" in message
    assert value not in message


# --- refusals ------------------------------------------------------------------------------------


def refused_before_registering(run: Run, build: Callable[[], Any]) -> str:
    recording = Recording()

    def program() -> None:
        Cluster("main", build())

    with pytest.raises(HardstackError) as err:
        run(program, recording=recording)
    assert len(recording) == 0
    return str(err.value)


def test_unknown_version_is_refused_with_the_allowed_list(run: Run) -> None:
    message = refused_before_registering(run, lambda: args(version="1.29"))
    assert "version = '1.29'" in message and "1.31, 1.32, 1.33, 1.34" in message


def test_node_group_min_above_max_is_refused(run: Run) -> None:
    message = refused_before_registering(run, lambda: args(node_groups=[group(min_size=6, max_size=5)]))
    assert "node_groups[general].min_size = 6 is refused: at most node_groups[general].max_size (5)" in message


def test_desired_size_outside_the_range_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"node_groups\[general\].desired_size = 9"):
        group(desired_size=9)


def test_prod_refuses_a_public_endpoint_open_to_the_internet(run: Run) -> None:
    message = refused_before_registering(
        run, lambda: args(tier=Tier.PRODUCTION, endpoint_public_access=True, public_access_cidrs=["0.0.0.0/0"])
    )
    assert "public_access_cidrs = '0.0.0.0/0'" in message


def test_prod_refuses_the_ipv6_internet_too() -> None:
    with pytest.raises(HardstackError, match="public_access_cidrs = '::/0'"):
        args(tier=Tier.PRODUCTION, endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24", "::/0"])


def test_public_endpoint_without_cidrs_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"public_access_cidrs = \[\] is refused: at least one CIDR"):
        args(endpoint_public_access=True)


def test_malformed_cidr_is_refused() -> None:
    with pytest.raises(HardstackError, match=re.escape("public_access_cidrs = '10.0.0.1/8'")):
        args(endpoint_public_access=True, public_access_cidrs=["10.0.0.1/8"])


@pytest.fixture
def unpinned_134(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.34 as a supported minor hardstack pins no add-ons for."""
    monkeypatch.delitem(ADDON_VERSIONS, "1.34")


@pytest.mark.usefixtures("unpinned_134")
def test_missing_addon_version_is_refused_with_the_list() -> None:
    partial = {"vpc-cni": "v1.20.1-eksbuild.3", "kube-proxy": "v1.34.1-eksbuild.2"}
    with pytest.raises(HardstackError, match=r"addon_versions = .*vpc-cni, kube-proxy, coredns, aws-ebs-csi-driver"):
        args(version="1.34", addon_versions=partial)


@pytest.mark.usefixtures("unpinned_134")
def test_a_version_without_pinned_addons_is_refused_naming_the_setting() -> None:
    with pytest.raises(HardstackError, match=r"^addon_versions = \{\} is refused: the versions of .* Kubernetes 1.34"):
        args(version="1.34", addon_versions=None)


def test_every_supported_minor_has_pinned_addons() -> None:
    assert set(ADDON_VERSIONS) == set(SUPPORTED_VERSIONS)


@pytest.mark.parametrize("version", sorted(ADDON_VERSIONS))
def test_every_pinned_minor_has_all_addons_and_its_own_kube_proxy(version: str) -> None:
    chosen = addon_versions_for(version)
    assert set(chosen) == set(REQUIRED_ADDONS) and chosen["kube-proxy"].startswith(f"v{version}.")


def test_kube_proxy_of_another_minor_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"addon_versions\[kube-proxy\] = 'v1.33.5-eksbuild.2' is refused"):
        args(version="1.32", addon_versions={"kube-proxy": "v1.33.5-eksbuild.2"})


def test_node_groups_carry_the_cluster_version(run: Run) -> None:
    groups = run(eks(version="1.33", addon_versions=None)).of_type("aws:eks/nodeGroup:NodeGroup")
    assert groups and all(g.inputs["version"] == "1.33" for g in groups)


def test_unpinned_addon_version_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"addon_versions\[coredns\] = 'latest'"):
        args(addon_versions={**VERSIONS, "coredns": "latest"})


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        (
            {"admin_role_arns": ["arn:aws:iam::123456789012:user/alice"]},
            "admin_role_arns[0] = 'arn:aws:iam::123456789012:user/alice'",
        ),
        ({"readonly_role_arns": ["auditor"]}, "readonly_role_arns[0] = 'auditor'"),
        ({"admin_role_arns": []}, "admin_role_arns = []"),
        ({"readonly_role_arns": [ADMIN]}, f"readonly_role_arns[0] = '{ADMIN}' is refused: each role once"),
        ({"kubeconfig_role_arn": "deployer"}, "kubeconfig_role_arn = 'deployer'"),
        ({"secrets_key_arn": "alias/eks"}, "secrets_key_arn = 'alias/eks'"),
        ({"subnet_ids": ["subnet-a"]}, "subnet_ids = ['subnet-a']"),
        ({"public_access_cidrs": ["203.0.113.0/24"]}, "public_access_cidrs = ['203.0.113.0/24'] is refused: empty"),
        ({"log_retention_days": 10}, "log_retention_days = 10"),
        ({"node_groups": []}, "node_groups = []"),
        ({"node_groups": [group(), group()]}, "node_groups = ['general', 'general']"),
    ],
)
def test_bad_cluster_arguments_are_refused(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        args(**kw)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"instance_types": ["m7g.large"]}, "node_groups[general].instance_types = 'm7g.large'"),
        ({"instance_types": []}, "node_groups[general].instance_types = []"),
        ({"name": "General"}, "node_groups.name = 'General'"),
        ({"disk_gb": 10}, "node_groups[general].disk_gb = 10"),
        ({"max_unavailable_percent": 0}, "node_groups[general].max_unavailable_percent = 0"),
    ],
)
def test_bad_node_groups_are_refused(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        group(**kw)
    assert fragment in str(err.value)


def test_vpc_cni_enforces_network_policies(rec: Recording) -> None:
    cni = next(r for r in rec.of_type("aws:eks/addon:Addon") if r.inputs["addonName"] == "vpc-cni")
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_the_ebs_driver_tags_its_volumes_with_the_stacks_tags(run: Run) -> None:
    context = AwsContext(region="eu-west-3", account_id=MOCK_ACCOUNT, tags={"Project": "shop", "Stack": "prod"})
    rec = run(eks(context=context, tags={"Team": "ops"}))

    ebs = next(r for r in rec.of_type("aws:eks/addon:Addon") if r.inputs["addonName"] == "aws-ebs-csi-driver")

    # Day-2 checks find this stack's volumes among other clusters' by these (hardstack.aws.volumes).
    assert json.loads(ebs.inputs["configurationValues"]) == {
        "controller": {"extraVolumeTags": {"Project": "shop", "Stack": "prod", "Team": "ops"}}
    }


# --- deployer access -------------------------------------------------------------------------------


def test_a_private_endpoint_admits_the_deployers_range_and_runner_on_443(run: Run) -> None:
    rec = run(eks(deployer_cidrs=["10.0.0.0/20"], deployer_security_group_ids=[RUNNER]))
    rules = rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert {(r.inputs.get("cidrIpv4"), r.inputs.get("referencedSecurityGroupId")) for r in rules} == {
        ("10.0.0.0/20", None),
        (None, RUNNER),
    }
    assert all(r.inputs["fromPort"] == r.inputs["toPort"] == 443 for r in rules)
    provider = rec.one("pulumi:providers:kubernetes")
    assert {r.urn for r in rules} <= set(provider.dependencies)


def test_runner_rules_are_named_by_group_so_reordering_replaces_nothing(run: Run) -> None:
    def names(groups: list[str]) -> set[str]:
        rec = run(eks(deployer_cidrs=[], deployer_security_group_ids=groups))
        return {r.name for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}

    a, b = "sg-0a0a0a0a0a0a0a0a0", "sg-0b0b0b0b0b0b0b0b0"
    assert names([a, b]) == names([b, a]) == {f"main-api-from-runner-{a}", f"main-api-from-runner-{b}"}


RUNNER = "sg-0123456789abcdef0"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"deployer_cidrs": ["10.0.0.0/8", "10.0.0.0/8"]}, "deployer_cidrs = '10.0.0.0/8' is refused: each value once"),
        ({"deployer_security_group_ids": [RUNNER, RUNNER]}, f"deployer_security_group_ids = '{RUNNER}' is refused"),
        ({"deployer_security_group_ids": ["runner"]}, "deployer_security_group_ids = 'runner' is refused: security"),
    ],
)
def test_a_deployer_range_or_group_given_twice_or_malformed_is_refused(
    run: Run, kw: dict[str, Any], message: str
) -> None:
    assert refused_before_registering(run, lambda: args(**kw)).startswith(message)


@pytest.mark.parametrize(
    ("cidrs", "message"),
    [
        (["0.0.0.0/1", "128.0.0.0/1"], "public_access_cidrs = '0.0.0.0/1' is refused: named office or VPN ranges"),
        (["2001:db8::/32"], "public_access_cidrs = '2001:db8::/32' is refused: IPv4 CIDR blocks"),
        (["203.0.113.0/24", "203.0.113.0/24"], "public_access_cidrs = '203.0.113.0/24' is refused: each value once"),
    ],
)
def test_a_public_endpoint_refuses_halves_of_the_internet_ipv6_and_repeats_in_production(
    run: Run, cidrs: list[str], message: str
) -> None:
    built = lambda: args(endpoint_public_access=True, public_access_cidrs=cidrs, tier=Tier.PRODUCTION)  # noqa: E731
    assert refused_before_registering(run, built).startswith(message)


def test_a_private_endpoint_nobody_can_reach_is_refused(run: Run) -> None:
    message = refused_before_registering(run, lambda: args(deployer_cidrs=[]))
    assert message.startswith("deployer_cidrs = [] is refused") and "cannot reach" in message


def test_a_public_deployer_range_for_the_private_endpoint_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"^deployer_cidrs = '8.8.8.0/24' is refused: private ranges"):
        args(deployer_cidrs=["8.8.8.0/24"])


def test_a_public_endpoint_for_listed_ranges_needs_no_in_vpc_deployer(run: Run) -> None:
    rec = run(eks(deployer_cidrs=[], endpoint_public_access=True, public_access_cidrs=["198.51.100.0/24"]))
    vpc = rec.one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == ["198.51.100.0/24"]


def test_a_kubeconfig_role_that_is_not_an_admin_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"^kubeconfig_role_arn = .* is refused: one of admin_role_arns"):
        args(kubeconfig_role_arn="arn:aws:iam::123456789012:role/ci-deployer")


def test_the_cluster_role_trusts_eks_for_this_cluster_of_this_account_only(rec: Recording) -> None:
    statement = trust(rec, "main-cluster")
    assert statement["Principal"] == {"Service": "eks.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":123456789012:cluster/hardstack-test-main")


def test_the_node_role_trusts_ec2_of_this_account_only(rec: Recording) -> None:
    statement = trust(rec, "main-nodes")
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
