"""hardstack: hardened, reusable Pulumi components for AWS and Kubernetes.

The public API is what `__all__` lists; everything else may change without notice. Modules that
need the optional extras (`components.sandbox`: moto) are not imported here.
"""

from components.addressing import AddressPlan, SubnetPlan, plan_addresses
from components.alarms import (
    AlarmThresholds,
    AlbMetrics,
    AlertTopic,
    AlertTopicArgs,
    Dashboard,
    DashboardArgs,
    FleetMetrics,
    RdsMetrics,
    ServiceAlarms,
    ServiceAlarmsArgs,
    Subscription,
)
from components.app import App, AppArgs, MigrationSpec, Resources
from components.bucket import SecureBucket, SecureBucketArgs
from components.cluster import Cluster, ClusterArgs, ExistingCluster, ExistingClusterArgs, NodeGroupSpec
from components.context import AwsContext
from components.database import Database, DatabaseArgs, DatabaseCredentialsSecret, DatabaseCredentialsSecretArgs
from components.errors import HardstackError
from components.fleet import Fleet, FleetArgs
from components.kms import EncryptionKey, EncryptionKeyArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.monitoring import Monitoring, MonitoringArgs, Receiver, SecretRef
from components.network import Network, NetworkArgs
from components.platform import PlatformBaseline, PlatformBaselineArgs
from components.rules import Flow, Peer, Port
from components.security_group import SecurityGroup, SecurityGroupArgs
from components.slo import SLO

__all__ = [
    "SLO",
    "AddressPlan",
    "AlarmThresholds",
    "AlbMetrics",
    "AlertTopic",
    "AlertTopicArgs",
    "App",
    "AppArgs",
    "AwsContext",
    "Cluster",
    "ClusterArgs",
    "Dashboard",
    "DashboardArgs",
    "Database",
    "DatabaseArgs",
    "DatabaseCredentialsSecret",
    "DatabaseCredentialsSecretArgs",
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
    "Network",
    "NetworkArgs",
    "NodeGroupSpec",
    "Peer",
    "PlatformBaseline",
    "PlatformBaselineArgs",
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
    "plan_addresses",
]
