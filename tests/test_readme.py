"""README.md says what is true: its programs run, its settings are the model's, its figures are measured.

Every ```python block is a complete program: it runs here as written, on the mock runtime, and must
register the components it shows. A block that defines `test_` functions is a test module: it is
executed and each of its tests called.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic.alias_generators import to_camel

from hardstack.core.errors import HardstackError
from hardstack.tooling.plan import build_plan, diff_plans, render_markdown
from hardstack.tooling.testing import Recording, run_program
from stacks.offline import STACKS, run_stack, stack_config
from stacks.settings import Settings, parse_settings
from tests.readme import (
    CONFIG,
    PROJECT,
    STACK_OUTPUTS,
    STACK_REFERENCE,
    Block,
    ReadmeMocks,
    code_blocks,
    component_tokens,
    defines_tests,
    python_blocks,
    quoted_block,
    readme_text,
    section,
    settings_keys,
    shown_components,
)

TEXT = readme_text()
BLOCKS = python_blocks(TEXT)
SETUP_COMMANDS = ["python3 tasks.py preview --stack prod", "python3 tasks.py test"]
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def run_block(block: Block) -> Recording:
    code = compile(block.code, f"README.md:{block.line}", "exec")
    return run_program(
        lambda: exec(code, {"__name__": "__main__"}),  # noqa: S102 - the README's own examples
        stack="dev",
        project=PROJECT,
        config=CONFIG,
        mocks=ReadmeMocks(CONFIG["aws:region"]),
    )


def command_lines(block: Block) -> list[str]:
    """The commands of a shell block, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in block.code.splitlines())
    return [line for line in lines if line]


# --- the start of the README ------------------------------------------------------------------------


def test_readme_starts_with_the_two_setup_commands() -> None:
    first = code_blocks(TEXT)[0]
    before = [line for line in TEXT.splitlines()[: first.line - 1] if line.strip()]

    assert before[0] == "# hardstack"
    assert len(before) <= 2, f"at most a one-line description between the title and the commands: {before[1:]}"
    assert first.lang == "sh"
    assert command_lines(first) == SETUP_COMMANDS


def test_the_setup_commands_are_those_of_tasks_py() -> None:
    import tasks

    usage = tasks.__doc__ or ""
    assert "python3 tasks.py preview [--stack prod]" in usage
    assert "python3 tasks.py test" in usage
    assert callable(tasks.preview) and callable(tasks.test)


# --- the python blocks ------------------------------------------------------------------------------


def test_the_readme_has_an_example_per_component() -> None:
    shown = set().union(*(shown_components(b.code) for b in BLOCKS))
    wanted = {
        "Network",
        "SecurityGroup",
        "EncryptionKey",
        "SecureBucket",
        "LoadBalancer",
        "Fleet",
        "Cluster",
        "ExistingCluster",
        "PlatformBaseline",
        "App",
        "Database",
        "AlertTopic",
        "ServiceAlarms",
        "Dashboard",
        "Monitoring",
    }
    assert wanted <= shown, f"no README example builds {sorted(wanted - shown)}"
    assert shown <= set(component_tokens())


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"README.md:{b.line}")
def test_python_block_runs_as_written(block: Block) -> None:
    tests = defines_tests(block.code)
    if tests:
        namespace: dict[str, Any] = {"__name__": f"readme_{block.line}"}
        exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)  # noqa: S102
        for name in tests:
            namespace[name]()
        return

    rec = run_block(block)

    shown = shown_components(block.code)
    assert shown, "a README program builds at least one hardstack component"
    tokens = component_tokens()
    for name in sorted(shown):
        built = rec.of_type(tokens[name])
        assert built, f"{name} shown but no {tokens[name]} registered"
        assert any(r.custom for component in built for r in rec.descendants_of(component)), (
            f"{name} registered no resource"
        )
    assert_boot_parameters_are_readable(rec)


def test_python_blocks_pass_the_linter(tmp_path: Path) -> None:
    """Imports complete, sorted as in a project that installs hardstack, and all used; nothing undefined."""
    for block in BLOCKS:
        (tmp_path / f"readme_{block.line}.py").write_text(block.code)

    rules = ["--line-length", "120", "--select", "E,F,W,I,B,UP,SIM", "--output-format", "concise"]
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", *rules, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout.replace(str(tmp_path) + "/readme_", "README.md:")


