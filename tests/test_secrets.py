"""Finding a secret's text wherever it lands (core.secrets): property tests."""

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.secrets import MIN_SECRET_TEXT, holds_secret, redact, secret_texts

texts = st.text(min_size=MIN_SECRET_TEXT, max_size=30).filter(lambda t: t.strip() == t and t)
plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="abc", max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="xyz", max_size=2), inner, max_size=3),
    max_leaves=10,
)


def embed(value: Any, text: str, path: list[int]) -> Any:
    """`value` with `text` placed inside one of its strings, following `path`."""
    if isinstance(value, dict) and value:
        key = sorted(value)[path[0] % len(value)] if path else sorted(value)[0]
        return {**value, key: embed(value[key], text, path[1:])}
    if isinstance(value, list) and value:
        i = (path[0] if path else 0) % len(value)
        return [*value[:i], embed(value[i], text, path[1:]), *value[i + 1 :]]
    return f"prefix-{text}-suffix"


@given(plain, texts, st.lists(st.integers(min_value=0, max_value=5), max_size=4))
def test_a_secret_text_is_found_at_any_depth_and_in_json_text(value: Any, text: str, path: list[int]) -> None:
    held = embed(value, text, path)
    assert holds_secret(held, [text])
    assert holds_secret({"policy": json.dumps(held)}, [text])
    assert holds_secret({"policy": json.dumps(held, ensure_ascii=False)}, [text])


@given(plain)
def test_plain_values_hold_no_secret(value: Any) -> None:
    assert not holds_secret(value, ["s3cr3t"]) and not holds_secret(value, [])


@given(st.lists(st.integers() | st.booleans() | st.text(max_size=MIN_SECRET_TEXT - 1), max_size=5))
def test_values_without_long_enough_text_give_nothing_to_search(values: list[Any]) -> None:
    assert secret_texts([values]) == frozenset()


@given(texts, st.text(max_size=20), st.text(max_size=20))
def test_redact_leaves_no_secret_text_in_a_message(secret: str, before: str, after: str) -> None:
    for shown in (secret, repr(secret), json.dumps({"k": secret})):
        message = redact(f"{before}{shown}{after}", [secret], "[secret]")
        assert secret not in message.replace(before, "").replace(after, "") or secret in "[secret]"


def test_the_keys_of_a_secret_map_are_names_not_secrets() -> None:
    assert secret_texts([{"pagerduty-routing-key": "abcd1234"}]) == {"abcd1234"}
