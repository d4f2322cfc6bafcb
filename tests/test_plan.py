import copy
import importlib
import inspect
import itertools
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.tooling.plan import (
    KUBERNETES_REPLACE_ON_CHANGE,
    REPLACE_ON_CHANGE,
    SECRET,
    STATEFUL_TYPES,
    TYPICAL_SECONDS,
    PlanDiff,
    build_plan,
    diff_plans,
    estimate_duration,
    is_secret_key,
    read_plan,
    render_markdown,
    replace_triggers,
    write_plan,
)
from hardstack.tooling.plan import waits_for as plan_waits_for
from hardstack.tooling.testing import Recording
from stacks.offline import run_stack
from stacks.plan_cli import WRITER_FILES

ROOT = Path(__file__).resolve().parent.parent
VPC = "aws:ec2/vpc:Vpc"
BUCKET = "aws:s3/bucket:Bucket"
WARNING_HEADING = "### :warning: Stateful or protected resources replaced or deleted"


@pytest.fixture(scope="module")
def prod_plan() -> dict[str, Any]:
    return build_plan("prod", run_stack("prod"))


def warnings_of(markdown: str) -> str:
    """The warning section: from its heading to the first folded block."""
    return markdown.split(WARNING_HEADING, 1)[1].split("<details>", 1)[0]


def entry(plan: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["type"] == type_ and r["name"] == name)


def resource(urn: str, type_: str = "aws:ec2/vpc:Vpc", deps: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": type_,
        "name": urn,
        "parent": extra.pop("parent", ""),
        "custom": extra.pop("custom", True),
        "protect": extra.pop("protect", False),
        "dependencies": list(deps),
        "inputs": extra.pop("inputs", {}),
        **extra,
    }


def plan_of(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "stack": "s", "resources": list(resources), "outputs": {}}


