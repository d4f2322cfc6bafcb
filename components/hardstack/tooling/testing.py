"""Run a Pulumi program on the mock runtime and record what it registers: the harness to test your
own programs that use hardstack components, with no cloud account and no Pulumi CLI.

`run_program(program, ...)` runs a no-argument callable (what your `__main__.py` does) and returns
a `Recording` of every resource it registered, with its inputs and the options the engine would
see, the invokes it made and what it exported. It takes the stack's config (`Secret(...)` marks a
value set with `--secret`), the outputs of the stacks a `pulumi.StackReference` reads
(`stack_outputs`) and `preview=True` for a dry run. Transforms run as the engine runs them: a
resource's own `transforms`, then its parents', then the stack's (`register_resource_transform`),
and invoke transforms on invokes.

Nothing here talks to a cloud: invokes answer from `HardstackMocks` (subclass it to answer more),
resources echo their inputs plus the computed attributes programs read (`id`, `arn`, `name`).
The public names are those in `__all__`, also exported by `hardstack.tooling`.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import inspect
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc  # type: ignore[import-untyped]  # grpcio ships no type hints
import pulumi

# The one SDK name the harness takes from outside the public `pulumi.runtime` API: the mock monitor,
# subclassed to see each registration's options (parent, protect, dependencies, aliases...), which
# the public `Mocks.new_resource` is not given. `pulumi.runtime.set_mocks(monitor=...)` accepts it;
# no public alias exists. Checked against pulumi 3.261.0 (the floor) and 3.272.0.
from pulumi.runtime.mocks import MockMonitor

from hardstack.core.zones import az_id_prefix

__all__ = [
    "MOCK_ACCOUNT",
    "HardstackMocks",
    "MockNodeGroup",
    "MockSubnet",
    "MockVolume",
    "ProviderError",
    "RecordedInvoke",
    "RecordedResource",
    "Recording",
    "Secret",
    "is_secret",
    "is_unknown",
    "mock_id",
    "run_program",
    "unsecret",
]

#: The account id of every mock ARN and of the caller identity the mocks answer.
MOCK_ACCOUNT = "123456789012"


@dataclass
class RecordedResource:
    """One registration, with the options the engine would see (after transforms)."""

    type: str
    """The Pulumi type token (`aws:ec2/vpc:Vpc`, `hardstack:network:Network`)."""
    name: str
    """The logical name the program gave."""
    urn: str
    inputs: dict[str, Any]
    """Inputs by their engine (camelCase) names, after transforms, plus what the mocks computed
    (`computed`). In a preview, values the program built from unknown outputs are unknown."""
    custom: bool
    """True for a provider's resource, False for a component."""
    parent: str
    """The parent's URN."""
    dependencies: list[str]
    protect: bool
    ignore_changes: list[str]
    retain_on_delete: bool
    delete_before_replace: bool
    replace_on_changes: list[str]
    provider: str
    """The provider reference (`<urn>::<id>`); empty for the default provider."""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Input property -> URNs of the resources whose outputs it was built from (as the engine is told)."""
    aliases: list[str] = field(default_factory=list)
    """URNs the resource was known by before (its `aliases` option): the engine adopts their state."""
    computed: list[str] = field(default_factory=list)
    """Keys of `inputs` the mocks computed (ids, ARNs, auto-names) rather than the program gave."""

    @property
    def secret_inputs(self) -> list[str]:
        """Keys of `inputs` whose value is, or holds, a secret (`is_secret`)."""
        return sorted(key for key, value in self.inputs.items() if is_secret(value))

    @property
    def is_component(self) -> bool:
        """True for a component resource."""
        return not self.custom


@dataclass
class RecordedInvoke:
    """One provider function call (`aws.get_region()` is `aws:index/getRegion:getRegion`)."""

    token: str
    args: dict[str, Any]
    """Arguments by their engine names, after invoke transforms."""


@dataclass
class Recording:
    """What a program registered, with simple queries for tests."""

    resources: list[RecordedResource] = field(default_factory=list)
    """Every registration but the stack's own, in order."""
    invokes: list[RecordedInvoke] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """The stack's exports (`pulumi.export`), resolved."""
    secret_outputs: set[str] = field(default_factory=set)
    """Names of the exports that are secrets."""

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, type_: str) -> list[RecordedResource]:
        """Every resource of a type token."""
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> RecordedResource:
        """The one resource of that logical name, whatever its type; LookupError otherwise."""
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def one(self, type_: str, name: str | None = None) -> RecordedResource:
        """The one resource of a type (and name); LookupError, listing the names found, otherwise."""
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource | None:
        """The resource of that URN, or None."""
        return next((r for r in self.resources if r.urn == urn), None)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        """The resources whose parent is `parent`."""
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants_of(self, parent: RecordedResource) -> list[RecordedResource]:
        """Children, their children and so on, depth first."""
        out: list[RecordedResource] = []
        for child in self.children_of(parent):
            out += [child, *self.descendants_of(child)]
        return out

    def component_of(self, resource: RecordedResource) -> RecordedResource | None:
        """The nearest enclosing component resource, if any."""
        parent = self.by_urn(resource.parent)
        while parent is not None and parent.custom:
            parent = self.by_urn(parent.parent)
        return parent

    def protected(self) -> list[RecordedResource]:
        """The resources with `protect` set."""
        return [r for r in self.resources if r.protect]

    def type_counts(self) -> Counter[str]:
        """How many custom resources of each type."""
        return Counter(r.type for r in self.resources if r.custom)


