"""The EBS volume behind a Kubernetes claim, read from the account before any resource registers.

Creates nothing. `claim_volume_gb` answers "how large is the disk of this claim now?", so a program
can refuse a shrink and keep what depends on the size (Prometheus's retention size) within the disk
that exists while a larger one is being applied.

How the volume is found: the EBS CSI driver tags each volume it provisions with the claim's name and
namespace (`kubernetes.io/created-for/pvc/name`, `.../namespace`) when its provisioner sidecar runs
with `--extra-create-metadata`, which the driver's chart and the EKS add-on enable by default; and
with any extra tags it is configured with (`controller.extraVolumeTags`), which hardstack clusters
set to the stack's own tags. The claim's tags alone do not tell two clusters of one account and
region apart, so `scope` (the stack's tags) picks this stack's volume; a volume made before the
driver carried the scope is taken only when it is the claim's sole volume without any stack's tags.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from hardstack.aws.network import invoke_options
from hardstack.core.errors import HardstackError

#: Tags the EBS CSI driver puts on the volumes it provisions for a claim (with --extra-create-metadata).
PVC_NAME_TAG = "kubernetes.io/created-for/pvc/name"
PVC_NAMESPACE_TAG = "kubernetes.io/created-for/pvc/namespace"


def claim_tags(namespace: str, claim: str) -> dict[str, str]:
    """The driver's tags on the volume of claim `namespace/claim`."""
    return {PVC_NAMESPACE_TAG: namespace, PVC_NAME_TAG: claim}


def claim_volume_gb(
    namespace: str,
    claim: str,
    scope: Mapping[str, str],
    opts: pulumi.ResourceOptions | None,
    where: str = "claim volume",
) -> int | None:
    """Size in GiB of the EBS volume of claim `namespace/claim` in this stack, None when there is none
    yet (a first `up`, or a claim not yet made). Blocking invokes, meant to run before any resource.

    A claim that was deleted and made again under `Retain` leaves its old volume behind with the same
    tags: the newest is the one bound now. One invoke when the claim has no volume, one more per volume.
    """
    invoke = invoke_options(opts)
    found = aws.ebs.get_ebs_volumes(tags=claim_tags(namespace, claim), opts=invoke).ids or []
    if not found:
        return None  # one invoke on a first `up`
    volumes = [aws.ebs.get_volume(filters=[_ids([i])], opts=invoke) for i in sorted(found)]
    ours = [v for v in volumes if all((v.tags or {}).get(k) == value for k, value in scope.items())]
    if ours:
        return int(max(ours, key=lambda v: str(v.create_time)).size)
    # Volumes made before the driver tagged them with the stack: only one carrying no stack's tags
    # can be this stack's, and only if it is the claim's only such volume.
    unscoped = [v for v in volumes if not set(scope) & set(v.tags or {})]
    if len(unscoped) > 1:
        ids = ", ".join(str(v.volume_id) for v in unscoped)
        tagging = " ".join(f"Key={k},Value={v}" for k, v in sorted(scope.items()))
        raise HardstackError(
            f"{where}: several EBS volumes of claim {namespace}/{claim} in this region carry no stack's tags "
            f"({ids}), so which one is this stack's is unknown: tag it with "
            f"`aws ec2 create-tags --resources <volume id> --tags {tagging}`"
        )
    return int(unscoped[0].size) if unscoped else None


def _ids(ids: list[str]) -> aws.ebs.GetVolumeFilterArgs:
    return aws.ebs.GetVolumeFilterArgs(name="volume-id", values=sorted(ids))
