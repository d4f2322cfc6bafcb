from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from hardstack import HardstackError
from hardstack.core.tier import Tier
from hardstack.k8s.platform import PlatformBaseline, PlatformBaselineArgs
from hardstack.tooling.manifests import KUBERNETES_SCHEMA_VERSION, manifests_from, validate_manifests
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
KEY = "arn:aws:kms:eu-west-3:123456789012:key/k"


def baseline(**kw: Any) -> Callable[[], None]:
    def program() -> None:
        built = PlatformBaseline(
            "base", PlatformBaselineArgs(**{"namespaces": ["shop", "billing"], "tier": Tier.DEVELOPMENT, **kw})
        )
        pulumi.export("namespaces", built.namespace_names)
        pulumi.export("storage_class", built.storage_class_name)

    return program


@pytest.fixture
def rec(run: Run) -> Recording:
    return run(baseline(volume_kms_key_arn=KEY))


def policies(rec: Recording, namespace: str) -> dict[str, dict[str, Any]]:
    found = [r.inputs for r in rec.of_type(POLICY) if r.inputs["metadata"]["namespace"] == namespace]
    return {p["metadata"]["name"]: p["spec"] for p in found}


def test_each_namespace_enforces_audits_and_warns_restricted_pinned_to_a_version(rec: Recording) -> None:
    for ns in rec.of_type(NAMESPACE):
        labels = ns.inputs["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == f"v{KUBERNETES_SCHEMA_VERSION}"
    assert sorted(ns.inputs["metadata"]["name"] for ns in rec.of_type(NAMESPACE)) == ["billing", "shop"]


def test_each_namespace_denies_all_ingress_and_egress_by_default(rec: Recording) -> None:
    for namespace in ("shop", "billing"):
        deny = policies(rec, namespace)["default-deny"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_each_namespace_may_still_resolve_names_through_kube_dns(rec: Recording) -> None:
    for namespace in ("shop", "billing"):
        dns = policies(rec, namespace)["allow-dns"]
        assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
        (rule,) = dns["egress"]
        (peer,) = rule["to"]
        assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
        assert peer["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
        assert sorted((p["protocol"], p["port"]) for p in rule["ports"]) == [("TCP", 53), ("UDP", 53)]


def test_policies_wait_for_their_namespace(rec: Recording) -> None:
    shop = rec.named("base-shop")
    assert shop.urn in rec.named("base-shop-default-deny").dependencies


def test_storage_class_is_encrypted_gp3_under_the_key_and_the_cluster_default(rec: Recording) -> None:
    sc = rec.one(STORAGE_CLASS).inputs
    assert sc["metadata"]["name"] == "gp3-encrypted"
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": KEY}
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer" and sc["allowVolumeExpansion"] is True
    assert sc["reclaimPolicy"] == "Delete"


def test_without_a_key_volumes_are_still_encrypted(run: Run) -> None:
    sc = run(baseline()).one(STORAGE_CLASS).inputs
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true"}


def test_storage_class_is_not_the_default_when_asked(run: Run) -> None:
    sc = run(baseline(make_default_storage_class=False)).one(STORAGE_CLASS).inputs
    assert "storageclass.kubernetes.io/is-default-class" not in sc["metadata"].get("annotations", {})


def test_protect_retains_volumes_and_keeps_namespaces(run: Run) -> None:
    rec = run(baseline(protect=True))
    sc = rec.one(STORAGE_CLASS)
    assert sc.inputs["reclaimPolicy"] == "Retain" and sc.protect
    assert all(ns.protect and ns.retain_on_delete for ns in rec.of_type(NAMESPACE))


def test_without_protect_nothing_is_protected(rec: Recording) -> None:
    assert rec.protected() == []


def test_production_protects_namespaces_and_retains_volumes(run: Run) -> None:
    rec = run(baseline(tier=Tier.PRODUCTION))
    assert {r.type for r in rec.protected()} >= {"kubernetes:core/v1:Namespace", STORAGE_CLASS}
    assert rec.one(STORAGE_CLASS).inputs["reclaimPolicy"] == "Retain"


def test_namespace_names_are_outputs(rec: Recording) -> None:
    assert rec.outputs == {"namespaces": ["shop", "billing"], "storage_class": "gp3-encrypted"}


def test_reordering_namespaces_renames_nothing(run: Run) -> None:
    first = {r.urn for r in run(baseline(namespaces=["shop", "billing"]))}
    second = {r.urn for r in run(baseline(namespaces=["billing", "shop"]))}
    assert first == second


def test_children_use_the_provider_the_caller_passes(run: Run) -> None:
    def program() -> None:
        cluster = k8s.Provider("cluster", kubeconfig="{}")
        PlatformBaseline("base", PlatformBaselineArgs(namespaces=["shop"]), pulumi.ResourceOptions(provider=cluster))

    rec = run(program)
    provider_urn = rec.one("pulumi:providers:kubernetes", "cluster").urn
    children = [r for r in rec if r.type.startswith("kubernetes:")]
    assert children and all(r.provider.startswith(provider_urn) for r in children)


def test_baseline_objects_pass_the_kubernetes_schema_strictly(rec: Recording) -> None:
    manifests = manifests_from(rec)
    assert {m["kind"] for m in manifests} == {"Namespace", "NetworkPolicy", "StorageClass"}
    validate_manifests(manifests, KUBERNETES_SCHEMA_VERSION)


def refused(run: Run, **kw: Any) -> tuple[str, Recording]:
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        run(baseline(**kw), recording=recording)
    return str(err.value), recording


def test_namespace_that_is_not_a_dns_label_is_refused(run: Run) -> None:
    message, recording = refused(run, namespaces=["Shop_Front"])
    assert "namespaces = 'Shop_Front'" in message and "DNS-1123" in message
    assert len(recording) == 0


def test_system_namespace_is_refused(run: Run) -> None:
    message, recording = refused(run, namespaces=["kube-system"])
    assert "namespaces = 'kube-system'" in message and len(recording) == 0


def test_repeated_namespace_is_refused(run: Run) -> None:
    message, recording = refused(run, namespaces=["shop", "shop"])
    assert "namespaces = 'shop'" in message and "once" in message and len(recording) == 0


def test_empty_namespace_list_is_refused(run: Run) -> None:
    message, recording = refused(run, namespaces=[])
    assert "namespaces = []" in message and len(recording) == 0


def test_bad_storage_class_name_is_refused(run: Run) -> None:
    message, recording = refused(run, storage_class_name="GP3 Encrypted")
    assert "storage_class_name = 'GP3 Encrypted'" in message and len(recording) == 0


def test_another_clusters_provisioner_takes_its_own_parameters(run: Run) -> None:
    params = {"type": "pd-ssd", "disk-encryption-kms-key": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}
    sc = run(baseline(storage_provisioner="pd.csi.storage.gke.io", storage_parameters=params)).one(STORAGE_CLASS)
    assert sc.inputs["provisioner"] == "pd.csi.storage.gke.io" and sc.inputs["parameters"] == params


def test_another_provisioner_without_parameters_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"^storage_parameters = None is refused"):
        PlatformBaselineArgs(namespaces=["shop"], storage_provisioner="pd.csi.storage.gke.io")
