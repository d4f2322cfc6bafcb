from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardstack.core.errors import HardstackError
from hardstack.core.promtool import promtool_test_files
from hardstack.core.slo import (
    BURN_POLICY,
    SEVERITIES,
    SLO,
    WINDOWS,
    compile_cloudwatch_alarms,
    compile_rules,
    dec,
    render_rules_yaml,
    to_yaml,
    validate_alarm_period,
    validate_severity,
)

API_TOTAL = 'http_requests_total{job="api"}'
API_ERRORS = 'http_requests_total{job="api",code=~"5.."}'


def api(objective: Decimal | str | float = "0.999", **kwargs: Any) -> SLO:
    kwargs.setdefault("total_query", API_TOTAL)
    if "good_query" not in kwargs:
        kwargs.setdefault("error_query", API_ERRORS)
    return SLO("api", objective, **kwargs)


def rules_of(slo: SLO) -> list[dict[str, Any]]:
    return [rule for group in compile_rules([slo])["groups"] for rule in group["rules"]]


def alert(slo: SLO, severity: str) -> dict[str, Any]:
    (rule,) = [r for r in rules_of(slo) if "alert" in r and r["labels"]["severity"] == severity]
    return rule


def thresholds(expr: str) -> list[Decimal]:
    return [Decimal(t) for t in re.findall(r"> ([0-9.]+)", expr)]


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["1", "1.0", 1, "1.5", 1.0001])
def test_objective_at_or_above_one_is_refused(objective: Any) -> None:
    refused = r"api/availability: objective = .* is refused: .*strictly between 0 and 1"
    with pytest.raises(HardstackError, match=refused):
        api(objective)


@pytest.mark.parametrize("objective", ["0", 0.0, "-0.5", Decimal("-1")])
def test_objective_at_or_below_zero_is_refused(objective: Any) -> None:
    with pytest.raises(HardstackError, match="strictly between 0 and 1"):
        api(objective)


@pytest.mark.parametrize("objective", ["nan", "inf", "99.9%", "", None, True, float("nan")])
def test_objective_that_is_not_a_number_is_refused(objective: Any) -> None:
    with pytest.raises(HardstackError, match="objective"):
        api(objective)


def test_objective_with_too_many_decimals_is_refused() -> None:
    with pytest.raises(HardstackError, match="at most 6 decimal places"):
        api("0.9999999")


@pytest.mark.parametrize("period", [7, 29, 31, 90, "30", True])
def test_unknown_period_is_refused(period: Any) -> None:
    with pytest.raises(HardstackError, match=r"period_days = .* is refused: 28 or 30"):
        api(period_days=period)


def test_impossible_alert_is_refused_with_the_fix() -> None:
    with pytest.raises(HardstackError) as caught:
        api("0.9")
    message = str(caught.value)
    assert "SLO api/availability: objective" in message
    assert "14.4" in message and "0.1" in message and "1.44" in message  # factor, budget, product
    assert "could never fire" in message
    assert "raise the objective above 0.9306" in message


def test_alert_exactly_at_one_is_refused() -> None:
    # budget 1/14.4 is not a terminating decimal; 0.0625 x 14.4 = 0.9 is fine, 0.07 x 14.4 = 1.008 is not.
    api("0.9375")
    with pytest.raises(HardstackError, match="could never fire"):
        api("0.93")


@pytest.mark.parametrize("severity", ["critical", "Page", "", None, "warning"])
def test_unknown_severity_is_refused(severity: Any) -> None:
    with pytest.raises(HardstackError, match=r"severity = .* is refused: one of page, ticket"):
        validate_severity(severity)


def test_known_severities_pass() -> None:
    assert SEVERITIES == ("page", "ticket")
    assert [validate_severity(s) for s in SEVERITIES] == ["page", "ticket"]


@pytest.mark.parametrize("seconds", [0, -60, 30, 90, 61, 300.0, "300", True, 8 * 24 * 3600])
def test_alarm_period_not_a_multiple_of_60_is_refused(seconds: Any) -> None:
    with pytest.raises(HardstackError, match=r"alarm.period = .* is refused"):
        validate_alarm_period(seconds, "alarm.period")


@pytest.mark.parametrize("seconds", [60, 300, 3600, 86400, 259200])
def test_alarm_periods_that_are_multiples_of_60_pass(seconds: int) -> None:
    assert validate_alarm_period(seconds, "p") == seconds


