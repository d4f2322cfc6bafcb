"""EKS cluster: private API endpoint, envelope-encrypted secrets, audit logs, API access entries, IRSA.

Creates: aws.cloudwatch.LogGroup (control-plane logs), aws.iam.Role + aws.iam.RolePolicyAttachment +
aws.iam.RolePolicy (cluster role: EKS policy and the secrets key), aws.eks.Cluster,
aws.eks.AccessEntry + aws.eks.AccessPolicyAssociation per admin and read-only role,
aws.iam.OpenIdConnectProvider, aws.iam.Role + attachments (nodes; IRSA roles for vpc-cni and
aws-ebs-csi-driver, the latter with an inline KMS policy), per node group aws.ec2.LaunchTemplate +
aws.eks.NodeGroup, aws.eks.Addon per add-on, and a kubernetes Provider built from the kubeconfig.

Day 2: a new `version` is the next minor of the running control plane (read before any resource
registers: no downgrade, no skipped minor, no managed node group left at an older minor). The control
plane updates first, then vpc-cni and kube-proxy, then the node groups (their `version` is the
cluster's), then CoreDNS and the EBS CSI driver, each at the add-on versions pinned for the new minor;
all of them update in place.

`ExistingCluster` creates only a kubernetes Provider from a given kubeconfig.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from hardstack.aws.context import AwsContext
from hardstack.aws.fleet import validate_instance_type, validate_sizes
from hardstack.aws.iam import policy_document, service_assume_role_policy
from hardstack.aws.launch import encrypted_root_volume, imdsv2_only, tag_specifications
from hardstack.aws.network import invoke_options, validate_log_retention
from hardstack.base.component import Component, IdList, id_list, join_ids, known_length
from hardstack.core.controllers import AUTOSCALER_ENABLED_TAG, autoscaler_cluster_tag
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.naming import Naming
from hardstack.core.rules import BROADEST_RANGE, Peer, is_public_cidr
from hardstack.core.scaling import LiveScaling, node_group_scaling
from hardstack.core.tier import Tier, parse_tier, resolve_protect

#: Kubernetes versions this component is tested with. Pin one; upgrade one minor at a time.
SUPPORTED_VERSIONS = ("1.31", "1.32", "1.33", "1.34")
#: Add-ons every cluster gets, each at a pinned version (`aws eks describe-addon-versions`).
REQUIRED_ADDONS = ("vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver")
#: Add-ons that need running nodes to become healthy: created after the node groups.
ADDONS_AFTER_NODES = ("coredns", "aws-ebs-csi-driver")
#: Everything the control plane can log; all of it goes to CloudWatch.
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
#: Node AMI family. x86 only: instance types of one node group must share an architecture.
AMI_TYPE = "AL2023_x86_64_STANDARD"
#: Audience of the projected service-account tokens IRSA exchanges with STS.
STS_AUDIENCE = "sts.amazonaws.com"

_ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_KMS_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$")
_ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+(-eksbuild\.\d+)?$")
_GROUP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
# Graviton families carry a `g` after the generation digit: m7g, c6gn, r8gd, t4g, im4gn.
_ARM_FAMILY = re.compile(r"^[a-z]+\d[a-z]*g[a-z]*\.")


def validate_version(value: str, where: str = "version") -> str:
    if value not in SUPPORTED_VERSIONS:
        raise refuse(where, value, f"one of the supported Kubernetes versions: {', '.join(SUPPORTED_VERSIONS)}")
    return value


def _minor_parts(version: str, where: str) -> tuple[int, int]:
    # EKS reports the control plane's version as `major.minor` (`1.33`).
    match = re.match(r"^(\d+)\.(\d+)$", version) if isinstance(version, str) else None
    if match is None:
        raise refuse(where, version, "a Kubernetes minor version such as 1.33")
    return int(match.group(1)), int(match.group(2))


def validate_cluster_upgrade(running: str | None, wanted: str, where: str = "version") -> bool:
    """Whether `wanted` upgrades a control plane that runs `running` (False for a new cluster or no change).

    Refused: a downgrade (EKS cannot move a control plane back; a lower version is a new cluster) and a
    skipped minor (EKS's UpdateClusterVersion goes to the next minor only, like `eksctl upgrade cluster`).
    """
    if running is None:
        return False
    major, minor = _minor_parts(running, "running Kubernetes version")
    now = _minor_parts(wanted, where)
    following = f"{major}.{minor + 1}"
    allowed = f"{running} (the running version)" + (
        f" or {following}, the next minor" if following in SUPPORTED_VERSIONS else ""
    )
    if now < (major, minor):
        raise refuse(where, wanted, f"{allowed}: EKS cannot downgrade a control plane; build a new cluster instead")
    if now > (major, minor + 1):
        raise refuse(where, wanted, f"{allowed}: EKS upgrades one minor at a time, so go through {following} first")
    return now > (major, minor)


def validate_node_groups_caught_up(
    running: str, node_groups: Mapping[str, str], wanted: str, where: str = "version"
) -> None:
    """Before `wanted` upgrades a control plane that runs `running`, every managed node group runs `running`.

    `node_groups` maps each managed node group of the cluster to its Kubernetes version (EKS's
    `major.minor`). A group lags after an upgrade whose node update did not finish (a rollout stopped
    by a PodDisruptionBudget, say); the same `version` on the next `up` retries it.
    """
    # EKS UpdateClusterVersion: all managed node groups' versions must match the cluster's to update it.
    now = _minor_parts(running, "running Kubernetes version")
    behind = {g: v for g, v in sorted(node_groups.items()) if _minor_parts(v, f"node group {g} version") != now}
    if behind:
        listed = ", ".join(f"{g} runs {v}" for g, v in behind.items())
        raise refuse(
            where,
            wanted,
            f"{running} (the running version) until every managed node group runs it ({listed}): EKS upgrades a "
            f"control plane only when its managed node groups match it; `pulumi up` with {running} updates the "
            "node groups in place, then ask for the next minor",
        )


#: The label each node group's nodes carry: the `NodeGroupSpec.name` the group was made from.
NODE_GROUP_LABEL = "hardstack/node-group"


@dataclass(frozen=True)
class RunningNodeGroup:
    """A managed node group as EKS reports it: its Kubernetes version, sizes and spec name."""

    version: str
    scaling: LiveScaling
    spec: str | None
    """The `NodeGroupSpec.name` of its NODE_GROUP_LABEL; None for a group made elsewhere."""


def running_node_groups(cluster: str, opts: pulumi.ResourceOptions | None) -> dict[str, RunningNodeGroup]:
    """Each managed node group of the EKS cluster named `cluster`, by EKS name (blocking invokes:
    one lookup of the group names, one per group)."""
    invoke = invoke_options(opts)
    names = aws.eks.get_node_groups(cluster_name=cluster, opts=invoke).names or []
    found: dict[str, RunningNodeGroup] = {}
    for n in sorted(names):
        group = aws.eks.get_node_group(cluster_name=cluster, node_group_name=n, opts=invoke)
        sizes = group.scaling_configs[0]
        found[n] = RunningNodeGroup(
            version=str(group.version),
            scaling=LiveScaling(sizes.min_size, sizes.max_size, sizes.desired_size),
            spec=(group.labels or {}).get(NODE_GROUP_LABEL),
        )
    return found


def node_group_versions(groups: Mapping[str, RunningNodeGroup]) -> dict[str, str]:
    """The Kubernetes version of each running node group, by EKS name."""
    return {n: g.version for n, g in groups.items()}


def live_scaling(groups: Mapping[str, RunningNodeGroup], spec: str) -> LiveScaling | None:
    """The sizes the groups made from the spec named `spec` run with: the largest, if a replacement
    left two (its old group is deleted once the new one is up)."""
    found = [g.scaling for g in groups.values() if g.spec == spec]
    return max(found, key=lambda s: s.desired_size) if found else None


def running_cluster_version(name: str, opts: pulumi.ResourceOptions | None) -> str | None:
    """The Kubernetes version of the EKS cluster named `name` in the region, None when there is none yet.

    Blocking invokes before any resource registers, so a refused upgrade stops the preview cleanly.
    """
    invoke = invoke_options(opts)
    if name not in (aws.eks.get_clusters(opts=invoke).names or []):
        return None
    return str(aws.eks.get_cluster(name=name, opts=invoke).version)


def role_name_of(arn: str, where: str = "role_arn") -> str:
    """The role name in an IAM role ARN (path dropped): the stable key of children made per role."""
    found = _ROLE_ARN.match(arn) if isinstance(arn, str) else None
    if found is None:
        raise refuse(where, arn, "an IAM role ARN such as arn:aws:iam::123456789012:role/platform-admin")
    return found.group("name")


#: EKS service quota: nodes per managed node group.
NODE_GROUP_CEILING = (450, "nodes, EKS's quota of nodes per managed node group")
_SECURITY_GROUP_ID = re.compile(r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")


def _once(key: str, seen: set[str], where: str, value: object) -> None:
    """Refuse a value given twice (in any spelling): each one names a rule, and a name is made once."""
    if key in seen:
        raise refuse(where, value, "each value once (another spelling of it is already listed)")
    seen.add(key)


def validate_public_access(public: bool, cidrs: Sequence[str], tier: Tier, where: str = "public_access_cidrs") -> None:
    """No CIDRs without a public endpoint; some with it; never the whole internet in production."""
    if not public:
        if cidrs:
            raise refuse(where, list(cidrs), "empty while endpoint_public_access is off (the endpoint is private)")
        return
    if not cidrs:
        raise refuse(where, [], "at least one CIDR when endpoint_public_access is on (none would mean everyone)")
    seen: set[str] = set()
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            raise refuse(where, cidr, "CIDR blocks such as 203.0.113.0/24 (host bits zero)") from None
        if network.version != 4:
            # EKS takes IPv4 blocks only for the public endpoint of an IPv4 cluster.
            raise refuse(where, cidr, "IPv4 CIDR blocks: the public endpoint of an IPv4 cluster takes no IPv6 range")
        if Peer.cidr(str(network)).is_broad and tier.is_production:
            raise refuse(
                where,
                cidr,
                f"named office or VPN ranges in production, /{BROADEST_RANGE[4]} or narrower, "
                "not the internet or a large part of it",
            )
        _once(str(network), seen, where, cidr)


#: Add-on versions per Kubernetes minor: the latest EKS add-on builds listed in the EKS user guide's
#: version tables (kube-proxy, CoreDNS, VPC CNI pages) for each minor. 1.34's kube-proxy and CoreDNS are
#: the guide's; its VPC CNI and EBS CSI builds are later ones published as compatible with 1.34 (VPC CNI
#: moves one minor, as the guide recommends). Refresh with
#: `aws eks describe-addon-versions --kubernetes-version <minor> --addon-name <addon>`. A supported minor
#: missing here needs its versions given explicitly (`addon_versions`, `hardstack:clusterAddonVersions`).
ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.31": {
        "vpc-cni": "v1.20.1-eksbuild.3",
        "coredns": "v1.11.4-eksbuild.24",
        "kube-proxy": "v1.31.13-eksbuild.2",
        "aws-ebs-csi-driver": "v1.44.0-eksbuild.1",
    },
    "1.32": {
        "vpc-cni": "v1.20.1-eksbuild.3",
        "coredns": "v1.11.4-eksbuild.24",
        "kube-proxy": "v1.32.9-eksbuild.2",
        "aws-ebs-csi-driver": "v1.44.0-eksbuild.1",
    },
    "1.33": {
        "vpc-cni": "v1.20.1-eksbuild.3",
        "coredns": "v1.12.4-eksbuild.1",
        "kube-proxy": "v1.33.5-eksbuild.2",
        "aws-ebs-csi-driver": "v1.44.0-eksbuild.1",
    },
    "1.34": {
        "vpc-cni": "v1.21.1-eksbuild.1",
        "coredns": "v1.12.4-eksbuild.1",
        "kube-proxy": "v1.34.1-eksbuild.2",
        "aws-ebs-csi-driver": "v1.54.0-eksbuild.1",
    },
}


def addon_versions_for(
    version: str, overrides: Mapping[str, str] | None = None, where: str = "addon_versions"
) -> dict[str, str]:
    """The pinned add-on versions of a Kubernetes minor, with `overrides` on top; kube-proxy must match the minor."""
    chosen = {**ADDON_VERSIONS.get(version, {}), **(overrides or {})}
    if not chosen:
        raise refuse(
            where,
            dict(overrides or {}),
            f"the versions of {', '.join(REQUIRED_ADDONS)} for Kubernetes {version}: hardstack pins them for "
            f"{', '.join(ADDON_VERSIONS)} only (see `aws eks describe-addon-versions --kubernetes-version {version}`)",
        )
    validate_addon_versions(chosen, where)
    proxy = chosen["kube-proxy"]
    if not proxy.startswith(f"v{version}."):
        raise refuse(
            f"{where}[kube-proxy]", proxy, f"a kube-proxy build of Kubernetes {version} (v{version}.x-eksbuild.n)"
        )
    return chosen


def validate_deployer(
    public: bool,
    cidrs: Sequence[str],
    groups: object,
    where: tuple[str, str] = ("deployer_cidrs", "deployer_security_group_ids"),
) -> None:
    """Where `pulumi up` runs must reach the API: the public endpoint (listed CIDRs), or, private only,
    a private range or runner security group admitted to the cluster security group on 443."""
    seen: set[str] = set()
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            raise refuse(where[0], cidr, "CIDR blocks such as 10.0.0.0/20 (host bits zero)") from None
        if is_public_cidr(str(network)):
            raise refuse(
                where[0], cidr, "private ranges: the private endpoint is reached from inside the VPC or over VPN"
            )
        _once(str(network), seen, where[0], cidr)  # one ingress rule per range, named by it
    if known_length(groups) is None:
        raise refuse(where[1], "<Output>", "a plain list (one ingress rule is made per group, named by its id)")
    seen = set()
    for group in groups if isinstance(groups, list | tuple) else ():
        if isinstance(group, str):  # an Output is checked by EC2
            if not _SECURITY_GROUP_ID.match(group):
                raise refuse(where[1], group, "security group ids such as sg-0123456789abcdef0")
            _once(group, seen, where[1], group)
    if not public and not cidrs and known_length(groups) == 0:
        raise refuse(
            where[0],
            [],
            "a runner's private range or security group (or a public endpoint for listed CIDRs): with a "
            "private-only endpoint and neither, `pulumi up` cannot reach the cluster it creates",
        )


def validate_access_roles(
    admin: Sequence[str], readonly: Sequence[str], names: tuple[str, str] = ("admin_role_arns", "readonly_role_arns")
) -> None:
    """Role ARNs, each role once across both lists: EKS keys an access entry by the principal."""
    seen: dict[str, str] = {}
    for where, arns in zip(names, (admin, readonly), strict=True):
        for i, arn in enumerate(arns):
            at = f"{where}[{i}]"
            key = role_name_of(arn, at)
            if key in seen:
                raise refuse(at, arn, f"each role once: role name {key!r} is already given ({seen[key]})")
            seen[key] = arn


def validate_addon_versions(versions: Mapping[str, str], where: str = "addon_versions") -> Mapping[str, str]:
    missing = [a for a in REQUIRED_ADDONS if a not in versions]
    unknown = sorted(set(versions) - set(REQUIRED_ADDONS))
    if missing or unknown:
        raise refuse(where, dict(versions), f"a pinned version for exactly these add-ons: {', '.join(REQUIRED_ADDONS)}")
    for addon, version in versions.items():
        if not isinstance(version, str) or not _ADDON_VERSION.match(version):
            raise refuse(f"{where}[{addon}]", version, "an add-on version such as v1.19.2-eksbuild.1")
    return versions


def validate_cluster_name(value: object, where: str) -> str:
    """An EKS cluster name: 1-100 letters, digits, '-' and '_', starting with a letter or digit."""
    if not isinstance(value, str) or not _CLUSTER_NAME.match(value):
        raise refuse(where, value, "an EKS cluster name: 1-100 letters, digits, '-' and '_', a letter or digit first")
    return value


def cluster_name(naming: Naming, name: str) -> str:
    """The EKS cluster's physical name; the control-plane log group is named after it."""
    value = naming.flat(name, 100)
    if not _CLUSTER_NAME.match(value):
        raise refuse("name", value, "letters, digits, '-' and '_', at most 100 (from the stack and component name)")
    return value


def render_kubeconfig(
    name: str, endpoint: str, ca_data: str, region: str, role_arn: str | None = None, profile: str | None = None
) -> str:
    """A kubeconfig (JSON, which kubectl reads as YAML) authenticating with `aws eks get-token`.

    No AWS profile unless given and no environment: the caller's own credentials chain decides who asks.
    """
    args = ["eks", "get-token", "--cluster-name", name, "--region", region]
    if role_arn is not None:
        args += ["--role-arn", role_arn]
    if profile is not None:
        args += ["--profile", profile]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "users": [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": args,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    return json.dumps(document, indent=2)


def validate_existing_kubeconfig(value: Any, where: str = "kubeconfig") -> str:
    """Refuse a missing kubeconfig and text that is not one. Errors describe the value, never show it."""
    if not isinstance(value, str) or not value.strip():
        shown = "<empty>" if value in (None, "") else f"<a {type(value).__name__}, not shown>"
        raise refuse(where, shown, "a kubeconfig document (set it as a secret) when the cluster is not created here")
    hidden = f"<{len(value)} characters, not shown>"
    try:
        document = yaml.safe_load(value)
    except yaml.YAMLError:
        raise refuse(where, hidden, "a kubeconfig document in YAML or JSON; this does not parse") from None
    if not isinstance(document, dict) or not all(document.get(k) for k in ("clusters", "contexts")):
        raise refuse(where, hidden, "a kubeconfig document with `clusters` and `contexts`")
    return value


def irsa_trust_policy(
    provider_arn: pulumi.Input[str], issuer: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[str]:
    """Trust for one Kubernetes service account through the cluster's OIDC provider (IRSA)."""
    host = pulumi.Output.from_input(issuer).apply(lambda url: url.removeprefix("https://"))
    condition = host.apply(
        lambda h: {
            f"{h}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            f"{h}:aud": STS_AUDIENCE,
        }
    )
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": condition},
            }
        ]
    )


