"""The one check of alert receiver names, shared by the settings and the Monitoring component."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack import HardstackError
from hardstack.core.receivers import check_receiver_names

NAMES = st.sampled_from(["oncall", "tickets", "heartbeat", "ops", "nobody"])
KEYS = {"receivers_key": "hardstack:alertReceivers", "heartbeat_key": "hardstack:heartbeatReceiver"}


@given(
    st.lists(NAMES, max_size=4),
    st.lists(NAMES, max_size=3),
    st.lists(NAMES, max_size=3),
    st.none() | NAMES,
)
def test_names_are_accepted_exactly_when_alertmanager_would_resolve_them(
    receivers: list[str], page: list[str], ticket: list[str], heartbeat: str | None
) -> None:
    routes = {"hardstack:alertRoutes.page": page, "hardstack:alertRoutes.ticket": ticket}
    valid = (
        len(set(receivers)) == len(receivers)
        and all(set(names) <= set(receivers) and len(set(names)) == len(names) for names in routes.values())
        and (heartbeat is None or heartbeat in receivers)
    )
    if valid:
        check_receiver_names(receivers, routes, heartbeat, **KEYS)
        return
    with pytest.raises(HardstackError) as err:
        check_receiver_names(receivers, routes, heartbeat, **KEYS)
    # Whatever is wrong, the message names the key it was given under.
    assert str(err.value).split(" = ")[0] in {*routes, *KEYS.values()}


def test_an_unknown_name_is_refused_under_its_key_with_the_names_there_are() -> None:
    with pytest.raises(HardstackError) as err:
        check_receiver_names(
            ["oncall"], {"page_receivers": ["pager"]}, None, receivers_key="receivers", heartbeat_key="h"
        )
    assert str(err.value) == "page_receivers = 'pager' is refused: a name from receivers (oncall)"


def test_a_heartbeat_with_no_receiver_defined_says_none_are_given() -> None:
    with pytest.raises(HardstackError) as err:
        check_receiver_names([], {}, "dms", receivers_key="receivers", heartbeat_key="heartbeat_receiver")
    assert str(err.value) == "heartbeat_receiver = 'dms' is refused: a name from receivers (none given)"
