"""Offline sandbox: every AWS resource a program registers is created in an in-process moto account.

`SandboxMocks` answers the mock runtime with moto's ids and attributes instead of made-up ones, so
AWS-side validation runs for real (overlapping subnets, malformed IAM policies, unknown ids) and
tests can audit the result through the AWS API, as an auditor would. Where moto accepts what AWS
refuses (a key policy or trust principal typo, a group of another VPC in a rule, an instance class
RDS does not have), the handler makes the check itself and says so.

`run_sandbox` runs a program that way and returns a `SandboxRun`: the recording and a
`SandboxReport` of which resource types went through moto and which fell back to the plain mocks,
with counts (AWS types without a handler, `UNSUPPORTED` names those moto does not implement and
why; non-AWS types, Kubernetes and random, always use the plain mocks). A refusal comes out as one
`SandboxError` line naming the resource, its type and AWS's error code and message.
Creates no Pulumi resources.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TextIO

import pulumi

try:  # the `sandbox` extra: say how to get it rather than fail on a bare module name
    import boto3
    import botocore.session
    from botocore.exceptions import ClientError, ParamValidationError
    from moto import mock_aws
except ModuleNotFoundError as err:  # pragma: no cover - exercised in the consumer test's venv
    raise ModuleNotFoundError(
        f"hardstack.tooling.sandbox needs {err.name}, from the `sandbox` extra: pip install 'hardstack[sandbox]'",
        name=err.name,
    ) from err

from hardstack.core.errors import HardstackError
from hardstack.tooling.testing import HardstackMocks, Recording, run_program

#: AWS types the sandbox cannot create because moto does not implement their APIs, and why.
UNSUPPORTED: Mapping[str, str] = {
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "moto has no PutCompositeAlarm",
    "aws:eks/accessEntry:AccessEntry": "moto has no CreateAccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "moto has no AssociateAccessPolicy",
    "aws:eks/addon:Addon": "moto has no CreateAddon",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": (
        "moto's PutResourcePolicy ignores resourceArn: it knows account-wide policies only"
    ),
}


class SandboxError(HardstackError):
    """AWS (or the sandbox's own check where moto checks nothing) refused a resource. One line."""

    def __init__(self, typ: str, name: str, code: str, message: str, *, own_check: bool = False) -> None:
        self.type, self.name, self.code, self.message, self.own_check = typ, name, code, message, own_check
        who = "the sandbox's own check refused it (moto accepts it, AWS does not)" if own_check else "AWS refused it"
        super().__init__(f"{typ} {name!r}: {who}: {code}: {message}")


class SandboxCheck(Exception):
    """A handler's own check failed: what AWS refuses and moto lets through."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class SandboxReport:
    """What a sandbox run really exercised: resource types by the way they were created, with counts."""

    region: str
    moto: dict[str, int]
    """AWS types created in the moto account (their inputs went through moto's checks)."""
    fallback: dict[str, int]
    """AWS types answered by the plain mocks: nothing checked them."""
    not_aws: dict[str, int]
    """Non-AWS types (Kubernetes, random): always the plain mocks."""
    invokes_moto: dict[str, int] = field(default_factory=dict)
    """Provider invokes (data sources) answered from the moto account."""
    invokes_plain: dict[str, int] = field(default_factory=dict)
    """Provider invokes answered by the plain mocks: made-up answers."""

    def lines(self) -> list[str]:
        def block(
            title: str, counts: dict[str, int], why: Callable[[str], str] | None = None, noun: str = "resource"
        ) -> list[str]:
            kinds = f", {_count(len(counts), 'type')}" if noun == "resource" else ""
            out = [f"{title} ({_count(sum(counts.values()), noun)}{kinds})"]
            width = max(map(len, counts), default=0)
            for typ, n in sorted(counts.items()):
                reason = f"  {why(typ)}" if why else ""
                out.append(f"  {typ:<{width}}  {n:>4}{reason}")
            return out if counts else [*out, "  (none)"]

        return [
            f"## Sandbox ({self.region}): what ran through moto",
            *block("Through moto", self.moto),
            *block("Fell back to plain mocks (AWS types, unchecked)", self.fallback, _fallback_reason),
            *block("Plain mocks (not AWS)", self.not_aws),
            *block("Invokes answered from moto", self.invokes_moto, noun="call"),
            *block("Invokes answered by plain mocks (made-up answers)", self.invokes_plain, noun="call"),
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fallback_reason(typ: str) -> str:
    return UNSUPPORTED.get(typ, "no sandbox handler yet")


@dataclass(frozen=True)
class SandboxRun:
    recording: Recording
    report: SandboxReport


State = dict[str, Any]
Handler = Callable[["SandboxMocks", str, State], tuple[str, State]]
HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return register


def _physical(name: str, limit: int = 255) -> str:
    """Pulumi-style auto-name: the logical name plus a stable suffix."""
    suffix = hashlib.sha256(name.encode()).hexdigest()[:7]
    return f"{name[: limit - 8]}-{suffix}"


def _tag_list(i: State) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in (i.get("tags") or {}).items()]


def _whole_numbers(value: Any) -> Any:
    """The engine sends every number as a float; AWS APIs want integers where they are whole."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class SandboxMocks(HardstackMocks):
    """Mock runtime backed by moto. Use as a context manager or call `start()`/`stop()`.

    `report()` says which types went through moto; `failures` holds every refusal, earliest first.
    """

    _running: ClassVar[bool] = False

    def __init__(self, region: str = "eu-west-3") -> None:
        super().__init__(region)
        self.skipped: list[str] = []
        """AWS types answered by the plain mocks, once per resource."""
        self.created: Counter[str] = Counter()
        self.not_aws: Counter[str] = Counter()
        self.invokes_moto: Counter[str] = Counter()
        self.invokes_plain: Counter[str] = Counter()
        self.failures: list[SandboxError] = []
        self._mock = mock_aws()
        self._started = False
        self._certificates: dict[str, str] = {}
        self._snapshots: set[str] = set()
        # The mock monitor registers resources on several threads; moto's backends are not
        # thread-safe (two overlapping subnets checked at once both pass), so one call at a time.
        self._lock = threading.Lock()

    def start(self) -> SandboxMocks:
        if SandboxMocks._running:
            # moto keeps one account per process: a second sandbox would see the first's resources.
            raise HardstackError("a sandbox is already running in this process: stop it before starting another")
        # AWS-managed IAM policies (SSM core, CloudWatch agent) must exist to be attached.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "sandbox")
        self._mock.start()
        self._started = SandboxMocks._running = True
        return self

    def stop(self) -> None:
        if self._started:
            self._mock.stop()
            self._started = False
            SandboxMocks._running = False

    def __enter__(self) -> SandboxMocks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str, region: str | None = None) -> Any:
        return boto3.client(service, region_name=region or self.region)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        handler = HANDLERS.get(args.typ) if args.custom else None
        if handler is None:
            if args.custom:
                self.record_skip(args.typ)
            return super().new_resource(args)
        try:
            with self._lock:
                rid, computed = handler(self, args.name, _whole_numbers(dict(args.inputs)))
        except (ClientError, ParamValidationError) as err:
            raise self._failed(SandboxError(args.typ, args.name, *_aws_said(err))) from None
        except SandboxCheck as err:
            raise self._failed(SandboxError(args.typ, args.name, err.code, err.message, own_check=True)) from None
        self.created[args.typ] += 1
        return rid, {**args.inputs, **computed, "id": rid}

    def _failed(self, err: SandboxError) -> SandboxError:
        self.failures.append(err)
        return err

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":  # noqa: S105 - invoke token
            self.invokes_moto[args.token] += 1
            zones = self.client("ec2").describe_availability_zones()["AvailabilityZones"]
            return {"names": [z["ZoneName"] for z in zones], "zoneIds": [z["ZoneId"] for z in zones]}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":  # noqa: S105 - invoke token
            self.invokes_moto[args.token] += 1
            ident = self.client("sts").get_caller_identity()
            return {"accountId": ident["Account"], "arn": ident["Arn"], "userId": ident["UserId"]}, []
        self.invokes_plain[args.token] += 1
        return super().call(args)

    def record_skip(self, typ: str) -> None:
        if typ.startswith("aws:"):
            self.skipped.append(typ)
        else:
            self.not_aws[typ] += 1

    def report(self) -> SandboxReport:
        return SandboxReport(
            region=self.region,
            moto=dict(self.created),
            fallback=dict(Counter(self.skipped)),
            not_aws=dict(self.not_aws),
            invokes_moto=dict(self.invokes_moto),
            invokes_plain=dict(self.invokes_plain),
        )

    def certificate(self, arn: str) -> str:
        """Stand in for a configured ACM certificate: the sandbox account has none of yours."""
        if arn not in self._certificates:
            acm = self.client("acm")
            self._certificates[arn] = acm.request_certificate(DomainName="sandbox.example.com")["CertificateArn"]
        return self._certificates[arn]

    def snapshot(self, identifier: str) -> None:
        """Stand in for a snapshot the program restores from: the sandbox account has none of yours.

        A manual snapshot of a small PostgreSQL instance, under the name (and, for a shared snapshot's
        ARN, in the region) the identifier gives, so a copy or restore runs through moto's checks.
        """
        if identifier in self._snapshots:
            return
        region, snapshot_id = self.region, identifier
        if identifier.startswith("arn:"):
            region, snapshot_id = identifier.split(":")[3], identifier.split(":")[-1]
        rds = self.client("rds", region)
        try:
            rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)
        except ClientError:
            source = f"sandbox-source-{hashlib.sha256(identifier.encode()).hexdigest()[:8]}"
            rds.create_db_instance(
                DBInstanceIdentifier=source,
                DBInstanceClass="db.t4g.micro",
                Engine="postgres",
                AllocatedStorage=20,
                MasterUsername="source",
                MasterUserPassword="sandbox-source",
            )
            rds.create_db_snapshot(DBInstanceIdentifier=source, DBSnapshotIdentifier=snapshot_id)
        self._snapshots.add(identifier)


def _aws_said(err: ClientError | ParamValidationError) -> tuple[str, str]:
    """AWS's error code and message, on one line."""
    if isinstance(err, ClientError):
        error = err.response.get("Error") or {}
        return str(error.get("Code") or "Error"), " ".join(str(error.get("Message") or err).split())
    return "ParamValidation", " ".join(str(err).split())


def run_sandbox(
    program: Callable[[], None],
    *,
    region: str | None = None,
    stack: str = "test",
    project: str = "hardstack",
    config: Mapping[str, Any] | None = None,
    out: TextIO | None = None,
    quiet: bool = False,
    mocks: SandboxMocks | None = None,
) -> SandboxRun:
    """Run `program` with every AWS resource created in a fresh moto account in `region`.

    Prints the report to `out` (default: standard output) unless `quiet`, and returns it with the
    recording. The first refusal raises `SandboxError`, one line (`<type> '<name>': AWS refused it:
    <Code>: <message>`), not the chain of errors the SDK wraps it in; other errors of the program
    propagate unchanged. Pass started `mocks` (their region wins) to keep the account open
    afterwards, for an audit through boto3.
    """
    own = mocks is None
    # The program's provider takes its region from config: the account is made in the same one.
    region = region or str((config or {}).get("aws:region", "eu-west-3"))
    sandbox = SandboxMocks(region).start() if mocks is None else mocks
    failed_before = len(sandbox.failures)  # started mocks may carry an earlier run's
    try:
        try:
            recording = run_program(program, stack=stack, project=project, config=config, mocks=sandbox)
        except Exception:
            if len(sandbox.failures) > failed_before:
                first = sandbox.failures[failed_before]  # a fresh error: the first one's traceback is the SDK's
                raise SandboxError(
                    first.type, first.name, first.code, first.message, own_check=first.own_check
                ) from None
            raise
        report = sandbox.report()
    finally:
        if own:
            sandbox.stop()
    if not quiet:
        print(report, file=out or sys.stdout)
    return SandboxRun(recording, report)


# --- EC2 networking --------------------------------------------------------------------------


@handles("aws:ec2/vpc:Vpc")
def _vpc(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    ec2 = m.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=i["cidrBlock"], TagSpecifications=_specs("vpc", i))["Vpc"]
    vid = vpc["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vid, EnableDnsSupport={"Value": _bool(i.get("enableDnsSupport", True))})
    ec2.modify_vpc_attribute(VpcId=vid, EnableDnsHostnames={"Value": _bool(i.get("enableDnsHostnames"))})
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vid]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    return vid, {"arn": f"arn:aws:ec2:{m.region}:123456789012:vpc/{vid}", "defaultSecurityGroupId": default_sg}


def _specs(kind: str, i: State) -> list[dict[str, Any]]:
    tags = _tag_list(i)
    return [{"ResourceType": kind, "Tags": tags}] if tags else []


@handles("aws:ec2/subnet:Subnet")
def _subnet(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    ec2 = m.client("ec2")
    # Placed by AZ id, or by the name a caller pinned instead.
    zone = {"AvailabilityZoneId": i["availabilityZoneId"]} if i.get("availabilityZoneId") else {}
    subnet = ec2.create_subnet(
        VpcId=i["vpcId"],
        CidrBlock=i["cidrBlock"],
        **(zone or {"AvailabilityZone": i["availabilityZone"]}),
        TagSpecifications=_specs("subnet", i),
    )["Subnet"]
    sid = subnet["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": _bool(i.get("mapPublicIpOnLaunch"))})
    # EC2 reports both the zone's name and id, as the plain mocks record them.
    zones = {
        k: subnet[v]
        for k, v in (("availabilityZone", "AvailabilityZone"), ("availabilityZoneId", "AvailabilityZoneId"))
        if v in subnet
    }
    return sid, {"arn": subnet.get("SubnetArn", sid), **zones}


@handles("aws:ec2/internetGateway:InternetGateway")
def _igw(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    ec2 = m.client("ec2")
    gid = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gid, VpcId=i["vpcId"])
    return gid, {}


@handles("aws:ec2/routeTable:RouteTable")
def _route_table(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    rtb = m.client("ec2").create_route_table(VpcId=i["vpcId"], TagSpecifications=_specs("route-table", i))
    return rtb["RouteTable"]["RouteTableId"], {}


@handles("aws:ec2/route:Route")
def _route(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    target = {k: i[v] for k, v in (("GatewayId", "gatewayId"), ("NatGatewayId", "natGatewayId")) if i.get(v)}
    m.client("ec2").create_route(
        RouteTableId=i["routeTableId"], DestinationCidrBlock=i["destinationCidrBlock"], **target
    )
    return f"r-{i['routeTableId']}{i['destinationCidrBlock']}", {}


@handles("aws:ec2/routeTableAssociation:RouteTableAssociation")
def _association(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    assoc = m.client("ec2").associate_route_table(RouteTableId=i["routeTableId"], SubnetId=i["subnetId"])
    return assoc["AssociationId"], {}


@handles("aws:ec2/eip:Eip")
def _eip(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    eip = m.client("ec2").allocate_address(Domain="vpc")
    return eip["AllocationId"], {"allocationId": eip["AllocationId"], "publicIp": eip["PublicIp"]}


@handles("aws:ec2/natGateway:NatGateway")
def _nat(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    nat = m.client("ec2").create_nat_gateway(SubnetId=i["subnetId"], AllocationId=i["allocationId"])["NatGateway"]
    return nat["NatGatewayId"], {}


@handles("aws:ec2/vpcEndpoint:VpcEndpoint")
def _endpoint(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    ep = m.client("ec2").create_vpc_endpoint(
        VpcId=i["vpcId"],
        ServiceName=i["serviceName"],
        VpcEndpointType=i.get("vpcEndpointType", "Gateway"),
        RouteTableIds=list(i.get("routeTableIds") or []),
        **({"PolicyDocument": i["policy"]} if i.get("policy") else {}),
    )["VpcEndpoint"]
    return ep["VpcEndpointId"], {}


@handles("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
def _default_sg(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    ec2 = m.client("ec2")
    group = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [i["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    # Taking over the default group with no rules removes the ones AWS put there.
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"])
    return str(group["GroupId"]), {}


@handles("aws:ec2/securityGroup:SecurityGroup")
def _security_group(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    ec2 = m.client("ec2")
    gid = ec2.create_security_group(
        GroupName=i.get("name") or _physical(name), Description=i["description"], VpcId=i["vpcId"]
    )["GroupId"]
    # As the provider does on create: drop AWS's allow-all egress so only declared rules exist.
    ec2.revoke_security_group_egress(
        GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return str(gid), {"arn": f"arn:aws:ec2:{m.region}:123456789012:security-group/{gid}"}


def _rule(m: SandboxMocks, name: str, i: State, *, ingress: bool) -> tuple[str, State]:
    perm: dict[str, Any] = {"IpProtocol": i["ipProtocol"]}
    if i["ipProtocol"] != "-1":
        perm.update(FromPort=i["fromPort"], ToPort=i["toPort"])
    desc = i.get("description", "")
    if i.get("cidrIpv4"):
        perm["IpRanges"] = [{"CidrIp": i["cidrIpv4"], "Description": desc}]
    elif i.get("cidrIpv6"):
        perm["Ipv6Ranges"] = [{"CidrIpv6": i["cidrIpv6"], "Description": desc}]
    elif i.get("referencedSecurityGroupId"):
        check_group_reference(m, i["securityGroupId"], i["referencedSecurityGroupId"])
        perm["UserIdGroupPairs"] = [{"GroupId": i["referencedSecurityGroupId"], "Description": desc}]
    elif i.get("prefixListId"):
        perm["PrefixListIds"] = [{"PrefixListId": i["prefixListId"], "Description": desc}]
    ec2 = m.client("ec2")
    authorize = ec2.authorize_security_group_ingress if ingress else ec2.authorize_security_group_egress
    rules = authorize(GroupId=i["securityGroupId"], IpPermissions=[perm]).get("SecurityGroupRules") or [{}]
    return str(rules[0].get("SecurityGroupRuleId", f"sgr-{_physical(name)}")), {}


@handles("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
def _ingress_rule(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    return _rule(m, name, i, ingress=True)


@handles("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
def _egress_rule(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    return _rule(m, name, i, ingress=False)


@handles("aws:ec2/flowLog:FlowLog")
def _flow_log(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    resp = m.client("ec2").create_flow_logs(
        ResourceIds=[i["vpcId"]],
        ResourceType="VPC",
        TrafficType=i["trafficType"],
        LogDestinationType=i.get("logDestinationType", "cloud-watch-logs"),
        LogDestination=i["logDestination"],
        DeliverLogsPermissionArn=i["iamRoleArn"],
        MaxAggregationInterval=i.get("maxAggregationInterval", 600),
    )
    if resp.get("Unsuccessful"):
        raise HardstackError(f"aws:ec2/flowLog:FlowLog {name!r}: AWS refused it: {resp['Unsuccessful']}")
    return str(resp["FlowLogIds"][0]), {}


# --- EC2 compute and load balancing ----------------------------------------------------------


@handles("aws:ec2/launchTemplate:LaunchTemplate")
def _launch_template(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    meta = i.get("metadataOptions") or {}
    # EKS node templates leave the image and type to the node group.
    data: dict[str, Any] = {k: i[v] for k, v in (("ImageId", "imageId"), ("InstanceType", "instanceType")) if i.get(v)}
    data |= {
        "EbsOptimized": _bool(i.get("ebsOptimized")),
        "Monitoring": {"Enabled": _bool((i.get("monitoring") or {}).get("enabled"))},
        "MetadataOptions": {
            "HttpTokens": meta.get("httpTokens", "optional"),
            "HttpPutResponseHopLimit": meta.get("httpPutResponseHopLimit", 1),
            "HttpEndpoint": meta.get("httpEndpoint", "enabled"),
        },
        "NetworkInterfaces": [
            {
                "DeviceIndex": nic.get("deviceIndex", 0),
                "AssociatePublicIpAddress": _bool(nic.get("associatePublicIpAddress")),
                "DeleteOnTermination": _bool(nic.get("deleteOnTermination", "true")),
                "Groups": list(nic.get("securityGroups") or []),
            }
            for nic in i.get("networkInterfaces") or []
        ],
        "BlockDeviceMappings": [
            {
                "DeviceName": bd["deviceName"],
                "Ebs": {
                    "VolumeSize": bd["ebs"]["volumeSize"],
                    "VolumeType": bd["ebs"]["volumeType"],
                    "Encrypted": _bool(bd["ebs"].get("encrypted")),
                    **({"KmsKeyId": bd["ebs"]["kmsKeyId"]} if bd["ebs"].get("kmsKeyId") else {}),
                },
            }
            for bd in i.get("blockDeviceMappings") or []
        ],
    }
    if i.get("iamInstanceProfile"):
        data["IamInstanceProfile"] = {"Arn": i["iamInstanceProfile"]["arn"]}
    if i.get("userData"):
        data["UserData"] = i["userData"]
    lt = m.client("ec2").create_launch_template(LaunchTemplateName=_physical(name, 128), LaunchTemplateData=data)
    template = lt["LaunchTemplate"]
    return str(template["LaunchTemplateId"]), {"latestVersion": template["LatestVersionNumber"]}


@handles("aws:autoscaling/group:Group")
def _asg(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    group_name = i.get("name") or _physical(name)
    lt = i["launchTemplate"]
    asg = m.client("autoscaling")
    asg.create_auto_scaling_group(
        AutoScalingGroupName=group_name,
        LaunchTemplate={"LaunchTemplateId": lt["id"], "Version": str(lt["version"])},
        MinSize=i["minSize"],
        MaxSize=i["maxSize"],
        DesiredCapacity=i.get("desiredCapacity", i["minSize"]),
        VPCZoneIdentifier=",".join(i["vpcZoneIdentifiers"]),
        TargetGroupARNs=list(i.get("targetGroupArns") or []),
        HealthCheckType=i.get("healthCheckType", "EC2"),
        HealthCheckGracePeriod=i.get("healthCheckGracePeriod", 300),
        Tags=[
            {"Key": t["key"], "Value": t["value"], "PropagateAtLaunch": t["propagateAtLaunch"]}
            for t in i.get("tags") or []
        ],
    )
    if i.get("enabledMetrics"):
        asg.enable_metrics_collection(
            AutoScalingGroupName=group_name, Metrics=list(i["enabledMetrics"]), Granularity="1Minute"
        )
    return group_name, {"name": group_name, "arn": f"arn:aws:autoscaling:{m.region}:123456789012:asg/{group_name}"}


@handles("aws:lb/loadBalancer:LoadBalancer")
def _alb(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    elb = m.client("elbv2")
    lb = elb.create_load_balancer(
        Name=i.get("name") or _physical(name, 32),
        Subnets=list(i["subnets"]),
        SecurityGroups=list(i.get("securityGroups") or []),
        Scheme="internal" if i.get("internal") else "internet-facing",
        Type=i.get("loadBalancerType", "application"),
    )["LoadBalancers"][0]
    attributes = [
        {
            "Key": "routing.http.drop_invalid_header_fields.enabled",
            "Value": str(_bool(i.get("dropInvalidHeaderFields"))).lower(),
        },
        {"Key": "deletion_protection.enabled", "Value": str(_bool(i.get("enableDeletionProtection"))).lower()},
    ]
    logs = i.get("accessLogs") or {}
    if logs.get("enabled"):
        attributes += [
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": logs["bucket"]},
            {"Key": "access_logs.s3.prefix", "Value": logs.get("prefix", "")},
        ]
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=attributes)
    arn = lb["LoadBalancerArn"]
    return arn, {
        "arn": arn,
        "arnSuffix": arn.split(":loadbalancer/")[1],
        "dnsName": lb["DNSName"],
        "zoneId": lb["CanonicalHostedZoneId"],
    }


@handles("aws:lb/targetGroup:TargetGroup")
def _target_group(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    hc = i.get("healthCheck") or {}
    tg = m.client("elbv2").create_target_group(
        Name=i.get("name") or _physical(name, 32),
        Protocol=i["protocol"],
        Port=i["port"],
        VpcId=i["vpcId"],
        TargetType=i.get("targetType", "instance"),
        HealthCheckPath=hc.get("path", "/"),
        Matcher={"HttpCode": hc.get("matcher", "200")},
    )["TargetGroups"][0]
    arn = tg["TargetGroupArn"]
    return arn, {"arn": arn, "arnSuffix": arn.split(":")[-1]}


@handles("aws:lb/listener:Listener")
def _listener(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    actions = []
    for a in i["defaultActions"]:
        if a["type"] == "forward":
            actions.append({"Type": "forward", "TargetGroupArn": a["targetGroupArn"]})
        else:
            r = a["redirect"]
            actions.append(
                {
                    "Type": "redirect",
                    "RedirectConfig": {"Port": r["port"], "Protocol": r["protocol"], "StatusCode": r["statusCode"]},
                }
            )
    extra: dict[str, Any] = {}
    if i["protocol"] == "HTTPS":
        extra = {"SslPolicy": i["sslPolicy"], "Certificates": [{"CertificateArn": m.certificate(i["certificateArn"])}]}
    listener = m.client("elbv2").create_listener(
        LoadBalancerArn=i["loadBalancerArn"], Protocol=i["protocol"], Port=i["port"], DefaultActions=actions, **extra
    )["Listeners"][0]
    return str(listener["ListenerArn"]), {"arn": listener["ListenerArn"]}


# --- The sandbox's own checks, where moto accepts what AWS refuses -------------------------------

_ACCOUNT_PRINCIPAL = re.compile(
    r"^(\*|[0-9]{12}|arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:(root|(user|role|assumed-role|federated-user)/[\w+=,.@/-]+))$"
)
_PRINCIPALS: dict[str, re.Pattern[str]] = {
    "AWS": _ACCOUNT_PRINCIPAL,
    "Service": re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$"),
    "Federated": re.compile(r"^(arn:aws[a-z-]*:iam::[0-9]{12}:(oidc|saml)-provider/\S+|[a-z0-9-]+(\.[a-z0-9-]+)+)$"),
    "CanonicalUser": re.compile(r"^[0-9a-f]{64}$"),
}
#: KMS permissions that are no API operation: ReEncrypt is authorized as both on the two keys.
_KMS_PERMISSION_ONLY = ("ReEncryptFrom", "ReEncryptTo")


@functools.cache
def _kms_actions() -> tuple[str, ...]:
    """Every KMS action, lower case: the API's operations (from the SDK's model) and the permission-only ones."""
    operations = botocore.session.get_session().get_service_model("kms").operation_names
    return tuple(f"kms:{a}".lower() for a in (*operations, *_KMS_PERMISSION_ONLY))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_principals(statement: dict[str, Any], code: str) -> None:
    """Each principal in the format IAM takes: AWS account, ARN or *, service, federated provider."""
    for key in ("Principal", "NotPrincipal"):
        if key not in statement:
            continue
        principal = statement[key]
        if principal == "*":
            continue
        if not isinstance(principal, dict) or not principal:
            raise SandboxCheck(code, f"Invalid principal in policy: {json.dumps(principal)}")
        for kind, values in principal.items():
            pattern = _PRINCIPALS.get(kind)
            if pattern is None:
                raise SandboxCheck(code, f"Invalid principal in policy: unknown principal type {kind!r}")
            for value in _as_list(values):
                if not isinstance(value, str) or not pattern.match(value):
                    raise SandboxCheck(code, f"Invalid principal in policy: {json.dumps({kind: value})}")


def _statements(document: str, code: str, what: str) -> list[dict[str, Any]]:
    try:
        policy = json.loads(document)
    except (TypeError, ValueError) as err:
        raise SandboxCheck(code, f"the {what} is not JSON: {err}") from None
    statements = _as_list(policy.get("Statement")) if isinstance(policy, dict) else []
    if not statements or not all(isinstance(s, dict) for s in statements):
        raise SandboxCheck(code, f"the {what} has no list of Statement objects")
    if policy.get("Version", "2012-10-17") not in ("2012-10-17", "2008-10-17"):
        raise SandboxCheck(code, f"the {what} Version {policy['Version']!r} is neither 2012-10-17 nor 2008-10-17")
    return [s for s in statements if isinstance(s, dict)]


def check_key_policy(document: str) -> None:
    """What KMS checks in a key policy and moto does not: JSON, statements, principals, KMS actions."""
    code = "MalformedPolicyDocumentException"
    for statement in _statements(document, code, "key policy"):
        sid = f"statement {statement.get('Sid')!r}" if statement.get("Sid") else "a statement"
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise SandboxCheck(code, f"{sid} has Effect {statement.get('Effect')!r}: Allow or Deny")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise SandboxCheck(code, f"{sid} names no Principal: a key policy says who it applies to")
        _check_principals(statement, code)
        actions = _as_list(statement.get("Action", statement.get("NotAction", [])))
        if not actions:
            raise SandboxCheck(code, f"{sid} has no Action")
        for action in actions:
            # A key policy governs its key only: KMS actions, by name or wildcard, or "*".
            known = isinstance(action, str) and (
                action == "*" or any(fnmatch.fnmatchcase(a, action.lower()) for a in _kms_actions())
            )
            if not known:
                raise SandboxCheck(code, f"{sid} has action {action!r}, which matches no KMS action (kms:<Operation>)")


def check_trust_principals(document: str) -> None:
    """What IAM checks in a trust policy and moto does not: each principal's format."""
    for statement in _statements(document, "MalformedPolicyDocument", "trust policy"):
        _check_principals(statement, "MalformedPolicyDocument")


#: RDS classes sold on an EC2 family of another name: db.x2g runs on x2gd.
_RDS_ON_EC2_FAMILY = {"x2g": "x2gd"}


def check_instance_class(m: SandboxMocks, instance_class: str) -> None:
    """An RDS class is `db.` and an EC2 instance type (moto ships AWS's list) of the lines RDS offers."""
    family, _, size = instance_class.removeprefix("db.").partition(".")
    ec2_type = f"{_RDS_ON_EC2_FAMILY.get(family, family)}.{size}"
    # RDS instance classes: general purpose (m), memory optimized (r, x, z) and burstable (t).
    known = False
    if instance_class.startswith("db.") and family[:1] in ("m", "r", "x", "z", "t") and size:
        try:
            known = bool(m.client("ec2").describe_instance_types(InstanceTypes=[ec2_type])["InstanceTypes"])
        except ClientError:
            known = False
    if not known:
        raise SandboxCheck(
            "InvalidParameterCombination",
            f"RDS does not support creating a DB instance with DBInstanceClass={instance_class}: "
            "no such class (db. and an m, r, x, z or t instance type, such as db.m7g.large)",
        )


def check_group_reference(m: SandboxMocks, group_id: str, referenced: str) -> None:
    """A rule may name a group of its own VPC or of a VPC peered with it (actively): moto allows any."""
    if "/" in referenced:  # account/sg-id: a group of a peer VPC in another account, not in this account
        return
    ec2 = m.client("ec2")
    groups = ec2.describe_security_groups(GroupIds=sorted({group_id, referenced}))["SecurityGroups"]
    vpcs = {g["GroupId"]: g.get("VpcId") for g in groups}
    own, other = vpcs.get(group_id), vpcs.get(referenced)
    if own == other:
        return
    peerings = ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
    peered = any(
        {p["RequesterVpcInfo"].get("VpcId"), p["AccepterVpcInfo"].get("VpcId")} == {own, other}
        and p["Status"]["Code"] == "active"
        for p in peerings
    )
    if not peered:
        raise SandboxCheck(
            "InvalidGroup.NotFound",
            f"You have specified two resources that belong to different networks: {group_id} is in {own}, "
            f"the referenced {referenced} in {other}, and no active peering joins them",
        )


# --- IAM, KMS, logs, S3 ----------------------------------------------------------------------


@handles("aws:iam/role:Role")
def _role(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    role_name = i.get("name") or _physical(name, 64)
    iam = m.client("iam")
    trust = i["assumeRolePolicy"]
    check_trust_principals(trust)  # before the role exists: IAM creates none with a bad trust policy
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust, Description=i.get("description", ""))[
        "Role"
    ]
    # moto checks a trust policy's syntax and actions on update only; IAM checks them on create too.
    try:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
    except ClientError:
        iam.delete_role(RoleName=role_name)
        raise
    return role_name, {"arn": role["Arn"], "name": role_name, "uniqueId": role["RoleId"]}


@handles("aws:iam/rolePolicy:RolePolicy")
def _role_policy(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    policy_name = i.get("name") or _physical(name, 128)
    m.client("iam").put_role_policy(RoleName=i["role"], PolicyName=policy_name, PolicyDocument=i["policy"])
    return f"{i['role']}:{policy_name}", {"name": policy_name}


@handles("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def _attachment(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    m.client("iam").attach_role_policy(RoleName=i["role"], PolicyArn=i["policyArn"])
    return f"{i['role']}-{_physical(name)}", {}


@handles("aws:iam/instanceProfile:InstanceProfile")
def _profile(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    iam = m.client("iam")
    profile_name = i.get("name") or _physical(name, 128)
    profile = iam.create_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile_name, RoleName=i["role"])
    return profile_name, {"arn": profile["Arn"], "name": profile_name}


@handles("aws:kms/key:Key")
def _key(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    check_key_policy(i["policy"])
    kms = m.client("kms")
    meta = kms.create_key(
        Policy=i["policy"],
        Description=i.get("description", ""),
        KeyUsage=i.get("keyUsage", "ENCRYPT_DECRYPT"),
        KeySpec=i.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"),
        Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tag_list(i)],
    )["KeyMetadata"]
    if _bool(i.get("enableKeyRotation")):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    return str(meta["KeyId"]), {"arn": meta["Arn"], "keyId": meta["KeyId"]}


@handles("aws:kms/alias:Alias")
def _alias(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    m.client("kms").create_alias(AliasName=i["name"], TargetKeyId=i["targetKeyId"])
    return str(i["name"]), {"arn": f"arn:aws:kms:{m.region}:123456789012:{i['name']}"}


@handles("aws:cloudwatch/logGroup:LogGroup")
def _log_group(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    logs = m.client("logs")
    group = i.get("name") or _physical(name, 512)
    extra = {"kmsKeyId": i["kmsKeyId"]} if i.get("kmsKeyId") else {}
    logs.create_log_group(logGroupName=group, **extra)
    if i.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=group, retentionInDays=i["retentionInDays"])
    return group, {"arn": f"arn:aws:logs:{m.region}:123456789012:log-group:{group}", "name": group}


@handles("aws:s3/bucket:Bucket")
def _bucket(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    bucket = i.get("bucket") or _physical(name, 63)
    # S3 refuses a LocationConstraint of us-east-1: a bucket there is created without one.
    where = {} if m.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": m.region}}
    m.client("s3").create_bucket(Bucket=bucket, **where)
    return bucket, {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}


@handles("aws:ssm/parameter:Parameter")
def _parameter(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    ssm = m.client("ssm")
    value = i.get("insecureValue", i.get("value"))
    ssm.put_parameter(Name=i["name"], Value=str(value), Type=i.get("type", "String"), Tags=_tag_list(i) or [])
    arn = f"arn:aws:ssm:{m.region}:123456789012:parameter/{str(i['name']).lstrip('/')}"
    return str(i["name"]), {"arn": arn, "version": 1}


@handles("aws:s3/bucketObjectv2:BucketObjectv2")
def _object(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    source = i.get("source")
    text = getattr(source, "text", None)
    # The sandbox is offline: a remote asset (a release URL) is stored empty, its URL in metadata.
    body = text.encode() if isinstance(text, str) else b""
    meta = {} if isinstance(text, str) else {"sandbox-unfetched-url": str(getattr(source, "uri", ""))}
    answer = m.client("s3").put_object(
        Bucket=i["bucket"], Key=i["key"], Body=body, Metadata=meta, ChecksumAlgorithm="SHA256"
    )
    return f"{i['bucket']}/{i['key']}", {"versionId": answer.get("VersionId", ""), "etag": answer.get("ETag", "")}


@handles("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def _public_access(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    keys = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    config = {k: _bool(i.get(k[0].lower() + k[1:])) for k in keys}
    m.client("s3").put_public_access_block(Bucket=i["bucket"], PublicAccessBlockConfiguration=config)
    return str(i["bucket"]), {}


@handles("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
def _sse(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    rule = i["rules"][0]
    default = rule["applyServerSideEncryptionByDefault"]
    sse: dict[str, Any] = {"SSEAlgorithm": default["sseAlgorithm"]}
    if default.get("kmsMasterKeyId"):
        sse["KMSMasterKeyID"] = default["kmsMasterKeyId"]
    m.client("s3").put_bucket_encryption(
        Bucket=i["bucket"],
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": sse, "BucketKeyEnabled": _bool(rule.get("bucketKeyEnabled"))}
            ]
        },
    )
    return str(i["bucket"]), {}


@handles("aws:s3/bucketVersioning:BucketVersioning")
def _versioning(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    status = i["versioningConfiguration"]["status"]
    m.client("s3").put_bucket_versioning(Bucket=i["bucket"], VersioningConfiguration={"Status": status})
    return str(i["bucket"]), {}


@handles("aws:s3/bucketPolicy:BucketPolicy")
def _bucket_policy(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    m.client("s3").put_bucket_policy(Bucket=i["bucket"], Policy=i["policy"])
    return str(i["bucket"]), {}


@handles("aws:s3/bucketLogging:BucketLogging")
def _bucket_logging(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    # What S3 checks when logging is turned on: the destination's policy (it must exist already) lets
    # log delivery put objects under the prefix. moto's own check stops at a statement whose Principal
    # is "*" (every bucket's TLS-only deny), so the check is made here and the configuration not stored.
    target, prefix = str(i["targetBucket"]), str(i["targetPrefix"])
    statements = json.loads(m.client("s3").get_bucket_policy(Bucket=target)["Policy"])["Statement"]
    granted = any(
        s.get("Effect") == "Allow"
        and isinstance(s.get("Principal"), dict)
        and s["Principal"].get("Service") == "logging.s3.amazonaws.com"
        and "s3:PutObject" in s.get("Action", [])
        and s.get("Resource") == f"arn:aws:s3:::{target}/{prefix}*"
        for s in statements
    )
    if not granted:
        raise HardstackError(f"aws:s3/bucketLogging:BucketLogging {name!r}: {target} lets no log delivery to {prefix}")
    return str(i["bucket"]), {}


@handles("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
def _ownership(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    rule = {"ObjectOwnership": i["rule"]["objectOwnership"]}
    m.client("s3").put_bucket_ownership_controls(Bucket=i["bucket"], OwnershipControls={"Rules": [rule]})
    return str(i["bucket"]), {}


@handles("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
def _lifecycle(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    rules = []
    for r in i["rules"]:
        rule: dict[str, Any] = {
            "ID": r["id"],
            "Status": r["status"],
            "Filter": {"Prefix": r["filter"].get("prefix", "")},
        }
        if r.get("noncurrentVersionExpiration"):
            rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": r["noncurrentVersionExpiration"]["noncurrentDays"]}
        if r.get("expiration"):
            keys = {"days": "Days", "expiredObjectDeleteMarker": "ExpiredObjectDeleteMarker"}
            rule["Expiration"] = {keys[k]: v for k, v in r["expiration"].items() if k in keys}
        if r.get("abortIncompleteMultipartUpload"):
            days = r["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
            rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
        rules.append(rule)
    m.client("s3").put_bucket_lifecycle_configuration(Bucket=i["bucket"], LifecycleConfiguration={"Rules": rules})
    return str(i["bucket"]), {}


@handles("aws:autoscaling/policy:Policy")
def _scaling_policy(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    tt = i["targetTrackingConfiguration"]
    policy_name = i.get("name") or _physical(name)
    resp = m.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName=i["autoscalingGroupName"],
        PolicyName=policy_name,
        PolicyType=i["policyType"],
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": tt["predefinedMetricSpecification"]["predefinedMetricType"]
            },
            "TargetValue": float(tt["targetValue"]),
        },
    )
    arn = resp.get("PolicyARN") or f"arn:aws:autoscaling:{m.region}:123456789012:scalingPolicy:{policy_name}"
    return policy_name, {"arn": arn, "name": policy_name}


# --- CloudWatch, SNS, EKS, RDS ---------------------------------------------------------------

_SCALARS = {
    "name": "AlarmName",
    "alarmDescription": "AlarmDescription",
    "comparisonOperator": "ComparisonOperator",
    "threshold": "Threshold",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "treatMissingData": "TreatMissingData",
    "namespace": "Namespace",
    "metricName": "MetricName",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "period": "Period",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile",
}
_INTEGERS = {"EvaluationPeriods", "DatapointsToAlarm", "Period"}


def _dims(dimensions: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dimensions.items()]


def put_metric_alarm_request(inputs: dict[str, Any]) -> dict[str, Any]:
    """The CloudWatch API request for a MetricAlarm's recorded (camelCase) inputs."""
    unmapped = set(inputs) - {*_SCALARS, "dimensions", "tags", "metricQueries", "arn", "id"}
    if unmapped:
        # A field the sandbox would drop could hide a mistake: refuse rather than pass silently.
        raise HardstackError(f"MetricAlarm inputs {sorted(unmapped)} have no CloudWatch API mapping in the sandbox")
    request: dict[str, Any] = {api: inputs[key] for key, api in _SCALARS.items() if key in inputs}
    for key in _INTEGERS & request.keys():
        request[key] = int(request[key])
    if "dimensions" in inputs:
        request["Dimensions"] = _dims(inputs["dimensions"])
    if inputs.get("tags"):
        request["Tags"] = [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]
    if "metricQueries" in inputs:
        request["Metrics"] = []
        for q in inputs["metricQueries"]:
            query: dict[str, Any] = {"Id": q["id"], "ReturnData": q.get("returnData", False)}
            for key, api in (("expression", "Expression"), ("label", "Label")):
                if key in q:
                    query[api] = q[key]
            if "metric" in q:
                m = q["metric"]
                query["MetricStat"] = {
                    "Metric": {
                        "Namespace": m["namespace"],
                        "MetricName": m["metricName"],
                        "Dimensions": _dims(m["dimensions"]),
                    },
                    "Period": int(m["period"]),
                    "Stat": m["stat"],
                }
            request["Metrics"].append(query)
    return request


@handles("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    request = put_metric_alarm_request({"name": _physical(name), **i})
    m.client("cloudwatch").put_metric_alarm(**request)
    alarm = request["AlarmName"]
    return alarm, {"arn": f"arn:aws:cloudwatch:{m.region}:123456789012:alarm:{alarm}", "name": alarm}


@handles("aws:cloudwatch/dashboard:Dashboard")
def _dashboard(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    resp = m.client("cloudwatch").put_dashboard(DashboardName=i["dashboardName"], DashboardBody=i["dashboardBody"])
    if resp.get("DashboardValidationMessages"):
        raise HardstackError(f"aws:cloudwatch/dashboard:Dashboard {name!r}: {resp['DashboardValidationMessages']}")
    return str(i["dashboardName"]), {"dashboardArn": f"arn:aws:cloudwatch::123456789012:dashboard/{i['dashboardName']}"}


@handles("aws:sns/topic:Topic")
def _topic(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    attributes = {"KmsMasterKeyId": i["kmsMasterKeyId"]} if i.get("kmsMasterKeyId") else {}
    topic_name = i.get("name") or _physical(name)
    arn = m.client("sns").create_topic(Name=topic_name, Attributes=attributes)["TopicArn"]
    return str(arn), {"arn": arn, "name": topic_name}


@handles("aws:sns/topicPolicy:TopicPolicy")
def _topic_policy(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    json.loads(i["policy"])
    m.client("sns").set_topic_attributes(TopicArn=i["arn"], AttributeName="Policy", AttributeValue=i["policy"])
    return str(i["arn"]), {}


@handles("aws:sns/topicSubscription:TopicSubscription")
def _subscription(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    arn = m.client("sns").subscribe(TopicArn=i["topic"], Protocol=i["protocol"], Endpoint=i["endpoint"])
    return str(arn["SubscriptionArn"]), {"arn": arn["SubscriptionArn"]}


@handles("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _oidc(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    arn = m.client("iam").create_open_id_connect_provider(
        Url=i["url"],
        ClientIDList=list(i.get("clientIdLists") or []),
        ThumbprintList=list(i.get("thumbprintLists") or []),
    )["OpenIDConnectProviderArn"]
    return str(arn), {"arn": arn}


@handles("aws:eks/cluster:Cluster")
def _eks(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    vpc = i["vpcConfig"]
    cluster_name = i.get("name") or _physical(name, 100)
    enc = i.get("encryptionConfig")
    encryption = [{"resources": enc["resources"], "provider": {"keyArn": enc["provider"]["keyArn"]}}] if enc else []
    cluster = m.client("eks").create_cluster(
        name=cluster_name,
        version=i.get("version", ""),
        roleArn=i["roleArn"],
        resourcesVpcConfig={
            "subnetIds": list(vpc["subnetIds"]),
            "securityGroupIds": list(vpc.get("securityGroupIds") or []),
            "endpointPublicAccess": _bool(vpc.get("endpointPublicAccess")),
            "endpointPrivateAccess": _bool(vpc.get("endpointPrivateAccess")),
        },
        encryptionConfig=encryption,
        logging={"clusterLogging": [{"types": list(i.get("enabledClusterLogTypes") or []), "enabled": True}]},
    )["cluster"]
    issuer = (
        f"https://oidc.eks.{m.region}.amazonaws.com/id/{hashlib.sha256(cluster_name.encode()).hexdigest()[:32].upper()}"
    )
    # EKS makes the cluster security group in the cluster's VPC; moto's EKS does not, so make it here.
    ec2 = m.client("ec2")
    vpc_id = ec2.describe_subnets(SubnetIds=[next(iter(vpc["subnetIds"]))])["Subnets"][0]["VpcId"]
    cluster_group = ec2.create_security_group(
        GroupName=f"eks-cluster-sg-{cluster_name}"[:255],
        Description=f"EKS created security group applied to ENI of the {cluster_name} control plane",
        VpcId=vpc_id,
    )["GroupId"]
    return cluster_name, {
        "arn": cluster["arn"],
        "name": cluster_name,
        "endpoint": cluster.get("endpoint") or f"https://{cluster_name}.eks.amazonaws.com",
        "certificateAuthority": {"data": (cluster.get("certificateAuthority") or {}).get("data", "Q0E=")},
        "identities": [{"oidcs": [{"issuer": issuer}]}],
        "vpcConfig": {**vpc, "clusterSecurityGroupId": cluster_group},
    }


@handles("aws:eks/nodeGroup:NodeGroup")
def _node_group(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    scaling = i["scalingConfig"]
    group_name = i.get("nodeGroupName") or _physical(name, 63)
    lt = i.get("launchTemplate") or {}
    group = m.client("eks").create_nodegroup(
        clusterName=i["clusterName"],
        nodegroupName=group_name,
        nodeRole=i["nodeRoleArn"],
        subnets=list(i["subnetIds"]),
        scalingConfig={
            "minSize": scaling["minSize"],
            "maxSize": scaling["maxSize"],
            "desiredSize": scaling["desiredSize"],
        },
        instanceTypes=list(i.get("instanceTypes") or []),
        amiType=i.get("amiType", "AL2023_x86_64_STANDARD"),
        **({"launchTemplate": {"id": lt["id"], "version": str(lt["version"])}} if lt else {}),
    )["nodegroup"]
    return f"{i['clusterName']}:{group_name}", {"arn": group["nodegroupArn"], "nodeGroupName": group_name}


@handles("aws:rds/subnetGroup:SubnetGroup")
def _db_subnets(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    group_name = i.get("name") or _physical(name).lower()
    group = m.client("rds").create_db_subnet_group(
        DBSubnetGroupName=group_name,
        DBSubnetGroupDescription=i.get("description") or "Managed by Pulumi",
        SubnetIds=list(i["subnetIds"]),
    )["DBSubnetGroup"]
    return group_name, {"arn": group["DBSubnetGroupArn"], "name": group_name}


@handles("aws:rds/parameterGroup:ParameterGroup")
def _db_parameters(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    rds = m.client("rds")
    group_name = i.get("name") or _physical(name).lower()
    group = rds.create_db_parameter_group(
        DBParameterGroupName=group_name,
        DBParameterGroupFamily=i["family"],
        Description=i.get("description") or "Managed by Pulumi",
    )["DBParameterGroup"]
    parameters = [
        {
            "ParameterName": p["name"],
            "ParameterValue": str(p["value"]),
            "ApplyMethod": p.get("applyMethod", "pending-reboot"),
        }
        for p in i.get("parameters") or []
    ]
    if parameters:
        rds.modify_db_parameter_group(DBParameterGroupName=group_name, Parameters=parameters)
    return group_name, {"arn": group["DBParameterGroupArn"], "name": group_name}


@handles("aws:rds/snapshotCopy:SnapshotCopy")
def _snapshot_copy(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    source, target = str(i["sourceDbSnapshotIdentifier"]), str(i["targetDbSnapshotIdentifier"])
    m.snapshot(source)
    request: dict[str, Any] = {
        "SourceDBSnapshotIdentifier": source,
        "TargetDBSnapshotIdentifier": target,
        "CopyTags": _bool(i.get("copyTags")),
        "Tags": _tag_list(i),
    }
    if i.get("kmsKeyId"):
        request["KmsKeyId"] = i["kmsKeyId"]
    if source.startswith("arn:") and source.split(":")[3] != m.region:
        request["SourceRegion"] = source.split(":")[3]  # a copy across regions names the source's
    snap = m.client("rds").copy_db_snapshot(**request)["DBSnapshot"]
    return target, {
        "dbSnapshotArn": snap["DBSnapshotArn"],
        "allocatedStorage": snap.get("AllocatedStorage"),
        "engine": snap.get("Engine"),
        "engineVersion": snap.get("EngineVersion"),
        "encrypted": snap.get("Encrypted"),
        "kmsKeyId": snap.get("KmsKeyId", i.get("kmsKeyId", "")),
        "snapshotType": snap.get("SnapshotType", "manual"),
    }


@handles("aws:iam/serviceLinkedRole:ServiceLinkedRole")
def _service_linked_role(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    request = {"AWSServiceName": i["awsServiceName"]}
    request |= {
        api: i[key] for api, key in (("Description", "description"), ("CustomSuffix", "customSuffix")) if i.get(key)
    }
    role = m.client("iam").create_service_linked_role(**request)["Role"]
    return str(role["Arn"]), {
        "arn": role["Arn"],
        "name": role["RoleName"],
        "path": role["Path"],
        "uniqueId": role["RoleId"],
    }


@handles("aws:rds/instance:Instance")
def _db(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    check_instance_class(m, str(i["instanceClass"]))
    request: dict[str, Any] = {
        "DBInstanceIdentifier": i.get("identifier") or _physical(name).lower(),
        "DBInstanceClass": i["instanceClass"],
        "Engine": i["engine"],
        "AllocatedStorage": i.get("allocatedStorage", 20),
        "PubliclyAccessible": _bool(i.get("publiclyAccessible")),
        "MultiAZ": _bool(i.get("multiAz")),
        "BackupRetentionPeriod": i.get("backupRetentionPeriod", 1),
        "DeletionProtection": _bool(i.get("deletionProtection")),
        "EnableIAMDatabaseAuthentication": _bool(i.get("iamDatabaseAuthenticationEnabled")),
        "VpcSecurityGroupIds": list(i.get("vpcSecurityGroupIds") or []),
        "ManageMasterUserPassword": _bool(i.get("manageMasterUserPassword")),
    }
    optional = {
        "DBSubnetGroupName": "dbSubnetGroupName",
        "DBParameterGroupName": "parameterGroupName",
        "StorageType": "storageType",
        "MasterUserSecretKmsKeyId": "masterUserSecretKmsKeyId",
    }
    request |= {api: i[key] for api, key in optional.items() if i.get(key)}
    rds = m.client("rds")
    if i.get("snapshotIdentifier"):
        # A restore takes user, database, encryption and key from the snapshot.
        snapshot = str(i["snapshotIdentifier"])
        m.snapshot(snapshot)
        db = rds.restore_db_instance_from_db_snapshot(DBSnapshotIdentifier=snapshot, **request)["DBInstance"]
    else:
        request |= {
            "MasterUsername": i.get("username", "postgres"),
            "StorageEncrypted": _bool(i.get("storageEncrypted")),
        }
        request |= {
            api: i[key]
            for api, key in (("KmsKeyId", "kmsKeyId"), ("EngineVersion", "engineVersion"), ("DBName", "dbName"))
            if i.get(key)
        }
        db = rds.create_db_instance(**request)["DBInstance"]
    endpoint = db.get("Endpoint") or {}
    address = endpoint.get("Address", f"{request['DBInstanceIdentifier']}.rds.amazonaws.com")
    port = endpoint.get("Port", 5432)
    secret = db.get("MasterUserSecret") or {}
    secret_arn = secret.get(
        "SecretArn", f"arn:aws:secretsmanager:{m.region}:123456789012:secret:rds!{request['DBInstanceIdentifier']}"
    )
    return request["DBInstanceIdentifier"], {
        "arn": db["DBInstanceArn"],
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "resourceId": db.get("DbiResourceId", "db-SANDBOX"),
        "masterUserSecrets": [
            {"secretArn": secret_arn, "kmsKeyId": i.get("masterUserSecretKmsKeyId", ""), "secretStatus": "active"}
        ],
    }


# --- WAF ------------------------------------------------------------------------------------------

_WAF_WORDS = {"cloudwatch": "CloudWatch"}


def _waf_api(value: Any) -> Any:
    """Pulumi's camelCase WAF inputs in the API's PascalCase (`cloudwatchMetricsEnabled` -> `CloudWatch...`)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head = next((w for w in _WAF_WORDS if key.startswith(w)), None)
            api_key = _WAF_WORDS[head] + key[len(head) :] if head else key[:1].upper() + key[1:]
            out[api_key] = _waf_api(item)
        return out
    if isinstance(value, list):
        return [_waf_api(v) for v in value]
    return _whole_numbers(value)


@handles("aws:wafv2/webAcl:WebAcl")
def _web_acl(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    acl = m.client("wafv2").create_web_acl(
        Name=i.get("name") or _physical(name, 128),
        Scope=i["scope"],
        DefaultAction=_waf_api(i["defaultAction"]),
        Description=i.get("description", ""),
        Rules=_waf_api(i.get("rules") or []),
        VisibilityConfig=_waf_api(i["visibilityConfig"]),
        Tags=_tag_list(i),
    )["Summary"]
    return str(acl["Id"]), {"arn": acl["ARN"]}


@handles("aws:wafv2/webAclAssociation:WebAclAssociation")
def _web_acl_association(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    m.client("wafv2").associate_web_acl(WebACLArn=i["webAclArn"], ResourceArn=i["resourceArn"])
    return f"{i['webAclArn']},{i['resourceArn']}", {}


@handles("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
def _web_acl_logging(m: SandboxMocks, name: str, i: State) -> tuple[str, State]:
    m.client("wafv2").put_logging_configuration(
        LoggingConfiguration={
            "ResourceArn": i["resourceArn"],
            "LogDestinationConfigs": list(i["logDestinationConfigs"]),
            "RedactedFields": _waf_api(i.get("redactedFields") or []),
        }
    )
    return str(i["resourceArn"]), {}
