import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.aws.database import SUPPORTED_MAJORS, validate_engine_version, validate_instance_class
from hardstack.core.errors import HardstackError
from hardstack.core.rds_catalog import catalog, check_engine_version, check_instance_class, parse_catalog
from tests.test_settings import refused, settings

TABLE = catalog()


def test_an_unknown_class_is_refused_with_the_nearest_one() -> None:
    msg = refused(dbInstanceClass="db.m7g.lage")
    assert msg.startswith("hardstack:dbInstanceClass = 'db.m7g.lage' is refused")
    assert "did you mean db.m7g.large" in msg


def test_an_unknown_minor_is_refused_naming_the_offered_ones() -> None:
    msg = refused(dbEngineVersion="16.99")
    assert msg.startswith("hardstack:dbEngineVersion = '16.99' is refused")
    assert "minors of 16: " in msg and "16.9" in msg


def test_a_minor_past_its_end_of_standard_support_is_refused() -> None:
    # RDS ended standard support of 16.5 to 16.8 on 2026-05-31 and creates no instance on them.
    assert "hardstack:dbEngineVersion = '16.6' is refused" in refused(dbEngineVersion="16.6")


def test_the_defaults_are_in_the_table() -> None:
    for cls in ("db.t4g.micro", "db.t4g.medium", "db.m7g.large"):
        assert check_instance_class(cls, "c") == cls
    assert check_engine_version("16", "v") == "16"
    assert settings(dbInstanceClass="db.m7g.large", dbEngineVersion="16").db_engine_version == "16"


def test_a_class_nothing_resembles_gets_no_suggestion() -> None:
    with pytest.raises(HardstackError) as err:
        check_instance_class("db.zzzzzz.qqqqqq", "instance_class")
    assert "did you mean" not in str(err.value) and "db.m7g" in str(err.value)


@given(st.sampled_from(sorted(TABLE.classes())))
def test_every_class_of_the_table_is_accepted(cls: str) -> None:
    assert validate_instance_class(cls) == cls


@given(st.sampled_from(sorted(TABLE.versions())))
def test_every_version_of_the_table_is_accepted(version: str) -> None:
    assert check_engine_version(version, "engine_version") == version
    major = int(version.split(".")[0])
    if major in SUPPORTED_MAJORS:
        assert validate_engine_version(version) == major


def test_the_table_covers_the_supported_majors_and_names_its_date() -> None:
    assert {str(m) for m in SUPPORTED_MAJORS} <= set(TABLE.engine_versions)
    assert all(v.startswith(f"{major}.") for major, minors in TABLE.engine_versions.items() for v in minors)
    assert TABLE.retrieved == "2026-12"


def test_parse_catalog_reads_the_json_shape() -> None:
    table = parse_catalog(
        {"retrieved": "x", "engine_versions": {"16": ["16.9"]}, "instance_classes": {"db.t4g": ["micro"]}}
    )
    assert table.versions() == {"16", "16.9"} and table.classes() == {"db.t4g.micro"}


def test_a_malformed_version_is_pointed_to_a_supported_one() -> None:
    # 1.16 is no version at all; the suggestion names only majors hardstack accepts.
    msg = refused(dbEngineVersion="1.16")
    assert "hardstack:dbEngineVersion = '1.16' is refused" in msg and "did you mean " in msg
    assert "13." not in msg.split("did you mean", 1)[1]
