"""Cloud-init user data: rendered document shape, the 16 KB limit and the secret scan."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardstack.core.errors import HardstackError
from hardstack.core.userdata import (
    NODE_EXPORTER_SHA256,
    NODE_EXPORTER_VERSION,
    USER_DATA_LIMIT_BYTES,
    render_cloud_init,
    validate_user_data,
)

SECRETS = {"DB_PASSWORD": "/prod/web/db-password", "API_TOKEN": "/prod/web/api-token"}


def _render(**overrides: Any) -> str:
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
    return render_cloud_init(**args)


def _files(doc: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["content"] for f in doc["write_files"]}


def test_document_is_cloud_config_yaml() -> None:
    text = _render()
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    assert {"amazon-cloudwatch-agent", "python3", "jq"} <= set(doc["packages"])
    assert doc["runcmd"][-1] == "echo configured"


def test_node_exporter_is_pinned_verified_and_runs_unprivileged_on_9100() -> None:
    files = _files(yaml.safe_load(_render()))
    unit = files["/etc/systemd/system/node_exporter.service"]
    assert "User=node_exporter" in unit
    assert "--web.listen-address=:9100" in unit
    script = files["/usr/local/sbin/install-node-exporter"]
    assert f"version={NODE_EXPORTER_VERSION}" in script
    assert "https://github.com/prometheus/node_exporter/releases/download/v${version}/" in script
    assert "sha256sum --check" in script
    for digest in NODE_EXPORTER_SHA256.values():
        assert digest in script
    # The checksum is verified before the tarball is unpacked.
    assert script.index("sha256sum --check") < script.index("tar -xzf")


def test_cloudwatch_agent_configured_and_started() -> None:
    doc = yaml.safe_load(_render())
    config_path = "/etc/hardstack/amazon-cloudwatch-agent.json"
    assert '"mem_used_percent"' in _files(doc)[config_path]
    start = [cmd for cmd in doc["runcmd"] if isinstance(cmd, list) and "fetch-config" in cmd]
    assert start and "-s" in start[0] and f"file:{config_path}" in start[0]


def test_app_unit_is_hardened_and_non_root() -> None:
    unit = _files(yaml.safe_load(_render()))["/etc/systemd/system/web.service"]
    for directive in ("User=svc-web", "NoNewPrivileges=true", "ProtectSystem=strict", "http.server 8080"):
        assert directive in unit


def test_secrets_read_at_boot_by_name_into_0600_file() -> None:
    text = _render()
    files = _files(yaml.safe_load(text))
    script = files["/usr/local/sbin/web-fetch-secrets"]
    for parameter in SECRETS.values():
        assert f"aws ssm get-parameter --with-decryption --name {parameter} --region eu-west-1" in script
    assert 'chmod 0600 "$tmp"' in script and "umask 077" in script
    assert "EnvironmentFile=/etc/web/secrets.env" in files["/etc/systemd/system/web.service"]


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
    ],
)
def test_bad_arguments_refused_naming_the_argument(overrides: dict[str, Any], where: str) -> None:
    with pytest.raises(HardstackError) as info:
        _render(**overrides)
    assert str(info.value).startswith(f"{where} = ")


_names = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_env_vars = st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True)
_parameters = st.lists(_names, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))


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
    text = render_cloud_init(
        service_name=service_name,
        app_port=app_port,
        environment=environment,
        region=region,
        secret_parameters=secret_parameters,
        packages=packages,
        extra_runcmd=extra_runcmd,
    )
    assert validate_user_data(text) == text
    assert len(text.encode()) <= USER_DATA_LIMIT_BYTES
    doc = yaml.safe_load(text)
    script = _files(doc)[f"/usr/local/sbin/{service_name}-fetch-secrets"]
    for parameter in secret_parameters.values():
        assert f"--name {parameter} --region {region}" in script


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
    assert "Valid cloud-config" in result.stdout
