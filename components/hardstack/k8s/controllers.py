"""Platform controllers an EKS cluster lacks out of the box, each a pinned Helm release in kube-system.

Creates, each when asked: helm.v3.Release of metrics-server (the resource metrics API the
HorizontalPodAutoscaler reads), of cluster-autoscaler (scales this cluster's node groups, found by
their auto-discovery tags) and of aws-load-balancer-controller (serves Ingresses of class `alb` with
ALBs), whose CRDs are yaml.v2.ConfigFile resources of their own (the chart's crds/ at the pinned
commit), so a chart bump upgrades them. The two that call AWS run as their IRSA roles
(`hardstack.aws.controller_roles`).

Charts and values: every key `*_values` sets exists in the pinned chart's own values.yaml at the
pinned tag (read in the charts' repositories: kubernetes-sigs/metrics-server tag
metrics-server-helm-chart-3.13.1; kubernetes/autoscaler tag cluster-autoscaler-chart-9.51.0,
charts/cluster-autoscaler; aws/eks-charts stable/aws-load-balancer-controller at chart 3.5.0).
The autoscaler's `extraArgs` keys are its flags, as listed in that values file's comments and the
autoscaler's FAQ. `CHECKED_VALUE_KEYS` records those keys; a test fails when a values function sets
any other, so a new key or a chart bump means reading values.yaml again.

The caller passes the Kubernetes provider through `opts`; the releases wait for the node groups and
the role policies given in the args.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from hardstack.base.component import Component
from hardstack.core.controllers import (
    AUTOSCALER_ENABLED_TAG,
    CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
    CONTROLLERS_NAMESPACE,
    LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
)
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier
from hardstack.k8s.app import Resources

METRICS_SERVER_CHART = "metrics-server"
METRICS_SERVER_REPO = "https://kubernetes-sigs.github.io/metrics-server/"
METRICS_SERVER_VERSION = "3.13.1"  # app 0.8.1
AUTOSCALER_CHART = "cluster-autoscaler"
AUTOSCALER_REPO = "https://kubernetes.github.io/autoscaler"
AUTOSCALER_VERSION = "9.51.0"
#: The autoscaler's minor must match the cluster's (its scheduler simulation is the cluster's own):
#: the latest patch release of each supported minor (tags cluster-autoscaler-1.MINOR.PATCH).
AUTOSCALER_IMAGE_TAGS: Mapping[str, str] = {
    "1.31": "v1.31.5",
    "1.32": "v1.32.7",
    "1.33": "v1.33.6",
    "1.34": "v1.34.5",
}
LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"
LOAD_BALANCER_CONTROLLER_REPO = "https://aws.github.io/eks-charts"
LOAD_BALANCER_CONTROLLER_VERSION = "3.5.0"  # app v3.5.0
#: The aws/eks-charts commit that released chart 3.5.0 ("aws-load-balancer-controller: v3.5.0"): the
#: chart's crds/ at it. Helm installs a chart's CRDs once and never upgrades them, so the release
#: skips them and they are resources of their own, updated in place when a bump moves this commit.
LOAD_BALANCER_CONTROLLER_CRDS_COMMIT = "5239609242f3430be50fb0b714a24d3ef2b47983"
#: What Helm would install from the chart's crds/ (kustomization.yaml is .helmignore'd).
LOAD_BALANCER_CONTROLLER_CRD_FILES = ("crds.yaml", "gateway-crds.yaml")


def load_balancer_controller_crd_urls(commit: str) -> list[str]:
    """The chart's CRD manifests at `commit`, as the provider fetches them."""
    base = f"https://raw.githubusercontent.com/aws/eks-charts/{commit}/stable/aws-load-balancer-controller/crds"
    return [f"{base}/{file}" for file in LOAD_BALANCER_CONTROLLER_CRD_FILES]


#: The annotation IRSA reads on a service account.
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"

