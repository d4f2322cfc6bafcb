import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
STACKS = ("test", "preprod", "prod")
NAMES = ("ci.yml", "deploy.yml")

# The release each action is pinned to: the commit its tag points at, read from the action's
# repository, and a release whose action.yml runs on node24 (none on a deprecated node12/node16).
# Moving to another release means reading that tag's commit and `runs.using` again, then here.
RELEASES = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "marocchino/sticky-pull-request-comment": ("5770ad5eb8f42dd2c4f34da00c94c5381e49af88", "v3.0.5"),
}
PINNED_LINE = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>\S+)(?:\s+#\s*(?P<version>\S+))?\s*$"
)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def jobs_of(name: str) -> dict[str, Any]:
    jobs: dict[str, Any] = load(name)["jobs"]
    return jobs


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, job) for name in NAMES for job_id, job in jobs_of(name).items()]


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(action + "@")]


def index_of(job: dict[str, Any], step: dict[str, Any]) -> int:
    return steps(job).index(step)


def pulumi_runs() -> list[tuple[str, str, dict[str, Any]]]:
    """Every `pulumi/actions` step that previews or deploys, with its file and job."""
    return [
        (name, job_id, step)
        for name, job_id, job in all_jobs()
        for step in uses(job, "pulumi/actions")
        if step.get("with", {}).get("command") in {"preview", "up", "update"}
    ]


PULUMI_RUNS = [pytest.param(name, job_id, step, id=f"{name}:{job_id}") for name, job_id, step in pulumi_runs()]


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


# --- schema ---------------------------------------------------------------------------------------


def test_workflows_match_the_github_workflow_schema() -> None:
    done = schema_check(*sorted(WORKFLOWS.glob("*.yml")))
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_catches_a_misspelt_step_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uzes: actions/checkout@v4\n")
    assert schema_check(bad).returncode != 0


