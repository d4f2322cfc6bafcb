"""What a fleet host (Amazon Linux 2023) runs, as one `HostState` rendered two ways.

Pure functions: nothing here registers a Pulumi resource. `host_state` describes the host:
packages, users, files, boot artefacts and services. `render_cloud_init` turns it into the
`#cloud-config` user data a new instance boots with; `ansible_vars` into the variables the
playbook converges a running host with, so both produce the same host by construction.

Boot cannot half-succeed: one script, `set -euo pipefail`, installs the artefacts from the
account's artefact bucket (sha256 checked), starts the services and waits for the app's readiness
endpoint; a unit ordered after cloud-init marks the instance unhealthy in its Auto Scaling group
when any boot stage failed, so the group replaces it.

User data is readable by anyone who may describe the instance, so it carries parameter NAMES
only; values are read at boot from SSM Parameter Store into a root-only env file, and
`validate_user_data` refuses anything secret-looking.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from hardstack.core import envfile
from hardstack.core.artefacts import ARCHITECTURES, Artefact, fleet_app, node_exporter
from hardstack.core.errors import refuse

# AWS refuses user data over 16 KB (counted before base64 encoding).
USER_DATA_LIMIT_BYTES = 16384

NODE_EXPORTER_PORT = 9100
NODE_EXPORTER_USER = "node_exporter"
#: Port the app serves Prometheus metrics on (podinfo's and the reference service's default).
DEFAULT_METRICS_PORT = 9797

# rsyslog copies the journal to files because the CloudWatch agent only tails files; logrotate
# keeps the app's file bounded.
BASE_PACKAGES: tuple[str, ...] = (
    "amazon-cloudwatch-agent",
    "amazon-ec2-utils",
    "rsyslog",
    "logrotate",
    "python3",
    "tar",
    "gzip",
)
CLOUDWATCH_CONFIG_PATH = "/etc/hardstack/amazon-cloudwatch-agent.json"
CLOUDWATCH_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
BOOT_SCRIPT = "/usr/local/sbin/hardstack-boot"
BOOT_CHECK_UNIT = "hardstack-boot-check.service"
ARTEFACT_CACHE = "/var/cache/hardstack"
#: Log streams the CloudWatch agent writes: (log group suffix, file it tails).
LOG_SOURCES = ("system", "app")
_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~/-]{0,254}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_GROUP = re.compile(r"^[A-Za-z0-9_/.#-]{1,512}$")

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
# Variables the unit sets itself; a parameter of the same name would be silently overridden.
_RESERVED_ENV = frozenset({"HARDSTACK_ENVIRONMENT"})
# SSM parameter names: letters, digits, `_.-` and `/` levels; 1011 is the longest a path may be.
_SSM_NAME = re.compile(r"^(?:/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$")
_SSM_NAME_MAX = 1011


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
        if not isinstance(env_name, str) or not _ENV_VAR.fullmatch(env_name) or env_name in _RESERVED_ENV:
            raise refuse(
                "secret_parameters key",
                env_name,
                f"an env var name: A-Z, 0-9 and '_', not starting with a digit, not {sorted(_RESERVED_ENV)}",
            )
        validate_parameter_name(parameter, f"secret_parameters[{env_name!r}]")
    if isinstance(packages, str):
        raise refuse("packages", packages, "a sequence of package names, not one string")
    for package in packages:
        if not isinstance(package, str) or not _PACKAGE.fullmatch(package):
            raise refuse("packages", package, "dnf package names: letters, digits and '._+-'")
    if isinstance(extra_runcmd, str):
        raise refuse("extra_runcmd", extra_runcmd, "a sequence of shell commands, not one string")
    for command in extra_runcmd:
        if not isinstance(command, str) or not command.strip() or "\x00" in command or "\n" in command:
            raise refuse("extra_runcmd", command, "non-empty one-line shell command strings")


def validate_parameter_name(value: object, where: str) -> str:
    """An SSM parameter NAME as GetParameters takes it: `/a/b-c` or `a.b`, at most 1011 characters."""
    if (
        not isinstance(value, str)
        or len(value) > _SSM_NAME_MAX
        or not _SSM_NAME.fullmatch(value)
        or value.lower().startswith(("/aws", "aws", "/ssm", "ssm"))
    ):
        raise refuse(
            where,
            value,
            "an SSM parameter NAME (not a value): letters, digits, '_', '.', '-' and '/' "
            "levels such as '/prod/web/db-password', not starting with aws or ssm (reserved by AWS)",
        )
    return value


@dataclass(frozen=True, kw_only=True)
class FleetBoot:
    """What a fleet's hosts run: the service, its ports, its artefact and the names of its secrets."""

    environment: str
    """Environment name (the app's HARDSTACK_ENVIRONMENT and the metrics namespace)."""
    region: str
    """AWS region the hosts call (SSM, S3, Auto Scaling)."""
    service_name: str = "app"
    """systemd unit, user (`svc-<name>`) and log file name. Default: app."""
    app_port: int = 8080
    """Port the app serves HTTP on (the load balancer's target port). Default: 8080."""
    metrics_port: int = DEFAULT_METRICS_PORT
    """Port the app serves Prometheus metrics on. Default: 9797."""
    health_path: str = "/readyz"
    """The app's readiness path: boot waits for it and the load balancer checks it. Default: /readyz."""
    app: Artefact = field(default_factory=fleet_app)
    """The app: one executable taking `--port` and `--metrics-port`. Default: hardstack's reference service."""
    secret_parameters: Mapping[str, str] = field(default_factory=dict)
    """Env var name -> SSM parameter name, read at boot into a root-only env file. Default: none."""
    packages: Sequence[str] = ()
    """Extra dnf packages. Default: none."""
    extra_runcmd: Sequence[str] = ()
    """Extra one-line shell commands run at the end of boot, before the readiness wait. Default: none."""
    proxied_ports: Sequence[int] = ()
    """Former app ports still served, proxied to `app_port` (systemd-socket-proxyd), while the load
    balancer moves to the new port. Default: none."""

    def __post_init__(self) -> None:
        _check_inputs(
            self.service_name,
            self.app_port,
            self.environment,
            self.region,
            self.secret_parameters,
            self.packages,
            self.extra_runcmd,
        )
        port = self.metrics_port
        if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
            raise refuse("metrics_port", port, "an integer 1024-65535")
        if port in (self.app_port, NODE_EXPORTER_PORT):
            raise refuse("metrics_port", port, f"a port other than app_port ({self.app_port}) and {NODE_EXPORTER_PORT}")
        if not isinstance(self.health_path, str) or not _HEALTH_PATH.match(self.health_path):
            raise refuse("health_path", self.health_path, "an absolute URL path such as /readyz")
        for old in self.proxied_ports:
            if isinstance(old, bool) or not isinstance(old, int) or not 1024 <= old <= 65535:
                raise refuse("proxied_ports", old, "ports 1024-65535")
            if old in (self.app_port, self.metrics_port, NODE_EXPORTER_PORT):
                raise refuse("proxied_ports", old, "a former app port, not app_port, metrics_port or 9100")
        if not isinstance(self.app, Artefact):
            raise refuse("app", self.app, "a hardstack.core.artefacts.Artefact (version, sha256 and source)")
        object.__setattr__(self, "secret_parameters", MappingProxyType(dict(self.secret_parameters)))
        object.__setattr__(self, "packages", tuple(self.packages))
        object.__setattr__(self, "extra_runcmd", tuple(self.extra_runcmd))
        object.__setattr__(self, "proxied_ports", tuple(sorted(set(self.proxied_ports))))

    @property
    def artefacts(self) -> tuple[Artefact, ...]:
        """Every file the hosts install at boot, for every architecture."""
        return (*(node_exporter(arch) for arch in ARCHITECTURES.values()), self.app)

    @property
    def user(self) -> str:
        return app_user(self.service_name)