#: Requests (what the scheduler reserves, so the nodes' sizing holds) and limits of the controllers.
LOAD_BALANCER_CONTROLLER_RESOURCES = Resources(cpu_request="100m", cpu_limit="1", memory_limit="512Mi")
#: The autoscaler's FAQ: about 300Mi for small clusters, more with many nodes and pods.
AUTOSCALER_RESOURCES = Resources(cpu_request="100m", cpu_limit="1", memory_request="300Mi", memory_limit="1Gi")
_RESOURCE_KEYS = frozenset(f"resources.{kind}.{what}" for kind in ("requests", "limits") for what in ("cpu", "memory"))

#: Value paths each values function may set, all read in the pinned chart's values.yaml (see above).
CHECKED_VALUE_KEYS: Mapping[str, frozenset[str]] = {
    METRICS_SERVER_CHART: frozenset({"replicas", "podDisruptionBudget.enabled", "podDisruptionBudget.maxUnavailable"}),
    AUTOSCALER_CHART: frozenset(
        {
            "cloudProvider",
            "awsRegion",
            "autoDiscovery.clusterName",
            "autoDiscovery.tags",
            "image.tag",
            "replicaCount",
            "podDisruptionBudget.maxUnavailable",
            "rbac.serviceAccount.create",
            "rbac.serviceAccount.name",
            "rbac.serviceAccount.annotations",
            "extraArgs.balance-similar-node-groups",
            "extraArgs.expander",
            "extraArgs.skip-nodes-with-local-storage",
            *_RESOURCE_KEYS,
        }
    ),
    LOAD_BALANCER_CONTROLLER_CHART: frozenset(
        {
            "clusterName",
            "region",
            "vpcId",
            "replicaCount",
            "podDisruptionBudget.maxUnavailable",
            "serviceAccount.create",
            "serviceAccount.name",
            "serviceAccount.annotations",
            "enableServiceMutatorWebhook",
            "enableShield",
            "enableWaf",
            "enableWafv2",
            "defaultTags",
            *_RESOURCE_KEYS,
        }
    ),
}
#: Values that are maps of the user's keys: leaves for the check above.
MAP_VALUES = frozenset({"defaultTags"})


def metrics_server_values(replicas: int) -> dict[str, Any]:
    values: dict[str, Any] = {"replicas": replicas}
    if replicas > 1:  # a budget on one replica would block every node drain
        values["podDisruptionBudget"] = {"enabled": True, "maxUnavailable": 1}
    return values


def autoscaler_values(
    cluster_name: pulumi.Input[str], region: str, kubernetes_version: str, role_arn: pulumi.Input[str], replicas: int
) -> dict[str, Any]:
    name = pulumi.Output.from_input(cluster_name)
    return {
        "cloudProvider": "aws",
        # The region from the environment: the pod cannot reach IMDS (hop limit 1 on the nodes).
        "awsRegion": region,
        "autoDiscovery": {
            "clusterName": name,
            # Only groups carrying both tags: another cluster's groups in the account are never touched.
            "tags": [AUTOSCALER_ENABLED_TAG, name.apply(lambda n: f"k8s.io/cluster-autoscaler/{n}")],
        },
        "image": {"tag": AUTOSCALER_IMAGE_TAGS[kubernetes_version]},
        "replicaCount": replicas,  # leader election: one acts, the other takes over
        "podDisruptionBudget": {"maxUnavailable": 1},
        "resources": AUTOSCALER_RESOURCES.values(),
        "rbac": {
            "serviceAccount": {
                "create": True,
                "name": CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
                "annotations": {ROLE_ANNOTATION: role_arn},
            }
        },
        "extraArgs": {
            # The node group spans every AZ; with several, keep them even and waste least.
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            # Scale-down may move pods with emptyDir scratch space (the app's /tmp).
            "skip-nodes-with-local-storage": False,
        },
    }


