from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from hardstack.core.errors import HardstackError
from hardstack.core.rules import ADMIN_PEERS_ALLOWED, Flow, Peer, Port
from hardstack.core.tier import STACK_TIERS, Tier
from hardstack.tooling.policies import (
    POLICIES,
    STACK_POLICIES,
    Finding,
    StackResource,
    check_flow_logs,
    check_prod_protection,
    check_resource,
    check_stack,
    resolve_tier,
    stack_of_urn,
)
from hardstack.tooling.testing import Recording
from stacks.offline import STACKS, run_stack

PACK_FILE = Path(__file__).resolve().parent.parent / "policies" / "__main__.py"
BY_NAME = {p.name: p for p in POLICIES}

INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
VOLUME = "aws:ebs/volume:Volume"
DB = "aws:rds/instance:Instance"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
TOPIC = "aws:sns/topic:Topic"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
EKS = "aws:eks/cluster:Cluster"
ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"

KEY_ARN = "arn:aws:kms:eu-west-3:123456789012:key/1"
IMDS_OK = {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1.0}
ALL_BLOCKED = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
EKS_OK = {
    "vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True},
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
}
DB_OK = {
    "storageEncrypted": True,
    "publiclyAccessible": False,
    "backupRetentionPeriod": 7.0,
    "deletionProtection": True,
}
HTTPS_LISTENER = {"protocol": "HTTPS", "port": 443.0, "defaultActions": [{"type": "forward"}]}