def nested(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {head: nested(rest, value) if rest else value}


# --- plan files and secrets ------------------------------------------------------------------------


def test_build_plan_masks_secret_values_secret_looking_keys_and_secret_outputs(
    run: Callable[..., Recording],
) -> None:
    def program() -> None:
        aws.ssm.Parameter("api", type="SecureString", value=pulumi.Output.secret("hunter2"))
        aws.rds.Instance(
            "db",
            instance_class="db.t4g.micro",
            engine="postgres",
            password="s3cr3t-pw",
            manage_master_user_password=False,
        )
        pulumi.export("dbPassword", pulumi.Output.secret("s3cr3t-out"))

    plan = build_plan("test", run(program))

    text = json.dumps(plan)
    assert "hunter2" not in text and "s3cr3t-pw" not in text and "s3cr3t-out" not in text
    assert entry(plan, "aws:ssm/parameter:Parameter", "api")["inputs"]["value"] == SECRET
    assert entry(plan, "aws:rds/instance:Instance", "db")["inputs"]["password"] == SECRET
    assert entry(plan, "aws:rds/instance:Instance", "db")["inputs"]["engine"] == "postgres"
    assert entry(plan, "aws:rds/instance:Instance", "db")["inputs"]["manageMasterUserPassword"] is False
    assert plan["outputs"]["dbPassword"] == SECRET


@pytest.mark.parametrize(
    "key", ["password", "masterPassword", "client_secret", "secretString", "privateKeyPem", "kubeconfig", "apiToken"]
)
def test_secret_looking_keys_are_masked(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["httpTokens", "kmsKeyId", "keyUsage", "description", "privateIp", "tags"])
def test_ordinary_keys_stay_visible(key: str) -> None:
    assert not is_secret_key(key)


def test_plan_file_round_trips_byte_for_byte(prod_plan: dict[str, Any], tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_plan(first, prod_plan)
    write_plan(second, read_plan(first))
    assert first.read_bytes() == second.read_bytes()


def test_read_plan_refuses_a_file_without_resources(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"stack": "prod"}')
    with pytest.raises(ValueError, match=r"bad\.json = 'dict' is refused: a plan file"):
        read_plan(bad)


# --- diffs -----------------------------------------------------------------------------------------


def test_diff_of_a_plan_with_itself_is_empty(prod_plan: dict[str, Any]) -> None:
    assert diff_plans(prod_plan, prod_plan).is_empty()


def test_changed_vpc_cidr_is_a_stateful_replacement_shown_first(prod_plan: dict[str, Any]) -> None:
    wider = build_plan("prod", run_stack("prod", {"hardstack:vpcCidr": "10.40.0.0/16"}))

    diff = diff_plans(prod_plan, wider)
    markdown = render_markdown({"prod": diff})

    vpc = next(c for c in diff.replaces if c.type == VPC)
    assert vpc.properties == ("cidrBlock",) and vpc.stateful and vpc.dangerous
    first = warnings_of(markdown)
    assert "`net` (`aws:ec2/vpc:Vpc`) is **replaced** because of `cidrBlock`" in first


def test_removed_protected_bucket_is_a_stateful_deletion_shown_first(prod_plan: dict[str, Any]) -> None:
    without = copy.deepcopy(prod_plan)
    without["resources"] = [r for r in without["resources"] if not (r["type"] == BUCKET and r["name"] == "web-logs")]

    diff = diff_plans(prod_plan, without)

    (gone,) = diff.deletes
    assert (gone.name, gone.stateful, gone.protected) == ("web-logs", True, True)
    first = warnings_of(render_markdown({"prod": diff}))
    assert "`web-logs` (`aws:s3/bucket:Bucket`) is **deleted**" in first and "protected" in first


def test_tag_change_is_an_update_not_a_replacement(prod_plan: dict[str, Any]) -> None:
    tagged = copy.deepcopy(prod_plan)
    entry(tagged, VPC, "net")["inputs"]["tags"]["CostCentre"] = "42"

    diff = diff_plans(prod_plan, tagged)

    assert not diff.replaces
    assert [(c.name, c.properties) for c in diff.updates] == [("net", ("tags.CostCentre",))]


def test_replacement_renews_ids_so_dependents_holding_them_follow() -> None:
    vpc = "aws:ec2/vpc:Vpc"
    subnet, igw = "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway"
    assoc = "aws:ec2/routeTableAssociation:RouteTableAssociation"

    def stack(cidr: str) -> dict[str, Any]:
        return plan_of(
            resource("vpc", vpc, inputs={"id": "vpc-1", "cidrBlock": cidr}),
            resource("sub", subnet, deps=("vpc",), inputs={"id": "subnet-1", "vpcId": "vpc-1"}),
            resource("gw", igw, deps=("vpc",), inputs={"vpcId": "vpc-1"}),
            resource("assoc", assoc, deps=("sub",), inputs={"subnetId": "subnet-1"}),
        )

    diff = diff_plans(stack("10.0.0.0/16"), stack("10.1.0.0/16"))

    assert [(c.name, c.properties) for c in diff.replaces] == [
        ("assoc", ("subnetId",)),
        ("sub", ("vpcId",)),
        ("vpc", ("cidrBlock",)),
    ]
    assert [(c.name, c.properties) for c in diff.updates] == [("gw", ("vpcId",))]


def test_dependency_only_change_is_no_change() -> None:
    old = plan_of(resource("a"), resource("b", deps=("a",)))
    new = plan_of(resource("a"), resource("b"))
    assert diff_plans(old, new).is_empty()


def test_counts_table_counts_each_action_per_stack() -> None:
    old = plan_of(
        resource("keep", inputs={"tags": {"a": "1"}}),
        resource("move", inputs={"cidrBlock": "10.0.0.0/16"}),
        resource("gone", type_="aws:iam/role:Role"),
    )
    new = plan_of(
        resource("keep", inputs={"tags": {"a": "2"}}),
        resource("move", inputs={"cidrBlock": "10.1.0.0/16"}),
        resource("born", type_="aws:iam/role:Role"),
        resource("born-too", type_="aws:iam/role:Role"),
    )

    markdown = render_markdown({"test": PlanDiff(), "prod": diff_plans(old, new)})

    assert "| test | 0 | 0 | 0 | 0 |" in markdown
    assert "| prod | 2 | 1 | 1 | 1 |" in markdown
    assert "**test**: no changes." in markdown


def test_rendering_is_deterministic(prod_plan: dict[str, Any]) -> None:
    wider = build_plan("prod", run_stack("prod", {"hardstack:vpcCidr": "10.40.0.0/16"}))
    assert render_markdown({"prod": diff_plans(prod_plan, wider)}) == render_markdown(
        {"prod": diff_plans(copy.deepcopy(prod_plan), copy.deepcopy(wider))}
    )


def test_resource_moved_to_a_new_parent_is_a_replacement() -> None:
    old = plan_of(resource("urn:old::logs", type_=BUCKET, name="logs", protect=True))
    new = plan_of(resource("urn:new::logs", type_=BUCKET, name="logs"))

    (moved,) = diff_plans(old, new).replaces

    assert moved.properties == ("(parent)",) and moved.protected and "alias" in moved.note


def test_provider_region_change_replaces_every_regional_resource_and_stops_the_review() -> None:
    def stack(region: str) -> dict[str, Any]:
        return plan_of(
            resource("aws", type_="pulumi:providers:aws", inputs={"region": region}),
            resource("net", VPC, provider="aws", inputs={"cidrBlock": "10.0.0.0/16"}),
            resource("role", "aws:iam/role:Role", provider="aws", inputs={"name": "app"}),
        )

    diff = diff_plans(stack("eu-west-3"), stack("eu-west-1"))

    assert [(c.name, c.properties) for c in diff.replaces] == [("net", ("region",))]
    assert "region changes" in diff.replaces[0].note
    assert [c.name for c in diff.updates] == ["aws"]  # IAM is global: the role stays
    warnings = warnings_of(render_markdown({"prod": diff}))
    assert "`net` (`aws:ec2/vpc:Vpc`) is **replaced** because of `region`" in warnings
    assert "no data moves with it" in warnings


# --- what replaces what ----------------------------------------------------------------------------

RULES = sorted((t, p) for t, props in {**REPLACE_ON_CHANGE, **KUBERNETES_REPLACE_ON_CHANGE}.items() for p in props)


@pytest.mark.parametrize(("type_", "prop"), RULES)
def test_each_replace_rule_turns_its_change_into_a_replacement(type_: str, prop: str) -> None:
    old = plan_of(resource("r", type_=type_, inputs={**nested(prop, "before"), "tags": {"a": "1"}}))
    new = plan_of(resource("r", type_=type_, inputs={**nested(prop, "after"), "tags": {"a": "1"}}))

    (replaced,) = diff_plans(old, new).replaces

    assert replaced.properties == (prop,)


@pytest.mark.parametrize("type_", sorted(REPLACE_ON_CHANGE))
def test_tags_update_every_known_type_in_place(type_: str) -> None:
    assert replace_triggers(type_, {"tags": {"Team": "a"}}, {"tags": {"Team": "b"}}) == []


@pytest.mark.parametrize(
    ("type_", "prop"),
    [
        ("aws:rds/instance:Instance", "identifier"),  # renamed in place since provider v5
        ("aws:rds/instance:Instance", "engineVersion"),
        ("aws:rds/instance:Instance", "allocatedStorage"),
        ("aws:eks/cluster:Cluster", "vpcConfig.subnetIds"),
        ("aws:eks/cluster:Cluster", "version"),
        ("aws:eks/nodeGroup:NodeGroup", "scalingConfig.desiredSize"),
        ("aws:ec2/routeTableAssociation:RouteTableAssociation", "routeTableId"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "cidrIpv4"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "fromPort"),
        ("aws:cloudwatch/logGroup:LogGroup", "kmsKeyId"),
        ("aws:kms/alias:Alias", "targetKeyId"),
    ],
)
def test_properties_that_update_in_place_are_not_replacements(type_: str, prop: str) -> None:
    assert replace_triggers(type_, nested(prop, "before"), nested(prop, "after")) == []


def test_rule_switching_from_a_cidr_to_a_group_peer_is_a_replacement() -> None:
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    triggers = replace_triggers(rule, {"cidrIpv4": "10.0.0.0/16"}, {"referencedSecurityGroupId": "sg-1"})
    assert triggers == ["cidrIpv4", "referencedSecurityGroupId"]


def test_cluster_encryption_can_be_added_in_place_but_not_removed() -> None:
    cluster, encryption = "aws:eks/cluster:Cluster", {"encryptionConfig": {"resources": ["secrets"]}}
    assert replace_triggers(cluster, {}, encryption) == []
    assert replace_triggers(cluster, encryption, {}) == ["encryptionConfig"]


def test_every_aws_type_the_prod_stack_registers_has_replace_rules() -> None:
    registered = {r.type for r in run_stack("prod") if r.type.startswith("aws:")}
    assert registered - REPLACE_ON_CHANGE.keys() == set()


def test_node_groups_are_not_stateful_but_clusters_and_databases_are() -> None:
    assert "aws:eks/nodeGroup:NodeGroup" not in STATEFUL_TYPES
    assert {"aws:eks/cluster:Cluster", "aws:rds/instance:Instance", VPC, BUCKET} <= STATEFUL_TYPES


# --- duration estimate -----------------------------------------------------------------------------


def test_estimate_follows_the_longest_dependency_chain() -> None:
    plan = plan_of(
        resource("nat", "aws:ec2/natGateway:NatGateway"),
        resource("route", deps=("nat",)),
        resource("vpc"),
        resource("cluster", "aws:eks/cluster:Cluster", deps=("vpc",)),
        resource("nodes", "aws:eks/nodeGroup:NodeGroup", deps=("cluster",)),
    )

    estimate = estimate_duration(plan)

    assert estimate.total_seconds == 5 + 600 + 240
    assert estimate.critical_path == ("vpc", "cluster", "nodes")


def test_depending_on_a_component_waits_for_its_children_and_the_component_takes_no_time() -> None:
    plan = plan_of(
        resource("data", "hardstack:data:Database", custom=False),
        resource("db", "aws:rds/instance:Instance", parent="data"),
        resource("app", deps=("data",)),
    )

    estimate = estimate_duration(plan)

    assert estimate.total_seconds == 600 + 5
    assert estimate.critical_path == ("db", "app")


@given(st.lists(st.sampled_from(sorted(TYPICAL_SECONDS)), min_size=1, max_size=8))
def test_a_straight_chain_takes_the_sum_of_its_steps(types: list[str]) -> None:
    chain = [resource(f"r{i}", t, deps=(f"r{i - 1}",) if i else ()) for i, t in enumerate(types)]
    assert estimate_duration(plan_of(*chain)).total_seconds == sum(TYPICAL_SECONDS[t] for t in types)


def test_prod_estimate_exceeds_a_nat_gateway_and_names_a_real_dependency_chain(prod_plan: dict[str, Any]) -> None:
    estimate = estimate_duration(prod_plan)

    assert estimate.total_seconds > TYPICAL_SECONDS["aws:ec2/natGateway:NatGateway"]
    path = estimate.critical_path
    assert len(path) >= 2 and all(a in plan_waits_for(prod_plan, b) for a, b in itertools.pairwise(path))


def test_prod_critical_path_is_what_aws_forces(prod_plan: dict[str, Any]) -> None:
    # cluster -> CNI -> nodes -> CSI -> chart: nothing else serialised in front of the control plane.
    types = [entry_of(prod_plan, urn)["type"] for urn in estimate_duration(prod_plan).critical_path]
    order = [
        "aws:eks/cluster:Cluster",
        "aws:eks/addon:Addon",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/addon:Addon",
        "kubernetes:helm.sh/v3:Release",
    ]
    positions = [types.index(t, types.index(order[i - 1]) + 1 if i else 0) for i, t in enumerate(order)]
    assert positions == sorted(positions)
    assert "aws:ec2/natGateway:NatGateway" not in types


def entry_of(plan: dict[str, Any], urn: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["urn"] == urn)


def test_a_kubernetes_object_waits_for_its_provider_and_what_the_provider_needs(prod_plan: dict[str, Any]) -> None:
    deployment = next(r for r in prod_plan["resources"] if r["type"] == "kubernetes:apps/v1:Deployment")
    cluster = next(r for r in prod_plan["resources"] if r["type"] == "aws:eks/cluster:Cluster")
    assert deployment["provider"] and cluster["urn"] in plan_waits_for(prod_plan, deployment["urn"])


# --- command line ----------------------------------------------------------------------------------


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stacks.plan_cli", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_cli_writes_a_plan_and_diffs_two_plan_files(tmp_path: Path) -> None:
    plan = tmp_path / "test.plan.json"
    assert cli("write", "--stack", "test", "--out", str(plan)).returncode == 0
    changed = read_plan(plan)
    entry(changed, VPC, "net")["inputs"]["cidrBlock"] = "10.99.0.0/16"
    write_plan(tmp_path / "changed.json", changed)

    done = cli("diff", str(plan), str(tmp_path / "changed.json"))

    assert done.returncode == 0, done.stderr
    assert "`net` (`aws:ec2/vpc:Vpc`) is **replaced** because of `cidrBlock`" in warnings_of(done.stdout)


def test_cli_estimate_prints_the_total_and_the_chain() -> None:
    done = cli("estimate", "--stack", "prod")
    assert done.returncode == 0, done.stderr
    total, heading, first_step, *_ = done.stdout.splitlines()
    assert total.startswith("estimated creation from scratch:") and heading == "critical path:"
    assert re.fullmatch(r"\s+\d+ s  \S+ \(aws:\S+\)", first_step), first_step


def test_cli_diff_rev_writes_both_plans_with_the_current_writer_and_cleans_up(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    # The base revision's own writer records an extra input on every resource: had its plan been
    # written with it, every resource of every stack would show as changed.
    harness = repo / "components/hardstack/tooling/testing.py"
    harness.write_text(
        harness.read_text()
        + "\n_own = HardstackMocks.new_resource\n"
        + "def _old(self, args):\n"
        + "    rid, state = _own(self, args)\n"
        + "    return rid, {**state, 'oldWriter': 1}\n"
        + "HardstackMocks.new_resource = _old\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=repo, check=True)
    for rel in WRITER_FILES:
        (repo / rel).write_bytes((ROOT / rel).read_bytes())
    prod = repo / "stacks" / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text().replace("10.30.0.0/16", "10.31.0.0/16"))
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "move prod"], cwd=repo, check=True)

    done = cli("diff-rev", "HEAD~1", "HEAD", cwd=repo)

    assert done.returncode == 0, done.stderr
    assert "`net` (`aws:ec2/vpc:Vpc`) is **replaced** because of `cidrBlock`" in warnings_of(done.stdout)
    assert "**test**: no changes." in done.stdout and "**preprod**: no changes." in done.stdout
    assert "Secret values were not compared" not in done.stdout  # one key for both sides
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True)
    assert len(worktrees.stdout.strip().splitlines()) == 1


