"""Stack settings: `pulumi.Config` read once, validated into one typed model.

The per-environment profile below is the one place where test, preprod and prod differ. A stack's
`Pulumi.<stack>.yaml` may override any profile value; unsafe overrides are refused in prod.
Errors name the config key, show the value and say what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.addressing import validate_az_count, validate_vpc_cidr
from components.context import validate_region
from components.errors import HardstackError, refuse
from components.fleet import validate_image_id, validate_instance_type, validate_sizes
from components.load_balancer import validate_certificate_arn
from components.network import NAT_STRATEGIES, NatStrategy, validate_log_retention
from components.rules import Flow, Peer, Port
from components.userdata import NODE_EXPORTER_PORT, render_cloud_init

NAMESPACE = "hardstack"
Environment = Literal["test", "preprod", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("test", "preprod", "prod")
TargetGroup = Literal["lb", "app", "data"]
#: Service name and inventory role of the fleet's application.
APP_SERVICE = "app"

#: What differs between environments, in one table. Keys are the settings' config names.
PROFILES: dict[Environment, dict[str, Any]] = {
    "test": {
        "azCount": 2,
        "natStrategy": "single",
        "logRetentionDays": 14,
        "protect": False,
        "fleetInstanceType": "t3.micro",
        "fleetMinSize": 1,
        "fleetMaxSize": 2,
        "fleetDesiredCapacity": 1,
        "albDeletionProtection": False,
        "albAccessLogs": False,
    },
    "preprod": {
        "azCount": 2,
        "natStrategy": "single",
        "logRetentionDays": 90,
        "protect": False,
        "fleetInstanceType": "t3.small",
        "fleetMinSize": 2,
        "fleetMaxSize": 4,
        "fleetDesiredCapacity": 2,
        "albDeletionProtection": False,
        "albAccessLogs": True,
    },
    "prod": {
        "azCount": 3,
        "natStrategy": "per_az",
        "logRetentionDays": 365,
        "protect": True,
        "fleetInstanceType": "m7i.large",
        "fleetMinSize": 3,
        "fleetMaxSize": 9,
        "fleetDesiredCapacity": 3,
        "albDeletionProtection": True,
        "albAccessLogs": True,
    },
}


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, str_strip_whitespace=True
    )


class FlowSetting(_Model):
    """An extra flow an operator opens: a CIDR, a port or range, and why."""

    cidr: str
    from_port: int = Field(ge=0, le=65535)
    to_port: int | None = Field(default=None, ge=0, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    description: str

    def flow(self) -> Flow:
        port = Port(self.protocol, self.from_port, self.to_port if self.to_port is not None else self.from_port)
        return Flow(port, Peer.cidr(self.cidr), self.description)


class IngressSetting(FlowSetting):
    """An extra inbound flow, e.g. an office range to the load balancer."""

    to: TargetGroup


class Settings(_Model):
    """Everything a stack needs, validated. Field docs say the default."""

    region: str = Field(alias="aws:region")
    """AWS region (config `aws:region`). Required."""
    environment: Environment
    """test, preprod or prod: picks the profile. Required."""
    vpc_cidr: str
    """Private VPC range, /16 to /22. Required."""
    az_count: int
    """AZs used. Default: profile (2, 2, 3)."""
    nat_strategy: NatStrategy
    """none, single or per_az. Default: profile."""
    log_retention_days: int
    """Retention of flow logs and other log groups. Default: profile."""
    protect: bool
    """Protect stateful resources. Default: profile (on in prod; turning it off there is refused)."""
    flow_logs: bool = True
    """VPC flow logs. Default: on; off is refused in prod."""
    app_port: int = Field(default=8080, ge=1, le=65535)
    """Port the application listens on behind the load balancer. Default: 8080."""
    extra_ingress: tuple[IngressSetting, ...] = ()
    """Extra inbound flows. Default: none."""
    extra_egress: tuple[FlowSetting, ...] = ()
    """Extra outbound flows from the app hosts (beyond HTTPS and PostgreSQL). Default: none."""
    fleet_image_id: str
    """Pinned AMI of the fleet (AL2023; see the README for the command that resolves it). Required."""
    fleet_instance_type: str
    fleet_min_size: int
    fleet_max_size: int
    fleet_desired_capacity: int
    """Fleet sizes. Default: profile; prod runs at least one instance per AZ."""
    app_secret_parameters: dict[str, str] = Field(default_factory=dict)
    """Environment variable -> SSM parameter name the hosts read at boot. Default: none."""
    certificate_arn: str | None = None
    """ACM certificate of the HTTPS listener. Required outside test (plain HTTP only in test)."""
    alb_deletion_protection: bool
    alb_access_logs: bool
    """Load balancer deletion protection and access logs. Default: profile (on in prod)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags added to every resource. Default: none beyond hardstack's own."""

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        return validate_region(v)

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        validate_vpc_cidr(v, "hardstack:vpcCidr")
        return v

    @field_validator("az_count")
    @classmethod
    def _azs(cls, v: int) -> int:
        return validate_az_count(v, "hardstack:azCount")

    @field_validator("nat_strategy", mode="before")
    @classmethod
    def _nat(cls, v: Any) -> Any:
        if v not in NAT_STRATEGIES:
            raise refuse("hardstack:natStrategy", v, f"one of {', '.join(NAT_STRATEGIES)}")
        return v

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        return validate_log_retention(v, "hardstack:logRetentionDays")

    @field_validator("app_port")
    @classmethod
    def _app_port(cls, v: int) -> int:
        admin = Port.tcp(v).admin_ports()
        if admin:
            raise refuse("hardstack:appPort", v, f"an application port, not admin port {admin[0]}")
        if v < 1024 or v == NODE_EXPORTER_PORT:
            raise refuse("hardstack:appPort", v, f"1024 to 65535 (the app runs unprivileged), not {NODE_EXPORTER_PORT}")
        return v

    @field_validator("fleet_image_id")
    @classmethod
    def _image(cls, v: str) -> str:
        return validate_image_id(v, "hardstack:fleetImageId")

    @field_validator("fleet_instance_type")
    @classmethod
    def _instance_type(cls, v: str) -> str:
        return validate_instance_type(v, "hardstack:fleetInstanceType")

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, v: str | None) -> str | None:
        return None if v is None else validate_certificate_arn(v, "hardstack:certificateArn")

    @model_validator(mode="after")
    def _checks(self) -> Settings:
        for i, rule in enumerate(self.extra_ingress):
            where = f"hardstack:extraIngress[{i}]"
            try:
                flow = rule.flow()
            except HardstackError as err:
                raise HardstackError(f"{where}: {err}") from None
            flow.refuse_world_open("ingress", where)
        for i, egress in enumerate(self.extra_egress):
            try:
                egress.flow()
            except HardstackError as err:
                raise HardstackError(f"hardstack:extraEgress[{i}]: {err}") from None
        validate_sizes(
            self.fleet_min_size,
            self.fleet_max_size,
            self.fleet_desired_capacity,
            ("hardstack:fleetMinSize", "hardstack:fleetMaxSize", "hardstack:fleetDesiredCapacity"),
        )
        try:
            self.user_data()  # rendered and checked (16 KB, no secrets) before anything is registered
        except HardstackError as err:
            raise HardstackError(f"hardstack:appSecretParameters: {err}") from None
        if self.certificate_arn is None and self.environment != "test":
            raise refuse(
                "hardstack:certificateArn", None, f"an ACM certificate ARN: {self.environment} serves HTTPS only"
            )
        if self.environment == "prod":
            if self.fleet_min_size < self.az_count:
                raise refuse(
                    "hardstack:fleetMinSize",
                    self.fleet_min_size,
                    f"at least one instance per AZ in prod: {self.az_count} or more (hardstack:azCount)",
                )
            if not self.protect:
                raise refuse("hardstack:protect", False, "prod keeps stateful resources protected")
            if not self.flow_logs:
                raise refuse("hardstack:flowLogs", False, "prod keeps VPC flow logs on")
        return self

    def user_data(self) -> str:
        """The fleet's cloud-init document for these settings."""
        return render_cloud_init(
            service_name=APP_SERVICE,
            app_port=self.app_port,
            environment=self.environment,
            region=self.region,
            secret_parameters=self.app_secret_parameters,
        )

    def base_tags(self, project: str, stack: str) -> dict[str, str]:
        return {"Project": project, "Environment": self.environment, "Stack": stack, "ManagedBy": "pulumi", **self.tags}