def world(port: float, protocol: str = "tcp", to: float | None = None, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    key = "cidrIpv6" if ":" in cidr else "cidrIpv4"
    return {"ipProtocol": protocol, "fromPort": port, "toPort": port if to is None else to, key: cidr}


def inline(port: int, cidrs: list[str], protocol: str = "tcp") -> dict[str, Any]:
    return {"ingress": [{"protocol": protocol, "fromPort": port, "toPort": port, "cidrBlocks": cidrs}]}


# (policy, resource type, props, environment, what the message must name)
VIOLATIONS: dict[str, tuple[str, str, dict[str, Any], str | None, str]] = {
    "ssh-from-the-internet": ("no-world-open-admin-ports", INGRESS_RULE, world(22.0), "test", "22 SSH"),
    "postgres-from-ipv6-internet": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        world(5432.0, cidr="::/0"),
        "test",
        "::/0",
    ),
    "all-protocols-from-the-internet": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        world(-1.0, protocol="-1"),
        "test",
        "all protocols",
    ),
    "range-spanning-80-to-443": ("no-world-open-admin-ports", INGRESS_RULE, world(80.0, to=443.0), "test", "80-443"),
    "udp-443-from-the-internet": ("no-world-open-admin-ports", INGRESS_RULE, world(443.0, "udp"), "test", "udp 443"),
    "inline-rdp": ("no-world-open-admin-ports", SG, inline(3389, ["0.0.0.0/0"]), "test", "3389 RDP"),
    "ssh-from-a-public-slash-8": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        world(22.0, cidr="11.0.0.0/8"),
        "test",
        "to public 11.0.0.0/8",
    ),
    "inline-rdp-from-half-the-internet": (
        "no-world-open-admin-ports",
        SG,
        inline(3389, ["10.0.0.0/8", "128.0.0.0/1"]),
        "test",
        "3389 RDP) to public 128.0.0.0/1",
    ),
    "all-protocols-from-a-public-ipv6-range": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        world(-1.0, protocol="-1", cidr="2a00:1450::/32"),
        "test",
        "SSM Session Manager",
    ),
    "rule-resource-ssh": (
        "no-world-open-admin-ports",
        SG_RULE,
        {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]},
        "test",
        "22 SSH",
    ),
    "template-public-ip": (
        "no-public-ips",
        LT,
        {"networkInterfaces": [{"deviceIndex": 0.0, "associatePublicIpAddress": "true"}]},
        "test",
        "associatePublicIpAddress",
    ),
    "instance-public-ip": ("no-public-ips", INSTANCE, {"associatePublicIpAddress": True}, "test", "associatePublic"),
    "subnet-maps-public-ip": ("no-public-ips", SUBNET, {"mapPublicIpOnLaunch": True}, "test", "mapPublicIpOnLaunch"),
    "public-database": ("no-public-ips", DB, {**DB_OK, "publiclyAccessible": True}, "test", "publiclyAccessible"),
    "imdsv1-template": (
        "imdsv2-required",
        LT,
        {"metadataOptions": {**IMDS_OK, "httpTokens": "optional"}},
        "test",
        "httpTokens",
    ),
    "two-hop-template": (
        "imdsv2-required",
        LT,
        {"metadataOptions": {**IMDS_OK, "httpPutResponseHopLimit": 2.0}},
        "test",
        "httpPutResponseHopLimit = 2",
    ),
    "template-without-metadata-options": ("imdsv2-required", LT, {}, "test", "httpTokens"),
    "imdsv1-instance": (
        "imdsv2-required",
        INSTANCE,
        {"metadataOptions": {**IMDS_OK, "httpTokens": "optional"}},
        "test",
        "httpTokens",
    ),
    "template-plain-volume": (
        "ebs-encrypted",
        LT,
        {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 20.0, "encrypted": "false"}}]},
        "test",
        "/dev/xvda",
    ),
    "plain-volume": ("ebs-encrypted", VOLUME, {"size": 10.0}, "test", "encrypted"),
    "instance-plain-root": ("ebs-encrypted", INSTANCE, {"rootBlockDevice": {"encrypted": False}}, "test", "rootBlock"),
    "plain-database": ("rds-storage-encrypted", DB, {**DB_OK, "storageEncrypted": False}, "test", "storageEncrypted"),
    "unknown-sse-algorithm": (
        "s3-encryption-not-weakened",
        SSE,
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "none"}}]},
        "test",
        "'none'",
    ),
    "sse-without-rules": ("s3-encryption-not-weakened", SSE, {"rules": []}, "test", "no rules"),
    "plain-topic": ("sns-topic-encrypted", TOPIC, {"name": "alerts"}, "test", "kmsMasterKeyId"),
    "log-group-without-key": ("log-group-encrypted", LOG_GROUP, {"retentionInDays": 14.0}, "test", "kmsKeyId"),
    "key-without-rotation": ("kms-key-rotation", KEY, {"enableKeyRotation": False}, "test", "enableKeyRotation"),
    "cluster-plain-secrets": (
        "eks-secrets-encrypted",
        EKS,
        {**EKS_OK, "encryptionConfig": None},
        "test",
        "secrets",
    ),
    "cluster-default-endpoint": (
        "eks-endpoint-not-world-open",
        EKS,
        {**EKS_OK, "vpcConfig": {"subnetIds": ["s-1"]}},
        "test",
        "0.0.0.0/0",
    ),
    "cluster-public-to-world": (
        "eks-endpoint-not-world-open",
        EKS,
        {**EKS_OK, "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}},
        "test",
        "0.0.0.0/0",
    ),
    "cluster-some-logs": (
        "eks-control-plane-logs",
        EKS,
        {**EKS_OK, "enabledClusterLogTypes": ["api", "audit"]},
        "test",
        "authenticator",
    ),
    "prod-database-one-day-backups": (
        "rds-backup-retention",
        DB,
        {**DB_OK, "backupRetentionPeriod": 1.0},
        "prod",
        "backupRetentionPeriod = 1",
    ),
    "unknown-environment-database-no-backups": (
        "rds-backup-retention",
        DB,
        {**DB_OK, "backupRetentionPeriod": 0.0},
        None,
        "backupRetentionPeriod = 0",
    ),
    "prod-database-deletable": (
        "rds-deletion-protection",
        DB,
        {**DB_OK, "deletionProtection": False},
        "prod",
        "deletionProtection",
    ),
    "public-access-partly-blocked": (
        "s3-public-access-blocked",
        PAB,
        {**ALL_BLOCKED, "restrictPublicBuckets": False},
        "test",
        "restrictPublicBuckets",
    ),
    "alb-passes-invalid-headers": ("alb-drop-invalid-headers", ALB, {"internal": False}, "test", "dropInvalidHeader"),
    "listener-default-tls-policy": ("listener-tls-policy", LISTENER, HTTPS_LISTENER, "test", "unset"),
    "listener-tls10-policy": (
        "listener-tls-policy",
        LISTENER,
        {**HTTPS_LISTENER, "sslPolicy": "ELBSecurityPolicy-2016-08"},
        "test",
        "ELBSecurityPolicy-2016-08",
    ),
    "prod-http-forwards": (
        "prod-http-redirects",
        LISTENER,
        {"protocol": "HTTP", "port": 80.0, "defaultActions": [{"type": "forward"}]},
        "prod",
        "'forward'",
    ),
    "prod-http-redirects-to-http": (
        "prod-http-redirects",
        LISTENER,
        {"protocol": "HTTP", "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTP"}}]},
        "prod",
        "'redirect'",
    ),
    "prod-deployment-by-tag": (
        "prod-images-by-digest",
        "kubernetes:apps/v1:Deployment",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/shop:1.4.2"}]}}}},
        "prod",
        "containers[app].image 'ghcr.io/acme/shop:1.4.2'",
    ),
    "prod-job-init-container-by-tag": (
        "prod-images-by-digest",
        "kubernetes:batch/v1:Job",
        {
            "spec": {
                "template": {
                    "spec": {
                        "initContainers": [{"name": "fetch", "image": "amazon/aws-cli:2.31.30"}],
                        "containers": [{"name": "run", "image": f"postgres:17@sha256:{'a' * 64}"}],
                    }
                }
            }
        },
        "prod",
        "initContainers[fetch].image",
    ),
}

