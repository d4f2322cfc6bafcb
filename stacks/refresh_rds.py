"""`python3 tasks.py refresh-rds [--region R]`: rewrite the RDS table from the RDS API.

The table (`hardstack/assets/rds_postgres.json`) is what hardstack checks `dbEngineVersion` and
`dbInstanceClass` against. This reads `DescribeDBEngineVersions` (the PostgreSQL versions RDS creates
instances on: a deprecated minor is not listed) and `DescribeOrderableDBInstanceOptions` (the classes
RDS sells for PostgreSQL in the region) and writes the table; review the diff with the pinned provider.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent.parent / "components" / "hardstack" / "assets" / "rds_postgres.json"
#: Sizes in the order AWS lists them (smallest first); `NNxlarge` sorts by its number.
_SMALL = ("nano", "micro", "small", "medium", "large", "xlarge")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def _size_key(size: str) -> tuple[int, int, str]:
    if size in _SMALL:
        return (0, _SMALL.index(size), size)
    match = re.match(r"^(\d+)xlarge$", size)
    return (1, int(match.group(1)), size) if match else (2, 0, size)


def engine_versions(client: Any) -> dict[str, list[str]]:
    """{major: [minor, ...]} of the PostgreSQL versions RDS offers now, oldest first."""
    found: dict[str, list[str]] = {}
    for page in client.get_paginator("describe_db_engine_versions").paginate(Engine="postgres"):
        for entry in page.get("DBEngineVersions", []):
            found.setdefault(entry["MajorEngineVersion"], []).append(entry["EngineVersion"])
    return {
        major: sorted(set(minors), key=_version_key) for major, minors in sorted(found.items(), key=lambda m: int(m[0]))
    }


def instance_classes(client: Any) -> dict[str, list[str]]:
    """{family: [size, ...]} of the classes RDS sells for PostgreSQL in the client's region."""
    classes: set[str] = set()
    for page in client.get_paginator("describe_orderable_db_instance_options").paginate(Engine="postgres"):
        classes.update(option["DBInstanceClass"] for option in page.get("OrderableDBInstanceOptions", []))
    families: dict[str, set[str]] = {}
    for cls in classes:
        family, _, size = cls.rpartition(".")
        if family.startswith("db.") and size:
            families.setdefault(family, set()).add(size)
    return {family: sorted(sizes, key=_size_key) for family, sizes in sorted(families.items())}


def table(client: Any, region: str, today: datetime) -> dict[str, Any]:
    return {
        "_source": (
            f"RDS API DescribeDBEngineVersions and DescribeOrderableDBInstanceOptions (Engine=postgres) in {region}, "
            f"read {today:%Y-%m} by `python3 tasks.py refresh-rds`."
        ),
        "retrieved": f"{today:%Y-%m}",
        "engine_versions": engine_versions(client),
        "instance_classes": instance_classes(client),
    }


def main(argv: list[str] | None = None, client_for: Callable[[str], Any] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tasks.py refresh-rds", description=__doc__)
    parser.add_argument("--region", default="us-east-1", help="AWS region to read. Default: us-east-1")
    parser.add_argument("--out", type=Path, default=TABLE, help="Where to write the table. Default: the package's")
    args = parser.parse_args(argv)
    if client_for is None:
        import boto3  # only this command talks to AWS

        def client_for(region: str) -> Any:
            return boto3.client("rds", region_name=region)

    data = table(client_for(args.region), args.region, datetime.now(UTC))
    if not data["engine_versions"] or not data["instance_classes"]:
        print(f"RDS listed no PostgreSQL versions or classes in {args.region}: the table is left as it is")
        return 1
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    majors = ", ".join(data["engine_versions"])
    print(f"wrote {args.out.name}: majors {majors}, {len(data['instance_classes'])} instance class families")
    return 0


if __name__ == "__main__":
    sys.exit(main())
