"""Boot artefacts: files a host installs at boot, each pinned by version and sha256.

Pure values, no Pulumi import. The fleet copies each artefact into a bucket of the account at
deploy time, so a host's boot reads only from inside the account (through the S3 gateway
endpoint) and checks the sha256 before installing anything: no boot step depends on a public site.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from hardstack.core.errors import refuse

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,39}$")
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_URL = re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9._~/%+-]*$")
#: Machine architectures as `uname -m` prints them, and as release archives name them.
ARCHITECTURES: Mapping[str, str] = MappingProxyType({"x86_64": "amd64", "aarch64": "arm64"})


@dataclass(frozen=True, kw_only=True)
class Artefact:
    """One file a host installs at boot.

    `source_url` is where the deployer fetches it (an https release URL); without it `content`
    holds the file itself (a file shipped with hardstack or the user's project).
    """

    name: str
    """What it is, e.g. node-exporter; part of the object key."""
    version: str
    """Release version; part of the object key, so a new version never overwrites an old one."""
    filename: str
    """File name of the object."""
    sha256: str
    """Expected sha256 (64 lowercase hex): the host refuses any other content."""
    arch: str = "any"
    """Architecture it runs on (amd64, arm64) or `any`."""
    source_url: str | None = None
    """https URL the deployer downloads it from. Default: none (`content` is the file)."""
    content: str | None = None
    """The file itself, for artefacts without a source URL."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise refuse("artefact.name", self.name, "1-40 lower-case letters, digits and '-', starting with a letter")
        where = f"artefact {self.name}"
        if not isinstance(self.version, str) or not _VERSION.match(self.version):
            raise refuse(
                f"{where}: version", self.version, "a release version such as 1.10.2 (letters, digits, '._+-')"
            )
        if not isinstance(self.filename, str) or not _FILENAME.match(self.filename):
            raise refuse(f"{where}: filename", self.filename, "a file name: letters, digits and '._+-'")
        if not isinstance(self.sha256, str) or not _SHA256.match(self.sha256):
            raise refuse(
                f"{where}: sha256",
                self.sha256,
                "the artefact's sha256, 64 lower-case hex digits (from the release's checksum file): "
                "a host installs nothing it cannot verify",
            )
        if self.arch != "any" and self.arch not in ARCHITECTURES.values():
            raise refuse(f"{where}: arch", self.arch, f"one of {sorted(ARCHITECTURES.values())} or 'any'")
        if (self.source_url is None) == (self.content is None):
            raise refuse(f"{where}: source_url", self.source_url, "exactly one of source_url and content")
        if self.source_url is not None and not _URL.match(self.source_url):
            raise refuse(f"{where}: source_url", self.source_url, "an https URL without query or credentials")
        if self.content is not None and sha256_hex(self.content) != self.sha256:
            raise refuse(f"{where}: sha256", self.sha256, f"the sha256 of its content, {sha256_hex(self.content)}")

    @property
    def key(self) -> str:
        """Object key in the artefact bucket: versioned, so hosts of two versions can coexist."""
        return f"artefacts/{self.name}/{self.version}/{self.arch}/{self.filename}"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


NODE_EXPORTER_VERSION = "1.10.2"
# sha256 of the official release tarballs, from the release's sha256sums.txt.
NODE_EXPORTER_SHA256: Mapping[str, str] = MappingProxyType(
    {
        "amd64": "c46e5b6f53948477ff3a19d97c58307394a29fe64a01905646f026ddc32cb65b",
        "arm64": "de69ec8341c8068b7c8e4cfe3eb85065d24d984a3b33007f575d307d13eb89a6",
    }
)


def node_exporter(arch: str) -> Artefact:
    name = f"node_exporter-{NODE_EXPORTER_VERSION}.linux-{arch}"
    return Artefact(
        name="node-exporter",
        version=NODE_EXPORTER_VERSION,
        filename=f"{name}.tar.gz",
        sha256=NODE_EXPORTER_SHA256.get(arch, ""),
        arch=arch,
        source_url=(
            f"https://github.com/prometheus/node_exporter/releases/download/v{NODE_EXPORTER_VERSION}/{name}.tar.gz"
        ),
    )


#: Version of the reference service hardstack ships for the fleet (`hardstack/assets/fleet_app.py`).
FLEET_APP_VERSION = "1.0.0"


def fleet_app() -> Artefact:
    """The reference HTTP service: /, /readyz, /healthz, and Prometheus metrics on its own port."""
    content = resources.files("hardstack.assets").joinpath("fleet_app.py").read_text(encoding="utf-8")
    return Artefact(
        name="fleet-app",
        version=FLEET_APP_VERSION,
        filename="fleet_app.py",
        sha256=sha256_hex(content),
        content=content,
    )
