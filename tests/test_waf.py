import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack import AwsContext, HardstackError
from hardstack.aws.waf import (
    LOG_GROUP_PREFIX,
    MANAGED_RULE_GROUPS,
    RATE_LIMIT_MAX,
    RATE_LIMIT_MIN,
    WebFirewall,
    WebFirewallArgs,
    validate_rate_limit,
)
from hardstack.core.naming import Naming
from hardstack.core.tier import Tier
from hardstack.tooling.policies import (
    INGRESS,
    StackResource,
    check_prod_public_albs_have_waf,
)
from hardstack.tooling.policies import (
    WAF_ACL_ANNOTATION as ANNOTATION,
)
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id="123456789012", naming=Naming(("hs", "prod")))
KEY = "arn:aws:kms:eu-west-3:123456789012:key/logs"
ALB = "arn:aws:elasticloadbalancing:eu-west-3:123456789012:loadbalancer/app/web/0123456789abcdef"
ACL = "aws:wafv2/webAcl:WebAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOG_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"


def args(**kw: Any) -> WebFirewallArgs:
    base: dict[str, Any] = {"context": CTX, "log_key_arn": KEY, "load_balancer_arns": {"web": ALB}}
    return WebFirewallArgs(**{**base, **kw})


def firewall(**kw: Any) -> Callable[[], None]:
    built = args(**kw)
    return lambda: WebFirewall("web", built) and None


def rules(rec: Recording) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rec.one(ACL).inputs["rules"]}


def test_web_acl_is_regional_and_allows_what_no_rule_blocks(run: Run) -> None:
    acl = run(firewall()).one(ACL).inputs
    assert acl["scope"] == "REGIONAL" and acl["defaultAction"] == {"allow": {}}
    assert acl["visibilityConfig"] == {
        "cloudwatchMetricsEnabled": True,
        "metricName": "web",
        "sampledRequestsEnabled": True,
    }


def test_web_acl_runs_the_aws_managed_groups_with_their_own_actions(run: Run) -> None:
    found = rules(run(firewall()))
    groups = [r["name"] for r in sorted(found.values(), key=lambda r: r["priority"]) if r["name"] != "rate-per-ip"]
    # Known-bad addresses first, then the inspections; SQL injection too, in front of PostgreSQL.
    assert groups == [
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    ]
    for group in groups:
        statement = found[group]["statement"]["managedRuleGroupStatement"]
        assert statement == {"vendorName": "AWS", "name": group}
        assert found[group]["overrideAction"] == {"none": {}}  # not `count`: the groups block
        assert found[group]["visibilityConfig"]["cloudwatchMetricsEnabled"] is True


def test_rate_rule_blocks_one_ip_over_its_limit_first(run: Run) -> None:
    found = rules(run(firewall(rate_limit=500, rate_window_seconds=60)))
    rate = found["rate-per-ip"]
    assert rate["statement"]["rateBasedStatement"] == {
        "aggregateKeyType": "IP",
        "limit": 500,
        "evaluationWindowSec": 60,
    }
    assert rate["action"] == {"block": {}}
    assert rate["priority"] < min(found[g]["priority"] for g in MANAGED_RULE_GROUPS)
    assert len({r["priority"] for r in found.values()}) == len(found)


def test_rate_limit_below_the_aws_minimum_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"rate_limit = 9 is refused: .* from 10 to 2,000,000,000"):
        args(rate_limit=9)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_rate_limit_is_accepted_exactly_within_the_aws_range(limit: int) -> None:
    if RATE_LIMIT_MIN <= limit <= RATE_LIMIT_MAX:
        assert validate_rate_limit(limit) == limit
    else:
        with pytest.raises(HardstackError, match="rate_limit"):
            validate_rate_limit(limit)


def test_rate_window_aws_does_not_offer_is_refused() -> None:
    with pytest.raises(HardstackError, match="rate_window_seconds = 30"):
        args(rate_window_seconds=30)


def test_logs_go_to_a_kms_encrypted_group_named_as_waf_requires(run: Run) -> None:
    group = run(firewall(log_retention_days=90)).one(LOG_GROUP).inputs
    assert group["name"] == "aws-waf-logs-hs-prod-web" and group["name"].startswith(LOG_GROUP_PREFIX)
    assert group["kmsKeyId"] == KEY and group["retentionInDays"] == 90


def test_log_retention_cloudwatch_does_not_offer_is_refused() -> None:
    with pytest.raises(HardstackError, match="log_retention_days = 100"):
        args(log_retention_days=100)