def test_properties_the_program_ignores_after_creation_are_not_changes() -> None:
    # The database ignores its seed snapshot once created: setting one later must not read as a
    # replacement of the database, while a class change still shows as an update.
    before = build_plan("prod", run_stack("prod"))
    after = build_plan(
        "prod",
        run_stack(
            "prod",
            {
                "hardstack:dbSnapshotIdentifier": "arn:aws:rds:eu-west-3:111122223333:snapshot:prod-main-2026-11-01",
                "hardstack:dbInstanceClass": "db.m7g.xlarge",
            },
        ),
    )
    db = [c for c in diff_plans(before, after).changes if c.type == "aws:rds/instance:Instance"]
    assert [(c.action, c.properties) for c in db] == [("update", ("instanceClass",))]


# --- the diff follows what the engine does --------------------------------------------------------

ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SECRET_KIND = "kubernetes:core/v1:Secret"


def test_every_resource_of_the_prod_plan_has_an_id_of_its_own(prod_plan: dict[str, Any]) -> None:
    ids = [r["inputs"]["id"] for r in prod_plan["resources"] if r["custom"]]
    assert len(ids) == len(set(ids))


def test_a_replaced_route_table_moves_its_associations_in_place(prod_plan: dict[str, Any]) -> None:
    # The table and the subnet share a name; the association holds both ids, and only the
    # subnet's would replace it.
    moved = copy.deepcopy(prod_plan)
    entry(moved, ROUTE_TABLE, "net-private-0")["inputs"]["vpcId"] = "vpc-elsewhere"

    diff = diff_plans(prod_plan, moved)

    assert [(c.name, c.properties) for c in diff.replaces] == [
        ("net-private-0-default", ("routeTableId",)),  # a route belongs to its table
        ("net-private-0", ("vpcId",)),
    ]
    association = next(c for c in diff.updates if c.type == ASSOCIATION)
    assert association.properties == ("routeTableId",) and "`net-private-0`" in association.note


