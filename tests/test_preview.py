import json
from pathlib import Path

import pytest

from stacks import preview
from stacks.offline import run_stack


def test_preview_prints_components_counts_protection_and_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert preview.main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "- net (hardstack:network:Network)" in out
    assert "aws:ec2/natGateway:NatGateway" in out
    protected = len(run_stack("prod").protected())
    assert protected > 0 and f"## Protected resources ({protected})" in out
    assert "logs (aws:kms/key:Key) retained on delete" in out
    assert 'vpcCidr: "10.30.0.0/16"' in out


def test_preview_writes_a_json_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "plan.json"
    assert preview.main(["--stack", "test", "--json", str(target)]) == 0
    plan = json.loads(target.read_text())
    assert plan["stack"] == "test"
    assert any(r["type"] == "aws:ec2/vpc:Vpc" for r in plan["resources"])


def test_preview_reports_bad_config_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stacks import offline

    real = offline.stack_config
    monkeypatch.setattr(offline, "stack_config", lambda s: {**real(s), "hardstack:azCount": 9})
    assert preview.main(["--stack", "test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: hardstack:azCount = 9") and "Traceback" not in err


def test_unknown_stack_is_refused_with_the_known_ones() -> None:
    with pytest.raises(SystemExit, match="known stacks are preprod, prod, test"):
        preview.main(["--stack", "qa"])


def test_sandbox_preview_shows_ids_from_the_aws_account(capsys: pytest.CaptureFixture[str]) -> None:
    assert preview.main(["--stack", "test", "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert 'vpcId: "vpc-' in out and 'vpcId: "vpc-net"' not in out
    # Last, the sandbox's report: what ran through moto, what fell back to plain mocks, and why.
    report = out.split("## Sandbox (eu-west-3): what ran through moto")[1]
    assert "aws:ec2/vpc:Vpc" in report.split("Fell back")[0]
    assert "aws:eks/addon:Addon" in report.split("Fell back to plain mocks")[1] and "moto has no CreateAddon" in report


def test_preview_estimates_a_fresh_up_and_names_the_chain(capsys: pytest.CaptureFixture[str]) -> None:
    assert preview.main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    section = out.split("## Fresh `pulumi up`")[1].split("##")[0]
    assert "estimated creation from scratch" in section and "600 s  eks (aws:eks/cluster:Cluster)" in section


def test_preview_lists_what_would_replace_each_stateful_resource(capsys: pytest.CaptureFixture[str]) -> None:
    assert preview.main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "- net (aws:ec2/vpc:Vpc): cidrBlock" in out
    assert "- main (aws:rds/instance:Instance):" in out and "storageEncrypted" in out
