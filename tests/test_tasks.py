"""The set-up commands install what each needs, no more, and say what the test command installs first."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import tasks
from stacks import preview


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~;\s]", r, maxsplit=1)[0].lower() for r in requirements}


def test_dev_extra_holds_every_other_extra_and_the_tools() -> None:
    dev = names(tasks._extra_requirements("dev"))
    for extra in ("validate", "sandbox", "stacks"):
        assert names(tasks._extra_requirements(extra)) <= dev, extra
    tools = {"pytest", "pytest-xdist", "hypothesis", "ruff", "mypy", "types-pyyaml", "ansible", "check-jsonschema"}
    assert tools | {"pulumi-policy", "setuptools"} <= dev


def test_the_preview_extra_holds_no_dev_tool() -> None:
    assert names(tasks._extra_requirements("stacks")) == {"pydantic"}


@pytest.fixture
def venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tasks.py pointed at an empty virtualenv directory that has an interpreter."""
    monkeypatch.setattr(tasks, "VENV", tmp_path)
    monkeypatch.setattr(tasks, "PY", tmp_path / "python")
    (tmp_path / "python").touch()
    return tmp_path


def test_a_dev_install_serves_the_preview_but_not_the_reverse(venv: Path) -> None:
    tasks._stamp("stacks").write_text(tasks._wanted("stacks"))
    assert tasks._installed("stacks")
    assert not tasks._installed("stacks,sandbox") and not tasks._installed("dev")

    tasks._stamp("dev").write_text(tasks._wanted("dev"))
    assert tasks._installed("stacks") and tasks._installed("stacks,sandbox") and tasks._installed("dev")


def test_an_install_from_another_pyproject_is_stale(venv: Path) -> None:
    tasks._stamp("dev").write_text("the hash of an older pyproject.toml")
    assert not tasks._installed("stacks") and not tasks._installed("dev")


def test_the_preview_installs_the_sandbox_extra_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(tasks, "ensure_venv", lambda extra, compile_all: calls.append(("install", extra, compile_all)))
    monkeypatch.setattr(tasks, "run", lambda *cmd, **kw: calls.append(("run", *cmd[1:])))

    tasks.preview(["--stack", "prod"])
    tasks.preview(["--stack", "prod", "--sandbox"])

    assert calls == [
        ("install", "stacks", False),
        ("run", "-m", "stacks.preview", "--stack", "prod"),
        ("install", "stacks,sandbox", False),
        ("run", "-m", "stacks.preview", "--stack", "prod", "--sandbox"),
    ]


def test_the_test_command_says_what_it_installs_before_installing(
    venv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events: list[str] = []

    def ensure_venv(extra: str, compile_all: bool) -> None:
        events.append(capsys.readouterr().out)
        events.append(f"pip {extra}")

    monkeypatch.setattr(tasks, "missing_system_packages", lambda: ["prometheus-alertmanager"])
    monkeypatch.setattr(tasks, "ensure_venv", ensure_venv)
    monkeypatch.setattr(tasks, "ensure_system_packages", lambda missing: events.append(f"apt {' '.join(missing)}"))
    monkeypatch.setattr(tasks, "run", lambda *cmd, **kw: None)

    tasks.test([])

    said, *done = events
    assert done == ["pip dev", "apt prometheus-alertmanager"]
    assert "`dev` extra" in said and "pytest-xdist" in said and "kubernetes-validate" in said
    assert "Debian packages prometheus-alertmanager" in said


def test_the_test_command_says_nothing_when_all_is_there(
    venv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks._stamp("dev").write_text(tasks._wanted("dev"))
    monkeypatch.setattr(tasks, "missing_system_packages", lambda: [])
    monkeypatch.setattr(tasks, "run", lambda *cmd, **kw: None)

    tasks.test([])

    assert "will install" not in capsys.readouterr().out


def test_sandbox_preview_without_its_extra_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "hardstack.tooling.sandbox", raising=False)
    monkeypatch.setitem(sys.modules, "moto", None)  # as if moto were not installed

    assert preview.main(["--stack", "test", "--sandbox"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --sandbox needs moto from the `sandbox` extra") and "Traceback" not in err
