"""Service level objectives as code: pure data in, Prometheus rules and CloudWatch alarms out (the promtool
tests that pin the rules: `hardstack.core.promtool`).

Queries
-------
An SLO counts events with PromQL. ``total_query`` plus exactly one of ``error_query`` / ``good_query``.
Each query is either

* a bare counter selector, e.g. ``http_requests_total{job="api",code=~"5.."}``: it is wrapped as
  ``rate(<selector>[<window>])``; or
* an expression holding the placeholder ``$window`` wherever a range goes, e.g.
  ``sum by (job) (rate(http_requests_total{job="api"}[$window]))``: every ``$window`` is replaced
  by the window (``5m``, ``30m``, ``1h``, ``2h``, ``6h``, ``1d``, ``3d`` and the SLO period ``28d``/``30d``).

Each side is wrapped in ``sum(...)`` so the ratio is one series whatever labels the query keeps.
Error ratio = ``sum(errors) / sum(total)``, or ``1 - sum(good) / sum(total)``.

Burn rates (multiwindow, multi-burn-rate alerts, Google SRE workbook ch. 5)
---------------------------------------------------------------------------
A burn rate ``f`` over a long window ``w`` spends ``f * w / period`` of the error budget. The workbook's
30-day factors spend a fixed share of the budget:

    page:   2% in 1h  -> 14.4 (short window 5m),   5% in 6h -> 6 (short 30m)
    ticket: 10% in 1d -> 3    (short window 2h),  10% in 3d -> 1 (short 6h)

For another period P the same share is kept: ``factor_P = factor_30 * P / 30`` (28 days: 13.44, 5.6, 2.8,
0.9333), rounded *down* to 4 decimals where it does not terminate, so the alert fires a hair earlier,
never later. Alert threshold on the error ratio = ``factor * budget``, computed with Decimal so
``1 - 0.999`` is exactly ``0.001`` in the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

import yaml

from hardstack.core.errors import refuse

SEVERITIES: tuple[str, ...] = ("page", "ticket")
PERIODS_DAYS: tuple[int, ...] = (28, 30)
#: Placeholder replaced by each window in expression queries.
WINDOW_PLACEHOLDER = "$window"
#: Every window a recording rule exists for (the period window is added per SLO).
WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
#: Objectives finer than 99.9999% are not measurable in practice and keep generated test counters exact.
MAX_OBJECTIVE_DECIMALS = 6
#: Why: the short window already rejects blips; `for` only absorbs a single odd evaluation for pages,
#: while tickets are slow-burn and may wait 15m to avoid opening tickets for transient spikes.
FOR_DURATION: Mapping[str, str] = {"page": "2m", "ticket": "15m"}
#: CloudWatch: period x evaluation periods may not exceed 7 days.
CLOUDWATCH_MAX_EVALUATION_SECONDS = 7 * 24 * 3600

#: Interval of the budget group and window of the rates it records (they must be equal to tile the period).
BUDGET_INTERVAL = "5m"
#: Recorded error and request rates the period's ratio sums over the period.
PERIOD_ERRORS = "slo:sli_errors:rate5m"
PERIOD_REQUESTS = "slo:sli_requests:rate5m"

_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
_SLUG_MAX = 63
_METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_MATCHER = r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*'
_SELECTOR = re.compile(rf"^\s*({_METRIC})\s*(?:\{{((?:{_MATCHER},?)*)\}})?\s*$")
_SECONDS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class BurnCondition:
    """One multiwindow condition: fire when both windows burn faster than ``factor``."""

    severity: str
    long_window: str
    short_window: str
    factor: Decimal
    threshold: Decimal  # factor x budget, the error-ratio threshold


#: (severity, long window, short window, 30-day factor), in evaluation order.
BURN_POLICY: tuple[tuple[str, str, str, Decimal], ...] = (
    ("page", "1h", "5m", Decimal("14.4")),
    ("page", "6h", "30m", Decimal("6")),
    ("ticket", "1d", "2h", Decimal("3")),
    ("ticket", "3d", "6h", Decimal("1")),
)


def validate_severity(severity: object, where: str = "severity") -> str:
    """Return ``severity`` if it is one hardstack routes; refuse anything else."""
    if not isinstance(severity, str) or severity not in SEVERITIES:
        raise refuse(where, severity, f"one of {', '.join(SEVERITIES)}")
    return severity


def validate_alarm_period(seconds: object, where: str) -> int:
    """CloudWatch metric-math queries on standard-resolution metrics need a period that is a multiple of 60 s."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0 or seconds % 60:
        raise refuse(where, seconds, "a positive whole number of seconds that is a multiple of 60")
    if seconds > CLOUDWATCH_MAX_EVALUATION_SECONDS:
        raise refuse(where, seconds, f"at most {CLOUDWATCH_MAX_EVALUATION_SECONDS} s (7 days), CloudWatch's limit")
    return seconds


