"""Hosts outside the cluster supervised by its Prometheus: EC2 service discovery and host alerts.

No resources here: `Monitoring` turns a `HostDiscovery` into a scrape job in the chart's values, the
Prometheus service account's IAM role annotation and a PrometheusRule with `host_rules`. The IAM role
itself (trust on the Prometheus service account, `EC2_SD_POLICY`) belongs to the program, which owns
the cluster's OIDC provider.

Discovery (``ec2_sd_configs``): running instances of the region carrying the fleet's
``Environment`` and ``Role`` tags (the tags the Ansible inventory selects on), scraped on their
private IP at node_exporter's port. Prometheus refreshes the list every minute, so hosts an instance
refresh or a scale-out adds are scraped without any change here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from hardstack.core.ansible import ENVIRONMENT_TAG, FLEET_TAG, ROLE_TAG
from hardstack.core.errors import refuse
from hardstack.core.userdata import NODE_EXPORTER_PORT

#: Scrape job of the discovered hosts; the host alerts select on it.
HOST_JOB = "ec2-hosts"
#: Annotation the EKS pod identity webhook reads to hand a pod the role's credentials (IRSA).
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
#: What Prometheus's EC2 discovery calls. Neither action supports resource-level permissions (the
#: Service Authorization Reference lists no resource type for them), so `Resource` must be "*".
EC2_SD_ACTIONS: tuple[str, ...] = ("ec2:DescribeInstances", "ec2:DescribeAvailabilityZones")
EC2_SD_POLICY: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Ec2ServiceDiscovery", "Effect": "Allow", "Action": list(EC2_SD_ACTIONS), "Resource": "*"}],
}
REFRESH_INTERVAL = "60s"
SCRAPE_INTERVAL = "30s"

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_TAG_VALUE = re.compile(r"^[\w.:/=+@ -]{1,256}$")


@dataclass(frozen=True, kw_only=True)
class HostDiscovery:
    """EC2 hosts Prometheus finds by their tags and scrapes for node_exporter.

    ``HostDiscovery(region="eu-west-3", environment="prod", role="app", role_arn=role.arn)``
    """

    region: str
    """Region the hosts run in."""
    environment: str
    """Value of their `Environment` tag."""
    role: str
    """Value of their `Role` tag."""
    role_arn: pulumi.Input[str]
    """IAM role of the Prometheus service account (IRSA), allowed `EC2_SD_ACTIONS` only."""
    port: int = NODE_EXPORTER_PORT
    """node_exporter's port on the hosts. Default: 9100."""
    fleet: str | None = None
    """Value of their `hardstack:fleet` tag (`Fleet` sets it from the project, stack and fleet name), so
    two stacks of one environment in one account never scrape each other's hosts. Default: none."""

    def __post_init__(self) -> None:
        if not isinstance(self.region, str) or not _REGION.match(self.region):
            raise refuse("host_discovery.region", self.region, "an AWS region such as eu-west-3")
        named = [("environment", self.environment), ("role", self.role)]
        for where, value in named + ([("fleet", self.fleet)] if self.fleet is not None else []):
            if not isinstance(value, str) or not _TAG_VALUE.match(value):
                raise refuse(
                    f"host_discovery.{where}", value, "an EC2 tag value: 1-256 of letters, digits, space and _.:/=+-@"
                )
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise refuse("host_discovery.port", self.port, "a TCP port, 1 to 65535")


def host_scrape_config(discovery: HostDiscovery) -> dict[str, Any]:
    """One Prometheus scrape job for the hosts (an `additionalScrapeConfigs` entry)."""
    return {
        "job_name": HOST_JOB,
        "scrape_interval": SCRAPE_INTERVAL,
        "ec2_sd_configs": [
            {
                "region": discovery.region,
                "port": discovery.port,
                "refresh_interval": REFRESH_INTERVAL,
                "filters": [
                    {"name": f"tag:{ENVIRONMENT_TAG}", "values": [discovery.environment]},
                    {"name": f"tag:{ROLE_TAG}", "values": [discovery.role]},
                    *([{"name": f"tag:{FLEET_TAG}", "values": [discovery.fleet]}] if discovery.fleet else []),
                    # Stopped and terminating instances would only show up as HostDown.
                    {"name": "instance-state-name", "values": ["running"]},
                ],
            }
        ],
        "relabel_configs": [
            # The hosts have no public address; the cluster reaches them inside the VPC.
            {
                "source_labels": ["__meta_ec2_private_ip"],
                "regex": "(.+)",
                "target_label": "__address__",
                "replacement": f"${{1}}:{discovery.port}",
            },
            {"source_labels": ["__meta_ec2_instance_id"], "target_label": "instance"},
            {"source_labels": ["__meta_ec2_availability_zone"], "target_label": "availability_zone"},
            {"source_labels": [f"__meta_ec2_tag_{ENVIRONMENT_TAG}"], "target_label": "environment"},
            {"source_labels": [f"__meta_ec2_tag_{ROLE_TAG}"], "target_label": "role"},
        ],
    }