@pytest.mark.parametrize("service", ["API", "9api", "api service", "api--x", "-api", "a" * 64, ""])
def test_service_that_is_not_a_slug_is_refused(service: str) -> None:
    with pytest.raises(HardstackError, match="SLO service"):
        SLO(service, "0.999", total_query=API_TOTAL, error_query=API_ERRORS)


def test_exactly_one_of_error_and_good_query() -> None:
    with pytest.raises(HardstackError, match="exactly one of them"):
        SLO("api", "0.999", total_query=API_TOTAL)
    with pytest.raises(HardstackError, match="exactly one of them"):
        SLO("api", "0.999", total_query=API_TOTAL, error_query=API_ERRORS, good_query=API_TOTAL)


@pytest.mark.parametrize("query", ["sum(rate(x_total[5m]))", "rate(x_total[{{window}}])", "  ", "x_total{job=api}"])
def test_query_without_window_placeholder_or_selector_is_refused(query: str) -> None:
    with pytest.raises(HardstackError, match=r"total_query = .*\$window"):
        api(total_query=query)


def test_duplicate_slos_are_refused() -> None:
    with pytest.raises(HardstackError, match="each service/name pair once"):
        compile_rules([api(), api("0.99")])


def test_cloudwatch_refuses_a_load_balancer_that_is_not_an_alb_suffix() -> None:
    with pytest.raises(HardstackError, match="load_balancer"):
        compile_cloudwatch_alarms(api(), load_balancer="arn:aws:elasticloadbalancing:whatever")


# --- exact arithmetic --------------------------------------------------------------------------------


def test_budget_is_exact_in_the_rendered_rules() -> None:
    slo = api(0.999)  # a float on purpose: 1 - 0.999 is 0.0010000000000000009 in floats
    assert slo.objective == Decimal("0.999") and slo.budget == Decimal("0.001")
    text = render_rules_yaml([slo])
    assert "vector(0.001)" in text and "vector(0.999)" in text
    assert "0.0144" in text and "> 0.006\n" in text
    assert "000000" not in text and "999999" not in text and "E-" not in text


def test_28_day_period_scales_factors_by_28_over_30() -> None:
    slo = api("0.999", period_days=28)
    factors = [c.factor for c in slo.conditions()]
    assert factors == [Decimal("13.44"), Decimal("5.6"), Decimal("2.8"), Decimal("0.9333")]
    assert thresholds(alert(slo, "page")["expr"]) == [Decimal("0.01344")] * 2 + [Decimal("0.0056")] * 2
    assert thresholds(alert(slo, "ticket")["expr"]) == [Decimal("0.0028")] * 2 + [Decimal("0.0009333")] * 2
    assert any(r.get("record") == "slo:sli_error:ratio_rate28d" for r in rules_of(slo))


def test_recording_rules_for_good_events() -> None:
    slo = api(good_query='http_requests_total{job="api",code!~"5.."}')
    (five,) = [r for r in rules_of(slo) if r.get("record") == "slo:sli_error:ratio_rate5m"]
    assert five["expr"] == (
        '(sum(rate(http_requests_total{job="api"}[5m])) - '
        '(sum(rate(http_requests_total{job="api",code!~"5.."}[5m])) or vector(0)))'
        ' / sum(rate(http_requests_total{job="api"}[5m]))'
    )
    assert five["labels"] == {"service": "api", "slo": "availability"}


