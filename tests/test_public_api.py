import subprocess
import sys
from pathlib import Path

import components

PUBLIC = {
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
    "SLO",
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
}


def test_public_api_is_exactly_what_we_promise() -> None:
    assert set(components.__all__) == PUBLIC
    assert all(hasattr(components, name) for name in components.__all__)


def test_components_import_from_the_installed_package(tmp_path: Path) -> None:
    # Run outside the checkout so only the installed distribution can answer.
    code = (
        "import importlib.resources, components\n"
        "from components import Network, SecurityGroup, EncryptionKey, Fleet, Cluster, App, Database, Monitoring\n"
        "assert importlib.resources.files('components').joinpath('py.typed').is_file()\n"
        "print(components.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "components" in out.stdout


def test_component_type_tokens_follow_the_convention() -> None:
    sources = (Path(components.__file__).parent).glob("*.py")
    tokens = [line for f in sources for line in f.read_text().splitlines() if 'super().__init__("hardstack:' in line]
    assert tokens and all(line.split('"')[1].count(":") == 2 for line in tokens)