# (policy, resource type, props, environment)
COMPLIANT: dict[str, tuple[str, str, dict[str, Any], str | None]] = {
    "https-from-the-internet": ("no-world-open-admin-ports", INGRESS_RULE, world(443.0), "prod"),
    "http-from-ipv6-internet": ("no-world-open-admin-ports", INGRESS_RULE, world(80.0, cidr="::/0"), "prod"),
    "ssh-from-the-office": ("no-world-open-admin-ports", INGRESS_RULE, world(22.0, cidr="10.1.0.0/16"), "prod"),
    "ssh-from-carrier-grade-nat": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        world(22.0, cidr="100.64.0.0/10"),
        "prod",
    ),
    "ssh-from-an-ipv6-ula": ("no-world-open-admin-ports", INGRESS_RULE, world(22.0, cidr="fd00:1::/64"), "prod"),
    "app-port-from-a-public-range": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        world(8443.0, cidr="11.0.0.0/8"),
        "prod",
    ),
    "icmp-from-a-public-range": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        world(3.0, protocol="icmp", to=4.0, cidr="11.0.0.0/8"),
        "prod",
    ),
    "all-protocols-from-a-group": (
        "no-world-open-admin-ports",
        INGRESS_RULE,
        {"ipProtocol": "-1", "referencedSecurityGroupId": "sg-1"},
        "prod",
    ),
    "inline-https": ("no-world-open-admin-ports", SG, inline(443, ["0.0.0.0/0"]), "prod"),
    "egress-rule-resource": (
        "no-world-open-admin-ports",
        SG_RULE,
        {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]},
        "prod",
    ),
    "template-private-nic": (
        "no-public-ips",
        LT,
        {"networkInterfaces": [{"deviceIndex": 0.0, "associatePublicIpAddress": "false"}]},
        "prod",
    ),
    "private-subnet": ("no-public-ips", SUBNET, {"mapPublicIpOnLaunch": False}, "prod"),
    "private-database": ("no-public-ips", DB, DB_OK, "prod"),
    "imdsv2-template": ("imdsv2-required", LT, {"metadataOptions": IMDS_OK}, "prod"),
    "imdsv2-instance": ("imdsv2-required", INSTANCE, {"metadataOptions": IMDS_OK}, "prod"),
    "metadata-disabled": ("imdsv2-required", LT, {"metadataOptions": {"httpEndpoint": "disabled"}}, "prod"),
    "template-encrypted-volume": (
        "ebs-encrypted",
        LT,
        {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": KEY_ARN}}]},
        "prod",
    ),
    "encrypted-volume": ("ebs-encrypted", VOLUME, {"encrypted": True, "kmsKeyId": KEY_ARN}, "prod"),
    "encrypted-database": ("rds-storage-encrypted", DB, DB_OK, "prod"),
    "sse-s3": (
        "s3-encryption-not-weakened",
        SSE,
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
        "prod",
    ),
    "sse-kms": (
        "s3-encryption-not-weakened",
        SSE,
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}]},
        "prod",
    ),
    "encrypted-topic": ("sns-topic-encrypted", TOPIC, {"kmsMasterKeyId": KEY_ARN}, "prod"),
    "log-group-with-key": ("log-group-encrypted", LOG_GROUP, {"kmsKeyId": KEY_ARN}, "prod"),
    "rotating-key": ("kms-key-rotation", KEY, {"enableKeyRotation": True}, "prod"),
    "asymmetric-key": (
        "kms-key-rotation",
        KEY,
        {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"},
        "prod",
    ),
    "cluster-encrypted-secrets": ("eks-secrets-encrypted", EKS, EKS_OK, "prod"),
    "cluster-private-endpoint": ("eks-endpoint-not-world-open", EKS, EKS_OK, "prod"),
    "cluster-public-to-office": (
        "eks-endpoint-not-world-open",
        EKS,
        {**EKS_OK, "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}},
        "prod",
    ),
    "cluster-all-logs": ("eks-control-plane-logs", EKS, EKS_OK, "prod"),
    "prod-database-week-of-backups": ("rds-backup-retention", DB, DB_OK, "prod"),
    "test-database-no-backups": ("rds-backup-retention", DB, {**DB_OK, "backupRetentionPeriod": 0.0}, "test"),
    "prod-database-protected": ("rds-deletion-protection", DB, DB_OK, "prod"),
    "test-database-deletable": ("rds-deletion-protection", DB, {**DB_OK, "deletionProtection": False}, "test"),
    "public-access-blocked": ("s3-public-access-blocked", PAB, ALL_BLOCKED, "prod"),
    "alb-drops-invalid-headers": ("alb-drop-invalid-headers", ALB, {"dropInvalidHeaderFields": True}, "prod"),
    "network-load-balancer": ("alb-drop-invalid-headers", ALB, {"loadBalancerType": "network"}, "prod"),
    "listener-tls13-policy": (
        "listener-tls-policy",
        LISTENER,
        {**HTTPS_LISTENER, "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
        "prod",
    ),
    "prod-http-redirects-to-https": (
        "prod-http-redirects",
        LISTENER,
        {
            "protocol": "HTTP",
            "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS", "statusCode": "HTTP_301"}}],
        },
        "prod",
    ),
    "test-http-forwards": (
        "prod-http-redirects",
        LISTENER,
        {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]},
        "test",
    ),
    "prod-cronjob-by-digest": (
        "prod-images-by-digest",
        "kubernetes:batch/v1:CronJob",
        {
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": f"r/c:1@sha256:{'b' * 64}"}]}}}
                }
            }
        },
        "prod",
    ),
    "test-deployment-by-tag": (
        "prod-images-by-digest",
        "kubernetes:apps/v1:Deployment",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/shop:1.4.2"}]}}}},
        "test",
    ),
}


