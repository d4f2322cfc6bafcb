"""`help()` on every public argument type shows each field with its meaning and default."""

import dataclasses
import pydoc

import pytest

import hardstack
from hardstack.core.docs import documented, field_docs

ARG_TYPES = [getattr(hardstack, n) for n in hardstack.__all__ if n.endswith("Args") or n.endswith("Spec")]


@pytest.mark.parametrize("cls", ARG_TYPES, ids=lambda c: c.__name__)
def test_every_field_of_public_args_is_documented_in_help(cls: type) -> None:
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in docs]
    assert missing == []
    for f in dataclasses.fields(cls):
        assert f"{f.name} (default: " in text


def test_documented_shows_the_default_and_the_meaning() -> None:
    @documented
    @dataclasses.dataclass(frozen=True)
    class ExampleArgs:
        size: int = 3
        """How many. Default: 3."""

    assert "size (default: 3)\n        How many. Default: 3." in (ExampleArgs.__doc__ or "")


def test_a_tier_given_by_name_is_stored_as_a_tier() -> None:
    from hardstack import AwsContext, NetworkArgs, Tier

    args = NetworkArgs(context=AwsContext(region="eu-west-3", account_id="1"), cidr="10.0.0.0/16", tier="staging")  # type: ignore[arg-type]
    assert args.tier is Tier.STAGING
