"""`python3 tasks.py rollout --stack NAME`: the outcome of the fleet's latest instance refresh.

`pulumi up` starts the refresh and returns; this reads `DescribeInstanceRefreshes` for the stack's
Auto Scaling group (from `pulumi stack output fleetGroupName`, or `--group`), prints its status and
progress, optionally waits for it to end, and exits non-zero when it failed, was cancelled or was
rolled back, so a pipeline that runs it after `up` fails on a bad release.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

STACKS = Path(__file__).resolve().parent
#: DescribeInstanceRefreshes statuses, by what they mean for the release.
RUNNING = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})
SUCCEEDED = frozenset({"Successful"})
FAILED = frozenset({"Failed", "Cancelled", "RollbackFailed", "RollbackSuccessful"})


def latest_refresh(client: Any, group: str) -> Mapping[str, Any] | None:
    """The group's most recent instance refresh (AWS lists them newest first), or None."""
    answer = client.describe_instance_refreshes(AutoScalingGroupName=group, MaxRecords=1)
    refreshes = answer.get("InstanceRefreshes", [])
    return refreshes[0] if refreshes else None


def describe(refresh: Mapping[str, Any] | None) -> str:
    if refresh is None:
        return "no instance refresh has run for this group (nothing to roll out yet)"
    line = f"instance refresh {refresh['InstanceRefreshId']}: {refresh['Status']}"
    if "PercentageComplete" in refresh:
        line += f", {refresh['PercentageComplete']} % replaced"
    if refresh.get("StatusReason"):
        line += f" ({refresh['StatusReason']})"
    return line


def outcome(refresh: Mapping[str, Any] | None) -> int:
    """Exit status: 0 done or nothing to do, 1 failed, 2 still running."""
    if refresh is None or refresh["Status"] in SUCCEEDED:
        return 0
    if refresh["Status"] in FAILED:
        return 1
    return 2


def watch(
    client: Any,
    group: str,
    *,
    wait_seconds: float,
    poll_seconds: float = 30.0,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Report the latest refresh, waiting up to `wait_seconds` for it to end; return the exit status."""
    waited = 0.0
    while True:
        refresh = latest_refresh(client, group)
        say(describe(refresh))
        status = outcome(refresh)
        if status != 2 or waited >= wait_seconds:
            if status == 1:
                say(
                    "the release did not roll out: the old hosts still serve; revert the change in the stack's "
                    "config and run `pulumi up` again (README, Fleet: rollback)"
                )
            return status
        sleep(poll_seconds)
        waited += poll_seconds


def stack_region(stack: str) -> str:
    path = STACKS / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        sys.exit(f"--stack {stack}: no stacks/{path.name}; give --region")
    region = (yaml.safe_load(path.read_text()) or {}).get("config", {}).get("aws:region")
    if not isinstance(region, str):
        sys.exit(f"stacks/{path.name} sets no aws:region; give --region")
    return region


def group_of(stack: str) -> str:
    done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        ["pulumi", "stack", "output", "fleetGroupName", "--stack", stack],  # noqa: S607
        cwd=STACKS,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        sys.exit(f"cannot read fleetGroupName of stack {stack} ({done.stderr.strip()}); give --group")
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tasks.py rollout", description=__doc__)
    parser.add_argument("--stack", required=True, help="stack name (test, preprod, prod)")
    parser.add_argument("--group", help="Auto Scaling group name. Default: the stack's fleetGroupName output")
    parser.add_argument("--region", help="AWS region. Default: the stack's aws:region")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait for a running refresh")
    args = parser.parse_args(argv)
    import boto3  # only this command talks to AWS

    client = boto3.client("autoscaling", region_name=args.region or stack_region(args.stack))
    return watch(client, args.group or group_of(args.stack), wait_seconds=args.wait)


if __name__ == "__main__":
    sys.exit(main())
