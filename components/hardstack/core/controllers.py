"""What the platform controllers share across layers, and whether the app at its autoscaler maximum fits the nodes.

No resources here. The IAM side (`hardstack.aws.controller_roles`) trusts the service accounts named
here; the Kubernetes side (`hardstack.k8s.controllers`) makes them.

Capacity: a plain sum, kept simple on purpose. Each node offers its vCPUs and memory less what the
kubelet reserves and the per-node agents request (`NODE_RESERVED_*`, `AGENTS_*`); the cluster-wide
platform pods (CoreDNS, the controllers, the monitoring stack) take `PLATFORM_*` once. The app fits
when `max_replicas` x its requests is within what `max_nodes` of the smallest listed instance type
offer. Bin-packing losses are ignored (the app's pods are small against a node).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from hardstack.core.errors import refuse

#: Where the controllers run; their IRSA roles trust service accounts of this namespace only.
CONTROLLERS_NAMESPACE = "kube-system"
CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
#: Auto-discovery tags of the Cluster Autoscaler: EKS sets them on each managed node group's Auto
#: Scaling group (`enabled` = true, the cluster's key = owned); the autoscaler's IAM policy is scoped to them.
AUTOSCALER_ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"


def autoscaler_cluster_tag(cluster_name: str) -> str:
    """The tag key that says a node group belongs to `cluster_name` (value `owned`)."""
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


#: Per node: kubelet and system reservations and the eviction threshold (EKS AL2023 reserves about
#: 70m CPU and 0.7 GiB on a 2-vCPU node), rounded up.
NODE_RESERVED_CPU_SHARE = Decimal("0.1")
NODE_RESERVED_MEMORY_MIB = 1024
#: Per node: what the DaemonSets request (vpc-cni, kube-proxy, EBS CSI node plugin, node exporter).
AGENTS_CPU_M = 200
AGENTS_MEMORY_MIB = 512
#: Once per cluster: CoreDNS, metrics-server, the autoscaler, the load balancer controller, the EBS CSI
#: controller and the monitoring stack.
PLATFORM_CPU_M = 1000
PLATFORM_MEMORY_MIB = 2048

_BURSTABLE = {  # t3 and t3a: vCPUs, GiB
    "nano": (2, Decimal("0.5")),
    "micro": (2, Decimal(1)),
    "small": (2, Decimal(2)),
    "medium": (2, Decimal(4)),
    "large": (2, Decimal(8)),
    "xlarge": (4, Decimal(16)),
    "2xlarge": (8, Decimal(32)),
}
_GIB_PER_VCPU = {"c": Decimal(2), "m": Decimal(4), "r": Decimal(8)}
_FIXED_RATIO = re.compile(r"^(?P<cls>[cmr])[5-8][abdeinz]*\.(?P<size>large|(?P<n>[0-9]*)xlarge)$")
_T3 = re.compile(r"^t3a?\.(?P<size>[a-z0-9]+)$")

KNOWN_FAMILIES = "t3, t3a and the c, m, r families of generations 5 to 8 (x86)"


@dataclass(frozen=True)
class NodeShape:
    """What one instance type has: vCPUs and memory."""

    vcpus: int
    memory_gib: Decimal

    @property
    def allocatable_cpu_m(self) -> int:
        """CPU (millicores) left to pods once the kubelet and the node agents have theirs."""
        return int(self.vcpus * 1000 * (1 - NODE_RESERVED_CPU_SHARE)) - AGENTS_CPU_M

    @property
    def allocatable_memory_mib(self) -> int:
        return int(self.memory_gib * 1024) - NODE_RESERVED_MEMORY_MIB - AGENTS_MEMORY_MIB


def node_shape(instance_type: str, where: str = "instance_types") -> NodeShape:
    """vCPUs and memory of an instance type of the families hardstack knows; refuse others."""
    t3 = _T3.match(instance_type) if isinstance(instance_type, str) else None
    if t3 is not None and t3["size"] in _BURSTABLE:
        vcpus, gib = _BURSTABLE[t3["size"]]
        return NodeShape(vcpus, gib)
    fixed = _FIXED_RATIO.match(instance_type) if isinstance(instance_type, str) else None
    if fixed is None:
        raise refuse(
            where,
            instance_type,
            f"an instance type of {KNOWN_FAMILIES}: the check that the app at its autoscaler maximum fits the "
            "node group needs its size",
        )
    vcpus = 2 if fixed["size"] == "large" else 4 * int(fixed["n"] or 1)
    return NodeShape(vcpus, vcpus * _GIB_PER_VCPU[fixed["cls"]])


@dataclass(frozen=True)
class Capacity:
    """Requests of the app at its maximum against what the nodes offer, in millicores and MiB."""

    needed_cpu_m: int
    needed_memory_mib: int
    offered_cpu_m: int
    offered_memory_mib: int
    max_replicas_that_fit: int

    @property
    def fits(self) -> bool:
        return self.needed_cpu_m <= self.offered_cpu_m and self.needed_memory_mib <= self.offered_memory_mib


def capacity_at_max(
    max_replicas: int,
    cpu_request_m: Decimal,
    memory_request_mib: Decimal,
    max_nodes: int,
    instance_types: Sequence[str],
    where: str = "instance_types",
) -> Capacity:
    """The app's requests at `max_replicas` against `max_nodes` of the smallest of `instance_types`."""
    shapes = [node_shape(t, where) for t in instance_types]
    cpu_per_node = min(s.allocatable_cpu_m for s in shapes)
    memory_per_node = min(s.allocatable_memory_mib for s in shapes)
    offered_cpu = max_nodes * cpu_per_node - PLATFORM_CPU_M
    offered_memory = max_nodes * memory_per_node - PLATFORM_MEMORY_MIB
    fit = min(math.floor(offered_cpu / cpu_request_m), math.floor(offered_memory / memory_request_mib))
    return Capacity(
        needed_cpu_m=math.ceil(max_replicas * cpu_request_m),
        needed_memory_mib=math.ceil(max_replicas * memory_request_mib),
        offered_cpu_m=offered_cpu,
        offered_memory_mib=offered_memory,
        max_replicas_that_fit=max(fit, 0),
    )