def test_cloudwatch_counts_the_load_balancers_own_5xx() -> None:
    # 502/503/504 from the load balancer are what users see when targets crash, time out or are gone.
    for alarm in compile_cloudwatch_alarms(api(), load_balancer="app/web/0123456789abcdef")["metric_alarms"]:
        metrics = {q["metric"]["metric_name"] for q in alarm["metric_queries"] if "metric" in q}
        assert metrics == {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount"}


def test_period_ratio_sums_recorded_five_minute_rates() -> None:
    slo = api()
    (budget,) = [g for g in compile_rules([slo])["groups"] if g["name"].endswith(":budget")]
    records = {r["record"]: r["expr"] for r in budget["rules"] if "record" in r}
    assert budget["interval"] == "5m"  # equal to the recorded rates' window, so they tile the period
    assert (
        records["slo:sli_errors:rate5m"] == '(sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) or vector(0))'
    )
    assert records["slo:sli_requests:rate5m"] == 'sum(rate(http_requests_total{job="api"}[5m]))'
    assert records["slo:sli_error:ratio_rate30d"] == (
        'sum_over_time(slo:sli_errors:rate5m{service="api",slo="availability"}[30d])\n/\n'
        'sum_over_time(slo:sli_requests:rate5m{service="api",slo="availability"}[30d])'
    )
    # No rule reads 30 days of raw samples.
    assert not any("[30d]" in r["expr"] and "http_requests_total" in r["expr"] for r in rules_of(slo) if "expr" in r)


def test_a_missing_error_or_good_series_counts_as_none() -> None:
    errors = api()
    good = api(good_query='http_requests_total{job="api",code!~"5.."}')
    assert errors.error_rate_expr("1h").endswith(" or vector(0))")
    assert good.error_rate_expr("1h") == (
        '(sum(rate(http_requests_total{job="api"}[1h])) - '
        '(sum(rate(http_requests_total{job="api",code!~"5.."}[1h])) or vector(0)))'
    )


def test_window_placeholder_is_substituted_everywhere() -> None:
    slo = api(total_query="sum(increase(x_total[$window])) / 1 + 0 * sum(rate(x_total[$window]))")
    exprs = {r["record"]: r["expr"] for r in rules_of(slo) if "record" in r}
    assert "$window" not in "".join(exprs.values())
    assert exprs["slo:sli_error:ratio_rate3d"].count("[3d]") == 3


# --- properties -------------------------------------------------------------------------------------

# Objectives from 95% to 99.9999%, with up to 6 decimals.
objectives = st.integers(min_value=950_000, max_value=999_999).map(lambda n: Decimal(n).scaleb(-6))
periods = st.sampled_from([28, 30])


@settings(max_examples=60, deadline=None)
@given(objectives, periods)
def test_rules_have_every_window_and_exact_thresholds(objective: Decimal, period: int) -> None:
    slo = api(objective, period_days=period)
    assert slo.budget == 1 - objective
    records = [r["record"] for r in rules_of(slo) if "record" in r]
    for window in (*WINDOWS, f"{period}d"):
        assert f"slo:sli_error:ratio_rate{window}" in records
    for severity in SEVERITIES:
        expected = []
        for sev, _long, _short, factor_30 in BURN_POLICY:
            if sev == severity:
                factor = factor_30 if period == 30 else (factor_30 * 28 / 30).quantize(Decimal("0.0001"), "ROUND_FLOOR")
                expected += [factor * slo.budget] * 2
        got = thresholds(alert(slo, severity)["expr"])
        assert got == expected
        assert all(t < 1 for t in got)
    assert f"vector({dec(slo.budget)})" in render_rules_yaml([slo])


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=Decimal("0.5"), max_value=Decimal("0.93"), places=4))
def test_objectives_too_low_for_the_page_alert_are_always_refused(objective: Decimal) -> None:
    with pytest.raises(HardstackError, match="could never fire"):
        api(objective)


@settings(max_examples=30, deadline=None)
@given(objectives, periods)
def test_cloudwatch_thresholds_match_the_rules(objective: Decimal, period: int) -> None:
    slo = api(objective, period_days=period)
    alarms = compile_cloudwatch_alarms(slo, load_balancer="app/web/0123456789abcdef")["metric_alarms"]
    assert [a["threshold"] for a in alarms] == [float(c.threshold) for c in slo.conditions() for _ in (1, 2)]


# --- CloudWatch ------------------------------------------------------------------------------------


def test_cloudwatch_alarms_shape() -> None:
    slo = api()
    out = compile_cloudwatch_alarms(
        slo, load_balancer="app/web/0123456789abcdef", alarm_actions={"page": ["arn:pager"]}, name_prefix="prod-"
    )
    alarms = {a["name"]: a for a in out["metric_alarms"]}
    assert len(alarms) == 8
    one_hour = alarms["prod-api-availability-burn-page-1h"]
    assert one_hour["threshold"] == 0.0144 and one_hour["comparison_operator"] == "GreaterThanThreshold"
    assert one_hour["treat_missing_data"] == "notBreaching" and one_hour["evaluation_periods"] == 1
    queries = {q["id"]: q for q in one_hour["metric_queries"]}
    assert queries["error_ratio"]["expression"] == "errors / MAX([FILL(m_total, 0), errors])"
    assert queries["error_ratio"]["return_data"] and not queries["errors"]["return_data"]
    assert queries["errors"]["expression"] == "FILL(m_target, 0) + FILL(m_elb, 0)"
    assert queries["m_target"]["metric"]["metric_name"] == "HTTPCode_Target_5XX_Count"
    assert queries["m_total"]["metric"]["metric_name"] == "RequestCount"
    assert queries["m_total"]["metric"]["dimensions"] == {"LoadBalancer": "app/web/0123456789abcdef"}
    assert queries["m_total"]["metric"]["period"] == 3600
    assert alarms["prod-api-availability-burn-ticket-3d"]["metric_queries"][0]["metric"]["period"] == 259200
    page, ticket = out["composite_alarms"]
    assert page["alarm_rule"] == (
        '(ALARM("prod-api-availability-burn-page-1h") AND ALARM("prod-api-availability-burn-page-5m")) OR '
        '(ALARM("prod-api-availability-burn-page-6h") AND ALARM("prod-api-availability-burn-page-30m"))'
    )
    assert page["alarm_actions"] == ["arn:pager"] and ticket["alarm_actions"] == []
    for alarm in out["metric_alarms"]:
        for q in alarm["metric_queries"]:
            if "metric" in q:
                validate_alarm_period(q["metric"]["period"], alarm["name"])