def test_log_delivery_may_write_only_this_groups_streams_for_this_account(run: Run) -> None:
    rec = run(firewall())
    group, policy = rec.one(LOG_GROUP), rec.one(LOG_POLICY).inputs
    group_arn = f"arn:aws:cloudwatch:eu-west-3:123456789012:LogGroup/{group.name}"
    assert policy["resourceArn"] == group_arn and "policyName" not in policy  # on the group, not account-wide
    (statement,) = json.loads(policy["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == f"{group_arn}:log-stream:*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:logs:eu-west-3:123456789012:*"},
    }


def test_logging_is_turned_on_after_the_group_policy_exists_and_redacts_credentials(run: Run) -> None:
    rec = run(firewall())
    logging = rec.one(LOGGING)
    assert rec.one(LOG_POLICY).urn in logging.dependencies
    assert logging.inputs["resourceArn"] == "arn:aws:wafv2:eu-west-3:123456789012:WebAcl/web"
    assert logging.inputs["logDestinationConfigs"] == [
        f"arn:aws:cloudwatch:eu-west-3:123456789012:LogGroup/{rec.one(LOG_GROUP).name}"
    ]
    headers = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
    assert headers == {"authorization", "cookie"}


def test_each_load_balancer_is_associated_under_its_own_key(run: Run) -> None:
    other = ALB.replace("/web/", "/api/")
    rec = run(firewall(load_balancer_arns={"web": ALB, "api": other}))
    found = {r.name: {k: r.inputs[k] for k in ("resourceArn", "webAclArn")} for r in rec.of_type(ASSOCIATION)}
    assert found == {
        "web-web": {"resourceArn": ALB, "webAclArn": "arn:aws:wafv2:eu-west-3:123456789012:WebAcl/web"},
        "web-api": {"resourceArn": other, "webAclArn": "arn:aws:wafv2:eu-west-3:123456789012:WebAcl/web"},
    }


def test_no_load_balancer_given_means_no_association(run: Run) -> None:
    assert run(firewall(load_balancer_arns={})).of_type(ASSOCIATION) == []


def test_association_key_that_would_make_an_unstable_name_is_refused() -> None:
    with pytest.raises(HardstackError, match="load_balancer_arns key = 'Web ALB'"):
        args(load_balancer_arns={"Web ALB": ALB})


def test_production_protects_the_log_group_and_refuses_unprotecting_it(run: Run) -> None:
    group = run(firewall(tier=Tier.PRODUCTION)).one(LOG_GROUP)
    assert group.protect and group.retain_on_delete
    with pytest.raises(HardstackError, match="protect = False"):
        args(tier=Tier.PRODUCTION, protect=False)


def test_development_log_group_can_be_destroyed(run: Run) -> None:
    group = run(firewall(tier=Tier.DEVELOPMENT, protect=False)).one(LOG_GROUP)
    assert not group.protect and not group.retain_on_delete


def test_component_name_waf_metrics_refuse_is_refused() -> None:
    with pytest.raises(HardstackError, match="WebFirewall name = 'web acl'"):
        WebFirewall("web acl", args())


# --- in the stacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["preprod", "prod"])
def test_staging_and_production_put_the_web_acl_in_front_of_the_fleet_load_balancer(
    stack: Callable[..., Recording], name: str
) -> None:
    rec = stack(name)
    (association,) = rec.of_type(ASSOCIATION)
    alb = rec.one("aws:lb/loadBalancer:LoadBalancer", "web")
    assert alb.inputs["internal"] is False and alb.urn in association.dependencies
    assert association.inputs["webAclArn"] == rec.one(ACL).inputs["arn"] == rec.outputs["wafAclArn"]
    group = rec.one(LOG_GROUP, "web-logs")
    assert group.inputs["kmsKeyId"] == rec.outputs["logsKeyArn"]


@pytest.mark.parametrize("name", ["preprod", "prod"])
def test_the_apps_ingress_names_the_stacks_web_acl(stack: Callable[..., Recording], name: str) -> None:
    rec = stack(name)
    ingress = rec.one("kubernetes:networking.k8s.io/v1:Ingress")
    assert (
        ingress.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/wafv2-acl-arn"] == rec.outputs["wafAclArn"]
    )


def test_production_log_group_is_protected_and_kept_as_long_as_the_stacks_logs(stack: Callable[..., Recording]) -> None:
    group = stack("prod").one(LOG_GROUP, "web-logs")
    assert group.protect and group.inputs["retentionInDays"] == 365


def test_the_test_stack_runs_no_web_acl(stack: Callable[..., Recording]) -> None:
    rec = stack("test")
    assert rec.of_type(ACL) == [] and "wafAclArn" not in rec.outputs


# --- the policy pack's rule ---------------------------------------------------------------------------

LB_URN = "urn:pulumi:prod::hardstack::hardstack:network:LoadBalancer$aws:lb/loadBalancer:LoadBalancer::web"
LB_ARN = ALB
ING_URN = "urn:pulumi:prod::hardstack::hardstack:k8s:App$kubernetes:networking.k8s.io/v1:Ingress::app"


def public_alb(**props: Any) -> StackResource:
    return StackResource(
        "aws:lb/loadBalancer:LoadBalancer", {"arn": LB_ARN, "loadBalancerType": "application", **props}, True, LB_URN
    )


def alb_ingress(**annotations: str) -> StackResource:
    metadata = {"annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing", **annotations}}
    return StackResource(INGRESS, {"metadata": metadata, "spec": {"ingressClassName": "alb"}}, False, ING_URN)


