"""Alert receiver names: what the routes and the heartbeat name must be, checked in one place for the
stack's settings (which name their `hardstack:` keys) and for the Monitoring component (its arguments)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hardstack.core.errors import refuse


def check_receiver_names(
    receivers: Sequence[str],
    routes: Mapping[str, Sequence[str]],
    heartbeat: str | None,
    *,
    receivers_key: str,
    heartbeat_key: str,
) -> None:
    """Refuse a receiver name given twice, a route or heartbeat naming no receiver, a receiver twice in a route.

    `receivers` are the defined names (given as `receivers_key`); `routes` maps where a list of names
    is given (`hardstack:alertRoutes.page`, `page_receivers`) to those names; `heartbeat` is the
    Watchdog's receiver, given as `heartbeat_key`. Alertmanager refuses a configuration that routes to
    an undefined receiver or defines one twice, so both are caught here, before any resource.
    """
    known = list(receivers)
    listed = f"a name from {receivers_key} ({', '.join(known) or 'none given'})"
    if len(set(known)) != len(known):
        raise refuse(receivers_key, known, "each receiver name once")
    for where, names in routes.items():
        for name in names:
            if name not in known:
                raise refuse(where, name, listed)
        if len(set(names)) != len(names):
            raise refuse(where, list(names), "each receiver once")
    if heartbeat is not None and heartbeat not in known:
        raise refuse(heartbeat_key, heartbeat, listed)
