"""ACM certificate ARNs, checked before any resource (no Pulumi): the fleet's load balancer and the
app's Ingress take the same ones."""

from __future__ import annotations

import re

from hardstack.core.errors import refuse

_CERT_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)


def validate_certificate_arn(
    arn: str, where: str = "certificate_arn", region: str | None = None, region_key: str = "region"
) -> str:
    """An ACM certificate ARN, in `region` when given (`region_key` is what errors call the region)."""
    if not isinstance(arn, str) or not _CERT_ARN.match(arn):
        raise refuse(where, arn, "an ACM certificate ARN, arn:aws:acm:<region>:<account>:certificate/<uuid>")
    # ACM certificates are regional: a load balancer uses only certificates of its own region.
    if region is not None and arn.split(":")[3] != region:
        raise refuse(
            where,
            arn,
            f"a certificate in {region} ({region_key}), where the load balancer is: ACM certificates are "
            "regional, request or import one there",
        )
    return arn
