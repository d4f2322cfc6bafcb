"""Hardening policies as pure functions, shared by the policy pack and the tests.

No resources here. A resource check is `(resource_type, props, *, tier, protect) -> messages`;
an empty list means compliant. `props` use the engine's camelCase property names, exactly as the
policy pack's `args.props` and a test `Recording`'s `.inputs` have them. Stack checks see every
resource at once (flow logs per VPC, protection of stateful resources).

`tier` is the stack's `Tier`, or None for "not known": production rules then apply, so a hardening
pack fails closed. The policy pack resolves it with `resolve_tier`.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, Protocol

from hardstack.core.rules import ADMIN_PEERS_ALLOWED, ADMIN_PORTS, WORLD_CIDRS, WORLD_OPEN_PORTS, is_public_cidr
from hardstack.core.tier import STACK_TIERS, Tier, parse_tier

Enforcement = Literal["mandatory", "advisory"]

INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
VOLUME = "aws:ebs/volume:Volume"
DB_INSTANCE = "aws:rds/instance:Instance"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SNS_TOPIC = "aws:sns/topic:Topic"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
# The provider still ships the `alb` module as an alias of `lb`; both tokens reach the engine.
LOAD_BALANCERS = frozenset({"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"})
LISTENERS = frozenset({"aws:lb/listener:Listener", "aws:alb/listener:Listener"})
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
#: AWS managed policies that allow reading every SSM parameter of the account (ssm:GetParameter* on *).
WIDE_PARAMETER_POLICIES = frozenset(
    f"arn:aws:iam::aws:policy/{name}"
    for name in (
        "AmazonSSMManagedInstanceCore",
        "AmazonSSMReadOnlyAccess",
        "AmazonSSMFullAccess",
        "ReadOnlyAccess",
        "PowerUserAccess",
        "AdministratorAccess",
    )
)
_PARAMETER_READS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath")
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
#: The AWS Load Balancer Controller associates this web ACL with the ALB it makes for an Ingress.
WAF_ACL_ANNOTATION = "alb.ingress.kubernetes.io/wafv2-acl-arn"
#: Kubernetes workloads -> the path of their pod spec in the object.
POD_SPECS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "kubernetes:core/v1:Pod": ("spec",),
        "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
        "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
        "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
        "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
        "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
        "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    }
)

#: Deleting or replacing these loses data or breaks everything built on them.
STATEFUL_TYPES = frozenset({DB_INSTANCE, BUCKET, KMS_KEY, VPC, SUBNET, EKS_CLUSTER, VOLUME})

#: Load balancer security policies that refuse TLS 1.0 and 1.1. A listener without `sslPolicy` gets
#: ELBSecurityPolicy-2016-08 from the API, which accepts TLS 1.0: so the policy must be named.
TLS12_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS-1-2-2017-01",
        "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
        "ELBSecurityPolicy-FS-1-2-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    }
)
#: `sseAlgorithm` values at least as strong as S3's default (SSE-S3, AES256).
S3_SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
MIN_PROD_BACKUP_DAYS = 7


class Check(Protocol):
    """A resource check: violation messages for one resource, empty when compliant."""

    def __call__(
        self,
        resource_type: str,
        props: Mapping[str, Any],
        *,
        tier: Tier | None = None,
        protect: bool | None = None,
    ) -> list[str]: ...


@dataclass(frozen=True)
class Policy:
    """A resource policy; the pack registers one `ResourceValidationPolicy` per entry of `POLICIES`."""

    name: str
    description: str
    enforcement: Enforcement
    check: Check


class StackResource(NamedTuple):
    """One resource as a stack check sees it. A plain `(type, props, protect)` tuple is accepted too."""

    type: str
    props: Mapping[str, Any]
    protect: bool
    urn: str = ""
    #: Input property -> URNs it was computed from; lets a flow log match its VPC while ids are unknown.
    property_dependencies: Mapping[str, Sequence[str]] = MappingProxyType({})

    @property
    def label(self) -> str:
        name = self.urn.rsplit("::", 1)[-1] if self.urn else ""
        return f"{self.type} {name!r}" if name else self.type


class Finding(NamedTuple):
    """A stack-level violation; `urn` is the offending resource ("" for the stack as a whole)."""

    message: str
    urn: str = ""


StackCheck = Callable[[Sequence[StackResource], Tier | None], list[Finding]]


@dataclass(frozen=True)
class StackPolicy:
    """A stack policy; the pack registers one `StackValidationPolicy` per entry of `STACK_POLICIES`."""

    name: str
    description: str
    enforcement: Enforcement
    check: StackCheck = field(repr=False)


# --- reading props --------------------------------------------------------------------------------


def _get(props: Any, *path: str) -> Any:
    """The value at `path` in nested mappings, None where any step is missing."""
    value = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _blocks(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list property (nested blocks such as `ingress` or `blockDeviceMappings`)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def _strings(value: Any) -> list[str]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [v for v in value if isinstance(v, str)]
    return []


def _is_true(value: Any) -> bool:
    # Some provider booleans are typed as strings ("true"/"false"), e.g. in launch templates.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _is_prod(tier: Tier | None) -> bool:
    return tier is None or tier.is_production


# --- network --------------------------------------------------------------------------------------


def _open_port_violation(protocol: Any, from_port: Any, to_port: Any, sources: Sequence[str], what: str) -> list[str]:
    world = sorted(set(sources) & WORLD_CIDRS)
    # Narrower public ranges (0.0.0.0/1, a public /8 or /32) may reach web and app ports, not admin ports.
    public = sorted({s for s in sources if s not in WORLD_CIDRS and is_public_cidr(s)})
    if not world and not public:
        return []
    proto = str(protocol).lower() if protocol is not None else "?"
    low, high = _number(from_port), _number(to_port)
    web_only = False
    if proto in ("-1", "all"):
        shown = "all protocols and ports"
        admin_exposed = True
    elif low is None:
        shown = f"{proto} (ports unset)"
        admin_exposed = False
    else:
        first, last = int(low), int(high if high is not None else low)
        web_only = proto in ("tcp", "6") and first == last and first in WORLD_OPEN_PORTS
        shown = f"{proto} {first}" if first == last else f"{proto} {first}-{last}"
        admin = [f"{port} {label}" for port, label in ADMIN_PORTS.items() if first <= port <= last]
        if admin:
            shown += f" (admin: {', '.join(admin)})"
        # For ICMP the "ports" are type and code: no admin service behind them.
        admin_exposed = bool(admin) and proto in ("tcp", "6", "udp", "17")
    messages: list[str] = []
    if world and not web_only:
        messages.append(
            f"{what} opens {shown} to {', '.join(world)}: only tcp 80 and 443 may be reached from the internet; "
            "restrict the source to a CIDR or a security group"
        )
    if public and admin_exposed:
        messages.append(f"{what} opens {shown} to public {', '.join(public)}: {ADMIN_PEERS_ALLOWED}")
    return messages


def no_world_open_admin_ports(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Ingress from 0.0.0.0/0 or ::/0 only to tcp 80 and 443, never all protocols; from any other
    public range, no admin port (nor all protocols, which include them)."""
    if resource_type == INGRESS_RULE:
        sources = [s for s in (_get(props, "cidrIpv4"), _get(props, "cidrIpv6")) if isinstance(s, str)]
        return _open_port_violation(
            _get(props, "ipProtocol"), _get(props, "fromPort"), _get(props, "toPort"), sources, "ingress rule"
        )
    if resource_type == SECURITY_GROUP_RULE:
        if _get(props, "type") != "ingress":
            return []
        blocks = [props]
    elif resource_type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        blocks = _blocks(_get(props, "ingress"))
    else:
        return []
    messages: list[str] = []
    for i, block in enumerate(blocks):
        sources = _strings(_get(block, "cidrBlocks")) + _strings(_get(block, "ipv6CidrBlocks"))
        what = "ingress rule" if resource_type == SECURITY_GROUP_RULE else f"inline ingress[{i}]"
        messages += _open_port_violation(
            _get(block, "protocol"), _get(block, "fromPort"), _get(block, "toPort"), sources, what
        )
    return messages


