"""Cluster baseline every application namespace starts from, on any conformant cluster.

Creates, per application namespace: k8s.core.v1.Namespace (Pod Security `restricted` enforced,
audited and warned, pinned to a Kubernetes minor), k8s.networking.v1.NetworkPolicy `default-deny`
(all ingress and egress) and k8s.networking.v1.NetworkPolicy `allow-dns` (egress to kube-dns only).
Once: k8s.storage.v1.StorageClass, encrypted gp3 through the EBS CSI driver, the default class
unless asked otherwise.

The caller passes the Kubernetes provider through `opts` (ResourceOptions(provider=...)); nothing
here creates or reaches for a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier, resolve_protect

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: Namespaces the cluster owns; a baseline applied there would break system components.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
#: The label Kubernetes sets on every namespace (1.21+), which namespaceSelectors can match.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"
PSA_LEVEL = "restricted"
#: The encrypted gp3 class the baseline makes; Monitoring claims its volume from it by default.
DEFAULT_STORAGE_CLASS = "gp3-encrypted"

#: Kubernetes minor release the manifests are validated against (and Pod Security is pinned to).
KUBERNETES_SCHEMA_VERSION = "1.33"


def pod_security_labels(version: str = f"v{KUBERNETES_SCHEMA_VERSION}") -> dict[str, str]:
    """Pod Security admission labels: `restricted` enforced, audited and warned, each pinned to `version`."""
    labels: dict[str, str] = {}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = PSA_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = version
    return labels


def validate_dns_label(value: str, where: str) -> str:
    """A DNS-1123 label: what namespace, Service and most object names must be."""
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise refuse(where, value, "a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending alnum")
    return value


def validate_dns_subdomain(value: str, where: str) -> str:
    """A DNS-1123 subdomain: what Secret and StorageClass names must be."""
    if not isinstance(value, str) or len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise refuse(where, value, "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', up to 253")
    return value


def validate_namespaces(namespaces: Sequence[str], where: str = "namespaces") -> list[str]:
    """Application namespaces: DNS-1123 labels, not reserved, no repeats, at least one."""
    if isinstance(namespaces, str) or not namespaces:
        raise refuse(where, namespaces, "a non-empty list of namespace names")
    seen: set[str] = set()
    for ns in namespaces:
        validate_dns_label(ns, where)
        if ns in RESERVED_NAMESPACES:
            raise refuse(where, ns, f"an application namespace, not one of {sorted(RESERVED_NAMESPACES)}")
        if ns in seen:
            raise refuse(where, ns, "each namespace once")
        seen.add(ns)
    return list(namespaces)


@documented
@dataclass(frozen=True, kw_only=True)
class PlatformBaselineArgs:
    namespaces: Sequence[str]
    """Application namespaces to create, each locked down. Required."""
    storage_class_name: str = DEFAULT_STORAGE_CLASS
    """Name of the encrypted gp3 StorageClass. Default: gp3-encrypted."""
    volume_kms_key_arn: pulumi.Input[str] | None = None
    """Customer KMS key that encrypts the volumes. Default: none, the account's EBS default key."""
    storage_provisioner: str = EBS_CSI_PROVISIONER
    """CSI provisioner of the class. Default: the EBS CSI driver (EKS); another cluster names its own,
    with `storage_parameters`."""
    storage_parameters: Mapping[str, pulumi.Input[str]] | None = None
    """Parameters of the class. Default: encrypted gp3 (under `volume_kms_key_arn`) for the EBS CSI
    driver; required for another provisioner."""
    make_default_storage_class: bool = True
    """Annotate the class as the cluster default, so claims without a class get encrypted gp3. Default: on."""
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels of every application namespace (e.g. the load balancer controller's readiness-gate
    label); the Pod Security labels always win. Default: none."""
    pod_security_version: str = f"v{KUBERNETES_SCHEMA_VERSION}"
    """Kubernetes minor the `restricted` profile is pinned to, so upgrades never tighten it unannounced."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production protects the namespaces and the class and retains volumes. Default:
    production."""
    protect: bool | None = None
    """Protect the namespaces and the class; keep namespaces on delete and volumes on claim deletion
    (reclaimPolicy Retain instead of Delete). Default: inherit the options given to the component;
    forced on in production."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", parse_tier(self.tier))  # a tier given by name is stored as a Tier
        resolve_protect(self.tier, self.protect)
        validate_namespaces(self.namespaces)
        validate_dns_subdomain(self.storage_class_name, "storage_class_name")
        validate_dns_subdomain(self.storage_provisioner, "storage_provisioner")
        if self.storage_provisioner != EBS_CSI_PROVISIONER and self.storage_parameters is None:
            raise refuse(
                "storage_parameters", None, f"the parameters {self.storage_provisioner} needs (encryption included)"
            )
        if not re.fullmatch(r"v1\.\d{1,2}|latest", self.pod_security_version):
            raise refuse("pod_security_version", self.pod_security_version, "a Kubernetes minor such as v1.33")


