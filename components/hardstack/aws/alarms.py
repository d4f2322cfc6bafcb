"""The recommended CloudWatch alarms of a service and its SLO burn-rate alarms.

Creates: aws.cloudwatch.MetricAlarm per recommended alarm (fleet, ALB, RDS, SNS failed deliveries)
and per SLO burn window, aws.cloudwatch.CompositeAlarm per SLO severity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from hardstack.base.component import Component, stack_naming
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.naming import Naming
from hardstack.core.slo import SLO, compile_cloudwatch_alarms, validate_alarm_evaluation, validate_alarm_period
from hardstack.core.tier import Tier, parse_tier

LOAD_BALANCER_PLACEHOLDER = "app/hardstack-placeholder/0"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_GIB = 1024**3
_MIB = 1024**2

# --- thresholds ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    """When the recommended alarms fire. Defaults are production's; `for_tier` gives each tier's."""

    period_seconds: int = 60
    """Length of one datapoint, a multiple of 60. Default: 60."""
    evaluation_periods: int = 5
    """Datapoints looked at. Default: 5."""
    datapoints_to_alarm: int = 3
    """Of those, how many must breach ("M of N" absorbs a single blip). Default: 3."""
    cpu_percent: float = 80.0
    """Fleet average CPU above which to alarm. Default: 80 (the scaling policy aims at 50)."""
    alb_5xx_ratio: float = 0.01
    """Share of requests answered 5xx by targets. Default: 0.01."""
    alb_p99_latency_seconds: float = 1.0
    """p99 target response time. Default: 1 s."""
    rds_cpu_percent: float = 80.0
    """Database CPU. Default: 80."""
    rds_free_storage_bytes: int = 10 * _GIB
    """Free storage below which to alarm. Default: 10 GiB."""
    rds_freeable_memory_bytes: int = 512 * _MIB
    """Freeable memory below which to alarm. Default: 512 MiB."""
    rds_max_connections: int = 400
    """Connections above which to alarm; set about 80% of the instance class's max_connections. Default: 400."""

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "development": {
            "period_seconds": 300,
            "evaluation_periods": 3,
            "datapoints_to_alarm": 3,
            "cpu_percent": 90.0,
            "alb_5xx_ratio": 0.05,
            "alb_p99_latency_seconds": 3.0,
            "rds_cpu_percent": 90.0,
            "rds_free_storage_bytes": 2 * _GIB,
            "rds_freeable_memory_bytes": 128 * _MIB,
            "rds_max_connections": 90,
        },
        "staging": {
            "cpu_percent": 85.0,
            "alb_5xx_ratio": 0.02,
            "alb_p99_latency_seconds": 1.5,
            "rds_cpu_percent": 85.0,
            "rds_free_storage_bytes": 5 * _GIB,
            "rds_freeable_memory_bytes": 256 * _MIB,
            "rds_max_connections": 180,
        },
        "production": {},
    }

    def __post_init__(self) -> None:
        validate_alarm_period(self.period_seconds, "thresholds.period_seconds")
        for key in ("evaluation_periods", "datapoints_to_alarm", "rds_max_connections"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise refuse(f"thresholds.{key}", value, "a whole number, 1 or more")
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise refuse(
                "thresholds.datapoints_to_alarm",
                self.datapoints_to_alarm,
                f"at most evaluation_periods ({self.evaluation_periods})",
            )
        validate_alarm_evaluation(
            self.period_seconds, self.evaluation_periods, "thresholds.evaluation_periods x period"
        )
        for key in ("cpu_percent", "rds_cpu_percent"):
            if not 0 < getattr(self, key) <= 100:
                raise refuse(f"thresholds.{key}", getattr(self, key), "a percentage above 0, at most 100")
        if not 0 < self.alb_5xx_ratio < 1:
            raise refuse("thresholds.alb_5xx_ratio", self.alb_5xx_ratio, "a ratio strictly between 0 and 1, e.g. 0.01")
        if not self.alb_p99_latency_seconds > 0:
            raise refuse("thresholds.alb_p99_latency_seconds", self.alb_p99_latency_seconds, "seconds, above 0")
        for key in ("rds_free_storage_bytes", "rds_freeable_memory_bytes"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise refuse(f"thresholds.{key}", value, "a whole number of bytes, 1 or more")

    @classmethod
    def for_tier(cls, tier: Tier, where: str = "tier") -> AlarmThresholds:
        """development alarms late and on clear breakage; staging and production at one-minute
        resolution, production strictest."""
        return cls(**cls.PROFILES[parse_tier(tier, where).value])


# --- what to watch -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FleetMetrics:
    asg_name: pulumi.Input[str]
    """Auto Scaling group name (`Fleet.group_name`); it must publish group metrics (Fleet does)."""
    tolerated_shortfall: int = 0
    """Instances below desired capacity tolerated before alarming. Default: 0."""

    def __post_init__(self) -> None:
        if isinstance(self.tolerated_shortfall, bool) or not isinstance(self.tolerated_shortfall, int):
            raise refuse("fleet.tolerated_shortfall", self.tolerated_shortfall, "a whole number, 0 or more")
        if self.tolerated_shortfall < 0:
            raise refuse("fleet.tolerated_shortfall", self.tolerated_shortfall, "a whole number, 0 or more")


@dataclass(frozen=True, kw_only=True)
class AlbMetrics:
    load_balancer: pulumi.Input[str]
    """The ALB's ARN suffix (`LoadBalancer.arn_suffix`), its CloudWatch dimension."""
    target_group: pulumi.Input[str]
    """The target group's ARN suffix (`LoadBalancer.target_group_arn_suffix`)."""


@dataclass(frozen=True, kw_only=True)
class RdsMetrics:
    db_instance_identifier: pulumi.Input[str]
    """The DB instance identifier (not its ARN)."""


# --- alarms --------------------------------------------------------------------------------------


@documented
@dataclass(frozen=True, kw_only=True)
class ServiceAlarmsArgs:
    topic_arn: pulumi.Input[str]
    """Alert topic (`AlertTopic.arn`): every alarm notifies it on ALARM and on OK."""
    tier: Tier = Tier.PRODUCTION
    """Picks the default thresholds. Default: production."""
    naming: Naming | None = None
    """Prefix of every alarm name, so stacks and projects sharing an account never collide. Default:
    the Pulumi project and stack."""
    thresholds: AlarmThresholds | None = None
    """When alarms fire. Default: `AlarmThresholds.for_tier(tier)`."""
    fleet: FleetMetrics | None = None
    """Fleet alarms: in-service below desired, CPU, status checks. Default: none."""
    alb: AlbMetrics | None = None
    """Load balancer alarms: 5xx ratio, no healthy host, p99 latency. Default: none."""
    rds: RdsMetrics | None = None
    """Database alarms: CPU, free storage, freeable memory, connections. Default: none."""
    failed_deliveries_topic_name: pulumi.Input[str] | None = None
    """Topic name (`AlertTopic.name`) to alarm on failed deliveries. Default: none."""
    slos: Sequence[SLO] = ()
    """SLOs alarmed by burn rate on the ALB (needs `alb`); composites notify, windows do not. Default: none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        if self.thresholds is None:
            object.__setattr__(self, "thresholds", AlarmThresholds.for_tier(self.tier))
        elif not isinstance(self.thresholds, AlarmThresholds):
            raise refuse("thresholds", self.thresholds, "an AlarmThresholds")
        if self.slos and self.alb is None:
            raise refuse("slos", [s.slo_id for s in self.slos], "SLO alarms on the ALB's 5xx ratio: pass alb too")
        seen: set[str] = set()
        for slo in self.slos:
            if not isinstance(slo, SLO):
                raise refuse("slos", slo, "SLO instances")
            if slo.slo_id in seen:
                raise refuse("slos", slo.slo_id, "each service/name pair once (their alarm names would collide)")
            seen.add(slo.slo_id)

    @property
    def limits(self) -> AlarmThresholds:
        assert self.thresholds is not None  # set by __post_init__
        return self.thresholds


def _runbook(means: str, first: str) -> str:
    return f"{means} First action: {first}"


def _metric(
    id_: str, namespace: str, metric_name: str, dimensions: Mapping[str, pulumi.Input[str]], stat: str, period: int
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=id_,
        return_data=False,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=metric_name, dimensions=dict(dimensions), stat=stat, period=period
        ),
    )


def recommended_alarms(
    prefix: str,
    args: ServiceAlarmsArgs,
) -> dict[str, aws.cloudwatch.MetricAlarmArgs]:
    """The recommended alarms for what `args` watches, keyed by name suffix (`alb-5xx`, `rds-cpu`, ...).

    `prefix` starts each alarm's name (environment and component name).
    """
    t = args.limits
    actions = [args.topic_arn]
    common: dict[str, Any] = {
        "alarm_actions": actions,
        "ok_actions": actions,
        "evaluation_periods": t.evaluation_periods,
        "datapoints_to_alarm": t.datapoints_to_alarm,
        "tags": dict(args.tags),
    }
    specs: dict[str, dict[str, Any]] = {}

    def single(namespace: str, metric: str, dims: Mapping[str, pulumi.Input[str]], stat: str) -> dict[str, Any]:
        # Percentiles (p99) go in extended_statistic, the basic statistics in statistic.
        key = "extended_statistic" if stat.startswith("p") else "statistic"
        return {
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dict(dims),
            "period": t.period_seconds,
            key: stat,
        }

    if args.fleet is not None:
        asg = {"AutoScalingGroupName": args.fleet.asg_name}
        specs["fleet-capacity"] = {
            "alarm_description": _runbook(
                "Fewer instances in service than the group wants: launches fail, or instances fail health checks.",
                "check the group's activity history for failed launches (quota, AMI, subnet capacity) and the "
                "target group's unhealthy targets.",
            ),
            "metric_queries": [
                _metric("m_in", "AWS/AutoScaling", "GroupInServiceInstances", asg, "Average", t.period_seconds),
                _metric("m_desired", "AWS/AutoScaling", "GroupDesiredCapacity", asg, "Average", t.period_seconds),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="shortfall", expression="m_in - m_desired", label="in service - desired", return_data=True
                ),
            ],
            "comparison_operator": "LessThanThreshold",
            "threshold": float(-args.fleet.tolerated_shortfall),
            # A shortfall must last the whole window: scale-outs are short dips, not incidents.
            "datapoints_to_alarm": t.evaluation_periods,
            # No group metrics at all means the group or its metrics collection is gone: treat as down.
            "treat_missing_data": "breaching",
        }
        specs["fleet-cpu"] = {
            **single("AWS/EC2", "CPUUtilization", asg, "Average"),
            "alarm_description": _runbook(
                f"Fleet average CPU above {t.cpu_percent:g}% although scaling should hold it near its target: "
                "the group is at max size or scaling is too slow.",
                "compare desired with max size; raise max size or find the hot code path (deploy, traffic spike).",
            ),
            "comparison_operator": "GreaterThanThreshold",
            "threshold": t.cpu_percent,
            # No CPU data means no instances report; the capacity alarm owns that, so keep the state.
            "treat_missing_data": "missing",
        }
        specs["fleet-status-check"] = {
            **single("AWS/EC2", "StatusCheckFailed", asg, "Maximum"),
            "alarm_description": _runbook(
                "An instance of the fleet fails its EC2 system or instance status check.",
                "find it in the EC2 console; the group replaces it on ELB health checks, otherwise terminate it.",
            ),
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0.0,
            # No datapoint is no failure reported; missing instances are the capacity alarm's job.
            "treat_missing_data": "notBreaching",
        }
    if args.alb is not None:
        lb = {"LoadBalancer": args.alb.load_balancer}
        specs["alb-5xx"] = {
            "alarm_description": _runbook(
                f"More than {t.alb_5xx_ratio:.2%} of requests answered 5xx by the application.",
                "check the application logs and the last deploy; roll back if it started with a change.",
            ),
            "metric_queries": [
                _metric("m_5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, "Sum", t.period_seconds),
                _metric("m_requests", "AWS/ApplicationELB", "RequestCount", lb, "Sum", t.period_seconds),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="ratio",
                    # No 5xx datapoint means zero errors, not an unknown ratio.
                    expression="FILL(m_5xx, 0) / m_requests",
                    label="target 5xx / requests",
                    return_data=True,
                ),
            ],
            "comparison_operator": "GreaterThanThreshold",
            "threshold": t.alb_5xx_ratio,
            # No requests, no ratio: nothing is failing.
            "treat_missing_data": "notBreaching",
        }
        specs["alb-no-healthy-host"] = {
            **single(
                "AWS/ApplicationELB",
                "HealthyHostCount",
                {"TargetGroup": args.alb.target_group, **lb},
                "Minimum",
            ),
            "alarm_description": _runbook(
                "No healthy target behind the load balancer: every request fails with 502/503.",
                "check the target group's health-check reasons and the fleet's capacity alarm; roll back a bad deploy.",
            ),
            "comparison_operator": "LessThanThreshold",
            "threshold": 1.0,
            # The ALB reports this every minute while it exists; silence means nothing reports healthy.
            "treat_missing_data": "breaching",
        }
        specs["alb-p99-latency"] = {
            **single("AWS/ApplicationELB", "TargetResponseTime", lb, "p99"),
            # A percentile of a handful of requests is noise: keep the state until there are enough.
            "evaluate_low_sample_count_percentiles": "ignore",
            "alarm_description": _runbook(
                f"p99 response time of the application above {t.alb_p99_latency_seconds:g} s.",
                "check the database alarms and fleet CPU; look for slow queries or a saturated dependency.",
            ),
            "comparison_operator": "GreaterThanThreshold",
            "threshold": t.alb_p99_latency_seconds,
            # No requests, no latency: nothing is slow.
            "treat_missing_data": "notBreaching",
        }
    if args.rds is not None:
        db = {"DBInstanceIdentifier": args.rds.db_instance_identifier}
        rds: list[tuple[str, str, str, str, float, str, str]] = [
            (
                "rds-cpu",
                "CPUUtilization",
                "Average",
                "GreaterThanThreshold",
                t.rds_cpu_percent,
                f"Database CPU above {t.rds_cpu_percent:g}%.",
                "look at Performance Insights for the top queries; scale the instance class if load is legitimate.",
            ),
            (
                "rds-free-storage",
                "FreeStorageSpace",
                "Minimum",
                "LessThanThreshold",
                float(t.rds_free_storage_bytes),
                f"Database free storage below {t.rds_free_storage_bytes / _GIB:g} GiB; a full volume stops writes.",
                "raise allocated storage (or max_allocated_storage) now; then find what grew.",
            ),
            (
                "rds-freeable-memory",
                "FreeableMemory",
                "Minimum",
                "LessThanThreshold",
                float(t.rds_freeable_memory_bytes),
                f"Database freeable memory below {t.rds_freeable_memory_bytes / _MIB:g} MiB; it will swap.",
                "check connection count and work_mem-heavy queries; scale the instance class if sustained.",
            ),
            (
                "rds-connections",
                "DatabaseConnections",
                "Maximum",
                "GreaterThanThreshold",
                float(t.rds_max_connections),
                f"More than {t.rds_max_connections} database connections; new ones will soon be refused.",
                "check for a connection leak or pool misconfiguration in the fleet; add a pooler if traffic grew.",
            ),
        ]
        for suffix, metric, stat, op, threshold, means, first in rds:
            specs[suffix] = {
                **single("AWS/RDS", metric, db, stat),
                "alarm_description": _runbook(means, first),
                "comparison_operator": op,
                "threshold": threshold,
                # No data means the instance is stopped or gone, which these alarms cannot judge: keep the state.
                "treat_missing_data": "missing",
            }
    if args.failed_deliveries_topic_name is not None:
        specs["sns-failed-deliveries"] = {
            **single("AWS/SNS", "NumberOfNotificationsFailed", {"TopicName": args.failed_deliveries_topic_name}, "Sum"),
            "alarm_description": _runbook(
                "The alert topic failed to deliver notifications: someone is not being told about alarms "
                "(this alarm may itself not reach them; watch it on the dashboard).",
                "check each subscription's endpoint (confirmed? reachable? queue/function permissions?).",
            ),
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0.0,
            # Every failed delivery counts: one datapoint is enough.
            "evaluation_periods": 1,
            "datapoints_to_alarm": 1,
            # No deliveries attempted, no failures.
            "treat_missing_data": "notBreaching",
        }
    return {
        suffix: aws.cloudwatch.MetricAlarmArgs(name=f"{prefix}-{suffix}", **{**common, **spec})
        for suffix, spec in specs.items()
    }


_QUERY_KEYS = frozenset({"id", "expression", "label", "return_data", "metric", "period"})
_METRIC_KEYS = frozenset({"namespace", "metric_name", "dimensions", "period", "stat", "unit"})
_ALARM_KEYS = frozenset(
    {
        "name",
        "alarm_description",
        "comparison_operator",
        "threshold",
        "evaluation_periods",
        "datapoints_to_alarm",
        "treat_missing_data",
        "metric_queries",
        "tags",
    }
)
_COMPOSITE_KEYS = frozenset({"alarm_name", "alarm_rule", "alarm_description", "alarm_actions", "tags"})


def _known(keys: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    # The SLO compiler and this converter must agree; an unknown key would otherwise be dropped silently.
    extra = sorted(set(keys) - allowed)
    if extra:
        raise refuse(f"compiled {what}", extra, f"only keys this converter maps: {', '.join(sorted(allowed))}")


def _swap(value: str, load_balancer: pulumi.Input[str]) -> pulumi.Input[str]:
    return load_balancer if value == LOAD_BALANCER_PLACEHOLDER else value


def slo_alarm_args(
    slo: SLO,
    *,
    load_balancer: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
    name_prefix: str,
    tags: Mapping[str, str],
) -> tuple[dict[str, aws.cloudwatch.MetricAlarmArgs], dict[str, aws.cloudwatch.CompositeAlarmArgs]]:
    """Typed args for the SLO's window alarms and composites, keyed by alarm name.

    Compiled against a placeholder load balancer whose dimension value is swapped for the Output.
    """
    compiled = compile_cloudwatch_alarms(slo, load_balancer=LOAD_BALANCER_PLACEHOLDER, name_prefix=name_prefix)
    metric_alarms: dict[str, aws.cloudwatch.MetricAlarmArgs] = {}
    for alarm in compiled["metric_alarms"]:
        _known(alarm, _ALARM_KEYS, "metric alarm")
        queries = []
        for query in alarm["metric_queries"]:
            _known(query, _QUERY_KEYS, "metric query")
            metric = query.get("metric")
            metric_args = None
            if metric is not None:
                _known(metric, _METRIC_KEYS, "metric")
                metric_args = aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=metric["namespace"],
                    metric_name=metric["metric_name"],
                    dimensions={k: _swap(v, load_balancer) for k, v in metric.get("dimensions", {}).items()},
                    period=metric["period"],
                    stat=metric["stat"],
                    unit=metric.get("unit"),
                )
            queries.append(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=query["id"],
                    expression=query.get("expression"),
                    label=query.get("label"),
                    return_data=query.get("return_data"),
                    period=query.get("period"),
                    metric=metric_args,
                )
            )
        metric_alarms[alarm["name"]] = aws.cloudwatch.MetricAlarmArgs(
            name=alarm["name"],
            alarm_description=alarm["alarm_description"],
            comparison_operator=alarm["comparison_operator"],
            threshold=alarm["threshold"],
            evaluation_periods=alarm["evaluation_periods"],
            datapoints_to_alarm=alarm.get("datapoints_to_alarm"),
            treat_missing_data=alarm.get("treat_missing_data"),
            metric_queries=queries,
            tags={**tags, **alarm.get("tags", {})},
        )
    composites: dict[str, aws.cloudwatch.CompositeAlarmArgs] = {}
    for composite in compiled["composite_alarms"]:
        _known(composite, _COMPOSITE_KEYS, "composite alarm")
        composites[composite["alarm_name"]] = aws.cloudwatch.CompositeAlarmArgs(
            alarm_name=composite["alarm_name"],
            alarm_rule=composite["alarm_rule"],
            alarm_description=composite.get("alarm_description"),
            # Only composites notify: a lone burning window never pages.
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags={**tags, **composite.get("tags", {})},
        )
    return metric_alarms, composites


class ServiceAlarms(Component):
    """Alarm names are `<naming prefix>-<name>-<suffix>`; resource names `<name>-<suffix>`."""

    alarm_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: ServiceAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not _NAME.match(name):
            raise refuse("ServiceAlarms name", name, "1-100 letters, digits, '.', '_' or '-' (part of alarm names)")
        naming = args.naming or stack_naming()
        prefix = naming.flat(name, 200)
        # Everything is built before the component registers, so a compile error leaves nothing behind.
        alarms = recommended_alarms(prefix, args)
        slo_alarms: list[tuple[dict[str, Any], dict[str, Any]]] = []
        if args.alb is not None:  # SLOs without alb are refused by ServiceAlarmsArgs
            slo_alarms = [
                slo_alarm_args(
                    slo,
                    load_balancer=args.alb.load_balancer,
                    topic_arn=args.topic_arn,
                    name_prefix=f"{prefix}-",
                    tags=args.tags,
                )
                for slo in args.slos
            ]
        super().__init__("hardstack:monitoring:ServiceAlarms", name, opts)
        child = self.child()
        names: list[pulumi.Output[str]] = []
        for suffix, alarm_args in alarms.items():
            names.append(aws.cloudwatch.MetricAlarm(f"{name}-{suffix}", args=alarm_args, opts=child).name)
        # Resource names drop the naming prefix of the alarm names, like the recommended alarms'.
        env_prefix = prefix.removesuffix(name)
        for windows, composites in slo_alarms:
            created = [
                aws.cloudwatch.MetricAlarm(alarm_name.removeprefix(env_prefix), args=alarm_args, opts=child)
                for alarm_name, alarm_args in windows.items()
            ]
            names += [alarm.name for alarm in created]
            # CloudWatch refuses a rule naming alarms that do not exist yet.
            after = self.child(depends_on=created)
            for alarm_name, composite_args in composites.items():
                composite = aws.cloudwatch.CompositeAlarm(
                    alarm_name.removeprefix(env_prefix), args=composite_args, opts=after
                )
                names.append(composite.alarm_name)
        self.alarm_names = pulumi.Output.all(*names).apply(list)
        self.register_outputs({"alarm_names": self.alarm_names})
