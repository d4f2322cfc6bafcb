"""IAM roles of the platform controllers' service accounts (IRSA), each with its controller's own policy.

Creates, per controller asked for (Cluster Autoscaler, AWS Load Balancer Controller): aws.iam.Role,
trusted by one kube-system service account through the cluster's OIDC provider (conditions on `sub`
and `aud`), and aws.iam.RolePolicy holding the policy the controller documents at its pinned release.
metrics-server calls no AWS API and gets no role.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from hardstack.aws.cluster import irsa_trust_policy
from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement, policy_document
from hardstack.base.component import Component
from hardstack.core.controllers import (
    CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
    CONTROLLERS_NAMESPACE,
    LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
    autoscaler_cluster_tag,
)
from hardstack.core.docs import documented
from hardstack.core.errors import refuse

_OIDC_PROVIDER_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:oidc-provider/(?P<host>[a-z0-9.-]+/id/[A-Za-z0-9]+)$"
)


def issuer_of(provider_arn: str, where: str = "oidc_provider_arn") -> str:
    """The issuer URL of an EKS OIDC provider, from its ARN (the ARN ends with the issuer's host and path)."""
    found = _OIDC_PROVIDER_ARN.match(provider_arn) if isinstance(provider_arn, str) else None
    if found is None:
        raise refuse(
            where,
            provider_arn,
            "an IAM OIDC provider ARN such as "
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-3.amazonaws.com/id/0123456789ABCDEF",
        )
    return f"https://{found['host']}"


def cluster_autoscaler_statements(cluster_name: pulumi.Input[str]) -> list[Statement]:
    """The autoscaler's policy for auto-discovery (cluster-autoscaler/cloudprovider/aws/README.md at
    cluster-autoscaler-1.33.6, "Full Cluster Autoscaler Features Policy"), with the two mutating actions
    limited by tag condition, as the README recommends, to the Auto Scaling groups of this cluster."""
    owned = pulumi.Output.from_input(cluster_name).apply(
        lambda name: {"StringEquals": {f"aws:ResourceTag/{autoscaler_cluster_tag(name)}": "owned"}}
    )
    return [
        {
            "Sid": "DiscoverNodeGroups",
            "Effect": "Allow",
            "Action": [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:DescribeNodegroup",
            ],
            "Resource": "*",
        },
        {
            "Sid": "ScaleThisClustersNodeGroups",
            "Effect": "Allow",
            "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            "Resource": "*",
            "Condition": owned,
        },
    ]


def load_balancer_controller_statements(partition: str = "aws") -> list[Statement]:
    """The controller's recommended policy, transcribed from docs/install/iam_policy.json of
    kubernetes-sigs/aws-load-balancer-controller at tag v3.5.0 (file sha256
    16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a, unchanged there since 2025-03), with
    the partition as a parameter (the aws-cn file of that tag holds the same statements, in another order).
    Its write actions are limited by the `elbv2.k8s.aws/cluster` tag the controller puts on what it creates."""
    ec2_sg = f"arn:{partition}:ec2:*:*:security-group/*"
    elb = f"arn:{partition}:elasticloadbalancing:*:*"
    balancers = [f"{elb}:targetgroup/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"]
    tagged_request = {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}
    ours_untagged_request = {
        "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
        "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
    }
    ours = {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}
    return [
        {
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "cognito-idp:DescribeUserPoolClient",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
                "waf-regional:GetWebACL",
                "waf-regional:GetWebACLForResource",
                "waf-regional:AssociateWebACL",
                "waf-regional:DisassociateWebACL",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "shield:GetSubscriptionState",
                "shield:DescribeProtection",
                "shield:CreateProtection",
                "shield:DeleteProtection",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": ec2_sg,
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, "Null": tagged_request},
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
            "Resource": ec2_sg,
            "Condition": {"Null": ours_untagged_request},
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            "Resource": "*",
            "Condition": {"Null": ours},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            "Resource": "*",
            "Condition": {"Null": tagged_request},
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": balancers,
            "Condition": {"Null": ours_untagged_request},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": [
                f"{elb}:listener/net/*/*/*",
                f"{elb}:listener/app/*/*/*",
                f"{elb}:listener-rule/net/*/*/*",
                f"{elb}:listener-rule/app/*/*/*",
            ],
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyCapacityReservation",
                "elasticloadbalancing:ModifyIpPools",
            ],
            "Resource": "*",
            "Condition": {"Null": ours},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags"],
            "Resource": balancers,
            "Condition": {
                "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                "Null": tagged_request,
            },
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            "Resource": f"{elb}:targetgroup/*/*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:SetWebAcl",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities",
            ],
            "Resource": "*",
        },
    ]


