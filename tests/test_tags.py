"""Tag rules (hardstack.core.tags) and secret-keeping refusals (hardstack.core.errors)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.errors import HardstackError, keeping_secret, refuse
from hardstack.core.tags import MAX_KEY, MAX_TAGS, MAX_VALUE, validate_tags

ALLOWED = st.sampled_from("abcXYZ019 +-=._:/@é")
keys = st.text(ALLOWED, min_size=1, max_size=MAX_KEY).filter(lambda k: not k.lower().startswith("aws:"))
values = st.text(ALLOWED, max_size=MAX_VALUE).filter(lambda v: not v.lower().startswith("aws:"))


@given(st.dictionaries(keys, values, max_size=MAX_TAGS))
def test_tags_within_the_aws_rules_are_accepted(tags: dict[str, str]) -> None:
    assert validate_tags(tags) == tags


@given(st.sampled_from(["aws:", "AWS:", "Aws:", "aWs:"]), st.text(ALLOWED, max_size=20))
def test_the_reserved_prefix_is_refused_in_any_case_on_keys_and_values(prefix: str, rest: str) -> None:
    with pytest.raises(HardstackError, match="'aws:' prefix"):
        validate_tags({prefix + rest: "v"})
    with pytest.raises(HardstackError, match="'aws:' prefix"):
        validate_tags({"Owner": prefix + rest})


@given(st.integers(min_value=MAX_KEY + 1, max_value=400))
def test_a_key_over_128_characters_is_refused(length: int) -> None:
    with pytest.raises(HardstackError, match="1 to 128"):
        validate_tags({"k" * length: "v"})


@given(st.integers(min_value=MAX_VALUE + 1, max_value=1000))
def test_a_value_over_256_characters_is_refused_showing_its_length(length: int) -> None:
    with pytest.raises(HardstackError, match="at most 256") as err:
        validate_tags({"Owner": "x" * length})
    assert f"({length} characters)" in str(err.value)


@given(st.integers(min_value=0, max_value=MAX_TAGS), st.integers(min_value=0, max_value=MAX_TAGS))
def test_at_most_50_tags_count_the_ones_the_caller_adds(given_tags: int, reserved: int) -> None:
    tags = {f"t{i}": "v" for i in range(given_tags)}
    if given_tags + reserved <= MAX_TAGS:
        assert validate_tags(tags, reserved=reserved) == tags
    else:
        with pytest.raises(HardstackError, match=f"at most {MAX_TAGS - reserved}"):
            validate_tags(tags, reserved=reserved)


@pytest.mark.parametrize("bad", ["a|b", "semi;colon", "tab\there", "quote'"])
def test_characters_outside_the_aws_set_are_refused(bad: str) -> None:
    with pytest.raises(HardstackError, match=r"\+ - = \. _ : / @"):
        validate_tags({"Owner": bad})


@pytest.mark.parametrize(
    "where", ["hardstack:kubeconfig", "hardstack:tags.Owner", "hardstack:tags[0]", "hardstack:tags key"]
)
def test_a_refusal_of_a_secret_key_or_a_part_of_it_shows_no_value(where: str) -> None:
    with keeping_secret(["hardstack:kubeconfig", "hardstack:tags"]):
        message = str(refuse(where, "s3cr3t", "anything"))
    assert message == f"{where} = [secret] is refused: anything"


def test_other_keys_and_refusals_outside_the_block_show_the_value() -> None:
    with keeping_secret(["hardstack:tags"]):
        inside = str(refuse("hardstack:tagsExtra", "plain", "x"))
    outside = str(refuse("hardstack:tags", "plain", "x"))
    assert "'plain'" in inside and "'plain'" in outside