def test_prod_reports_an_internet_facing_alb_without_a_web_acl() -> None:
    findings = check_prod_public_albs_have_waf([public_alb(internal=False)], Tier.PRODUCTION)
    assert [f.urn for f in findings] == [LB_URN] and "no web ACL" in findings[0].message


def test_an_association_naming_the_alb_covers_it() -> None:
    association = StackResource(ASSOCIATION, {"resourceArn": LB_ARN, "webAclArn": "acl"}, False)
    assert check_prod_public_albs_have_waf([public_alb(), association], Tier.PRODUCTION) == []


def test_an_association_depending_on_the_alb_covers_it_while_its_arn_is_unknown() -> None:
    association = StackResource(ASSOCIATION, {}, False, "", {"resourceArn": [LB_URN]})
    assert check_prod_public_albs_have_waf([public_alb(arn=None), association], Tier.PRODUCTION) == []


def test_an_association_of_another_alb_does_not_cover() -> None:
    association = StackResource(ASSOCIATION, {"resourceArn": LB_ARN.replace("/web/", "/api/")}, False)
    assert len(check_prod_public_albs_have_waf([public_alb(), association], Tier.PRODUCTION)) == 1


def test_internal_albs_and_staging_need_no_web_acl_from_the_pack() -> None:
    assert check_prod_public_albs_have_waf([public_alb(internal=True)], Tier.PRODUCTION) == []
    assert check_prod_public_albs_have_waf([public_alb()], Tier.STAGING) == []


def test_prod_reports_an_internet_facing_alb_ingress_without_the_waf_annotation() -> None:
    findings = check_prod_public_albs_have_waf([alb_ingress()], Tier.PRODUCTION)
    assert [f.urn for f in findings] == [ING_URN] and "alb.ingress.kubernetes.io/wafv2-acl-arn" in findings[0].message
    assert check_prod_public_albs_have_waf([alb_ingress(**{ANNOTATION: "arn:acl"})], Tier.PRODUCTION) == []


def test_ingress_of_another_controller_is_not_the_packs_concern() -> None:
    nginx = StackResource(INGRESS, {"metadata": {}, "spec": {"ingressClassName": "nginx"}}, False, ING_URN)
    assert check_prod_public_albs_have_waf([nginx], Tier.PRODUCTION) == []


def test_the_prod_stack_without_its_association_would_be_stopped_by_the_pack(stack: Callable[..., Recording]) -> None:
    resources = [
        StackResource(r.type, r.inputs, r.protect, r.urn) for r in stack("prod") if r.custom and r.type != ASSOCIATION
    ]
    findings = check_prod_public_albs_have_waf(resources, Tier.PRODUCTION)
    assert [f.urn for f in findings] == [stack("prod").one("aws:lb/loadBalancer:LoadBalancer", "web").urn]


def test_named_managed_rules_only_count_and_the_rest_still_block(run: Run) -> None:
    found = rules(run(firewall(count_rules={"AWSManagedRulesCommonRuleSet": ["SizeRestrictions_BODY"]})))
    common = found["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert common["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert found["AWSManagedRulesCommonRuleSet"]["overrideAction"] == {"none": {}}
    known_bad = found["AWSManagedRulesKnownBadInputsRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert "ruleActionOverrides" not in known_bad


def test_count_rules_of_a_group_the_acl_does_not_run_are_refused() -> None:
    with pytest.raises(HardstackError, match="count_rules key = 'AWSManagedRulesLinuxRuleSet'"):
        args(count_rules={"AWSManagedRulesLinuxRuleSet": ["LFI_URIPATH"]})


def test_count_rules_given_as_one_string_are_refused() -> None:
    with pytest.raises(HardstackError, match=r"count_rules\[AWSManagedRulesCommonRuleSet\] = 'SizeRestrictions_BODY'"):
        args(count_rules={"AWSManagedRulesCommonRuleSet": "SizeRestrictions_BODY"})


def test_what_is_keyed_by_its_target_is_deleted_before_it_is_replaced(run: Run) -> None:
    rec = run(firewall())
    for type_ in (ASSOCIATION, LOGGING, LOG_POLICY):
        (resource,) = rec.of_type(type_)
        assert resource.delete_before_replace, type_
