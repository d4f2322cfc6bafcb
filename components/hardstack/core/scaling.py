"""The size a managed node group is given on an `up`, from the sizes it runs with now (no Pulumi).

EKS keeps `minSize <= desiredSize <= maxSize` and UpdateNodegroupConfig sends all three together:
new bounds with the desired size Pulumi last recorded (the autoscaler moved it since) fail when that
size is outside them, or scale the group back to a stale count. A replacement group starts at its
`desiredSize`, not at the size the group it replaces has grown to.
"""

from __future__ import annotations

from typing import NamedTuple


class LiveScaling(NamedTuple):
    """A node group's sizes as EKS reports them now."""

    min_size: int
    max_size: int
    desired_size: int


class Scaling(NamedTuple):
    """What to register: the desired size, and whether later changes to it are left to the autoscaler."""

    desired_size: int
    autoscaler_owns_desired: bool


def node_group_scaling(live: LiveScaling | None, min_size: int, max_size: int, desired_size: int) -> Scaling:
    """The desired size of a group with bounds `min_size`..`max_size` (checked by the caller).

    A new group (`live` None) starts at `desired_size`. A running one keeps the size it runs at,
    moved into the new bounds: a replacement then starts at the capacity the old group serves with,
    and a change of bounds sends a desired size that fits them. While the bounds stay, the
    autoscaler owns the desired size and nothing sends it.
    """
    if live is None:
        return Scaling(desired_size, True)
    size = min(max(live.desired_size, min_size), max_size)
    return Scaling(size, (live.min_size, live.max_size) == (min_size, max_size))