def storage_class_parameters(kms_key_arn: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str]]:
    """EBS CSI parameters: gp3, always encrypted, under the given key when there is one."""
    params: dict[str, pulumi.Input[str]] = {"type": "gp3", "encrypted": "true"}
    if kms_key_arn is not None:
        params["kmsKeyId"] = kms_key_arn
    return params


class PlatformBaseline(Component):
    """Namespaces for applications, each under `restricted` Pod Security and default-deny networking."""

    namespace_names: pulumi.Output[list[str]]
    storage_class_name: pulumi.Output[str]
    storage_class: k8s.storage.v1.StorageClass
    """The class itself, for `depends_on` of what claims volumes from it."""

    def __init__(self, name: str, args: PlatformBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:kubernetes:PlatformBaseline", name, opts)
        child = self.child()
        protect = resolve_protect(args.tier, args.protect)
        kept = self.kept(protect)

        annotations = {DEFAULT_CLASS_ANNOTATION: "true"} if args.make_default_storage_class else {}
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-{args.storage_class_name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.storage_class_name, annotations=annotations),
            provisioner=args.storage_provisioner,
            parameters=(
                dict(args.storage_parameters)
                if args.storage_parameters is not None
                else storage_class_parameters(args.volume_kms_key_arn)
            ),
            reclaim_policy="Retain" if (protect or self._given_protect) else "Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # Parameters and reclaimPolicy are immutable: a change replaces the class under the same
            # name, which must go first. Existing volumes keep the policy they were made with.
            opts=pulumi.ResourceOptions.merge(kept, pulumi.ResourceOptions(delete_before_replace=True)),
        )

        names: list[pulumi.Output[str]] = []
        for ns in args.namespaces:  # children are named by namespace, so reordering renames nothing
            namespace = k8s.core.v1.Namespace(
                f"{name}-{ns}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ns, labels={**args.namespace_labels, **pod_security_labels(args.pod_security_version)}
                ),
                opts=kept,
            )
            in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[namespace]))
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{ns}-default-deny",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=ns),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                    policy_types=["Ingress", "Egress"],
                ),
                opts=in_ns,
            )
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{ns}-allow-dns",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-dns", namespace=ns),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                    policy_types=["Egress"],
                    egress=[dns_egress_rule()],
                ),
                opts=in_ns,
            )
            names.append(namespace.metadata.name)

        self.namespace_names = pulumi.Output.all(*names).apply(list)
        self.storage_class = storage_class
        self.storage_class_name = storage_class.metadata.name
        self.register_outputs({"namespace_names": self.namespace_names, "storage_class_name": self.storage_class_name})


def dns_egress_rule() -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    """Egress to the cluster DNS pods (kube-system, k8s-app=kube-dns) on 53/UDP and 53/TCP."""
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[
            k8s.networking.v1.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={NAMESPACE_NAME_LABEL: "kube-system"}),
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[
            k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53),
        ],
    )
