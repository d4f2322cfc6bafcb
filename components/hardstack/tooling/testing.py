"""Run a Pulumi program on the mock runtime and record what it registers.

Used by the project's tests and by the offline preview; users can test their own programs the
same way. Nothing here talks to a cloud: invokes answer from `HardstackMocks`, resources echo their
inputs plus the computed attributes programs read (`id`, `arn`, `name`).
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

import pulumi
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import settings as _settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from hardstack.core.addressing import az_id_prefix

MOCK_ACCOUNT = "123456789012"


@dataclass
class RecordedResource:
    """One registration, with the options the engine would see."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    custom: bool
    parent: str
    dependencies: list[str]
    protect: bool
    ignore_changes: list[str]
    retain_on_delete: bool
    delete_before_replace: bool
    replace_on_changes: list[str]
    provider: str
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Input property -> URNs of the resources whose outputs it was built from (as the engine is told)."""
    aliases: list[str] = field(default_factory=list)
    """URNs the resource was known by before (its `aliases` option): the engine adopts their state."""
    computed: list[str] = field(default_factory=list)
    """Keys of `inputs` the mocks computed (ids, ARNs, auto-names) rather than the program gave."""

    @property
    def is_component(self) -> bool:
        return not self.custom


@dataclass
class RecordedInvoke:
    token: str
    args: dict[str, Any]


@dataclass
class Recording:
    """What a program registered, with simple queries for tests."""

    resources: list[RecordedResource] = field(default_factory=list)
    invokes: list[RecordedInvoke] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> RecordedResource:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def one(self, type_: str, name: str | None = None) -> RecordedResource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource | None:
        return next((r for r in self.resources if r.urn == urn), None)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants_of(self, parent: RecordedResource) -> list[RecordedResource]:
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
        return [r for r in self.resources if r.protect]

    def type_counts(self) -> Counter[str]:
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
    """Deterministic answers: ids (`mock_id`) and ARNs derived from types and names, AZs `<region>a..f`."""

    def __init__(
        self,
        region: str = "eu-west-3",
        databases: Mapping[str, str] | None = None,
        clusters: Mapping[str, str] | None = None,
        volumes: Sequence[MockVolume] = (),
    ) -> None:
        self.region = region
        self.databases = dict(databases or {})
        """RDS instances the account already runs: identifier -> engine version (none by default,
        a first `up`). A program's day-2 checks read them, such as the running PostgreSQL version."""
        self.clusters = dict(clusters or {})
        """EKS clusters the region already runs: name -> Kubernetes version such as "1.33" (none by
        default, a first `up`), read by the check that a new cluster version is the next minor."""
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
        if args.typ == "aws:eks/cluster:Cluster":
            # Computed inside an input block: merged, not defaulted.
            state["vpcConfig"] = {**(state.get("vpcConfig") or {}), "clusterSecurityGroupId": "sg-cluster"}
        state.setdefault("name", args.name)
        state.setdefault("id", rid)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        token: str = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # Six zones of the mock's region, name i <-> id i as the provider returns them (sorted by name).
            names = [f"{self.region}{s}" for s in "abcdef"]
            prefix = az_id_prefix(self.region) or self.region
            return {"names": names, "zoneIds": [f"{prefix}-az{i}" for i in range(1, 7)], "id": self.region}, []
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
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        return {}, []

    def _volumes(self, args: Mapping[str, Any]) -> list[MockVolume]:
        """The volumes an EBS lookup matches: every given tag, and the `volume-id` filter's values."""
        wanted_tags: Mapping[str, str] = args.get("tags") or {}
        ids = {v for f in args.get("filters") or [] if f.get("name") == "volume-id" for v in f["values"]}
        return [
            v
            for v in self.volumes
            if all(v.tags.get(k) == value for k, value in wanted_tags.items()) and (not ids or v.volume_id in ids)
        ]


@dataclass(frozen=True)
class MockVolume:
    """An EBS volume the mocked account holds: what EBS volume lookups answer."""

    volume_id: str
    size_gb: int
    tags: Mapping[str, str]
    created: str = "2026-01-01T00:00:00Z"
    """Creation time, RFC 3339: `most_recent` lookups take the latest."""


