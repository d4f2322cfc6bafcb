"""Fleet host state: the rendered cloud-init, the boot and helper scripts run for real, the
secrets file read back by systemd's own parser, the 16 KB limit and the secret scan."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardstack.core.artefacts import NODE_EXPORTER_SHA256, fleet_app
from hardstack.core.envfile import quote_env_value
from hardstack.core.errors import HardstackError
from hardstack.core.userdata import (
    BOOT_CHECK_UNIT,
    BOOT_SCRIPT,
    USER_DATA_LIMIT_BYTES,
    FleetBoot,
    HostPlacement,
    ansible_vars,
    render_cloud_init,
    validate_user_data,
)

SECRETS = {"DB_PASSWORD": "/prod/web/db-password", "API_TOKEN": "/prod/web/api-token"}
PLACEMENT = HostPlacement(
    artefact_bucket="web-artefacts-0a1b2c3",
    log_groups={"system": "/hardstack/prod/fleet/web/system", "app": "/hardstack/prod/fleet/web/app"},
)


def _boot(**overrides: Any) -> FleetBoot:
    args: dict[str, Any] = {
        "service_name": "web",
        "app_port": 8080,
        "environment": "prod",
        "region": "eu-west-1",
        "secret_parameters": SECRETS,
        "packages": ["jq"],
        "extra_runcmd": ["echo configured"],
    }
    args.update(overrides)
    return FleetBoot(**args)


def _render(**overrides: Any) -> str:
    return render_cloud_init(_boot(**overrides), PLACEMENT)


def _files(doc: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["content"] for f in doc["write_files"]}


def _doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(_render(**overrides))
    return doc


def test_document_is_cloud_config_yaml_ending_in_the_boot_script() -> None:
    text = _render()
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert {"amazon-cloudwatch-agent", "python3", "logrotate", "jq"} <= set(doc["packages"])
    # runcmd's status is its last command's: the boot script's, so a failed boot fails cloud-init.
    assert doc["runcmd"][-1] == [BOOT_SCRIPT]
    assert ["systemctl", "start", "--no-block", BOOT_CHECK_UNIT] in doc["runcmd"]
    assert "echo configured" in _files(doc)[BOOT_SCRIPT]


def test_no_boot_step_reaches_outside_the_account() -> None:
    text = _render()
    assert "github.com" not in text and "https://" not in text
    script = _files(yaml.safe_load(text))[BOOT_SCRIPT]
    assert "export REGION=eu-west-1 BUCKET=web-artefacts-0a1b2c3" in script
    for digest in NODE_EXPORTER_SHA256.values():
        assert digest in script
    assert fleet_app().sha256 in script


def test_boot_scripts_are_valid_bash_and_stop_on_the_first_failure() -> None:
    files = _files(_doc())
    for path in (BOOT_SCRIPT, "/usr/local/sbin/hardstack-install-artefact", "/usr/local/sbin/hardstack-boot-check"):
        done = subprocess.run(["bash", "-n"], input=files[path], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{path}: {done.stderr}"
    assert "set -euo pipefail" in files[BOOT_SCRIPT]
    # Ready means serving: the boot ends waiting on the endpoint the load balancer checks.
    assert files[BOOT_SCRIPT].rstrip().endswith("exit 1")
    assert "http://127.0.0.1:8080/readyz" in files[BOOT_SCRIPT]


def test_a_failed_boot_marks_the_instance_unhealthy_after_cloud_init() -> None:
    files = _files(_doc())
    unit = files[f"/etc/systemd/system/{BOOT_CHECK_UNIT}"]
    assert "After=cloud-final.service" in unit
    check = files["/usr/local/sbin/hardstack-boot-check"]
    assert "cloud-init status --wait" in check
    assert "set-instance-health --region eu-west-1" in check and "--health-status Unhealthy" in check


def _fake_tools(tmp_path: Path, script: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("aws", "cloud-init", "ec2-metadata"):
        tool = bin_dir / name
        tool.write_text(script.replace("@NAME@", name))
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def _install_env(tmp_path: Path, content: bytes) -> tuple[dict[str, str], Path]:
    source = tmp_path / "release.bin"
    source.write_bytes(content)
    # `aws s3 cp ... s3://BUCKET/KEY DEST` copies the local release; every call is logged.
    env = _fake_tools(tmp_path, f'#!/bin/bash\necho "@NAME@ $*" >> {tmp_path}/calls\ncp {source} "${{@: -1}}"\n')
    install = tmp_path / "install-artefact"
    script = _files(_doc())["/usr/local/sbin/hardstack-install-artefact"]
    install.write_text(script.replace("/var/cache/hardstack", str(tmp_path / "cache")))
    install.chmod(0o755)
    return {**env, "BUCKET": "web-artefacts-0a1b2c3", "REGION": "eu-west-1"}, install


@pytest.mark.skipif(os.geteuid() != 0, reason="install -o root needs root")
def test_an_artefact_is_installed_only_when_its_sha256_matches(tmp_path: Path) -> None:
    env, install = _install_env(tmp_path, b"release 1.0\n")
    good = hashlib.sha256(b"release 1.0\n").hexdigest()
    dest = tmp_path / "opt" / "app" / "1.0" / "app"
    done = subprocess.run([install, "artefacts/x", good, dest], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == b"release 1.0\n" and os.access(dest, os.X_OK)
    assert (
        "s3 cp --only-show-errors --region eu-west-1 s3://web-artefacts-0a1b2c3/artefacts/x"
        in (tmp_path / "calls").read_text()
    )

    other = tmp_path / "opt" / "other"
    done = subprocess.run(
        [install, "artefacts/x", "0" * 64, other], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "does not match its pinned sha256" in done.stderr
    assert not other.exists()


def test_the_boot_check_marks_unhealthy_only_on_a_failed_boot(tmp_path: Path) -> None:
    check = _files(_doc())["/usr/local/sbin/hardstack-boot-check"]
    for status, marked in ((0, False), (2, False), (1, True)):
        calls = tmp_path / f"calls-{status}"
        env = _fake_tools(
            tmp_path,
            f'#!/bin/bash\necho "@NAME@ $*" >> {calls}\n'
            f'[ "@NAME@" = cloud-init ] && exit {status}\n'
            '[ "@NAME@" = ec2-metadata ] && echo "instance-id: i-0abc"\nexit 0\n',
        )
        stub = tmp_path / "bin" / "systemd-cat"
        stub.write_text("#!/bin/bash\ncat >/dev/null\n")
        stub.chmod(0o755)
        done = subprocess.run(["bash", "-c", check], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        log = calls.read_text()
        assert ("aws autoscaling set-instance-health" in log) is marked, (status, log)
        if marked:
            assert "--instance-id i-0abc --health-status Unhealthy --no-should-respect-grace-period" in log


# --- secrets reach the app unaltered --------------------------------------------------------------


def parse_env_value(text: str) -> str:
    """A double-quoted EnvironmentFile value read by systemd.exec(5)'s rules: inside double quotes a
    backslash before one of " \\ ` $ stands for that character, before a newline it continues the
    line, before anything else both are kept; the value ends at the closing quote."""
    assert text.startswith('"') and text.endswith('"')
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in '"\\`$':
                out.append(nxt)
            elif nxt != "\n":
                out.append(c + nxt)
            i += 2
            continue
        assert c != '"', "an unescaped quote ends the value early"
        out.append(c)
        i += 1
    return "".join(out)


_values = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_any_value_round_trips_through_the_documented_rules(value: str) -> None:
    assert parse_env_value(quote_env_value(value)) == value


def test_nul_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="NUL"):
        quote_env_value("a\x00b")


GENERATOR = Path("/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator")
NASTY = ['pa"ss', "back\\slash", "two\nlines", "  spaced  ", "tick`cmd`", "single'quote", "tab\tend", "\\n"]


@pytest.mark.skipif(not GENERATOR.exists(), reason="systemd's environment.d generator is not installed")
def test_systemd_reads_back_what_the_boot_script_writes(tmp_path: Path) -> None:
    """The secrets script runs for real against a stub `aws`; systemd's own parser reads its file.

    environment.d files use the parser of EnvironmentFile= (then expand `$VAR`, which units do not,
    so the values here hold no `$`; the property test above covers it by the documented rules).
    """
    values = {f"V{i}": v for i, v in enumerate(NASTY)}
    parameters = {name: f"/prod/web/{name.lower()}" for name in values}
    answer = {"Parameters": [{"Name": parameters[k], "Value": v} for k, v in values.items()], "InvalidParameters": []}
    reply = tmp_path / "reply.json"
    reply.write_text(json.dumps(answer))
    env = _fake_tools(tmp_path, f"#!/bin/bash\ncat {reply}\n")
    script = _files(_doc(secret_parameters=parameters))["/usr/local/sbin/web-fetch-secrets"]
    ast.parse(script, feature_version=(3, 9))  # the host's python3 is 3.9
    dest = tmp_path / "config" / "environment.d" / "60-secrets.conf"
    done = subprocess.run(
        [sys.executable, "-c", script, str(dest)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert oct(dest.stat().st_mode & 0o777) == "0o600"

    ours = _systemd_environment(tmp_path / "config")
    reference = tmp_path / "reference" / "environment.d"
    reference.mkdir(parents=True)
    # The same values written single-quoted: systemd keeps those verbatim (no quote inside them).
    lines = [f"{k}='{v}'" for k, v in values.items() if "'" not in v]
    (reference / "60-secrets.conf").write_text("\n".join(lines) + "\n")
    theirs = _systemd_environment(tmp_path / "reference")
    assert {k: ours[k] for k in theirs} == theirs
    assert "V5" in ours  # the value with a single quote is written too


def _systemd_environment(config_home: Path) -> dict[str, str]:
    done = subprocess.run(
        [str(GENERATOR)], env={"XDG_CONFIG_HOME": str(config_home)}, capture_output=True, text=True, check=True
    )
    return {k: v for k, _, v in (line.partition("=") for line in done.stdout.splitlines()) if k.startswith("V")}


def test_secrets_are_read_by_name_into_a_root_only_file() -> None:
    files = _files(_doc())
    script = files["/usr/local/sbin/web-fetch-secrets"]
    assert '["API_TOKEN", "/prod/web/api-token"]' in script and "get-parameters" in script
    assert "os.umask(0o077)" in script and "os.replace(tmp, dest)" in script
    unit = files["/etc/systemd/system/web-secrets.service"]
    assert "ExecStart=/usr/local/sbin/web-fetch-secrets /etc/web/secrets.env" in unit
    assert "EnvironmentFile=/etc/web/secrets.env" in files["/etc/systemd/system/web.service"]


# --- services, logs ---------------------------------------------------------------------------------


def test_node_exporter_runs_unprivileged_on_9100_from_its_versioned_path() -> None:
    unit = _files(_doc())["/etc/systemd/system/node_exporter.service"]
    assert "User=node_exporter" in unit and "--web.listen-address=:9100" in unit
    assert "ExecStart=/opt/node_exporter/1.10.2/node_exporter" in unit


def test_app_unit_runs_the_release_hardened_and_non_root() -> None:
    unit = _files(_doc())["/etc/systemd/system/web.service"]
    for directive in (
        "User=svc-web",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ExecStart=/opt/web/1.0.0/fleet_app.py --port=8080 --metrics-port=9797",
    ):
        assert directive in unit
    assert "http.server" not in unit


def test_app_log_is_rotated_and_shipped_once() -> None:
    files = _files(_doc())
    rule = files["/etc/rsyslog.d/web.conf"]
    assert rule.splitlines() == [':programname, isequal, "web" /var/log/web/app.log', "& stop"]
    rotate = files["/etc/logrotate.d/web"]
    assert rotate.startswith("/var/log/web/app.log {") and "delaycompress" in rotate and "maxsize 100M" in rotate
    config = json.loads(files["/etc/hardstack/amazon-cloudwatch-agent.json"])
    shipped = [c["file_path"] for c in config["logs"]["logs_collected"]["files"]["collect_list"]]
    assert shipped == ["/var/log/messages", "/var/log/web/app.log"]
    assert "retention_in_days" not in json.dumps(config)


def test_ansible_vars_and_user_data_describe_the_same_host() -> None:
    doc = _doc()
    host = ansible_vars(_boot(), PLACEMENT)
    written = _files(doc)
    assert host["hardstack_packages"] == doc["packages"]
    assert [u["name"] for u in doc["users"][1:]] == host["hardstack_users"]
    for f in host["hardstack_files"]:
        assert written[f["path"]] == f["content"]
    assert written[host["hardstack_cloudwatch_config_path"]] == host["hardstack_cloudwatch_config"]
    boot = written[BOOT_SCRIPT]
    for arch in ("amd64", "arm64"):
        for item in host["hardstack_artefacts"][arch]:
            assert item["key"] in boot and item["sha256"] in boot and item["dest"] in boot
    assert " ".join(host["hardstack_services"]) in boot


# --- the reference service -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback only
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_reference_service_serves_readiness_and_request_metrics_and_drains(tmp_path: Path) -> None:
    app = fleet_app()
    assert app.content is not None
    ast.parse(app.content, feature_version=(3, 9))  # the host's python3 is 3.9
    path = tmp_path / app.filename
    path.write_text(app.content)
    port, metrics = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(path),
            f"--port={port}",
            f"--metrics-port={metrics}",
            "--bind=127.0.0.1",
            "--drain-seconds=1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HARDSTACK_ENVIRONMENT": "prod"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/readyz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.1)
        assert status == 200
        status, body = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and json.loads(body)["environment"] == "prod"
        assert _get(f"http://127.0.0.1:{port}/nope")[0] == 404
        expected = [
            'http_requests_total{handler="/",method="GET",code="200"} 1',
            'http_requests_total{handler="/readyz",method="GET",code="200"} 1',
            'http_requests_total{handler="other",method="GET",code="404"} 1',
            'http_request_duration_seconds_count{handler="/"} 1',
        ]
        # A request is counted once its response is written (its duration includes the write),
        # so the client may read the answer a moment before the counter moves.
        deadline = time.monotonic() + 5
        while True:
            _, text = _get(f"http://127.0.0.1:{metrics}/metrics")
            if all(line in text for line in expected) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for line in expected:
            assert line in text
        proc.send_signal(signal.SIGTERM)
        # Draining: readiness fails so the load balancer stops sending, requests still served.
        deadline = time.monotonic() + 15
        while _get(f"http://127.0.0.1:{port}/readyz")[0] != 503:
            assert time.monotonic() < deadline, "readiness still passes after SIGTERM"
            time.sleep(0.05)
        assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_oversized_document_refused_with_size_and_limit() -> None:
    text = "#cloud-config\n" + "#" * USER_DATA_LIMIT_BYTES
    with pytest.raises(HardstackError, match=r"user_data = '<16398 bytes>'.*16384 bytes"):
        validate_user_data(text)
    # Exactly at the limit is accepted.
    validate_user_data("#" * USER_DATA_LIMIT_BYTES)


def test_limit_counts_bytes_not_characters() -> None:
    with pytest.raises(HardstackError, match="bytes"):
        validate_user_data("é" * (USER_DATA_LIMIT_BYTES // 2 + 1))


def test_oversized_render_refused() -> None:
    with pytest.raises(HardstackError, match="16384"):
        _render(extra_runcmd=[f"echo {'x' * 1000}"] * 17)


@pytest.mark.parametrize(
    ("snippet", "found", "hidden"),
    [
        ("export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", "AWS access key id", "ABCDEFGHIJKLMNOP"),
        ("key: ASIAQRSTUVWXYZ234567", "AWS access key id", "QRSTUVWXYZ234567"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key", "wJalrXUtnFEMI"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n", "private key block", "MIIEow"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n", "private key block", "b3Bl"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n", "private key block", "MIIE"),
        ("DB_PASSWORD=hunter2hunter2", "literal credential assignment", "hunter2"),
        ("password: hunter2hunter2", "literal credential assignment", "hunter2"),
        ('{"client_secret": "s3cr3tvalue"}', "literal credential assignment", "s3cr3t"),
        ("secret=abc123xyz", "literal credential assignment", "abc123"),
        ("GITHUB_TOKEN='ghp_abcdef0123'", "literal credential assignment", "ghp_abc"),
        ("api_key: k-12345678", "literal credential assignment", "k-1234"),
    ],
)
def test_secret_looking_values_refused_and_masked(snippet: str, found: str, hidden: str) -> None:
    text = f"#cloud-config\nruncmd:\n  - echo start\nwrite_files: []\n# {snippet}\n"
    with pytest.raises(HardstackError) as info:
        validate_user_data(text)
    message = str(info.value)
    assert found in message
    assert hidden not in message
    assert "SSM Parameter Store" in message and "Secrets Manager" in message
    assert message.startswith("user_data (line 5) = ")


def test_secret_in_extra_runcmd_refused_by_render() -> None:
    with pytest.raises(HardstackError, match="literal credential assignment"):
        _render(extra_runcmd=["echo password=hunter2 > /tmp/x"])


@pytest.mark.parametrize(
    "text",
    [
        'TOKEN="$(cat /run/token)"',
        "password: {{ vault_password }}",
        "secret=<set-me>",
        "password=",
        "curl -H 'X-aws-ec2-metadata-token: $TOKEN'",
    ],
)
def test_references_are_not_literal_secrets(text: str) -> None:
    assert validate_user_data(text) == text


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"service_name": "Web"}, "service_name"),
        ({"service_name": "rsyslog"}, "service_name"),
        ({"app_port": 80}, "app_port"),
        ({"app_port": 9100}, "app_port"),
        ({"app_port": True}, "app_port"),
        ({"environment": "Prod!"}, "environment"),
        ({"region": "europe"}, "region"),
        ({"secret_parameters": {"db-password": "/x"}}, "secret_parameters key"),
        ({"secret_parameters": {"DB": "hunter2 hunter2"}}, "secret_parameters['DB']"),
        ({"packages": "jq"}, "packages"),
        ({"packages": ["jq; rm -rf /"]}, "packages"),
        ({"extra_runcmd": [""]}, "extra_runcmd"),
        ({"extra_runcmd": ["echo a\necho b"]}, "extra_runcmd"),
        ({"secret_parameters": {"HARDSTACK_ENVIRONMENT": "/x"}}, "secret_parameters key"),
        ({"secret_parameters": {"DB": "/aws/reserved"}}, "secret_parameters['DB']"),
        ({"metrics_port": 8080}, "metrics_port"),
        ({"metrics_port": 9100}, "metrics_port"),
        ({"health_path": "readyz"}, "health_path"),
        ({"proxied_ports": [8080]}, "proxied_ports"),
        ({"proxied_ports": [80]}, "proxied_ports"),
    ],
)
def test_bad_arguments_refused_naming_the_argument(overrides: dict[str, Any], where: str) -> None:
    with pytest.raises(HardstackError) as info:
        _boot(**overrides)
    assert str(info.value).startswith(f"{where} = ")


_names = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_env_vars = st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True)
_parameters = (
    st.lists(_names, min_size=1, max_size=5)
    .map(lambda parts: "/" + "/".join(parts))
    .filter(lambda p: not p.startswith(("/aws", "/ssm")))
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    service_name=_names.filter(lambda n: n not in {"rsyslog", "sshd", "systemd", "dbus", "auditd", "chronyd"}),
    app_port=st.integers(1024, 65535).filter(lambda p: p != 9100),
    environment=_names,
    region=st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]),
    secret_parameters=st.dictionaries(_env_vars, _parameters, max_size=8),
    packages=st.lists(st.from_regex(r"[a-z][a-z0-9.+-]{0,20}", fullmatch=True), max_size=8),
    extra_runcmd=st.lists(_names.map(lambda w: f"systemctl restart {w}"), max_size=5),
)
def test_any_valid_render_passes_validation_and_fits(
    service_name: str,
    app_port: int,
    environment: str,
    region: str,
    secret_parameters: dict[str, str],
    packages: list[str],
    extra_runcmd: list[str],
) -> None:
    boot = FleetBoot(
        service_name=service_name,
        app_port=app_port,
        environment=environment,
        region=region,
        secret_parameters=secret_parameters,
        packages=packages,
        extra_runcmd=extra_runcmd,
    )
    text = render_cloud_init(boot, HostPlacement(artefact_bucket="b" * 63, log_groups=PLACEMENT.log_groups))
    assert validate_user_data(text) == text
    assert len(text.encode()) <= USER_DATA_LIMIT_BYTES
    doc = yaml.safe_load(text)
    script = _files(doc)[f"/usr/local/sbin/{service_name}-fetch-secrets"]
    for env_name, parameter in secret_parameters.items():
        assert json.dumps([env_name, parameter]) in script


CLOUD_INIT = shutil.which("cloud-init")


@pytest.mark.skipif(CLOUD_INIT is None, reason="cloud-init binary not installed (Debian package: cloud-init)")
def test_cloud_init_schema_accepts_rendered_document(tmp_path: Path) -> None:
    assert CLOUD_INIT is not None
    path = tmp_path / "user-data.yml"
    path.write_text(_render(), encoding="utf-8")
    result = subprocess.run(
        [CLOUD_INIT, "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # cloud-init 23.4 and later print "Valid schema", earlier releases "Valid cloud-config".
    assert "Valid schema" in result.stdout or "Valid cloud-config" in result.stdout
