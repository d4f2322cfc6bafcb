"""Day-2 operations of the stacks: teardown where it must work, and nowhere it must not."""

import copy
from typing import Any

import pytest

from hardstack import HardstackError
from hardstack.tooling.plan import STATEFUL_TYPES, build_plan, diff_plans, waits_for
from hardstack.tooling.testing import HardstackMocks, Recording, run_program
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


def prod_on_cluster(running: str | None, recording: Recording | None = None, **overrides: Any) -> Recording:
    """The prod stack in an account whose cluster runs `running` (None: no cluster yet)."""
    config = {**stack_config("prod"), **overrides}
    clusters = {CLUSTER_NAME: running} if running is not None else {}
    mocks = HardstackMocks(str(config["aws:region"]), databases={IDENTIFIER: "16.6"}, clusters=clusters)
    return run_program(main, stack="prod", config=config, mocks=mocks, recording=recording)


def test_a_kubernetes_minor_upgrade_updates_control_plane_addons_and_nodes_in_place_in_that_order() -> None:
    before = build_plan("prod", prod_on_cluster("1.33"))
    after = build_plan("prod", prod_on_cluster("1.33", **{"hardstack:clusterVersion": "1.34"}))

    diff = diff_plans(before, after)

    assert not diff.replaces and not diff.creates and not diff.deletes and not diff.hazards
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
    after = build_plan("test", run_stack("test", {"aws:region": "eu-west-1"}))

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
