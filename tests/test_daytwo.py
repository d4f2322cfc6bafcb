"""Day-2 operations of the stacks: teardown where it must work, and nowhere it must not; routine
changes proven by plan (upgrades, resizes, chart bumps)."""

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pulumi_aws as aws
import pytest

from hardstack import HardstackError
from hardstack.aws.volumes import claim_tags
from hardstack.k8s.monitoring import CHART_VERSION, MONITORING_NAMESPACE, prometheus_claim
from hardstack.tooling.plan import STATEFUL_TYPES, build_plan, diff_plans, waits_for
from hardstack.tooling.testing import (
    HardstackMocks,
    MockNodeGroup,
    MockSubnet,
    MockVolume,
    Recording,
    mock_id,
    run_program,
)
from stacks.offline import run_stack, stack_config
from stacks.program import main

BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


@pytest.mark.parametrize("stack", ["test", "preprod"])
def test_destroy_empties_every_bucket_of_the_test_and_preprod_stacks(stack: str) -> None:
    buckets = run_stack(stack).of_type(BUCKET)
    assert buckets and all(b.inputs["forceDestroy"] is True and not b.protect for b in buckets)


def test_nothing_in_the_test_stack_blocks_its_destroy() -> None:
    rec = run_stack("test")
    assert rec.protected() == []
    db = rec.one("aws:rds/instance:Instance").inputs
    assert db["deletionProtection"] is False and db["skipFinalSnapshot"] is True
    assert rec.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is False
    assert rec.one("aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is False


def test_preprod_with_protection_keeps_its_buckets_full_on_destroy() -> None:
    buckets = run_stack("preprod", {"hardstack:protect": True}).of_type(BUCKET)
    assert all(b.inputs["forceDestroy"] is False and b.protect for b in buckets)


def test_nothing_stateful_in_prod_can_be_destroyed_without_first_changing_a_setting() -> None:
    rec = run_stack("prod")
    stateful = [r for r in rec if r.type in STATEFUL_TYPES]
    assert stateful and [r.name for r in stateful if not (r.protect and r.retain_on_delete)] == []
    assert all(b.inputs["forceDestroy"] is False for b in rec.of_type(BUCKET))
    assert rec.one("aws:rds/instance:Instance").inputs["deletionProtection"] is True
    assert rec.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is True
    assert rec.one("aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is True


def test_the_transfer_bucket_drops_old_versions_and_expired_delete_markers() -> None:
    rec = run_stack("test")
    lifecycle = next(r for r in rec.of_type(LIFECYCLE) if r.name == "ansible-transfer-lifecycle")
    rules: dict[str, Any] = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert rules["expire-old-versions"]["expiration"] == {"days": 1}
    assert rules["expire-old-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}


# --- proof by plan: routine database changes --------------------------------------------------------

IDENTIFIER = "hardstack-prod-main"
INSTANCE = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"


def prod_plan(running: str, **overrides: Any) -> dict[str, Any]:
    """The prod plan against an account whose database runs `running`."""
    config = {**stack_config("prod"), **overrides}
    mocks = HardstackMocks(str(config["aws:region"]), databases={IDENTIFIER: running})
    return build_plan("prod", run_program(main, stack="prod", config=config, mocks=mocks))


def test_a_postgres_major_upgrade_moves_the_database_to_a_new_parameter_group_and_replaces_nothing() -> None:
    before = prod_plan("16.6")
    after = prod_plan("16.6", **{"hardstack:dbEngineVersion": "17"})

    diff = diff_plans(before, after)

    assert not [c for c in diff.replaces if c.stateful or c.protected]
    (db,) = [c for c in diff.updates if c.type == INSTANCE]
    assert {"engineVersion", "allowMajorVersionUpgrade", "applyImmediately", "parameterGroupName"} <= set(db.properties)
    assert [c.name for c in diff.creates if c.type == PARAMS] == ["main-params-postgres17"]
    assert [c.name for c in diff.deletes if c.type == PARAMS] == ["main-params-postgres16"]
    (hazard,) = diff.hazards
    assert "PostgreSQL major upgrade 16 -> 17" in hazard and "refuses" not in hazard


def test_a_larger_class_and_more_storage_update_the_database_in_the_maintenance_window() -> None:
    before = prod_plan("16.6")
    after = prod_plan("16.6", **{"hardstack:dbInstanceClass": "db.r7g.xlarge", "hardstack:dbAllocatedStorageGb": 200})

    diff = diff_plans(before, after)

    assert not diff.replaces and not diff.hazards
    (db,) = diff.updates
    assert db.type == INSTANCE and db.properties == ("allocatedStorage", "instanceClass")


def test_db_apply_immediately_applies_a_class_change_now() -> None:
    before = prod_plan("16.6")
    after = prod_plan("16.6", **{"hardstack:dbInstanceClass": "db.r7g.xlarge", "hardstack:dbApplyImmediately": True})

    (db,) = diff_plans(before, after).updates

    assert db.properties == ("applyImmediately", "instanceClass")


def test_a_postgres_downgrade_is_refused_naming_the_setting_before_any_cloud_resource() -> None:
    config = {**stack_config("prod"), "hardstack:dbEngineVersion": "15"}
    recording = Recording()
    with pytest.raises(
        HardstackError, match=r"^hardstack:dbEngineVersion = '15' is refused: 16.6 \(the running version\)"
    ):
        run_program(
            main, stack="prod", config=config, mocks=HardstackMocks(databases={IDENTIFIER: "16.6"}), recording=recording
        )
    assert [r.type for r in recording if r.custom] == ["pulumi:providers:aws"]  # the lookup's provider only


def test_the_parameter_group_named_before_its_family_was_in_its_name_is_adopted_not_replaced() -> None:
    now = prod_plan("16.6")
    before = copy.deepcopy(now)
    group = next(r for r in before["resources"] if r["type"] == PARAMS)
    old_urn = group["urn"].replace("main-params-postgres16", "main-params")
    references = {group["urn"]: old_urn}
    group.update(urn=old_urn, name="main-params", aliases=[])
    group["inputs"]["name"] = "main-params-1a2b3c4"  # the auto-name it was created with
    for entry in before["resources"]:
        entry["dependencies"] = [references.get(d, d) for d in entry["dependencies"]]
        if entry["type"] == INSTANCE:
            entry["inputs"]["parameterGroupName"] = "main-params-1a2b3c4"

    assert diff_plans(before, now).is_empty()


# --- proof by plan: a Kubernetes upgrade -----------------------------------------------------------

CLUSTER_NAME = "hardstack-prod-eks"
EKS = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def prod_on_cluster(
    running: str | None,
    recording: Recording | None = None,
    nodes: str | None = None,
    sizes: tuple[int, int, int] = (3, 9, 3),
    **overrides: Any,
) -> Recording:
    """The prod stack in an account whose cluster runs `running` (None: no cluster yet), its node group
    `nodes` (default: the control plane's version) with `sizes` (min, max, desired: prod's own)."""
    config = {**stack_config("prod"), **overrides}
    clusters = {CLUSTER_NAME: running} if running is not None else {}
    general = MockNodeGroup(nodes or running or "", *sizes, labels={"hardstack/node-group": "general"})
    groups = {CLUSTER_NAME: {"eks-general-1a2b3c4": general}} if running is not None else {}
    mocks = HardstackMocks(
        str(config["aws:region"]), databases={IDENTIFIER: "16.6"}, clusters=clusters, node_groups=groups
    )
    return run_program(main, stack="prod", config=config, mocks=mocks, recording=recording)


def test_a_kubernetes_minor_upgrade_updates_control_plane_addons_and_nodes_in_place_in_that_order() -> None:
    before = build_plan("prod", prod_on_cluster("1.33"))
    after = build_plan("prod", prod_on_cluster("1.33", **{"hardstack:clusterVersion": "1.34"}))

    diff = diff_plans(before, after)

    assert not diff.replaces and not diff.creates and not diff.deletes
    # The reviewer is told what cannot be undone, as for a PostgreSQL major.
    (hazard,) = diff.hazards
    assert "Kubernetes upgrade 1.33 -> 1.34" in hazard and "cannot go back" in hazard
    # CoreDNS has one build for 1.33 and 1.34: it stays; the other three add-ons move to 1.34's.
    assert {(c.type, c.name): c.properties for c in diff.updates} == {
        (EKS, "eks"): ("version",),
        (ADDON, "eks-vpc-cni"): ("addonVersion",),
        (ADDON, "eks-kube-proxy"): ("addonVersion",),
        (NODE_GROUP, "eks-general"): ("version",),
        (ADDON, "eks-aws-ebs-csi-driver"): ("addonVersion",),
        ("kubernetes:helm.sh/v3:Release", "controllers-cluster-autoscaler"): ("values.image.tag",),
    }
    urns = {(r["type"], r["name"]): r["urn"] for r in after["resources"]}
    nodes = waits_for(after, urns[(NODE_GROUP, "eks-general")])
    assert {urns[(EKS, "eks")], urns[(ADDON, "eks-vpc-cni")], urns[(ADDON, "eks-kube-proxy")]} <= nodes
    for addon in ("eks-vpc-cni", "eks-kube-proxy", "eks-coredns", "eks-aws-ebs-csi-driver"):
        assert urns[(EKS, "eks")] in waits_for(after, urns[(ADDON, addon)])
    for addon in ("eks-coredns", "eks-aws-ebs-csi-driver"):  # they need running nodes when first created
        assert urns[(NODE_GROUP, "eks-general")] in waits_for(after, urns[(ADDON, addon)])


def test_a_kubernetes_upgrade_that_skips_a_minor_is_refused_before_any_cloud_resource() -> None:
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        prod_on_cluster("1.32", recording, **{"hardstack:clusterVersion": "1.34"})
    assert str(err.value) == (
        "hardstack:clusterVersion = '1.34' is refused: 1.32 (the running version) or 1.33, the next minor: "
        "EKS upgrades one minor at a time, so go through 1.33 first"
    )
    assert [r.type for r in recording if r.custom] == ["pulumi:providers:aws"]  # the lookups' provider only


def test_a_kubernetes_upgrade_while_a_node_group_lags_is_refused_before_any_cloud_resource() -> None:
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        prod_on_cluster("1.33", recording, nodes="1.32", **{"hardstack:clusterVersion": "1.34"})
    assert str(err.value) == (
        "hardstack:clusterVersion = '1.34' is refused: 1.33 (the running version) until every managed node group "
        "runs it (eks-general-1a2b3c4 runs 1.32): EKS upgrades a control plane only when its managed node groups "
        "match it; `pulumi up` with 1.33 updates the node groups in place, then ask for the next minor"
    )
    assert [r.type for r in recording if r.custom] == ["pulumi:providers:aws"]  # the lookups' provider only


def test_the_node_groups_are_read_once_the_cluster_runs() -> None:
    def node_lookups(rec: Recording) -> list[str]:
        return [i.token for i in rec.invokes if "NodeGroup" in i.token]

    assert node_lookups(prod_on_cluster(None)) == []  # a first up
    # The same version (the nodes catch up: no refusal) and an upgrade both read the groups' sizes.
    for rec in (prod_on_cluster("1.33", nodes="1.32"), prod_on_cluster("1.33", **{"hardstack:clusterVersion": "1.34"})):
        assert node_lookups(rec) == ["aws:eks/getNodeGroups:getNodeGroups", "aws:eks/getNodeGroup:getNodeGroup"]


def test_raising_the_node_minimum_above_the_running_size_sends_a_size_eks_accepts() -> None:
    # The autoscaler keeps the group at its minimum, 3; Pulumi last recorded 3 too, but may hold less.
    before = build_plan("prod", prod_on_cluster("1.33"))
    raised = {"hardstack:clusterNodeMinSize": 5, "hardstack:clusterNodeDesiredSize": 5}
    after = prod_on_cluster("1.33", **raised)

    diff = diff_plans(before, build_plan("prod", after))

    assert not diff.replaces and not diff.creates and not diff.deletes
    assert {(c.name, c.properties) for c in diff.updates} == {
        ("eks-general", ("scalingConfig.desiredSize", "scalingConfig.minSize"))
    }
    assert after.one(NODE_GROUP).inputs["scalingConfig"] == {"minSize": 5, "maxSize": 9, "desiredSize": 5}


def test_a_node_group_replacement_starts_at_the_size_the_old_group_serves_with() -> None:
    # The autoscaler grew the group to 7 nodes; new instance types replace it (create, then delete).
    grown = prod_on_cluster("1.33", sizes=(3, 9, 7), **{"hardstack:clusterNodeInstanceTypes": ["m7i.large"]})
    node_group = grown.one(NODE_GROUP)
    assert node_group.inputs["scalingConfig"] == {"minSize": 3, "maxSize": 9, "desiredSize": 7}
    assert node_group.ignore_changes == ["scalingConfig.desiredSize"]  # the bounds stay: the autoscaler's


def test_a_kubernetes_downgrade_is_refused_before_any_cloud_resource() -> None:
    recording = Recording()
    with pytest.raises(
        HardstackError, match=r"^hardstack:clusterVersion = '1.33' is refused: 1.34 \(the running version\): EKS cannot"
    ):
        prod_on_cluster("1.34", recording)
    assert [r.type for r in recording if r.custom] == ["pulumi:providers:aws"]


def test_the_first_up_of_a_cluster_reads_no_running_version_and_creates_it() -> None:
    rec = prod_on_cluster(None, **{"hardstack:clusterVersion": "1.34"})
    assert "aws:eks/getCluster:getCluster" not in [i.token for i in rec.invokes]
    assert rec.one(EKS).inputs["version"] == rec.one(NODE_GROUP).inputs["version"] == "1.34"


def test_the_running_cluster_is_read_once_before_any_resource() -> None:
    rec = prod_on_cluster("1.33")
    tokens = [i.token for i in rec.invokes]
    assert tokens.count("aws:eks/getClusters:getClusters") == tokens.count("aws:eks/getCluster:getCluster") == 1
    assert rec.one(EKS).inputs["name"] == CLUSTER_NAME


def test_a_new_region_replaces_every_regional_resource_and_no_global_one() -> None:
    before = build_plan("test", run_stack("test"))
    # A new region comes with its own AZ ids: the old ones are refused there (see the AZ tests below).
    after = build_plan(
        "test", run_stack("test", {"aws:region": "eu-west-1", "hardstack:azIds": ["euw1-az1", "euw1-az2"]})
    )

    diff = diff_plans(before, after)

    replaced = {c.urn for c in diff.replaces}
    regional = [
        r
        for r in after["resources"]
        if r["custom"] and r["type"].startswith("aws:") and r["urn"] in before_urns(before)
    ]
    assert regional and all(r["urn"] in replaced for r in regional if not r["type"].startswith("aws:iam/"))
    assert not [c for c in diff.replaces if c.type.startswith("aws:iam/") and "region" in c.properties]
    assert any("region changes" in h for h in diff.hazards)


def before_urns(plan: dict[str, Any]) -> set[str]:
    return {r["urn"] for r in plan["resources"]}


#: The AWS-visible name of each type that takes one from the program (the rest are auto-named).
NAMED = {
    "aws:kms/alias:Alias": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:rds/instance:Instance": "identifier",
    "aws:eks/cluster:Cluster": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "alarmName",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
}


def aws_names(stack: str) -> set[str]:
    rec = run_program(main, stack=stack, config=stack_config("prod"))
    return {str(r.inputs[key]) for r in rec if (key := NAMED.get(r.type)) and r.inputs.get(key)}


def test_two_stacks_of_one_environment_share_no_aws_visible_name() -> None:
    first, second = aws_names("prod"), aws_names("prod-eu")
    assert len(first) >= len(NAMED) and not first & second
    assert all("hardstack" in n and "prod-eu" in n.replace("/", "-") for n in second)


# --- proof by plan: the Prometheus volume and the monitoring chart ------------------------------------

RELEASE = "kubernetes:helm.sh/v3:Release"
CLAIM_PATCH = "kubernetes:core/v1:PersistentVolumeClaimPatch"
PROMETHEUS_TAGS = claim_tags(MONITORING_NAMESPACE, prometheus_claim())


def prometheus_volume(size_gb: int, stack: str = "prod", volume_id: str = "vol-0prometheus") -> MockVolume:
    """The volume the EBS CSI driver made for Prometheus's claim, with the stack's tags."""
    return MockVolume(volume_id, size_gb, {**PROMETHEUS_TAGS, "Project": "hardstack", "Stack": stack})


def on_running_cluster(volumes: list[MockVolume]) -> HardstackMocks:
    """The account of a prod stack whose cluster runs, with these EBS volumes."""
    return HardstackMocks(volumes=volumes, clusters={CLUSTER_NAME: "1.33"})


def test_a_new_cluster_reads_no_volume_of_a_destroyed_one() -> None:
    # A destroy keeps the Prometheus volume; the next cluster's first up makes a new claim of its own.
    rec = run_program(
        main, stack="prod", config=stack_config("prod"), mocks=HardstackMocks(volumes=[prometheus_volume(500)])
    )
    assert rec.of_type(CLAIM_PATCH) == []
    assert not [i for i in rec.invokes if i.token.startswith("aws:ebs/")]


def prod_with_volume(volumes: list[MockVolume], **overrides: Any) -> Recording:
    config = {**stack_config("prod"), **overrides}
    return run_program(main, stack="prod", config=config, mocks=on_running_cluster(volumes))


def prometheus_spec(rec: Recording) -> dict[str, Any]:
    spec: dict[str, Any] = rec.one(RELEASE, "monitoring").inputs["values"]["prometheus"]["prometheusSpec"]
    return spec


def test_a_larger_prometheus_volume_grows_the_claim_in_place_and_replaces_nothing() -> None:
    before = build_plan("prod", prod_with_volume([prometheus_volume(80)]))
    after_rec = prod_with_volume([prometheus_volume(80)], **{"hardstack:prometheusVolumeGb": 160})

    diff = diff_plans(before, build_plan("prod", after_rec))

    assert not diff.replaces and not diff.creates and not diff.deletes
    assert sorted(c.type for c in diff.updates) == [CLAIM_PATCH, RELEASE]
    (release,) = [c for c in diff.updates if c.type == RELEASE]
    assert release.properties == (
        "values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage",
    )
    (patch,) = [c for c in diff.updates if c.type == CLAIM_PATCH]
    assert patch.properties == ("spec.resources.requests.storage",)
    assert after_rec.one(CLAIM_PATCH).inputs["spec"] == {"resources": {"requests": {"storage": "160Gi"}}}


def test_growing_the_volume_and_the_retention_size_keeps_the_old_size_until_the_disk_has_grown() -> None:
    wanted = {"hardstack:prometheusVolumeGb": 160, "hardstack:prometheusRetentionSize": "144GB"}

    growing = prod_with_volume([prometheus_volume(80)], **wanted)
    grown = prod_with_volume([prometheus_volume(160)], **wanted)  # the next up reads the larger disk

    assert prometheus_spec(growing)["retentionSize"] == "72GB"
    assert prometheus_spec(grown)["retentionSize"] == "144GB"
    (release,) = diff_plans(build_plan("prod", growing), build_plan("prod", grown)).updates
    assert release.name == "monitoring" and release.properties == ("values.prometheus.prometheusSpec.retentionSize",)


def test_a_smaller_prometheus_volume_is_refused_naming_the_setting_before_any_cloud_resource() -> None:
    config = {**stack_config("prod"), "hardstack:prometheusVolumeGb": 50, "hardstack:prometheusRetentionSize": "45GB"}
    recording = Recording()
    with pytest.raises(
        HardstackError,
        match=r"^hardstack:prometheusVolumeGb = 50 is refused: at least 80, the size in GiB of the Prometheus volume",
    ):
        run_program(
            main,
            stack="prod",
            config=config,
            mocks=on_running_cluster([prometheus_volume(80)]),
            recording=recording,
        )
    assert [r.type for r in recording if r.custom] == ["pulumi:providers:aws"]  # the lookups' provider only


def test_the_first_up_makes_the_claim_at_its_size_without_a_patch() -> None:
    rec = prod_with_volume([prometheus_volume(500, stack="prod-eu")])  # another stack's volume, same region

    assert not rec.of_type(CLAIM_PATCH)
    assert prometheus_spec(rec)["retentionSize"] == "72GB"


def test_a_volume_made_before_the_driver_carried_the_stack_tags_is_this_stacks() -> None:
    legacy = MockVolume("vol-0legacy", 80, dict(PROMETHEUS_TAGS))
    other = prometheus_volume(500, stack="prod-eu", volume_id="vol-0other")

    rec = prod_with_volume([legacy, other], **{"hardstack:prometheusVolumeGb": 100})

    assert rec.one(CLAIM_PATCH).inputs["spec"]["resources"]["requests"]["storage"] == "100Gi"


def test_two_untagged_volumes_of_the_claim_are_refused_with_the_fix() -> None:
    volumes = [MockVolume(f"vol-0{n}", 80, dict(PROMETHEUS_TAGS)) for n in ("a", "b")]
    with pytest.raises(HardstackError, match=r"vol-0a, vol-0b\).*aws ec2 create-tags .*Key=Project,Value=hardstack"):
        prod_with_volume(volumes)


def test_a_retained_old_volume_of_the_claim_gives_way_to_the_newest() -> None:
    old = MockVolume("vol-0old", 50, prometheus_volume(50).tags, created="2025-01-01T00:00:00Z")
    bound = MockVolume("vol-0new", 80, prometheus_volume(80).tags, created="2026-06-01T00:00:00Z")

    rec = prod_with_volume([old, bound], **{"hardstack:prometheusVolumeGb": 80})

    assert rec.one(CLAIM_PATCH).inputs["spec"]["resources"]["requests"]["storage"] == "80Gi"  # 80 is no shrink


def test_a_chart_bump_upgrades_the_release_and_its_crds_and_replaces_nothing() -> None:
    before = build_plan("prod", prod_with_volume([prometheus_volume(80)]))
    after_rec = prod_with_volume([prometheus_volume(80)], **{"hardstack:monitoringChartVersion": "88.6.0"})

    diff = diff_plans(before, build_plan("prod", after_rec))

    assert CHART_VERSION != "88.6.0"
    assert not diff.replaces and not diff.creates and not diff.deletes
    (release,) = diff.updates
    assert release.type == RELEASE and release.properties == ("version",)
    # The new chart's CRDs are applied by its pre-upgrade hook before the release's objects move.
    assert after_rec.one(RELEASE, "monitoring").inputs["values"]["crds"]["upgradeJob"]["enabled"] is True


CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
NEXT_COMMIT = "0123456789abcdef0123456789abcdef01234567"  # a later chart's commit


def test_a_load_balancer_controller_bump_updates_its_crds_and_the_release_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hardstack.k8s import controllers

    before = build_plan("prod", run_stack("prod"))
    monkeypatch.setattr(controllers, "LOAD_BALANCER_CONTROLLER_VERSION", "3.6.0")
    monkeypatch.setattr(controllers, "LOAD_BALANCER_CONTROLLER_CRDS_COMMIT", NEXT_COMMIT)
    after_rec = run_program(main, stack="prod", config=stack_config("prod"))  # not a cached run

    diff = diff_plans(before, build_plan("prod", after_rec))

    assert not diff.replaces and not diff.creates and not diff.deletes
    assert {(c.type, c.properties) for c in diff.updates} == {(RELEASE, ("version",)), (CONFIG_FILE, ("file",))}
    assert len(diff.updates) == 3  # the release and its two CRD files
    release = after_rec.one(RELEASE, "controllers-load-balancer-controller")
    crds = after_rec.of_type(CONFIG_FILE)
    # Helm would leave the CRDs at the first chart's: the release skips them, and waits for the new ones.
    assert release.inputs["skipCrds"] is True
    assert {c.urn for c in crds} <= set(release.dependencies)
    assert all(
        c.inputs["file"].startswith(f"https://raw.githubusercontent.com/aws/eks-charts/{NEXT_COMMIT}/") for c in crds
    )


# --- proof by plan: AZs pinned by id, and one more AZ ------------------------------------------------

SUBNET, ROUTE_TABLE = "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable"
NETWORK_TYPES = {SUBNET, ROUTE_TABLE, "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route"}


def test_adding_an_az_replaces_no_subnet_or_route_table_and_adds_the_new_azs_network() -> None:
    before = build_plan("test", run_stack("test"))
    after = build_plan("test", run_stack("test", {"hardstack:azCount": 3}))

    diff = diff_plans(before, after)

    assert not [c for c in diff.replaces if c.type in NETWORK_TYPES or c.stateful or c.protected]
    assert [c.name for c in diff.replaces] == ["eks-general"]  # a node group's subnets force a new group
    assert not diff.deletes
    spanning = {(c.name, c.properties) for c in diff.updates if c.type.startswith("aws:")}
    assert {("web", ("subnets",)), ("main", ("subnetIds",)), ("net-s3", ("routeTableIds",))} <= spanning
    # EKS keeps the control plane in the AZs it was created in: the new AZ's subnets are the nodes'.
    assert "aws:eks/cluster:Cluster" not in {c.type for c in [*diff.updates, *diff.replaces]}
    created = {(c.type, c.name) for c in diff.creates if c.type in NETWORK_TYPES}
    assert created == {
        *((SUBNET, f"net-{tier}-2") for tier in ("public", "private", "isolated")),
        (ROUTE_TABLE, "net-private-2"),
        (ROUTE_TABLE, "net-isolated-2"),
        *(
            ("aws:ec2/routeTableAssociation:RouteTableAssociation", f"net-{t}-2")
            for t in ("public", "private", "isolated")
        ),
        ("aws:ec2/route:Route", "net-private-2-default"),
    }
    zones = {r["name"]: r["inputs"]["availabilityZoneId"] for r in after["resources"] if r["type"] == SUBNET}
    assert {zones[f"net-{t}-2"] for t in ("public", "private", "isolated")} == {"euw3-az3"}  # the third pinned id


#: The address plan every stack has today: a change here moves (replaces) a subnet.
STACK_CIDRS = {
    "test": {
        "public": ["10.10.128.0/22", "10.10.132.0/22"],
        "private": ["10.10.0.0/20", "10.10.16.0/20"],
        "isolated": ["10.10.160.0/22", "10.10.164.0/22"],
    },
    "preprod": {
        "public": ["10.20.128.0/22", "10.20.132.0/22"],
        "private": ["10.20.0.0/20", "10.20.16.0/20"],
        "isolated": ["10.20.160.0/22", "10.20.164.0/22"],
    },
    "prod": {
        "public": ["10.30.128.0/22", "10.30.132.0/22", "10.30.136.0/22"],
        "private": ["10.30.0.0/20", "10.30.16.0/20", "10.30.32.0/20"],
        "isolated": ["10.30.160.0/22", "10.30.164.0/22", "10.30.168.0/22"],
    },
}


@pytest.mark.parametrize("stack", sorted(STACK_CIDRS))
def test_every_stack_keeps_its_subnet_cidrs_and_places_subnet_i_in_its_ith_pinned_az(stack: str) -> None:
    rec = run_stack(stack)
    plan = rec.outputs["addressPlan"]
    assert {tier: [s["cidr"] for s in subnets] for tier, subnets in plan.items()} == STACK_CIDRS[stack]
    pinned = stack_config(stack)["hardstack:azIds"]
    for subnet in rec.of_type(SUBNET):
        assert subnet.inputs["availabilityZoneId"] == pinned[int(subnet.name.rsplit("-", 1)[1])]
        assert "availabilityZone" in subnet.computed  # given by id; the name is EC2's answer


def test_the_stack_looks_up_its_zones_once_whatever_their_state() -> None:
    lookups = [i for i in run_stack("prod").invokes if i.token == "aws:index/getAvailabilityZones:getAvailabilityZones"]
    # No `state` filter: a pinned zone that is impaired for a while must not block a deploy.
    assert [i.args for i in lookups] == [{"filters": [{"name": "zone-type", "values": ["availability-zone"]}]}]


def refused_before_any_cloud_resource(ids: object, **more: Any) -> str:
    config = {**stack_config("prod"), "hardstack:azIds": ids, **more}
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        run_program(main, stack="prod", config=config, recording=recording)
    assert [r.type for r in recording if r.custom] in ([], ["pulumi:providers:aws"])  # at most the lookup's provider
    return str(err.value)


def test_az_ids_of_another_region_are_refused_naming_the_setting() -> None:
    msg = refused_before_any_cloud_resource(["use1-az1", "use1-az2", "use1-az4"])
    assert msg == (
        "hardstack:azIds = ['use1-az1', 'use1-az2', 'use1-az4'] is refused: "
        "AZ ids of eu-west-3 (euw3-az<n>): 'use1-az1' is not one"
    )


def test_an_az_id_this_account_does_not_have_is_refused_by_the_live_list() -> None:
    msg = refused_before_any_cloud_resource(["euw3-az1", "euw3-az2", "euw3-az7"])
    assert msg.startswith("hardstack:azIds = ['euw3-az1', 'euw3-az2', 'euw3-az7'] is refused: AZ ids this account")
    assert "euw3-az6 (euw3-az7 is not one)" in msg


def test_an_az_id_given_twice_is_refused() -> None:
    msg = refused_before_any_cloud_resource(["euw3-az1", "euw3-az2", "euw3-az1"])
    assert "hardstack:azIds = ['euw3-az1', 'euw3-az2', 'euw3-az1'] is refused: each AZ id once" in msg


def test_fewer_az_ids_than_the_az_count_are_refused() -> None:
    msg = refused_before_any_cloud_resource(["euw3-az1", "euw3-az2", "euw3-az3"], **{"hardstack:azCount": 4})
    assert msg == (
        "hardstack:azIds = ['euw3-az1', 'euw3-az2', 'euw3-az3'] is refused: "
        "at least 4 AZ ids (the AZ count): the first 4 are used"
    )


@pytest.mark.parametrize("ids", ["euw3-az1", {"first": "euw3-az1"}])
def test_az_ids_that_are_not_a_list_are_refused_with_where_to_find_them(ids: object) -> None:
    msg = refused_before_any_cloud_resource(ids)
    assert msg.startswith(f"hardstack:azIds = {ids!r} is refused: a list: the AZ ids of the stack's region")
    assert '"Pinning the AZs"' in msg


def test_a_stack_without_az_ids_is_told_how_to_pin_them() -> None:
    config = {k: v for k, v in stack_config("prod").items() if k != "hardstack:azIds"}
    with pytest.raises(HardstackError) as err:
        run_program(main, stack="prod", config=config)
    assert str(err.value).startswith("hardstack:azIds is required: set it to the AZ ids of the stack's region")


def test_a_subnet_given_by_zone_name_then_by_zone_id_of_that_zone_is_unchanged() -> None:
    # The provider stores both attributes (optional, computed): moving from one argument to the other
    # for the same zone replaces nothing, and the plan diff says so; another zone still replaces.
    def subnet(**zone: str) -> Callable[[], None]:
        return lambda: aws.ec2.Subnet("s", aws.ec2.SubnetArgs(vpc_id="vpc-1", cidr_block="10.0.0.0/24", **zone))

    def plan(**zone: str) -> dict[str, Any]:
        return build_plan("t", run_program(subnet(**zone), stack="t", config={"aws:region": "eu-west-3"}))

    by_name = plan(availability_zone="eu-west-3a")
    assert not diff_plans(by_name, plan(availability_zone_id="euw3-az1")).changes
    (moved,) = diff_plans(by_name, plan(availability_zone_id="euw3-az2")).replaces
    assert "availabilityZoneId" in moved.properties


# --- proof by plan: releases and image rotations -------------------------------------------------------

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"


def release_diff(**overrides: Any) -> Any:
    return diff_plans(build_plan("prod", run_stack("prod")), build_plan("prod", run_stack("prod", overrides)))


def test_rotating_the_ami_rolls_the_fleet_through_a_new_launch_template_version_and_replaces_nothing() -> None:
    diff = release_diff(**{"hardstack:fleetImageId": "ami-0fedcba9876543210"})
    assert not diff.replaces and not diff.creates and not diff.deletes
    (template,) = [c for c in diff.updates if c.type == LAUNCH_TEMPLATE]
    assert template.properties == ("imageId",)
    # The group follows the template's latest version: its instance refresh (launch before terminate) rolls.
    assert {c.type for c in diff.updates} <= {LAUNCH_TEMPLATE, GROUP}


def test_a_fleet_release_adds_its_artefact_and_rolls_the_hosts_without_replacing_state() -> None:
    sha = "0" * 64
    release = {"version": "2.0.0", "url": "https://releases.example.com/app-2.0.0", "sha256": sha}
    diff = release_diff(**{"hardstack:fleetApp": release})
    assert not [c for c in diff.replaces if c.type in STATEFUL_TYPES]
    # A new key per version: the object is replaced, the old release retained for the previous hosts.
    (artefact,) = diff.replaces
    assert (artefact.type, artefact.properties, artefact.retained) == (
        "aws:s3/bucketObjectv2:BucketObjectv2",
        ("key",),
        True,
    )
    assert "userData" in next(c for c in diff.updates if c.type == LAUNCH_TEMPLATE).properties


def test_a_cluster_release_updates_the_deployment_only() -> None:
    image = "ghcr.io/acme/shop@sha256:" + "1" * 64
    diff = release_diff(**{"hardstack:appImage": image})
    assert not diff.replaces and not diff.creates and not diff.deletes
    assert {c.type for c in diff.updates} == {"kubernetes:apps/v1:Deployment"}


# --- proof by plan: the AZ ids of a deployed network stay where they are -----------------------------


def deployed(stack: str, ids: Sequence[str], az_count: int) -> HardstackMocks:
    """The account after an `up` of `stack` with `az_count` AZs of `ids`: its database runs and its
    subnets are the ones that `up` registered, with their tags and AZ ids."""
    config = {**stack_config(stack), "hardstack:azIds": list(ids), "hardstack:azCount": az_count}
    subnets = [
        MockSubnet(mock_id(SUBNET, r.name), r.inputs["availabilityZoneId"], r.inputs["tags"])
        for r in run_program(main, stack=stack, config=config).of_type(SUBNET)
    ]
    return HardstackMocks(databases={f"hardstack-{stack}-main": "16.6"}, subnets=subnets)


PROD_IDS = ["euw3-az1", "euw3-az2", "euw3-az3"]


def az_ids_refused(ids: list[str], az_count: int = 3) -> str:
    config = {**stack_config("prod"), "hardstack:azIds": ids, "hardstack:azCount": az_count}
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        run_program(main, stack="prod", config=config, mocks=deployed("prod", PROD_IDS, 3), recording=recording)
    assert [r.type for r in recording if r.custom] == ["pulumi:providers:aws"]  # the lookups' provider only
    return str(err.value)


def test_reordering_the_az_ids_of_a_deployed_network_is_refused_naming_both_lists() -> None:
    assert az_ids_refused(["euw3-az2", "euw3-az1", "euw3-az3"]) == (
        "hardstack:azIds = ['euw3-az2', 'euw3-az1', 'euw3-az3'] is refused: ['euw3-az1', 'euw3-az2', 'euw3-az3'] "
        "first, in this order, the AZ ids the deployed subnets are in (a subnet cannot move to another AZ: it "
        "would be replaced); append new AZ ids at the end"
    )


@pytest.mark.parametrize(
    ("ids", "az_count"),
    [
        (["euw3-az1", "euw3-az3"], 2),  # removed from the middle: subnet 1 would move to euw3-az3
        (["euw3-az1", "euw3-az2"], 2),  # removed from the end, with the AZ count: subnet 2 has no AZ left
        (["euw3-az1", "euw3-az2", "euw3-az4"], 3),  # replaced
    ],
)
def test_removing_or_replacing_an_az_id_a_deployed_subnet_is_in_is_refused(ids: list[str], az_count: int) -> None:
    message = az_ids_refused(ids, az_count)
    assert message.startswith(f"hardstack:azIds = {ids!r} is refused: {PROD_IDS!r} first")
    assert message.endswith("append new AZ ids at the end")


def test_appending_an_az_id_to_a_deployed_network_adds_its_subnets_and_replaces_none() -> None:
    mocks = deployed("test", PROD_IDS, 2)  # the test stack runs in the first two
    before = build_plan("test", run_program(main, stack="test", config=stack_config("test"), mocks=mocks))
    config = {**stack_config("test"), "hardstack:azIds": [*PROD_IDS, "euw3-az4"], "hardstack:azCount": 3}
    rec = run_program(main, stack="test", config=config, mocks=mocks)

    diff = diff_plans(before, build_plan("test", rec))

    assert not [c for c in diff.replaces if c.type in NETWORK_TYPES] and not diff.deletes
    assert {c.name for c in diff.creates if c.type == SUBNET} == {
        f"net-{t}-2" for t in ("public", "private", "isolated")
    }
    lookups = [i.token.rsplit(":", 1)[-1] for i in rec.invokes if i.token.startswith("aws:ec2/getSubnet")]
    assert lookups == ["getSubnets", "getSubnet", "getSubnet"]  # the listing, then each private subnet


def test_a_reorder_would_replace_the_subnets_of_the_moved_azs_which_is_why_it_is_refused() -> None:
    # On a first up nothing is deployed, so nothing is read or refused: the plans show what a reorder does.
    before = build_plan("test", run_stack("test"))
    after = build_plan("test", run_stack("test", {"hardstack:azIds": ["euw3-az2", "euw3-az1", "euw3-az3"]}))

    replaced = {(c.name, c.properties) for c in diff_plans(before, after).replaces if c.type == SUBNET}

    moved = {f"net-{t}-{i}" for t in ("public", "private", "isolated") for i in (0, 1)}
    assert {name for name, _ in replaced} == moved
    assert all("availabilityZoneId" in properties for _, properties in replaced)


def test_a_first_up_lists_the_subnets_and_finds_none_to_keep() -> None:
    lookups = [i.token for i in run_stack("prod").invokes if i.token.startswith("aws:ec2/getSubnet")]
    assert lookups == ["aws:ec2/getSubnets:getSubnets"]


def test_a_reorder_after_an_up_that_failed_once_the_subnets_existed_is_refused() -> None:
    # No database or cluster runs yet: the subnets alone tell what is deployed.
    done = deployed("prod", PROD_IDS, 3)
    mocks = HardstackMocks(subnets=done.subnets)
    config = {**stack_config("prod"), "hardstack:azIds": ["euw3-az2", "euw3-az1", "euw3-az3"]}
    recording = Recording()
    with pytest.raises(HardstackError, match=r"^hardstack:azIds = \['euw3-az2'.*append new AZ ids at the end$"):
        run_program(main, stack="prod", config=config, mocks=mocks, recording=recording)
    assert [r.type for r in recording if r.custom] == ["pulumi:providers:aws"]
