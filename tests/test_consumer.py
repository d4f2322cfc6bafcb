"""hardstack as a consumer gets it: the wheel built from this checkout, installed without extras in a
fresh virtual environment, far from the checkout.

The environment's packages come from the package index (pip's cache makes a second run quick), so
this proves the wheel holds the whole package and its declared dependencies are enough to import
every public module and to test a program with the mock harness.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Modules that need an extra, with the distributions whose absence they report.
NEEDS_EXTRA = {"hardstack.tooling.sandbox": {"moto", "boto3", "botocore"}}
#: Files of the checkout the build never reads.
NOT_BUILT = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "tests"
)
INSTALL_TIMEOUT = 900  # seconds: a cold machine downloads the Pulumi SDK and providers


def _run(cmd: list[str | Path], cwd: Path, timeout: int = 300) -> str:
    """Run `cmd` with none of this environment's Python paths; return stdout, fail with stderr."""
    hidden = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    # No user site-packages; bytecode is written so the second script reuses what the first compiled.
    env["PYTHONNOUSERSITE"] = "1"
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the checkout so the build writes nothing into it."""
    source = tmp_path_factory.mktemp("source") / "hardstack"
    shutil.copytree(ROOT, source, ignore=NOT_BUILT)
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", out, source], cwd=out)
    (built,) = out.glob("hardstack-*.whl")
    return built


@pytest.fixture(scope="module")
def consumer_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh virtual environment holding the wheel and its dependencies only."""
    venv = tmp_path_factory.mktemp("consumer") / "venv"
    # Without pip of its own (seconds saved): this environment's pip installs into it.
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    # No bytecode compilation of the providers' thousands of modules: only what is imported is compiled.
    install = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile", wheel]
    _run(install, cwd=venv.parent, timeout=INSTALL_TIMEOUT)
    return python


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def _module_level_imports(source: str) -> set[str]:
    """Top-level names of what a module imports when it is imported (not in functions or TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)

    visit(ast.parse(source).body)
    return found


def test_wheel_holds_the_one_package_and_its_type_marker(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"hardstack", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    assert "hardstack/py.typed" in names
    assert "hardstack/__init__.py" in names

    # The RDS table the database checks read at run time.
    assert "hardstack/assets/rds_postgres.json" in names


def test_run_time_requirements_are_exactly_what_the_package_imports(wheel: Path) -> None:
    """Every distribution required without an extra is imported by some module, and nothing else is."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        headers = archive.read(metadata).decode()
        sources = {
            n.removesuffix(".py").removesuffix("/__init__").replace("/", "."): archive.read(n).decode()
            for n in archive.namelist()
            if n.endswith(".py")
        }
    required = {
        _requirement_name(line.split(":", 1)[1].strip())
        for line in headers.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    distributions = importlib.metadata.packages_distributions()
    imported: set[str] = set()
    for module, source in sources.items():
        if module in NEEDS_EXTRA:
            continue
        for name in _module_level_imports(source):
            if name in sys.stdlib_module_names or name == "hardstack" or name == "__future__":
                continue
            assert name in distributions, f"{module} imports {name}, which no installed distribution provides"
            imported.update(_requirement_name(d) for d in distributions[name])
    assert required == imported


def test_every_public_module_imports_without_the_extras(consumer_python: Path, tmp_path: Path) -> None:
    script = tmp_path / "import_all.py"
    script.write_text(
        textwrap.dedent(
            """
            import importlib, json, pkgutil, sys
            import hardstack

            needs_extra = set(sys.argv[1].split(","))
            report = {"file": hardstack.__file__, "imported": [], "refused": {}}
            for info in pkgutil.walk_packages(hardstack.__path__, "hardstack."):
                if any(part.startswith("_") for part in info.name.split(".")):
                    continue
                try:
                    importlib.import_module(info.name)
                except ImportError as err:
                    if info.name not in needs_extra:
                        raise
                    report["refused"][info.name] = [getattr(err, "name", None), str(err)]
                else:
                    report["imported"].append(info.name)

            from hardstack.tooling.manifests import validate_manifests
            try:
                validate_manifests([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}])
            except ImportError as err:
                report["validate"] = str(err)
            print(json.dumps(report))
            """
        )
    )
    report = json.loads(_run([consumer_python, script, ",".join(NEEDS_EXTRA)], cwd=tmp_path))

    assert Path(report["file"]).is_relative_to(consumer_python.parent.parent)
    assert not Path(report["file"]).is_relative_to(ROOT)
    imported = set(report["imported"])
    assert {
        "hardstack.core.rules",
        "hardstack.aws.network",
        "hardstack.k8s.app",
        "hardstack.tooling.testing",
    } <= imported
    assert "hardstack.tooling.manifests" in imported and "hardstack.tooling.plan" in imported
    # A module that needs an extra says which missing distribution it needs, and only those do.
    assert set(report["refused"]) == set(NEEDS_EXTRA)
    assert all(missing in NEEDS_EXTRA[module] for module, (missing, _) in report["refused"].items())
    # ... and how to get it: the extra, not only a bare module name.
    assert all("hardstack[sandbox]" in message for _, message in report["refused"].values())
    # The schema check imports fine and only asks for its extra when called.
    assert "hardstack[validate]" in report["validate"]


def test_a_consumer_program_runs_under_the_mock_harness(consumer_python: Path, tmp_path: Path) -> None:
    script = tmp_path / "consumer.py"
    script.write_text(
        textwrap.dedent(
            """
            import json

            import pulumi

            from hardstack import (
                AwsContext, EncryptionKey, EncryptionKeyArgs, Flow, Network, NetworkArgs, Peer, Port,
                SecureBucket, SecureBucketArgs, SecurityGroup, SecurityGroupArgs,
            )
            from hardstack.tooling.testing import run_program

            CTX = AwsContext(region="eu-west-3", account_id="123456789012")


            def program():
                key = EncryptionKey("data", EncryptionKeyArgs(context=CTX, description="consumer data"))
                net = Network("net", NetworkArgs(context=CTX, cidr="10.40.0.0/16", az_count=2, nat="single"))
                web = SecurityGroup(
                    "web",
                    SecurityGroupArgs(
                        vpc_id=net.vpc_id,
                        description="web",
                        ingress=[Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS from the internet")],
                    ),
                )
                bucket = SecureBucket("data", SecureBucketArgs(kms_key_arn=key.arn))
                pulumi.export("vpcId", net.vpc_id)
                pulumi.export("webGroupId", web.id)
                pulumi.export("bucketArn", bucket.arn)


            rec = run_program(program, stack="consumer", project="shop")
            resources = [
                {"type": r.type, "name": r.name, "custom": r.custom, "inputs": r.inputs} for r in rec.resources
            ]
            print(json.dumps({"resources": resources, "outputs": rec.outputs}, default=str))
            """
        )
    )
    report = json.loads(_run([consumer_python, script], cwd=tmp_path))
    resources = report["resources"]

    def of_type(type_: str) -> list[dict[str, Any]]:
        return [r for r in resources if r["type"] == type_]

    components = {r["type"] for r in resources if not r["custom"]}
    assert {
        "hardstack:network:Network",
        "hardstack:network:SecurityGroup",
        "hardstack:security:EncryptionKey",
        "hardstack:storage:SecureBucket",
    } <= components
    (vpc,) = of_type("aws:ec2/vpc:Vpc")
    assert vpc["inputs"]["cidrBlock"] == "10.40.0.0/16"
    assert len(of_type("aws:ec2/subnet:Subnet")) == 6  # three tiers over two AZs
    assert len(of_type("aws:ec2/natGateway:NatGateway")) == 1
    (key,) = of_type("aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    (rule,) = of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule["inputs"]["fromPort"] == 443 and rule["inputs"]["cidrIpv4"] == "0.0.0.0/0"
    (sse,) = of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    by_default = sse["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]
    assert by_default["sseAlgorithm"] == "aws:kms" and by_default["kmsMasterKeyId"] == key["inputs"]["arn"]
    assert report["outputs"]["vpcId"] == "vpc-net"
    assert report["outputs"]["bucketArn"].startswith("arn:aws:s3:")


def test_the_readme_examples_run_against_the_installed_wheel(consumer_python: Path, tmp_path: Path) -> None:
    # The README and the helper that reads it, away from the checkout: only the wheel answers imports.
    (tmp_path / "tests").mkdir()
    shutil.copy2(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy2(ROOT / "tests" / "readme.py", tmp_path / "tests" / "readme.py")
    script = tmp_path / "examples.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            sys.path.insert(0, "tests")
            import readme
            from hardstack.tooling.testing import run_program

            counts = {}
            for block in readme.python_blocks(readme.readme_text()):
                code = compile(block.code, f"README.md:{block.line}", "exec")
                rec = run_program(
                    lambda: exec(code, {"__name__": "__main__"}),
                    stack="dev",
                    project=readme.PROJECT,
                    config=readme.CONFIG,
                    mocks=readme.ReadmeMocks(readme.CONFIG["aws:region"]),
                )
                if not readme.defines_tests(block.code):  # a block of test functions only defines them
                    counts[block.line] = sum(1 for r in rec.resources if r.custom)
            print(json.dumps(counts))
            """
        )
    )
    counts = json.loads(_run([consumer_python, script], cwd=tmp_path))
    assert len(counts) >= 10 and all(n > 0 for n in counts.values()), counts