def _computed(typ: str, name: str, region: str) -> dict[str, Any]:
    """Attributes the provider computes that programs read, per resource type."""
    suffix = f"app/{name}/0123456789abcdef"
    computed: dict[str, dict[str, Any]] = {
        "aws:s3/bucket:Bucket": {"bucket": f"{name}-0a1b2c3", "bucketRegionalDomainName": f"{name}.s3.amazonaws.com"},
        "aws:lb/loadBalancer:LoadBalancer": {
            "dnsName": f"{name}-1234567890.{region}.elb.amazonaws.com",
            "arnSuffix": suffix,
            "zoneId": "Z3Q77PNBQS71R4",
        },
        "aws:lb/targetGroup:TargetGroup": {"arnSuffix": f"targetgroup/{name}/0123456789abcdef"},
        "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1},
        "aws:kms/key:Key": {"keyId": f"{name}-key-id"},
        "aws:ec2/eip:Eip": {"allocationId": f"eipalloc-{name}"},
        "aws:eks/cluster:Cluster": {
            "endpoint": f"https://0123456789ABCDEF.gr7.{region}.eks.amazonaws.com",
            "certificateAuthority": {"data": "Q0EtREFUQQ=="},
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/0123456789ABCDEF"}]}],
        },
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": {
            "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/0123456789ABCDEF"
        },
        "random:index/randomPassword:RandomPassword": {"result": f"mock-password-{name}"},
        "random:index/randomId:RandomId": {"hex": "0a1b2c3d", "b64Url": "CgssPQ", "dec": "169552957"},
        "aws:rds/instance:Instance": {
            "address": f"{name}.abcdefghijkl.{region}.rds.amazonaws.com",
            "endpoint": f"{name}.abcdefghijkl.{region}.rds.amazonaws.com:5432",
            "resourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "masterUserSecrets": [
                {
                    "secretArn": f"arn:aws:secretsmanager:{region}:{MOCK_ACCOUNT}:secret:rds!db-{name}",
                    "kmsKeyId": "k",
                    "secretStatus": "active",
                }
            ],
        },
    }
    return computed.get(typ, {})


#: The id prefixes AWS uses for the EC2 types whose ids programs pass around most.
_ID_PREFIXES: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/eip:Eip": "eipalloc",
}


def mock_id(type_: str, name: str) -> str:
    """The id the mocks give a resource: unique per type and name, as real ids are per resource.

    `<prefix>-<name>`, the prefix AWS's own for common EC2 types (`sg-web`, `subnet-net-public-0`),
    else the module and type (`iam-role-main-monitoring`): a subnet and a route table of one name
    never share an id, so a plan never mistakes one for the other.
    """
    if type_ in _ID_PREFIXES:
        return f"{_ID_PREFIXES[type_]}-{name}"
    _, _, rest = type_.partition(":")
    module, _, kind = rest.partition(":")
    module = module.split("/", 1)[0]
    return f"{module}-{kind}-{name}".lower() if kind else f"{type_}-{name}"


