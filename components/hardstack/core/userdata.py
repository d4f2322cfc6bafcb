"""Boot-time configuration for fleet instances (Amazon Linux 2023) as a `#cloud-config` document.

Pure functions: nothing here registers a Pulumi resource. User data is readable by anyone who may
describe the instance, so it carries parameter NAMES only; values are read at boot from SSM
Parameter Store into a root-only env file, and `validate_user_data` refuses anything secret-looking.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import yaml

from hardstack.core.errors import refuse

# AWS refuses user data over 16 KB (counted before base64 encoding).
USER_DATA_LIMIT_BYTES = 16384

NODE_EXPORTER_VERSION = "1.10.2"
NODE_EXPORTER_PORT = 9100
# sha256 of the official release tarballs, from the release's sha256sums.txt.
NODE_EXPORTER_SHA256: Mapping[str, str] = MappingProxyType(
    {
        "amd64": "c46e5b6f53948477ff3a19d97c58307394a29fe64a01905646f026ddc32cb65b",
        "arm64": "de69ec8341c8068b7c8e4cfe3eb85065d24d984a3b33007f575d307d13eb89a6",
    }
)
NODE_EXPORTER_USER = "node_exporter"

# rsyslog copies the journal to files because the CloudWatch agent only tails files.
BASE_PACKAGES: tuple[str, ...] = ("amazon-cloudwatch-agent", "rsyslog", "python3", "tar", "gzip")
CLOUDWATCH_CONFIG_PATH = "/etc/hardstack/amazon-cloudwatch-agent.json"
CLOUDWATCH_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"

_SERVICE_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$")
# Unit names the instance already uses; an app of the same name would replace them.
_RESERVED_SERVICE_NAMES = frozenset(
    {
        "amazon-cloudwatch-agent",
        "amazon-ssm-agent",
        "chronyd",
        "cloud-init",
        "node-exporter",
        "rsyslog",
        "sshd",
        "systemd",
        "dbus",
        "auditd",
    }
)
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
# SSM parameter names: letters, digits, `_.-` and `/` levels; 1011 is the longest a path may be.
_SSM_NAME = re.compile(r"^(?:/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$")
_SSM_NAME_MAX = 1011

_NO_SECRETS: Mapping[str, str] = MappingProxyType({})

_USE_NAMES_INSTEAD = (
    "user data is readable by anyone allowed to describe the instance; put the value in SSM Parameter "
    "Store (SecureString) or Secrets Manager and pass its NAME (render_cloud_init secret_parameters), "
    "so the instance reads it at boot"
)

# (what was found, pattern, how many leading characters of the match may be shown)
_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), 4),
    ("aws_secret_access_key", re.compile(r"(?i)aws_secret_access_key"), 21),
    ("a private key block", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), 11),
    (
        "a literal credential assignment (password/secret/token/api key = value)",
        # A value starting with `$`, `{{` or `<` is a reference or placeholder, not a literal.
        re.compile(
            r"(?i)(?<![A-Za-z0-9])[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key)[A-Za-z0-9_.-]*"
            r"[\"']?[ \t]*[=:][ \t]*[\"']?(?!\$|\{\{|<)[^\s\"'$]"
        ),
        0,
    ),
)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (unit files, scripts) as `|` blocks so the document stays reviewable."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockDumper.add_representer(str, _str_representer)


def _mask(found: str, keep: int) -> str:
    """Show enough of a match to locate it, never the secret itself."""
    if keep == 0:
        # For assignments show the key only: everything up to the separator.
        key = re.split(r"[=:]", found, maxsplit=1)[0].rstrip(" \t\"'")
        return f"{key}=***"
    return found[:keep] + "*" * min(len(found) - keep, 16)


def validate_user_data(text: str, *, where: str = "user_data") -> str:
    """Return `text` unchanged if AWS will accept it and it holds nothing secret-looking."""
    size = len(text.encode("utf-8"))
    if size > USER_DATA_LIMIT_BYTES:
        raise refuse(
            where,
            f"<{size} bytes>",
            f"AWS limits user data to {USER_DATA_LIMIT_BYTES} bytes (16 KB) before base64; move bulky "
            "content to S3 or an AMI, or configure it with Ansible after boot",
        )
    for what, pattern, keep in _SECRET_PATTERNS:
        match = pattern.search(text)
        if match is not None:
            line = text.count("\n", 0, match.start()) + 1
            raise refuse(f"{where} (line {line})", _mask(match.group(0), keep), f"found {what}; {_USE_NAMES_INSTEAD}")
    return text


def _check_inputs(
    service_name: str,
    app_port: int,
    environment: str,
    region: str,
    secret_parameters: Mapping[str, str],
    packages: Sequence[str],
    extra_runcmd: Sequence[str],
) -> None:
    if not isinstance(service_name, str) or not _SERVICE_NAME.fullmatch(service_name):
        raise refuse(
            "service_name",
            service_name,
            "1-24 characters: lowercase letters, digits and '-', "
            "starting with a letter and not ending with '-' (it names a systemd unit and a user)",
        )
    if service_name in _RESERVED_SERVICE_NAMES:
        raise refuse(
            "service_name",
            service_name,
            f"a name not already used on the instance (not one of {sorted(_RESERVED_SERVICE_NAMES)})",
        )
    if isinstance(app_port, bool) or not isinstance(app_port, int) or not 1024 <= app_port <= 65535:
        raise refuse(
            "app_port",
            app_port,
            "an integer 1024-65535 (the app runs as a non-root user without the capability to bind low ports)",
        )
    if app_port == NODE_EXPORTER_PORT:
        raise refuse("app_port", app_port, f"any port but {NODE_EXPORTER_PORT}, which node_exporter listens on")
    if not isinstance(environment, str) or not _ENVIRONMENT.fullmatch(environment):
        raise refuse(
            "environment", environment, "1-32 characters: lowercase letters, digits and '-', starting with a letter"
        )
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise refuse("region", region, "an AWS region name such as 'eu-west-1'")
    if not isinstance(secret_parameters, Mapping):
        raise refuse("secret_parameters", secret_parameters, "a mapping of env var name -> SSM parameter name")
    for env_name, parameter in secret_parameters.items():
        if not isinstance(env_name, str) or not _ENV_VAR.fullmatch(env_name):
            raise refuse(
                "secret_parameters key", env_name, "an env var name: A-Z, 0-9 and '_', not starting with a digit"
            )
        if not isinstance(parameter, str) or len(parameter) > _SSM_NAME_MAX or not _SSM_NAME.fullmatch(parameter):
            raise refuse(
                f"secret_parameters[{env_name!r}]",
                parameter,
                "an SSM parameter NAME (not a value): letters, digits, '_', '.', '-' and '/' "
                "levels such as '/prod/web/db-password'",
            )
    if isinstance(packages, str):
        raise refuse("packages", packages, "a sequence of package names, not one string")
    for package in packages:
        if not isinstance(package, str) or not _PACKAGE.fullmatch(package):
            raise refuse("packages", package, "dnf package names: letters, digits and '._+-'")
    if isinstance(extra_runcmd, str):
        raise refuse("extra_runcmd", extra_runcmd, "a sequence of shell commands, not one string")
    for command in extra_runcmd:
        if not isinstance(command, str) or not command.strip() or "\x00" in command:
            raise refuse("extra_runcmd", command, "non-empty shell command strings")


def _node_exporter_script() -> str:
    url = "https://github.com/prometheus/node_exporter/releases/download/v${version}/${name}.tar.gz"
    return f"""#!/bin/bash
