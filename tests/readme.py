"""Reading README.md for its tests: fenced code blocks, the settings table, quoted figures.

Also what the README's programs need on the mock runtime: the config they read and the outputs of
the stack they reference.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

import hardstack
from hardstack.tooling.testing import HardstackMocks

README = Path(__file__).resolve().parent.parent / "README.md"
#: Project of the README's example programs (their config keys are `<project>:<key>`).
PROJECT = "shop"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: shop, cluster: {server: "https://k8s.example.com", certificate-authority-data: Q0E=}}]
users: [{name: shop, user: {token: mock-token}}]
contexts: [{name: shop, context: {cluster: shop, user: shop}}]
current-context: shop
"""
#: Config the example programs read with `pulumi.Config()`.
CONFIG = {
    "aws:region": "eu-west-3",
    f"{PROJECT}:kubeconfig": KUBECONFIG,
    f"{PROJECT}:pagerdutyRoutingKey": "mock-routing-key",
}
#: Outputs of every stack an example references with `pulumi.StackReference`.
STACK_OUTPUTS: dict[str, Any] = {
    "vpcId": "vpc-0123456789abcdef0",
    "isolatedSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "dataSecurityGroupIds": ["sg-0bbbbbbbbbbbbbbb1"],
}
STACK_REFERENCE = "pulumi:pulumi:StackReference"


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, the README line of its opening fence and its text."""

    lang: str
    line: int
    code: str


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[Block]:
    """Every fenced block at the start of a line (``` or ```lang ... ```), in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.fullmatch(r"```(\S*)\s*", lines[i])
        if opening is None:
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"README.md:{start + 1}: code block never closed")
        blocks.append(Block(opening.group(1), start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


def python_blocks(text: str) -> list[Block]:
    return [b for b in code_blocks(text) if b.lang == "python"]


def component_tokens() -> dict[str, str]:
    """Public component class -> the Pulumi type token it registers (`hardstack:network:Network`)."""
    tokens: dict[str, str] = {}
    for name in hardstack.__all__:
        obj = getattr(hardstack, name)
        if inspect.isclass(obj) and issubclass(obj, pulumi.ComponentResource):
            found = re.search(r'super\(\).__init__\(\s*"(hardstack:[^"]+)"', inspect.getsource(obj))
            if found is None:
                raise AssertionError(f"{name}: no component type token found in its source")
            tokens[name] = found.group(1)
    return tokens


def shown_components(code: str) -> set[str]:
    """Public components a block constructs (calls by name)."""
    known = component_tokens()
    return {
        node.func.id
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in known
    }


def defines_tests(code: str) -> list[str]:
    """Names of the pytest test functions a block defines (a block that is a test module)."""
    return [
        node.name
        for node in ast.parse(code).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


def section(text: str, heading: str) -> str:
    """The text under a `## heading` up to the next heading of the same level."""
    found = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    if found is None:
        raise AssertionError(f"README.md has no section '## {heading}'")
    return found.group(1)


def settings_keys(text: str) -> set[str]:
    """Config keys the settings table lists: `aws:region`, and `hardstack:<key>` for the rest.

    A row may list several keys: the first with its namespace, the others bare (`fleetMinSize`).
    """
    keys: set[str] = set()
    for row in section(text, "Settings").splitlines():
        if not row.startswith("| `"):
            continue
        first_cell = row.split(" | ")[0]
        for token in re.findall(r"`([^`]+)`", first_cell):
            keys.add(token if ":" in token else f"hardstack:{token}")
    return keys


def quoted_block(text: str, heading: str) -> str:
    """The Markdown quoted (`  > ...` lines) in a section, unquoted."""
    lines = [line for line in section(text, heading).splitlines() if line.lstrip().startswith(">")]
    return "\n".join(re.sub(r"^\s*> ?", "", line) for line in lines).strip() + "\n"


class ReadmeMocks(HardstackMocks):
    """The shared mocks, plus `STACK_OUTPUTS` for any stack a program references."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            return args.name, {"name": args.name, "outputs": dict(STACK_OUTPUTS), "secretOutputNames": []}
        return super().new_resource(args)
