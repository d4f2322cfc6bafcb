"""Offline preview: run a stack's program on the mock runtime and print what it would create.

    python -m stacks.preview --stack prod [--json plan.json] [--sandbox]

Prints resources grouped by component, counts by type, protected resources and exported outputs.
Each section is a function of the `Recording` in `SECTIONS`, so later features add a section.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from hardstack.core.errors import HardstackError
from hardstack.tooling.plan import STATEFUL_TYPES, build_plan, describe_estimate, estimate_duration, replace_rules
from hardstack.tooling.testing import RecordedResource, Recording
from stacks.offline import STACKS, run_sandbox_stack, run_stack

#: What the sandbox imports beyond the package, and how to get it.
SANDBOX_MODULES = frozenset({"moto", "boto3", "botocore"})
SANDBOX_INSTALL = "python3 tasks.py preview --sandbox installs it (or pip install -e '.[sandbox]')"


def _tree(rec: Recording) -> list[str]:
    lines = ["## Resources by component"]

    def walk(node: RecordedResource, depth: int) -> None:
        flag = "  [protected]" if node.protect else ""
        lines.append(f"{'  ' * depth}- {node.name} ({node.type}){flag}")
        for child in sorted(rec.children_of(node), key=lambda r: (r.type, r.name)):
            walk(child, depth + 1)

    roots = [r for r in rec if rec.by_urn(r.parent) is None]
    for root in sorted(roots, key=lambda r: (r.type, r.name)):
        walk(root, 0)
    return lines


def _counts(rec: Recording) -> list[str]:
    counts = rec.type_counts()
    lines = [f"## Counts by type ({sum(counts.values())} resources)"]
    width = max(map(len, counts), default=0)
    lines += [f"  {t:<{width}}  {n:>4}" for t, n in sorted(counts.items())]
    return lines


def _protected(rec: Recording) -> list[str]:
    kept = rec.protected()
    lines = [f"## Protected resources ({len(kept)})"]
    lines += [f"  - {r.name} ({r.type}){' retained on delete' if r.retain_on_delete else ''}" for r in kept]
    return lines or ["  (none)"]


def _outputs(rec: Recording) -> list[str]:
    lines = ["## Outputs"]
    for key, value in rec.outputs.items():
        shown: Any = "[secret]" if key in rec.secret_outputs else value
        lines.append(f"  {key}: {json.dumps(shown, sort_keys=True, default=str)}")
    return lines


def _duration(rec: Recording) -> list[str]:
    plan = build_plan("", rec)
    return ["## Fresh `pulumi up`", *(f"  {line}" for line in describe_estimate(plan, estimate_duration(plan)))]


def _replacements(rec: Recording) -> list[str]:
    """For each stateful resource, the property changes that would replace it (and lose its data)."""
    lines = ["## Stateful resources and what would replace them"]
    for r in sorted((r for r in rec if r.type in STATEFUL_TYPES), key=lambda r: (r.type, r.name)):
        props = sorted(replace_rules(r.type) or ())
        lines.append(f"  - {r.name} ({r.type}): {', '.join(props) if props else 'nothing (updates in place)'}")
    return lines


def _invokes(rec: Recording) -> list[str]:
    return [f"## Provider invokes ({len(rec.invokes)})", *(f"  - {i.token}" for i in rec.invokes)]


SECTIONS: list[Callable[[Recording], list[str]]] = [
    _tree,
    _counts,
    _protected,
    _replacements,
    _duration,
    _outputs,
    _invokes,
]


def render(stack: str, rec: Recording) -> str:
    out = [f"# hardstack offline preview: stack {stack}", ""]
    for section in SECTIONS:
        out += [*section(rec), ""]
    return "\n".join(out)


def plan_json(stack: str, rec: Recording) -> dict[str, Any]:
    """The plan file: every resource with its options and inputs, secrets masked."""
    return build_plan(stack, rec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="test", help=f"one of {', '.join(STACKS)} (default: test)")
    parser.add_argument("--json", metavar="FILE", help="also write the recorded plan as JSON")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="create every AWS resource in an in-process moto account: AWS-side errors fail the preview",
    )
    args = parser.parse_args(argv)
    report = None
    try:
        if args.sandbox:
            run = run_sandbox_stack(args.stack)
            rec, report = run.recording, run.report
        else:
            rec = run_stack(args.stack)
    except HardstackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        if not args.sandbox or err.name not in SANDBOX_MODULES:
            raise
        print(f"error: --sandbox needs {err.name} from the `sandbox` extra: {SANDBOX_INSTALL}", file=sys.stderr)
        return 2
    print(render(args.stack, rec))
    if report is not None:  # last, where a reader of the sandbox preview looks for what it did not check
        print(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(plan_json(args.stack, rec), fh, indent=2, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
