#!/usr/bin/env python3
"""Set-up and everyday commands; needs nothing but Python 3.11+.

    python3 tasks.py preview [--stack prod]   offline preview of a stack (no cloud account)
    python3 tasks.py test                     lint, type-check and run the whole test suite

Each command creates `.venv` with the project and its dev tools when missing or stale, and the
test command installs the command-line validators the tests run (promtool, amtool) when missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".hardstack-installed"
#: Debian packages providing the validators the tests run, by command.
SYSTEM_TOOLS = {"promtool": "prometheus", "amtool": "prometheus-alertmanager", "cloud-init": "cloud-init"}


def run(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]  # noqa: S603


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PY.exists():
        return
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def ensure_system_tools() -> None:
    missing = sorted({pkg for tool, pkg in SYSTEM_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(f"missing {', '.join(missing)}: install them with your package manager, then run again")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(*sudo, apt, "-qq", "update", env=env)
    run(*sudo, apt, "-qq", "install", "-y", "--no-install-recommends", *missing, env=env)


def preview(args: list[str]) -> None:
    ensure_venv()
    run(PY, "-m", "stacks.preview", *args)


def test(args: list[str]) -> None:
    ensure_venv()
    ensure_system_tools()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(PY, "-m", "pytest", *args)


def main() -> None:
    commands = {"preview": preview, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    try:
        commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode)


if __name__ == "__main__":
    main()