# --- each resource policy, both ways --------------------------------------------------------------


@pytest.mark.parametrize("case", VIOLATIONS)
def test_policy_reports_violation_naming_the_setting(case: str) -> None:
    policy, resource_type, props, environment, named = VIOLATIONS[case]

    messages = BY_NAME[policy].check(resource_type, props, tier=tier_of(environment))

    assert any(named in message for message in messages), messages


@pytest.mark.parametrize("case", COMPLIANT)
def test_policy_accepts_compliant_props(case: str) -> None:
    policy, resource_type, props, environment = COMPLIANT[case]

    assert BY_NAME[policy].check(resource_type, props, tier=tier_of(environment)) == []


def test_every_policy_has_a_violating_and_a_compliant_case() -> None:
    violated = {case[0] for case in VIOLATIONS.values()}
    accepted = {case[0] for case in COMPLIANT.values()}

    assert violated == accepted == set(BY_NAME)


def test_policy_and_component_refuse_public_admin_ports_for_the_same_reason() -> None:
    (message,) = BY_NAME["no-world-open-admin-ports"].check(INGRESS_RULE, world(22.0, cidr="11.0.0.0/8"))
    with pytest.raises(HardstackError) as refused:
        Flow(Port.SSH, Peer.cidr("11.0.0.0/8"), "ssh").refuse_world_open("ingress")

    assert ADMIN_PEERS_ALLOWED in message and ADMIN_PEERS_ALLOWED in str(refused.value)


