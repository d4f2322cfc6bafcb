import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pulumi
import pytest
from botocore.validate import validate_parameters
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from hardstack import AwsContext, HardstackError
from hardstack.aws.alarms import AlarmThresholds, AlbMetrics, FleetMetrics, RdsMetrics, ServiceAlarms, ServiceAlarmsArgs
from hardstack.aws.dashboard import Dashboard, DashboardArgs
from hardstack.aws.load_balancer import LoadBalancer, LoadBalancerArgs
from hardstack.aws.topic import (
    AlertTopic,
    AlertTopicArgs,
    Subscription,
    cloudwatch_alarms_key_statement,
    parse_subscription,
)
from hardstack.core.naming import Naming
from hardstack.core.slo import SLO
from hardstack.core.tier import Tier
from hardstack.tooling.sandbox import put_metric_alarm_request
from hardstack.tooling.testing import MOCK_ACCOUNT, Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id=MOCK_ACCOUNT)
KEY = f"arn:aws:kms:eu-west-3:{MOCK_ACCOUNT}:key/alerts"
TOPIC_ARN = f"arn:aws:sns:eu-west-3:{MOCK_ACCOUNT}:alerts"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
LB = "app/web/0123456789abcdef"
TG = "targetgroup/web-app/0123456789abcdef"
ASG = {"AutoScalingGroupName": "app-asg"}
DB = {"DBInstanceIdentifier": "appdb"}
API_SLO = SLO(
    "api",
    "0.999",
    total_query='http_requests_total{job="api"}',
    error_query='http_requests_total{job="api",code=~"5.."}',
)
TIERS = {"test": Tier.DEVELOPMENT, "preprod": Tier.STAGING, "prod": Tier.PRODUCTION}
EMAIL = Subscription("email", "oncall@example.com")
HOOK = Subscription("https", "https://hooks.example.com/alerts")
QUEUE = Subscription("sqs", f"arn:aws:sqs:eu-west-3:{MOCK_ACCOUNT}:alerts")


def topic(**kw: Any) -> Callable[[], None]:
    built = AlertTopicArgs(**{"context": CTX, "kms_key_arn": KEY, **kw})

    def program() -> None:
        AlertTopic("alerts", built)

    return program


def service_args(environment: str = "test", **kw: Any) -> ServiceAlarmsArgs:
    base: dict[str, Any] = {
        "topic_arn": TOPIC_ARN,
        "tier": TIERS[environment],
        "naming": Naming((environment,)),
        "fleet": FleetMetrics(asg_name="app-asg"),
        "alb": AlbMetrics(load_balancer=LB, target_group=TG),
        "rds": RdsMetrics(db_instance_identifier="appdb"),
        "failed_deliveries_topic_name": "alerts-topic",
    }
    return ServiceAlarmsArgs(**{**base, **kw})


def program_of(built: ServiceAlarmsArgs) -> Callable[[], None]:
    def program() -> None:
        ServiceAlarms("app", built)

    return program


def alarms(run: Run, environment: str = "test", **kw: Any) -> Recording:
    built = service_args(environment, **kw)
    return run(program_of(built))


def policy(rec: Recording) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(rec.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])[
        "Statement"
    ]
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


# --- topic ---------------------------------------------------------------------------------------


def test_topic_is_encrypted_with_the_customer_key(run: Run) -> None:
    assert run(topic()).one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == KEY


def test_only_cloudwatch_alarms_of_this_account_may_publish(run: Run) -> None:
    allowed = [s for s in policy(run(topic())) if s["Effect"] == "Allow" and "sns:Publish" in actions(s)]
    (statement,) = allowed
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": MOCK_ACCOUNT}
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:cloudwatch:eu-west-3:{MOCK_ACCOUNT}:alarm:*"
    }


def test_the_account_keeps_management_but_not_publish_or_policy_changes(run: Run) -> None:
    statements = policy(run(topic()))
    (root,) = [s for s in statements if s["Principal"] == {"AWS": f"arn:aws:iam::{MOCK_ACCOUNT}:root"}]
    assert root["Effect"] == "Allow"
    assert {"sns:Publish", "sns:AddPermission", "sns:RemovePermission", "sns:DeleteTopic"}.isdisjoint(actions(root))
    assert not any(s["Principal"] in ("*", {"AWS": "*"}) for s in statements if s["Effect"] == "Allow")


