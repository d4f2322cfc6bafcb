"""A CloudWatch dashboard with the metrics the recommended alarms watch, thresholds drawn.

Creates: aws.cloudwatch.Dashboard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from hardstack.aws.alarms import AlarmThresholds, AlbMetrics, FleetMetrics, RdsMetrics
from hardstack.aws.context import AwsContext
from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.naming import Naming
from hardstack.core.tier import Tier

# --- dashboard -----------------------------------------------------------------------------------


def _widget(title: str, metrics: list[list[Any]], region: str, period: int, **props: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {"title": title, "metrics": metrics, "region": region, "period": period, "view": "timeSeries"}
        | props,
    }


def _line(label: str, value: float) -> dict[str, Any]:
    return {"horizontal": [{"label": label, "value": value}]}


def dashboard_widgets(
    region: str,
    thresholds: AlarmThresholds,
    *,
    fleet: FleetMetrics | None = None,
    alb: AlbMetrics | None = None,
    rds: RdsMetrics | None = None,
) -> list[dict[str, Any]]:
    """Metric widgets (two per row) for what the alarms watch, with alarm thresholds drawn in.

    Dimension values may be Outputs: render with `pulumi.Output.json_dumps`.
    """
    p = thresholds.period_seconds
    widgets: list[dict[str, Any]] = []
    if fleet is not None:
        asg = ["AutoScalingGroupName", fleet.asg_name]
        widgets += [
            _widget(
                "Fleet capacity",
                [
                    ["AWS/AutoScaling", "GroupDesiredCapacity", *asg, {"stat": "Average"}],
                    ["AWS/AutoScaling", "GroupInServiceInstances", *asg, {"stat": "Average"}],
                ],
                region,
                p,
            ),
            _widget(
                "Fleet CPU and status checks",
                [
                    ["AWS/EC2", "CPUUtilization", *asg, {"stat": "Average"}],
                    ["AWS/EC2", "StatusCheckFailed", *asg, {"stat": "Maximum", "yAxis": "right"}],
                ],
                region,
                p,
                annotations=_line("CPU alarm", thresholds.cpu_percent),
            ),
        ]
    if alb is not None:
        lb = ["LoadBalancer", alb.load_balancer]
        widgets += [
            _widget(
                "ALB target 5xx ratio",
                [
                    [{"expression": "FILL(m_5xx, 0) / m_requests", "label": "5xx ratio", "id": "ratio"}],
                    [
                        "AWS/ApplicationELB",
                        "HTTPCode_Target_5XX_Count",
                        *lb,
                        {"stat": "Sum", "id": "m_5xx", "visible": False},
                    ],
                    ["AWS/ApplicationELB", "RequestCount", *lb, {"stat": "Sum", "id": "m_requests", "visible": False}],
                ],
                region,
                p,
                annotations=_line("5xx alarm", thresholds.alb_5xx_ratio),
            ),
            _widget(
                "ALB p99 latency (s)",
                [["AWS/ApplicationELB", "TargetResponseTime", *lb, {"stat": "p99"}]],
                region,
                p,
                annotations=_line("p99 alarm", thresholds.alb_p99_latency_seconds),
            ),
            _widget(
                "ALB healthy hosts",
                [
                    [
                        "AWS/ApplicationELB",
                        "HealthyHostCount",
                        "TargetGroup",
                        alb.target_group,
                        *lb,
                        {"stat": "Minimum"},
                    ]
                ],
                region,
                p,
                annotations=_line("no healthy host", 1),
            ),
        ]
    if rds is not None:
        db = ["DBInstanceIdentifier", rds.db_instance_identifier]
        widgets += [
            _widget(
                "RDS CPU",
                [["AWS/RDS", "CPUUtilization", *db, {"stat": "Average"}]],
                region,
                p,
                annotations=_line("CPU alarm", thresholds.rds_cpu_percent),
            ),
            _widget(
                "RDS free storage (bytes)",
                [["AWS/RDS", "FreeStorageSpace", *db, {"stat": "Minimum"}]],
                region,
                p,
                annotations=_line("storage alarm", thresholds.rds_free_storage_bytes),
            ),
            _widget(
                "RDS freeable memory (bytes)",
                [["AWS/RDS", "FreeableMemory", *db, {"stat": "Minimum"}]],
                region,
                p,
                annotations=_line("memory alarm", thresholds.rds_freeable_memory_bytes),
            ),
            _widget(
                "RDS connections",
                [["AWS/RDS", "DatabaseConnections", *db, {"stat": "Maximum"}]],
                region,
                p,
                annotations=_line("connections alarm", thresholds.rds_max_connections),
            ),
        ]
    for i, widget in enumerate(widgets):
        widget["x"], widget["y"] = (i % 2) * 12, (i // 2) * 6
    return widgets


@documented
@dataclass(frozen=True, kw_only=True)
class DashboardArgs:
    context: AwsContext
    """Region the metrics live in."""
    tier: Tier = Tier.PRODUCTION
    """Picks the default thresholds. Default: production."""
    naming: Naming | None = None
    """The dashboard is named `<naming prefix>-<name>`. Default: the context's naming."""
    thresholds: AlarmThresholds | None = None
    """Alarm thresholds drawn on the graphs. Default: `AlarmThresholds.for_tier(tier)`."""
    fleet: FleetMetrics | None = None
    """Fleet graphs. Default: none."""
    alb: AlbMetrics | None = None
    """Load balancer graphs. Default: none."""
    rds: RdsMetrics | None = None
    """What to graph (the same values as `ServiceAlarmsArgs`). At least one is required."""

    def __post_init__(self) -> None:
        if self.thresholds is None:
            object.__setattr__(self, "thresholds", AlarmThresholds.for_tier(self.tier))
        if self.fleet is None and self.alb is None and self.rds is None:
            raise refuse("fleet/alb/rds", None, "at least one of them: an empty dashboard is refused by CloudWatch")


class Dashboard(Component):
    dashboard_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", name):
            raise refuse("Dashboard name", name, "1-200 letters, digits, '_' or '-' (CloudWatch dashboard names)")
        assert args.thresholds is not None  # set by DashboardArgs
        widgets = dashboard_widgets(args.context.region, args.thresholds, fleet=args.fleet, alb=args.alb, rds=args.rds)
        super().__init__("hardstack:monitoring:Dashboard", name, opts)
        board = aws.cloudwatch.Dashboard(
            name,
            dashboard_name=(args.naming or args.context.names).flat(name, 255),
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
            opts=self.child(),
        )
        self.dashboard_arn = board.dashboard_arn
        self.register_outputs({"dashboard_arn": self.dashboard_arn})
