"""Plan files, plan diffs for pull requests, and a deployment-time estimate.

Pure functions over what a stack registers offline (a `Recording`); nothing here talks to a cloud.

- `build_plan` turns a recording into a JSON-ready plan: every resource with its type, name, URN,
  parent, options and dependencies, and its inputs with secrets masked (`mask_secrets`).
- `diff_plans` compares two plans resource by resource (matched by URN) and classifies each change
  as create, update, replace or delete. An update becomes a replace when it touches a property in
  `REPLACE_ON_CHANGE` / `KUBERNETES_REPLACE_ON_CHANGE` (or one of the `CONDITIONAL_REPLACE` cases),
  or when such a property is built from a replaced resource's outputs (`propertyDependencies`),
  or when its AWS provider's region changes. A resource moved under a new parent (same type and
  name, new URN) is a replace too: without an alias Pulumi creates it anew and deletes the old one.
  A changed type stays a delete and a create. A database engine's new major version is flagged.
- `render_markdown` writes the PR comment: counts per stack, then, before anything else, every
  replacement or deletion of a stateful or protected resource with the property that triggers it.
- `estimate_duration` gives the from-scratch creation time along the longest dependency chain.

How the replace rules were checked: every property name against the pulumi-aws 7 Python SDK's
inputs (`test_each_replace_rule_names_an_input_of_the_sdk`); the rules against the force-new
schema (`ForceNew` / `RequiresReplace`) of the Terraform AWS provider v6 that pulumi-aws 7 bridges,
read in its sources for the doubtful ones (NAT gateway, bucket versioning, EKS node group, the
per-resource `region` and its `forceNewIfRegionChanges`), which removed rules naming inputs that do
not exist (a subscription's `topicArn` is `topic`, a flow log has no `logGroupName`) or that update
in place (bucket versioning's `mfa`). Kubernetes rules follow pulumi-kubernetes v4's `forceNew`
table and Secret/ConfigMap handling, and the Helm release provider's Diff.

What a plan cannot tell: a recording does not say which dependencies were declared with
`depends_on` and which come from passing an output, so explicit `depends_on` that needlessly
serialise resources are not detected; ids and ARNs come from the offline mocks (`mock_id`), so a
replacement's new outputs are inferred from the dependency graph rather than seen; secrets are
compared only between plans masked under one key (`diff-rev` writes both so).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pulumi

from hardstack.core.errors import refuse
from hardstack.tooling.testing import Recording

PLAN_VERSION = 2
"""2: resources record `propertyDependencies`, `aliases` and which inputs the mocks `computed`;
secrets may be masked by a keyed hash (`secretKey`)."""
SECRET = "[secret]"  # noqa: S105  # the mask, not a password
"""What a masked value reads as in a plan."""

# The engine's wire marker for a secret value (an input passed as `pulumi.Output.secret(...)`).
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105

_SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "secret", "token", "kubeconfig"})

#: Properties secret by nature for a type, whatever their key looks like.
SECRET_PROPERTIES: dict[str, frozenset[str]] = {
    "kubernetes:core/v1:Secret": frozenset({"data", "stringData"}),
    "random:index/randomPassword:RandomPassword": frozenset({"result", "bcryptHash"}),
}


# Markdown snippets, used by diff notes and by the PR comment.


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


# --- secrets ---------------------------------------------------------------------------------------


def _words(key: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", key)]


def is_secret_key(key: str) -> bool:
    """True when a property name says it holds a secret.

    The rule, on the words of the name (camelCase, snake_case and kebab-case are split): any word is
    password, passwd, passphrase, secret, token or kubeconfig, or the words "private key" appear
    together. Whole words only, so `httpTokens` (an IMDS setting) and `kmsKeyId` stay visible.
    """
    words = _words(key)
    return bool(_SECRET_WORDS.intersection(words)) or any(
        a == "private" and b == "key" for a, b in itertools.pairwise(words)
    )


def _is_flag(value: Any) -> bool:
    # A flag holds no secret and says whether a secret is managed (`manageMasterUserPassword`) or
    # how (`enableSecretMutable`, which providers receive as a string).
    return isinstance(value, bool) or value in ("true", "false")


def _is_wire_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG


def secret_key_id(key: bytes) -> str:
    """A fingerprint of a plan's secret key: two plans compare secret values only when theirs match."""
    return hashlib.sha256(b"hardstack plan key id:" + key).hexdigest()[:12]


def _masked(value: Any, key: bytes | None) -> str:
    if key is None:
        return SECRET
    # Keyed, and the key never written: equal values give equal marks within a run, while a mark
    # cannot be checked against guessed passwords by anyone who reads the plan.
    text = json.dumps(value, sort_keys=True, default=str).encode()
    return f"[secret:{hmac.new(key, text, hashlib.sha256).hexdigest()[:16]}]"


def mask_secrets(value: Any, secret_keys: Iterable[str] = (), key: bytes | None = None) -> Any:
    """`value` as plain JSON with every secret replaced by a mark.

    Masked: values the program marked secret (they reach the engine wrapped), values under a key
    `is_secret_key` accepts at any depth (but not flags, `true` or `false`, which hold no secret),
    and top-level keys listed in `secret_keys`. Without `key` the mark is `SECRET`; with one it is
    `[secret:<keyed hash>]`, so a changed secret shows as a changed mark.
    """
    forced = frozenset(secret_keys)

    def walk(v: Any, top: bool) -> Any:
        if _is_wire_secret(v):
            return _masked(v.get("value"), key)
        if isinstance(v, Mapping):
            return {
                str(k): _masked(_unwrap(item), key)
                if (is_secret_key(str(k)) and not _is_flag(item)) or (top and k in forced)
                else walk(item, False)
                for k, item in v.items()
            }
        if isinstance(v, list | tuple):
            return [walk(item, False) for item in v]
        if v is None or isinstance(v, bool | int | float | str):
            return v
        return _describe_object(v)

    return walk(value, True)


def _describe_object(v: Any) -> Any:
    """Assets by what they hold (an object's repr carries its address and would differ every run)."""
    if isinstance(v, pulumi.StringAsset):
        return {"asset": "string", "sha256": hashlib.sha256(v.text.encode()).hexdigest()}
    if isinstance(v, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"asset": "remote", "uri": v.uri}
    if isinstance(v, pulumi.FileAsset | pulumi.FileArchive):
        return {"asset": "file", "path": str(v.path)}
    return str(v)  # other SDK objects: their text form is enough to diff