def test_publishes_without_tls_are_denied(run: Run) -> None:
    (deny,) = [s for s in policy(run(topic())) if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and actions(deny) == ["sns:Publish"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_key_statement_lets_cloudwatch_alarms_of_this_account_use_the_key(run: Run) -> None:
    statement = json.loads(run_json(run, cloudwatch_alarms_key_statement(CTX)))
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": MOCK_ACCOUNT}


def run_json(run: Run, value: Any) -> str:
    """Resolve Outputs inside `value` on the mock runtime."""
    rec = run(lambda: pulumi.export("value", pulumi.Output.json_dumps(value)))
    text: str = rec.outputs["value"]
    return text


def test_subscriptions_keep_their_names_when_reordered(run: Run) -> None:
    first = {r.name: r.inputs["endpoint"] for r in run(topic(subscriptions=[EMAIL, HOOK, QUEUE])).of_type(SUBSCRIPTION)}
    second = {
        r.name: r.inputs["endpoint"] for r in run(topic(subscriptions=[QUEUE, EMAIL, HOOK])).of_type(SUBSCRIPTION)
    }
    assert first == second and len(first) == 3


def test_subscriptions_deliver_from_the_topic(run: Run) -> None:
    (sub,) = run(topic(subscriptions=[HOOK])).of_type(SUBSCRIPTION)
    assert sub.inputs["protocol"] == "https" and sub.inputs["endpoint"] == HOOK.endpoint
    assert sub.inputs["topic"].endswith(":Topic/alerts")


@given(
    st.lists(
        st.from_regex(r"[a-z]{1,12}@[a-z]{1,12}\.(com|org|io)", fullmatch=True),
        min_size=2,
        max_size=6,
        unique=True,
    )
)
def test_distinct_endpoints_get_distinct_stable_keys(addresses: list[str]) -> None:
    keys = [Subscription("email", a).key for a in addresses]
    assert len(set(keys)) == len(keys)
    assert keys == [Subscription("email", a).key for a in addresses]


def test_http_subscription_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"Subscription protocol = 'http' is refused: https"):
        Subscription("http", "http://hooks.example.com/alerts")


def test_https_subscription_to_a_plain_http_url_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"endpoint \(https\) = 'http://hooks.example.com/alerts'"):
        Subscription("https", "http://hooks.example.com/alerts")


def test_malformed_email_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"endpoint \(email\) = 'oncall-at-example.com'"):
        Subscription("email", "oncall-at-example.com")


def test_subscription_setting_errors_name_the_config_key() -> None:
    with pytest.raises(HardstackError, match=r"^hardstack:alertSubscriptions\[1\]: Subscription protocol = 'http'"):
        parse_subscription({"protocol": "http", "endpoint": "http://x.example.com"}, "hardstack:alertSubscriptions[1]")


def test_the_same_endpoint_twice_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"subscriptions = 'email:oncall@example.com'"):
        AlertTopicArgs(context=CTX, kms_key_arn=KEY, subscriptions=[EMAIL, EMAIL])


# --- recommended alarms --------------------------------------------------------------------------

TEST = AlarmThresholds.for_tier(Tier.DEVELOPMENT)
PROD = AlarmThresholds.for_tier(Tier.PRODUCTION)

#: suffix -> (dimensions of every metric, threshold for the test profile, treat_missing_data)
EXPECTED: dict[str, tuple[dict[str, str], float, str]] = {
    "fleet-capacity": (ASG, 0.0, "breaching"),
    "fleet-cpu": (ASG, TEST.cpu_percent, "missing"),
    "fleet-status-check": (ASG, 0.0, "notBreaching"),
    "alb-5xx": ({"LoadBalancer": LB}, TEST.alb_5xx_ratio, "notBreaching"),
    "alb-no-healthy-host": ({"LoadBalancer": LB, "TargetGroup": TG}, 1.0, "breaching"),
    "alb-p99-latency": ({"LoadBalancer": LB}, TEST.alb_p99_latency_seconds, "notBreaching"),
    "rds-cpu": (DB, TEST.rds_cpu_percent, "missing"),
    "rds-free-storage": (DB, TEST.rds_free_storage_bytes, "missing"),
    "rds-freeable-memory": (DB, TEST.rds_freeable_memory_bytes, "missing"),
    "rds-connections": (DB, TEST.rds_max_connections, "missing"),
    "sns-failed-deliveries": ({"TopicName": "alerts-topic"}, 0.0, "notBreaching"),
}


