"""The generated promtool tests fail when the rules they pin change: each mutation runs the tests of
the branch it breaks, with the real promtool."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardstack.core.slo import compile_rules, to_yaml
from tests.test_slo import SLOS, api, run_tests, write


def _alert_rule(rules: dict[str, Any], severity: str) -> dict[str, Any]:
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if "alert" in r and r["labels"]["severity"] == severity]
    return rule


def _record(rules: dict[str, Any], record: str) -> dict[str, Any]:
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("record") == record]
    return rule


def _edit(rule: dict[str, Any], key: str, old: str, new: str) -> None:
    assert old in rule[key], (old, rule[key])
    rule[key] = rule[key].replace(old, new)


API_SERIES = '{service="api",slo="availability"}'
Mutation = Callable[[dict[str, Any]], None]
MUTATIONS: list[tuple[str, str, str, Mutation]] = [
    # (why, severity file, tests of this branch, mutation of the rules)
    (
        "page 1h threshold 4% higher",
        "page",
        "1h/5m",
        lambda r: _edit(_alert_rule(r, "page"), "expr", f"1h{API_SERIES} > 0.0144", f"1h{API_SERIES} > 0.015"),
    ),
    (
        "page 1h threshold 4% lower",
        "page",
        "1h/5m",
        lambda r: _edit(_alert_rule(r, "page"), "expr", f"1h{API_SERIES} > 0.0144", f"1h{API_SERIES} > 0.0138"),
    ),
    (
        "page 6h threshold 4% higher",
        "page",
        "6h/30m",
        lambda r: _edit(_alert_rule(r, "page"), "expr", f"6h{API_SERIES} > 0.006", f"6h{API_SERIES} > 0.00625"),
    ),
    (
        "page short window dropped",
        "page",
        "1h/5m",
        lambda r: _edit(
            _alert_rule(r, "page"), "expr", f"  and\n    slo:sli_error:ratio_rate5m{API_SERIES} > 0.0144\n", ""
        ),
    ),
    (
        "page long window 1h read as 2h",
        "page",
        "1h/5m",
        lambda r: _edit(_alert_rule(r, "page"), "expr", f"ratio_rate1h{API_SERIES}", f"ratio_rate2h{API_SERIES}"),
    ),
    (
        "the 1h ratio computed over 5m",
        "page",
        "1h/5m",
        lambda r: _edit(_record(r, "slo:sli_error:ratio_rate1h"), "expr", "[1h]", "[5m]"),
    ),
    ("page for 2m -> 4m", "page", "after", lambda r: _edit(_alert_rule(r, "page"), "for", "2m", "4m")),
    ("page for 2m -> 0m", "page", "after", lambda r: _edit(_alert_rule(r, "page"), "for", "2m", "0m")),
    (
        "ticket 1d threshold 4% higher (its 3d sibling would otherwise hide it)",
        "ticket",
        "1d/2h",
        lambda r: _edit(_alert_rule(r, "ticket"), "expr", f"1d{API_SERIES} > 0.003", f"1d{API_SERIES} > 0.003125"),
    ),
    (
        "ticket long window 3d read as 1d",
        "ticket",
        "3d/6h",
        lambda r: _edit(_alert_rule(r, "ticket"), "expr", f"ratio_rate3d{API_SERIES}", f"ratio_rate1d{API_SERIES}"),
    ),
    ("ticket for 15m -> 30m", "ticket", "after", lambda r: _edit(_alert_rule(r, "ticket"), "for", "15m", "30m")),
]


@pytest.mark.parametrize(("why", "severity", "branch", "mutate"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_generated_tests_fail_when_the_rules_change(
    tmp_path: Path, why: str, severity: str, branch: str, mutate: Mutation
) -> None:
    slo = api()
    rules = compile_rules([slo])
    mutate(rules)
    _, tests = write(tmp_path, [slo], rules)
    document = yaml.safe_load(tests[severity].read_text())
    document["tests"] = [t for t in document["tests"] if f" {branch} " in t["name"]]  # this branch's tests only
    assert document["tests"]
    tests[severity].write_text(to_yaml(document))
    ((code, out),) = run_tests([tests[severity]])
    assert code != 0, f"{why}: promtool still passed\n{out}"
    assert "FAILED" in out


def test_generated_tests_fail_when_a_missing_good_series_is_not_zero(tmp_path: Path) -> None:
    batch = next(s for s in SLOS if s.service == "batch")
    rules = compile_rules([batch])
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = rule["expr"].replace(" or vector(0)", "")  # the good series' absence is then unknown
    _, tests = write(tmp_path, [batch], rules)
    document = yaml.safe_load(tests["page"].read_text())
    document["tests"] = [t for t in document["tests"] if "outage" in t["name"]]
    tests["page"].write_text(to_yaml(document))
    ((code, out),) = run_tests([tests["page"]])
    assert code != 0 and "FAILED" in out, out