@dataclass(frozen=True, kw_only=True)
class HostPlacement:
    """Where a fleet's hosts find their artefacts and send their logs (resources of the fleet)."""

    artefact_bucket: str
    """Bucket holding the artefacts under their keys."""
    log_groups: Mapping[str, str]
    """Log group per source in LOG_SOURCES (system, app): created by the stack, never by the agent."""

    def __post_init__(self) -> None:
        if not _BUCKET.match(self.artefact_bucket):
            raise refuse("artefact_bucket", self.artefact_bucket, "an S3 bucket name")
        if sorted(self.log_groups) != sorted(LOG_SOURCES):
            raise refuse("log_groups", sorted(self.log_groups), f"exactly the sources {list(LOG_SOURCES)}")
        for source, group in self.log_groups.items():
            if not _LOG_GROUP.match(group):
                raise refuse(f"log_groups[{source!r}]", group, "a CloudWatch log group name")


@dataclass(frozen=True)
class HostFile:
    path: str
    content: str
    permissions: str = "0644"
    #: Units to restart when the file changes (the playbook's restarts; boot starts everything).
    restarts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Install:
    """An artefact installed at `dest`; with `member`, that file of the tarball is installed."""

    artefact: Artefact
    dest: str
    member: str | None = None


@dataclass(frozen=True)
class HostState:
    """The converged state of one host: cloud-init builds it at boot, the playbook keeps it."""

    packages: tuple[str, ...]
    users: tuple[str, ...]
    files: tuple[HostFile, ...]
    installs: tuple[Install, ...]
    services: tuple[str, ...]
    region: str
    bucket: str
    ready_url: str