class HardstackMocks(pulumi.runtime.Mocks):
    """The harness's default mocks: deterministic answers, no cloud.

    Resources echo their inputs, with an id (`mock_id`) and an ARN derived from their type and name
    in the account `MOCK_ACCOUNT`, plus the attributes providers compute that programs read (a load
    balancer's DNS name, a database's endpoint, a cluster's OIDC issuer). Invokes hardstack makes
    answer: region, AZs `<region>a..f`, caller identity, partition, secret versions, the RDS
    instances in `databases`, the EKS clusters in `clusters` and their `node_groups`, the EBS volumes
    in `volumes` (`MockVolume`), the subnets in `subnets` (`MockSubnet`) and the RDS snapshots in
    `snapshots`; any other returns an empty result.
    Subclass it and override `new_resource` or `call` to answer more, calling `super()` for the rest.
    """

    def __init__(
        self,
        region: str = "eu-west-3",
        databases: Mapping[str, str] | None = None,
        clusters: Mapping[str, str] | None = None,
        node_groups: Mapping[str, Mapping[str, str | MockNodeGroup]] | None = None,
        volumes: Sequence[MockVolume] = (),
        snapshots: Mapping[str, tuple[int, str]] | None = None,
        subnets: Sequence[MockSubnet] = (),
    ) -> None:
        self.region = region
        self.snapshots = None if snapshots is None else dict(snapshots)
        """RDS snapshots a restore can read: identifier or ARN -> (allocated GiB, engine version). Default:
        any snapshot exists, 20 GiB of PostgreSQL 16.6; given, only these (another is not found, as in AWS)."""
        self.databases = dict(databases or {})
        """RDS instances the account already runs: identifier -> engine version (none by default,
        a first `up`). A program's day-2 checks read them, such as the running PostgreSQL version."""
        self.clusters = dict(clusters or {})
        """EKS clusters the region already runs: name -> Kubernetes version such as "1.33" (none by
        default, a first `up`), read by the check that a new cluster version is the next minor."""
        self.node_groups = {
            c: {n: g if isinstance(g, MockNodeGroup) else MockNodeGroup(g) for n, g in groups.items()}
            for c, groups in (node_groups or {}).items()
        }
        """Managed node groups of those clusters: cluster name -> node group name -> `MockNodeGroup` (or
        its Kubernetes version alone; none by default), read by the check that an upgrade leaves no
        node group behind and for the sizes a change of node bounds sends."""
        self.subnets = list(subnets)
        """Subnets the account already has (none by default, a first `up`), as the subnet lookups see
        them: a program's day-2 checks read them, such as the AZ ids a deployed network's subnets are in."""
        self.volumes = list(volumes)
        """EBS volumes the account already has (none by default, a first `up`), as the EBS volume
        lookups see them: a program's day-2 checks read them, such as the Prometheus volume's size."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if not args.custom:
            return None, state
        service = args.typ.split(":")[1].split("/")[0] if ":" in args.typ else "mock"
        rid = mock_id(args.typ, args.name)
        state.setdefault(
            "arn", f"arn:aws:{service}:{self.region}:{MOCK_ACCOUNT}:{args.typ.rsplit(':', 1)[-1]}/{args.name}"
        )
        # RDS names its endpoint after the instance identifier when one is given.
        computed_name = str(args.inputs.get("identifier") or args.name)
        for key, value in _computed(args.typ, computed_name, self.region).items():
            state.setdefault(key, value)
        if args.typ == "aws:ec2/subnet:Subnet":
            # EC2 reports both the zone's name and its id, whichever one the subnet was created with:
            # the provider stores both, so moving from one argument to the other changes nothing.
            state.update(self._zone_of(args.inputs))
        if args.typ == "aws:eks/cluster:Cluster":
            # Computed inside an input block: merged, not defaulted.
            state["vpcConfig"] = {**(state.get("vpcConfig") or {}), "clusterSecurityGroupId": "sg-cluster"}
        state.setdefault("name", args.name)
        state.setdefault("id", rid)
        return rid, state

    def _zones(self) -> list[tuple[str, str]]:
        """The mock region's six zones, (name, id), name i <-> id i as the provider returns them."""
        prefix = az_id_prefix(self.region) or self.region
        return [(f"{self.region}{s}", f"{prefix}-az{i}") for i, s in enumerate("abcdef", start=1)]

    def _zone_of(self, inputs: Mapping[str, Any]) -> dict[str, str]:
        for name, zone_id in self._zones():
            if inputs.get("availabilityZone") == name or inputs.get("availabilityZoneId") == zone_id:
                return {"availabilityZone": name, "availabilityZoneId": zone_id}
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        token: str = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # Six zones of the mock's region, sorted by name as the provider returns them.
            zones = self._zones()
            return {"names": [n for n, _ in zones], "zoneIds": [i for _, i in zones], "id": self.region}, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": MOCK_ACCOUNT,
                "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/preview",
                "userId": "AIDPREVIEW",
                "id": MOCK_ACCOUNT,
            }, []
        if token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}, []
        if token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            secret = json.dumps({"username": "app_owner", "password": "mock-password"})
            return {"arn": args.args["secretId"], "id": args.args["secretId"], "secretString": secret}, []
        if token == "aws:rds/getSnapshot:getSnapshot":
            snapshot_id = str(args.args["dbSnapshotIdentifier"])
            if self.snapshots is not None and snapshot_id not in self.snapshots:
                raise ProviderError(f"DBSnapshotNotFound: DBSnapshot {snapshot_id} not found.")
            size, version = (self.snapshots or {}).get(snapshot_id, (20, "16.6"))
            return {
                "allocatedStorage": size,
                "engineVersion": version,
                "engine": "postgres",
                "dbSnapshotIdentifier": snapshot_id,
                "id": snapshot_id,
            }, []
        if token == "aws:rds/getInstances:getInstances":
            wanted = {
                v for f in args.args.get("filters") or [] if f.get("name") == "db-instance-id" for v in f["values"]
            }
            names = sorted(i for i in self.databases if not wanted or i in wanted)
            arns = [f"arn:aws:rds:{self.region}:{MOCK_ACCOUNT}:db:{i}" for i in names]
            return {"instanceIdentifiers": names, "instanceArns": arns, "id": self.region}, []
        if token == "aws:rds/getInstance:getInstance":
            identifier = str(args.args["dbInstanceIdentifier"])
            version = self.databases[identifier]
            return {
                "dbInstanceIdentifier": identifier,
                "engine": "postgres",
                "engineVersion": version,
                "id": identifier,
            }, []
        if token == "aws:eks/getClusters:getClusters":
            return {"names": sorted(self.clusters), "id": self.region}, []
        if token == "aws:eks/getCluster:getCluster":
            name = str(args.args["name"])
            return {"name": name, "version": self.clusters[name], "status": "ACTIVE", "id": name}, []
        if token == "aws:eks/getNodeGroups:getNodeGroups":
            cluster = str(args.args["clusterName"])
            return {"clusterName": cluster, "names": sorted(self.node_groups.get(cluster, {})), "id": cluster}, []
        if token == "aws:eks/getNodeGroup:getNodeGroup":
            cluster, group = str(args.args["clusterName"]), str(args.args["nodeGroupName"])
            running = self.node_groups[cluster][group]
            sizes = {"minSize": running.min_size, "maxSize": running.max_size, "desiredSize": running.desired_size}
            return {
                "clusterName": cluster,
                "nodeGroupName": group,
                "version": running.version,
                "scalingConfigs": [sizes],
                "labels": dict(running.labels),
                "status": "ACTIVE",
                "id": f"{cluster}:{group}",
            }, []
        if token == "aws:ebs/getEbsVolumes:getEbsVolumes":
            ids = [v.volume_id for v in self._volumes(args.args)]
            return {"ids": ids, "id": self.region}, []
        if token == "aws:ebs/getVolume:getVolume":
            found = self._volumes(args.args)
            if not found or (len(found) > 1 and not args.args.get("mostRecent")):
                # What the provider answers when the filters match no volume, or several without most_recent.
                raise Exception("Your query returned no results. Please change your search criteria and try again.")
            volume = max(found, key=lambda v: v.created)
            return {
                "volumeId": volume.volume_id,
                "size": volume.size_gb,
                "tags": dict(volume.tags),
                "createTime": volume.created,
                "arn": f"arn:aws:ec2:{self.region}:{MOCK_ACCOUNT}:volume/{volume.volume_id}",
                "id": volume.volume_id,
            }, []
        if token == "aws:ec2/getSubnets:getSubnets":
            return {"ids": [n.subnet_id for n in self._subnets(args.args)], "id": self.region}, []
        if token == "aws:ec2/getSubnet:getSubnet":
            matched = self._subnets(args.args)
            if len(matched) != 1:
                raise Exception("no matching EC2 Subnet found" if not matched else "multiple EC2 Subnets matched")
            (subnet,) = matched
            zone = {i: n for n, i in self._zones()}.get(subnet.zone_id)
            return {
                "id": subnet.subnet_id,
                "availabilityZoneId": subnet.zone_id,
                "availabilityZone": zone,
                "tags": dict(subnet.tags),
                "arn": f"arn:aws:ec2:{self.region}:{MOCK_ACCOUNT}:subnet/{subnet.subnet_id}",
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        return {}, []

    def _subnets(self, args: Mapping[str, Any]) -> list[MockSubnet]:
        """The subnets a subnet lookup matches: `id`, every given tag and each `tag:<key>` filter's values."""
        wanted_tags: Mapping[str, str] = args.get("tags") or {}
        filters = [f for f in args.get("filters") or [] if str(f.get("name", "")).startswith("tag:")]
        return [
            n
            for n in self.subnets
            if (not args.get("id") or n.subnet_id == args["id"])
            and all(n.tags.get(k) == value for k, value in wanted_tags.items())
            and all(n.tags.get(f["name"][4:]) in f["values"] for f in filters)
        ]

    def _volumes(self, args: Mapping[str, Any]) -> list[MockVolume]:
        """The volumes an EBS lookup matches: every given tag, and the `volume-id` filter's values."""
        wanted_tags: Mapping[str, str] = args.get("tags") or {}
        ids = {v for f in args.get("filters") or [] if f.get("name") == "volume-id" for v in f["values"]}
        return [
            v
            for v in self.volumes
            if all(v.tags.get(k) == value for k, value in wanted_tags.items()) and (not ids or v.volume_id in ids)
        ]


class ProviderError(grpc.RpcError):  # type: ignore[misc]  # grpc is untyped
    """A provider function's failure as it reaches the program: a gRPC error carrying the provider's
    message (raise it from `call`, as a not-found lookup does)."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


@dataclass(frozen=True)
class MockNodeGroup:
    """A managed node group the mocked cluster runs: what the node group lookups answer."""

    version: str
    """Its Kubernetes version, such as "1.33"."""
    min_size: int = 1
    max_size: int = 3
    desired_size: int = 2
    labels: Mapping[str, str] = field(default_factory=dict)
    """Its Kubernetes labels: hardstack's groups carry `hardstack/node-group: <spec name>`."""


@dataclass(frozen=True)
class MockSubnet:
    """A subnet the mocked account holds: what the subnet lookups answer."""

    subnet_id: str
    zone_id: str
    """Its AZ id, such as euw3-az1 (the zone name follows from the mock's region)."""
    tags: Mapping[str, str]


@dataclass(frozen=True)
class MockVolume:
    """An EBS volume the mocked account holds: what EBS volume lookups answer."""

    volume_id: str
    size_gb: int
    tags: Mapping[str, str]
    created: str = "2026-01-01T00:00:00Z"
    """Creation time, RFC 3339: `most_recent` lookups take the latest."""


STACK_REFERENCE = "pulumi:pulumi:StackReference"


@dataclass(frozen=True, repr=False)
class Secret:
    """A config value or stack output that arrives as a secret, as if set with `--secret`.

    In `config`, the key is one of the stack's secret keys (`pulumi.runtime.is_config_secret`), as
    `pulumi config set --secret` makes it; a `Secret` inside a structured value (`--path`) makes
    its whole top-level key secret, as Pulumi does. In `stack_outputs`, the output is one of the
    referenced stack's secret outputs: `StackReference.get_output` returns it as a secret Output.
    """

    value: Any

    def __repr__(self) -> str:
        return "Secret([secret])"  # a failing test's message never prints the value


def _plain(value: Any) -> tuple[Any, bool]:
    """`value` without its `Secret` markers, and whether it held one at any depth."""
    if isinstance(value, Secret):
        return _plain(value.value)[0], True
    if isinstance(value, Mapping):
        pairs = {k: _plain(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list | tuple):
        items = [_plain(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def is_secret(value: Any) -> bool:
    """Whether a recorded value is, or holds, a secret: what the engine gets marked secret (and keeps
    encrypted in the state). Recorded inputs keep that mark; `unsecret` removes it."""
    return _anywhere(value, pulumi.runtime.rpc.is_rpc_secret)


def unsecret(value: Any) -> Any:
    """A recorded value with its secret marks removed, at any depth, to assert on what it holds."""
    value = pulumi.runtime.rpc.unwrap_rpc_secret(value)
    if isinstance(value, Mapping):
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unsecret(v) for v in value]
    return value


def is_unknown(value: Any) -> bool:
    """Whether a recorded value is, or holds, a value a preview does not know yet (`preview=True`)."""
    return _anywhere(value, lambda v: isinstance(v, pulumi.output.Unknown))


def _anywhere(value: Any, found: Callable[[Any], bool]) -> bool:
    """Whether `found` holds for `value` or for anything inside it."""
    if found(value):
        return True
    if isinstance(value, Mapping):
        return any(_anywhere(v, found) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_anywhere(v, found) for v in value)
    return False


def _run_transform(transform: Any, args: Any, field: str) -> Any:
    """Run a transform as the SDK's callback server does: inside an event loop (a transform may
    make Outputs, `Output.secret`), awaiting it, and with what it returns in `field` (`props` or
    `args`) serialised and read back, so an Output or a secret arrives as the engine gets it."""

    async def run() -> Any:
        result = transform(args)
        if inspect.isawaitable(result):
            result = await result
        if result is not None:
            wire = await pulumi.runtime.rpc.serialize_properties(dict(getattr(result, field)), {})
            setattr(result, field, pulumi.runtime.rpc.deserialize_properties(wire))
        return result

    # The monitor runs on an executor thread, outside the program's event loop.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


class _Engine(pulumi.runtime.Mocks):
    """What the engine does around the providers, which the SDK's mock monitor leaves out.

    - Resource transforms, as the engine runs them: a resource's own, then its parent's, up to the
      stack's (the monitor tells us the parent of the registration in progress); invoke transforms
      on invokes.
    - StackReferences answered from `stack_outputs`.
    - Preview: nothing is created, so a custom resource keeps only the inputs the program gave; its
      id and computed attributes are unknown, as in the preview of a first deploy.
    Everything else goes to the user's mocks.
    """

    def __init__(
        self,
        mocks: pulumi.runtime.Mocks,
        recording: Recording,
        *,
        stack_outputs: Mapping[str, Mapping[str, Any]],
        preview: bool,
    ) -> None:
        self.mocks = mocks
        self.recording = recording
        self.stack_outputs = stack_outputs
        self.preview = preview
        self.stack_transforms: list[Any] = []
        self.invoke_transforms: list[Any] = []
        self.own: dict[str, list[Any]] = {}  # URN -> transforms given in that resource's options
        self.parents: dict[str, str] = {}  # URN -> parent URN
        self.current = threading.local()  # the registration in progress on this thread, if any

    def chain(self, parent: str) -> list[Any]:
        found: list[Any] = []
        while parent:
            found += self.own.get(parent, [])
            parent = self.parents.get(parent, "")
        return found

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if getattr(self.current, "urn", None) is None:  # a read: `StackReference`, `Resource.get`
            return self._read(args)
        parent, urn = self.current.parent, self.current.urn
        self.own[urn], self.parents[urn] = list(args.transforms), parent
        props: dict[str, Any] = dict(args.inputs)
        options: pulumi.ResourceOptions = self.current.options
        for transform in [*args.transforms, *self.chain(parent), *self.stack_transforms]:
            transform_args = pulumi.ResourceTransformArgs(bool(args.custom), args.typ, args.name, props, options)
            result = _run_transform(transform, transform_args, "props")
            if result is not None:
                props, options = dict(result.props), result.opts
        self.current.options, self.current.given = options, set(props)
        if self.preview and args.custom:
            return "", props  # an empty id is an unknown one
        transformed = pulumi.runtime.MockResourceArgs(
            args.typ, args.name, props, args.provider, args.resource_id, args.custom, args.transforms
        )
        return self.mocks.new_resource(transformed)

    def _read(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ != STACK_REFERENCE:
            return self.mocks.new_resource(args)
        stack = str(args.inputs.get("name") or args.resource_id or args.name)
        if stack in self.stack_outputs:
            revealed = {key: _plain(value) for key, value in self.stack_outputs[stack].items()}
            outputs = {key: value for key, (value, _) in revealed.items()}
            secret = sorted(key for key, (_, is_secret) in revealed.items() if is_secret)
            return stack, {"name": stack, "outputs": outputs, "secretOutputNames": secret}
        rid, state = self.mocks.new_resource(args)
        if not isinstance(state.get("outputs"), Mapping):
            known = ", ".join(sorted(self.stack_outputs)) or "none"
            raise LookupError(
                f"StackReference {stack!r}: the harness has no outputs for this stack (given: {known}); "
                f"pass run_program(..., stack_outputs={{{stack!r}: {{...}}}})"
            )
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        inputs: dict[str, Any] = dict(args.args)
        options = pulumi.InvokeOptions()
        for transform in self.invoke_transforms:
            result = _run_transform(transform, pulumi.InvokeTransformArgs(args.token, inputs, options), "args")
            if result is not None:
                inputs, options = dict(result.args), result.opts
        self.recording.invokes.append(RecordedInvoke(args.token, inputs))
        return self.mocks.call(pulumi.runtime.MockCallArgs(args.token, inputs, args.provider))

    def register_transform(self, transform: Any) -> None:
        self.stack_transforms.append(transform)
        self.mocks.register_transform(transform)

    def register_invoke_transform(self, transform: Any) -> None:
        self.invoke_transforms.append(transform)
        self.mocks.register_invoke_transform(transform)


def _options_of(request: Any) -> pulumi.ResourceOptions:
    """The options a registration carries, as the engine hands them to transforms."""
    return pulumi.ResourceOptions(
        protect=request.protect if request.HasField("protect") else None,
        retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
        ignore_changes=list(request.ignoreChanges) or None,
        delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
        replace_on_changes=list(request.replaceOnChanges) or None,
        additional_secret_outputs=list(request.additionalSecretOutputs) or None,
    )


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, recording every registration with its options, transforms applied."""

    def __init__(
        self,
        mocks: pulumi.runtime.Mocks,
        recording: Recording,
        *,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        preview: bool = False,
    ) -> None:
        self.engine = _Engine(mocks, recording, stack_outputs=dict(stack_outputs or {}), preview=preview)
        super().__init__(self.engine)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:  # gRPC method name
        current = self.engine.current
        current.parent, current.options, current.given = request.parent, _options_of(request), set()
        current.urn = self.make_urn(request.parent, request.type, request.name)
        try:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        finally:
            current.urn = None  # what runs next on this thread may be a read
        options: pulumi.ResourceOptions = current.options
        if request.type != "pulumi:pulumi:Stack":
            inputs = dict(self.resources[response.urn].state) if response.urn in self.resources else {}
            self.recording.resources.append(
                RecordedResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=inputs,
                    custom=bool(request.custom),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    protect=bool(options.protect),
                    ignore_changes=list(options.ignore_changes or []),
                    retain_on_delete=bool(options.retain_on_delete),
                    delete_before_replace=bool(options.delete_before_replace),
                    replace_on_changes=list(options.replace_on_changes or []),
                    provider=request.provider,
                    property_dependencies={
                        key: list(deps.urns) for key, deps in request.propertyDependencies.items() if deps.urns
                    },
                    aliases=[self._alias_urn(request, alias) for alias in request.aliases],
                    computed=sorted(set(inputs) - current.given) if request.custom else [],
                )
            )
        return response

    def _alias_urn(self, request: Any, alias: Any) -> str:
        """The URN an alias names: given whole, or the resource's own with the spec's parts swapped in."""
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return str(self.make_urn(parent, spec.type or request.type, spec.name or request.name))


def _config_values(config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as Pulumi hands it to programs: strings (structured values as JSON), and the secret keys."""
    values: dict[str, str] = {}
    secret: list[str] = []
    for key, given in config.items():
        value, is_secret = _plain(given)
        values[key] = value if isinstance(value, str) else json.dumps(value)
        if is_secret:
            secret.append(key)
    return values, secret


_frozen_at_exit = False


def _freeze_at_exit() -> None:
    """Make interpreter exit skip the collector's walks over the whole heap.

    After a run the heap holds the provider SDKs' many thousand classes; the collections Python
    makes while tearing modules down walk all of it, several times, for seconds. Freezing at exit
    (an `atexit` hook, so after the program's own exit handlers) leaves only what the run left
    alive to plain reference counting; Python never promised finalizers of cycles at exit.
    """
    global _frozen_at_exit
    if not _frozen_at_exit:
        atexit.register(gc.freeze)
        _frozen_at_exit = True


def run_program(
    program: Callable[[], None],
    *,
    stack: str = "test",
    project: str = "hardstack",
    config: Mapping[str, Any] | None = None,
    mocks: pulumi.runtime.Mocks | None = None,
    recording: Recording | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    preview: bool = False,
) -> Recording:
    """Run `program` on the mock runtime; return what it registered, invoked and exported.

    - `stack`, `project`: what `pulumi.get_stack()` / `get_project()` return, and the URNs' parts.
    - `config`: full keys (`"aws:region"`, `"<project>:<key>"`) to values; structured values reach
      the program as JSON, as Pulumi hands them over. Wrap a value in `Secret(...)` for one set with
      `--secret`. Default: none, the region `eu-west-3`.
    - `mocks`: answers to invokes and resource registrations. Default: `HardstackMocks` for the
      configured `aws:region`.
    - `stack_outputs`: outputs of the stacks `pulumi.StackReference(name)` reads, by stack name
      (`{"acme/network/prod": {"vpcId": "vpc-1", "dbPassword": Secret("...")}}`). A reference to a
      stack given neither here nor by `mocks` fails, naming it. Default: none.
    - `preview`: run as `pulumi preview` of a first deploy: `pulumi.runtime.is_dry_run()` is true,
      resources keep the inputs the program gave while their ids and computed attributes are
      unknown (`is_unknown`; the mocks are not asked to create them), `apply` callbacks on
      unknown values do not run and unknown exports are recorded as `pulumi.UNKNOWN`. Invokes and
      stack references still answer. Default: False, an `up`.
    - `recording`: a `Recording` to fill; keep it to see what was registered before an error.

    Exceptions the program raises (bad settings, say) propagate after pending work settles, so a
    test can check that nothing was registered before the error.
    """
    recording = Recording() if recording is None else recording
    config = dict(config or {})
    values, secret_keys = _config_values(config)
    if mocks is None:
        mocks = HardstackMocks(values.get("aws:region", "eu-west-3"))
    monitor = RecordingMonitor(mocks, recording, stack_outputs=stack_outputs, preview=preview)
    # A fresh root stack resource and a fresh RPC manager: nothing of an earlier run carries over.
    pulumi.runtime.reset_options(project=project, stack=stack)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(values, secret_keys)

    def body() -> Any:
        program()
        return collect()  # awaited by `pulumi.runtime.test`, inside the run

    async def collect() -> None:
        root = pulumi.runtime.get_root_resource()
        exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
        for key, value in exported.items():
            out = pulumi.Output.from_input(value)
            if preview:
                known = await out.is_known()
                found = await out.future(with_unknowns=True)
                recording.outputs[key] = pulumi.UNKNOWN if not known and found is None else found
            else:
                recording.outputs[key] = await out.future()
            if await out.is_secret():
                recording.secret_outputs.add(key)

    # The SDK builds a web of Output objects and futures per resource that live until the run ends.
    # With the cyclic collector on, every collection of the old generations walks all of them, so
    # the time per resource grows with the program's size; off for the run, one young-generation
    # collection afterwards frees the run's cycles in time linear in what the run allocated.
    collecting = gc.isenabled()
    _freeze_at_exit()
    gc.disable()
    try:
        # The SDK's own runner for mock tests: runs `body`, awaits what it returns, then waits for
        # every outstanding registration and re-raises the program's exception, if any.
        pulumi.runtime.test(body)()  # type: ignore[no-untyped-call]
    finally:
        # The runtime's settings hold the root stack resource, hence every resource of the run, the
        # monitor and the RPCs a failed run left behind: released now, the run is garbage the young
        # collection frees, instead of surviving into the old generation for the collector's slow
        # full walks to find later, and the next run starts clean.
        pulumi.runtime.reset_options(project=project, stack=stack)
        if collecting:
            gc.enable()
            gc.collect(1)
    return recording