def test_world_open_admin_port_is_reported_once_with_the_world_message() -> None:
    messages = BY_NAME["no-world-open-admin-ports"].check(INGRESS_RULE, world(22.0))

    assert len(messages) == 1 and "to 0.0.0.0/0: only tcp 80 and 443" in messages[0]


def test_policies_ignore_other_resource_types() -> None:
    found = check_resource("aws:iam/role:Role", {"associatePublicIpAddress": True, "encrypted": False})

    assert found == {}


def test_policy_names_are_unique() -> None:
    names = [p.name for p in POLICIES] + [p.name for p in STACK_POLICIES]

    assert len(names) == len(set(names))


# --- stack policies -------------------------------------------------------------------------------

VPC_URN = "urn:pulumi:prod::hardstack::hardstack:network:Network$aws:ec2/vpc:Vpc::net"
FLOW_URN = "urn:pulumi:prod::hardstack::hardstack:network:Network$aws:ec2/flowLog:FlowLog::net-flow-logs"


def vpc(id_: str = "vpc-1", protect: bool = True) -> StackResource:
    return StackResource(VPC, {"id": id_, "cidrBlock": "10.0.0.0/16"}, protect, VPC_URN)


def test_vpc_without_flow_log_is_reported_against_the_vpc() -> None:
    findings = check_flow_logs([vpc()], Tier.PRODUCTION)

    assert findings == [Finding(findings[0].message, VPC_URN)] and "'net'" in findings[0].message


def test_flow_log_of_another_vpc_does_not_cover() -> None:
    other = StackResource(FLOW_LOG, {"vpcId": "vpc-2"}, False, FLOW_URN)

    assert len(check_flow_logs([vpc("vpc-1"), other], Tier.PRODUCTION)) == 1


def test_flow_log_matching_the_vpc_id_covers_it() -> None:
    flow = StackResource(FLOW_LOG, {"vpcId": "vpc-1"}, False, FLOW_URN)

    assert check_flow_logs([vpc("vpc-1"), flow], Tier.PRODUCTION) == []