class _Transforming(pulumi.runtime.Mocks):
    """Runs resource transforms the way the engine does, then asks the real mocks.

    The engine applies a resource's own transforms, then its parent's, up to the stack's; the SDK's
    mock monitor applies none. The monitor tells us the parent of the registration in progress.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        self.mocks = mocks
        self.stack_transforms: list[Any] = []
        self.own: dict[str, list[Any]] = {}  # URN -> transforms given in that resource's options
        self.parents: dict[str, str] = {}  # URN -> parent URN
        self.current = threading.local()  # parent URN and name of the registration on this thread

    def chain(self, parent: str) -> list[Any]:
        found: list[Any] = []
        while parent:
            found += self.own.get(parent, [])
            parent = self.parents.get(parent, "")
        return found

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        parent, urn = getattr(self.current, "parent", ""), getattr(self.current, "urn", "")
        self.own[urn], self.parents[urn] = list(args.transforms), parent
        props: dict[str, Any] = dict(args.inputs)
        options = pulumi.ResourceOptions()
        for transform in [*args.transforms, *self.chain(parent), *self.stack_transforms]:
            result = transform(pulumi.ResourceTransformArgs(bool(args.custom), args.typ, args.name, props, options))
            if inspect.isawaitable(result):
                result = asyncio.new_event_loop().run_until_complete(result)
            if result is not None:
                props, options = dict(result.props), result.opts
        self.current.options, self.current.given = options, set(props)
        transformed = pulumi.runtime.MockResourceArgs(
            args.typ, args.name, props, args.provider, args.resource_id, args.custom, args.transforms
        )
        return self.mocks.new_resource(transformed)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self.mocks.call(args)

    def register_transform(self, transform: Any) -> None:
        self.stack_transforms.append(transform)
        self.mocks.register_transform(transform)


class RecordingMonitor(_mocks.MockMonitor):
    """The SDK's mock monitor, recording every registration with its options, transforms applied."""

    def __init__(self, mocks: pulumi.runtime.Mocks, recording: Recording) -> None:
        self.transforming = _Transforming(mocks)
        super().__init__(self.transforming)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:  # gRPC method name
        current = self.transforming.current
        current.parent, current.options, current.given = request.parent, pulumi.ResourceOptions(), set()
        current.urn = self.make_urn(request.parent, request.type, request.name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
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
                    protect=bool(request.protect if options.protect is None else options.protect),
                    ignore_changes=list(request.ignoreChanges),
                    retain_on_delete=bool(
                        request.retainOnDelete if options.retain_on_delete is None else options.retain_on_delete
                    ),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    replace_on_changes=list(request.replaceOnChanges),
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

    def Invoke(self, request: Any) -> Any:  # gRPC method name
        response = super().Invoke(request)  # type: ignore[no-untyped-call]
        if request.tok != "pulumi:pulumi:getResource":
            args = pulumi.runtime.rpc.deserialize_properties(request.args)
            self.recording.invokes.append(RecordedInvoke(request.tok, dict(args)))
        return response


def _config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Pulumi hands programs config as strings; structured values travel as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


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
) -> Recording:
    """Run `program` on the mock runtime; return what it registered, invoked and exported.

    Exceptions the program raises (bad settings, say) propagate after pending work settles, so a
    test can check that nothing was registered before the error: pass `recording` to keep it.
    """
    recording = Recording() if recording is None else recording
    config = dict(config or {})
    if mocks is None:
        mocks = HardstackMocks(str(config.get("aws:region", "eu-west-3")))
    monitor = RecordingMonitor(mocks, recording)
    _settings.reset_options(project=project, stack=stack)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(_config_strings(config), [])

    async def body() -> None:
        program()
        root = _settings.get_root_resource()
        exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
        for key, value in exported.items():
            out = pulumi.Output.from_input(value)
            recording.outputs[key] = await out.future()
            if await out.is_secret():
                recording.secret_outputs.add(key)

    _settings.SETTINGS.rpc_manager.clear()
    # The SDK builds a web of Output objects and futures per resource that live until the run ends.
    # With the cyclic collector on, every collection of the old generations walks all of them, so
    # the time per resource grows with the program's size; off for the run, one young-generation
    # collection afterwards frees the run's cycles in time linear in what the run allocated.
    collecting = gc.isenabled()
    _freeze_at_exit()
    gc.disable()
    try:
        _sync_await(run_pulumi_func(lambda: body()))
    finally:
        # A failed run may leave tasks behind; drop them so the next run starts clean.
        _settings.SETTINGS.rpc_manager.clear()
        # The runtime's settings hold the root stack resource, hence every resource of the run, and
        # the monitor: released now, the run is garbage the young collection frees, instead of
        # surviving into the old generation for the collector's slow full walks to find later.
        _settings.reset_options(project=project, stack=stack)
        if collecting:
            gc.enable()
            gc.collect(1)
    return recording