def _role_program(path: str) -> Callable[[], None]:
    def program() -> None:
        role = aws.iam.Role("app", assume_role_policy="{}", path=path)
        aws.iam.RolePolicyAttachment("app-read", role=role.name, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        aws.iam.RolePolicy("app-inline", role=role.id, policy=role.arn.apply(lambda arn: json.dumps({"r": arn})))

    return program


def test_a_replaced_role_replaces_what_holds_any_of_its_outputs(run: Callable[..., Recording]) -> None:
    before = build_plan("test", run(_role_program("/app/")))
    after = build_plan("test", run(_role_program("/services/")))

    diff = diff_plans(before, after)

    assert [(c.name, c.properties) for c in diff.replaces] == [
        ("app", ("path",)),
        ("app-inline", ("role",)),
        ("app-read", ("role",)),
    ]
    assert all("gets the new outputs of `app`" in c.note for c in diff.replaces if c.name != "app")


def _secret_program(password: str, mutable: bool = False) -> Callable[[], None]:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}", enable_secret_mutable=mutable or None)
        k8s.core.v1.Secret(
            "db",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="db", namespace="app"),
            string_data=pulumi.Output.secret({"PGPASSWORD": password}),
            opts=pulumi.ResourceOptions(provider=provider),
        )

    return program