def test_flow_log_depending_on_the_vpc_covers_it_while_ids_are_unknown() -> None:
    unknown = unknown_checking_proxy({"vpcId": UNKNOWN_STRING_VALUE})
    flow = StackResource(FLOW_LOG, unknown, False, FLOW_URN, {"vpcId": [VPC_URN]})
    pending_vpc = StackResource(VPC, unknown_checking_proxy({"id": UNKNOWN_STRING_VALUE}), True, VPC_URN)

    assert check_flow_logs([pending_vpc, flow], Tier.PRODUCTION) == []


def test_prod_reports_unprotected_stateful_resources() -> None:
    bucket = StackResource(BUCKET, {}, False, "urn:pulumi:prod::hardstack::aws:s3/bucket:Bucket::data")

    findings = check_prod_protection([bucket, vpc(protect=True)], Tier.PRODUCTION)

    assert [f.urn for f in findings] == [bucket.urn] and "'data'" in findings[0].message


def test_test_stack_may_leave_stateful_resources_unprotected() -> None:
    assert check_prod_protection([(BUCKET, {}, False), (DB, DB_OK, False)], Tier.DEVELOPMENT) == []


def test_stateless_resources_need_no_protection_in_prod() -> None:
    assert check_prod_protection([(LISTENER, HTTPS_LISTENER, False)], Tier.PRODUCTION) == []


def test_check_stack_runs_every_stack_policy_on_plain_tuples() -> None:
    findings = check_stack([(VPC, {"id": "vpc-1"}, False)], Tier.PRODUCTION)

    assert len(findings) == 2 and all(VPC in f.message for f in findings)


# --- environment ----------------------------------------------------------------------------------


def test_stack_name_is_read_from_the_urn() -> None:
    assert stack_of_urn(VPC_URN) == "prod"


def test_configured_tier_wins_over_the_stack_name() -> None:
    assert resolve_tier("development", "prod") is Tier.DEVELOPMENT


def test_tier_follows_the_stack_name_when_it_names_one() -> None:
    assert resolve_tier(None, "preprod") is Tier.STAGING
    assert resolve_tier(None, "prod") is Tier.PRODUCTION


def test_tier_of_an_unnamed_stack_is_unknown() -> None:
    assert resolve_tier(None, "alice-dev") is None


def test_configured_tier_outside_the_list_is_refused() -> None:
    with pytest.raises(HardstackError) as raised:
        resolve_tier("prod", "prod", where="tier")

    assert "tier" in str(raised.value) and "'prod'" in str(raised.value) and "production" in str(raised.value)


def test_a_staging_stack_named_otherwise_gets_staging_rules_from_its_config() -> None:
    no_backups = {**DB_OK, "backupRetentionPeriod": 0.0}

    assert BY_NAME["rds-backup-retention"].check(DB, no_backups, tier=Tier.STAGING) == []
    assert validate("rds-backup-retention", resource_args(DB, no_backups, stack="eu-staging")) != []
    staged = resource_args(DB, no_backups, stack="eu-staging", config={"tier": "staging"})
    assert validate("rds-backup-retention", staged) == []


def tier_of(environment: str | None) -> Tier | None:
    """The tables name stacks (test, prod) or None; the checks take the tier those stacks get."""
    return STACK_TIERS[environment] if environment else None


# --- the policy pack wraps the same functions -----------------------------------------------------


@cache
def pack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hardstack_policy_pack", PACK_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def engine_policies() -> dict[str, Any]:
    return {p.name: p for p in pack().build_policies()}


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def resource_args(
    resource_type: str, props: dict[str, Any], stack: str = "test", config: dict[str, Any] | None = None
) -> ResourceValidationArgs:
    urn = f"urn:pulumi:{stack}::hardstack::{resource_type}::r"
    return ResourceValidationArgs(resource_type, unknown_checking_proxy(props), urn, "r", options(), None, config, {})


