"""VPC over 2-6 AZs with public, private and isolated tiers on an append-only address plan.

Subnets are placed by AZ id (the same zone in every account), pinned by the caller or taken once
from the region's list.

Creates: aws.ec2.Vpc; aws.ec2.Subnet per (tier, AZ); aws.ec2.InternetGateway; a public
aws.ec2.RouteTable with its default aws.ec2.Route; aws.ec2.Eip + aws.ec2.NatGateway (none, one or
one per AZ); an aws.ec2.RouteTable per private subnet (default route to its NAT) and per isolated
subnet (no default route); aws.ec2.RouteTableAssociation per subnet; an S3 gateway
aws.ec2.VpcEndpoint on the private route tables only, whose policy admits this account's buckets and
the artifact buckets the hosts and nodes read (`artifact_bucket_objects`); aws.ec2.DefaultSecurityGroup
with no rules; flow logs: aws.cloudwatch.LogGroup, aws.iam.Role, aws.iam.RolePolicy, aws.ec2.FlowLog.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import pulumi
import pulumi_aws as aws

from hardstack.aws.context import AwsContext
from hardstack.aws.iam import policy_document, service_assume_role_policy
from hardstack.aws.security_group import SecurityGroup, SecurityGroupArgs
from hardstack.base.component import Component
from hardstack.core.addressing import (
    MAX_AZS,
    AddressPlan,
    SubnetTier,
    check_az_ids_offered,
    plan_addresses,
    validate_az_ids,
)
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.rules import Flow, Peer, Port
from hardstack.core.tier import Tier, parse_tier, require_in_production, resolve_protect

NatStrategy = Literal["none", "single", "per_az"]
NAT_STRATEGIES: tuple[NatStrategy, ...] = ("none", "single", "per_az")
#: Retention values CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,62}$")
#: Objects of one bucket named in full: a wildcard in the name would admit buckets anyone can create.
_S3_OBJECTS = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9!_.*'()/-]*$")
#: What EKS nodes need without NAT: image pulls (ECR API, registry; layers come from S3 through the
#: gateway endpoint), IAM roles for service accounts (STS), the EC2 API for the CNI, EKS Pod Identity
#: and node auth, and CloudWatch Logs.
#: secretsmanager: the database bootstrap Job on the nodes reads the master secret at run time.
NODE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "ec2", "eks", "eks-auth", "logs", "secretsmanager")
#: What the fleet's hosts need without NAT: Session Manager and the CloudWatch agent.
FLEET_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages", "logs", "monitoring")


def artifact_bucket_objects(region: str, partition: str = "aws") -> list[str]:
    """Objects of the AWS-owned buckets private hosts and nodes read through the S3 gateway endpoint.

    Amazon Linux 2023 package repositories; SSM Agent updates, documents, Distributor packages (the
    CloudWatch agent) and patch baselines; ECR image layers; and registry.k8s.io's regional mirror.
    No Pulumi: plain ARNs for one region.
    """
    names = (
        f"al2023-repos-{region}-de612dc2",  # dnf on Amazon Linux 2023
        f"amazon-ssm-{region}",  # SSM Agent updates
        f"aws-ssm-{region}",  # plugins of SSM documents
        f"aws-ssm-document-attachments-{region}",
        f"aws-ssm-distributor-file-{region}",
        f"amazon-ssm-packages-{region}",  # Distributor packages, SSM Agent before 2.2.45
        f"{region}-birdwatcher-prod",  # Distributor packages, SSM Agent 2.2.45 and later
        f"patch-baseline-snapshot-{region}",  # Patch Manager
        f"prod-{region}-starport-layer-bucket",  # ECR image layers (EKS nodes pull images)
        # registry.k8s.io redirects layer downloads to the Kubernetes project's bucket in the client's
        # region where there is one (add-on and controller images).
        f"prod-registry-k8s-io-{region}",
    )
    return [f"arn:{partition}:s3:::{name}/*" for name in names]


def s3_endpoint_policy(context: AwsContext, extra_reads: Sequence[str] = ()) -> pulumi.Output[str]:
    """The gateway endpoint's policy: any action on this account's buckets, reads of the artifact ones.

    An endpoint policy grants nothing by itself; it caps what IAM and bucket policies allow through the
    endpoint, so a host holding stolen credentials cannot write to a bucket of another account.
    """
    return policy_document(
        [
            {
                "Sid": "OwnAccountBuckets",
                "Effect": "Allow",
                "Principal": "*",
                # All actions: an in-VPC deployer manages the stacks' buckets through this endpoint too.
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceAccount": context.account_id}},
            },
            {
                "Sid": "ArtifactBucketsReadOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [*artifact_bucket_objects(context.region, context.partition), *extra_reads],
            },
        ]
    )


_ELB_ROLE_TAG: dict[SubnetTier, str] = {
    "public": "kubernetes.io/role/elb",
    "private": "kubernetes.io/role/internal-elb",
}


def validate_log_retention(days: int, where: str = "log_retention_days") -> int:
    if days not in LOG_RETENTION_DAYS:
        raise refuse(where, days, f"one of CloudWatch's retention values: {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return days


@documented
@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    context: AwsContext
    """Region and account."""
    cidr: str
    """Private (RFC 1918) VPC range, /16 to /22."""
    az_count: int = 3
    """AZs used, 2..6: the first `az_count` of `availability_zone_ids` (or `availability_zones`), else of
    the region's available AZs. Default: 3."""
    nat: NatStrategy = "per_az"
    """Private-subnet egress: `none`, one `single` NAT gateway, or `per_az` (survives an AZ loss).
    Default: per_az."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production keeps flow logs on and the VPC and subnets protected. Default: production."""
    flow_logs: bool = True
    """Log all VPC traffic to CloudWatch. Default: on; off is refused in production."""
    log_retention_days: int = 365
    """Flow log retention. Default: 365 days."""
    log_key_arn: pulumi.Input[str] | None = None
    """KMS key for the flow log group (its policy must let CloudWatch Logs use it). Default: AWS-owned key."""
    protect: bool | None = None
    """Protect the VPC and subnets against deletion. Default: inherit the options given to the
    component; forced on in production, where False is refused."""
    interface_endpoints: Sequence[str] = ()
    """AWS services reached through interface endpoints from the private subnets, e.g. `("ecr.api",
    "ecr.dkr", "sts")`: what hosts and nodes need when there is no NAT (`NODE_ENDPOINTS`,
    `FLEET_ENDPOINTS`). Default: none."""
    availability_zone_ids: Sequence[str] | None = None
    """AZ ids to place the subnets in, in order (`euw3-az1`: the same zone in every account, where names
    are mapped per account): subnet i of each tier is in the i-th id. Pin them so that a change in the
    region's list never moves a subnet; append to add an AZ. Checked against the AZs the region offers
    this account before any resource. Default: the ids of the first `az_count` available AZs."""
    availability_zones: Sequence[str] | None = None
    """AZ names to use instead of ids, in order (names differ between accounts). Default: none."""
    offered_zone_ids: Sequence[str] | None = None
    """The AZ ids the region offers this account, when the caller looked them up already
    (`offered_zone_ids`) to check its own settings: the component then makes no lookup of its own.
    Default: looked up once, before any resource."""
    s3_endpoint_extra_reads: Sequence[str] = ()
    """More object ARNs (`arn:aws:s3:::bucket/*`) the private subnets may read through the S3 gateway
    endpoint, beyond this account's buckets and `artifact_bucket_objects`: a registry whose storage is
    in this region (quay.io's in us-east-1, say). Default: none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        tier = parse_tier(self.tier)
        object.__setattr__(self, "tier", tier)  # a tier given by name is stored as a Tier
        resolve_protect(tier, self.protect)
        require_in_production(tier, self.flow_logs, "flow_logs", self.flow_logs, "VPC flow logs stay on")
        for i, service in enumerate(self.interface_endpoints):
            if not isinstance(service, str) or not _SERVICE.match(service):
                raise refuse(f"interface_endpoints[{i}]", service, "an endpoint service suffix such as ecr.api or sts")
        if len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise refuse("interface_endpoints", list(self.interface_endpoints), "each service once")
        if self.availability_zone_ids is not None:
            if self.availability_zones is not None:
                raise refuse(
                    "availability_zones",
                    list(self.availability_zones),
                    "unset while availability_zone_ids is given: a subnet takes an AZ id or a name, not both",
                )
            ids = validate_az_ids(self.availability_zone_ids, self.context.region, self.az_count)
            object.__setattr__(self, "availability_zone_ids", ids)
        if self.availability_zones is not None and len(self.availability_zones) < self.az_count:
            raise refuse(
                "availability_zones",
                list(self.availability_zones),
                f"at least az_count ({self.az_count}) AZ names",
            )
        if self.nat not in NAT_STRATEGIES:
            raise refuse("nat", self.nat, f"one of {', '.join(NAT_STRATEGIES)}")
        validate_log_retention(self.log_retention_days)
        for i, arn in enumerate(self.s3_endpoint_extra_reads):
            if not isinstance(arn, str) or not _S3_OBJECTS.match(arn):
                raise refuse(
                    f"s3_endpoint_extra_reads[{i}]", arn, "objects of one named bucket, such as arn:aws:s3:::bucket/*"
                )

    @property
    def plan(self) -> AddressPlan:
        return plan_addresses(self.cidr, self.az_count)


def _aws_provider(opts: pulumi.ResourceOptions | None) -> pulumi.ProviderResource | None:
    """The AWS provider the component's children would use: `provider`, else the `aws` one of `providers`.

    Without either the invoke names the parent, whose providers the engine applies to it.
    """
    if opts is None:
        return None
    if opts.provider is not None:
        return opts.provider
    providers = opts.providers
    found = providers.values() if isinstance(providers, Mapping) else (providers or [])
    return next((p for p in found if getattr(p, "package", None) == "aws"), None)


def invoke_options(opts: pulumi.ResourceOptions | None) -> pulumi.InvokeOptions:
    """Options of an invoke made for a component: its AWS provider (as `_aws_provider` finds it) and parent."""
    return pulumi.InvokeOptions(provider=_aws_provider(opts), parent=opts.parent if opts else None)


def offered_zone_ids(opts: pulumi.InvokeOptions | None = None) -> list[str]:
    """The AZ ids of every AZ of the region this account has, whatever its state (a blocking invoke).

    Not only the `available` ones: a pinned zone that is impaired for a while is still the stack's zone.
    """
    found = aws.get_availability_zones(
        filters=[aws.GetAvailabilityZonesFilterArgs(name="zone-type", values=["availability-zone"])], opts=opts
    )
    return list(found.zone_ids or [])


def subnet_name(network: str, tier: SubnetTier, az_index: int) -> str:
    """The resource name and `Name` tag of subnet `az_index` of `tier` in the network `network`."""
    return f"{network}-{tier}-{az_index}"


def deployed_zone_ids(
    network: str, scope: Mapping[str, str], opts: pulumi.InvokeOptions | None = None
) -> dict[int, str]:
    """The AZ id of each AZ index the network `network` has subnets in now (blocking invokes).

    Read from its private subnets (`subnet_name`, with the tags `scope` that tell this stack's from
    another's): subnet i of every tier is in the same AZ. One listing, then one lookup per subnet.
    """
    names = [subnet_name(network, "private", i) for i in range(MAX_AZS)]
    found = aws.ec2.get_subnets(
        tags=dict(scope), filters=[aws.ec2.GetSubnetsFilterArgs(name="tag:Name", values=names)], opts=opts
    )
    zones: dict[int, str] = {}
    for subnet_id in sorted(found.ids or []):
        subnet = aws.ec2.get_subnet(id=subnet_id, opts=opts)
        zones[names.index(subnet.tags["Name"])] = subnet.availability_zone_id
    return zones


class _Placement(NamedTuple):
    """Where one AZ index goes: an AZ id, or the AZ name the caller pinned instead."""

    zone_id: str | None = None
    zone_name: str | None = None


def _placements(args: NetworkArgs, opts: pulumi.ResourceOptions | None) -> list[_Placement]:
    if args.availability_zones is not None:
        return [_Placement(zone_name=n) for n in args.availability_zones[: args.az_count]]
    if args.availability_zone_ids is not None:
        ids = list(args.availability_zone_ids)
        offered = args.offered_zone_ids
        if offered is None:
            # A blocking invoke: an id this account does not have fails here, not at CreateSubnet.
            offered = offered_zone_ids(invoke_options(opts))
        check_az_ids_offered(ids, offered, args.context.region, "availability_zone_ids")
        return [_Placement(zone_id=i) for i in ids[: args.az_count]]
    # A blocking invoke: the count is known before any resource, so a short region fails cleanly.
    found = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=invoke_options(opts),
    )
    zones = list(found.zone_ids or [])
    if len(zones) < args.az_count:
        raise refuse(
            "az_count", args.az_count, f"at most the {len(zones)} available AZs of {args.context.region}: {zones}"
        )
    return [_Placement(zone_id=i) for i in zones[: args.az_count]]


def ready_id(subnet: aws.ec2.Subnet, needs: Sequence[pulumi.CustomResource]) -> pulumi.Output[str]:
    """The subnet's id, known only once `needs` (its association and default route) exist."""
    ids: pulumi.Output[str] = pulumi.Output.all(subnet.id, *(r.id for r in needs)).apply(lambda v: str(v[0]))
    return ids


class Network(Component):
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    subnet_ids: dict[SubnetTier, list[pulumi.Output[str]]]
    route_table_ids: dict[SubnetTier, list[pulumi.Output[str]]]
    routed_subnet_ids: dict[SubnetTier, list[pulumi.Output[str]]]
    """The same ids, known only once each subnet's association and default route (and, without NAT, the
    interface endpoints) exist: give these to what launches hosts or internet-facing load balancers."""
    nat_gateway_ids: list[pulumi.Output[str]]
    internet_gateway_id: pulumi.Output[str]
    flow_log_group_name: pulumi.Output[str] | None
    plan: AddressPlan

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        plan = args.plan  # validates CIDR and AZ count before anything is registered
        # Unknown AZ ids, or a region with too few AZs, are refused before anything registers.
        placements = _placements(args, opts)
        super().__init__("hardstack:network:Network", name, opts)
        child = self.child()
        kept = self.kept(resolve_protect(args.tier, args.protect))
        tags = {**args.context.tags, **args.tags}

        def tagged(suffix: str, **extra: str) -> dict[str, str]:
            return {**tags, "Name": f"{name}-{suffix}", **extra}

        vpc = aws.ec2.Vpc(
            name,
            cidr_block=plan.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={**tags, "Name": name},
            opts=kept,
        )
        # Take over the default group and leave it empty: nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, tags=tagged("default-sg"), opts=child)

        subnets: dict[SubnetTier, list[aws.ec2.Subnet]] = {"public": [], "private": [], "isolated": []}
        for s in plan.subnets:
            role = {_ELB_ROLE_TAG[s.tier]: "1"} if s.tier in _ELB_ROLE_TAG else {}
            subnet = subnet_name(name, s.tier, s.az_index)  # also its Name tag, which `deployed_zone_ids` reads
            subnets[s.tier].append(
                aws.ec2.Subnet(
                    subnet,
                    vpc_id=vpc.id,
                    cidr_block=s.cidr,
                    # By AZ id: ForceNew like the name, and the same zone whichever account runs it.
                    # Both are optional and computed: a subnet created by name keeps its state's name
                    # and matches its state's id, so moving to the id replaces it only for another zone.
                    availability_zone_id=placements[s.az_index].zone_id,
                    availability_zone=placements[s.az_index].zone_name,
                    # Public subnets hold load balancers and NAT gateways, which get their
                    # addresses explicitly; nothing launched there gets a public IP by default.
                    map_public_ip_on_launch=False,
                    tags={**tags, "Name": subnet, "Tier": s.tier, **role},
                    opts=kept,
                )
            )

        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tagged("igw"), opts=child)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags=tagged("public"), opts=child)
        public_route = aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        # What a subnet's users need before they start, beyond the subnet itself: its association and
        # its default route. The ids handed out carry them, so every consumer waits (see `ready_ids`).
        ready: dict[SubnetTier, list[list[pulumi.CustomResource]]] = {"public": [], "private": [], "isolated": []}
        for i, subnet in enumerate(subnets["public"]):
            assoc = aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
            # An internet-facing ALB is refused in a VPC whose subnets have no internet gateway route.
            ready["public"].append([assoc, public_route])

        nat_count = {"none": 0, "single": 1, "per_az": args.az_count}[args.nat]
        nats = []
        for i in range(nat_count):
            # Kept with the VPC: partners allow-list the NAT addresses, a new one is a new address.
            eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags=tagged(f"nat-{i}"), opts=kept)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=subnets["public"][i].id,
                    connectivity_type="public",
                    tags=tagged(f"nat-{i}"),
                    # A public NAT gateway only works once the VPC has its internet gateway.
                    opts=self.child(depends_on=[igw]),
                )
            )

        route_tables: dict[SubnetTier, list[aws.ec2.RouteTable]] = {
            "public": [public_rt],
            "private": [],
            "isolated": [],
        }
        for tier in ("private", "isolated"):
            for i, subnet in enumerate(subnets[tier]):
                rt = aws.ec2.RouteTable(f"{name}-{tier}-{i}", vpc_id=vpc.id, tags=tagged(f"{tier}-{i}"), opts=child)
                route_tables[tier].append(rt)
                assoc = aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-{i}", subnet_id=subnet.id, route_table_id=rt.id, opts=child
                )
                ready[tier].append([assoc])
                if tier == "private" and nats:
                    # Hosts boot once: cloud-init that runs before this route exists never gets its agents.
                    ready[tier][-1].append(
                        aws.ec2.Route(
                            f"{name}-private-{i}-default",
                            route_table_id=rt.id,
                            destination_cidr_block="0.0.0.0/0",
                            nat_gateway_id=nats[i % len(nats)].id,  # per_az: same-AZ NAT
                            opts=child,
                        )
                    )
                # Isolated tables get no default route: data tiers never reach the internet.

        # S3 without the internet for the private subnets. Not on the isolated tables: the data tier has
        # no route out, to S3 neither (RDS reaches S3 for snapshots on AWS's side, not through the VPC).
        s3 = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.context.region}.s3",
            vpc_endpoint_type="Gateway",
            policy=s3_endpoint_policy(args.context, args.s3_endpoint_extra_reads),
            route_table_ids=[rt.id for rt in route_tables["private"]],
            tags=tagged("s3"),
            opts=child,
        )
        endpoints = self._interface_endpoints(name, args, plan.vpc_cidr, vpc, subnets["private"], tagged)
        # Hosts install packages at boot from Amazon Linux's S3 repositories: without NAT only the
        # gateway endpoint's route reaches them, so hosts wait for it like for their default route.
        ready["private"] = [[*deps, s3, *endpoints] for deps in ready["private"]]

        self.flow_log_group_name = self._flow_logs(name, args, vpc, tagged("flow-logs")) if args.flow_logs else None

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.plan = plan
        self.subnet_ids = {tier: [s.id for s in subnets[tier]] for tier in subnets}
        self.routed_subnet_ids = {
            tier: [ready_id(s, deps) for s, deps in zip(subnets[tier], ready[tier], strict=True)] for tier in subnets
        }
        self.route_table_ids = {tier: [rt.id for rt in route_tables[tier]] for tier in route_tables}
        self.nat_gateway_ids = [nat.id for nat in nats]
        self.internet_gateway_id = igw.id
        self.register_outputs(
            {
                "nat_gateway_ids": self.nat_gateway_ids,
                "internet_gateway_id": self.internet_gateway_id,
                "flow_log_group_name": self.flow_log_group_name,
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "subnet_ids": self.subnet_ids,
                "route_table_ids": self.route_table_ids,
                "address_plan": plan.as_dict(),
            }
        )

    def _interface_endpoints(
        self,
        name: str,
        args: NetworkArgs,
        vpc_cidr: str,
        vpc: aws.ec2.Vpc,
        private: Sequence[aws.ec2.Subnet],
        tagged: Callable[..., dict[str, str]],
    ) -> list[pulumi.CustomResource]:
        """Interface endpoints in the private subnets, reachable on 443 from the VPC only."""
        if not args.interface_endpoints:
            return []
        group = SecurityGroup(
            f"{name}-endpoints",
            SecurityGroupArgs(
                vpc_id=vpc.id,
                description="interface endpoints: HTTPS from the VPC",
                ingress=[Flow(Port.HTTPS, Peer.cidr(vpc_cidr), "HTTPS from the VPC to AWS APIs")],
                tags=args.tags,
            ),
            self.child(),
        )
        return [
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.context.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,  # the SDKs' default endpoint names resolve to the endpoint
                subnet_ids=[s.id for s in private],
                security_group_ids=[group.id],
                tags=tagged(service),
                opts=self.child(),
            )
            for service in args.interface_endpoints
        ]

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, tags: dict[str, str]) -> pulumi.Output[str]:
        child = self.child()
        ctx = args.context
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=ctx.names.path(name, "vpc-flow-logs"),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=tags,
            opts=self.kept(resolve_protect(args.tier, args.protect)),  # the traffic record outlives the stack
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            **ctx.role_args(),
            description=f"VPC flow logs of {name} write to their log group",
            assume_role_policy=service_assume_role_policy(
                "vpc-flow-logs.amazonaws.com",
                source_account=ctx.account_id,
                source_arn=ctx.arn("ec2", "vpc-flow-log/*"),
            ),
            tags=tags,
            opts=child,
        )
        # Least privilege: write to this one group only.
        role_policy = aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Sid": "WriteFlowLogs",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": pulumi.Output.concat(group.arn, ":*"),
                    }
                ]
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            # CreateFlowLogs checks that the role may write to the group: its policy must exist first.
            opts=self.child(depends_on=[role_policy]),
        )
        name_out: pulumi.Output[str] = group.name
        return name_out