@documented
@dataclass(frozen=True, kw_only=True)
class NodeGroupSpec:
    """One managed node group. Its `name` keys its resources: renaming replaces the group."""

    name: str
    """Lower-case letters, digits and '-', at most 32."""
    instance_types: Sequence[str]
    """x86 instance types, most preferred first. Changing them replaces the group (EKS rule)."""
    min_size: int
    """Fewest nodes."""
    max_size: int
    """Most nodes."""
    desired_size: int
    """Initial size; afterwards the cluster autoscaler owns it (Pulumi ignores its drift)."""
    disk_gb: int = 50
    """Root volume, encrypted gp3. Default: 50."""
    max_unavailable_percent: int = 33
    """Nodes replaced at once during an update, in percent. Default: 33."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra Kubernetes node labels. Default: none (`hardstack/node-group` is always set)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _GROUP_NAME.match(self.name):
            raise refuse("node_groups.name", self.name, "lower-case letters, digits and '-', at most 32")
        where = f"node_groups[{self.name}]"
        if not self.instance_types:
            raise refuse(f"{where}.instance_types", list(self.instance_types), "at least one instance type")
        for kind in self.instance_types:
            validate_instance_type(kind, f"{where}.instance_types")
            if _ARM_FAMILY.match(kind):
                raise refuse(f"{where}.instance_types", kind, f"an x86 instance type: the nodes run {AMI_TYPE}")
        validate_sizes(
            self.min_size,
            self.max_size,
            self.desired_size,
            (f"{where}.min_size", f"{where}.max_size", f"{where}.desired_size"),
            NODE_GROUP_CEILING,
        )
        if self.max_size < 1:
            raise refuse(f"{where}.max_size", self.max_size, "at least 1")
        if not 20 <= self.disk_gb <= 16384:
            raise refuse(f"{where}.disk_gb", self.disk_gb, "20 to 16384 GiB")
        if not 1 <= self.max_unavailable_percent <= 100:
            raise refuse(f"{where}.max_unavailable_percent", self.max_unavailable_percent, "1 to 100")


@documented
@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    context: AwsContext
    """Region, account and partition."""
    version: str
    """Pinned Kubernetes minor version, one of SUPPORTED_VERSIONS. Upgrades go one minor at a time: the
    control plane, then vpc-cni and kube-proxy, the node groups, then CoreDNS and the EBS CSI driver, the
    add-ons at the builds pinned for the new minor."""
    running_version: str | Literal["lookup"] | None = "lookup"
    """The version the control plane runs now, which `version` may equal or exceed by one minor: a
    version (the caller read it with `running_cluster_version`), None when there is no cluster yet, or
    "lookup" to read it from the region before any resource registers; on a running cluster, "lookup"
    also reads its node groups (`running_node_groups`) and, for an upgrade, refuses one that lags (a
    caller giving a version checks them with `validate_node_groups_caught_up`). Default: lookup."""
    running_node_groups: Mapping[str, RunningNodeGroup] | None = None
    """The node groups the cluster runs now (`running_node_groups`), when `running_version` is given:
    each group keeps the size it runs at, moved into new bounds (`core.scaling`). Read with
    `running_version="lookup"`. Default: none (new groups at their `desired_size`)."""
    vpc_id: pulumi.Input[str]
    """VPC of the subnets; exposed as `vpc_id` for in-cluster controllers that need it."""
    subnet_ids: IdList
    """Private subnets in at least two AZs: control-plane network interfaces and nodes."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production keeps the cluster protected (EKS deletion protection on) and refuses a
    public endpoint open to the whole internet. Default: production."""
    secrets_key_arn: pulumi.Input[str]
    """Customer KMS key for envelope encryption of Kubernetes secrets."""
    volume_key_arn: pulumi.Input[str]
    """Customer KMS key for node root volumes and EBS CSI volumes. Its policy must let the Auto Scaling
    service-linked role use it (see `hardstack.aws.kms.autoscaling_service_statements`)."""
    admin_role_arns: Sequence[str]
    """IAM roles granted cluster admin through access entries. At least one: nobody else is admin."""
    readonly_role_arns: Sequence[str] = ()
    """IAM roles granted the view policy cluster-wide. Default: none."""
    node_groups: Sequence[NodeGroupSpec]
    """Managed node groups; at least one (CoreDNS and the EBS CSI controller run on them)."""
    addon_versions: Mapping[str, str] | None = None
    """Versions of vpc-cni, kube-proxy, coredns and aws-ebs-csi-driver, over the pinned table for `version`
    (`ADDON_VERSIONS`). Default: the table's; a version the table lacks needs all four here."""
    endpoint_public_access: bool = False
    """Expose the API endpoint on the internet as well, to `public_access_cidrs` only (a deployer on a
    laptop or a hosted CI runner). Default: off, private endpoint only."""
    public_access_cidrs: Sequence[str] = ()
    """Sources allowed to the public endpoint; required with it. Default: none."""
    deployer_cidrs: Sequence[str] = ()
    """Private ranges inside the VPC (or connected to it) admitted on 443 to the cluster security group:
    where an in-VPC runner or a VPN reaches the private endpoint from. Default: none."""
    deployer_security_group_ids: IdList = ()
    """Security groups (an in-VPC runner's) admitted on 443 to the cluster security group. Default: none.
    With a private-only endpoint, a deployer CIDR or group is required: otherwise `pulumi up` creates
    the cluster and then times out on every Kubernetes resource."""
    log_retention_days: int = 90
    """Retention of the control-plane log group. Default: 90."""
    log_key_arn: pulumi.Input[str] | None = None
    """Customer KMS key for the control-plane log group. Default: none, CloudWatch's own encryption."""
    node_subnet_ids: IdList | None = None
    """Subnets of the nodes, when they must wait for more than the control plane's (pass
    `Network.routed_subnet_ids["private"]`: nodes need their NAT route or endpoints to join). Default:
    `subnet_ids`."""
    node_security_group_ids: IdList = ()
    """Groups added to the nodes next to the cluster security group. Default: none."""
    kubeconfig_role_arn: str | None = None
    """Role the kubeconfig assumes for `aws eks get-token`, one of `admin_role_arns`. Default: none, the
    caller's own identity (give it as `deployer_principal_arn`)."""
    deployer_principal_arn: str | None = None
    """The IAM role or user `pulumi up` runs as when the kubeconfig assumes no role: it gets a cluster-admin
    access entry (unless already an admin), so the Kubernetes provider is authorised. Default: none."""
    deployer_profile: str | None = None
    """AWS profile the Kubernetes provider's `aws eks get-token` signs in with: the one the AWS provider
    uses, so both act as the same identity. The exported kubeconfig names none (each reader has their
    own). Default: none, the environment's credentials."""
    protect: bool | None = None
    """Protect the cluster and its log group and turn on EKS deletion protection. Default: inherit the
    options given to the component; forced on in production, where False is refused."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        tier = parse_tier(self.tier)
        object.__setattr__(self, "tier", tier)  # a tier given by name is stored as a Tier
        resolve_protect(tier, self.protect)
        validate_version(self.version)
        if self.running_version != "lookup":
            validate_cluster_upgrade(self.running_version, self.version)
        # A list from another stack arrives as one Output: its length is checked by EKS at deploy.
        if (known_length(self.subnet_ids) or 2) < 2:
            raise refuse("subnet_ids", self.subnet_ids, "private subnets in at least two availability zones")
        for where, value in (("secrets_key_arn", self.secrets_key_arn), ("volume_key_arn", self.volume_key_arn)):
            if isinstance(value, str) and not _KMS_ARN.match(value):
                raise refuse(where, value, "a KMS key ARN such as arn:aws:kms:eu-west-3:123456789012:key/<id>")
        validate_public_access(self.endpoint_public_access, self.public_access_cidrs, tier)
        validate_deployer(self.endpoint_public_access, self.deployer_cidrs, self.deployer_security_group_ids)
        validate_log_retention(self.log_retention_days)
        if not self.admin_role_arns:
            raise refuse("admin_role_arns", [], "at least one role: the creator gets no admin access")
        validate_access_roles(self.admin_role_arns, self.readonly_role_arns)
        if self.kubeconfig_role_arn is not None:
            role_name_of(self.kubeconfig_role_arn, "kubeconfig_role_arn")
            if self.kubeconfig_role_arn not in self.admin_role_arns:
                raise refuse(
                    "kubeconfig_role_arn",
                    self.kubeconfig_role_arn,
                    "one of admin_role_arns: the Kubernetes provider signs in as this role, and without an "
                    "admin access entry every Kubernetes resource gets 401",
                )
        if self.deployer_principal_arn is not None and not _PRINCIPAL_ARN.match(self.deployer_principal_arn):
            raise refuse(
                "deployer_principal_arn", self.deployer_principal_arn, "an IAM role or user ARN (the session's issuer)"
            )
        if self.deployer_profile is not None and not re.fullmatch(r"[\w.@+-]+", self.deployer_profile):
            raise refuse("deployer_profile", self.deployer_profile, "the name of a profile of the shared AWS config")
        if not self.node_groups:
            raise refuse("node_groups", [], "at least one node group")
        names = [g.name for g in self.node_groups]
        if len(set(names)) != len(names):
            raise refuse("node_groups", names, "distinct node group names")
        addon_versions_for(self.version, self.addon_versions)

    @property
    def resolved_addon_versions(self) -> dict[str, str]:
        """The add-on versions in force for `version`."""
        return addon_versions_for(self.version, self.addon_versions)


def _managed_policy(partition: str, policy: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{policy}"


class Cluster(Component):
    """Pass `provider` to Kubernetes resources: `pulumi.ResourceOptions(provider=cluster.provider)`."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority_data: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    node_role_name: pulumi.Output[str]
    cluster_role_arn: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    node_groups: list[aws.eks.NodeGroup]
    """The managed node groups, for `depends_on` of what must run on nodes (the platform controllers)."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        physical = cluster_name(args.context.names, name)  # before any registration: a bad name registers nothing
        running_groups = args.running_node_groups or {}
        if args.running_version == "lookup":  # a skipped minor or a downgrade registers nothing either
            running = running_cluster_version(physical, opts)
            upgrade = validate_cluster_upgrade(running, args.version)
            running_groups = running_node_groups(physical, opts) if running is not None else {}
            if upgrade and running is not None:
                validate_node_groups_caught_up(running, node_group_versions(running_groups), args.version)
        super().__init__("hardstack:kubernetes:Cluster", name, opts)
        self._running_groups = running_groups
        self._context = args.context
        protect = resolve_protect(args.tier, args.protect)
        addon_versions = args.resolved_addon_versions
        child = self.child()
        ctx = args.context
        partition = ctx.partition
        tags = {**args.context.tags, **args.tags, "Name": physical}

        # EKS writes to this group once it exists; creating it first keeps our retention and key.
        logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{physical}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=tags,
            opts=self.kept(protect),
        )

        # EKS accepts aws:SourceArn and aws:SourceAccount in the cluster role's trust (its user guide,
        # "Cross-service confused deputy prevention"): only this cluster of this account assumes it.
        cluster_role = aws.iam.Role(
            f"{name}-cluster",
            **args.context.role_args(),
            description=f"EKS control plane of {physical}",
            assume_role_policy=service_assume_role_policy(
                "eks.amazonaws.com", source_account=ctx.account_id, source_arn=ctx.arn("eks", f"cluster/{physical}")
            ),
            tags=tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-eks",
            role=cluster_role.name,
            policy_arn=_managed_policy(partition, "AmazonEKSClusterPolicy"),
            opts=child,
        )
        secrets_policy = aws.iam.RolePolicy(
            f"{name}-cluster-secrets-key",
            role=cluster_role.id,
            policy=policy_document(
                [
                    {
                        "Sid": "EnvelopeEncryption",
                        "Effect": "Allow",
                        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                        "Resource": args.secrets_key_arn,
                    }
                ]
            ),
            opts=child,
        )

        cluster = aws.eks.Cluster(
            name,
            name=physical,
            version=args.version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=id_list(args.subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=args.endpoint_public_access,
                public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.secrets_key_arn),
            ),
            enabled_cluster_log_types=list(CLUSTER_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=False,  # admins are the named roles, no one else
            ),
            # The managed add-ons below install vpc-cni, kube-proxy and CoreDNS; no unmanaged copies.
            bootstrap_self_managed_addons=False,
            deletion_protection=bool(protect or self._given_protect),
            tags=tags,
            # EKS refuses control-plane subnets outside the AZs the cluster was created in
            # (UpdateClusterConfig): an added AZ is for the nodes, the control plane keeps its subnets.
            opts=self.kept(
                protect, depends_on=[logs, cluster_policy, secrets_policy], ignore_changes=["vpcConfig.subnetIds"]
            ),
        )

        access: list[pulumi.Resource] = self._deployer_rules(name, args, cluster)
        deployer = args.deployer_principal_arn
        extra_admin = [deployer] if deployer is not None and deployer not in args.admin_role_arns else []
        for arns, policy, kind in (
            (extra_admin, "AmazonEKSClusterAdminPolicy", "admin"),
            (args.admin_role_arns, "AmazonEKSClusterAdminPolicy", "admin"),
            (args.readonly_role_arns, "AmazonEKSViewPolicy", "view"),
        ):
            for arn in arns:
                # Named by role, so reordering the list renames nothing; the deployer has its own name.
                key = "deployer" if arns is extra_admin else role_name_of(arn)
                entry = aws.eks.AccessEntry(
                    f"{name}-access-{key}",
                    cluster_name=cluster.name,
                    principal_arn=arn,
                    type="STANDARD",
                    tags=tags,
                    opts=child,
                )
                association = aws.eks.AccessPolicyAssociation(
                    f"{name}-{kind}-{key}",
                    cluster_name=cluster.name,
                    principal_arn=arn,
                    policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/{policy}",
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=self.child(depends_on=[entry]),
                )
                access += [entry, association]

        issuer: pulumi.Output[str] = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        # No thumbprint: IAM validates the EKS issuer against its own trusted CAs.
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=[STS_AUDIENCE],
            tags=tags,
            opts=child,
        )

        node_role = aws.iam.Role(
            f"{name}-nodes",
            **args.context.role_args(),
            description=f"EKS nodes of {physical}",
            # Instances of this account only, like the fleet's role.
            assume_role_policy=service_assume_role_policy("ec2.amazonaws.com", source_account=ctx.account_id),
            tags=tags,
            opts=child,
        )
        # The CNI policy is not here: vpc-cni gets its own IRSA role, so pods cannot borrow it.
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{suffix}", role=node_role.name, policy_arn=_managed_policy(partition, policy), opts=child
            )
            for suffix, policy in (
                ("worker", "AmazonEKSWorkerNodePolicy"),
                ("ecr-read", "AmazonEC2ContainerRegistryReadOnly"),
            )
        ]

        cni_role, cni_policy = self._irsa_role(
            f"{name}-vpc-cni", oidc.arn, issuer, "aws-node", _managed_policy(partition, "AmazonEKS_CNI_Policy"), tags
        )
        ebs_role, ebs_policy = self._irsa_role(
            f"{name}-ebs-csi",
            oidc.arn,
            issuer,
            "ebs-csi-controller-sa",
            _managed_policy(partition, "service-role/AmazonEBSCSIDriverPolicy"),
            tags,
        )
        # Encrypted gp3 volumes under the customer key: the driver needs the key and grants on it.
        ebs_kms = aws.iam.RolePolicy(
            f"{name}-ebs-csi-volume-key",
            role=ebs_role.id,
            policy=policy_document(
                [
                    {
                        "Sid": "UseVolumeKey",
                        "Effect": "Allow",
                        "Action": [
                            "kms:Encrypt",
                            "kms:Decrypt",
                            "kms:ReEncrypt*",
                            "kms:GenerateDataKey*",
                            "kms:DescribeKey",
                        ],
                        "Resource": args.volume_key_arn,
                    },
                    {
                        "Sid": "GrantsForAttachedVolumes",
                        "Effect": "Allow",
                        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                        "Resource": args.volume_key_arn,
                        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                    },
                ]
            ),
            opts=child,
        )

        def addon(
            addon_name: str,
            role_arn: pulumi.Input[str] | None,
            after: Sequence[pulumi.Resource],
            configuration: dict[str, Any] | None = None,
        ) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}",
                cluster_name=cluster.name,
                addon_name=addon_name,
                addon_version=addon_versions[addon_name],
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                service_account_role_arn=role_arn,
                configuration_values=json.dumps(configuration) if configuration else None,
                tags=tags,
                # After the control plane: EKS takes only builds listed for the minor the cluster runs, and
                # kube-proxy must not be newer than the API server.
                opts=self.child(depends_on=[cluster, *after]),
            )

        # Networking first: nodes only turn Ready once vpc-cni and kube-proxy run on them. On an upgrade
        # the same order holds: control plane, vpc-cni and kube-proxy (kube-proxy may be newer than the
        # kubelets, never than the API server), node groups, then CoreDNS and the EBS CSI driver, which
        # need running nodes to become healthy when they are first created.
        # vpc-cni enforces NetworkPolicies only when asked: the platform's default-deny relies on it.
        networking = [
            addon("vpc-cni", cni_role.arn, [cni_policy], {"enableNetworkPolicy": "true"}),
            addon("kube-proxy", None, []),
        ]
        security_group_id: pulumi.Output[str] = cluster.vpc_config.cluster_security_group_id
        groups = [
            self._node_group(
                f"{name}-{spec.name}",
                spec,
                args,
                cluster,
                node_role.arn,
                security_group_id,
                tags,
                after=[*node_policies, *networking],
                physical=physical,
            )
            for spec in args.node_groups
        ]
        self.node_groups = groups
        after_nodes = [
            addon("coredns", None, groups),
            # The driver's volumes carry the stack's tags, by which day-2 checks find this stack's
            # claims among other clusters' of the account (hardstack.aws.volumes).
            addon(
                "aws-ebs-csi-driver",
                ebs_role.arn,
                [*groups, ebs_policy, ebs_kms],
                {"controller": {"extraVolumeTags": {**ctx.tags, **args.tags}}},
            ),
        ]

        ca_data: pulumi.Output[str] = cluster.certificate_authority.apply(lambda ca: ca.data)
        kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, ca_data).apply(
            lambda v: render_kubeconfig(v[0], v[1], v[2], ctx.region, args.kubeconfig_role_arn)
        )
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        signed_in = self.kubeconfig
        if args.deployer_profile is not None:
            profile = args.deployer_profile
            signed_in = pulumi.Output.secret(
                pulumi.Output.all(cluster.name, cluster.endpoint, ca_data).apply(
                    lambda v: render_kubeconfig(v[0], v[1], v[2], ctx.region, args.kubeconfig_role_arn, profile)
                )
            )
        # Resources using the provider wait until the deployer has access and the add-ons are up.
        self.provider = k8s.Provider(
            name,
            kubeconfig=signed_in,
            opts=self.child(depends_on=[*access, *networking, *after_nodes]),
        )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.certificate_authority_data = ca_data
        self.oidc_provider_arn = oidc.arn
        self.oidc_provider_url = issuer
        self.node_role_arn = node_role.arn
        self.node_role_name = node_role.name
        self.cluster_role_arn = cluster_role.arn
        self.cluster_security_group_id = security_group_id
        self.vpc_id = pulumi.Output.from_input(args.vpc_id)
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "certificate_authority_data": self.certificate_authority_data,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_provider_url": self.oidc_provider_url,
                "node_role_arn": self.node_role_arn,
                "node_role_name": self.node_role_name,
                "cluster_role_arn": self.cluster_role_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
                "vpc_id": self.vpc_id,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _deployer_rules(self, name: str, args: ClusterArgs, cluster: aws.eks.Cluster) -> list[pulumi.Resource]:
        """HTTPS to the API from the deployer's private range or runner group: the Kubernetes provider
        talks to the private endpoint through the cluster security group."""
        group_id = cluster.vpc_config.cluster_security_group_id
        sources: list[tuple[str, str, dict[str, Any]]] = [
            (Peer.cidr(cidr).key, "the deployer", {"cidr_ipv6" if ":" in cidr else "cidr_ipv4": cidr})
            for cidr in args.deployer_cidrs
        ]
        groups = args.deployer_security_group_ids
        if isinstance(groups, list | tuple):
            # Named by group id where it is known, so reordering the list replaces nothing.
            sources += [
                (
                    f"runner-{group if isinstance(group, str) else i}",
                    "the deployer's runner",
                    {"referenced_security_group_id": group},
                )
                for i, group in enumerate(groups)
            ]
        return [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-from-{key}",
                security_group_id=group_id,
                description=f"Kubernetes API from {who}",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                **source,
                opts=self.child(),
            )
            for key, who, source in sources
        ]

    def _irsa_role(
        self,
        resource_name: str,
        provider_arn: pulumi.Input[str],
        issuer: pulumi.Input[str],
        service_account: str,
        policy_arn: str,
        tags: Mapping[str, str],
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        child = self.child()
        role = aws.iam.Role(
            resource_name,
            **self._context.role_args(),
            description=f"IRSA: kube-system/{service_account}",
            assume_role_policy=irsa_trust_policy(provider_arn, issuer, "kube-system", service_account),
            tags=dict(tags),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(resource_name, role=role.name, policy_arn=policy_arn, opts=child)
        return role, attachment

    def _node_group(
        self,
        resource_name: str,
        spec: NodeGroupSpec,
        args: ClusterArgs,
        cluster: aws.eks.Cluster,
        node_role_arn: pulumi.Input[str],
        cluster_security_group_id: pulumi.Input[str],
        tags: Mapping[str, str],
        after: Sequence[pulumi.Resource],
        physical: str,
    ) -> aws.eks.NodeGroup:
        child = self.child()
        node_tags = {**tags, "Name": resource_name}
        live = live_scaling(self._running_groups, spec.name)
        scaling = node_group_scaling(live, spec.min_size, spec.max_size, spec.desired_size)
        # Cluster Autoscaler auto-discovery keys (EKS puts the same on the group's Auto Scaling group,
        # which the autoscaler reads and its IAM policy is scoped by): this cluster's groups only.
        discovery = {AUTOSCALER_ENABLED_TAG: "true", autoscaler_cluster_tag(physical): "owned"}
        template = aws.ec2.LaunchTemplate(
            resource_name,
            description=f"EKS node group {resource_name}",
            # Setting groups here replaces EKS's default, so the cluster group is listed explicitly.
            vpc_security_group_ids=join_ids([cluster_security_group_id], args.node_security_group_ids),
            # Hop limit 1: pods (one network hop away) cannot reach IMDS and borrow the node role.
            # Add-ons that call AWS use IRSA instead; vpc-cni runs on the host network, and the
            # EBS CSI node plugin falls back to Kubernetes metadata. Workloads needing AWS get IRSA.
            metadata_options=imdsv2_only(),
            block_device_mappings=encrypted_root_volume(spec.disk_gb, args.volume_key_arn),
            tag_specifications=tag_specifications(node_tags),
            tags=node_tags,
            opts=child,
        )
        # No node_group_name: Pulumi's auto-name lets an instance-type change replace the group
        # create-before-delete. The AMI follows the cluster version; disk and IMDS roll via the template.
        return aws.eks.NodeGroup(
            resource_name,
            cluster_name=cluster.name,
            node_role_arn=node_role_arn,
            subnet_ids=id_list(args.node_subnet_ids if args.node_subnet_ids is not None else args.subnet_ids),
            ami_type=AMI_TYPE,
            # Nodes follow the control plane: without a version they keep their first AMI's Kubernetes.
            # Taken from the cluster, so they move to a new minor only once the control plane runs it
            # (kubelets may not be newer than the API server); EKS updates the version in place.
            version=cluster.version,
            instance_types=list(spec.instance_types),
            # The version is a string in the EKS schema; a new template version rolls the nodes.
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=spec.min_size, max_size=spec.max_size, desired_size=scaling.desired_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=spec.max_unavailable_percent),
            labels={**spec.labels, NODE_GROUP_LABEL: spec.name},
            tags={**node_tags, **discovery},
            # The cluster autoscaler owns the node count after creation; an update must not undo it.
            # New bounds are sent with the size the group runs at (EKS refuses one outside them).
            opts=self.child(
                depends_on=[cluster, *after],
                ignore_changes=["scalingConfig.desiredSize"] if scaling.autoscaler_owns_desired else [],
            ),
        )


@documented
@dataclass(frozen=True, kw_only=True)
class ExistingClusterArgs:
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of a cluster managed elsewhere; read it from a secret. Plain text is checked here."""

    def __post_init__(self) -> None:
        if not isinstance(self.kubeconfig, pulumi.Output):
            validate_existing_kubeconfig(self.kubeconfig)


class ExistingCluster(Component):
    """A cluster this stack does not create: only a kubernetes Provider for it, as `provider`."""

    provider: k8s.Provider

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:kubernetes:ExistingCluster", name, opts)
        self.provider = k8s.Provider(
            name,
            kubeconfig=pulumi.Output.secret(args.kubeconfig),
            opts=self.child(),
        )
        self.register_outputs({})