# --- real promtool ---------------------------------------------------------------------------------


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH: install the Debian package 'prometheus' (apt-get install prometheus)")
    return path


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *map(str, args)], capture_output=True, text=True, timeout=300, check=False)


SLOS = [
    api(),
    SLO(
        "checkout-web",
        "0.995",
        period_days=28,
        total_query='sum(rate(req_total{svc="web"}[$window]))',
        good_query='sum(rate(req_ok_total{svc="web"}[$window]))',
    ),
    SLO("batch", 0.99, name="jobs", total_query="jobs_total", good_query='jobs_total{result="success"}'),
    SLO(
        "search",
        "0.9995",
        total_query='search_requests_total{env="prod"}',
        error_query='search_errors_total{env="prod"}',
        description="Search results served without a 5xx.",
    ),
]


@functools.cache
def generated(slos: tuple[SLO, ...], rule_file: str) -> dict[str, dict[str, Any]]:
    """The generated files depend on the SLOs only, never on the rules they test: made once per run."""
    return promtool_test_files(slos, rule_file)


def write(tmp_path: Path, slos: list[SLO], rules: dict[str, Any] | None = None) -> tuple[Path, dict[str, Path]]:
    """The rule file and the generated test files (by severity) next to it."""
    rule_file = tmp_path / "slo-rules.yml"
    rule_file.write_text(to_yaml(rules if rules is not None else compile_rules(slos)))
    tests = {}
    for severity, document in generated(tuple(slos), rule_file.name).items():
        tests[severity] = tmp_path / f"slo-rules.{severity}.test.yml"
        tests[severity].write_text(to_yaml(document))
    return rule_file, tests


def run_tests(files: list[Path]) -> list[tuple[int, str]]:
    """promtool test rules on each file, side by side."""
    running = [
        subprocess.Popen(
            [promtool(), "test", "rules", file.name],
            cwd=file.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for file in files
    ]
    return [(process.wait(timeout=600), process.communicate()[0]) for process in running]


def test_promtool_check_rules_accepts_the_rules(tmp_path: Path) -> None:
    rules, _ = write(tmp_path, SLOS)
    result = run_promtool("check", "rules", rules)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(SLOS) * 15} rules found" in result.stdout


@pytest.mark.parametrize("slo", SLOS, ids=lambda s: s.slo_id)
def test_promtool_unit_tests_pass(tmp_path: Path, slo: SLO) -> None:
    # One SLO per rule file: promtool evaluates every rule of the file at every step. The days-long
    # ticket file runs for one SLO of each series shape (errors over total, good over total).
    _, tests = write(tmp_path, [slo])
    files = [tests["page"], *([tests["ticket"]] if slo.service in ("api", "batch") else [])]
    for code, out in run_tests(files):
        assert code == 0, out


def names(slos: list[SLO]) -> list[str]:
    return [t["name"] for document in generated(tuple(slos), "r.yml").values() for t in document["tests"]]


@pytest.mark.parametrize("slo", [s for s in SLOS if "$window" not in s.total_query], ids=lambda s: s.slo_id)
def test_every_burn_branch_is_tested_above_below_and_recovering(slo: SLO) -> None:
    got = names([slo])
    for c in slo.conditions():
        label = f"{c.severity} {c.long_window}/{c.short_window} at {dec(c.factor)}x"
        assert f"{slo.slo_id} just above {label} fires" in got
        assert f"{slo.slo_id} just below {label} stays quiet" in got
        assert f"{slo.slo_id} {label} recovers when errors stop" in got
    assert f"{slo.slo_id} without traffic stays quiet" in got