def load_balancer_controller_values(
    cluster_name: pulumi.Input[str],
    region: str,
    vpc_id: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    replicas: int,
    web_acl: bool = False,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        # Given, not discovered: the pods cannot reach IMDS to find region and VPC (hop limit 1).
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": replicas,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "resources": LOAD_BALANCER_CONTROLLER_RESOURCES.values(),
        "serviceAccount": {
            "create": True,
            "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            "annotations": {ROLE_ANNOTATION: role_arn},
        },
        # Its Service webhook fails closed: with it, no Service anywhere could be created while the
        # controller is down. hardstack publishes through Ingress, not LoadBalancer Services.
        "enableServiceMutatorWebhook": False,
        # Shield and WAF Classic are never used: with them off the controller makes no calls to
        # those APIs. WAFv2 is on only where the Ingress carries a web ACL annotation to apply.
        "enableShield": False,
        "enableWaf": False,
        "enableWafv2": web_acl,
        # Provider default tags never reach what the controller creates (ALBs, target groups,
        # security groups): it tags them itself with these.
        **({"defaultTags": dict(tags)} if tags else {}),
    }


def value_paths(values: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of the leaves of a values tree (lists are leaves)."""
    paths: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and path not in MAP_VALUES and not any("/" in str(k) for k in value):
            paths |= value_paths(value, f"{path}.")
        else:
            paths.add(path)
    return paths


@documented
@dataclass(frozen=True, kw_only=True)
class PlatformControllersArgs:
    cluster_name: pulumi.Input[str]
    """EKS cluster name (the autoscaler's discovery tags and the load balancer controller's tags use it)."""
    region: str
    """AWS region of the cluster."""
    kubernetes_version: str
    """The cluster's Kubernetes minor: picks the autoscaler release of the same minor."""
    tier: Tier = Tier.PRODUCTION
    """Staging and production run two replicas of each controller behind a disruption budget. Default:
    production."""
    metrics_server: bool = True
    """Install metrics-server (EKS ships none; without it the HPA reads no CPU). Default: on."""
    cluster_autoscaler_role_arn: pulumi.Input[str] | None = None
    """IRSA role of the Cluster Autoscaler (`ControllerRoles`). Default: none, no autoscaler."""
    load_balancer_controller_role_arn: pulumi.Input[str] | None = None
    """IRSA role of the AWS Load Balancer Controller (`ControllerRoles`). Default: none, no controller."""
    vpc_id: pulumi.Input[str] | None = None
    """VPC of the cluster; required with the load balancer controller. Default: none."""
    node_groups: Sequence[pulumi.Resource] = ()
    """The node groups the controllers' pods run on: every release waits for them (a release waits for
    its pods to be ready, which never happens without nodes). Default: none (an existing cluster's)."""
    role_policies: Sequence[pulumi.Resource] = ()
    """The IRSA roles' policies (`ControllerRoles.policies`): the controllers wait for their
    permissions before their first AWS call. Default: none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags the load balancer controller puts on every AWS resource it creates. Default: none."""
    web_acl: bool = False
    """The app's Ingress carries a WAFv2 web ACL (`alb.ingress.kubernetes.io/wafv2-acl-arn`): the load
    balancer controller associates it with the ALB. Default: off (the controller never calls WAFv2)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", parse_tier(self.tier))
        if self.cluster_autoscaler_role_arn is not None and self.kubernetes_version not in AUTOSCALER_IMAGE_TAGS:
            raise refuse(
                "kubernetes_version",
                self.kubernetes_version,
                f"one of {', '.join(AUTOSCALER_IMAGE_TAGS)}: the autoscaler release must match the cluster's minor",
            )
        if self.load_balancer_controller_role_arn is not None and self.vpc_id is None:
            raise refuse("vpc_id", None, "the cluster's VPC id with the load balancer controller")

    @property
    def replicas(self) -> int:
        return 1 if self.tier is Tier.DEVELOPMENT else 2


class PlatformControllers(Component):
    """Depend on `load_balancer_controller` before creating Ingresses: its admission webhook must answer."""

    metrics_server: k8s.helm.v3.Release | None
    cluster_autoscaler: k8s.helm.v3.Release | None
    load_balancer_controller: k8s.helm.v3.Release | None

    def __init__(self, name: str, args: PlatformControllersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:kubernetes:PlatformControllers", name, opts)
        replicas = args.replicas
        nodes = list(args.node_groups)
        with_role = [*nodes, *args.role_policies]

        def release(
            suffix: str,
            chart: str,
            version: str,
            repo: str,
            values: dict[str, Any],
            after: list[pulumi.Resource],
            skip_crds: bool = False,
        ) -> k8s.helm.v3.Release:
            return k8s.helm.v3.Release(
                f"{name}-{suffix}",
                # A fixed release name: it names the objects, the service accounts the roles trust among them.
                name=chart,
                chart=chart,
                version=version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
                namespace=CONTROLLERS_NAMESPACE,
                values=values,
                # Waits for the pods to be ready (and rolls back on failure): what depends on a
                # controller starts only once it answers.
                atomic=True,
                cleanup_on_fail=True,
                timeout=600,
                max_history=10,
                skip_crds=skip_crds,
                opts=self.child(depends_on=after),
            )

        self.metrics_server = None
        self.cluster_autoscaler = None
        self.load_balancer_controller = None
        self.load_balancer_controller_crds: list[k8s.yaml.v2.ConfigFile] = []
        if args.metrics_server:
            self.metrics_server = release(
                "metrics-server",
                METRICS_SERVER_CHART,
                METRICS_SERVER_VERSION,
                METRICS_SERVER_REPO,
                metrics_server_values(replicas),
                nodes,
            )
        if args.cluster_autoscaler_role_arn is not None:
            self.cluster_autoscaler = release(
                "cluster-autoscaler",
                AUTOSCALER_CHART,
                AUTOSCALER_VERSION,
                AUTOSCALER_REPO,
                autoscaler_values(
                    args.cluster_name, args.region, args.kubernetes_version, args.cluster_autoscaler_role_arn, replicas
                ),
                with_role,
            )
        if args.load_balancer_controller_role_arn is not None and args.vpc_id is not None:
            # Its CRDs before the release (its webhooks and objects use them); on destroy, after it.
            self.load_balancer_controller_crds = [
                k8s.yaml.v2.ConfigFile(
                    f"{name}-load-balancer-controller-{file.removesuffix('.yaml')}",
                    k8s.yaml.v2.ConfigFileArgs(file=url),
                    self.child(),
                )
                for file, url in zip(
                    LOAD_BALANCER_CONTROLLER_CRD_FILES,
                    load_balancer_controller_crd_urls(LOAD_BALANCER_CONTROLLER_CRDS_COMMIT),
                    strict=True,
                )
            ]
            self.load_balancer_controller = release(
                "load-balancer-controller",
                LOAD_BALANCER_CONTROLLER_CHART,
                LOAD_BALANCER_CONTROLLER_VERSION,
                LOAD_BALANCER_CONTROLLER_REPO,
                load_balancer_controller_values(
                    args.cluster_name,
                    args.region,
                    args.vpc_id,
                    args.load_balancer_controller_role_arn,
                    replicas,
                    web_acl=args.web_acl,
                    tags=args.tags,
                ),
                [*with_role, *self.load_balancer_controller_crds],
                skip_crds=True,
            )
        installed = {
            key: release.status
            for key, release in (
                ("metrics_server", self.metrics_server),
                ("cluster_autoscaler", self.cluster_autoscaler),
                ("load_balancer_controller", self.load_balancer_controller),
            )
            if release is not None
        }
        self.register_outputs(installed)

    @property
    def releases(self) -> list[k8s.helm.v3.Release]:
        """The releases installed, for `depends_on` of what needs them."""
        return [r for r in (self.metrics_server, self.cluster_autoscaler, self.load_balancer_controller) if r]