def _unwrap(value: Any) -> Any:
    """A value with the engine's secret wrappers removed, at any depth (only to hash it)."""
    if _is_wire_secret(value):
        return _unwrap(value.get("value"))
    if isinstance(value, Mapping):
        return {str(k): _unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap(v) for v in value]
    return value if value is None or isinstance(value, bool | int | float | str) else _describe_object(value)


_KEYED_MARK = re.compile(r"^\[secret:[0-9a-f]+\]$")


def _has_mark(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_mark(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_mark(v) for v in value)
    return isinstance(value, str) and value == SECRET


def _unkeyed(value: Any) -> Any:
    """`value` with keyed secret marks read as plain `SECRET` (plans written under different keys)."""
    if isinstance(value, str) and _KEYED_MARK.match(value):
        return SECRET
    if isinstance(value, Mapping):
        return {k: _unkeyed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unkeyed(v) for v in value]
    return value


# --- plan files ------------------------------------------------------------------------------------


def build_plan(stack: str, recording: Recording, secret_key: bytes | None = None) -> dict[str, Any]:
    """The plan of one stack: resources sorted by URN, inputs and outputs with secrets masked.

    With `secret_key`, secrets are masked by a keyed hash (`mask_secrets`) and the plan records the
    key's fingerprint, so a diff against a plan written with the same key sees a secret change.
    Each resource records which of its inputs come from which resources (`propertyDependencies`).
    """
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "custom": r.custom,
            "protect": r.protect,
            "retainOnDelete": r.retain_on_delete,
            "replaceOnChanges": sorted(r.replace_on_changes),
            "ignoreChanges": sorted(r.ignore_changes),
            "dependencies": sorted(set(r.dependencies)),
            "propertyDependencies": {k: sorted(set(v)) for k, v in sorted(r.property_dependencies.items()) if v},
            "aliases": sorted(set(r.aliases)),
            "computed": sorted(r.computed),
            "provider": provider_urn(r.provider),
            "inputs": mask_secrets(r.inputs, SECRET_PROPERTIES.get(r.type, ()), secret_key),
        }
        for r in recording
    ]
    outputs = {
        key: _masked(_unwrap(value), secret_key) if key in recording.secret_outputs else mask_secrets(value)
        for key, value in sorted(recording.outputs.items())
    }
    plan: dict[str, Any] = {
        "version": PLAN_VERSION,
        "stack": stack,
        "resources": sorted(resources, key=lambda r: r["urn"]),
        "outputs": outputs,
    }
    if secret_key is not None:
        plan["secretKey"] = secret_key_id(secret_key)
    return plan


def provider_urn(reference: str) -> str:
    """The URN of a provider reference (`<urn>::<id>`), or "" for the default provider."""
    return reference.rsplit("::", 1)[0] if reference else ""


def empty_plan(stack: str) -> dict[str, Any]:
    """The plan of a stack that does not exist (yet): everything in the other plan is a create."""
    return {"version": PLAN_VERSION, "stack": stack, "resources": [], "outputs": {}}


