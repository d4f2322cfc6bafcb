"""Cluster modes that work: an existing cluster other stacks share, a kubeconfig in YAML or JSON or
encrypted, and `none` asking only for what it deploys."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hardstack import HardstackError
from hardstack.core.addressing import plan_addresses
from hardstack.core.naming import Naming
from hardstack.tooling.testing import HardstackMocks, Recording, Secret, run_program, unsecret
from stacks import offline
from stacks.offline import run_stack, stack_config
from stacks.program import main
from stacks.settings import parse_settings

KUBECONFIG: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "shared", "cluster": {"server": "https://k8s.internal.example:6443"}}],
    "contexts": [{"name": "shared", "context": {"cluster": "shared", "user": "deployer"}}],
    "current-context": "shared",
    "users": [{"name": "deployer", "user": {"token": "tok-9f8e7d-not-real"}}],
}
EXISTING = {
    "hardstack:clusterMode": "existing",
    "hardstack:kubeconfig": KUBECONFIG,
    # Where its ALB connects to the pods from: the existing cluster's public subnets, in its VPC.
    "hardstack:existingClusterLoadBalancerCidrs": ["172.20.0.0/24"],
}


def names_in_cluster(rec: Recording) -> set[tuple[str, str]]:
    """Cluster-scoped names (namespaces, StorageClasses) and Helm releases a run creates."""
    out = set()
    for r in rec:
        if r.type in ("kubernetes:core/v1:Namespace", "kubernetes:storage.k8s.io/v1:StorageClass"):
            out.add((r.type, r.inputs["metadata"]["name"]))
        elif r.type == "kubernetes:helm.sh/v3:Release":
            out.add((r.type, r.inputs["name"]))
    return out


def test_a_json_kubeconfig_is_taken_as_its_text() -> None:
    # Config in JSON arrives decoded; the document the cluster exports is JSON.
    s = parse_settings({**stack_config("test"), **EXISTING})
    assert s.kubeconfig is not None and json.loads(s.kubeconfig) == KUBECONFIG


def test_a_kubeconfig_object_that_is_no_document_is_refused_without_its_contents() -> None:
    with pytest.raises(HardstackError) as err:
        parse_settings({**stack_config("test"), **EXISTING, "hardstack:kubeconfig": [{"token": "tok-9f8e7d"}]})
    assert "hardstack:kubeconfig" in str(err.value) and "tok-9f8e7d" not in str(err.value)


def test_an_encrypted_kubeconfig_previews_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((offline.STACKS_DIR / "Pulumi.test.yaml").read_text())
    data["config"]["hardstack:clusterMode"] = "existing"
    data["config"]["hardstack:kubeconfig"] = {"secure": "AAABAKpR0c3Ek6kAQ=="}
    data["config"]["hardstack:existingClusterLoadBalancerCidrs"] = ["172.20.0.0/24"]
    (tmp_path / "Pulumi.test.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr(offline, "STACKS_DIR", tmp_path)
    rec = run_stack("test")
    assert len(rec.of_type("hardstack:kubernetes:ExistingCluster")) == 1
    assert rec.of_type("kubernetes:apps/v1:Deployment")


def test_stacks_sharing_an_existing_cluster_take_no_common_name(monkeypatch: pytest.MonkeyPatch) -> None:
    on = {**EXISTING, "hardstack:clusterMonitoring": True}
    first = names_in_cluster(run_stack("test", on))
    # Another stack of the same project on the same cluster (the program reads the stack's name); the
    # cluster's one metrics-server came with the first (a cluster-wide controller is installed once).
    monkeypatch.setattr("pulumi.get_stack", lambda: "test-b")
    second = names_in_cluster(
        run_stack("test", {**on, "hardstack:tier": "development", "hardstack:metricsServer": False})
    )
    assert first and second and not first & second
    naming = Naming.of("hardstack", "test")
    assert ("kubernetes:core/v1:Namespace", naming.kubernetes("app")) in first


def test_an_existing_cluster_keeps_its_default_class_system_namespaces_and_database_apart() -> None:
    rec = run_stack("test", EXISTING)
    (storage_class,) = rec.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert "storageclass.kubernetes.io/is-default-class" not in (
        storage_class.inputs["metadata"].get("annotations") or {}
    )
    # The database lives in this VPC and admits only this stack's fleet and nodes: the app on a cluster
    # elsewhere gets no route to it, and the cluster owner's namespaces get no policy of ours.
    assert rec.of_type("hardstack:kubernetes:EgressGuard") == []
    policies = json.dumps([p.inputs for p in rec.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")])
    settings = parse_settings(stack_config("test"))
    for subnet in plan_addresses(settings.vpc_cidr, settings.az_count).of_tier("isolated"):
        assert subnet.cidr not in policies
    # Monitoring (cluster-wide CRDs, operator, node exporters) is for the cluster's owner unless asked for.
    assert rec.of_type("hardstack:monitoring:KubernetesMonitoring") == []


def test_the_app_admits_the_scrapes_of_this_stacks_own_monitoring_namespace() -> None:
    rec = run_stack("test", {**EXISTING, "hardstack:clusterMonitoring": True})
    (release,) = [
        r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"
    ]
    namespace = release.inputs["namespace"]
    assert namespace == Naming.of("hardstack", "test").kubernetes("monitoring")
    policy = rec.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "app-allow-metrics-from-monitoring").inputs
    (rule,) = policy["spec"]["ingress"]
    assert [p["namespaceSelector"]["matchLabels"] for p in rule["from"]] == [{"kubernetes.io/metadata.name": namespace}]


def test_an_existing_cluster_monitored_here_runs_no_node_exporter() -> None:
    rec = run_stack("test", {**EXISTING, "hardstack:clusterMonitoring": True})
    (release,) = [
        r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"
    ]
    assert release.inputs["values"]["nodeExporter"]["enabled"] is False


def test_a_managed_cluster_keeps_its_names() -> None:
    rec = run_stack("test")
    assert ("kubernetes:core/v1:Namespace", "app") in names_in_cluster(rec)
    assert ("kubernetes:helm.sh/v3:Release", "kube-prometheus-stack") in names_in_cluster(rec)


def test_prod_without_kubernetes_asks_for_no_alertmanager_receiver() -> None:
    config = {
        k: v
        for k, v in stack_config("prod").items()
        if k not in ("hardstack:alertReceivers", "hardstack:alertRoutes", "hardstack:heartbeatReceiver")
    }
    s = parse_settings({**config, "hardstack:clusterMode": "none"})
    assert not s.installs_monitoring
    with pytest.raises(HardstackError, match=r"hardstack:alertRoutes|hardstack:heartbeatReceiver"):
        parse_settings(config)


@given(st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", fullmatch=True), min_size=1, max_size=4))
def test_kubernetes_names_are_dns_labels_or_refused(segments: list[str]) -> None:
    naming = Naming(segments)
    try:
        name = naming.kubernetes("app")
    except HardstackError as err:
        assert "63" in str(err)
        return
    assert len(name) <= 63 and name == name.lower() and "_" not in name and name.endswith("-app")
    assert naming.digest() == Naming(list(segments)).digest() and len(naming.digest()) == 8


# --- preprod from a prod snapshot ------------------------------------------------------------------

SNAPSHOT = "arn:aws:rds:eu-west-3:111122223333:snapshot:prod-main-2026-11-01"


def restore(snapshot: tuple[int, str] | None, recording: Recording | None = None, **config: Any) -> Recording:
    settings = {**stack_config("preprod"), "hardstack:dbSnapshotIdentifier": SNAPSHOT, **config}
    mocks = HardstackMocks(snapshots={SNAPSHOT: snapshot} if snapshot is not None else {})
    return run_program(main, stack="preprod", config=settings, mocks=mocks, recording=recording)


def test_a_restore_into_less_storage_than_the_snapshot_is_refused_before_any_cloud_resource() -> None:
    rec = Recording()
    with pytest.raises(HardstackError, match=r"^hardstack:dbAllocatedStorageGb = 100 is refused: at least 250"):
        restore((250, "16.6"), rec)
    assert [r.type for r in rec if r.custom] == ["pulumi:providers:aws"]  # the lookups' provider only


def test_a_snapshot_the_lookup_does_not_find_is_refused_naming_the_setting() -> None:
    rec = Recording()
    with pytest.raises(HardstackError, match=r"^hardstack:dbSnapshotIdentifier = .* is refused: a manual or shared"):
        restore(None, rec)  # the account holds no such snapshot (a typo, or not shared with it)
    assert [r.type for r in rec if r.custom] == ["pulumi:providers:aws"]


def test_a_snapshot_of_another_region_is_refused_before_any_lookup() -> None:
    other = SNAPSHOT.replace("eu-west-3", "us-east-1")
    with pytest.raises(HardstackError, match=r"is refused: a snapshot of eu-west-3 \(aws:region\): copy it here first"):
        parse_settings({**stack_config("preprod"), "hardstack:dbSnapshotIdentifier": other})


def test_a_restore_at_another_major_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"^hardstack:dbEngineVersion = '16' is refused: the major of snapshot"):
        restore((100, "15.8"))


def test_the_shipped_preprod_sizes_restore_a_snapshot_of_the_shipped_prod() -> None:
    prod = parse_settings(stack_config("prod"))
    rec = restore((prod.db_allocated_storage_gb, "16.6"))
    (db,) = rec.of_type("aws:rds/instance:Instance")
    assert db.inputs["allocatedStorage"] >= prod.db_allocated_storage_gb


def test_once_restored_the_snapshot_is_not_read_again() -> None:
    # The snapshot seeds the instance once; a later up must not depend on it (it may have expired).
    settings = {**stack_config("preprod"), "hardstack:dbSnapshotIdentifier": SNAPSHOT}
    running = HardstackMocks(databases={"hardstack-preprod-main": "16.6"}, snapshots={})
    rec = run_program(main, stack="preprod", config=settings, mocks=running)
    assert not [i for i in rec.invokes if i.token == "aws:rds/getSnapshot:getSnapshot"]


def test_an_automated_snapshot_of_another_account_is_refused_naming_the_setting() -> None:
    arn = "arn:aws:rds:eu-west-3:111122223333:snapshot:rds:prod-main-2026-11-01-03-10"
    with pytest.raises(HardstackError, match=r"^hardstack:dbSnapshotIdentifier = .* a manual snapshot"):
        parse_settings({**stack_config("preprod"), "hardstack:dbSnapshotIdentifier": arn})


# --- settings set with --secret stay secret where they land ------------------------------------------

HEARTBEAT = "https://heartbeat.example.com/ping/hardstack-prod"


def test_receivers_and_subscriptions_set_as_secrets_stay_secret_in_the_state() -> None:
    config = stack_config("prod")
    secret = {key: Secret(config[key]) for key in ("hardstack:alertReceivers", "hardstack:alertSubscriptions")}
    rec = run_program(main, stack="prod", config={**config, **secret})
    release = rec.one("kubernetes:helm.sh/v3:Release", "monitoring")
    assert "values" in release.secret_inputs
    (subscription,) = rec.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert "endpoint" in subscription.secret_inputs
    # Nowhere in plain text: every recorded input holding the heartbeat URL is a secret one.
    for r in rec:
        for key, value in r.inputs.items():
            if HEARTBEAT in json.dumps(unsecret(value), default=str):
                assert key in r.secret_inputs, (r.type, r.name, key)
    assert HEARTBEAT not in json.dumps(rec.outputs, default=str)


def test_without_secret_config_the_release_values_stay_reviewable() -> None:
    rec = run_stack("prod")
    assert rec.one("kubernetes:helm.sh/v3:Release", "monitoring").secret_inputs == []


def test_an_automated_snapshot_of_this_account_is_restorable() -> None:
    config = stack_config("preprod")
    (account,) = config["aws:allowedAccountIds"]
    arn = f"arn:aws:rds:eu-west-3:{account}:snapshot:rds:preprod-main-2026-11-01-03-10"
    assert parse_settings({**config, "hardstack:dbSnapshotIdentifier": arn}).db_snapshot_identifier == arn


def test_a_stack_alone_on_an_existing_cluster_may_keep_the_fixed_names() -> None:
    # A stack an earlier release deployed there: renaming its namespaces would replace what they hold.
    rec = run_stack("test", {**EXISTING, "hardstack:existingClusterShared": False, "hardstack:clusterMonitoring": True})
    names = names_in_cluster(rec)
    assert {
        ("kubernetes:core/v1:Namespace", "app"),
        ("kubernetes:helm.sh/v3:Release", "kube-prometheus-stack"),
    } <= names
    (storage_class,) = rec.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert "storageclass.kubernetes.io/is-default-class" not in (
        storage_class.inputs["metadata"].get("annotations") or {}
    )


PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-3.amazonaws.com/id/EXAMPLED539D4633E5"


def test_the_app_on_an_existing_eks_cluster_gets_a_role_for_its_bucket_only() -> None:
    rec = run_stack("test", {**EXISTING, "hardstack:existingClusterOidcProviderArn": PROVIDER_ARN})
    role = rec.one("aws:iam/role:Role", "app-pods")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    namespace = Naming.of("hardstack", "test").kubernetes("app")
    condition = trust["Condition"]["StringEquals"]
    assert condition[f"{PROVIDER_ARN.split('/', 1)[1]}:sub"] == f"system:serviceaccount:{namespace}:app"
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy", "app-pods").inputs["policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"UseAppBucket", "ListAppBucket", "AppBucketKey"}
    account = rec.one("kubernetes:core/v1:ServiceAccount", "app").inputs["metadata"]["annotations"]
    assert account["eks.amazonaws.com/role-arn"] == role.inputs["arn"]
    (container,) = rec.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"]
    assert {e["name"] for e in container["env"]} >= {"APP_BUCKET", "AWS_REGION"}


def test_the_app_on_a_cluster_without_an_oidc_provider_here_gets_no_role() -> None:
    rec = run_stack("test", EXISTING)
    assert not [r for r in rec.of_type("aws:iam/role:Role") if r.name == "app-pods"]
    assert "annotations" not in (rec.one("kubernetes:core/v1:ServiceAccount", "app").inputs["metadata"] or {})


def every_key_as_secret(config: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """`config` with every key that can be secret set with --secret, and the texts to look for."""
    from hardstack.core.secrets import secret_texts
    from stacks.settings import NEVER_SECRET

    keys = [k for k, v in config.items() if k not in NEVER_SECRET and secret_texts([v])]
    return {**config, **{k: Secret(config[k]) for k in keys}}, secret_texts([config[k] for k in keys])


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("stack", ["test", "prod"])
def test_every_key_set_as_secret_stays_secret_in_the_state_and_the_outputs(stack: str, preview: bool) -> None:
    config, texts = every_key_as_secret(stack_config(stack))
    # The stack files' text keys (the VPC CIDR, role ARNs, the AMI, receivers...); AZ ids and flows
    # name resources, so --secret is refused on them.
    assert len(texts) >= 4
    rec = run_program(main, stack=stack, config=config, preview=preview)
    leaked = [
        (r.type, r.name, key)
        for r in rec
        for key, value in r.inputs.items()
        if key not in {*r.secret_inputs, *r.computed}
        and any(t in json.dumps(unsecret(value), default=str) for t in texts)
    ]
    assert leaked == []
    # Names are never secret: no secret text makes one (a plain word may be a kind a name shows: email).
    own = {t for t in texts if not t.isalpha()} | {"oncall", "tickets", "heartbeat"} & texts
    assert [r.name for r in rec if any(t in r.name for t in own)] == []
    plain = {k: v for k, v in rec.outputs.items() if k not in rec.secret_outputs}
    assert [k for k, v in plain.items() if any(t in json.dumps(v, default=str) for t in texts)] == []
    assert rec.secret_outputs  # the exports that carry a secret text are marked


def test_without_secret_config_no_input_is_made_secret_by_the_program() -> None:
    rec = run_stack("test")
    # The control for the test above: only what components mark themselves is secret.
    assert {(r.type, k) for r in rec for k in r.secret_inputs} <= {
        ("kubernetes:core/v1:Secret", "stringData"),
        ("kubernetes:core/v1:Secret", "data"),
        ("pulumi:providers:kubernetes", "kubeconfig"),
    }


@pytest.mark.parametrize("mode", [{"hardstack:clusterMode": "none"}, EXISTING])
def test_without_a_managed_cluster_the_logins_the_hosts_use_come_as_sql_to_run_once(mode: dict[str, Any]) -> None:
    rec = run_stack("test", mode)
    sql = rec.outputs["dbBootstrapSql"]
    settings = parse_settings({**stack_config("test"), **mode})
    # The login the hosts' PGUSER names, for IAM authentication, as the in-cluster Job would make it.
    assert f"CREATE ROLE {settings.db_app_user} LOGIN;" in sql and "GRANT rds_iam TO" in sql
    assert rec.of_type("kubernetes:batch/v1:Job") == []  # no bootstrap Job anywhere


def test_on_a_managed_cluster_the_job_creates_the_logins_and_no_sql_is_exported() -> None:
    rec = run_stack("test")
    assert "dbBootstrapSql" not in rec.outputs
    assert any(j.name.startswith("db-bootstrap") for j in rec.of_type("kubernetes:batch/v1:Job"))


def test_a_shared_cluster_monitored_here_scrapes_and_alerts_on_this_stacks_namespaces_only() -> None:
    def selector(rec: Recording) -> Any:
        (release,) = [
            r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"
        ]
        return release.inputs["values"]["prometheus"]["prometheusSpec"].get("serviceMonitorNamespaceSelector")

    naming = Naming.of("hardstack", "test")
    shared = selector(run_stack("test", {**EXISTING, "hardstack:clusterMonitoring": True}))
    assert shared["matchExpressions"][0]["values"] == [naming.kubernetes("app"), naming.kubernetes("monitoring")]
    # A stack alone on the cluster (the fixed names) or on its own cluster watches every namespace.
    alone = {**EXISTING, "hardstack:clusterMonitoring": True, "hardstack:existingClusterShared": False}
    assert selector(run_stack("test", alone)) is None
    assert selector(run_stack("test")) is None
