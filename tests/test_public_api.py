"""The package's shape is a contract: its public names, its layers and its conventions."""

import ast
import subprocess
import sys
from pathlib import Path

import hardstack

PACKAGE = Path(hardstack.__file__).parent
#: Layer -> the hardstack layers it may import. Arrows only point down.
ALLOWED = {
    # Files shipped to hosts (read as data by core.artefacts): they import nothing of hardstack.
    "assets": set(),
    "core": {"core"},
    "base": {"core", "base"},
    "aws": {"core", "base", "aws"},
    "k8s": {"core", "base", "k8s"},
    "tooling": {"core", "base", "aws", "k8s", "tooling"},
}
PUBLIC = {
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
    "DatabaseArgs",
    "DatabaseAccess",
    "DatabaseAccessArgs",
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
    "Tier",
    "WebFirewall",
    "WebFirewallArgs",
    "plan_addresses",
}


def _imports(path: Path, *, at_run_time: bool = False) -> set[str]:
    """Modules a file imports; with `at_run_time`, not those under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    if at_run_time:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_public_api_is_exactly_what_we_promise() -> None:
    assert set(hardstack.__all__) == PUBLIC
    assert all(hasattr(hardstack, name) for name in hardstack.__all__)


def test_every_module_sits_in_one_layer() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(ALLOWED)


def test_layers_import_only_downwards() -> None:
    wrong = []
    for layer, allowed in ALLOWED.items():
        for path in (PACKAGE / layer).glob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if parts[0] == "hardstack" and len(parts) > 1 and parts[1] not in allowed:
                    wrong.append(f"{layer}/{path.name} imports {module}")
    assert wrong == []


def test_core_imports_no_pulumi_at_run_time() -> None:
    wrong = [
        f"core/{path.name} imports {module}"
        for path in (PACKAGE / "core").glob("*.py")
        for module in _imports(path, at_run_time=True)
        if module.split(".")[0].startswith("pulumi")
    ]
    assert wrong == []


def test_package_ships_its_type_marker(tmp_path: Path) -> None:
    # Run outside the checkout so only the installed distribution can answer.
    code = "import importlib.resources; print(importlib.resources.files('hardstack').joinpath('py.typed').is_file())"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_component_type_tokens_follow_the_convention() -> None:
    tokens = [
        line
        for f in PACKAGE.rglob("*.py")
        for line in f.read_text().splitlines()
        if 'super().__init__("hardstack:' in line
    ]
    assert len(tokens) >= 15
    assert all(line.split('"')[1].count(":") == 2 for line in tokens)
