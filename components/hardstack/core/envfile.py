"""Values written into a systemd `EnvironmentFile=` so the service reads them back unchanged.

Pure and dependency-free: `quote_env_value`'s source is also embedded, as is, in the boot script
that writes the secrets file on the hosts (Python 3.9 there), so the rule lives in one place.
"""

from __future__ import annotations


def quote_env_value(value: str) -> str:
    """`value` as a double-quoted EnvironmentFile value.

    systemd.exec(5): inside double quotes a backslash before one of the four characters
    " \\ ` $ stands for that character, and everything else (spaces, newlines, other
    backslash pairs) is kept verbatim; so escaping exactly those four round-trips any text.
    NUL is the one character an environment file cannot carry.
    """
    if "\x00" in value:
        raise ValueError("an environment value cannot contain NUL")
    escaped = "".join("\\" + c if c in '"\\`$' else c for c in value)
    return f'"{escaped}"'