def boot_parameters(user_data: str) -> set[str]:
    """SSM parameter names a cloud-init document's secrets script fetches at boot."""
    found = re.findall(r"^\s*PARAMETERS = dict\((.*)\)$", user_data, flags=re.MULTILINE)
    return {name for text in found for _, name in json.loads(text)}


def assert_boot_parameters_are_readable(rec: Recording) -> None:
    """Every parameter a launch template's user data fetches is readable by that fleet's role."""
    for template in rec.of_type(LAUNCH_TEMPLATE):
        encoded = template.inputs.get("userData")
        if not encoded:
            continue
        wanted = boot_parameters(base64.b64decode(encoded).decode())
        fleet = rec.component_of(template)
        assert fleet is not None
        granted: set[str] = set()
        for policy in (r for r in rec.descendants_of(fleet) if r.type == ROLE_POLICY):
            for statement in json.loads(policy.inputs["policy"])["Statement"]:
                if statement["Effect"] == "Allow" and "ssm:GetParameter" in statement["Action"]:
                    granted |= {arn.split(":parameter", 1)[1] for arn in statement["Resource"]}
        missing = wanted - granted
        assert not missing, f"{fleet.name}: the boot script reads {sorted(missing)}, which its role may not read"


def test_a_fleet_whose_role_cannot_read_its_boot_parameters_is_caught() -> None:
    """The check above is not vacuous: the Fleet example with its read grant removed fails it."""
    (fleet_block,) = [b for b in BLOCKS if "Fleet" in shown_components(b.code)]
    rec = run_block(fleet_block)
    assert boot_parameters(base64.b64decode(rec.one(LAUNCH_TEMPLATE).inputs["userData"]).decode()) == {
        "/shop/prod/database-url"
    }
    policy = rec.one(ROLE_POLICY)
    document = json.loads(policy.inputs["policy"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "ReadBootParameters"]
    policy.inputs["policy"] = json.dumps(document)

    with pytest.raises(AssertionError, match="/shop/prod/database-url"):
        assert_boot_parameters_are_readable(rec)


def test_the_conventions_example_does_what_its_comments_say() -> None:
    (block,) = [b for b in BLOCKS if "Naming(" in b.code and STACK_REFERENCE.split(":")[-1] in b.code]

    rec = run_block(block)

    instance = rec.one("aws:rds/instance:Instance")
    assert instance.inputs["identifier"] == "acme-payments-staging-orders"
    assert instance.protect and instance.retain_on_delete
    assert instance.inputs["tags"]["CostCenter"] == "payments"
    assert instance.inputs["vpcSecurityGroupIds"] == STACK_OUTPUTS["dataSecurityGroupIds"]
    assert rec.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"] == STACK_OUTPUTS["isolatedSubnetIds"]
    role = rec.one("aws:iam/role:Role")
    assert role.inputs["path"] == "/platform/"
    assert role.inputs["permissionsBoundary"] == "arn:aws:iam::123456789012:policy/platform-boundary"


def test_the_harness_section_documents_every_public_harness_name_and_tests_a_program_with_it() -> None:
    import hardstack.tooling

    text = section(TEXT, "Use the components in your own project")
    harness = text[text.index("### Test your own program") :]
    assert [name for name in hardstack.tooling.__all__ if f"`{name}" not in harness] == []
    examples = [b for b in python_blocks(harness) if "from hardstack.tooling import" in b.code]
    assert examples and all(defines_tests(b.code) for b in examples)
    used = set().union(
        *(set(re.findall(r"\b(stack_outputs|preview|Secret|register_resource_transform)\b", b.code)) for b in examples)
    )
    assert used == {"stack_outputs", "preview", "Secret", "register_resource_transform"}


# --- settings ---------------------------------------------------------------------------------------


def model_keys() -> set[str]:
    keys = set()
    for name, field in Settings.model_fields.items():
        alias = field.alias or to_camel(name)
        keys.add(alias if ":" in alias else f"hardstack:{alias}")
    return keys


def test_settings_table_lists_exactly_the_settings_of_the_model() -> None:
    documented = settings_keys(TEXT)

    assert "aws:region" in documented
    assert sorted(documented - model_keys()) == [], "the README lists settings the model does not know"
    assert sorted(model_keys() - documented) == [], "settings missing from the README's table"


def test_settings_error_example_is_what_the_preview_prints() -> None:
    (quoted,) = [b for b in code_blocks(section(TEXT, "Settings")) if b.lang == ""]
    key, value = "hardstack:vpcCidr", "10.0.0.0/26"
    assert f"{key} = '{value}'" in quoted.code

    with pytest.raises(HardstackError) as refused:
        parse_settings({**stack_config("prod"), key: value})

    assert quoted.code.strip() == f"error: {refused.value}"


# --- figures ----------------------------------------------------------------------------------------


def test_quoted_invoke_count_is_every_stacks() -> None:
    quoted = re.search(r"A first `up` of a stack makes (\d+) invokes", TEXT)
    assert quoted is not None

    counts = {stack: len(run_stack(stack).invokes) for stack in STACKS}

    assert counts == dict.fromkeys(STACKS, int(quoted.group(1)))


def test_sample_plan_comment_is_what_the_diff_prints() -> None:
    heading = "Day to day: preview, plan diff, policy pack, sandbox, pipeline"
    changes: dict[str, dict[str, Any]] = {
        "test": {"hardstack:azCount": 3},
        "prod": {
            "hardstack:appImage": "ghcr.io/acme/shop:1.5.0@sha256:" + "5" * 64,
            "hardstack:dbInstanceClass": "db.m7g.xlarge",
        },
    }
    # The README names the changes it shows (the image itself appears in no diff line).
    for named in ("`hardstack:azCount: 3`", "`hardstack:appImage`", "`hardstack:dbInstanceClass: db.m7g.xlarge`"):
        assert named in section(TEXT, heading)

    diffs = {
        stack: diff_plans(build_plan(stack, run_stack(stack)), build_plan(stack, run_stack(stack, overrides)))
        for stack, overrides in changes.items()
    }

    assert quoted_block(TEXT, heading) == render_markdown(diffs).strip() + "\n"


def stack_table(text: str) -> dict[str, dict[str, str]]:
    """The 'What the stacks build' table: row label -> stack -> cell."""
    rows = [line for line in section(text, "What the stacks build").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table: dict[str, dict[str, str]] = {}
    for row in rows[2:]:
        label, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        table[label] = dict(zip(header[1:], cells, strict=True))
    return table


def test_stack_table_is_each_stacks_profile() -> None:
    table = stack_table(TEXT)
    assert set(next(iter(table.values()))) == set(STACKS)

    for stack in STACKS:
        settings = parse_settings(stack_config(stack))
        cell = {label: values[stack] for label, values in table.items()}
        objective = Decimal(settings.app_slo_objective) * 100
        assert cell["Tier (`hardstack:tier`)"] == settings.tier.value
        assert cell["AZs"] == str(settings.az_count)
        assert f"`{settings.nat_strategy}`" in cell["NAT gateways"]
        assert cell["Log retention (days)"] == str(settings.log_retention_days)
        assert cell["Fleet instance type"] == settings.fleet_instance_type
        sizes = f"{settings.fleet_min_size} / {settings.fleet_max_size} / {settings.fleet_desired_capacity}"
        assert cell["Fleet min / max / desired"].startswith(sizes)
        assert cell["ALB access logs"] == ("on" if settings.alb_access_logs else "off")
        nodes = (settings.cluster_node_min_size, settings.cluster_node_max_size, settings.cluster_node_desired_size)
        assert cell["EKS nodes (min / max / desired)"].endswith(" / ".join(map(str, nodes)))
        assert cell["App replicas (HPA min / max)"].startswith(f"{settings.app_replicas} / {settings.app_max_replicas}")
        assert cell["PostgreSQL"].startswith(settings.db_instance_class)
        assert f"{settings.db_backup_retention_days}" in cell["PostgreSQL"]
        volume = f"{settings.prometheus_volume_gb} GiB / {settings.prometheus_retention}"
        assert cell["Prometheus volume / retention"] == volume
        assert cell["App SLO objective"] == f"{objective.normalize():f} %"
        assert cell["CloudWatch alarm period"] == f"{settings.alarm_period_seconds} s"
        assert cell["Protection of stateful resources"].startswith("on" if settings.protect else "off")
