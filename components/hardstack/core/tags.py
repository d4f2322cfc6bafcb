"""Tag rules AWS enforces, checked before any resource: no reserved prefix, bounded lengths.

No Pulumi import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hardstack.core.errors import refuse

MAX_KEY = 128
MAX_VALUE = 256
#: Letters, digits, spaces and + - = . _ : / @ (the set EC2 and most services accept).
_ALLOWED = re.compile(r"^[\w .:+=@/-]*$", re.UNICODE)


def validate_tags(tags: Mapping[str, str], where: str = "tags") -> dict[str, str]:
    """Tags AWS accepts: keys 1-128 characters not starting with `aws:`, values up to 256."""
    if not isinstance(tags, Mapping):
        raise refuse(where, tags, "a mapping of tag keys to string values")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY or not _ALLOWED.match(key):
            raise refuse(f"{where} key", key, f"1 to {MAX_KEY} letters, digits, spaces or + - = . _ : / @")
        if key.lower().startswith("aws:"):
            raise refuse(f"{where} key", key, "a key without the 'aws:' prefix, which AWS reserves for itself")
        if not isinstance(value, str) or len(value) > MAX_VALUE or not _ALLOWED.match(value):
            shown = value if isinstance(value, str) and len(value) <= 80 else f"<{type(value).__name__}>"
            raise refuse(
                f"{where}[{key}]", shown, f"a string of at most {MAX_VALUE} letters, digits, spaces or + - = . _ : / @"
            )
    return dict(tags)