_HOST = f'job="{HOST_JOB}"'
# Real disks only: tmpfs and overlays come and go with processes and containers.
_FS = f'{_HOST},fstype!~"tmpfs|overlay|squashfs|ramfs",mountpoint!=""'


def _alert(name: str, expr: str, for_: str, severity: str, summary: str, means: str, first: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": means, "runbook": first},
    }


def host_rules() -> dict[str, Any]:
    """The PrometheusRule spec of the hosts: down, disk, memory, routed as page or ticket."""
    rules = [
        _alert(
            "FleetHostsAllDown",
            f"absent(up{{{_HOST}}} == 1)",
            "5m",
            "page",
            "No fleet host is scraped: every host is down, or discovery or the network path is broken",
            "Prometheus finds no fleet host answering node_exporter. Either the fleet is down (check the "
            "ALB healthy-host alarm) or Prometheus cannot discover or reach them.",
            "check the fleet's Auto Scaling group; then the Prometheus logs for ec2_sd errors (its IAM role) "
            "and the fleet security group's 9100 rule from the cluster.",
        ),
        _alert(
            "HostDown",
            f"up{{{_HOST}}} == 0",
            # A host an instance refresh terminates fails its scrapes until the next discovery
            # refresh (a minute) drops it: 5 minutes never mistakes a rollout for an outage.
            "5m",
            "ticket",
            "Fleet host {{ $labels.instance }} has not answered a scrape for 5 minutes",
            "node_exporter on {{ $labels.instance }} ({{ $labels.availability_zone }}) does not answer: the host "
            "is hung, booting badly or node_exporter stopped.",
            "open a session (aws ssm start-session --target {{ $labels.instance }}), `systemctl status "
            "node_exporter`; if the host is broken, terminate it and let the group replace it.",
        ),
        _alert(
            "HostDiskWillFillIn4Hours",
            f"predict_linear(node_filesystem_avail_bytes{{{_FS}}}[1h], 4 * 3600) < 0\n"
            f"and\nnode_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}} < 0.2\n"
            f"and\nnode_filesystem_readonly{{{_FS}}} == 0",
            "30m",
            "page",
            "Disk {{ $labels.mountpoint }} on {{ $labels.instance }} fills up within 4 hours",
            "At the last hour's rate, {{ $labels.mountpoint }} on {{ $labels.instance }} is full within 4 hours; "
            "a full disk stops the application and its logs.",
            "find what grows (`du -xsh /var/log/* /tmp`), rotate or remove it; replace the host if it is the "
            "root volume and the cause is unclear.",
        ),
        _alert(
            "HostDiskSpaceLow",
            f"node_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}} < 0.1\n"
            f"and\nnode_filesystem_readonly{{{_FS}}} == 0",
            "15m",
            "ticket",
            "Disk {{ $labels.mountpoint }} on {{ $labels.instance }} has less than 10% free",
            "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free.",
            "clean it up or grow the volume in the launch template (a refresh rolls the fleet).",
        ),
        _alert(
            "HostMemoryLow",
            f"node_memory_MemAvailable_bytes{{{_HOST}}} / node_memory_MemTotal_bytes{{{_HOST}}} < 0.1",
            "15m",
            "ticket",
            "Host {{ $labels.instance }} has less than 10% memory available",
            "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its memory available; the kernel "
            "will soon kill processes (the application first).",
            "check the app's memory (`systemctl status app`), restart it if it leaks; a larger instance type "
            "if the load is real.",
        ),
    ]
    return {"groups": [{"name": "hosts", "rules": rules}]}


__all__ = [
    "EC2_SD_ACTIONS",
    "EC2_SD_POLICY",
    "HOST_JOB",
    "IRSA_ANNOTATION",
    "HostDiscovery",
    "host_rules",
    "host_scrape_config",
]
