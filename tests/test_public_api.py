"""The package's shape is a contract: its public names, its layers and its conventions."""

import ast
import os
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


#: The tooling layer's promised API: the mock harness users test their own programs with.
TOOLING_PUBLIC = {
    "MOCK_ACCOUNT",
    "HardstackMocks",
    "MockNodeGroup",
    "ProviderError",
    "MockSubnet",
    "MockVolume",
    "RecordedInvoke",
    "RecordedResource",
    "Recording",
    "Secret",
    "is_secret",
    "is_unknown",
    "mock_id",
    "run_program",
    "unsecret",
}


def test_the_harness_is_the_tooling_layers_public_api() -> None:
    import hardstack.tooling
    from hardstack.tooling import testing

    assert set(hardstack.tooling.__all__) == TOOLING_PUBLIC
    assert set(testing.__all__) == TOOLING_PUBLIC
    assert all(getattr(hardstack.tooling, name) is getattr(testing, name) for name in TOOLING_PUBLIC)


def test_every_public_harness_name_is_documented() -> None:
    import inspect

    from hardstack.tooling import testing

    undocumented = [
        name
        for name in sorted(TOOLING_PUBLIC - {"MOCK_ACCOUNT"})
        if not inspect.getdoc(getattr(testing, name))
        or inspect.getdoc(getattr(testing, name)) == inspect.getdoc(object)
    ]
    assert undocumented == []
    # Each keyword of `run_program` is explained in its docstring.
    doc = inspect.getdoc(testing.run_program) or ""
    params = [p for p in inspect.signature(testing.run_program).parameters if p != "program"]
    assert [p for p in params if f"`{p}`" not in doc] == []


def test_importing_the_tooling_layer_needs_no_extra() -> None:
    # The sandbox needs moto (the `sandbox` extra): the layer's public API must not pull it in.
    code = (
        "import sys, hardstack.tooling; print([m for m in ('moto', 'hardstack.tooling.sandbox') if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}  # this checkout's package, not an installed one
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_the_harness_uses_the_sdks_public_hooks_and_one_documented_exception() -> None:
    """Private SDK names (`pulumi.runtime.settings`, `_sync_await`...) break without notice: the
    harness imports only `pulumi`, plus the mock monitor it subclasses, whose import says why."""
    path = PACKAGE / "tooling" / "testing.py"
    tree = ast.parse(path.read_text())
    sdk_imports = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pulumi")
        for alias in node.names
    } | {
        (alias.name, "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("pulumi")
    }
    assert sdk_imports == {("pulumi", ""), ("pulumi.runtime.mocks", "MockMonitor")}
    private = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and "pulumi" in ast.unparse(node)
    ]
    assert private == []
    source = path.read_text()
    reason = source[: source.index("from pulumi.runtime.mocks import MockMonitor")].rsplit("\n\n", 1)[-1]
    assert "no public alias" in reason and "Checked against pulumi 3." in reason