def validate(policy_name: str, args: Any) -> list[str]:
    reported: list[str] = []
    engine_policies()[policy_name].validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_pack_defines_exactly_the_policies_of_the_module() -> None:
    expected = {p.name: p.enforcement for p in POLICIES} | {p.name: p.enforcement for p in STACK_POLICIES}
    levels = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}

    found = {name: p.enforcement_level for name, p in engine_policies().items()}

    assert found == {name: levels[level] for name, level in expected.items()}


def test_pack_policy_kinds_match_the_module() -> None:
    kinds = {name: type(p) for name, p in engine_policies().items()}

    assert all(kinds[p.name] is ResourceValidationPolicy for p in POLICIES)
    assert all(kinds[p.name] is StackValidationPolicy for p in STACK_POLICIES)


@pytest.mark.parametrize("case", VIOLATIONS)
def test_pack_reports_what_the_function_reports(case: str) -> None:
    policy, resource_type, props, environment, _ = VIOLATIONS[case]
    tier = tier_of(environment)
    config = {"tier": tier.value} if tier else None

    reported = validate(policy, resource_args(resource_type, props, stack="alice", config=config))

    assert reported == BY_NAME[policy].check(resource_type, props, tier=tier)


def test_pack_takes_the_environment_from_the_stack_name() -> None:
    forwarding = {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]}

    in_test = validate("prod-http-redirects", resource_args(LISTENER, forwarding, stack="test"))
    in_prod = validate("prod-http-redirects", resource_args(LISTENER, forwarding, stack="prod"))

    assert in_test == [] and len(in_prod) == 1


def test_pack_config_environment_overrides_the_stack_name() -> None:
    forwarding = {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]}
    args = resource_args(LISTENER, forwarding, stack="prod", config={"tier": "development"})

    assert validate("prod-http-redirects", args) == []


def test_pack_applies_prod_rules_to_a_stack_of_unknown_environment() -> None:
    forwarding = {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]}

    assert len(validate("prod-http-redirects", resource_args(LISTENER, forwarding, stack="alice-dev"))) == 1


def test_pack_leaves_unknown_preview_values_to_the_engine() -> None:
    # The engine turns this error into a "can't run during preview" note and checks again on update.
    args = resource_args(TOPIC, {"kmsMasterKeyId": UNKNOWN_STRING_VALUE})

    with pytest.raises(UnknownValueError):
        validate("sns-topic-encrypted", args)


def policy_resource(
    resource_type: str, props: dict[str, Any], urn: str, protect: bool, deps: dict[str, list[PolicyResource]]
) -> PolicyResource:
    name = urn.rsplit("::", 1)[-1]
    return PolicyResource(
        resource_type, unknown_checking_proxy(props), urn, name, options(protect), None, None, [], deps
    )


def test_pack_stack_policy_reports_against_the_offending_resource() -> None:
    lone_vpc = policy_resource(VPC, {"id": "vpc-1"}, VPC_URN, True, {})
    reported: list[tuple[str, str | None]] = []

    engine_policies()["vpc-flow-logs"].validate(
        StackValidationArgs([lone_vpc]), lambda message, urn=None: reported.append((message, urn))
    )

    assert reported == [(check_flow_logs([(VPC, {"id": "vpc-1"}, True, VPC_URN)])[0].message, VPC_URN)]


def test_pack_stack_policy_follows_property_dependencies() -> None:
    pending_vpc = policy_resource(VPC, {"id": UNKNOWN_STRING_VALUE}, VPC_URN, True, {})
    flow = policy_resource(FLOW_LOG, {"vpcId": UNKNOWN_STRING_VALUE}, FLOW_URN, False, {"vpcId": [pending_vpc]})
    reported: list[str] = []

    engine_policies()["vpc-flow-logs"].validate(
        StackValidationArgs([pending_vpc, flow]), lambda message, urn=None: reported.append(message)
    )

    assert reported == []