@pytest.fixture(scope="module")
def test_alarms() -> Recording:
    from hardstack.tooling.testing import run_program

    built = service_args()
    return run_program(program_of(built))


def dimensions_of(inputs: dict[str, Any]) -> list[dict[str, str]]:
    if "metricQueries" in inputs:
        return [q["metric"]["dimensions"] for q in inputs["metricQueries"] if "metric" in q]
    return [inputs["dimensions"]]


def test_exactly_the_recommended_alarms_are_created(test_alarms: Recording) -> None:
    assert sorted(r.name for r in test_alarms.of_type(ALARM)) == sorted(f"app-{s}" for s in EXPECTED)


@pytest.mark.parametrize("suffix", sorted(EXPECTED))
def test_alarm_watches_its_resource_with_the_environment_threshold(test_alarms: Recording, suffix: str) -> None:
    dims, threshold, missing = EXPECTED[suffix]
    alarm = test_alarms.one(ALARM, f"app-{suffix}").inputs
    assert all(d == dims for d in dimensions_of(alarm))
    assert alarm["threshold"] == threshold
    assert alarm["treatMissingData"] == missing
    assert alarm["alarmActions"] == [TOPIC_ARN] and alarm["okActions"] == [TOPIC_ARN]
    assert alarm["name"] == f"test-app-{suffix}"
    assert "First action:" in alarm["alarmDescription"]


def test_fleet_capacity_alarm_compares_in_service_with_desired(test_alarms: Recording) -> None:
    queries = {q["id"]: q for q in test_alarms.one(ALARM, "app-fleet-capacity").inputs["metricQueries"]}
    assert queries["m_in"]["metric"]["metricName"] == "GroupInServiceInstances"
    assert queries["m_desired"]["metric"]["metricName"] == "GroupDesiredCapacity"
    assert queries["shortfall"]["expression"] == "m_in - m_desired" and queries["shortfall"]["returnData"] is True
    assert test_alarms.one(ALARM, "app-fleet-capacity").inputs["comparisonOperator"] == "LessThanThreshold"


def test_tolerated_shortfall_lowers_the_capacity_threshold(run: Run) -> None:
    rec = alarms(run, fleet=FleetMetrics(asg_name="app-asg", tolerated_shortfall=1))
    assert rec.one(ALARM, "app-fleet-capacity").inputs["threshold"] == -1.0


def test_alb_5xx_alarm_is_the_filled_ratio_of_target_5xx_to_requests(test_alarms: Recording) -> None:
    queries = {q["id"]: q for q in test_alarms.one(ALARM, "app-alb-5xx").inputs["metricQueries"]}
    assert queries["m_5xx"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert queries["m_requests"]["metric"]["metricName"] == "RequestCount"
    assert queries["ratio"]["expression"] == "FILL(m_5xx, 0) / m_requests"
    assert {q["metric"]["period"] for q in queries.values() if "metric" in q} == {TEST.period_seconds}


def test_latency_alarm_uses_the_p99_extended_statistic(test_alarms: Recording) -> None:
    alarm = test_alarms.one(ALARM, "app-alb-p99-latency").inputs
    assert alarm["extendedStatistic"] == "p99" and "statistic" not in alarm
    assert alarm["metricName"] == "TargetResponseTime"


def test_failed_deliveries_alarm_fires_on_the_first_failure(test_alarms: Recording) -> None:
    alarm = test_alarms.one(ALARM, "app-sns-failed-deliveries").inputs
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (
        "AWS/SNS",
        "NumberOfNotificationsFailed",
        "Sum",
    )
    assert alarm["evaluationPeriods"] == 1 and alarm["comparisonOperator"] == "GreaterThanThreshold"


def test_only_the_groups_given_get_alarms(run: Run) -> None:
    rec = alarms(run, fleet=None, rds=None, failed_deliveries_topic_name=None)
    assert {r.name for r in rec.of_type(ALARM)} == {"app-alb-5xx", "app-alb-no-healthy-host", "app-alb-p99-latency"}


def test_prod_evaluates_every_minute_with_its_own_thresholds(run: Run) -> None:
    alarm = alarms(run, "prod").one(ALARM, "app-fleet-cpu").inputs
    assert alarm["period"] == 60 and alarm["threshold"] == PROD.cpu_percent
    assert alarm["name"] == "prod-app-fleet-cpu"


def test_period_not_a_multiple_of_60_is_refused_before_anything_is_registered(run: Run) -> None:
    recording = Recording()

    def program() -> None:
        thresholds = dataclasses.replace(TEST, period_seconds=90)
        ServiceAlarms("app", service_args(thresholds=thresholds))

    with pytest.raises(HardstackError, match=r"thresholds.period_seconds = 90 is refused: .*multiple of 60"):
        run(program, recording=recording)
    assert len(recording) == 0


def test_more_datapoints_than_evaluation_periods_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"thresholds.datapoints_to_alarm = 4 is refused: at most .*\(3\)"):
        dataclasses.replace(TEST, evaluation_periods=3, datapoints_to_alarm=4)