# --- pinned actions -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version_in_a_comment(name: str) -> None:
    lines = [line for line in (WORKFLOWS / name).read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    parsed = [s["uses"] for job in jobs_of(name).values() for s in steps(job) if "uses" in s]
    assert lines and len(lines) == len(parsed)
    for line in lines:
        match = PINNED_LINE.match(line)
        assert match and re.fullmatch(r"[0-9a-f]{40}", match["sha"]), line
        assert match["version"] and re.fullmatch(r"v\d+(\.\d+)*", match["version"]), line


@pytest.mark.parametrize("name", NAMES)
def test_actions_are_pinned_to_their_reviewed_release_commits(name: str) -> None:
    found = {
        (m["action"], m["sha"], m["version"])
        for line in (WORKFLOWS / name).read_text().splitlines()
        if (m := PINNED_LINE.match(line))
    }
    assert found and found <= {(action, sha, version) for action, (sha, version) in RELEASES.items()}, found


# --- permissions, triggers, hardening -------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_workflows_grant_no_permission_by_default(name: str) -> None:
    assert load(name)["permissions"] == {}


@pytest.mark.parametrize(("name", "job_id"), [(n, j) for n, j, _ in all_jobs()])
def test_every_job_declares_its_own_permissions(name: str, job_id: str) -> None:
    assert isinstance(jobs_of(name)[job_id].get("permissions"), dict)


@pytest.mark.parametrize(("name", "job_id"), [(n, j) for n, j, _ in all_jobs()])
def test_only_jobs_that_assume_an_aws_role_get_an_oidc_token(name: str, job_id: str) -> None:
    job = jobs_of(name)[job_id]
    assumes_role = bool(uses(job, "aws-actions/configure-aws-credentials"))
    assert (job["permissions"].get("id-token") == "write") == assumes_role


@pytest.mark.parametrize(("name", "job_id"), [(n, j) for n, j, _ in all_jobs()])
def test_only_jobs_that_comment_on_the_pull_request_may_write_to_it(name: str, job_id: str) -> None:
    job = jobs_of(name)[job_id]
    comments = bool(uses(job, "marocchino/sticky-pull-request-comment")) or any(
        s.get("with", {}).get("comment-on-pr") is True for s in uses(job, "pulumi/actions")
    )
    assert (job["permissions"].get("pull-requests") == "write") == comments


@pytest.mark.parametrize(("name", "job_id"), [(n, j) for n, j, _ in all_jobs()])
def test_every_job_has_a_timeout(name: str, job_id: str) -> None:
    assert 0 < jobs_of(name)[job_id]["timeout-minutes"] <= 90


@pytest.mark.parametrize("name", NAMES)
def test_no_workflow_runs_on_a_privileged_trigger(name: str) -> None:
    assert not {"pull_request_target", "workflow_run"} & set(triggers(load(name)))


@pytest.mark.parametrize("name", NAMES)
def test_no_run_script_interpolates_an_expression(name: str) -> None:
    # Event data (branch names, titles) interpolated into a script is shell injection: values go
    # through `env:` and the script reads them as variables.
    scripts = [str(s["run"]) for _, job in jobs_of(name).items() for s in steps(job) if "run" in s]
    assert scripts and not [script for script in scripts if "${{" in script]


@pytest.mark.parametrize("name", NAMES)
def test_every_checkout_leaves_no_token_behind(name: str) -> None:
    checkouts = [s for job in jobs_of(name).values() for s in uses(job, "actions/checkout")]
    assert checkouts and all(s.get("with", {}).get("persist-credentials") is False for s in checkouts)


@pytest.mark.parametrize("name", NAMES)
def test_no_workflow_asks_pulumi_to_show_secrets(name: str) -> None:
    # Comments dropped: no input, argument or script of the workflow mentions it.
    assert "show-secrets" not in yaml.safe_dump(load(name))


# --- pulumi steps: stacks, backend, policy pack ---------------------------------------------------


def test_every_pulumi_step_is_found() -> None:
    assert sorted((name, job) for name, job, _ in pulumi_runs()) == [
        ("ci.yml", "preview"),
        ("deploy.yml", "preprod"),
        ("deploy.yml", "prod"),
        ("deploy.yml", "test"),
    ]


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_every_pulumi_step_pins_the_cli_version(name: str, job_id: str, step: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(step["with"]["pulumi-version"]))


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_every_pulumi_step_creates_its_stack_when_missing(name: str, job_id: str, step: dict[str, Any]) -> None:
    assert step["with"]["upsert"] is True


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_every_pulumi_step_logs_in_to_the_backend_the_repository_configures(
    name: str, job_id: str, step: dict[str, Any]
) -> None:
    # Empty: Pulumi Cloud; `s3://bucket`: the self-managed backend.
    assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_every_pulumi_step_creates_stacks_with_the_configured_secrets_provider(
    name: str, job_id: str, step: dict[str, Any]
) -> None:
    assert step["with"]["secrets-provider"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_every_pulumi_step_gets_the_pulumi_cloud_token_only_without_a_backend_url(
    name: str, job_id: str, step: dict[str, Any]
) -> None:
    token = step["env"]["PULUMI_ACCESS_TOKEN"]
    assert re.fullmatch(r"\$\{\{ vars\.PULUMI_BACKEND_URL == '' && secrets\.\w+ \|\| '' \}\}", token), token


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_every_pulumi_step_gets_the_passphrase_for_passphrase_stacks(
    name: str, job_id: str, step: dict[str, Any]
) -> None:
    assert step["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_every_pulumi_step_runs_the_policy_pack(name: str, job_id: str, step: dict[str, Any]) -> None:
    assert step["with"]["policyPacks"] == "policies"
    assert (ROOT / "policies" / "PulumiPolicy.yaml").is_file()


def test_policy_pack_runs_in_the_project_virtualenv() -> None:
    # The install step below targets ../.venv from policies/: the pack must run there.
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "../.venv"}}


@pytest.mark.parametrize(("name", "job_id", "step"), PULUMI_RUNS)
def test_policy_pack_requirements_are_installed_before_pulumi_runs(
    name: str, job_id: str, step: dict[str, Any]
) -> None:
    job = jobs_of(name)[job_id]
    venv = next(i for i, s in enumerate(steps(job)) if str(s.get("run", "")).startswith("python3 tasks.py preview"))
    (install,) = [
        (i, s)
        for i, s in enumerate(steps(job))
        if s.get("working-directory") == "policies"
        and s.get("run") == "../.venv/bin/python -m pip install --quiet -r requirements.txt"
    ]
    assert venv < install[0] < index_of(job, step)


# --- ci.yml ---------------------------------------------------------------------------------------


def test_ci_runs_the_suite_on_pull_requests_and_pushes_to_main() -> None:
    ci = load("ci.yml")
    test = ci["jobs"]["test"]
    assert set(triggers(ci)) == {"pull_request", "push"} and triggers(ci)["push"]["branches"] == ["main"]
    assert uses(test, "actions/setup-python")[0]["with"]["python-version"] == "3.11"
    assert any(s.get("run") == "python3 tasks.py test" for s in steps(test))


def test_pull_requests_get_the_offline_plan_diff_as_a_comment() -> None:
    job = jobs_of("ci.yml")["plan-diff"]
    runs = "\n".join(str(s.get("run", "")) for s in steps(job))

    assert "pull_request" in job["if"] and job["permissions"]["pull-requests"] == "write"
    assert uses(job, "actions/checkout")[0]["with"]["fetch-depth"] == 0
    assert runs.index("python3 tasks.py preview") < runs.index(".venv/bin/python -m stacks.plan_cli diff-rev")
    assert 'diff-rev "origin/${BASE_REF}" HEAD > plan.md' in runs
    (comment,) = uses(job, "marocchino/sticky-pull-request-comment")
    assert comment["with"]["path"] == "plan.md"


def test_pulumi_preview_runs_for_each_stack() -> None:
    job = jobs_of("ci.yml")["preview"]
    (pulumi,) = uses(job, "pulumi/actions")
    assert tuple(job["strategy"]["matrix"]["stack"]) == STACKS
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["stack-name"] == "${{ matrix.stack }}"


def test_pulumi_preview_posts_its_diff_on_the_pull_request() -> None:
    (pulumi,) = uses(jobs_of("ci.yml")["preview"], "pulumi/actions")
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["diff"] is True


def test_pulumi_preview_runs_only_for_pull_requests_from_this_repository_once_its_role_is_set() -> None:
    condition = " ".join(jobs_of("ci.yml")["preview"]["if"].split())
    assert "github.event_name == 'pull_request'" in condition
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "vars.PREVIEW_ENABLED == 'true'" in condition


def test_pulumi_preview_assumes_the_read_only_preview_role() -> None:
    (aws,) = uses(jobs_of("ci.yml")["preview"], "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"


def test_pulumi_preview_uses_the_preview_pulumi_token() -> None:
    (pulumi,) = uses(jobs_of("ci.yml")["preview"], "pulumi/actions")
    assert "secrets.PULUMI_PREVIEW_ACCESS_TOKEN" in pulumi["env"]["PULUMI_ACCESS_TOKEN"]


def test_pull_request_workflow_never_references_a_deploy_credential() -> None:
    text = (WORKFLOWS / "ci.yml").read_text()
    assert "AWS_DEPLOY_ROLE_ARN" not in text
    assert not re.search(r"secrets\.PULUMI_ACCESS_TOKEN\b", text)


def test_each_preview_runs_in_its_stacks_preview_environment_and_no_other_job_in_one() -> None:
    # Its role trusts `environment:preview-<stack>` only; a deploy role trusts `environment:<stack>`.
    found = {job_id: job.get("environment") for job_id, job in jobs_of("ci.yml").items() if "environment" in job}
    assert found == {"preview": "preview-${{ matrix.stack }}"}


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_secrets_reach_only_jobs_in_an_environment(name: str) -> None:
    # A repository secret is readable by any job a branch can edit; an environment's only by its jobs.
    outside = [
        job_id
        for job_id, job in jobs_of(name).items()
        if "secrets." in yaml.safe_dump(job) and "environment" not in job
    ]
    assert outside == []


# --- deploy.yml -----------------------------------------------------------------------------------


def test_deploy_runs_on_pushes_to_main_only() -> None:
    assert triggers(load("deploy.yml")) == {"push": {"branches": ["main"]}}


def test_deploy_is_switched_on_by_a_repository_variable() -> None:
    assert jobs_of("deploy.yml")["suite"]["if"] == "vars.DEPLOY_ENABLED == 'true'"


def test_deploy_runs_the_test_suite_on_its_commit() -> None:
    suite = jobs_of("deploy.yml")["suite"]
    assert any(s.get("run") == "python3 tasks.py test" for s in steps(suite))


@pytest.mark.parametrize("stack", STACKS)
def test_no_stack_is_deployed_before_the_suite_passes(stack: str) -> None:
    assert "suite" in upstream(jobs_of("deploy.yml"), stack)


def test_deploy_goes_suite_then_test_then_smoke_check_then_preprod_then_prod() -> None:
    jobs = jobs_of("deploy.yml")
    assert upstream(jobs, "suite") == set()
    assert upstream(jobs, "test") == {"suite"}
    assert upstream(jobs, "smoke-test") == {"suite", "test"}
    assert upstream(jobs, "preprod") == {"suite", "test", "smoke-test"}
    assert upstream(jobs, "prod") == {"suite", "test", "smoke-test", "preprod"}


def test_deploy_holds_no_workflow_level_concurrency_group() -> None:
    # A workflow-wide group would be held while prod waits for approval, blocking the next commit.
    assert "concurrency" not in load("deploy.yml")


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_has_its_own_uncancellable_concurrency_group(stack: str) -> None:
    assert jobs_of("deploy.yml")[stack]["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_runs_in_the_environment_of_its_stack(stack: str) -> None:
    assert jobs_of("deploy.yml")[stack]["environment"] == stack


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_assumes_the_role_its_environment_names(stack: str) -> None:
    (aws,) = uses(jobs_of("deploy.yml")[stack], "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_fails_clearly_when_its_environment_names_no_role(stack: str) -> None:
    job = jobs_of("deploy.yml")[stack]
    (check,) = [s for s in steps(job) if s.get("env", {}).get("ROLE_ARN") == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"]
    assert f"GitHub environment '{stack}'" in check["run"] and "exit 1" in check["run"]
    assert index_of(job, check) < index_of(job, uses(job, "aws-actions/configure-aws-credentials")[0])


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_uses_the_deploy_pulumi_token_of_its_environment(stack: str) -> None:
    (pulumi,) = uses(jobs_of("deploy.yml")[stack], "pulumi/actions")
    assert "secrets.PULUMI_ACCESS_TOKEN " in pulumi["env"]["PULUMI_ACCESS_TOKEN"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_runs_pulumi_up_on_its_own_stack(stack: str) -> None:
    (pulumi,) = uses(jobs_of("deploy.yml")[stack], "pulumi/actions")
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["stack-name"] == stack


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_may_only_read_the_repository_and_request_an_oidc_token(stack: str) -> None:
    assert jobs_of("deploy.yml")[stack]["permissions"] == {"contents": "read", "id-token": "write"}


def test_smoke_check_reads_the_address_the_test_deploy_exported() -> None:
    jobs = jobs_of("deploy.yml")
    (up,) = uses(jobs["test"], "pulumi/actions")
    assert jobs["test"]["outputs"] == {"alb-dns-name": f"${{{{ steps.{up['id']}.outputs.albDnsName }}}}"}
    (check,) = steps(jobs["smoke-test"])
    assert check["env"] == {"HOST": "${{ needs.test.outputs.alb-dns-name }}"}


def test_smoke_check_curls_the_test_load_balancer_with_retries() -> None:
    script = "\n".join(str(s.get("run", "")) for s in steps(jobs_of("deploy.yml")["smoke-test"]))
    assert 'curl --fail --silent --show-error --max-time 10 --output /dev/null "http://${HOST}/"' in script
    assert "for attempt in" in script and script.rstrip().endswith("exit 1")


def test_smoke_check_gets_no_permission_and_no_secret() -> None:
    job = jobs_of("deploy.yml")["smoke-test"]
    assert job["permissions"] == {} and "secrets." not in yaml.safe_dump(job)


def role_check(stack: str) -> dict[str, Any]:
    (check,) = [
        s
        for s in steps(jobs_of("deploy.yml")[stack])
        if s.get("env", {}).get("ROLE_ARN") == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    ]
    return check


def run_check(step: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
    """Run a workflow step's script with `env` as the runner would give it."""
    full = {"PATH": "/usr/bin:/bin", **env}
    return subprocess.run(["bash", "-e", "-c", step["run"]], env=full, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_goes_on_with_a_deploy_role(stack: str) -> None:
    done = run_check(role_check(stack), ROLE_ARN=f"arn:aws:iam::111122223333:role/hardstack-deploy-{stack}")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_job_stops_when_its_environment_names_no_role(stack: str) -> None:
    done = run_check(role_check(stack), ROLE_ARN="")
    assert done.returncode == 1 and f"GitHub environment '{stack}'" in done.stdout


def preview_role_check() -> dict[str, Any]:
    (check,) = [
        s
        for s in steps(jobs_of("ci.yml")["preview"])
        if s.get("env", {}).get("ROLE_ARN") == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    ]
    return check


@pytest.mark.parametrize("stack", STACKS)
def test_each_preview_stops_when_its_environment_names_no_role(stack: str) -> None:
    done = run_check(preview_role_check(), ROLE_ARN="", STACK=stack)
    assert done.returncode == 1 and f"GitHub environment 'preview-{stack}'" in done.stdout
    role = f"arn:aws:iam::111122223333:role/hardstack-preview-{stack}"
    assert run_check(preview_role_check(), ROLE_ARN=role, STACK=stack).returncode == 0


@pytest.mark.parametrize("job_id", list(jobs_of("deploy.yml")))
def test_every_deploy_job_runs_one_at_a_time_and_is_never_cancelled_halfway(job_id: str) -> None:
    concurrency = jobs_of("deploy.yml")[job_id]["concurrency"]
    assert concurrency["group"].startswith("deploy-") and concurrency["cancel-in-progress"] is False