def _key_name(loc: tuple[int | str, ...]) -> str:
    head, *rest = loc
    key = str(head) if ":" in str(head) else f"{NAMESPACE}:{to_camel(str(head))}"
    for part in rest:
        key += f"[{part}]" if isinstance(part, int) else f".{to_camel(part)}"
    return key


def _message(error: Any) -> str:
    key = _key_name(error["loc"]) if error["loc"] else "settings"
    if error["type"] == "missing":
        return f"{key} is required: set it with `pulumi config set {key} <value>`"
    if error["type"] == "extra_forbidden":
        known = ", ".join(
            sorted(f"{NAMESPACE}:{f.alias}" for f in Settings.model_fields.values() if f.alias and ":" not in f.alias)
        )
        return f"{key} is not a known setting (a typo?): known keys are {known}"
    ctx_error = error.get("ctx", {}).get("error")
    if isinstance(ctx_error, HardstackError):
        return str(ctx_error)
    return f"{key} = {error['input']!r} is refused: {error['msg']}"


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """Validate raw config (`{"aws:region": ..., "hardstack:vpcCidr": ...}`) against the profile."""
    env = config.get(f"{NAMESPACE}:environment")
    if env is None:
        raise HardstackError(f"{NAMESPACE}:environment is required: one of {', '.join(ENVIRONMENTS)}")
    if env not in ENVIRONMENTS:
        raise refuse(f"{NAMESPACE}:environment", env, f"one of {', '.join(ENVIRONMENTS)}")
    values: dict[str, Any] = dict(PROFILES[env])
    for key, value in config.items():
        ns, _, name = key.partition(":")
        if ns == NAMESPACE:
            values[name] = value
    if "aws:region" in config:
        values["aws:region"] = config["aws:region"]
    try:
        return Settings.model_validate(values)
    except ValidationError as err:
        raise HardstackError("\n".join(_message(e) for e in err.errors())) from None


def _decode(value: str) -> Any:
    """Config arrives as strings; objects and lists travel as JSON."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def read_config() -> dict[str, Any]:
    """Every `aws:` and `hardstack:` config value of the running stack, decoded. The only reader."""
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {k: _decode(v) if isinstance(v, str) else v for k, v in raw.items() if k.split(":")[0] in (NAMESPACE, "aws")}


def load_settings() -> Settings:
    return parse_settings(read_config())