#: Longest span (period x evaluation periods) CloudWatch evaluates: a day for periods under an hour.
CLOUDWATCH_MAX_SHORT_PERIOD_SPAN = 24 * 3600


def validate_alarm_evaluation(period: int, evaluation_periods: int, where: str) -> int:
    """What CloudWatch's PutMetricAlarm accepts: period x evaluation periods at most one day when the
    period is under an hour, at most seven days otherwise. Returns the span in seconds."""
    span = period * evaluation_periods
    short = period < 3600
    limit = CLOUDWATCH_MAX_SHORT_PERIOD_SPAN if short else CLOUDWATCH_MAX_EVALUATION_SECONDS
    if span > limit:
        rule = "one day with a period under an hour" if short else "seven days"
        raise refuse(
            where, f"{evaluation_periods} x {period} s", f"at most {limit} s in all: CloudWatch evaluates {rule}"
        )
    return span


def window_seconds(window: str) -> int:
    """'5m' -> 300, '3d' -> 259200."""
    match = re.fullmatch(r"([1-9][0-9]*)([mhd])", window)
    if not match:
        raise refuse("window", window, "a whole number followed by m, h or d, e.g. 5m, 1h, 30d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def scaled_factor(factor_30d: Decimal, period_days: int) -> Decimal:
    """Keep the budget share an alert spends: factor_P = factor_30 * P / 30, rounded down to 4 decimals."""
    exact = factor_30d * period_days / 30
    return _plain(exact.quantize(Decimal("0.0001"), rounding=ROUND_FLOOR))


def dec(value: Decimal) -> str:
    """Decimal as plain PromQL/YAML text: no exponent, no trailing zeros (0.0010 -> 0.001, 6.0 -> 6)."""
    return format(_plain(value), "f")


def _plain(value: Decimal) -> Decimal:
    normal = value.normalize()
    # normalize() turns 10 into 1E+1; quantize back to an integer so formatting never shows an exponent.
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def _objective(value: object, where: str) -> Decimal:
    allowed = "a number strictly between 0 and 1, e.g. '0.999' (prefer a string or Decimal over a float)"
    if isinstance(value, bool):
        raise refuse(where, value, allowed)
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            # repr gives the shortest text that round-trips, so 0.999 becomes Decimal('0.999'), not 0.99899...
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            raise refuse(where, value, allowed)
    except InvalidOperation:
        raise refuse(where, value, allowed) from None
    if not number.is_finite() or not Decimal(0) < number < Decimal(1):
        raise refuse(where, value, allowed)
    number = _plain(number)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if -exponent > MAX_OBJECTIVE_DECIMALS:
        raise refuse(where, value, f"at most {MAX_OBJECTIVE_DECIMALS} decimal places (99.9999%)")
    return number


def _selector(query: str) -> tuple[str, list[tuple[str, str, str]]] | None:
    """Parse a bare selector into (metric, [(label, op, value)]); None when it is not one."""
    match = _SELECTOR.match(query)
    if not match:
        return None
    matchers = [(m.group(1), m.group(2), m.group(3)) for m in re.finditer(_MATCHER, match.group(2) or "")]
    return match.group(1), matchers


def _check_query(query: object, where: str) -> str:
    allowed = (
        f'a bare counter selector such as http_requests_total{{job="api"}}, or a PromQL expression '
        f"with the placeholder {WINDOW_PLACEHOLDER} as its range, e.g. rate(x_total[{WINDOW_PLACEHOLDER}])"
    )
    if not isinstance(query, str) or not query.strip():
        raise refuse(where, query, allowed)
    if WINDOW_PLACEHOLDER not in query and _selector(query) is None:
        raise refuse(where, query, allowed)
    return query.strip()


def _rate(query: str, window: str) -> str:
    if WINDOW_PLACEHOLDER in query:
        return query.replace(WINDOW_PLACEHOLDER, window)
    return f"rate({query}[{window}])"


def _camel(slug: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", slug))


@dataclass(frozen=True)
class SLO:
    """One objective for one service. ``objective`` is normalised to a Decimal on construction.

    ``SLO("api", "0.999", total_query='http_requests_total{job="api"}',
    error_query='http_requests_total{job="api",code=~"5.."}')``
    """

    service: str
    objective: Decimal | str | float
    _: KW_ONLY
    total_query: str
    error_query: str | None = None
    good_query: str | None = None
    period_days: int = 30
    name: str = "availability"
    description: str = ""

    def __post_init__(self) -> None:
        for field, value in (("service", self.service), ("name", self.name)):
            if not isinstance(value, str) or not _SLUG.match(value) or len(value) > _SLUG_MAX:
                raise refuse(
                    f"SLO {field}",
                    value,
                    f"a lowercase slug of at most {_SLUG_MAX} characters: a letter, then letters, digits, "
                    "single '-' or '_' (it becomes a Prometheus label value and part of an alert name)",
                )
        where = f"SLO {self.slo_id}"
        object.__setattr__(self, "objective", _objective(self.objective, f"{where}: objective"))
        if isinstance(self.period_days, bool) or self.period_days not in PERIODS_DAYS:
            raise refuse(f"{where}: period_days", self.period_days, "28 or 30 (days)")
        if (self.error_query is None) == (self.good_query is None):
            raise refuse(
                f"{where}: error_query/good_query",
                (self.error_query, self.good_query),
                "exactly one of them (errors/total or good/total)",
            )
        object.__setattr__(self, "total_query", _check_query(self.total_query, f"{where}: total_query"))
        for field in ("error_query", "good_query"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, _check_query(value, f"{where}: {field}"))
        if not isinstance(self.description, str) or "{{" in self.description or "}}" in self.description:
            raise refuse(f"{where}: description", self.description, "plain text without '{{' or '}}' (templating)")
        for condition in self.conditions():
            if condition.threshold >= 1:
                # The error ratio can never exceed 1, so this alert could never fire.
                lowest = _plain((1 - 1 / condition.factor).quantize(Decimal("0.0001"), rounding=ROUND_CEILING))
                raise refuse(
                    f"{where}: objective",
                    self.objective,
                    f"the {condition.severity} alert at burn rate {dec(condition.factor)}x over "
                    f"{condition.long_window} needs factor x budget < 1, but {dec(condition.factor)} x "
                    f"{dec(self.budget)} = {dec(condition.threshold)}, so it could never fire; "
                    f"raise the objective above {dec(lowest)} (1 - 1/{dec(condition.factor)})",
                )

    @property
    def slo_id(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def target(self) -> Decimal:
        """The objective as a Decimal (already normalised by __post_init__)."""
        assert isinstance(self.objective, Decimal)
        return self.objective

    @property
    def budget(self) -> Decimal:
        """Error budget = 1 - objective, exact."""
        return _plain(1 - self.target)

    @property
    def period_window(self) -> str:
        return f"{self.period_days}d"

    @property
    def alert_name(self) -> str:
        return f"{_camel(self.service)}ErrorBudgetBurn"

    @property
    def labels(self) -> dict[str, str]:
        return {"service": self.service, "slo": self.name}

    def conditions(self) -> list[BurnCondition]:
        """The four burn conditions for this SLO's period, with exact thresholds."""
        result = []
        for severity, long_window, short_window, factor_30d in BURN_POLICY:
            factor = scaled_factor(factor_30d, self.period_days)
            result.append(BurnCondition(severity, long_window, short_window, factor, _plain(factor * self.budget)))
        return result

    def total_rate_expr(self, window: str) -> str:
        """Requests per second over ``window``: empty when no total series exists (no traffic, no alert)."""
        return f"sum({_rate(self.total_query, window)})"

    def error_rate_expr(self, window: str) -> str:
        """Failed requests per second over ``window``.

        A missing counted series means none counted, never "unknown": ``or vector(0)`` keeps the ratio
        defined when the error series was never created, and, for good/total, pages through a total
        outage in which the good series went stale (a restarted pod that only fails) or never existed.
        """
        if self.error_query is not None:
            return f"(sum({_rate(self.error_query, window)}) or vector(0))"
        assert self.good_query is not None
        return f"({self.total_rate_expr(window)} - (sum({_rate(self.good_query, window)}) or vector(0)))"

    def error_ratio_expr(self, window: str) -> str:
        # Zero traffic gives 0/0 = NaN, which no threshold exceeds: quiet, as it should be.
        return f"{self.error_rate_expr(window)} / {self.total_rate_expr(window)}"


def _ratio_metric(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def _series(slo: SLO, metric: str) -> str:
    return f'{metric}{{service="{slo.service}",slo="{slo.name}"}}'


def _alert_expr(slo: SLO, severity: str) -> str:
    # (long > t and short > t) / budget: the filter uses the exact threshold, and dividing the long
    # window's ratio by the budget makes $value the burn rate shown in the annotations.
    branches = []
    for c in slo.conditions():
        if c.severity != severity:
            continue
        t = dec(c.threshold)
        branches.append(
            f"(\n  (\n    {_series(slo, _ratio_metric(c.long_window))} > {t}\n  and\n"
            f"    {_series(slo, _ratio_metric(c.short_window))} > {t}\n  )\n  / {dec(slo.budget)}\n)"
        )
    return "\nor\n".join(branches)


def _percent(value: Decimal) -> str:
    return dec(value * 100)


def _annotations(slo: SLO, severity: str) -> dict[str, str]:
    windows = " or ".join(
        f"{c.long_window} and {c.short_window} above {dec(c.factor)}x"
        for c in slo.conditions()
        if c.severity == severity
    )
    extra = f" {slo.description}" if slo.description else ""
    return {
        "summary": f"{slo.slo_id} is burning its {slo.period_window} error budget too fast ({severity})",
        "description": (
            f'{slo.slo_id} burns its error budget at {{{{ printf "%.1f" $value }}}}x the sustainable '
            f"rate over the long window (fires when {windows}). Objective {_percent(slo.target)}% "
            f"over {slo.period_window}, error budget {dec(slo.budget)}.{extra}"
        ),
        "runbook": (
            f"Check recent deploys, config changes and dependencies of {slo.service}; compare "
            f'{_ratio_metric("5m")} with {_ratio_metric("1h")} for service="{slo.service}" to see whether '
            "it is still burning; roll back or shed load if a change started it."
        ),
    }


def _check_unique(slos: Sequence[SLO]) -> None:
    seen: set[str] = set()
    for slo in slos:
        if not isinstance(slo, SLO):
            raise refuse("slos", slo, "SLO instances")
        if slo.slo_id in seen:
            raise refuse("slos", slo.slo_id, "each service/name pair once (their rules would collide)")
        seen.add(slo.slo_id)


def compile_rules(slos: Iterable[SLO]) -> dict[str, Any]:
    """A Prometheus rule file (``{"groups": [...]}``): two groups per SLO.

    ``slo:<service>:<name>`` (default interval): error ratio per window, then the page/ticket alerts
    (rules in a group run in order, so alerts read this evaluation's ratios).
    ``slo:<service>:<name>:budget`` (every 5m): objective, budget, error and request rates over 5m,
    the period's ratio as the sum of those recorded rates over the period, and
    ``slo:error_budget_remaining:ratio = 1 - ratio_period / budget``. Prometheus must retain the period.
    """
    slos = list(slos)
    _check_unique(slos)
    groups: list[dict[str, Any]] = []
    for slo in slos:
        rules: list[dict[str, Any]] = [
            {"record": _ratio_metric(w), "expr": slo.error_ratio_expr(w), "labels": slo.labels} for w in WINDOWS
        ]
        for severity in SEVERITIES:
            rules.append(
                {
                    "alert": slo.alert_name,
                    "expr": _alert_expr(slo, severity),
                    "for": FOR_DURATION[severity],
                    "labels": {"severity": severity},
                    "annotations": _annotations(slo, severity),
                }
            )
        groups.append({"name": f"slo:{slo.service}:{slo.name}", "rules": rules})
        period = slo.period_window
        groups.append(
            {
                "name": f"slo:{slo.service}:{slo.name}:budget",
                "interval": BUDGET_INTERVAL,
                "rules": [
                    {"record": "slo:objective:ratio", "expr": f"vector({dec(slo.target)})", "labels": slo.labels},
                    {"record": "slo:error_budget:ratio", "expr": f"vector({dec(slo.budget)})", "labels": slo.labels},
                    # Rates over 5m recorded every 5m tile the period: summing them over it counts every
                    # request once, and reads 8640 recorded samples instead of 30 days of raw ones.
                    {
                        "record": PERIOD_ERRORS,
                        "expr": slo.error_rate_expr(BUDGET_INTERVAL),
                        "labels": slo.labels,
                    },
                    {
                        "record": PERIOD_REQUESTS,
                        "expr": slo.total_rate_expr(BUDGET_INTERVAL),
                        "labels": slo.labels,
                    },
                    {
                        "record": _ratio_metric(period),
                        "expr": (
                            f"sum_over_time({_series(slo, PERIOD_ERRORS)}[{period}])\n"
                            f"/\nsum_over_time({_series(slo, PERIOD_REQUESTS)}[{period}])"
                        ),
                        "labels": slo.labels,
                    },
                    {
                        "record": "slo:error_budget_remaining:ratio",
                        "expr": f"1 - ({_series(slo, _ratio_metric(period))} / {dec(slo.budget)})",
                        "labels": slo.labels,
                    },
                ],
            }
        )
    return {"groups": groups}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (alert expressions) as literal blocks, so the file reads like hand-written rules."""

    def ignore_aliases(self, data: Any) -> bool:
        # Repeated expected alerts would otherwise become &id001 anchors: valid, but hard to review.
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml(document: Mapping[str, Any]) -> str:
    return yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096)


def render_rules_yaml(slos: Iterable[SLO]) -> str:
    return to_yaml(compile_rules(slos))


# --- CloudWatch ------------------------------------------------------------------------------------


def compile_cloudwatch_alarms(
    slo: SLO,
    *,
    load_balancer: str,
    alarm_actions: Mapping[str, Sequence[str]] | None = None,
    name_prefix: str = "",
) -> dict[str, list[dict[str, Any]]]:
    """The SLO's burn-rate alerts as CloudWatch alarms on an ALB, as keyword arguments for pulumi_aws.

    ``metric_alarms``: one ``aws.cloudwatch.MetricAlarm`` per (severity, window): the error ratio
    (``HTTPCode_Target_5XX_Count`` + ``HTTPCode_ELB_5XX_Count``) / ``RequestCount`` (Sum,
    ``LoadBalancer`` dimension) over one period the length of the window, above ``factor x budget``:
    what users get, the application's 5xx and the load balancer's own 502/503/504. Missing data (no
    traffic) is not breaching. The PromQL queries are not used: the ALB metrics are the SLI here.
    ``composite_alarms``: one ``aws.cloudwatch.CompositeAlarm`` per severity,
    ``(ALARM(long) AND ALARM(short)) OR ...``, carrying ``alarm_actions[severity]``: only composites
    notify, so a lone window never pages.
    """
    if not isinstance(load_balancer, str) or not re.fullmatch(r"app/[A-Za-z0-9-]{1,32}/[0-9a-f]+", load_balancer):
        raise refuse(
            "load_balancer", load_balancer, "an ALB dimension value (ARN suffix) like app/web/0123456789abcdef"
        )
    if not isinstance(name_prefix, str) or (name_prefix and not re.fullmatch(r"[A-Za-z0-9_.-]+", name_prefix)):
        raise refuse("name_prefix", name_prefix, "letters, digits, '.', '-' or '_'")
    actions = dict(alarm_actions or {})
    for severity in actions:
        validate_severity(severity, "alarm_actions key")
    base = f"{name_prefix}{slo.service}-{slo.name}"
    metric_alarms: list[dict[str, Any]] = []
    rules: dict[str, list[str]] = {s: [] for s in SEVERITIES}
    for c in slo.conditions():
        names = []
        for role, window in (("long", c.long_window), ("short", c.short_window)):
            where = f"{slo.slo_id} {c.severity} {role} window period"
            period = validate_alarm_period(window_seconds(window), where)
            validate_alarm_evaluation(period, 1, where)
            name = f"{base}-burn-{c.severity}-{window}"
            names.append(name)

            def metric(metric_name: str, period: int = period) -> dict[str, Any]:
                return {
                    "namespace": "AWS/ApplicationELB",
                    "metric_name": metric_name,
                    "dimensions": {"LoadBalancer": load_balancer},
                    "period": period,
                    "stat": "Sum",
                }

            metric_alarms.append(
                {
                    "name": name,
                    "alarm_description": (
                        f"{slo.slo_id} {c.severity} burn, {role} window {window}: target and load balancer 5xx "
                        f"ratio above "
                        f"{dec(c.factor)}x budget {dec(slo.budget)} = {dec(c.threshold)}"
                    ),
                    "comparison_operator": "GreaterThanThreshold",
                    "threshold": float(c.threshold),
                    "evaluation_periods": 1,
                    "datapoints_to_alarm": 1,
                    "treat_missing_data": "notBreaching",
                    "metric_queries": [
                        {"id": "m_target", "metric": metric("HTTPCode_Target_5XX_Count"), "return_data": False},
                        # 502/503/504 the load balancer answers itself: targets that crash, time out or are gone.
                        {"id": "m_elb", "metric": metric("HTTPCode_ELB_5XX_Count"), "return_data": False},
                        {"id": "m_total", "metric": metric("RequestCount"), "return_data": False},
                        {
                            "id": "errors",
                            # These metrics report nothing while nothing fails: no datapoint is zero.
                            "expression": "FILL(m_target, 0) + FILL(m_elb, 0)",
                            "return_data": False,
                        },
                        {
                            "id": "error_ratio",
                            # RequestCount leaves out requests refused before a target was chosen (503 with
                            # no target): the per-datapoint MAX keeps an outage at ratio 1, never above.
                            "expression": "errors / MAX([FILL(m_total, 0), errors])",
                            "label": f"{slo.slo_id} error ratio {window}",
                            "return_data": True,
                        },
                    ],
                    "tags": {**slo.labels, "severity": c.severity},
                }
            )
        rules[c.severity].append(f'(ALARM("{names[0]}") AND ALARM("{names[1]}"))')
    composite_alarms = [
        {
            "alarm_name": f"{base}-burn-{severity}",
            "alarm_rule": " OR ".join(rules[severity]),
            "alarm_description": f"{slo.slo_id}: error budget burning too fast ({severity})",
            "alarm_actions": list(actions.get(severity, ())),
            "tags": {**slo.labels, "severity": severity},
        }
        for severity in SEVERITIES
    ]
    return {"metric_alarms": metric_alarms, "composite_alarms": composite_alarms}


__all__ = [
    "BURN_POLICY",
    "FOR_DURATION",
    "PERIODS_DAYS",
    "SEVERITIES",
    "SLO",
    "WINDOWS",
    "WINDOW_PLACEHOLDER",
    "BurnCondition",
    "compile_cloudwatch_alarms",
    "compile_rules",
    "dec",
    "render_rules_yaml",
    "scaled_factor",
    "to_yaml",
    "validate_alarm_evaluation",
    "validate_alarm_period",
    "validate_severity",
    "window_seconds",
]