def app_user(service_name: str) -> str:
    """The non-root user the app runs as."""
    return f"svc-{service_name}"


def _installs(boot: FleetBoot) -> tuple[Install, ...]:
    installs = []
    for artefact in boot.artefacts:
        if artefact.name == "node-exporter":
            root = artefact.filename.removesuffix(".tar.gz")
            # One path for both architectures: a host installs only its own.
            dest = f"/opt/node_exporter/{artefact.version}/node_exporter"
            installs.append(Install(artefact, dest, member=f"{root}/node_exporter"))
        else:
            installs.append(Install(artefact, f"/opt/{boot.service_name}/{artefact.version}/{artefact.filename}"))
    return tuple(installs)


#: The sandbox every service unit of the host runs in (no privilege gain, read-only system, no home).
_SANDBOX = """NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
"""


def _node_exporter_unit(binary: str) -> str:
    return f"""[Unit]
Description=Prometheus node_exporter
Wants=network-online.target
After=network-online.target

[Service]
User={NODE_EXPORTER_USER}
Group={NODE_EXPORTER_USER}
ExecStart={binary} --web.listen-address=:{NODE_EXPORTER_PORT}
Restart=on-failure
{_SANDBOX}CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
"""


def _secrets_script(boot: FleetBoot) -> str:
    """Python 3 (the host's /usr/bin/python3): reads the parameters by NAME, writes them quoted."""
    # Pairs, not a dict literal: `NAME: "/param"` would read as a credential assignment to the scan.
    parameters = json.dumps([list(pair) for pair in sorted(boot.secret_parameters.items())])
    quote = inspect.getsource(envfile.quote_env_value)
    return f'''#!/usr/bin/python3
"""Reads the {boot.service_name} parameters by NAME at every boot into a root-only env file (argv[1])."""
import json
import os
import subprocess
import sys
import tempfile

REGION = {boot.region!r}
PARAMETERS = dict({parameters})


{quote}

def main(dest):
    names = sorted(set(PARAMETERS.values()))
    values = {{}}
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        out = subprocess.run(
            ["aws", "ssm", "get-parameters", "--with-decryption", "--region", REGION, "--output", "json",
             "--names", *names[start:start + 10]],
            check=True, capture_output=True, text=True,
        ).stdout
        answer = json.loads(out)
        if answer.get("InvalidParameters"):
            sys.exit("missing SSM parameters: " + ", ".join(answer["InvalidParameters"]))
        values.update((p["Name"], p["Value"]) for p in answer["Parameters"])
    os.umask(0o077)
    folder = os.path.dirname(dest)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder)  # same directory: the rename below is atomic
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out_file:
            for env, name in sorted(PARAMETERS.items()):
                out_file.write(env + "=" + quote_env_value(values[name]) + "\\n")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


if __name__ == "__main__":
    main(sys.argv[1])
'''


def secrets_file(service_name: str) -> str:
    return f"/etc/{service_name}/secrets.env"


def _secrets_unit(boot: FleetBoot) -> str:
    return f"""[Unit]
Description=Fetch {boot.service_name} parameters from SSM Parameter Store
Wants=network-online.target
After=network-online.target
Before={boot.service_name}.service

[Service]
Type=oneshot
RemainAfterExit=true
UMask=0077
ExecStart=/usr/local/sbin/{boot.service_name}-fetch-secrets {secrets_file(boot.service_name)}

[Install]
WantedBy=multi-user.target
"""


