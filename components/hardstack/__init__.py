"""hardstack: hardened, reusable Pulumi components for AWS and Kubernetes.

The public API is what `__all__` lists; everything else may change without notice. Modules that
need the optional extras (`hardstack.tooling.sandbox`: moto) are not imported here.
"""

from hardstack.aws.alarms import AlarmThresholds, AlbMetrics, FleetMetrics, RdsMetrics, ServiceAlarms, ServiceAlarmsArgs
from hardstack.aws.bucket import SecureBucket, SecureBucketArgs
from hardstack.aws.cluster import Cluster, ClusterArgs, ExistingCluster, ExistingClusterArgs, NodeGroupSpec
from hardstack.aws.context import AwsContext
from hardstack.aws.controller_roles import ControllerRoles, ControllerRolesArgs
from hardstack.aws.dashboard import Dashboard, DashboardArgs
from hardstack.aws.database import Database, DatabaseArgs
from hardstack.aws.database_access import DatabaseAccess, DatabaseAccessArgs
from hardstack.aws.fleet import Fleet, FleetArgs
from hardstack.aws.kms import EncryptionKey, EncryptionKeyArgs
from hardstack.aws.load_balancer import LoadBalancer, LoadBalancerArgs
from hardstack.aws.network import Network, NetworkArgs
from hardstack.aws.security_group import SecurityGroup, SecurityGroupArgs
from hardstack.aws.topic import AlertTopic, AlertTopicArgs, Subscription
from hardstack.aws.waf import WebFirewall, WebFirewallArgs
from hardstack.core.addressing import AddressPlan, SubnetPlan, plan_addresses
from hardstack.core.database_roles import DatabaseRoles
from hardstack.core.errors import HardstackError
from hardstack.core.naming import Naming
from hardstack.core.rules import Flow, Peer, Port
from hardstack.core.slo import SLO
from hardstack.core.tier import Tier
from hardstack.k8s.app import AlbIngress, App, AppArgs, DatabaseLogin, MigrationSpec, Resources
from hardstack.k8s.controllers import PlatformControllers, PlatformControllersArgs
from hardstack.k8s.database_roles import DatabaseBootstrap, DatabaseBootstrapArgs
from hardstack.k8s.monitoring import Monitoring, MonitoringArgs, Receiver, SecretRef
from hardstack.k8s.platform import PlatformBaseline, PlatformBaselineArgs

__all__ = [
    "SLO",
    "AddressPlan",
    "AlarmThresholds",
    "AlbIngress",
    "AlbMetrics",
    "AlertTopic",
    "AlertTopicArgs",
    "App",
    "AppArgs",
    "AwsContext",
    "Cluster",
    "ClusterArgs",
    "ControllerRoles",
    "ControllerRolesArgs",
    "Dashboard",
    "DashboardArgs",
    "Database",
    "DatabaseAccess",
    "DatabaseAccessArgs",
    "DatabaseArgs",
    "DatabaseBootstrap",
    "DatabaseBootstrapArgs",
    "DatabaseLogin",
    "DatabaseRoles",
    "EncryptionKey",
    "EncryptionKeyArgs",
    "ExistingCluster",
    "ExistingClusterArgs",
    "Fleet",
    "FleetArgs",
    "FleetMetrics",
    "Flow",
    "HardstackError",
    "LoadBalancer",
    "LoadBalancerArgs",
    "MigrationSpec",
    "Monitoring",
    "MonitoringArgs",
    "Naming",
    "Network",
    "NetworkArgs",
    "NodeGroupSpec",
    "Peer",
    "PlatformBaseline",
    "PlatformBaselineArgs",
    "PlatformControllers",
    "PlatformControllersArgs",
    "Port",
    "RdsMetrics",
    "Receiver",
    "Resources",
    "SecretRef",
    "SecureBucket",
    "SecureBucketArgs",
    "SecurityGroup",
    "SecurityGroupArgs",
    "ServiceAlarms",
    "ServiceAlarmsArgs",
    "SubnetPlan",
    "Subscription",
    "Tier",
    "WebFirewall",
    "WebFirewallArgs",
    "plan_addresses",
]
