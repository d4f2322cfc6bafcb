"""`tasks.py refresh-rds`: the RDS table rewritten from the RDS API, read through botocore's real RDS
model (the Stubber refuses a request or a reply that does not match it), across pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hardstack.core.rds_catalog import parse_catalog
from stacks.refresh_rds import TABLE, main


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("rds", region_name="eu-west-3", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _versions(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"Engine": "postgres", "MajorEngineVersion": major, "EngineVersion": v} for major, v in pairs]


def _options(*classes: str) -> list[dict[str, str]]:
    return [{"Engine": "postgres", "DBInstanceClass": c} for c in classes]


def _answer(stub: Stubber) -> None:
    stub.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": _versions(("16", "16.11"), ("17", "17.9")), "Marker": "p2"},
        {"Engine": "postgres"},
    )
    stub.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": _versions(("16", "16.9"), ("16", "16.11"))},
        {"Engine": "postgres", "Marker": "p2"},
    )
    # One entry per version, storage type and deployment: the same class comes back many times.
    stub.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": _options("db.m7g.2xlarge", "db.m7g.large", "db.t4g.micro"), "Marker": "p2"},
        {"Engine": "postgres"},
    )
    stub.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": _options("db.m7g.12xlarge", "db.m7g.large", "db.t4g.medium")},
        {"Engine": "postgres", "Marker": "p2"},
    )


def test_every_page_is_read_and_the_table_is_written_in_order(stubbed: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = stubbed
    _answer(stub)
    out = tmp_path / "rds.json"
    assert main(["--region", "eu-west-3", "--out", str(out)], client_for=lambda region: client) == 0
    data = json.loads(out.read_text())
    assert data["engine_versions"] == {"16": ["16.9", "16.11"], "17": ["17.9"]}
    assert data["instance_classes"] == {
        "db.m7g": ["large", "2xlarge", "12xlarge"],
        "db.t4g": ["micro", "medium"],
    }
    assert "eu-west-3" in data["_source"]
    # What the command writes is what the checks read.
    assert "db.m7g.12xlarge" in parse_catalog(data).classes()


def test_an_empty_answer_leaves_the_table_alone(stubbed: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = stubbed
    stub.add_response("describe_db_engine_versions", {"DBEngineVersions": []}, {"Engine": "postgres"})
    stub.add_response(
        "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": []}, {"Engine": "postgres"}
    )
    out = tmp_path / "rds.json"
    assert main(["--out", str(out)], client_for=lambda region: client) == 1
    assert not out.exists()


def test_the_default_target_is_the_packaged_table() -> None:
    assert TABLE.name == "rds_postgres.json" and TABLE.is_file()