def test_a_secret_whose_data_changes_is_replaced_and_its_values_stay_hidden(run: Callable[..., Recording]) -> None:
    key = b"k" * 32
    before = build_plan("test", run(_secret_program("old-pw-1")), secret_key=key)
    after = build_plan("test", run(_secret_program("new-pw-2")), secret_key=key)

    diff = diff_plans(before, after)

    assert [(c.type, c.properties) for c in diff.replaces] == [(SECRET_KIND, ("stringData",))]
    text = json.dumps(before) + json.dumps(after) + render_markdown({"test": diff})
    assert "old-pw-1" not in text and "new-pw-2" not in text
    assert diff_plans(before, build_plan("test", run(_secret_program("old-pw-1")), secret_key=key)).is_empty()


def test_a_mutable_secret_changes_in_place(run: Callable[..., Recording]) -> None:
    key = b"k" * 32
    before = build_plan("test", run(_secret_program("old-pw-1", mutable=True)), secret_key=key)
    after = build_plan("test", run(_secret_program("new-pw-2", mutable=True)), secret_key=key)

    diff = diff_plans(before, after)

    assert not diff.replaces and [c.properties for c in diff.updates] == [("stringData",)]


def test_plans_masked_under_different_keys_say_secrets_were_not_compared(run: Callable[..., Recording]) -> None:
    before = build_plan("test", run(_secret_program("old-pw-1")), secret_key=b"a" * 32)
    after = build_plan("test", run(_secret_program("new-pw-2")), secret_key=b"b" * 32)

    diff = diff_plans(before, after)

    assert diff.is_empty() and not diff.secrets_compared
    assert diff_plans(before, before).secrets_compared


