import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
STACKS = ("test", "preprod", "prod")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(action + "@")]


def needs(job: dict[str, Any]) -> set[str]:
    value = job.get("needs", [])
    return {value} if isinstance(value, str) else set(value)


def upstream(jobs: dict[str, Any], name: str) -> set[str]:
    found: set[str] = set()
    for parent in needs(jobs[name]):
        found |= {parent, *upstream(jobs, parent)}
    return found


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean true.
    on: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]
    return on


def schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, files)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def test_workflows_match_the_github_workflow_schema() -> None:
    done = schema_check(*sorted(WORKFLOWS.glob("*.yml")))
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_catches_a_misspelt_step_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uzes: actions/checkout@v4\n")
    assert schema_check(bad).returncode != 0


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflows_grant_read_only_contents_by_default(name: str) -> None:
    assert load(name)["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_actions_are_pinned_to_a_major_version(name: str) -> None:
    refs = [s["uses"] for job in load(name)["jobs"].values() for s in steps(job) if "uses" in s]
    assert refs and all(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", ref) for ref in refs), refs


def test_ci_runs_the_suite_on_pull_requests_and_pushes_to_main() -> None:
    ci = load("ci.yml")
    test = ci["jobs"]["test"]
    assert set(triggers(ci)) == {"pull_request", "push"} and triggers(ci)["push"]["branches"] == ["main"]
    assert uses(test, "actions/setup-python")[0]["with"]["python-version"] == "3.11"
    assert any(s.get("run") == "python3 tasks.py test" for s in steps(test))


def test_pull_requests_get_the_offline_plan_diff_as_a_comment() -> None:
    job = load("ci.yml")["jobs"]["plan-diff"]
    runs = "\n".join(str(s.get("run", "")) for s in steps(job))

    assert "pull_request" in job["if"] and job["permissions"]["pull-requests"] == "write"
    assert uses(job, "actions/checkout")[0]["with"]["fetch-depth"] == 0
    assert runs.index("python3 tasks.py preview") < runs.index(".venv/bin/python -m stacks.plan_cli diff-rev")
    assert 'diff-rev "origin/${BASE_REF}" HEAD > plan.md' in runs
    (comment,) = uses(job, "marocchino/sticky-pull-request-comment")
    assert comment["with"]["path"] == "plan.md"


def test_pulumi_preview_runs_per_stack_only_with_an_aws_role_assumed_through_oidc() -> None:
    job = load("ci.yml")["jobs"]["preview"]
    (aws,) = uses(job, "aws-actions/configure-aws-credentials")
    (pulumi,) = uses(job, "pulumi/actions")

    assert tuple(job["strategy"]["matrix"]["stack"]) == STACKS
    assert "vars.AWS_ROLE_ARN != ''" in job["if"] and job["permissions"]["id-token"] == "write"
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert pulumi["with"] == {
        "command": "preview",
        "stack-name": "${{ matrix.stack }}",
        "comment-on-pr": True,
        "diff": True,
    }


def test_deploy_goes_test_then_smoke_check_then_preprod_then_prod() -> None:
    jobs = load("deploy.yml")["jobs"]
    assert upstream(jobs, "test") == set()
    assert upstream(jobs, "smoke-test") == {"test"}
    assert upstream(jobs, "preprod") == {"test", "smoke-test"}
    assert upstream(jobs, "prod") == {"test", "smoke-test", "preprod"}


def test_prod_deploy_waits_for_approval_of_the_production_environment() -> None:
    assert load("deploy.yml")["jobs"]["prod"]["environment"] == "production"


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_runs_pulumi_up_on_its_own_stack(stack: str) -> None:
    job = load("deploy.yml")["jobs"][stack]
    (pulumi,) = uses(job, "pulumi/actions")
    assert pulumi["with"] == {"command": "up", "stack-name": stack}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_smoke_check_curls_the_test_load_balancer_with_retries() -> None:
    script = "\n".join(str(s.get("run", "")) for s in steps(load("deploy.yml")["jobs"]["smoke-test"]))
    assert "pulumi stack output albDnsName -s test" in script
    assert "for attempt in" in script and "curl --fail" in script and script.rstrip().endswith("exit 1")