def test_unknown_tier_without_thresholds_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"tier = 'prod' is refused: one of development, staging, production"):
        ServiceAlarmsArgs(topic_arn=TOPIC_ARN, tier="prod")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "stricter"),
    [
        ("period_seconds", "lower"),
        ("cpu_percent", "lower"),
        ("alb_5xx_ratio", "lower"),
        ("alb_p99_latency_seconds", "lower"),
        ("rds_cpu_percent", "lower"),
        ("rds_free_storage_bytes", "higher"),
        ("rds_freeable_memory_bytes", "higher"),
    ],
)
def test_prod_alarms_earlier_than_test(field: str, stricter: str) -> None:
    prod, test = getattr(PROD, field), getattr(TEST, field)
    assert prod < test if stricter == "lower" else prod > test


# --- SLO alarms ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slo_alarms() -> Recording:
    """SLO alarms on a real LoadBalancer component, so the dimension arrives as an Output."""
    from hardstack.tooling.testing import run_program

    def program() -> None:
        lb = LoadBalancer(
            "web",
            LoadBalancerArgs(
                context=CTX,
                vpc_id="vpc-1",
                subnet_ids=["subnet-a", "subnet-b"],
                security_group_id="sg-lb",
                app_port=8080,
                allow_plain_http=True,
                tier=Tier.DEVELOPMENT,
            ),
        )
        ServiceAlarms(
            "app",
            ServiceAlarmsArgs(
                topic_arn=TOPIC_ARN,
                tier=Tier.DEVELOPMENT,
                alb=AlbMetrics(load_balancer=lb.arn_suffix, target_group=lb.target_group_arn_suffix),
                slos=[API_SLO],
            ),
        )

    return run_program(program)


def test_slo_composite_rule_names_both_windows_of_each_condition(slo_alarms: Recording) -> None:
    page = slo_alarms.one(COMPOSITE, "app-api-availability-burn-page").inputs
    windows = {r.inputs["name"] for r in slo_alarms.of_type(ALARM) if "-burn-page-" in r.name}
    referenced = set(re.findall(r'ALARM\("([^"]+)"\)', page["alarmRule"]))
    assert (
        referenced
        == windows
        == {f"hardstack-test-app-api-availability-burn-page-{w}" for w in ("1h", "5m", "6h", "30m")}
    )
    name = "hardstack-test-app-api-availability-burn-page"
    assert f'(ALARM("{name}-1h") AND ALARM("{name}-5m"))' in page["alarmRule"]


def test_slo_composites_notify_the_topic_and_windows_do_not(slo_alarms: Recording) -> None:
    for composite in slo_alarms.of_type(COMPOSITE):
        assert composite.inputs["alarmActions"] == [TOPIC_ARN]
    windows = [r for r in slo_alarms.of_type(ALARM) if "-burn-" in r.name]
    assert len(windows) == 8 and not any("alarmActions" in r.inputs for r in windows)


def test_slo_window_alarms_use_the_load_balancer_output_as_dimension(slo_alarms: Recording) -> None:
    lb_suffix = slo_alarms.one("aws:lb/loadBalancer:LoadBalancer").inputs["arnSuffix"]
    for alarm in (r for r in slo_alarms.of_type(ALARM) if "-burn-" in r.name):
        assert dimensions_of(alarm.inputs) == [{"LoadBalancer": lb_suffix}] * 3  # target 5xx, ELB 5xx, requests


def test_slo_composites_are_created_after_their_windows(slo_alarms: Recording) -> None:
    page = slo_alarms.one(COMPOSITE, "app-api-availability-burn-page")
    windows = {r.urn for r in slo_alarms.of_type(ALARM) if "-burn-" in r.name}
    assert windows <= set(page.dependencies)