# Installs the pinned node_exporter release; the tarball is checked before anything is extracted.
set -euo pipefail
version={NODE_EXPORTER_VERSION}
case "$(uname -m)" in
  x86_64) arch=amd64; sha={NODE_EXPORTER_SHA256["amd64"]} ;;
  aarch64) arch=arm64; sha={NODE_EXPORTER_SHA256["arm64"]} ;;
  *) echo "node_exporter: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
if /usr/local/bin/node_exporter --version 2>&1 | grep -q "version ${{version}} "; then
  exit 0
fi
name="node_exporter-${{version}}.linux-${{arch}}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 5 --proto '=https' -o "$tmp/$name.tar.gz" "{url}"
echo "$sha  $tmp/$name.tar.gz" | sha256sum --check --strict --quiet -
tar -xzf "$tmp/$name.tar.gz" -C "$tmp" "$name/node_exporter"
install -o root -g root -m 0755 "$tmp/$name/node_exporter" /usr/local/bin/node_exporter
"""


def _node_exporter_unit() -> str:
    return f"""[Unit]
Description=Prometheus node_exporter
Wants=network-online.target
After=network-online.target

[Service]
User={NODE_EXPORTER_USER}
Group={NODE_EXPORTER_USER}
ExecStart=/usr/local/bin/node_exporter --web.listen-address=:{NODE_EXPORTER_PORT}
Restart=on-failure
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
"""


def _secrets_script(service_name: str, region: str, secret_parameters: Mapping[str, str]) -> str:
    lines = [
        "#!/bin/bash",
        "# Reads secrets by NAME at every boot; values only land in a root-only 0600 env file.",
        "set -euo pipefail",
        "umask 077",
        f"install -d -m 0700 -o root -g root /etc/{service_name}",
        f'tmp="$(mktemp -p /etc/{service_name})"',  # same directory: the final mv is atomic
        "trap 'rm -f \"$tmp\"' EXIT",
    ]
    for env_name, parameter in sorted(secret_parameters.items()):
        lines.append(
            f'value="$(aws ssm get-parameter --with-decryption --name {shlex.quote(parameter)} '
            f'--region {region} --query Parameter.Value --output text)"'
        )
        lines.append(f'printf \'%s=%s\\n\' {env_name} "$value" >> "$tmp"')
    lines += [
        'chmod 0600 "$tmp"',
        f'mv -f "$tmp" /etc/{service_name}/secrets.env',
        "trap - EXIT",
    ]
    return "\n".join(lines) + "\n"


def _secrets_unit(service_name: str) -> str:
    return f"""[Unit]