def test_pack_stack_policy_reads_protect_from_the_options() -> None:
    urn = "urn:pulumi:prod::hardstack::aws:kms/key:Key::logs"
    key = policy_resource(KEY, {"enableKeyRotation": True}, urn, False, {})
    reported: list[str | None] = []

    engine_policies()["prod-stateful-protected"].validate(
        StackValidationArgs([key]), lambda message, urn=None: reported.append(urn)
    )

    assert reported == [urn]


# --- the project's stacks comply ------------------------------------------------------------------


@cache
def recording(stack: str) -> Recording:
    return run_stack(stack)


def mandatory_resource_violations(stack: str) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    for r in recording(stack):
        if r.custom:
            violations = check_resource(
                r.type, r.inputs, tier=STACK_TIERS[stack], protect=r.protect, enforcement="mandatory"
            )
            if violations:
                found[f"{r.type} {r.name}"] = violations
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_stack_resources_violate_no_mandatory_policy(stack: str) -> None:
    assert mandatory_resource_violations(stack) == {}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_violates_no_stack_policy(stack: str) -> None:
    resources = [StackResource(r.type, r.inputs, r.protect, r.urn) for r in recording(stack) if r.custom]

    assert check_stack(resources, STACK_TIERS[stack]) == []


# --- no role reads every SSM parameter ----------------------------------------------------------

ROLE_URN = "urn:pulumi:prod::hardstack::aws:iam/role:Role::host"


def _role_with(*statements: dict[str, object], managed: str | None = None) -> list[StackResource]:
    role = StackResource("aws:iam/role:Role", {"name": "host-1a2b", "id": "host-1a2b"}, False, ROLE_URN)
    out = [role]
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        out.append(StackResource("aws:iam/rolePolicy:RolePolicy", {"role": "host-1a2b", "policy": document}, False))
    if managed:
        props = {"role": "host-1a2b", "policyArn": f"arn:aws:iam::aws:policy/{managed}"}
        out.append(StackResource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", props, False))
    return out


READ_ALL = {"Effect": "Allow", "Action": "ssm:GetParameter*", "Resource": "*"}
DENY_OTHERS = {
    "Effect": "Deny",
    "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
    "NotResource": ["arn:aws:ssm:eu-west-3:123456789012:parameter/app/db"],
}


@pytest.mark.parametrize(
    "resources",
    [_role_with(managed="AmazonSSMManagedInstanceCore"), _role_with(READ_ALL), _role_with({**READ_ALL, "Action": "*"})],
)
def test_a_role_that_reads_every_parameter_is_reported(resources: list[StackResource]) -> None:
    (finding,) = [f for f in check_stack(resources, Tier.DEVELOPMENT) if "SSM parameter" in f.message]
    assert finding.urn == ROLE_URN and "add a Deny of ssm:GetParameter*" in finding.message


@pytest.mark.parametrize(
    "resources",
    [
        _role_with(DENY_OTHERS, managed="AmazonSSMManagedInstanceCore"),
        _role_with(READ_ALL, DENY_OTHERS),
        _role_with({**READ_ALL, "Resource": "arn:aws:ssm:eu-west-3:123456789012:parameter/app/db"}),
    ],
)
def test_a_role_held_to_its_own_parameters_passes(resources: list[StackResource]) -> None:
    assert [f for f in check_stack(resources, Tier.PRODUCTION) if "SSM parameter" in f.message] == []


def test_the_fleet_role_without_its_deny_would_be_reported() -> None:
    rec = recording("prod")
    resources = []
    for r in (r for r in rec if r.custom):
        inputs = dict(r.inputs)
        if r.name == "app-host":
            document = json.loads(inputs["policy"])
            document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "NoOtherParameters"]
            inputs["policy"] = json.dumps(document)
        resources.append(StackResource(r.type, inputs, r.protect, r.urn))
    reported = [f.urn for f in check_stack(resources, Tier.PRODUCTION) if "SSM parameter" in f.message]
    assert reported == [rec.one("aws:iam/role:Role", "app").urn]