def _app_unit(boot: FleetBoot, binary: str) -> str:
    return f"""[Unit]
Description={boot.service_name} {boot.app.version}
Wants=network-online.target
Requires={boot.service_name}-secrets.service
After=network-online.target {boot.service_name}-secrets.service

[Service]
User={boot.user}
Group={boot.user}
EnvironmentFile={secrets_file(boot.service_name)}
Environment=HARDSTACK_ENVIRONMENT={boot.environment}
StateDirectory={boot.service_name}
WorkingDirectory=/var/lib/{boot.service_name}
ExecStart={binary} --port={boot.app_port} --metrics-port={boot.metrics_port}
# The app drains on SIGTERM (readiness fails, requests in flight finish) before it exits.
TimeoutStopSec=60
SyslogIdentifier={boot.service_name}
Restart=on-failure
{_SANDBOX}ProtectKernelTunables=true
ProtectKernelModules=true
ProtectControlGroups=true
RestrictSUIDSGID=true
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
LockPersonality=true
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
"""


def _proxy_units(boot: FleetBoot, old: int) -> tuple[HostFile, HostFile]:
    """A socket on a former port handing each connection to the app: hosts keep answering the load
    balancer's old target group while it moves to the new port."""
    unit = f"{boot.service_name}-port-{old}"
    socket = f"""[Unit]
Description={boot.service_name} on its former port {old}

[Socket]
ListenStream={old}

[Install]
WantedBy=sockets.target
"""
    service = f"""[Unit]
Description=Forward {boot.service_name}'s former port {old} to {boot.app_port}
Requires={boot.service_name}.service
After={boot.service_name}.service

[Service]
ExecStart=/usr/lib/systemd/systemd-socket-proxyd 127.0.0.1:{boot.app_port}
DynamicUser=true
{_SANDBOX}CapabilityBoundingSet=
"""
    return (
        HostFile(f"/etc/systemd/system/{unit}.socket", socket, restarts=(f"{unit}.socket",)),
        HostFile(f"/etc/systemd/system/{unit}.service", service),
    )


def app_log_file(service_name: str) -> str:
    return f"/var/log/{service_name}/app.log"


def _rsyslog_rule(service_name: str) -> str:
    # `stop` keeps the app's lines out of /var/log/messages: each line is shipped once.
    return f':programname, isequal, "{service_name}" {app_log_file(service_name)}\n& stop\n'


def _logrotate(service_name: str) -> str:
    # delaycompress: the CloudWatch agent finishes reading the rotated file before it is compressed.
    return f"""{app_log_file(service_name)} {{
    daily
    maxsize 100M
    rotate 7
    missingok
    notifempty
    compress
    delaycompress
    postrotate
        /usr/bin/systemctl kill -s HUP rsyslog.service >/dev/null 2>&1 || true
    endscript
}}
"""


def _cloudwatch_config(boot: FleetBoot, placement: HostPlacement) -> str:
    files = {"system": "/var/log/messages", "app": app_log_file(boot.service_name)}
    config: dict[str, Any] = {
        # Root (the default) is needed to read /var/log/messages.
        "agent": {"metrics_collection_interval": 60},
        "metrics": {
            "namespace": metrics_namespace(boot.environment),
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
                    # No retention_in_days: the groups are the stack's, with the stack's retention and key.
                    "collect_list": [
                        {
                            "file_path": files[source],
                            "log_group_name": placement.log_groups[source],
                            "log_stream_name": "{instance_id}",
                        }
                        for source in LOG_SOURCES
                    ]
                }
            }
        },
    }
    return json.dumps(config, indent=2) + "\n"


def metrics_namespace(environment: str) -> str:
    """The CloudWatch namespace the agent publishes host metrics in (the role may publish only there)."""
    return f"hardstack/{environment}"


def _install_script() -> str:
    return f"""#!/bin/bash
# hardstack-install-artefact KEY SHA256 DEST [MEMBER] (reads BUCKET and REGION from the environment):
# copies an artefact from the account's bucket and installs it only if its sha256 matches.
set -euo pipefail
key="$1" sha="$2" dest="$3" member="${{4:-}}"
install -d -m 0755 {ARTEFACT_CACHE} "$(dirname "$dest")"
tmp="$(mktemp -d -p {ARTEFACT_CACHE})"
trap 'rm -rf "$tmp"' EXIT
aws s3 cp --only-show-errors --region "$REGION" "s3://$BUCKET/$key" "$tmp/artefact"
if ! echo "$sha  $tmp/artefact" | sha256sum --check --strict --quiet -; then
  echo "artefact $key does not match its pinned sha256 $sha" >&2
  exit 1
fi
if [ -n "$member" ]; then
  tar -xzf "$tmp/artefact" -C "$tmp" "$member"
  install -o root -g root -m 0755 "$tmp/$member" "$dest"
else
  install -o root -g root -m 0755 "$tmp/artefact" "$dest"
fi
"""