Description=Fetch {service_name} secrets from SSM Parameter Store
Wants=network-online.target
After=network-online.target
Before={service_name}.service

[Service]
Type=oneshot
RemainAfterExit=true
UMask=0077
ExecStart=/usr/local/sbin/{service_name}-fetch-secrets

[Install]
WantedBy=multi-user.target
"""


def app_user(service_name: str) -> str:
    """The non-root user the app runs as (the Ansible playbook uses the same name)."""
    return f"svc-{service_name}"


def _app_unit(service_name: str, app_port: int, environment: str) -> str:
    user = app_user(service_name)
    # Placeholder HTTP service: serves its empty state directory so load balancer checks get a 200.
    return f"""[Unit]
Description={service_name} (hardstack placeholder HTTP service)
Wants=network-online.target
Requires={service_name}-secrets.service
After=network-online.target {service_name}-secrets.service

[Service]
User={user}
Group={user}
EnvironmentFile=/etc/{service_name}/secrets.env
Environment=HARDSTACK_ENVIRONMENT={environment}
StateDirectory={service_name}
WorkingDirectory=/var/lib/{service_name}
ExecStart=/usr/bin/python3 -m http.server {app_port} --bind 0.0.0.0 --directory /var/lib/{service_name}
SyslogIdentifier={service_name}
Restart=on-failure
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectControlGroups=true
RestrictSUIDSGID=true
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
LockPersonality=true
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
"""


def _cloudwatch_config(service_name: str, environment: str) -> str:
    group = f"/hardstack/{environment}/{service_name}"
    config: dict[str, Any] = {
        # Root (the default) is needed to read /var/log/messages.
        "agent": {"metrics_collection_interval": 60},
        "metrics": {
            "namespace": f"hardstack/{environment}",
            "append_dimensions": {
                "InstanceId": "${aws:InstanceId}",
                "AutoScalingGroupName": "${aws:AutoScalingGroupName}",
            },
            "aggregation_dimensions": [["AutoScalingGroupName"]],
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent"]},
                "disk": {"measurement": ["used_percent"], "resources": ["/"]},
            },
        },
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": "/var/log/messages",
                            "log_group_name": f"{group}/system",
                            "log_stream_name": "{instance_id}",
                        },
                        {
                            "file_path": f"/var/log/{service_name}/app.log",
                            "log_group_name": f"{group}/app",
                            "log_stream_name": "{instance_id}",
                        },
                    ]
                }
            }
        },
    }
    return json.dumps(config, indent=2) + "\n"


def render_cloud_init(
    *,
    service_name: str,
    app_port: int,
    environment: str,
    region: str,
    secret_parameters: Mapping[str, str] = _NO_SECRETS,
    packages: Sequence[str] = (),
    extra_runcmd: Sequence[str] = (),
) -> str:
    """Render the `#cloud-config` user data for one fleet instance.

    `secret_parameters` maps env var name -> SSM parameter name; the instance role needs
    ssm:GetParameter (and kms:Decrypt for SecureString) on those names. Secret values must be one line.
    """
    _check_inputs(service_name, app_port, environment, region, secret_parameters, packages, extra_runcmd)
    user = app_user(service_name)
    all_packages = list(dict.fromkeys([*BASE_PACKAGES, *packages]))
    document: dict[str, Any] = {
        "package_update": True,
        "packages": all_packages,
        "users": [
            "default",
            {"name": NODE_EXPORTER_USER, "system": True, "shell": "/sbin/nologin", "no_create_home": True},
            {"name": user, "system": True, "shell": "/sbin/nologin", "no_create_home": True},
        ],
        "write_files": [
            {
                "path": CLOUDWATCH_CONFIG_PATH,
                "owner": "root:root",
                "permissions": "0644",
                "content": _cloudwatch_config(service_name, environment),
            },
            {
                "path": f"/etc/rsyslog.d/{service_name}.conf",
                "owner": "root:root",
                "permissions": "0644",
                "content": f':programname, isequal, "{service_name}" /var/log/{service_name}/app.log\n',
            },
            {
                "path": "/usr/local/sbin/install-node-exporter",
                "owner": "root:root",
                "permissions": "0755",
                "content": _node_exporter_script(),
            },
            {
                "path": "/etc/systemd/system/node_exporter.service",
                "owner": "root:root",
                "permissions": "0644",
                "content": _node_exporter_unit(),
            },
            {
                "path": f"/usr/local/sbin/{service_name}-fetch-secrets",
                "owner": "root:root",
                "permissions": "0700",
                "content": _secrets_script(service_name, region, secret_parameters),
            },
            {
                "path": f"/etc/systemd/system/{service_name}-secrets.service",
                "owner": "root:root",
                "permissions": "0644",
                "content": _secrets_unit(service_name),
            },
            {
                "path": f"/etc/systemd/system/{service_name}.service",
                "owner": "root:root",
                "permissions": "0644",
                "content": _app_unit(service_name, app_port, environment),
            },
        ],
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "rsyslog.service"],
            ["/usr/local/sbin/install-node-exporter"],
            ["systemctl", "enable", "--now", "node_exporter.service"],
            ["systemctl", "enable", "--now", f"{service_name}-secrets.service", f"{service_name}.service"],
            [CLOUDWATCH_CTL, "-a", "fetch-config", "-m", "ec2", "-s", "-c", f"file:{CLOUDWATCH_CONFIG_PATH}"],
            *extra_runcmd,
        ],
    }
    body = yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=4096)
    return validate_user_data("#cloud-config\n" + body)