def test_slos_without_a_load_balancer_are_refused() -> None:
    with pytest.raises(HardstackError, match=r"slos = \['api/availability'\] is refused: .*pass alb"):
        service_args(alb=None, slos=[API_SLO])


# --- dashboard -----------------------------------------------------------------------------------


def test_dashboard_body_is_json_graphing_the_alarmed_metrics(run: Run) -> None:
    built = DashboardArgs(
        context=CTX,
        tier=Tier.DEVELOPMENT,
        fleet=FleetMetrics(asg_name="app-asg"),
        alb=AlbMetrics(load_balancer=LB, target_group=TG),
        rds=RdsMetrics(db_instance_identifier="appdb"),
    )

    def program() -> None:
        Dashboard("app", built)

    board = run(program).one("aws:cloudwatch/dashboard:Dashboard").inputs
    body = json.loads(board["dashboardBody"])
    graphed = {(m[0], m[1], m[3]) for w in body["widgets"] for m in w["properties"]["metrics"] if isinstance(m[0], str)}
    assert board["dashboardName"] == "hardstack-test-app"
    assert {
        ("AWS/AutoScaling", "GroupInServiceInstances", "app-asg"),
        ("AWS/EC2", "CPUUtilization", "app-asg"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", LB),
        ("AWS/ApplicationELB", "TargetResponseTime", LB),
        ("AWS/ApplicationELB", "HealthyHostCount", TG),
        ("AWS/RDS", "FreeStorageSpace", "appdb"),
        ("AWS/RDS", "DatabaseConnections", "appdb"),
    } <= graphed
    assert all(w["properties"]["region"] == "eu-west-3" for w in body["widgets"])


# --- AWS accepts what we generate ----------------------------------------------------------------


@pytest.mark.parametrize("environment", ["test", "prod"])
def test_cloudwatch_accepts_every_generated_alarm(run: Run, environment: str) -> None:
    rec = alarms(run, environment, slos=[API_SLO])
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="eu-west-3")
        for alarm in rec.of_type(ALARM):
            client.put_metric_alarm(**put_metric_alarm_request(alarm.inputs))
        stored = {a["AlarmName"] for a in client.describe_alarms(MaxRecords=100)["MetricAlarms"]}
    assert stored == {a.inputs["name"] for a in rec.of_type(ALARM)}


def test_composite_alarms_match_the_cloudwatch_api_shape(run: Run) -> None:
    # The mock service has no composite alarms; the client-side model check is what it would run first.
    shape = boto3.client("cloudwatch", region_name="eu-west-3").meta.service_model.operation_model("PutCompositeAlarm")
    composites = alarms(run, slos=[API_SLO]).of_type(COMPOSITE)
    for composite in composites:
        i = composite.inputs
        request = {
            "AlarmName": i["alarmName"],
            "AlarmRule": i["alarmRule"],
            "AlarmDescription": i["alarmDescription"],
            "AlarmActions": i["alarmActions"],
            "OKActions": i["okActions"],
            "Tags": [{"Key": k, "Value": v} for k, v in i["tags"].items()],
        }
        validate_parameters(request, shape.input_shape)
    assert len(composites) == 2


@pytest.mark.parametrize(
    ("period", "evaluations", "ok"),
    [(60, 1440, True), (60, 1441, False), (300, 288, True), (300, 289, False), (3600, 168, True), (3600, 169, False)],
)
def test_alarm_evaluation_follows_cloudwatchs_limits(period: int, evaluations: int, ok: bool) -> None:
    build = lambda: dataclasses.replace(TEST, period_seconds=period, evaluation_periods=evaluations)  # noqa: E731
    if ok:
        assert build().evaluation_periods == evaluations
    else:
        with pytest.raises(
            HardstackError, match=rf"^thresholds.evaluation_periods x period = '{evaluations} x {period} s'"
        ):
            build()


def test_settings_refuse_an_alarm_span_cloudwatch_refuses() -> None:
    from stacks.offline import stack_config
    from stacks.settings import parse_settings

    config = {**stack_config("test"), "hardstack:alarmThresholds": {"evaluationPeriods": 300}}
    with pytest.raises(HardstackError, match=r"^hardstack:alarmThresholds: thresholds.evaluation_periods x period"):
        parse_settings(config)
