"""The size a managed node group is given on an up (`hardstack.core.scaling`)."""

from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.scaling import LiveScaling, Scaling, node_group_scaling


@st.composite
def bounds(draw: st.DrawFn) -> tuple[int, int]:
    low = draw(st.integers(0, 50))
    return low, draw(st.integers(max(low, 1), 100))


@st.composite
def live(draw: st.DrawFn) -> LiveScaling:
    low, high = draw(bounds())
    return LiveScaling(low, high, draw(st.integers(low, high)))


@given(live(), bounds())
def test_the_size_sent_fits_the_new_bounds_and_is_the_running_one_when_it_fits(
    running: LiveScaling, wanted: tuple[int, int]
) -> None:
    low, high = wanted
    size, _ = node_group_scaling(running, low, high, low)
    assert low <= size <= high  # what UpdateNodegroupConfig accepts
    if low <= running.desired_size <= high:
        assert size == running.desired_size  # nothing the autoscaler scaled out is taken back
    else:
        assert size == (low if running.desired_size < low else high)  # the nearest size that fits


@given(live(), bounds())
def test_the_autoscaler_keeps_the_desired_size_exactly_while_the_bounds_stay(
    running: LiveScaling, wanted: tuple[int, int]
) -> None:
    _, owned = node_group_scaling(running, *wanted, wanted[0])
    assert owned == ((running.min_size, running.max_size) == wanted)


@given(bounds(), st.data())
def test_a_new_group_starts_at_its_own_desired_size(wanted: tuple[int, int], data: st.DataObject) -> None:
    desired = data.draw(st.integers(*wanted))
    assert node_group_scaling(None, *wanted, desired) == Scaling(desired, True)


def test_examples() -> None:
    grown = LiveScaling(2, 5, 4)
    assert node_group_scaling(grown, 2, 5, 2) == Scaling(4, True)
    assert node_group_scaling(grown, 5, 8, 5) == Scaling(5, False)
    assert node_group_scaling(grown, 1, 3, 1) == Scaling(3, False)
