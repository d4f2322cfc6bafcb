"""Plan files and plan diffs for pull requests, from the offline runs of the stacks (no cloud, no network).

    python -m stacks.plan_cli write --stack prod --out prod.plan.json
    python -m stacks.plan_cli diff old.plan.json new.plan.json [--stack prod]   Markdown on stdout
    python -m stacks.plan_cli diff-rev origin/main HEAD                         every stack, Markdown on stdout
    python -m stacks.plan_cli estimate --stack prod                             creation time and critical path

`diff-rev` checks each revision out into a temporary git worktree and writes its plans there with
this interpreter and the current plan writer (copied over the revision's own), so both sides of
the diff come from one writer; both are masked under one key made for the run, so a changed secret
shows as changed while its value never appears. `write` masks under $HARDSTACK_PLAN_KEY (hex) when
set, else under a key of its own: two plans written apart never compare their secrets.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hardstack.core.errors import HardstackError
from hardstack.tooling.plan import (
    PlanDiff,
    build_plan,
    describe_estimate,
    diff_plans,
    empty_plan,
    estimate_duration,
    read_plan,
    render_markdown,
    write_plan,
)
from stacks.offline import STACKS, run_stack

ROOT = Path(__file__).resolve().parent.parent
#: The plan writer: the harness that records a run, the plan builder and this command. Copied over
#: each revision's own, so a base revision's plan is not written with an older writer's ids or rules.
WRITER_FILES = (
    "components/hardstack/core/zones.py",  # what the harness's zones come from (an older tree may lack it)
    "components/hardstack/tooling/testing.py",
    "components/hardstack/tooling/plan.py",
    "stacks/plan_cli.py",
)
KEY_VARIABLE = "HARDSTACK_PLAN_KEY"
"""Environment variable holding the hex key `write` masks secrets under."""


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)  # noqa: S603, S607
    return done.stdout.strip()


def _key() -> bytes:
    given = os.environ.get(KEY_VARIABLE, "")
    try:
        return bytes.fromhex(given) if given else secrets.token_bytes(32)
    except ValueError:
        raise HardstackError(f"{KEY_VARIABLE} must be hex (such as the output of `openssl rand -hex 32`)") from None


def write(stack: str, out: str) -> None:
    write_plan(out, build_plan(stack, run_stack(stack), secret_key=_key()))


def _plans_at(rev: str, workdir: Path, stacks: Sequence[str], key: bytes) -> dict[str, Path]:
    """Check `rev` out under `workdir` and write one plan per stack there; return the plan paths."""
    tree = workdir / "tree"
    _git("worktree", "add", "--detach", "--quiet", str(tree), rev)
    for rel in WRITER_FILES:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tree / rel)
    # The revision's own package (`components/hardstack`), not the installed one, answers its imports.
    paths = [str(tree / "components"), str(tree), os.environ.get("PYTHONPATH")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths)), KEY_VARIABLE: key.hex()}
    plans: dict[str, Path] = {}
    for stack in stacks:
        target = workdir / f"{stack}.plan.json"
        if not (tree / "stacks" / f"Pulumi.{stack}.yaml").exists():
            write_plan(target, empty_plan(stack))  # the stack is new (or gone) at this revision
        else:
            cmd = [sys.executable, "-m", "stacks.plan_cli", "write", "--stack", stack, "--out", str(target)]
            done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)  # noqa: S603
            if done.returncode != 0:
                raise HardstackError(f"plan of stack {stack} at {rev} failed:\n{done.stderr.strip()}")
        plans[stack] = target
    return plans


def diff_revisions(rev_a: str, rev_b: str, stacks: Sequence[str] = STACKS) -> dict[str, PlanDiff]:
    """Plan every stack at both revisions and diff them; worktrees are removed whatever happens."""
    with tempfile.TemporaryDirectory(prefix="hardstack-plan-") as tmp:
        dirs = (Path(tmp) / "a", Path(tmp) / "b")
        key = secrets.token_bytes(32)  # one key for both sides, forgotten with the run
        try:
            before, after = (_plans_at(rev, d, stacks, key) for rev, d in zip((rev_a, rev_b), dirs, strict=True))
        finally:
            for d in dirs:
                if (d / "tree").exists():
                    _git("worktree", "remove", "--force", str(d / "tree"))
            _git("worktree", "prune")
        return {s: diff_plans(read_plan(before[s]), read_plan(after[s])) for s in stacks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="run a stack offline and write its plan")
    w.add_argument("--stack", required=True, help=f"one of {', '.join(STACKS)}")
    w.add_argument("--out", required=True, metavar="FILE")
    d = sub.add_parser("diff", help="Markdown diff of two plan files")
    d.add_argument("old", metavar="OLD")
    d.add_argument("new", metavar="NEW")
    d.add_argument("--stack", help="name shown for the stack (default: the one the new plan records)")
    r = sub.add_parser("diff-rev", help="Markdown diff of every stack between two git revisions")
    r.add_argument("rev_a", metavar="REV_A")
    r.add_argument("rev_b", metavar="REV_B")
    e = sub.add_parser("estimate", help="creation time of a stack and its critical path")
    e.add_argument("--stack", required=True, help=f"one of {', '.join(STACKS)}")
    args = parser.parse_args(argv)

    try:
        if args.command == "write":
            write(args.stack, args.out)
        elif args.command == "diff":
            old, new = read_plan(args.old), read_plan(args.new)
            name = args.stack or str(new.get("stack") or old.get("stack") or "stack")
            sys.stdout.write(render_markdown({name: diff_plans(old, new)}))
        elif args.command == "diff-rev":
            sys.stdout.write(render_markdown(diff_revisions(args.rev_a, args.rev_b)))
        else:
            plan = build_plan(args.stack, run_stack(args.stack))
            print("\n".join(describe_estimate(plan, estimate_duration(plan))))
    except HardstackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"error: {' '.join(map(str, err.cmd))}: {(err.stderr or '').strip()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
