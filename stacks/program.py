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
from components.ansible import render_inventory
from components.bucket import SecureBucket, SecureBucketArgs
from components.fleet import Fleet, FleetArgs
from components.kms import autoscaling_service_statements, logs_service_statement
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from stacks.settings import APP_SERVICE, Settings, load_settings


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
            egress=[
                Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS to AWS APIs, SSM and package repositories"),
                *(r.flow() for r in settings.extra_egress),
            ],
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

    volumes_key = EncryptionKey(
        "volumes",
        EncryptionKeyArgs(
            context=context,
            description=f"hardstack {stack}: EBS volumes of the fleet",
            service_statements=autoscaling_service_statements(context),
            protect=settings.protect,
        ),
        opts,
    )
    alb = LoadBalancer(
        "web",
        LoadBalancerArgs(
            context=context,
            vpc_id=network.vpc_id,
            subnet_ids=network.subnet_ids["public"],
            security_group_id=lb.id,
            app_port=settings.app_port,
            certificate_arn=settings.certificate_arn,
            allow_plain_http=settings.environment == "test",
            deletion_protection=settings.alb_deletion_protection,
            access_logs=settings.alb_access_logs,
            log_retention_days=settings.log_retention_days,
            protect=settings.protect,
        ),
        opts,
    )
    fleet = Fleet(
        "app",
        FleetArgs(
            context=context,
            subnet_ids=network.subnet_ids["private"],
            security_group_ids=[app.id],
            image_id=settings.fleet_image_id,
            instance_type=settings.fleet_instance_type,
            min_size=settings.fleet_min_size,
            max_size=settings.fleet_max_size,
            desired_capacity=settings.fleet_desired_capacity,
            user_data=settings.user_data(),
            secret_parameters=sorted(settings.app_secret_parameters.values()),
            kms_key_arn=volumes_key.arn,
            target_group_arns=[alb.target_group_arn],
            min_healthy_percentage=90,
            environment=settings.environment,
            role=APP_SERVICE,
        ),
        opts,
    )
    # Ansible's SSM connection moves module files through a bucket; objects live a day.
    transfer = SecureBucket(
        "ansible-transfer", SecureBucketArgs(versioning=False, expiration_days=1, protect=settings.protect), opts
    )
    inventory = transfer.bucket.apply(
        lambda bucket: render_inventory(
            region=settings.region, environment=settings.environment, role=APP_SERVICE, ssm_bucket=bucket
        )
    )

    return {
        "albDnsName": alb.dns_name,
        "fleetGroupName": fleet.group_name,
        "ansibleInventory": inventory,
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