@documented
@dataclass(frozen=True, kw_only=True)
class ControllerRolesArgs:
    context: AwsContext
    """Account, partition, IAM path and boundary of the roles."""
    cluster_name: pulumi.Input[str]
    """EKS cluster name: scopes the autoscaler to this cluster's node groups."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (`Cluster.oidc_provider_arn`, or the existing cluster's)."""
    oidc_issuer: pulumi.Input[str]
    """Its issuer URL (`Cluster.oidc_provider_url`; `issuer_of(arn)` for an existing cluster)."""
    cluster_autoscaler: bool = True
    """Make the Cluster Autoscaler's role. Default: on."""
    load_balancer_controller: bool = True
    """Make the AWS Load Balancer Controller's role. Default: on."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the roles. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        if isinstance(self.oidc_provider_arn, str):
            issuer_of(self.oidc_provider_arn)


class ControllerRoles(Component):
    """Pass the role ARNs to `PlatformControllersArgs`; a controller not asked for has None."""

    cluster_autoscaler_role_arn: pulumi.Output[str] | None
    load_balancer_controller_role_arn: pulumi.Output[str] | None
    policies: list[aws.iam.RolePolicy]
    """The roles' policies: a controller started before its policy exists fails its first AWS calls."""

    def __init__(self, name: str, args: ControllerRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:kubernetes:ControllerRoles", name, opts)
        tags = {**args.context.tags, **args.tags}
        wanted: dict[str, tuple[str, list[Statement]]] = {}
        if args.cluster_autoscaler:
            wanted["cluster-autoscaler"] = (
                CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
                cluster_autoscaler_statements(args.cluster_name),
            )
        if args.load_balancer_controller:
            wanted["load-balancer-controller"] = (
                LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
                load_balancer_controller_statements(args.context.partition),
            )
        arns: dict[str, pulumi.Output[str]] = {}
        self.policies = []
        for key, (account, statements) in wanted.items():
            arns[key] = self._role(f"{name}-{key}", args, account, statements, tags)
        self.cluster_autoscaler_role_arn = arns.get("cluster-autoscaler")
        self.load_balancer_controller_role_arn = arns.get("load-balancer-controller")
        outputs: dict[str, Any] = {f"{k.replace('-', '_')}_role_arn": v for k, v in arns.items()}
        self.register_outputs(outputs)

    def _role(
        self,
        resource_name: str,
        args: ControllerRolesArgs,
        service_account: str,
        statements: list[Statement],
        tags: Mapping[str, str],
    ) -> pulumi.Output[str]:
        role = aws.iam.Role(
            resource_name,
            **args.context.role_args(),
            description=f"IRSA: {CONTROLLERS_NAMESPACE}/{service_account}",
            # sub names the one service account, aud the STS audience: no other pod can assume it.
            assume_role_policy=irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, CONTROLLERS_NAMESPACE, service_account
            ),
            tags=dict(tags),
            opts=self.child(),
        )
        # Inline: the policy lives and dies with its role, and no other principal can be given it.
        self.policies.append(
            aws.iam.RolePolicy(resource_name, role=role.id, policy=policy_document(statements), opts=self.child())
        )
        arn: pulumi.Output[str] = role.arn
        return arn
