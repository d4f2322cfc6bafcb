"""Tag rules AWS enforces, checked before any resource: no reserved prefix, bounded lengths and count.

No Pulumi import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hardstack.core.errors import refuse

MAX_KEY = 128
MAX_VALUE = 256
#: AWS: at most 50 user tags on one resource (tags with the reserved prefix do not count).
MAX_TAGS = 50
#: Letters, digits, spaces and + - = . _ : / @ (the set EC2 and most services accept).
_ALLOWED = re.compile(r"^[\w .:+=@/-]*$", re.UNICODE)
_CHARACTERS = "letters, digits, spaces or + - = . _ : / @"


def _reserved(text: str) -> bool:
    # AWS reserves `aws:` in any case (AWS:, Aws:) as a prefix of keys and of values.
    return text.lower().startswith("aws:")


def validate_tags(tags: Mapping[str, str], where: str = "tags", reserved: int = 0) -> dict[str, str]:
    """Tags AWS accepts: keys 1-128 characters, values up to 256, neither starting with `aws:`, and with
    the `reserved` tags the caller adds itself at most 50 on a resource."""
    if not isinstance(tags, Mapping):
        raise refuse(where, tags, "a mapping of tag keys to string values")
    if len(tags) + reserved > MAX_TAGS:
        raise refuse(
            where,
            f"{len(tags)} tags",
            f"at most {MAX_TAGS - reserved}: AWS allows {MAX_TAGS} tags on a resource, "
            f"{reserved} are kept for hardstack's",
        )
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY or not _ALLOWED.match(key):
            raise refuse(f"{where} key", key, f"1 to {MAX_KEY} {_CHARACTERS}")
        if _reserved(key):
            raise refuse(f"{where} key", key, "a key without the 'aws:' prefix, which AWS reserves for itself")
        if not isinstance(value, str) or len(value) > MAX_VALUE or not _ALLOWED.match(value):
            if not isinstance(value, str):
                shown = f"<{type(value).__name__}>"
            else:
                shown = value if len(value) <= 80 else f"{value[:40]}... ({len(value)} characters)"
            raise refuse(f"{where}[{key}]", shown, f"a string of at most {MAX_VALUE} {_CHARACTERS}")
        if _reserved(value):
            raise refuse(f"{where}[{key}]", value, "a value without the 'aws:' prefix, which AWS reserves for itself")
    return dict(tags)
