"""The stack program: settings -> components -> exports.

Security groups created here are the ones later components attach to: `lb` (internet-facing load
balancer), `app` (fleet and cluster workloads) and `data` (databases).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import (
    AwsContext,
    EncryptionKey,
    EncryptionKeyArgs,
    Flow,
    Network,
    NetworkArgs,
    Peer,
    Port,
    SecurityGroup,
    SecurityGroupArgs,
)
from components.kms import logs_service_statement
from stacks.settings import Settings, load_settings


def build(settings: Settings) -> dict[str, object]:
    """Compose the stack from validated settings; return what it exports."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    tags = settings.base_tags(project, stack)
    provider = aws.Provider(
        "aws",
        region=settings.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    opts = pulumi.ResourceOptions(provider=provider)
    context = AwsContext.lookup(settings.region, pulumi.InvokeOptions(provider=provider))

    logs_key = EncryptionKey(
        "logs",
        EncryptionKeyArgs(
            context=context,
            description=f"hardstack {stack}: CloudWatch log groups",
            service_statements=[logs_service_statement(context)],
            protect=settings.protect,
        ),
        opts,
    )
    network = Network(
        "net",
        NetworkArgs(
            context=context,
            cidr=settings.vpc_cidr,
            az_count=settings.az_count,
            nat=settings.nat_strategy,
            flow_logs=settings.flow_logs,
            log_retention_days=settings.log_retention_days,
            log_key_arn=logs_key.arn,
            protect=settings.protect,
        ),
        opts,
    )

    extra = {target: [r.flow() for r in settings.extra_ingress if r.to == target] for target in ("lb", "app", "data")}
    app_port = Port.tcp(settings.app_port)
    lb = SecurityGroup(
        "lb",
        SecurityGroupArgs(
            vpc_id=network.vpc_id,
            description="internet-facing load balancer",
            ingress=[
                Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS from the internet"),
                Flow(Port.HTTP, Peer.any_ipv4(), "HTTP from the internet, redirected to HTTPS"),
                *extra["lb"],
            ],
        ),
        opts,
    )
    app = SecurityGroup(
        "app",
        SecurityGroupArgs(
            vpc_id=network.vpc_id,
            description="application hosts and workloads",
            # Package repositories, SSM and AWS APIs are all HTTPS.
            egress=[Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS to AWS APIs, SSM and package repositories")],
            ingress=extra["app"],
        ),
        opts,
    )
    data = SecurityGroup(
        "data",
        SecurityGroupArgs(vpc_id=network.vpc_id, description="databases, no egress", ingress=extra["data"]),
        opts,
    )
    app.allow_from(lb, app_port, "load balancer to the application port")
    data.allow_from(app, Port.POSTGRES, "application to PostgreSQL")

    return {
        "environment": settings.environment,
        "region": settings.region,
        "vpcId": network.vpc_id,
        "vpcCidr": network.vpc_cidr,
        "subnetIds": network.subnet_ids,
        "routeTableIds": network.route_table_ids,
        "addressPlan": network.plan.as_dict(),
        "securityGroupIds": {"lb": lb.id, "app": app.id, "data": data.id},
        "logsKeyArn": logs_key.arn,
    }


def main() -> None:
    """Entry point of `pulumi up`: settings are validated before any resource is registered."""
    settings = load_settings()
    for key, value in build(settings).items():
        pulumi.export(key, value)
