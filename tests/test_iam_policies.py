"""Every IAM role every stack registers: trust conditions stated, no wildcard the design does not justify.

A role's effective statements are its inline policies and the managed policies attached to it, the
AWS managed ones read from their documents as AWS publishes them (tests/data/aws_managed_policies:
one file per policy with its version id and where it was taken from). Roles are found generically:
a role added anywhere in a stack is checked without touching this file, and fails until its
wildcards are justified here.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hardstack.tooling.testing import MOCK_ACCOUNT, RecordedResource, Recording
from stacks.offline import STACKS, run_stack

ROLE = "aws:iam/role:Role"
INLINE = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
MANAGED = Path(__file__).parent / "data" / "aws_managed_policies"

#: Components whose roles are left out of the wildcard check, with the reason. Their trust is still checked.
NOT_CHECKED_HERE: dict[str, str] = {}

_EBS = "AWS's EBS CSI driver policy: EC2 volume and snapshot ARNs of any region and account of the partition,"
_EBS_TAGGED = f"{_EBS} narrowed by the CSI driver's own tags in the statement's condition"
#: (policy, statement Sid or `#<index>`) -> why its wildcard is acceptable. Inline policies are named
#: by their RolePolicy resource, managed ones by their AWS name.
JUSTIFIED: dict[tuple[str, str], str] = {
    ("AmazonEKSClusterPolicy", "AmazonEKSClusterPolicy"): (
        "the control plane manages ENIs, security groups, volumes and load balancers it creates: EC2 and ELB "
        "offer no resource-level scoping for most of these actions"
    ),
    ("AmazonEKSClusterPolicy", "AmazonEKSClusterPolicySLRCreate"): (
        "creates only the ELB service-linked role (condition iam:AWSServiceName)"
    ),
    ("AmazonEKSClusterPolicy", "AmazonEKSClusterPolicyENIDelete"): (
        "deletes only ENIs the VPC CNI tagged as its own (condition on ec2:ResourceTag/eks:eni:owner)"
    ),
    ("AmazonEKSWorkerNodePolicy", "WorkerNodePermissions"): (
        "Describe* calls the kubelet makes to join the cluster; Describe actions take no resource"
    ),
    ("AmazonEC2ContainerRegistryReadOnly", "#0"): (
        "nodes pull images from any repository the cluster runs (add-ons live in AWS-owned accounts' registries)"
    ),
    ("AmazonEKS_CNI_Policy", "AmazonEKSCNIPolicy"): (
        "the VPC CNI (its own IRSA role, never the nodes') assigns ENIs and IPs of instances it cannot name ahead"
    ),
    ("AmazonEKS_CNI_Policy", "AmazonEKSCNIPolicyENITag"): "tags only network interfaces, the ones the CNI attaches",
    ("AmazonRDSEnhancedMonitoringRole", "EnableCreationAndManagementOfRDSCloudwatchLogGroups"): (
        "only the RDS* log groups enhanced monitoring writes (RDSOSMetrics)"
    ),
    ("AmazonRDSEnhancedMonitoringRole", "EnableCreationAndManagementOfRDSCloudwatchLogStreams"): (
        "only the streams of those RDS* log groups"
    ),
    ("AmazonEBSCSIDriverPolicy", "#0"): "Describe* calls and snapshot listing, which take no resource",
    ("AmazonEBSCSIDriverPolicy", "#1"): f"{_EBS} for attach and detach",
    ("AmazonEBSCSIDriverPolicy", "#2"): f"{_EBS} for volume modifications",
    ("AmazonEBSCSIDriverPolicy", "#3"): f"{_EBS} for attaching to nodes",
    ("AmazonEBSCSIDriverPolicy", "#4"): f"{_EBS} for snapshots",
    ("AmazonEBSCSIDriverPolicy", "#5"): f"{_EBS} tags only at creation (condition ec2:CreateAction)",
    ("AmazonEBSCSIDriverPolicy", "#6"): f"{_EBS} for tag changes",
    **{("AmazonEBSCSIDriverPolicy", f"#{i}"): _EBS_TAGGED for i in range(7, 16)},
    ("eks-ebs-csi-volume-key", "UseVolumeKey"): (
        "kms:ReEncrypt* and kms:GenerateDataKey* as AWS documents for the driver, on the one volume key"
    ),
    ("net-flow-logs", "WriteFlowLogs"): "the log streams (`:*`) of the one flow-log group",
    # The fleet's hosts (hardstack.aws.fleet.host_statements).
    ("app-host", "ReadBootArtefacts"): "the objects under artefacts/ of the fleet's own artefact bucket",
    ("app-host", "WriteOwnLogs"): "the log streams (`:*`) of the fleet's two log groups",
    ("app-host", "DecryptBootParameters"): (
        "a SecureString may use any key (aws/ssm or a customer key): the condition pins SSM and the listed "
        "parameter ARNs (SSM's encryption context)"
    ),
    ("app-host", "UseAppBucket"): "the objects of the one app bucket, as the cluster app gets them",
    # The cluster app's IRSA role (hardstack.aws.database_access, app_statements).
    ("db-access-app", "UseAppBucket"): "the objects of the one app bucket, as the fleet's hosts get them",
    ("app-host", "PutHostMetrics"): "PutMetricData takes no resource; the condition pins the namespace",
    ("app-host", "DescribeOwnTags"): "ec2:DescribeTags and DescribeVolumes take no resource (the agent's dimensions)",
    ("app-host", "ReportOwnHealth"): (
        "SetInstanceHealth on groups of this account and region, only the one tagged with this fleet (condition)"
    ),
    **{
        ("AmazonSSMManagedInstanceCore", f"#{i}"): (
            "Session Manager's ssm/ssmmessages/ec2messages calls take no resource; its GetParameter(s) on * is "
            "cut to the fleet's own parameters by the role's NoOtherParameters Deny"
        )
        for i in range(3)
    },
    # Platform controllers (hardstack.aws.controller_roles): the controllers' own published policies.
    ("controllers-cluster-autoscaler", "DiscoverNodeGroups"): (
        "Describe* calls of auto-discovery take no resource (the Cluster Autoscaler's documented policy)"
    ),
    ("controllers-cluster-autoscaler", "ScaleThisClustersNodeGroups"): (
        "SetDesiredCapacity and TerminateInstanceInAutoScalingGroup only on groups tagged as this cluster's (condition)"
    ),
    **{
        ("controllers-load-balancer-controller", f"#{i}"): (
            "the AWS Load Balancer Controller's iam_policy.json at the pinned chart's app version, statement for "
            "statement: Describe calls take no resource, changes are conditioned on the elbv2.k8s.aws/cluster tag"
        )
        for i in range(16)
    },
    ("prometheus-ec2-sd", "Ec2ServiceDiscovery"): (
        "ec2:DescribeInstances and DescribeAvailabilityZones (Prometheus EC2 service discovery) take no resource"
    ),
}


@dataclass(frozen=True)
class Statement:
    policy: str
    key: str
    body: dict[str, Any]


def listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def managed_document(arn: str) -> dict[str, Any]:
    path = MANAGED / f"{arn.rsplit('/', 1)[-1]}.json"
    if not path.exists():
        pytest.fail(f"{arn} is attached but not vendored: add its published document as {path.name}")
    vendored: dict[str, Any] = json.loads(path.read_text())
    assert vendored["Arn"] == arn, f"{path.name} holds {vendored['Arn']}, not {arn}"
    return vendored


def keyed(policy: str, document: dict[str, Any]) -> Iterator[Statement]:
    for index, body in enumerate(listed_statements(document)):
        yield Statement(policy, body.get("Sid") or f"#{index}", body)


def listed_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return [statements] if isinstance(statements, dict) else list(statements)


def attached_to(role: RecordedResource, resource: RecordedResource) -> bool:
    return resource.inputs.get("role") in (role.inputs.get("name"), role.inputs.get("id"))


def effective(rec: Recording, role: RecordedResource) -> list[Statement]:
    statements: list[Statement] = []
    for inline in (r for r in rec.of_type(INLINE) if attached_to(role, r)):
        statements += keyed(inline.name, json.loads(inline.inputs["policy"]))
    for attachment in (r for r in rec.of_type(ATTACHMENT) if attached_to(role, r)):
        vendored = managed_document(attachment.inputs["policyArn"])
        statements += keyed(vendored["PolicyName"], vendored["Document"])
    return statements


def wildcards(statement: Statement) -> list[str]:
    body = statement.body
    found = [f"Action {a}" for a in listed(body.get("Action")) if "*" in a]
    found += [f"Resource {r}" for r in listed(body.get("Resource")) if "*" in r]
    found += [f"{negated} (everything but)" for negated in ("NotAction", "NotResource") if negated in body]
    if body.get("Principal") == "*" or "*" in listed((body.get("Principal") or {}).get("AWS")):
        found.append("Principal *")
    return found


@pytest.fixture(scope="module", params=STACKS)
def rec(request: pytest.FixtureRequest) -> Recording:
    return run_stack(request.param)


def roles(rec: Recording) -> list[RecordedResource]:
    found = rec.of_type(ROLE)
    assert found, "every stack has roles"
    return found


def test_every_allow_statement_is_justified_or_has_no_wildcard(rec: Recording) -> None:
    unjustified = []
    for role in roles(rec):
        component = rec.component_of(role)
        if component is not None and component.type in NOT_CHECKED_HERE:
            continue
        for statement in effective(rec, role):
            if statement.body.get("Effect") != "Allow":
                continue
            found = wildcards(statement)
            if found and (statement.policy, statement.key) not in JUSTIFIED:
                unjustified.append(f"{role.name}: {statement.policy} {statement.key}: {', '.join(found)}")
    assert unjustified == []


def test_every_justification_is_still_needed() -> None:
    used: set[tuple[str, str]] = set()
    for name in STACKS:
        stack = run_stack(name)
        for role in stack.of_type(ROLE):
            used |= {(s.policy, s.key) for s in effective(stack, role) if wildcards(s)}
    assert set(JUSTIFIED) - used == set()


def test_service_roles_trust_their_service_for_this_account_only(rec: Recording) -> None:
    for role in roles(rec):
        for statement in listed_statements(json.loads(role.inputs["assumeRolePolicy"])):
            principal = statement["Principal"]
            if "Service" not in principal:
                continue
            condition = statement.get("Condition", {})
            assert condition.get("StringEquals", {}).get("aws:SourceAccount") == MOCK_ACCOUNT, role.name


def test_web_identity_roles_name_their_subject_and_audience(rec: Recording) -> None:
    federated = 0
    for role in roles(rec):
        for statement in listed_statements(json.loads(role.inputs["assumeRolePolicy"])):
            if "Federated" not in statement["Principal"]:
                continue
            federated += 1
            exact = statement["Condition"]["StringEquals"]
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", role.name
            assert [k for k in exact if k.endswith(":aud")] and [k for k in exact if k.endswith(":sub")], role.name
            assert all("*" not in v for v in exact.values()) and "StringLike" not in statement["Condition"], role.name
    assert federated >= 5  # vpc-cni, ebs-csi, the app, the migration, the bootstrap


def test_no_role_trusts_everyone_or_a_whole_account(rec: Recording) -> None:
    for role in roles(rec):
        for statement in listed_statements(json.loads(role.inputs["assumeRolePolicy"])):
            assert set(statement["Principal"]) <= {"Service", "Federated"}, role.name


def test_vendored_policies_say_which_version_and_where_from() -> None:
    files = sorted(MANAGED.glob("*.json"))
    assert files
    for path in files:
        vendored = json.loads(path.read_text())
        assert vendored["PolicyName"] == path.stem and vendored["Arn"].endswith(f"/{path.stem}")
        assert vendored["VersionId"].startswith("v") and vendored["Source"].startswith("`aws iam get-policy-version`")
        assert vendored["Document"]["Version"] == "2012-10-17"