def test_outages_are_tested_for_good_and_error_series() -> None:
    batch = next(s for s in SLOS if s.service == "batch")
    assert {n for n in names([batch]) if "outage" in n} == {
        "batch/jobs pages through a total outage once its good series is stale",
        "batch/jobs pages through a total outage whose good series never existed",
    }
    assert "api/availability with no error series yet stays quiet" in names([api()])


def test_expression_queries_fall_back_to_recorded_ratios() -> None:
    checkout = next(s for s in SLOS if s.service == "checkout-web")
    assert names([checkout]) == [
        "checkout-web/availability burning at 106.7x pages (recorded ratios)",
        "checkout-web/availability at half its budget stays quiet (recorded ratios)",
    ]


def test_raw_counter_tests_feed_the_selected_series() -> None:
    document = promtool_test_files([api()], "r.yml")["page"]
    series = {s["series"] for t in document["tests"] for s in t["input_series"]}
    assert series == {'http_requests_total{job="api",code="500"}', 'http_requests_total{job="api",code="200"}'}
    assert document["evaluation_interval"] == "1m"
    assert promtool_test_files([api()], "r.yml")["ticket"]["evaluation_interval"] == "5m"


def test_alerts_carry_severity_and_for() -> None:
    severities = [r["labels"]["severity"] for r in rules_of(api()) if "alert" in r]
    assert severities == list(SEVERITIES)
    assert [alert(api(), s)["for"] for s in SEVERITIES] == ["2m", "15m"]


# --- the generator's own pieces ------------------------------------------------------------------------


def expand(notation: str) -> list[int | None]:
    """promtool's expanding notation, as its documentation defines it ('a+bxn' is n+1 values, '_xn' n)."""
    values: list[int | None] = []
    for token in notation.split():
        if token.startswith("_x"):
            values += [None] * int(token[2:])
        else:
            match = re.fullmatch(r"(\d+)([+-])(\d+)x(\d+)", token)
            assert match, token
            start, sign, step, count = match.groups()
            delta = int(step) if sign == "+" else -int(step)
            values += [int(start) + delta * i for i in range(int(count) + 1)]
    return values


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=10**12)), min_size=1, max_size=40))
def test_series_notation_round_trips(values: list[int | None]) -> None:
    from hardstack.core.promtool import _encode

    assert expand(_encode(values)) == values


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from([60, 300]),
    st.integers(min_value=2, max_value=50),
    st.integers(min_value=0, max_value=200),
)
def test_simulated_rate_of_a_steady_counter_is_its_slope(per_step: int, step: int, steps: int, extra: int) -> None:
    from hardstack.core.promtool import _Counter

    counter = _Counter([(i * step, float(i * per_step)) for i in range(steps + extra + 1)])
    t = (steps + extra) * step
    for open_left in (False, True):
        rate = counter.rate(t, steps * step, open_left)
        assert rate is not None and math.isclose(rate, per_step / step, rel_tol=1e-9)


def test_promtool_period_ratio_and_budget_left_follow_the_recorded_rates(tmp_path: Path) -> None:
    # Half the budget burnt at a steady rate for 3 hours: the period's ratio is that rate exactly and
    # half the budget is left, computed from the recorded 5m rates, not from raw samples.
    slo = api()
    (tmp_path / "rules.yml").write_text(render_rules_yaml([slo]))
    series = '{service="api",slo="availability"}'
    document = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'http_requests_total{job="api",code="500"}', "values": "0+1x180"},
                    {"series": 'http_requests_total{job="api",code="200"}', "values": "0+1999x180"},
                ],
                "promql_expr_test": [
                    {
                        "expr": f"slo:sli_error:ratio_rate30d{series}",
                        "eval_time": "3h",
                        "exp_samples": [{"labels": f"slo:sli_error:ratio_rate30d{series}", "value": 0.0005}],
                    },
                    {
                        "expr": f"slo:error_budget_remaining:ratio{series}",
                        "eval_time": "3h",
                        "exp_samples": [{"labels": f"slo:error_budget_remaining:ratio{series}", "value": 0.5}],
                    },
                ],
            }
        ],
    }
    (tmp_path / "tests.yml").write_text(to_yaml(document))
    done = subprocess.run(
        [promtool(), "test", "rules", "tests.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