def no_public_ips(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Instances, subnets and databases get no public address; the internet reaches the load balancer only."""
    if resource_type == LAUNCH_TEMPLATE:
        return [
            f"networkInterfaces[{i}].associatePublicIpAddress is true: launch instances in private subnets "
            "and reach them through the load balancer or SSM"
            for i, nic in enumerate(_blocks(_get(props, "networkInterfaces")))
            if _is_true(_get(nic, "associatePublicIpAddress"))
        ]
    if resource_type == INSTANCE and _is_true(_get(props, "associatePublicIpAddress")):
        return ["associatePublicIpAddress is true: use a private subnet and reach the instance through SSM"]
    if resource_type == SUBNET and _is_true(_get(props, "mapPublicIpOnLaunch")):
        return ["mapPublicIpOnLaunch is true: set it false; load balancers and NAT gateways do not need it"]
    if resource_type == DB_INSTANCE and _is_true(_get(props, "publiclyAccessible")):
        return ["publiclyAccessible is true: databases stay in isolated subnets; set it false"]
    return []


def imdsv2_required(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Instance metadata needs session tokens (IMDSv2) and one hop, so containers cannot borrow the host role.

    EKS node templates included: pods get credentials from IRSA or Pod Identity, not from the node.
    """
    if resource_type not in (LAUNCH_TEMPLATE, INSTANCE):
        return []
    options = _get(props, "metadataOptions")
    if _get(options, "httpEndpoint") == "disabled":
        return []
    messages: list[str] = []
    tokens = _get(options, "httpTokens")
    if tokens != "required":
        messages.append(f'metadataOptions.httpTokens = {tokens!r}: set "required" (IMDSv2 only)')
    hops = _number(_get(options, "httpPutResponseHopLimit"))
    # Unset, the AMI decides, and current AMIs default to 2 hops: so the limit must be explicit.
    if hops is None or hops > 1:
        shown = "unset" if hops is None else int(hops)
        messages.append(f"metadataOptions.httpPutResponseHopLimit = {shown}: set 1")
    return messages


# --- encryption at rest ---------------------------------------------------------------------------


def ebs_encrypted(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Every EBS volume a template, instance or volume declares is encrypted."""
    if resource_type == VOLUME:
        return [] if _is_true(_get(props, "encrypted")) else ["encrypted is not true: set encrypted and a kmsKeyId"]
    if resource_type == LAUNCH_TEMPLATE:
        return [
            f'blockDeviceMappings[{i}] ({_get(m, "deviceName") or "?"}) is not encrypted: set ebs.encrypted "true"'
            for i, m in enumerate(_blocks(_get(props, "blockDeviceMappings")))
            if _get(m, "ebs") is not None and not _is_true(_get(m, "ebs", "encrypted"))
        ]
    if resource_type == INSTANCE:
        messages: list[str] = []
        root = _get(props, "rootBlockDevice")
        if root is not None and not _is_true(_get(root, "encrypted")):
            messages.append("rootBlockDevice is not encrypted: set encrypted true")
        messages += [
            f"ebsBlockDevices[{i}] ({_get(d, 'deviceName') or '?'}) is not encrypted: set encrypted true"
            for i, d in enumerate(_blocks(_get(props, "ebsBlockDevices")))
            if not _is_true(_get(d, "encrypted"))
        ]
        return messages
    return []


def rds_storage_encrypted(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Database storage, snapshots and backups are encrypted."""
    if resource_type == DB_INSTANCE and not _is_true(_get(props, "storageEncrypted")):
        return ["storageEncrypted is not true: set it with a customer kmsKeyId (it cannot be changed later)"]
    return []


def s3_encryption_not_weakened(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """S3 encrypts every object by default (AES256); an explicit configuration may only strengthen that."""
    if resource_type != BUCKET_ENCRYPTION:
        return []
    rules = _blocks(_get(props, "rules"))
    if not rules:
        return ["no rules: give one with applyServerSideEncryptionByDefault (AES256 or aws:kms)"]
    messages: list[str] = []
    for i, rule in enumerate(rules):
        algorithm = _get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        if algorithm not in S3_SSE_ALGORITHMS:
            messages.append(
                f"rules[{i}] sseAlgorithm = {algorithm!r}: use one of {', '.join(sorted(S3_SSE_ALGORITHMS))}"
            )
    return messages


def sns_topic_encrypted(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """SNS topics encrypt messages at rest with KMS."""
    if resource_type == SNS_TOPIC and not _get(props, "kmsMasterKeyId"):
        return ["kmsMasterKeyId is not set: give a customer key ARN (or alias/aws/sns)"]
    return []


def log_group_encrypted(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Log groups use a customer KMS key (CloudWatch encrypts them anyway; a key adds access control)."""
    if resource_type == LOG_GROUP and not _get(props, "kmsKeyId"):
        return ["kmsKeyId is not set: give the logs key ARN (hardstack.aws.kms.logs_service_statement)"]
    return []


def kms_key_rotation(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Symmetric KMS keys rotate yearly. AWS refuses rotation for asymmetric and HMAC keys: not checked."""
    if resource_type != KMS_KEY:
        return []
    spec = _get(props, "customerMasterKeySpec") or _get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT" or _is_true(_get(props, "enableKeyRotation")):
        return []
    return ["enableKeyRotation is not true: set it"]


def eks_secrets_encrypted(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Kubernetes secrets are envelope-encrypted with a customer KMS key."""
    if resource_type != EKS_CLUSTER:
        return []
    config = _get(props, "encryptionConfig")
    if "secrets" in _strings(_get(config, "resources")) and _get(config, "provider", "keyArn"):
        return []
    return ['encryptionConfig does not cover "secrets" with a provider.keyArn: add both']


# --- data protection ------------------------------------------------------------------------------


def rds_backup_retention(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Prod databases keep at least a week of automated backups."""
    if resource_type != DB_INSTANCE or not _is_prod(tier):
        return []
    days = _number(_get(props, "backupRetentionPeriod"))
    if days is not None and days >= MIN_PROD_BACKUP_DAYS:
        return []
    shown = "unset" if days is None else int(days)
    return [f"backupRetentionPeriod = {shown} in prod: keep at least {MIN_PROD_BACKUP_DAYS} days"]


def rds_deletion_protection(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Prod databases refuse deletion at the API, whatever deletes them."""
    if resource_type == DB_INSTANCE and _is_prod(tier) and not _is_true(_get(props, "deletionProtection")):
        return ["deletionProtection is not true in prod: set it"]
    return []


def s3_public_access_blocked(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """A bucket's public access block turns on all four settings."""
    if resource_type != BUCKET_PUBLIC_ACCESS_BLOCK:
        return []
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [flag for flag in flags if not _is_true(_get(props, flag))]
    return [f"{', '.join(off)} not true: set all four"] if off else []


# --- Kubernetes control plane ---------------------------------------------------------------------


def eks_endpoint_not_world_open(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """The cluster API is private, or public only to named CIDRs."""
    if resource_type != EKS_CLUSTER:
        return []
    vpc_config = _get(props, "vpcConfig")
    public = _get(vpc_config, "endpointPublicAccess")
    if public is not None and not _is_true(public):
        return []
    # AWS defaults to a public endpoint open to 0.0.0.0/0 when these are unset.
    cidrs = _strings(_get(vpc_config, "publicAccessCidrs")) or ["0.0.0.0/0"]
    world = sorted(set(cidrs) & WORLD_CIDRS)
    if not world:
        return []
    return [
        f"the public API endpoint is open to {', '.join(world)}: set vpcConfig.endpointPublicAccess false "
        "or list your CIDRs in publicAccessCidrs"
    ]


def eks_control_plane_logs(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Every control plane log type goes to CloudWatch."""
    if resource_type != EKS_CLUSTER:
        return []
    missing = [t for t in EKS_LOG_TYPES if t not in _strings(_get(props, "enabledClusterLogTypes"))]
    if not missing:
        return []
    return [f"enabledClusterLogTypes lacks {', '.join(missing)}: enable all of {', '.join(EKS_LOG_TYPES)}"]


# --- load balancers -------------------------------------------------------------------------------


def alb_drop_invalid_headers(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """Application load balancers drop malformed headers instead of passing them to targets."""
    if resource_type not in LOAD_BALANCERS:
        return []
    if (_get(props, "loadBalancerType") or "application") != "application":
        return []
    if _is_true(_get(props, "dropInvalidHeaderFields")):
        return []
    return ["dropInvalidHeaderFields is not true: set it (request smuggling defence)"]


def listener_tls_policy(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """HTTPS and TLS listeners name a security policy that refuses TLS 1.0 and 1.1."""
    if resource_type not in LISTENERS or _get(props, "protocol") not in ("HTTPS", "TLS"):
        return []
    policy = _get(props, "sslPolicy")
    if policy in TLS12_POLICIES:
        return []
    shown = "unset (the API default accepts TLS 1.0)" if policy is None else repr(policy)
    return [f"sslPolicy is {shown}: use ELBSecurityPolicy-TLS13-1-2-2021-06 or another TLS 1.2+ policy"]


def prod_http_redirects(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """In prod a plain HTTP listener only redirects to HTTPS (or answers a fixed response); it never forwards."""
    if resource_type not in LISTENERS or _get(props, "protocol") != "HTTP" or not _is_prod(tier):
        return []
    messages: list[str] = []
    for i, action in enumerate(_blocks(_get(props, "defaultActions"))):
        kind = _get(action, "type")
        if kind == "fixed-response" or (kind == "redirect" and _get(action, "redirect", "protocol") == "HTTPS"):
            continue
        messages.append(f"defaultActions[{i}] is {kind!r} on plain HTTP in prod: redirect to HTTPS instead")
    return messages


# --- workloads ------------------------------------------------------------------------------------


def prod_images_by_digest(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
) -> list[str]:
    """In prod every container image is pinned by digest: a tag can be moved to other content."""
    path = POD_SPECS.get(resource_type)
    if path is None or not _is_prod(tier):
        return []
    spec = _get(props, *path)
    messages: list[str] = []
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in _blocks(_get(spec, kind)):
            image = _get(container, "image")
            if isinstance(image, str) and "@sha256:" not in image:
                messages.append(
                    f"{kind}[{_get(container, 'name')}].image {image!r} has no digest in prod: "
                    "pin it as repo:tag@sha256:<digest>"
                )
    return messages


# --- stack checks ---------------------------------------------------------------------------------


def _stack_resources(resources: Sequence[Any]) -> Iterator[StackResource]:
    for r in resources:
        yield r if isinstance(r, StackResource) else StackResource(*r)


def _refers_to(flow: StackResource, vpc: StackResource) -> bool:
    if vpc.urn and vpc.urn in flow.property_dependencies.get("vpcId", ()):
        return True
    target = _get(flow.props, "vpcId")
    return target is not None and target in (_get(vpc.props, "id"), _get(vpc.props, "arn"))


def check_flow_logs(resources: Sequence[Any], tier: Tier | None = None) -> list[Finding]:
    """Every VPC has a flow log whose `vpcId` is that VPC."""
    stack = list(_stack_resources(resources))
    flows = [r for r in stack if r.type == FLOW_LOG]
    return [
        Finding(f"{vpc.label} has no aws:ec2/flowLog:FlowLog: add one (hardstack.aws.network does)", vpc.urn)
        for vpc in stack
        if vpc.type == VPC and not any(_refers_to(flow, vpc) for flow in flows)
    ]


def _points_at(ref: StackResource, prop: str, target: StackResource) -> bool:
    """`ref.props[prop]` is `target`'s ARN: by dependency while ARNs are unknown, else by value."""
    if target.urn and target.urn in ref.property_dependencies.get(prop, ()):
        return True
    value = _get(ref.props, prop)
    return value is not None and value == _get(target.props, "arn")


def _public_alb_ingress(ingress: StackResource) -> bool:
    """An Ingress the AWS Load Balancer Controller serves from an internet-facing ALB."""
    annotations = _get(ingress.props, "metadata", "annotations") or {}
    alb_class = "alb" in (
        _get(ingress.props, "spec", "ingressClassName"),
        annotations.get("kubernetes.io/ingress.class"),
    )
    return alb_class and annotations.get("alb.ingress.kubernetes.io/scheme") == "internet-facing"


def check_prod_public_albs_have_waf(resources: Sequence[Any], tier: Tier | None = None) -> list[Finding]:
    """In prod, every internet-facing ALB is behind a WAF web ACL: the stack's own ALBs through an
    association, the ones the AWS Load Balancer Controller makes through the Ingress annotation."""
    if not _is_prod(tier):
        return []
    stack = list(_stack_resources(resources))
    associations = [r for r in stack if r.type == WEB_ACL_ASSOCIATION]
    findings = [
        Finding(f"{lb.label} is internet-facing with no web ACL in prod: associate one (hardstack.aws.waf)", lb.urn)
        for lb in stack
        if lb.type in LOAD_BALANCERS
        and (_get(lb.props, "loadBalancerType") or "application") == "application"
        and not _is_true(_get(lb.props, "internal"))
        and not any(_points_at(a, "resourceArn", lb) for a in associations)
    ]
    findings += [
        Finding(f"{ing.label} makes an internet-facing ALB with no {WAF_ACL_ANNOTATION} annotation in prod", ing.urn)
        for ing in stack
        if ing.type == INGRESS
        and _public_alb_ingress(ing)
        and not (_get(ing.props, "metadata", "annotations") or {}).get(WAF_ACL_ANNOTATION)
    ]
    return findings


def _statements(policy: StackResource) -> list[Mapping[str, Any]]:
    """The statements of an inline policy, or none while its document is unknown (a preview)."""
    document = _get(policy.props, "policy")
    if not isinstance(document, str):
        return []
    try:
        parsed = json.loads(document)
    except ValueError:
        return []
    found = parsed.get("Statement", []) if isinstance(parsed, dict) else []
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def _one_or_many(value: Any) -> list[str]:
    """An IAM element that is one string or a list of them."""
    return [value] if isinstance(value, str) else _strings(value)


def _actions_match(actions: Any, wanted: str) -> bool:
    return any(fnmatch.fnmatchcase(wanted.lower(), a.lower()) for a in _one_or_many(actions))


def _of_role(ref: StackResource, role: StackResource) -> bool:
    if role.urn and role.urn in ref.property_dependencies.get("role", ()):
        return True
    value = _get(ref.props, "role")
    return value is not None and value in (_get(role.props, "name"), _get(role.props, "id"))


def _reads_every_parameter(statement: Mapping[str, Any]) -> bool:
    resources = _one_or_many(statement.get("Resource"))
    wide = any(r == "*" or r.endswith(":parameter/*") or r.endswith(":*") for r in resources)
    return (
        statement.get("Effect") == "Allow"
        and wide
        and any(_actions_match(statement.get("Action"), a) for a in _PARAMETER_READS)
    )


def _denies_other_parameters(statement: Mapping[str, Any]) -> bool:
    denied = statement.get("Effect") == "Deny" and all(
        _actions_match(statement.get("Action"), a) for a in _PARAMETER_READS
    )
    return denied and ("NotResource" in statement or "*" in _one_or_many(statement.get("Resource")))


def check_no_wide_parameter_reads(resources: Sequence[Any], tier: Tier | None = None) -> list[Finding]:
    """No role may read every SSM parameter of the account: a role given a managed policy or an inline
    statement that allows it also carries an explicit Deny outside its own parameters."""
    stack = list(_stack_resources(resources))
    findings = []
    for role in (r for r in stack if r.type == IAM_ROLE):
        inline = [s for p in stack if p.type == IAM_ROLE_POLICY and _of_role(p, role) for s in _statements(p)]
        managed = [a for a in stack if a.type == IAM_ROLE_POLICY_ATTACHMENT and _of_role(a, role)]
        wide = any(_get(a.props, "policyArn") in WIDE_PARAMETER_POLICIES for a in managed) or any(
            _reads_every_parameter(s) for s in inline
        )
        if wide and not any(_denies_other_parameters(s) for s in inline):
            findings.append(
                Finding(
                    f"{role.label} may read every SSM parameter of the account: add a Deny of "
                    "ssm:GetParameter* outside its own parameters (hardstack.aws.fleet does)",
                    role.urn,
                )
            )
    return findings


def check_prod_protection(resources: Sequence[Any], tier: Tier | None = None) -> list[Finding]:
    """In prod, stateful resources carry `protect`, so no update or destroy can delete them by accident."""
    if not _is_prod(tier):
        return []
    return [
        Finding(f"{r.label} is not protected in prod: pass protect=True to its component", r.urn)
        for r in _stack_resources(resources)
        if r.type in STATEFUL_TYPES and not r.protect
    ]


def check_stack(resources: Sequence[Any], tier: Tier | None = None) -> list[Finding]:
    """Every stack policy over the whole stack: `resources` are `StackResource`s or `(type, props, protect)`."""
    stack = list(_stack_resources(resources))
    return [finding for policy in STACK_POLICIES for finding in policy.check(stack, tier)]


# --- tier ----------------------------------------------------------------------------------------


def stack_of_urn(urn: str) -> str:
    """The stack name in `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    parts = urn.split(":", 2)
    return parts[2].split("::", 1)[0] if len(parts) == 3 and parts[0] == "urn" else ""


def resolve_tier(configured: Any, stack: str, where: str = "tier") -> Tier | None:
    """The pack's `tier` config if set, else the tier a stack of that name gets by default, else None.

    None makes production rules apply, so a stack named otherwise ("alice-dev") must set the config
    to relax them: the same default the stack settings derive (`STACK_TIERS`).
    """
    if configured is not None:
        return parse_tier(configured, where)
    return STACK_TIERS.get(stack)


# --- registry -------------------------------------------------------------------------------------

POLICIES: tuple[Policy, ...] = (
    Policy(
        "no-world-open-admin-ports",
        "Security groups admit the internet only to tcp 80 and 443.",
        "mandatory",
        no_world_open_admin_ports,
    ),
    Policy("no-public-ips", "Instances, subnets and databases get no public IP address.", "mandatory", no_public_ips),
    Policy("imdsv2-required", "Instance metadata requires IMDSv2 and a hop limit of 1.", "mandatory", imdsv2_required),
    Policy("ebs-encrypted", "EBS volumes are encrypted.", "mandatory", ebs_encrypted),
    Policy("rds-storage-encrypted", "Database storage is encrypted.", "mandatory", rds_storage_encrypted),
    Policy(
        "s3-encryption-not-weakened",
        "Bucket encryption configurations use AES256 or KMS.",
        "mandatory",
        s3_encryption_not_weakened,
    ),
    Policy("sns-topic-encrypted", "SNS topics are encrypted with KMS.", "mandatory", sns_topic_encrypted),
    Policy("log-group-encrypted", "Log groups use a customer KMS key.", "advisory", log_group_encrypted),
    Policy("kms-key-rotation", "Symmetric KMS keys rotate automatically.", "mandatory", kms_key_rotation),
    Policy("eks-secrets-encrypted", "EKS encrypts Kubernetes secrets with KMS.", "mandatory", eks_secrets_encrypted),
    Policy(
        "eks-endpoint-not-world-open",
        "The EKS API endpoint is not open to the internet.",
        "mandatory",
        eks_endpoint_not_world_open,
    ),
    Policy("eks-control-plane-logs", "EKS sends every control plane log type.", "advisory", eks_control_plane_logs),
    Policy("rds-backup-retention", "Prod databases keep 7 days of backups or more.", "mandatory", rds_backup_retention),
    Policy("rds-deletion-protection", "Prod databases have deletion protection.", "mandatory", rds_deletion_protection),
    Policy(
        "s3-public-access-blocked",
        "Bucket public access blocks turn on all four settings.",
        "mandatory",
        s3_public_access_blocked,
    ),
    Policy(
        "alb-drop-invalid-headers",
        "Application load balancers drop invalid header fields.",
        "mandatory",
        alb_drop_invalid_headers,
    ),
    Policy("listener-tls-policy", "HTTPS listeners refuse TLS below 1.2.", "mandatory", listener_tls_policy),
    Policy(
        "prod-http-redirects",
        "In prod, plain HTTP listeners redirect to HTTPS.",
        "mandatory",
        prod_http_redirects,
    ),
    Policy(
        "prod-images-by-digest",
        "In prod, Kubernetes workloads run images pinned by digest.",
        "mandatory",
        prod_images_by_digest,
    ),
)

STACK_POLICIES: tuple[StackPolicy, ...] = (
    StackPolicy("vpc-flow-logs", "Every VPC has a flow log.", "mandatory", check_flow_logs),
    StackPolicy(
        "prod-stateful-protected",
        "In prod, databases, buckets, keys, networks, clusters and volumes are protected.",
        "mandatory",
        check_prod_protection,
    ),
    StackPolicy(
        "prod-public-albs-behind-waf",
        "In prod, internet-facing application load balancers, the ingress controller's included, have a web ACL.",
        "mandatory",
        check_prod_public_albs_have_waf,
    ),
    StackPolicy(
        "no-wide-parameter-reads",
        "No role may read every SSM parameter (and so every secret kept there) of the account.",
        "mandatory",
        check_no_wide_parameter_reads,
    ),
)


def check_resource(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    tier: Tier | None = None,
    protect: bool | None = None,
    enforcement: Enforcement | None = None,
) -> dict[str, list[str]]:
    """Every resource policy over one resource: policy name -> messages, violated policies only."""
    found: dict[str, list[str]] = {}
    for policy in POLICIES:
        if enforcement is not None and policy.enforcement != enforcement:
            continue
        messages = policy.check(resource_type, props, tier=tier, protect=protect)
        if messages:
            found[policy.name] = messages
    return found
