"""Names AWS shows: every alias, log group, cluster, database and alarm name comes from one `Naming`.

No Pulumi import. The default prefix is the Pulumi project and stack, so two stacks (or two
projects) in one account never collide; a company convention replaces it with its own segments or
function. Segments AWS would refuse somewhere (a dot breaks a KMS alias) are refused up front.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hardstack.core.errors import refuse

#: A Kubernetes namespace or object name (RFC 1123 label).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: What every AWS name we make accepts: KMS aliases are the strictest (letters, digits, '/', '_', '-').
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def validate_segment(value: object, where: str) -> str:
    if not isinstance(value, str) or not _SEGMENT.match(value):
        raise refuse(
            where,
            value,
            "1 to 40 letters, digits, '_' or '-', starting with a letter or digit "
            "(it becomes part of KMS aliases, log groups and resource names, which refuse other characters)",
        )
    return value


@dataclass(frozen=True)
class Naming:
    """How hardstack names what AWS shows.

    `Naming(("acme", "payments", "prod"))` names a cluster `acme-payments-prod-eks`, a KMS alias
    `alias/acme/payments/prod/logs` and a log group `/acme/payments/prod/net/vpc-flow-logs`.
    `formatter`, when given, replaces the dash-joined form: `formatter(segments, name)` returns the
    flat name (it must stay within what AWS accepts; hardstack still checks length and characters).
    """

    segments: Sequence[str]
    """Prefix segments, e.g. (project, stack)."""
    formatter: Callable[[Sequence[str], str], str] | None = field(default=None, compare=False)
    """Optional company naming function for flat names. Default: segments and name joined by '-'."""

    def __post_init__(self) -> None:
        if isinstance(self.segments, str) or not self.segments:
            raise refuse("naming.segments", self.segments, "a non-empty sequence of name segments")
        object.__setattr__(self, "segments", tuple(self.segments))
        for i, seg in enumerate(self.segments):
            validate_segment(seg, f"naming.segments[{i}]")

    @classmethod
    def of(cls, project: str, stack: str) -> Naming:
        """The default: project and stack, each checked (a stack name with a dot is refused here)."""
        return cls((validate_segment(project, "Pulumi project name"), validate_segment(stack, "Pulumi stack name")))

    def flat(self, name: str, max_length: int = 255, where: str = "name") -> str:
        """A flat name (cluster, RDS identifier, alarm): `<segments>-<name>`, at most `max_length`."""
        text = self.formatter(self.segments, name) if self.formatter else "-".join([*self.segments, name])
        if len(text) > max_length:
            raise refuse(where, text, f"at most {max_length} characters for this AWS name: shorten the prefix or name")
        return text

    def path(self, *parts: str, lead: str = "/") -> str:
        """A path name (log group, KMS alias, SSM): `<lead><segments>/<parts>`."""
        return lead + "/".join([*self.segments, *parts])

    def alias(self, name: str) -> str:
        """A KMS alias name."""
        return self.path(name, lead="alias/")

    def kubernetes(self, name: str, where: str = "name") -> str:
        """A cluster-wide Kubernetes name (namespace, StorageClass): `<segments>-<name>` as a DNS label,
        for a cluster that stacks share. Refused when longer than 63 characters."""
        text = "-".join([*self.segments, name]).lower().replace("_", "-")
        if len(text) > 63 or not _DNS_LABEL.match(text):
            raise refuse(where, text, "a DNS label of at most 63 characters: shorten the prefix or name")
        return text

    def digest(self, length: int = 8) -> str:
        """A short, stable hex digest of the prefix, for names a chart truncates (Helm release names)."""
        return hashlib.sha256("/".join(self.segments).encode()).hexdigest()[:length]