def _boot_script(state: HostState, extra_runcmd: Sequence[str]) -> str:
    by_arch: dict[str, list[str]] = {arch: [] for arch in ARCHITECTURES.values()}
    for item in state.installs:
        archs = list(by_arch) if item.artefact.arch == "any" else [item.artefact.arch]
        line = " ".join(
            shlex.quote(part)
            for part in ("install_artefact", item.artefact.key, item.artefact.sha256, item.dest, item.member or "")
        )
        for arch in archs:
            by_arch[arch].append(line)
    cases = "\n".join(
        f"  {machine})\n" + "".join(f"    {line}\n" for line in by_arch[arch]) + "    ;;"
        for machine, arch in ARCHITECTURES.items()
    )
    extra = "".join(f"{command}\n" for command in extra_runcmd)
    return f"""#!/bin/bash
# Boot configuration: any failure stops it, and {BOOT_CHECK_UNIT} then marks the instance
# unhealthy so its Auto Scaling group replaces it. Everything comes from inside the account.
set -euo pipefail
export REGION={state.region} BUCKET={state.bucket}
# cloud-init's package stage can fail without failing the boot: check what the host needs.
rpm -q {" ".join(state.packages)} >/dev/null
install_artefact() {{
  [ -x "$3" ] || /usr/local/sbin/hardstack-install-artefact "$@"
}}
case "$(uname -m)" in
{cases}
  *) echo "no artefacts pinned for $(uname -m)" >&2; exit 1 ;;
esac
systemctl daemon-reload
systemctl enable --now {" ".join(state.services)}
{CLOUDWATCH_CTL} -a fetch-config -m ec2 -s -c file:{CLOUDWATCH_CONFIG_PATH}
{extra}# Ready means serving: the endpoint the load balancer checks.
for _ in $(seq 1 90); do
  if curl -fsS -o /dev/null {state.ready_url}; then
    exit 0
  fi
  sleep 2
done
echo "the app is not ready at {state.ready_url} after 3 minutes" >&2
exit 1
"""


def _boot_check_script(region: str) -> str:
    return f"""#!/bin/bash
# Runs after cloud-init: a failed boot marks this instance unhealthy, so the group replaces it.
set -uo pipefail
cloud-init status --wait >/dev/null 2>&1
rc=$?
# 0: done; 2: done with recoverable errors (deprecation warnings, cloud-init 23.4 and later).
if [ "$rc" -ne 1 ]; then
  exit 0
fi
# ec2-metadata (amazon-ec2-utils) speaks IMDSv2, the only version the launch template allows.
id="$(ec2-metadata --instance-id | cut -d ' ' -f 2)"
echo "boot configuration failed (cloud-init status: error): marking $id unhealthy" |
  systemd-cat -t hardstack-boot -p err
exec aws autoscaling set-instance-health --region {region} --instance-id "$id" \\
  --health-status Unhealthy --no-should-respect-grace-period
"""


_BOOT_CHECK = """[Unit]
Description=Mark this instance unhealthy when its boot configuration failed
After=cloud-final.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hardstack-boot-check
"""


