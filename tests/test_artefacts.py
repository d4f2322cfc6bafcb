"""Boot artefacts: pinned by version and sha256, keyed so versions never overwrite each other."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.artefacts import Artefact, fleet_app, node_exporter, sha256_hex
from hardstack.core.errors import HardstackError

RELEASE = {
    "name": "shop",
    "version": "2.4.1",
    "filename": "shop-linux-amd64",
    "sha256": "a" * 64,
    "source_url": "https://releases.example.com/shop/2.4.1/shop-linux-amd64",
}


def test_keys_carry_name_version_and_architecture() -> None:
    assert node_exporter("arm64").key == (
        "artefacts/node-exporter/1.10.2/arm64/node_exporter-1.10.2.linux-arm64.tar.gz"
    )
    assert Artefact(**RELEASE).key == "artefacts/shop/2.4.1/any/shop-linux-amd64"


def test_the_reference_service_is_pinned_by_the_sha256_of_what_ships() -> None:
    app = fleet_app()
    assert app.content is not None and app.sha256 == sha256_hex(app.content)
    assert app.source_url is None


@given(st.text(max_size=200))
def test_content_artefacts_verify_their_own_sha256(content: str) -> None:
    artefact = Artefact(name="x", version="1", filename="x", sha256=sha256_hex(content), content=content)
    assert artefact.sha256 == sha256_hex(content)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"sha256": ""}, "artefact shop: sha256 = '' is refused: the artefact's sha256"),
        ({"sha256": "A" * 64}, "64 lower-case hex digits"),
        ({"sha256": None}, "sha256 = None"),
        ({"source_url": "http://releases.example.com/x"}, "an https URL"),
        ({"source_url": "https://user:pw@example.com/x"}, "an https URL"),
        ({"source_url": None}, "exactly one of source_url and content"),
        ({"content": "x"}, "exactly one of source_url and content"),
        ({"version": "1 2"}, "version = '1 2'"),
        ({"name": "Shop"}, "artefact.name = 'Shop'"),
        ({"filename": "../x"}, "filename = '../x'"),
        ({"arch": "i386"}, "arch = 'i386'"),
    ],
)
def test_bad_artefacts_are_refused(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        Artefact(**{**RELEASE, **overrides})
    assert fragment in str(err.value)


def test_content_whose_sha256_differs_is_refused() -> None:
    with pytest.raises(HardstackError, match="the sha256 of its content"):
        Artefact(name="x", version="1", filename="x", sha256="b" * 64, content="hello")