def write_plan(path: str | Path, plan: Mapping[str, Any]) -> None:
    """Write `plan` as stable JSON (sorted keys), so two plans of the same program are byte-equal."""
    Path(path).write_text(json.dumps(plan, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_plan(path: str | Path) -> dict[str, Any]:
    """Read a plan written by `write_plan` (or the offline preview's JSON plan)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise refuse(str(path), type(data).__name__, "a plan file: a JSON object with a `resources` list")
    for entry in data["resources"]:
        if not isinstance(entry, dict) or not {"urn", "type", "name"} <= entry.keys():
            raise refuse(f"{path}: resource", entry, "an object with urn, type and name")
    return data


def _is_custom(entry: Mapping[str, Any], parents: set[str]) -> bool:
    # Plans written before `custom` was recorded: a component is a non-provider resource that parents others.
    if "custom" in entry:
        return bool(entry["custom"])
    return entry["type"].startswith("pulumi:providers:") or entry["urn"] not in parents


# --- what forces a replacement ---------------------------------------------------------------------


def _regional(*props: str) -> frozenset[str]:
    # Since pulumi-aws 7 every regional resource takes a `region` argument; changing it replaces the resource.
    return frozenset({"region", *props})


_S3_CHILD = _regional("bucket", "expectedBucketOwner")

#: For the resource types hardstack uses: the input properties (dotted paths for nested ones) whose
#: change makes the provider replace the resource, from the provider's resource schemas
#: (Terraform AWS provider v6 ForceNew / RequiresReplace, which pulumi-aws 7 bridges). An empty set
#: means nothing replaces it in place of an update.
REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    # Networking
    "aws:ec2/vpc:Vpc": _regional("cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"),
    "aws:ec2/subnet:Subnet": _regional(
        "cidrBlock", "availabilityZone", "availabilityZoneId", "vpcId", "outpostArn", "ipv6Native"
    ),
    "aws:ec2/internetGateway:InternetGateway": _regional(),  # vpcId re-attaches in place
    "aws:ec2/eip:Eip": _regional(
        "address", "customerOwnedIpv4Pool", "domain", "ipamPoolId", "networkBorderGroup", "publicIpv4Pool"
    ),
    "aws:ec2/natGateway:NatGateway": _regional(
        "subnetId", "allocationId", "connectivityType", "privateIp", "secondaryPrivateIpAddressCount"
    ),
    "aws:ec2/routeTable:RouteTable": _regional("vpcId"),
    "aws:ec2/route:Route": _regional(
        "routeTableId", "destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId"
    ),
    # route_table_id moves in place (ReplaceRouteTableAssociation); the subnet or gateway does not.
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _regional("subnetId", "gatewayId"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _regional("vpcId", "serviceName", "vpcEndpointType", "serviceRegion"),
    # EC2 has no API to change a flow log: every argument but tags replaces it.
    "aws:ec2/flowLog:FlowLog": _regional(
        "vpcId",
        "subnetId",
        "eniId",
        "transitGatewayId",
        "transitGatewayAttachmentId",
        "trafficType",
        "logFormat",
        "maxAggregationInterval",
        "logDestination",
        "logDestinationType",
        "iamRoleArn",
        "deliverCrossAccountRole",
        "destinationOptions",
    ),
    "aws:ec2/securityGroup:SecurityGroup": _regional("name", "namePrefix", "description", "vpcId"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _regional("vpcId"),
    # Ports, protocol, CIDR, description and peer update in place (ModifySecurityGroupRules); the group
    # does not, nor does switching the kind of peer (see CONDITIONAL_REPLACE).
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _regional("securityGroupId"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _regional("securityGroupId"),
    # Compute
    "aws:ec2/launchTemplate:LaunchTemplate": _regional("name", "namePrefix"),
    "aws:autoscaling/group:Group": _regional("name", "namePrefix"),
    "aws:autoscaling/policy:Policy": _regional("name", "autoscalingGroupName"),
    "aws:ebs/volume:Volume": _regional("availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "outpostArn"),
    # Load balancing
    "aws:lb/loadBalancer:LoadBalancer": _regional(
        "name", "namePrefix", "internal", "loadBalancerType", "customerOwnedIpv4Pool"
    ),
    "aws:lb/targetGroup:TargetGroup": _regional("name", "namePrefix", "port", "protocol", "vpcId", "targetType"),
    "aws:lb/listener:Listener": _regional("loadBalancerArn"),
    # Keys and logs
    "aws:kms/key:Key": _regional("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"),
    "aws:kms/alias:Alias": _regional("name", "namePrefix"),  # targetKeyId moves in place
    "aws:cloudwatch/logGroup:LogGroup": _regional("name", "namePrefix", "logGroupClass"),  # kmsKeyId in place
    # Monitoring: alarms and dashboards are keyed by name; everything else about them updates in place.
    "aws:cloudwatch/metricAlarm:MetricAlarm": _regional("name"),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _regional("alarmName"),
    "aws:cloudwatch/dashboard:Dashboard": _regional("dashboardName"),
    "aws:sns/topic:Topic": _regional("name", "namePrefix", "fifoTopic"),
    "aws:sns/topicPolicy:TopicPolicy": _regional("arn"),
    "aws:sns/topicSubscription:TopicSubscription": _regional("topic", "protocol", "endpoint"),  # topic_arn upstream
    # S3: the bucket and each of its configuration resources
    "aws:s3/bucket:Bucket": _regional("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketPolicy:BucketPolicy": _regional("bucket"),
    "aws:ssm/parameter:Parameter": _regional("name"),  # value, type and tier update in place
    "aws:s3/bucketObjectv2:BucketObjectv2": _regional("bucket", "key"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _regional("bucket"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _regional("bucket"),
    "aws:s3/bucketVersioning:BucketVersioning": _S3_CHILD,  # mfa is sent with each update, not force-new
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _S3_CHILD,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _S3_CHILD,
    "aws:s3/bucketLogging:BucketLogging": _S3_CHILD,  # the target bucket and prefix move in place
    # WAF: rules, actions and visibility update in place (UpdateWebACL with the lock token).
    "aws:wafv2/webAcl:WebAcl": _regional("name", "namePrefix", "scope"),
    "aws:wafv2/webAclAssociation:WebAclAssociation": _regional("resourceArn", "webAclArn"),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": _regional(
        "resourceArn", "logDestinationConfigs"
    ),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": _regional("policyName", "resourceArn"),
    # IAM is global: no region argument.
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/rolePolicy:RolePolicy": frozenset({"name", "namePrefix", "role"}),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": frozenset({"role", "policyArn"}),
    "aws:iam/instanceProfile:InstanceProfile": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": frozenset({"url"}),
    # Databases. Since provider v5 a new `identifier` renames the instance in place; engineVersion,
    # instance class and storage size update in place.
    "aws:rds/instance:Instance": _regional(
        "engine",
        "dbName",
        "username",
        "kmsKeyId",
        "storageEncrypted",
        "availabilityZone",
        "characterSetName",
        "ncharCharacterSetName",
        "timezone",
        "snapshotIdentifier",
        "restoreToPointInTime",
        "s3Import",
        "customIamInstanceProfile",
    ),
    "aws:rds/subnetGroup:SubnetGroup": _regional("name", "namePrefix"),
    "aws:rds/parameterGroup:ParameterGroup": _regional("name", "namePrefix", "family", "description"),
    "aws:rds/snapshotCopy:SnapshotCopy": _regional(
        "sourceDbSnapshotIdentifier",
        "targetDbSnapshotIdentifier",
        "kmsKeyId",
        "copyTags",
        "destinationRegion",
        "optionGroupName",
        "presignedUrl",
        "targetCustomAvailabilityZone",
    ),
    # Kubernetes on AWS. Cluster subnets and security groups update in place (UpdateClusterConfig),
    # enabling envelope encryption too; removing it replaces (see CONDITIONAL_REPLACE).
    "aws:eks/cluster:Cluster": _regional(
        "name",
        "roleArn",
        "bootstrapSelfManagedAddons",
        "accessConfig.bootstrapClusterCreatorAdminPermissions",
        "kubernetesNetworkConfig.ipFamily",
        "kubernetesNetworkConfig.serviceIpv4Cidr",
        "outpostConfig",
    ),
    # Node groups are cattle: scaling, labels, taints, version and launch-template version update in
    # place; these replace the group (its nodes drain and come back).
    "aws:eks/nodeGroup:NodeGroup": _regional(
        "clusterName",
        "nodeGroupName",
        "nodeGroupNamePrefix",
        "nodeRoleArn",
        "subnetIds",
        "instanceTypes",
        "amiType",
        "capacityType",
        "diskSize",
        "remoteAccess",
        "launchTemplate.id",
        "launchTemplate.name",
    ),
    "aws:eks/addon:Addon": _regional("addonName", "clusterName"),
    "aws:eks/accessEntry:AccessEntry": _regional("clusterName", "principalArn", "type"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": _regional(
        "clusterName", "principalArn", "policyArn", "accessScope"
    ),
}

#: The random provider's resources: every argument is force-new (a new value is a new draw).
RANDOM_REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    "random:index/randomId:RandomId": frozenset({"byteLength", "keepers", "prefix"}),
}

#: Kubernetes objects are replaced when their name or namespace changes, and for a few kinds when an
#: immutable field does: pulumi-kubernetes v4's own table (provider/pkg/provider/diff.go, `forceNew`).
#: A Helm release is keyed by its own name and namespace (the release provider's Diff).
KUBERNETES_REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    "kubernetes:storage.k8s.io/v1:StorageClass": frozenset({"provisioner", "parameters"}),
    "kubernetes:apps/v1:Deployment": frozenset({"spec.selector"}),
    "kubernetes:apps/v1:DaemonSet": frozenset({"spec.selector"}),
    "kubernetes:apps/v1:StatefulSet": frozenset(
        {
            "spec.podManagementPolicy",
            "spec.revisionHistoryLimit",
            "spec.selector",
            "spec.serviceName",
            "spec.volumeClaimTemplates",
        }
    ),
    "kubernetes:batch/v1:Job": frozenset({"spec.completions", "spec.parallelism", "spec.selector", "spec.template"}),
    # A claim's size grows in place (volume expansion); its class, modes and binding do not.
    "kubernetes:core/v1:PersistentVolumeClaim": frozenset(
        {"spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"}
    ),
    "kubernetes:core/v1:Secret": frozenset({"type"}),
    "kubernetes:core/v1:Service": frozenset({"spec.clusterIP"}),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": frozenset({"roleRef"}),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": frozenset({"roleRef"}),
    "kubernetes:helm.sh/v3:Release": frozenset({"name", "namespace"}),
}
_KUBERNETES_METADATA = frozenset({"metadata.name", "metadata.namespace"})

#: Kinds whose data replaces them unless the provider option makes them mutable and the object is
#: not `immutable`: pulumi-kubernetes replaces Secrets and ConfigMaps by default, so pods that
#: mount them roll onto the new object instead of seeing it change under them.
KUBERNETES_DATA_REPLACE: dict[str, tuple[str, frozenset[str]]] = {
    "kubernetes:core/v1:Secret": ("enableSecretMutable", frozenset({"data", "stringData"})),
    "kubernetes:core/v1:ConfigMap": ("enableConfigMapMutable", frozenset({"data", "binaryData"})),
}


def _truthy(value: Any) -> bool:
    # Provider inputs reach the engine as strings ("true") or booleans.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def kubernetes_data_rules(type_: str, new: Mapping[str, Any], provider_inputs: Mapping[str, Any]) -> frozenset[str]:
    """The data properties whose change replaces a Secret or ConfigMap under this provider."""
    option, props = KUBERNETES_DATA_REPLACE.get(type_, ("", frozenset()))
    if not option or (_truthy(provider_inputs.get(option)) and not _truthy(new.get("immutable"))):
        return frozenset()
    return props


_RULE_PEERS = ("cidrIpv4", "cidrIpv6", "prefixListId", "referencedSecurityGroupId")


def _rule_peer_kind_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    # A rule's peer can change within its kind (one CIDR for another) but not across kinds.
    before = {k for k in _RULE_PEERS if old.get(k) is not None}
    after = {k for k in _RULE_PEERS if new.get(k) is not None}
    return sorted(before ^ after)


def _cluster_encryption_removed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    # Envelope encryption can be turned on for a running cluster but never off.
    return ["encryptionConfig"] if old.get("encryptionConfig") and not new.get("encryptionConfig") else []


#: Replacements that depend on how a value changes, not only on whether it did.
CONDITIONAL_REPLACE: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]] = {
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rule_peer_kind_changed,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rule_peer_kind_changed,
    "aws:eks/cluster:Cluster": _cluster_encryption_removed,
}


#: Provider settings whose change the engine does not turn into replacements but should stop a review.
PROVIDER_HAZARDS: dict[str, dict[str, str]] = {
    "pulumi:providers:aws": {
        "region": "the AWS provider's region changes: every regional resource is created anew in the new region "
        "and deleted from the old one, and no data moves with it (copy snapshots and objects first)",
    },
}


def replace_rules(type_: str) -> frozenset[str] | None:
    """The properties whose change replaces a resource of `type_`; None when hardstack does not know."""
    if type_ in REPLACE_ON_CHANGE:
        return REPLACE_ON_CHANGE[type_]
    if type_ in RANDOM_REPLACE_ON_CHANGE:
        return RANDOM_REPLACE_ON_CHANGE[type_]
    if type_.startswith("pulumi:providers:"):
        return frozenset()  # a provider's own changes are updates; see PROVIDER_HAZARDS
    if type_.startswith("kubernetes:"):
        return _KUBERNETES_METADATA | KUBERNETES_REPLACE_ON_CHANGE.get(type_, frozenset())
    return None


#: Resource types whose replacement or deletion loses data or identity others rely on, and why.
STATEFUL_REASONS: dict[str, str] = {
    "aws:rds/instance:Instance": "database: its data goes with it unless restored from a snapshot",
    "aws:rds/cluster:Cluster": "database cluster: its data goes with it",
    "aws:s3/bucket:Bucket": "bucket: objects are lost and the name may be taken by someone else",
    "aws:kms/key:Key": "KMS key: anything encrypted with it can no longer be decrypted",
    "aws:ebs/volume:Volume": "volume: its data is lost",
    "aws:eks/cluster:Cluster": "cluster: every workload, its volumes' bindings and its endpoint change",
    "aws:ec2/vpc:Vpc": "VPC: everything inside it is recreated, addresses and peerings change",
    "aws:ec2/subnet:Subnet": "subnet: instances, endpoints and databases placed in it must move",
    "aws:ec2/eip:Eip": "Elastic IP: the public address changes; partners may allow-list it",
    "aws:cloudwatch/logGroup:LogGroup": "log group: its log history is lost",
    "aws:secretsmanager/secret:Secret": "secret: its value is lost",
    "aws:dynamodb/table:Table": "table: its items are lost",
    "aws:efs/fileSystem:FileSystem": "file system: its files are lost",
}
# An EKS node group is deliberately absent: nodes are cattle, replacing a group drains and recreates
# them and no data is lost (pods move, persistent volumes live in EBS or EFS, not on the group).
STATEFUL_TYPES: frozenset[str] = frozenset(STATEFUL_REASONS)


# --- diffs -----------------------------------------------------------------------------------------

Action = Literal["create", "update", "replace", "delete"]


@dataclass(frozen=True)
class Change:
    """One resource's change, with the properties that cause it (empty for creates and deletes)."""

    action: Action
    urn: str
    type: str
    name: str
    properties: tuple[str, ...] = ()
    stateful: bool = False
    protected: bool = False
    retained: bool = False
    note: str = ""

    @property
    def dangerous(self) -> bool:
        """A replacement or deletion of a stateful or protected resource: reviewers must see it first."""
        return self.action in ("replace", "delete") and (self.stateful or self.protected)


@dataclass(frozen=True)
class PlanDiff:
    """What applying the new plan over the old one would do, sorted by URN within each action."""

    creates: tuple[Change, ...] = ()
    updates: tuple[Change, ...] = ()
    replaces: tuple[Change, ...] = ()
    deletes: tuple[Change, ...] = ()
    unknown_types: tuple[str, ...] = field(default=())
    """Types updated without known replace rules: an update shown for them may be a replacement."""
    hazards: tuple[str, ...] = field(default=())
    """Changes that must stop a review whatever they replace: a provider's region, an engine's major version."""
    secrets_compared: bool = True
    """False when the plans were masked under different keys: a change of a secret alone is not seen.
    (Plans written without a key never compare secrets.)"""

    @property
    def changes(self) -> tuple[Change, ...]:
        return self.replaces + self.deletes + self.updates + self.creates

    @property
    def dangerous(self) -> tuple[Change, ...]:
        return tuple(c for c in self.replaces + self.deletes if c.dangerous)

    def counts(self) -> dict[str, int]:
        return {
            "create": len(self.creates),
            "update": len(self.updates),
            "replace": len(self.replaces),
            "delete": len(self.deletes),
        }

    def is_empty(self) -> bool:
        return not self.changes


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where `old` and `new` differ, descending into objects (lists compare whole)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                out.append(path)
            else:
                out += changed_paths(old[key], new[key], path)
        return out
    return [] if old == new else [prefix]


def _covers(rule: str, path: str) -> bool:
    return path == rule or path.startswith(rule + ".") or rule.startswith(path + ".")


def replace_triggers(
    type_: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    changed: Iterable[str] | None = None,
    extra_rules: Iterable[str] = (),
    provider_inputs: Mapping[str, Any] | None = None,
) -> list[str]:
    """The changed properties of a `type_` resource that force its replacement (sorted).

    `provider_inputs` are those of the resource's provider, which decide some Kubernetes rules.
    """
    changed = changed_paths(old, new) if changed is None else list(changed)
    rules = (replace_rules(type_) or frozenset()) | frozenset(extra_rules)
    rules |= kubernetes_data_rules(type_, new, provider_inputs or {})
    found = {p for p in changed if any(_covers(rule, p) for rule in rules)}
    condition = CONDITIONAL_REPLACE.get(type_)
    if condition is not None:
        found.update(condition(old, new))
    return sorted(found)


def _entries(plan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    resources: list[dict[str, Any]] = list(plan.get("resources", []))
    parents = {str(r.get("parent", "")) for r in resources}
    return {r["urn"]: {**r, "custom": _is_custom(r, parents)} for r in resources}


def _change(action: Action, entry: Mapping[str, Any], props: Iterable[str] = (), note: str = "") -> Change:
    return Change(
        action=action,
        urn=entry["urn"],
        type=entry["type"],
        name=entry["name"],
        properties=tuple(props),
        stateful=entry["type"] in STATEFUL_TYPES,
        protected=bool(entry.get("protect")),
        retained=bool(entry.get("retainOnDelete")),
        note=note,
    )


def _inputs(entry: Mapping[str, Any]) -> dict[str, Any]:
    return dict(entry.get("inputs") or {})


def _pair_moves(
    deleted: dict[str, dict[str, Any]], created: dict[str, dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Deletes and creates that are one resource moved under a new parent: same type and name.

    A changed type stays a delete and a create: they are different resources to the provider.
    """
    olds: dict[tuple[str, str], list[str]] = {}
    news: dict[tuple[str, str], list[str]] = {}
    for urn, e in deleted.items():
        olds.setdefault((e["type"], e["name"]), []).append(urn)
    for urn, e in created.items():
        news.setdefault((e["type"], e["name"]), []).append(urn)
    return [
        (deleted.pop(olds[k][0]), created.pop(news[k][0]))
        for k in sorted(olds.keys() & news.keys())
        if len(olds[k]) == 1 and len(news[k]) == 1
    ]


#: Shorter values must equal an output to count as taken from it; longer ones may sit inside a text.
_EMBEDDED_MIN = 8


def _holds(value: str, refs: frozenset[str]) -> bool:
    return value in refs or any(len(r) >= _EMBEDDED_MIN and r in value for r in refs)


def _references(value: Any, refs: frozenset[str], prefix: str = "") -> list[str]:
    """Paths of `value` holding one of `refs` (a resource's outputs): equal, in a list, or inside a text
    (an ARN in a policy document)."""
    if isinstance(value, Mapping):
        return [
            p for k in sorted(value, key=str) for p in _references(value[k], refs, f"{prefix}.{k}" if prefix else k)
        ]
    if isinstance(value, list):
        return [prefix] if any(_references(item, refs) for item in value) else []
    if isinstance(value, str) and _holds(value, refs):
        return [prefix or "(value)"]
    return []


def _outputs(entry: Mapping[str, Any]) -> frozenset[str]:
    """Every value a dependent can take from a resource: the string leaves of its recorded state
    (the mocks echo inputs and add computed attributes), tags and secret marks aside."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        elif isinstance(v, str) and v and v != SECRET and not _KEYED_MARK.match(v):
            found.add(v)

    for key, value in _inputs(entry).items():
        if key not in ("tags", "tagsAll"):
            walk(value)
    return frozenset(found)


def _substitute(value: Any, mapping: Mapping[str, str]) -> Any:
    """`value` with each string in `mapping` replaced, whole or inside a longer text."""
    if isinstance(value, Mapping):
        return {k: _substitute(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    if isinstance(value, str):
        if value in mapping:
            return mapping[value]
        for new, old in mapping.items():
            if len(new) >= _EMBEDDED_MIN and new in value:
                value = value.replace(new, old)
    return value


def _fed_by(entry: Mapping[str, Any], renewed: Mapping[str, frozenset[str]]) -> dict[str, list[str]]:
    """Input path -> the replaced resources (URNs) whose outputs it holds.

    A replacement's outputs are all new, whichever one a dependent holds (a role's name as much as
    its ARN). The plan's `propertyDependencies` say which resources an input was built from; the
    input must also hold one of that resource's values, so an input that only waits for a replaced
    resource (an apply over its id that returns something else) is not counted. Plans written
    without `propertyDependencies` fall back to the resource's dependencies.
    """
    inputs = _inputs(entry)
    if "propertyDependencies" in entry:
        sources = {
            str(prop): [u for u in sorted(set(urns)) if u in renewed]
            for prop, urns in (entry.get("propertyDependencies") or {}).items()
        }
    else:
        cause = sorted(d for d in entry.get("dependencies") or () if d in renewed)
        sources = {str(prop): cause for prop in inputs}
    fed: dict[str, list[str]] = {}
    for prop, urns in sorted(sources.items()):
        if not urns:
            continue
        value = inputs.get(prop)
        for path in _references({prop: value}, frozenset().union(*(renewed[u] for u in urns))):
            fed[path] = [u for u in urns if _references(value, renewed[u])]
    return fed


def _is_regional(type_: str) -> bool:
    """Whether a resource lives in one region (pulumi-aws 7 gives every such resource `region`)."""
    rules = replace_rules(type_)
    if rules is not None:
        return "region" in rules
    return type_.startswith("aws:") and not type_.startswith("aws:iam/")


def _relocated_providers(before: Mapping[str, Any], after: Mapping[str, Any], kept: Iterable[str]) -> set[str]:
    """AWS providers whose region changes: every regional resource they manage is replaced."""
    return {
        urn
        for urn in kept
        if after[urn]["type"] == "pulumi:providers:aws"
        and _inputs(before[urn]).get("region") != _inputs(after[urn]).get("region")
    }


#: Engines whose major version is the first number of `engineVersion` (PostgreSQL 10 and later).
_MAJOR_ENGINES = frozenset({"postgres", "aurora-postgresql"})
_RDS_TYPES = frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"})


def _major(version: Any) -> int | None:
    match = re.match(r"^(\d+)", str(version or ""))
    return int(match.group(1)) if match else None


def engine_major_change(type_: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What a change of a database's engine major version means, or "" when its major is unchanged."""
    if type_ not in _RDS_TYPES or str(new.get("engine")) not in _MAJOR_ENGINES:
        return ""
    was, now = _major(old.get("engineVersion")), _major(new.get("engineVersion"))
    if was is None or now is None or was == now:
        return ""
    if now < was:
        return f"PostgreSQL downgrade {was} -> {now}: RDS refuses it (restore a snapshot of the older major instead)"
    text = (
        f"PostgreSQL major upgrade {was} -> {now}: minutes of downtime while RDS upgrades in place, "
        "and it cannot be undone (only a snapshot restore goes back)"
    )
    if not _truthy(new.get("allowMajorVersionUpgrade")):
        text += "; RDS refuses it: `allowMajorVersionUpgrade` is not set"
    return text


def _minor(version: Any) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", str(version or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def kubernetes_version_change(type_: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What a change of an EKS control plane's Kubernetes version means, or "" when it is unchanged."""
    if type_ != "aws:eks/cluster:Cluster":
        return ""
    was, now = _minor(old.get("version")), _minor(new.get("version"))
    if was is None or now is None or was == now:
        return ""
    names = f"{was[0]}.{was[1]} -> {now[0]}.{now[1]}"
    if now < was:
        return f"Kubernetes downgrade {names}: EKS refuses it (a new cluster is the only way back)"
    if now[0] != was[0] or now[1] - was[1] > 1:
        return f"Kubernetes upgrade {names} skips a minor: EKS refuses it (one minor at a time)"
    return (
        f"Kubernetes upgrade {names}: the control plane upgrades in place, then its add-ons and node groups "
        "roll; EKS cannot go back (check deprecated APIs first)"
    )


#: What a version change of a resource means for a reviewer, by kind of version.
VERSION_HAZARDS = (engine_major_change, kubernetes_version_change)


def diff_plans(old: Mapping[str, Any], new: Mapping[str, Any]) -> PlanDiff:
    """Compare two plans of one stack, matching resources by URN.

    Dependency lists are not compared: a dependency alone changes no cloud resource. But a replaced
    resource's outputs are all new (unknown until it exists), so every input built from one of them
    changes too: a replacement when that input forces one (a subnet's `vpcId`, an attachment's
    `role`), an update otherwise. A provider's new region replaces every regional resource it
    manages. Secrets compare by their keyed marks when both plans were written under one key.
    Component resources carry no inputs, so only their creation or deletion shows.
    """
    before, after = _entries(old), _entries(new)
    secrets_compared = True
    if not old.get("secretKey") or old.get("secretKey") != new.get("secretKey"):
        # Unkeyed plans never compare secrets (documented above); say so only when a key was expected.
        keyed = bool(old.get("secretKey") or new.get("secretKey"))
        for entries in (before, after):
            for e in entries.values():
                e["inputs"] = _unkeyed(e.get("inputs") or {})
                secrets_compared = secrets_compared and not (keyed and _has_mark(e["inputs"]))
    # A resource registered under a new name with an alias to its old URN is the same resource.
    # What the mocks computed (ids, ARNs, auto-names) is the adopted resource's own, not new, and
    # so is what its dependents hold of it.
    adopted: dict[str, str] = {}
    for urn, entry in list(after.items()):
        for alias in entry.get("aliases") or ():
            if alias in before and alias not in after and urn not in before:
                was = before.pop(alias)
                computed = [k for k in entry.get("computed") or () if k in _inputs(was)]
                for key in computed:
                    new_value, old_value = _inputs(entry).get(key), _inputs(was)[key]
                    if isinstance(new_value, str) and isinstance(old_value, str) and new_value:
                        adopted[new_value] = old_value
                before[urn] = {**was, "urn": urn}
                after[urn] = {**entry, "inputs": {**_inputs(entry), **{k: _inputs(was)[k] for k in computed}}}
                break
    if adopted:
        for entry in after.values():
            entry["inputs"] = _substitute(_inputs(entry), adopted)
    gone = {u: before[u] for u in sorted(before.keys() - after.keys())}
    born = {u: after[u] for u in sorted(after.keys() - before.keys())}
    moves = _pair_moves(gone, born)
    kept = sorted(before.keys() & after.keys())
    relocated = _relocated_providers(before, after, kept)
    planned: dict[str, Change] = {}
    unknown: set[str] = set()
    hazards: list[str] = []
    renewed: dict[str, frozenset[str]] = {was["urn"]: _outputs(was) for was, _ in moves}
    renewed.update({now["urn"]: _outputs(was) for was, now in moves})

    def classify(urn: str) -> Change | None:
        was, now = before[urn], after[urn]
        old_in, new_in = _inputs(was), _inputs(now)
        # Properties the program tells the engine to ignore after creation never change the resource.
        ignored = now.get("ignoreChanges") or ()
        paths = [p for p in changed_paths(old_in, new_in) if not any(_covers(rule, p) for rule in ignored)]
        fed = {p: urns for p, urns in _fed_by(now, renewed).items() if not any(_covers(r, p) for r in ignored)}
        followed = [p for p in fed if p not in paths]
        paths += followed
        moved_region = str(now.get("provider") or "") in relocated and now["custom"] and _is_regional(now["type"])
        if moved_region and "region" not in paths:
            paths.append("region")
        if bool(was.get("protect")) != bool(now.get("protect")):
            paths.append("(protect)")
        if not paths:
            return None
        notes: list[str] = []
        if moved_region:
            notes.append("its provider's region changes")
        if followed:
            cause = sorted({u for p in followed for u in fed[p]})
            names = ", ".join(_code(before[d]["name"] if d in before else after[d]["name"]) for d in cause)
            notes.append(f"gets the new outputs of {names}")
        provider = after.get(str(now.get("provider") or ""), {})
        triggers = replace_triggers(
            now["type"], old_in, new_in, paths, now.get("replaceOnChanges") or (), _inputs(provider)
        )
        if moved_region:
            triggers = sorted({*triggers, "region"})
        if triggers:
            protected = {**now, "protect": was.get("protect") or now.get("protect")}
            return _change("replace", protected, triggers, "; ".join(notes))
        return _change("update", now, paths, "; ".join(notes))

    # Replacements renew outputs, which can replace dependents in turn: repeat until nothing new is replaced.
    while True:
        for urn in kept:
            change = classify(urn)
            if change is not None:
                planned[urn] = change
        fresh = {u: _outputs(before[u]) for u, c in planned.items() if c.action == "replace" and u not in renewed}
        if not fresh:
            break
        renewed.update(fresh)

    for urn, change in list(planned.items()):
        now = after[urn]
        for prop, why in PROVIDER_HAZARDS.get(now["type"], {}).items():
            if any(_covers(prop, p) for p in change.properties):
                hazards.append(f"provider {_code(now['name'])}: {why}")
        major = next(
            filter(None, (hazard(now["type"], _inputs(before[urn]), _inputs(now)) for hazard in VERSION_HAZARDS)), ""
        )
        if major:
            hazards.append(f"{_code(now['name'])} ({_code(now['type'])}): {major}")
            note = "; ".join(filter(None, (change.note, major)))
            planned[urn] = dataclasses.replace(change, note=note)
        if change.action == "update" and now["custom"] and replace_rules(now["type"]) is None:
            unknown.add(now["type"])

    note = "new parent, so a new URN: created anew and the old one deleted unless an alias links them"
    moved = [_change("replace", {**now, "protect": was.get("protect")}, ("(parent)",), note) for was, now in moves]

    def of(action: Action, extra: Iterable[Change] = ()) -> tuple[Change, ...]:
        chosen = [c for c in planned.values() if c.action == action] + list(extra)
        return tuple(sorted(chosen, key=lambda c: c.urn))

    return PlanDiff(
        creates=of("create", (_change("create", e) for e in born.values())),
        updates=of("update"),
        replaces=of("replace", moved),
        deletes=of("delete", (_change("delete", e) for e in gone.values())),
        unknown_types=tuple(sorted(unknown)),
        hazards=tuple(hazards),
        secrets_compared=secrets_compared,
    )


# --- Markdown for a pull request -------------------------------------------------------------------

MAX_COMMENT_CHARS = 60_000
"""GitHub refuses comments over 65,536 characters; folded details are dropped past this."""


def _props(change: Change) -> str:
    return ", ".join(_code(p) for p in change.properties) or "-"


def _warning_line(stack: str, c: Change) -> str:
    verb = "replaced" if c.action == "replace" else "deleted"
    why = f" because of {_props(c)}" if c.properties else ""
    flags: list[str] = []
    if c.stateful:
        flags.append(STATEFUL_REASONS[c.type])
    if c.protected:
        flags.append("protected: `pulumi up` refuses until protect is lifted")
    if c.retained:
        flags.append("retained on delete: the cloud resource stays, outside the stack")
    if c.note:
        flags.append(c.note)
    return f"- **{_cell(stack)}**: {_code(c.name)} ({_code(c.type)}) is **{verb}**{why}. " + "; ".join(flags)


def render_markdown(diffs_by_stack: Mapping[str, PlanDiff]) -> str:
    """A PR comment: counts per stack, dangerous changes first, the rest folded per stack.

    Stacks appear in the mapping's order; changes within a stack by action, then URN.
    """
    head = [
        "## Infrastructure plan",
        "",
        "| Stack | Create | Update | Replace | Delete |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for stack, diff in diffs_by_stack.items():
        n = diff.counts()
        head.append(f"| {_cell(stack)} | {n['create']} | {n['update']} | {n['replace']} | {n['delete']} |")

    danger = [
        line
        for stack, diff in diffs_by_stack.items()
        for line in (
            *(_warning_line(stack, c) for c in diff.dangerous),
            *(f"- **{_cell(stack)}**: {h}" for h in diff.hazards),
        )
    ]
    head += ["", "### :warning: Stateful or protected resources replaced or deleted", ""]
    head += danger or ["None: no stateful or protected resource is replaced or deleted."]

    details: list[str] = []
    for stack, diff in diffs_by_stack.items():
        if diff.is_empty():
            details += ["", f"**{_cell(stack)}**: no changes."]
            continue
        n = diff.counts()
        summary = ", ".join(f"{n[a]} {a}" for a in ("create", "update", "replace", "delete") if n[a])
        details += [
            "",
            f"<details><summary>{_cell(stack)}: {summary}</summary>",
            "",
            "| Action | Resource | Type | Properties |",
            "| --- | --- | --- | --- |",
        ]
        details += [
            f"| {c.action} | {_code(c.name)} | {_code(c.type)} | {_cell(_props(c))} |"
            for c in (*diff.replaces, *diff.deletes, *diff.updates, *diff.creates)
        ]
        if not diff.secrets_compared:
            details += ["", "Secret values were not compared: the plans were written under different keys."]
        if diff.unknown_types:
            kinds = ", ".join(_code(t) for t in diff.unknown_types)
            details += ["", f"Replace rules unknown for {kinds}: an update listed for them may be a replacement."]
        details += ["", "</details>"]

    text = "\n".join(head + details) + "\n"
    if len(text) > MAX_COMMENT_CHARS:
        text = "\n".join([*head, "", "_Per-resource details are too long for a comment; run the plan diff locally._"])
        text += "\n"
    return text


# --- duration estimate -----------------------------------------------------------------------------

#: Typical creation time in seconds of the slow resource types; everything else takes DEFAULT_SECONDS.
TYPICAL_SECONDS: dict[str, int] = {
    "aws:eks/cluster:Cluster": 600,
    "aws:rds/instance:Instance": 600,
    "aws:eks/nodeGroup:NodeGroup": 240,
    "aws:ec2/natGateway:NatGateway": 120,
    "kubernetes:helm.sh/v3:Release": 180,
    "kubernetes:helm.sh/v4:Chart": 180,
    "aws:eks/addon:Addon": 60,
    "aws:lb/loadBalancer:LoadBalancer": 180,
}
DEFAULT_SECONDS = 5


def typical_seconds(type_: str) -> int:
    """Creation time of one resource of `type_`; providers are configuration and take none."""
    if type_.startswith("pulumi:providers:"):
        return 0
    return TYPICAL_SECONDS.get(type_, DEFAULT_SECONDS)


@dataclass(frozen=True)
class Estimate:
    """Time to create a stack from nothing, and the dependency chain that sets it (URNs, first to last)."""

    total_seconds: int
    critical_path: tuple[str, ...]


def _gates(entry: Mapping[str, Any], entries: Mapping[str, Any]) -> list[str]:
    """What a resource's own start waits for: its dependencies and its provider (a Kubernetes object
    waits for its provider, which waits for the cluster its kubeconfig names)."""
    gates = set(entry.get("dependencies") or ())
    provider = str(entry.get("provider") or "")
    if provider in entries:
        gates.add(provider)
    return sorted(gates)


def waits_for(plan: Mapping[str, Any], urn: str) -> set[str]:
    """Every resource the engine finishes before `urn` starts, transitively.

    A resource waits for its dependencies and its provider, and for whatever its parent waits for (a
    child registers only after its parent, and a component registers after its `depends_on`). A
    dependency on a component is already recorded as one on each of its children.
    """
    entries = _entries(plan)
    memo: dict[str, frozenset[str]] = {}

    def before(node: str, visiting: frozenset[str]) -> frozenset[str]:
        if node in memo:
            return memo[node]
        entry = entries.get(node)
        if entry is None or node in visiting:
            return frozenset()
        found: set[str] = set()
        for gate in _gates(entry, entries):
            found |= {gate, *before(gate, visiting | {node})}
        parent = str(entry.get("parent", ""))
        if parent in entries:
            found |= before(parent, visiting | {node})
        memo[node] = frozenset(found)
        return memo[node]

    return set(before(urn, frozenset()))


def estimate_duration(plan: Mapping[str, Any]) -> Estimate:
    """Longest path through the graph the engine waits on, each resource starting when its
    dependencies and provider finish and its parent may start.

    Components take no time: depending on a component means waiting for all its children, so a
    component finishes with its last child.
    """
    entries = _entries(plan)
    children: dict[str, list[str]] = {}
    for urn, e in entries.items():
        children.setdefault(str(e.get("parent", "")), []).append(urn)
    starts: dict[str, tuple[int, str | None]] = {}
    finish: dict[str, int] = {}
    previous: dict[str, str | None] = {}

    def start(urn: str, visiting: frozenset[str]) -> tuple[int, str | None]:
        if urn in starts:
            return starts[urn]
        entry = entries[urn]
        at, via = 0, None
        for dep in _gates(entry, entries):
            end = done(dep, visiting | {urn})
            if end > at:
                at, via = end, dep
        parent = str(entry.get("parent", ""))
        if parent in entries and parent not in visiting:
            parent_at, parent_via = start(parent, visiting | {urn})
            if parent_at > at:
                at, via = parent_at, parent_via
        starts[urn] = (at, via)
        return starts[urn]

    def done(urn: str, visiting: frozenset[str]) -> int:
        if urn in finish:
            return finish[urn]
        entry = entries.get(urn)
        if entry is None or urn in visiting:
            return 0  # outside the plan (or a cycle the engine would refuse anyway)
        at, via = start(urn, visiting)
        if entry["custom"]:
            end = at + typical_seconds(entry["type"])
        else:
            end = at
            for child in sorted(children.get(urn, ())):
                child_end = done(child, visiting | {urn})
                if child_end > end:
                    end, via = child_end, child
        finish[urn], previous[urn] = end, via
        return end

    for urn in sorted(entries):
        done(urn, frozenset())
    if not finish:
        return Estimate(0, ())
    last = min(finish, key=lambda u: (-finish[u], u))
    chain: list[str] = []
    node: str | None = last
    seen: set[str] = set()
    while node is not None and node not in seen:
        seen.add(node)
        if entries[node]["custom"] and typical_seconds(entries[node]["type"]) > 0:
            chain.append(node)
        node = previous.get(node)
    return Estimate(finish[last], tuple(reversed(chain)))


def describe_estimate(plan: Mapping[str, Any], estimate: Estimate) -> list[str]:
    """Human lines: the total, then each step of the critical path with its own time."""
    entries = _entries(plan)
    minutes, seconds = divmod(estimate.total_seconds, 60)
    lines = [f"estimated creation from scratch: {minutes}m {seconds:02d}s ({estimate.total_seconds} s)"]
    lines.append("critical path:")
    for urn in estimate.critical_path:
        e = entries[urn]
        lines.append(f"  {typical_seconds(e['type']):>4} s  {e['name']} ({e['type']})")
    return lines
