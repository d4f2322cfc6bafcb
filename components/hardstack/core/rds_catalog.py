"""The PostgreSQL engine versions and DB instance classes RDS offers, from the table kept in the package.

`hardstack/assets/rds_postgres.json` is refreshed from the RDS API with `python3 tasks.py refresh-rds`
and reviewed with the pinned provider, so a typo (`db.m7g.lage`, `16.99`) is refused before any
resource, with the nearest entries as a suggestion, instead of failing in RDS mid-deployment.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from hardstack.core.errors import refuse

TABLE = "rds_postgres.json"


@dataclass(frozen=True)
class RdsCatalog:
    #: major ("16") -> its minors ("16.9", ...), as RDS lists them.
    engine_versions: dict[str, tuple[str, ...]]
    #: family ("db.m7g") -> its sizes ("large", ...).
    instance_classes: dict[str, tuple[str, ...]]
    retrieved: str

    def versions(self) -> frozenset[str]:
        """Every version RDS accepts: each major alone (RDS then picks its latest minor) and each minor."""
        minors = (v for versions in self.engine_versions.values() for v in versions)
        return frozenset(self.engine_versions) | frozenset(minors)

    def classes(self) -> frozenset[str]:
        return frozenset(f"{family}.{size}" for family, sizes in self.instance_classes.items() for size in sizes)


def parse_catalog(data: Any) -> RdsCatalog:
    """The table's JSON shape: `engine_versions` {major: [minor]}, `instance_classes` {family: [size]}."""
    versions, classes = data["engine_versions"], data["instance_classes"]
    return RdsCatalog(
        engine_versions={str(major): tuple(minors) for major, minors in versions.items()},
        instance_classes={str(family): tuple(sizes) for family, sizes in classes.items()},
        retrieved=str(data["retrieved"]),
    )


@cache
def catalog() -> RdsCatalog:
    text = resources.files("hardstack.assets").joinpath(TABLE).read_text(encoding="utf-8")
    return parse_catalog(json.loads(text))


def _suggest(value: object, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=3, cutoff=0.6) if isinstance(value, str) else []
    return f"; did you mean {' or '.join(close)}?" if close else ""


def suggest_instance_class(value: object) -> str:
    """`; did you mean db.m7g.large?` for a near miss of a class in the table, else empty."""
    return _suggest(value, catalog().classes())


def suggest_engine_version(value: object, majors: Iterable[int]) -> str:
    """The same for a version, among those of `majors` only (the ones the caller accepts)."""
    wanted = {str(m) for m in majors}
    return _suggest(value, frozenset(v for v in catalog().versions() if v.split(".", 1)[0] in wanted))


def check_instance_class(value: str, where: str) -> str:
    """`value` is a class RDS offers for PostgreSQL (the table's families and sizes)."""
    known = catalog().classes()
    if value not in known:
        families = ", ".join(sorted(catalog().instance_classes))
        raise refuse(
            where, value, f"a DB instance class RDS offers for PostgreSQL, of {families}{_suggest(value, known)}"
        )
    return value


def check_engine_version(value: str, where: str) -> str:
    """`value` is a major alone or a minor RDS offers (a minor past its end of standard support is not)."""
    table = catalog()
    if value not in table.versions():
        major = value.split(".", 1)[0]
        minors = table.engine_versions.get(major)
        offered = f"minors of {major}: {', '.join(minors)}" if minors else f"majors {', '.join(table.engine_versions)}"
        raise refuse(
            where,
            value,
            f"a PostgreSQL version RDS offers (the major alone, or {offered}){_suggest(value, table.versions())}",
        )
    return value
