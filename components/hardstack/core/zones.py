"""AZ ids of a region: `euw3-az1` names one physical zone of eu-west-3 in every account (zone names
are shuffled per account). No Pulumi import; the mock harness uses it too, so it depends on nothing.
"""

from __future__ import annotations

import re

#: Region words and their letters in AZ ids: eu-west-3 -> euw3, ap-northeast-1 -> apne1, us-gov-west-1 -> usgw1.
_REGION_WORD = re.compile(r"north|south|east|west|central|gov")


def az_id_prefix(region: str) -> str | None:
    """The prefix of the region's AZ ids (`euw3` for eu-west-3), or None for a region outside the scheme."""
    parts = region.split("-")
    if len(parts) < 3 or not parts[-1].isdigit():
        return None
    letters = ""
    for word in parts[1:-1]:
        found = _REGION_WORD.findall(word)
        if "".join(found) != word:
            return None  # a word the AZ id scheme has no letters for (the isolated partitions)
        letters += "".join(w[0] for w in found)
    return f"{parts[0]}{letters}{parts[-1]}"