@pytest.mark.parametrize(
    ("type_", "prop", "replaced"),
    [
        ("kubernetes:helm.sh/v3:Release", "name", True),
        ("kubernetes:helm.sh/v3:Release", "version", False),  # a chart bump upgrades the release
        ("kubernetes:batch/v1:Job", "spec.template", True),
        ("kubernetes:core/v1:PersistentVolumeClaim", "spec.resources.requests.storage", False),  # expands
        ("kubernetes:core/v1:ConfigMap", "data", True),
        ("kubernetes:apps/v1:StatefulSet", "spec.replicas", False),
    ],
)
def test_kubernetes_replacements_follow_the_kubernetes_provider(type_: str, prop: str, replaced: bool) -> None:
    assert bool(replace_triggers(type_, nested(prop, "a"), nested(prop, "b"))) is replaced


def test_a_postgres_major_upgrade_is_flagged_and_replaces_no_database(prod_plan: dict[str, Any]) -> None:
    upgraded = build_plan("prod", run_stack("prod", {"hardstack:dbEngineVersion": "17"}))

    diff = diff_plans(prod_plan, upgraded)

    assert not [c for c in diff.replaces if c.type in STATEFUL_TYPES]
    (db,) = [c for c in diff.updates if c.type == "aws:rds/instance:Instance"]
    assert "PostgreSQL major upgrade 16 -> 17" in db.note
    assert "PostgreSQL major upgrade 16 -> 17" in warnings_of(render_markdown({"prod": diff}))


