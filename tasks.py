#!/usr/bin/env python3
"""Set-up and everyday commands; needs nothing but Python 3.11+.

    python3 tasks.py preview [--stack prod] [--sandbox]   offline preview of a stack (no cloud account)
    python3 tasks.py test [PYTEST ARGS]                   lint, type-check and run the whole test suite
    python3 tasks.py rollout --stack prod [--wait 1800]   outcome of the fleet's latest instance refresh
    python3 tasks.py refresh-rds [--region us-east-1]     rewrite the RDS table from the RDS API

Each command creates `.venv` when missing and installs what it needs when missing or stale: the
preview only the project and what the program needs (the `stacks` extra, and the `sandbox` extra
with --sandbox); the test command also the dev tools (the `dev` extra) and the command-line
validators the tests run (promtool, amtool, cloud-init), saying what it will install first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
#: Debian packages providing the validators the tests run, by command. PostgreSQL (the database
#: logins' SQL runs against it) keeps initdb off PATH; pg_ctlcluster says it is installed.
SYSTEM_TOOLS = {
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "cloud-init": "cloud-init",
    "pg_ctlcluster": "postgresql",
}
#: Extras installed -> the installations that hold them (`dev` holds every other extra).
IMPLIES = {
    "stacks": ("stacks", "stacks,sandbox", "dev"),
    "stacks,sandbox": ("stacks,sandbox", "dev"),
    "stacks,ops": ("stacks,ops", "dev"),
    "dev": ("dev",),
}


def run(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]  # noqa: S603


def _stamp(extra: str) -> Path:
    return VENV / f".hardstack-installed-{extra.replace(',', '+')}"


def _wanted(extra: str) -> str:
    """What a stamp holds: the project file it was installed from and the extra."""
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()


def _installed(extra: str) -> bool:
    if not PY.exists():
        return False
    return any(_stamp(e).is_file() and _stamp(e).read_text() == _wanted(e) for e in IMPLIES[extra])


def _extra_requirements(extra: str) -> list[str]:
    """The requirements of `extra` as pyproject.toml lists them, extras of the project expanded."""
    with (ROOT / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    own = f"{project['name']}["
    found: list[str] = []
    for req in extras.get(extra, []):
        if req.startswith(own):
            for name in req[len(own) :].split("]", 1)[0].split(","):
                found += [r for r in _extra_requirements(name.strip()) if r not in found]
        elif req not in found:
            found.append(req)
    return found


def ensure_venv(extra: str, *, compile_all: bool) -> None:
    """`.venv` with the project (editable) and `extra`; reinstalled when pyproject.toml changes.

    pip compiles nothing: the provider SDKs hold thousands of modules a preview never imports, and
    a first preview installs much faster without. With `compile_all`, everything installed is then
    byte-compiled once on every core, so the many processes of the tests never compile on import.
    """
    if _installed(extra):
        return
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--no-compile", "-e", f".[{extra}]")
    if compile_all:
        code = "import sysconfig; print(*{sysconfig.get_path('purelib'), sysconfig.get_path('platlib')}, sep='\\n')"
        paths = subprocess.run([PY, "-c", code], check=True, capture_output=True, text=True).stdout.splitlines()  # noqa: S603
        cmd = [str(PY), "-m", "compileall", "-qq", "-j", "0", *paths]
        print("+", " ".join(cmd), flush=True)
        # Like pip, skip what does not compile (test data of some packages): it is never imported.
        subprocess.run(cmd, check=False, cwd=ROOT)  # noqa: S603
    _stamp(extra).write_text(_wanted(extra))


def missing_system_packages() -> list[str]:
    return sorted({pkg for tool, pkg in SYSTEM_TOOLS.items() if shutil.which(tool) is None})


def ensure_system_packages(missing: list[str]) -> None:
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
    # The sandbox creates the resources in an in-process moto account: only then is moto needed.
    ensure_venv("stacks,sandbox" if "--sandbox" in args else "stacks", compile_all=False)
    run(PY, "-m", "stacks.preview", *args)


def rollout(args: list[str]) -> None:
    ensure_venv("stacks,ops", compile_all=False)
    run(PY, "-m", "stacks.rollout", *args)


def refresh_rds(args: list[str]) -> None:
    ensure_venv("stacks,ops", compile_all=False)
    run(PY, "-m", "stacks.refresh_rds", *args)


def test(args: list[str]) -> None:
    pip_needed = not _installed("dev")
    apt_needed = missing_system_packages()
    if pip_needed or apt_needed:
        print("tasks.py test will install:", flush=True)
        if pip_needed:
            print(f"  into {VENV.name} with pip: the project with its `dev` extra:")
            print("".join(f"    {req}\n" for req in _extra_requirements("dev")), end="")
        if apt_needed:
            print(f"  with apt-get: the Debian packages {', '.join(apt_needed)}", flush=True)
    ensure_venv("dev", compile_all=True)
    ensure_system_packages(apt_needed)
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(PY, "-m", "pytest", *args)


def main() -> None:
    commands = {"preview": preview, "test": test, "rollout": rollout, "refresh-rds": refresh_rds}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    try:
        commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode)


if __name__ == "__main__":
    main()