def host_state(boot: FleetBoot, placement: HostPlacement) -> HostState:
    """The state a fleet host converges to, from what it runs and where its artefacts and logs live."""
    svc = boot.service_name
    installs = _installs(boot)
    app_binary = next(i.dest for i in installs if i.artefact == boot.app)
    exporter = next(i.dest for i in installs if i.artefact.name == "node-exporter")
    app_restart = (f"{svc}.service",)
    files = (
        HostFile(CLOUDWATCH_CONFIG_PATH, _cloudwatch_config(boot, placement), restarts=("amazon-cloudwatch-agent",)),
        HostFile(f"/etc/rsyslog.d/{svc}.conf", _rsyslog_rule(svc), restarts=("rsyslog.service",)),
        HostFile(f"/etc/logrotate.d/{svc}", _logrotate(svc)),
        HostFile("/usr/local/sbin/hardstack-install-artefact", _install_script(), "0755"),
        HostFile(
            "/etc/systemd/system/node_exporter.service",
            _node_exporter_unit(exporter),
            restarts=("node_exporter.service",),
        ),
        HostFile(f"/usr/local/sbin/{svc}-fetch-secrets", _secrets_script(boot), "0700", (f"{svc}-secrets.service",)),
        HostFile(
            f"/etc/systemd/system/{svc}-secrets.service", _secrets_unit(boot), restarts=(f"{svc}-secrets.service",)
        ),
        HostFile(f"/etc/systemd/system/{svc}.service", _app_unit(boot, app_binary), restarts=app_restart),
        HostFile("/usr/local/sbin/hardstack-boot-check", _boot_check_script(boot.region), "0755"),
        HostFile(f"/etc/systemd/system/{BOOT_CHECK_UNIT}", _BOOT_CHECK),
        *(unit for old in boot.proxied_ports for unit in _proxy_units(boot, old)),
    )
    return HostState(
        packages=tuple(dict.fromkeys([*BASE_PACKAGES, *boot.packages])),
        users=(NODE_EXPORTER_USER, boot.user),
        files=files,
        installs=installs,
        services=(
            "rsyslog.service",
            "node_exporter.service",
            f"{svc}-secrets.service",
            f"{svc}.service",
            *(f"{svc}-port-{old}.socket" for old in boot.proxied_ports),
        ),
        region=boot.region,
        bucket=placement.artefact_bucket,
        ready_url=f"http://127.0.0.1:{boot.app_port}{boot.health_path}",
    )


def render_cloud_init(boot: FleetBoot, placement: HostPlacement) -> str:
    """The `#cloud-config` user data for one fleet instance.

    The instance role needs ssm:GetParameters (and kms:Decrypt through SSM) on the parameter
    names, s3:GetObject on the artefact keys, and autoscaling:SetInstanceHealth on its group.
    """
    state = host_state(boot, placement)
    document: dict[str, Any] = {
        "package_update": True,
        "packages": list(state.packages),
        "users": [
            "default",
            *({"name": user, "system": True, "shell": "/sbin/nologin", "no_create_home": True} for user in state.users),
        ],
        "write_files": [
            {"path": f.path, "owner": "root:root", "permissions": f.permissions, "content": f.content}
            for f in (*state.files, HostFile(BOOT_SCRIPT, _boot_script(state, boot.extra_runcmd), "0700"))
        ],
        # runcmd is one sh script whose status is its last command's: the boot script's, so a
        # failed boot fails cloud-init, which the boot check (started first) turns into "unhealthy".
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "start", "--no-block", BOOT_CHECK_UNIT],
            [BOOT_SCRIPT],
        ],
    }
    body = yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=4096)
    return validate_user_data("#cloud-config\n" + body)


def ansible_vars(boot: FleetBoot, placement: HostPlacement) -> dict[str, Any]:
    """The playbook's variables for the same host state the user data boots (see ansible/playbook.yml)."""
    state = host_state(boot, placement)
    artefacts: dict[str, list[dict[str, str]]] = {arch: [] for arch in ARCHITECTURES.values()}
    for item in state.installs:
        for arch in artefacts if item.artefact.arch == "any" else [item.artefact.arch]:
            entry = {"key": item.artefact.key, "sha256": item.artefact.sha256, "dest": item.dest}
            artefacts[arch].append({**entry, "member": item.member or ""})
    return {
        "hardstack_region": state.region,
        "hardstack_bucket": state.bucket,
        "hardstack_packages": list(state.packages),
        "hardstack_users": list(state.users),
        "hardstack_files": [
            {"path": f.path, "content": f.content, "mode": f.permissions, "restarts": list(f.restarts)}
            for f in state.files
            if f.path != CLOUDWATCH_CONFIG_PATH
        ],
        "hardstack_cloudwatch_config": next(f.content for f in state.files if f.path == CLOUDWATCH_CONFIG_PATH),
        "hardstack_cloudwatch_config_path": CLOUDWATCH_CONFIG_PATH,
        "hardstack_cloudwatch_ctl": CLOUDWATCH_CTL,
        "hardstack_artefacts": artefacts,
        "hardstack_services": list(state.services),
        "hardstack_ready_url": state.ready_url,
    }