def test_a_postgres_downgrade_is_flagged_as_refused() -> None:
    db = "aws:rds/instance:Instance"
    old = plan_of(resource("db", db, inputs={"engine": "postgres", "engineVersion": "17"}))
    new = plan_of(resource("db", db, inputs={"engine": "postgres", "engineVersion": "16.4"}))

    (hazard,) = diff_plans(old, new).hazards

    assert "PostgreSQL downgrade 17 -> 16: RDS refuses it" in hazard


def test_a_minor_engine_change_is_no_hazard() -> None:
    db = "aws:rds/instance:Instance"
    old = plan_of(resource("db", db, inputs={"engine": "postgres", "engineVersion": "16.4"}))
    new = plan_of(resource("db", db, inputs={"engine": "postgres", "engineVersion": "16.6"}))
    assert not diff_plans(old, new).hazards


# --- the replace rules against the SDK -------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _sdk_inputs(type_: str) -> tuple[Any, dict[str, Any]]:
    """The SDK's resource class of a type token and its input names (the `_internal_init` keywords)."""
    module_path, kind = type_.split(":", 1)[1].split(":")
    module = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
    cls = getattr(module, kind)
    assert cls._internal_init.__qualname__.startswith(kind)
    return module, dict(inspect.signature(cls._internal_init).parameters)


@pytest.mark.parametrize(("type_", "prop"), sorted((t, p) for t, props in REPLACE_ON_CHANGE.items() for p in props))
def test_each_replace_rule_names_an_input_of_the_sdk(type_: str, prop: str) -> None:
    module, params = _sdk_inputs(type_)
    head, *rest = prop.split(".")
    assert _snake(head) in params, f"{type_} has no input {head}"
    if rest:  # a nested rule: the field must exist on the block's Args type
        block = re.search(r"'(\w+Args)'", str(params[_snake(head)].annotation))
        assert block is not None
        fields = inspect.signature(getattr(module, block.group(1)).__init__).parameters
        assert _snake(rest[0]) in fields, f"{type_}.{head} has no field {rest[0]}"


def test_a_resource_renamed_with_an_alias_to_its_old_name_is_the_same_resource(run: Callable[..., Recording]) -> None:
    def program(name: str, aliases: list[pulumi.Alias]) -> Callable[[], None]:
        def body() -> None:
            role = aws.iam.Role(name, assume_role_policy="{}", opts=pulumi.ResourceOptions(aliases=aliases))
            aws.iam.RolePolicyAttachment("read", role=role.name, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")

        return body

    before = build_plan("test", run(program("app", [])))
    renamed = build_plan("test", run(program("app-v2", [pulumi.Alias(name="app")])))
    unaliased = build_plan("test", run(program("app-v2", [])))

    assert diff_plans(before, renamed).is_empty()  # the engine adopts the old state, auto-name and all
    # Without the alias the role is new, and so is the name the attachment holds.
    assert sorted((c.action, c.name) for c in diff_plans(before, unaliased).changes) == [
        ("create", "app-v2"),
        ("delete", "app"),
        ("replace", "read"),
    ]


@pytest.mark.parametrize(
    ("was", "now", "says"),
    [
        ("1.33", "1.34", "Kubernetes upgrade 1.33 -> 1.34: the control plane upgrades in place"),
        ("1.34", "1.33", "EKS refuses it"),
        ("1.32", "1.34", "skips a minor: EKS refuses it"),
        ("1.33", "1.33", ""),
    ],
)
def test_a_kubernetes_version_change_is_named_for_the_reviewer(was: str, now: str, says: str) -> None:
    from hardstack.tooling.plan import kubernetes_version_change

    text = kubernetes_version_change("aws:eks/cluster:Cluster", {"version": was}, {"version": now})
    assert (says in text) if says else text == ""
    assert kubernetes_version_change("aws:eks/nodeGroup:NodeGroup", {"version": was}, {"version": now}) == ""
