import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack import Flow, HardstackError, Peer, Port
from hardstack.core.tier import Tier
from hardstack.k8s.app import (
    DEFAULT_IMAGE,
    METRICS_PORT_NAME,
    SECRET_FILES_PATH,
    AlbIngress,
    App,
    AppArgs,
    DatabaseLogin,
    MigrationSpec,
    Resources,
    ingress_hostname,
    parse_image,
    parse_quantity,
)
from hardstack.tooling.manifests import (
    KUBERNETES_SCHEMA_VERSION,
    InvalidManifest,
    manifests_from,
    validate_manifests,
)
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
SERVICE = "kubernetes:core/v1:Service"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DIGEST = "sha256:" + "ab" * 32
MIGRATION = MigrationSpec(image="ghcr.io/acme/shop-migrate:1.4.0", command=["./migrate", "up"])


def app(**kw: Any) -> Callable[[], None]:
    """A program that builds the args inside it, so a refusal happens under the recorder."""

    def program() -> None:
        built = App("shop", AppArgs(**{"namespace": "apps", "tier": Tier.DEVELOPMENT, **kw}))
        pulumi.export("service", built.service_name)
        if built.migration_job_name is not None:
            pulumi.export("job", built.migration_job_name)

    return program


@pytest.fixture
def rec(run: Run) -> Recording:
    return run(app())


def pod(rec: Recording, type_: str = DEPLOYMENT) -> dict[str, Any]:
    spec: dict[str, Any] = rec.one(type_).inputs["spec"]["template"]["spec"]
    return spec


def container(rec: Recording, type_: str = DEPLOYMENT) -> dict[str, Any]:
    (only,) = pod(rec, type_)["containers"]
    return dict(only)


def policies(rec: Recording) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in rec.of_type(POLICY)}


# --- Deployment hardening ---------------------------------------------------------------------


def test_rolling_update_never_takes_a_serving_pod_away_first(rec: Recording) -> None:
    strategy = rec.one(DEPLOYMENT).inputs["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def test_pods_run_as_a_non_root_user_with_runtime_default_seccomp(rec: Recording) -> None:
    context = pod(rec)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == context["runAsGroup"] == context["fsGroup"] == 10001
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_container_cannot_escalate_write_its_root_or_keep_capabilities(rec: Recording) -> None:
    context = container(rec)["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}


def test_tmp_is_the_one_writable_place(rec: Recording) -> None:
    assert container(rec)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    (volume,) = pod(rec)["volumes"]
    assert volume["name"] == "tmp" and "emptyDir" in volume


def test_probes_check_readyz_and_healthz_on_the_http_port(rec: Recording) -> None:
    c = container(rec)
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_resources_default_to_small_requests_and_limits(rec: Recording) -> None:
    assert container(rec)["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }


def test_service_account_token_is_not_mounted(rec: Recording) -> None:
    assert rec.one("kubernetes:core/v1:ServiceAccount").inputs["automountServiceAccountToken"] is False
    assert pod(rec)["automountServiceAccountToken"] is False
    assert pod(rec)["serviceAccountName"] == "shop"


def test_service_account_token_is_mounted_only_when_asked(run: Run) -> None:
    assert pod(run(app(needs_service_account_token=True)))["automountServiceAccountToken"] is True


def test_pods_spread_across_zones_and_nodes_without_blocking_scheduling(rec: Recording) -> None:
    spread = {c["topologyKey"]: c for c in pod(rec)["topologySpreadConstraints"]}
    zone = spread["topology.kubernetes.io/zone"]
    assert zone["maxSkew"] == 1 and zone["whenUnsatisfiable"] == "ScheduleAnyway"
    assert zone["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "shop"
    assert "kubernetes.io/hostname" in spread


def test_pods_carry_the_name_and_part_of_labels(rec: Recording) -> None:
    labels = rec.one(DEPLOYMENT).inputs["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "shop" and labels["app.kubernetes.io/part-of"] == "hardstack"


def test_the_autoscaler_owns_the_replica_count(rec: Recording) -> None:
    assert "replicas" not in rec.one(DEPLOYMENT).inputs["spec"]
    hpa = rec.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"}
    (metric,) = hpa["metrics"]
    assert metric["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}


def test_podinfo_is_told_to_serve_metrics_on_the_metrics_port(rec: Recording) -> None:
    c = container(rec)
    assert c["image"] == DEFAULT_IMAGE
    assert "--port-metrics=9797" in c["command"] and "--port=9898" in c["command"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 9898, "metrics": 9797}


def test_other_images_keep_their_own_command(run: Run) -> None:
    assert "command" not in container(run(app(image="ghcr.io/acme/shop:2.1.0")))


def test_a_named_secret_is_mounted_read_only_as_files_never_as_environment(run: Run) -> None:
    rec = run(app(secret_files="shop-api-keys"))
    c = container(rec)
    assert "envFrom" not in c and all("valueFrom" not in e for e in c.get("env", []))
    assert {"name": "secret-files", "mountPath": SECRET_FILES_PATH, "readOnly": True} in c["volumeMounts"]
    volume = next(v for v in pod(rec)["volumes"] if v["name"] == "secret-files")
    assert volume["secret"] == {"secretName": "shop-api-keys", "optional": False, "defaultMode": 0o440}


# --- database login through IAM ---------------------------------------------------------------

LOGIN = DatabaseLogin(
    host="db.internal", port=5432, database="app", user="app_user", role_arn="arn:aws:iam::123456789012:role/app"
)
MIGRATION_LOGIN = DatabaseLogin(
    host="db.internal",
    port=5432,
    database="app",
    user="app_migrator",
    role_arn="arn:aws:iam::123456789012:role/migrate",
)


def accounts(rec: Recording) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: r.inputs for r in rec.of_type("kubernetes:core/v1:ServiceAccount")}


def test_a_database_login_gives_the_service_account_its_role_and_the_pods_no_password(run: Run) -> None:
    rec = run(app(database=LOGIN))
    sa = accounts(rec)["shop"]
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/app"}
    assert sa["automountServiceAccountToken"] is False
    env = {e["name"]: e["value"] for e in container(rec)["env"]}
    assert env == {
        "PGHOST": "db.internal",
        "PGPORT": "5432",
        "PGDATABASE": "app",
        "PGUSER": "app_user",
        "PGSSLMODE": "require",
    }
    # A non-root container reads the projected token through its group.
    assert pod(rec)["securityContext"]["fsGroup"] >= 10000


def test_the_migration_logs_in_as_its_own_user_on_its_own_service_account(run: Run) -> None:
    migration = MigrationSpec(image=MIGRATION.image, command=MIGRATION.command, database=MIGRATION_LOGIN)
    rec = run(app(database=LOGIN, migration=migration))
    assert pod(rec, JOB)["serviceAccountName"] == "shop-migrate" and pod(rec)["serviceAccountName"] == "shop"
    role = accounts(rec)["shop-migrate"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role == "arn:aws:iam::123456789012:role/migrate"
    assert {e["name"]: e["value"] for e in container(rec, JOB)["env"]}["PGUSER"] == "app_migrator"


def test_a_database_user_postgres_would_refuse_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"database\.user = 'App-User'"):
        DatabaseLogin(host="h", port=5432, database="app", user="App-User", role_arn="arn")


# --- Service, Ingress, budget -----------------------------------------------------------------


def test_service_keeps_the_monitoring_contract(rec: Recording) -> None:
    service = rec.one(SERVICE).inputs
    assert service["metadata"]["labels"]["app.kubernetes.io/name"] == "shop"
    assert service["spec"]["type"] == "ClusterIP"
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert set(ports) == {"http", METRICS_PORT_NAME} and METRICS_PORT_NAME == "metrics"
    assert ports["metrics"]["targetPort"] == "metrics" and ports["http"]["targetPort"] == "http"


def test_migration_pods_never_receive_service_traffic(run: Run) -> None:
    rec = run(app(migration=MIGRATION))
    selector = rec.one(SERVICE).inputs["spec"]["selector"]
    job_labels = rec.one(JOB).inputs["spec"]["template"]["metadata"]["labels"]
    assert not all(job_labels.get(k) == v for k, v in selector.items())


def test_ingress_routes_the_host_to_the_http_port_through_the_class(run: Run) -> None:
    ingress = run(app(host="shop.example.com", tls_secret_name="shop-tls")).one(
        "kubernetes:networking.k8s.io/v1:Ingress"
    )
    spec = ingress.inputs["spec"]
    assert spec["ingressClassName"] == "nginx"
    (rule,) = spec["rules"]
    assert rule["host"] == "shop.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "shop", "port": {"name": "http"}}
    assert spec["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]


CERT = "arn:aws:acm:eu-west-3:123456789012:certificate/00000000-0000-4000-8000-000000000002"
PUBLIC_CIDRS = ["10.0.0.0/24", "10.0.1.0/24"]
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"


HARDENED = "routing.http.drop_invalid_header_fields.enabled=true,routing.http.desync_mitigation_mode=defensive"


def alb(**kw: Any) -> AlbIngress:
    return AlbIngress(**{"source_cidrs": PUBLIC_CIDRS, "certificate_arn": CERT, **kw})


def test_an_alb_ingress_is_internet_facing_to_the_pod_ips_with_https_and_a_redirect(run: Run) -> None:
    ingress = run(app(tier=Tier.STAGING, replicas=2, load_balancer=alb())).one(INGRESS).inputs
    assert ingress["spec"]["ingressClassName"] == "alb"
    annotations = ingress["metadata"]["annotations"]
    assert annotations == {
        "alb.ingress.kubernetes.io/scheme": "internet-facing",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": "/readyz",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
        "alb.ingress.kubernetes.io/certificate-arn": CERT,
        "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "alb.ingress.kubernetes.io/load-balancer-attributes": HARDENED,
    }
    assert "tls" not in ingress["spec"]


def test_a_production_alb_keeps_deletion_protection(run: Run) -> None:
    ingress = run(app(tier=Tier.PRODUCTION, replicas=2, load_balancer=alb())).one(INGRESS).inputs
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-attributes"] == (
        f"{HARDENED},deletion_protection.enabled=true"
    )


def test_every_alb_drops_invalid_headers_and_mitigates_desync(run: Run) -> None:
    annotations = run(app(load_balancer=alb())).one(INGRESS).inputs["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/load-balancer-attributes"] == HARDENED


def test_a_development_alb_without_a_certificate_listens_on_http_only(run: Run) -> None:
    annotations = run(app(load_balancer=alb(certificate_arn=None))).one(INGRESS).inputs["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTP": 80}]'
    assert "alb.ingress.kubernetes.io/ssl-redirect" not in annotations


def test_an_alb_ingress_without_a_certificate_is_refused_outside_development() -> None:
    with pytest.raises(
        HardstackError, match=r"load_balancer\.certificate_arn = None is refused: .*staging Ingress serves HTTPS"
    ):
        AppArgs(namespace="apps", tier=Tier.STAGING, load_balancer=alb(certificate_arn=None))


def test_an_alb_ingress_needs_the_subnets_it_connects_from() -> None:
    with pytest.raises(HardstackError, match=r"load_balancer\.source_cidrs = \[\] is refused"):
        AlbIngress(source_cidrs=[])


def test_an_alb_ingress_refuses_another_class_and_a_tls_secret() -> None:
    with pytest.raises(HardstackError, match=r"ingress_class = 'nginx'"):
        AppArgs(namespace="apps", tier=Tier.DEVELOPMENT, ingress_class="nginx", load_balancer=alb())
    with pytest.raises(HardstackError, match=r"tls_secret_name = 'shop-tls'.*TLS ends at the ALB"):
        AppArgs(
            namespace="apps",
            tier=Tier.DEVELOPMENT,
            host="shop.example.com",
            tls_secret_name="shop-tls",
            load_balancer=alb(),
        )


def test_with_an_alb_http_is_open_only_to_the_load_balancers_subnets(run: Run) -> None:
    found = policies(run(app(load_balancer=alb())))
    assert "shop-allow-http-from-ingress" not in found
    (rule,) = found["shop-allow-http-from-load-balancer"]["ingress"]
    assert rule["from"] == [{"ipBlock": {"cidr": c}} for c in PUBLIC_CIDRS]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9898}]


def test_with_an_alb_a_stopping_pod_serves_while_it_is_deregistered(run: Run) -> None:
    assert container(run(app(load_balancer=alb())))["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert "lifecycle" not in container(run(app()))


def test_the_ingress_hostname_is_the_load_balancers_name() -> None:
    status = k8s.networking.v1.outputs.IngressStatus(
        load_balancer=k8s.networking.v1.outputs.IngressLoadBalancerStatus(
            ingress=[k8s.networking.v1.outputs.IngressLoadBalancerIngress(hostname="k8s-app-1.elb.amazonaws.com")]
        )
    )
    assert ingress_hostname(status) == "k8s-app-1.elb.amazonaws.com"
    assert ingress_hostname(None) is None
    assert ingress_hostname(k8s.networking.v1.outputs.IngressStatus()) is None


def test_ingress_names_the_web_acl_the_load_balancer_controller_associates(run: Run) -> None:
    acl = "arn:aws:wafv2:eu-west-3:123456789012:regional/webacl/web/0123"
    ingress = run(app(waf_acl_arn=acl)).one("kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.inputs["metadata"]["annotations"] == {"alb.ingress.kubernetes.io/wafv2-acl-arn": acl}


def test_ingress_without_a_web_acl_carries_no_waf_annotation(rec: Recording) -> None:
    ingress = rec.one("kubernetes:networking.k8s.io/v1:Ingress")
    assert "alb.ingress.kubernetes.io/wafv2-acl-arn" not in (ingress.inputs["metadata"].get("annotations") or {})


def test_disruption_budget_lets_one_pod_go_at_a_time(rec: Recording) -> None:
    spec = rec.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec
    assert spec["selector"]["matchLabels"]["app.kubernetes.io/name"] == "shop"


def test_disruption_budget_takes_min_available_when_asked(run: Run) -> None:
    spec = run(app(replicas=3, pdb_min_available=2)).one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    assert spec["minAvailable"] == 2 and "maxUnavailable" not in spec


# --- migration --------------------------------------------------------------------------------


def test_migration_job_runs_before_the_deployment(run: Run) -> None:
    rec = run(app(migration=MIGRATION))
    assert rec.one(JOB).urn in rec.one(DEPLOYMENT).dependencies


def test_no_job_without_a_migration(rec: Recording) -> None:
    assert rec.of_type(JOB) == []


def test_migration_job_name_changes_with_the_image(run: Run) -> None:
    first = run(app(migration=MIGRATION)).outputs["job"]
    newer = MigrationSpec(image="ghcr.io/acme/shop-migrate:1.5.0", command=MIGRATION.command)
    second = run(app(migration=newer)).outputs["job"]
    assert first != second and first.startswith("shop-migrate-") and second.startswith("shop-migrate-")


def test_migration_job_name_is_stable_for_the_same_release(run: Run) -> None:
    assert run(app(migration=MIGRATION)).outputs["job"] == run(app(migration=MIGRATION)).outputs["job"]


def test_migration_job_is_hardened_like_the_app_and_tracked_to_completion(run: Run) -> None:
    rec = run(app(migration=MIGRATION, secret_files="shop-api-keys"))
    job = rec.one(JOB)
    spec = job.inputs["spec"]
    assert spec["backoffLimit"] <= 3 and "ttlSecondsAfterFinished" not in spec
    assert "pulumi.com/skipAwait" not in job.inputs["metadata"].get("annotations", {})
    assert pod(rec, JOB)["restartPolicy"] == "Never"
    assert pod(rec, JOB)["securityContext"] == pod(rec)["securityContext"]
    assert pod(rec, JOB)["automountServiceAccountToken"] is False
    c = container(rec, JOB)
    assert c["securityContext"] == container(rec)["securityContext"]
    assert c["command"] == ["./migrate", "up"] and c["volumeMounts"] == container(rec)["volumeMounts"]
    assert job.delete_before_replace


# --- network policies -------------------------------------------------------------------------


def test_http_is_open_only_to_the_ingress_controller_namespace(rec: Recording) -> None:
    policy = policies(rec)["shop-allow-http-from-ingress"]
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9898}]


def test_metrics_are_open_only_to_the_monitoring_namespace(rec: Recording) -> None:
    (rule,) = policies(rec)["shop-allow-metrics-from-monitoring"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9797}]


def test_pods_may_reach_kube_dns(rec: Recording) -> None:
    policy = policies(rec)["shop-allow-dns"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "shop"}}
    (rule,) = policy["egress"]
    assert rule["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert sorted(p["protocol"] for p in rule["ports"]) == ["TCP", "UDP"]


def test_pods_may_reach_the_database_subnets_on_5432_only(run: Run) -> None:
    policy = policies(run(app(database_cidrs=["10.0.32.0/20", "10.0.48.0/20"])))["shop-allow-database"]
    (rule,) = policy["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": "10.0.32.0/20"}}, {"ipBlock": {"cidr": "10.0.48.0/20"}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_no_database_egress_without_database_subnets(rec: Recording) -> None:
    assert "shop-allow-database" not in policies(rec)


def test_children_use_the_provider_the_caller_passes(run: Run) -> None:
    def program() -> None:
        cluster = k8s.Provider("cluster", kubeconfig="{}")
        App("shop", AppArgs(namespace="apps", tier=Tier.DEVELOPMENT), pulumi.ResourceOptions(provider=cluster))

    rec = run(program)
    provider_urn = rec.one("pulumi:providers:kubernetes", "cluster").urn
    children = [r for r in rec if r.type.startswith("kubernetes:")]
    assert children and all(r.provider.startswith(provider_urn) for r in children)


# --- schema validation ------------------------------------------------------------------------


def test_every_rendered_object_with_an_alb_passes_the_kubernetes_schema_strictly(run: Run) -> None:
    migration = MigrationSpec(image=f"ghcr.io/acme/shop-migrate:1.4.0@{DIGEST}", command=["./migrate", "up"])
    built = app(
        tier=Tier.PRODUCTION,
        replicas=3,
        image=f"ghcr.io/acme/shop:2.1.0@{DIGEST}",
        load_balancer=alb(),
        migration=migration,
    )
    manifests = manifests_from(run(built))
    assert {m["kind"] for m in manifests} >= {"Ingress", "NetworkPolicy", "Deployment"}
    validate_manifests(manifests, KUBERNETES_SCHEMA_VERSION)


def everything() -> Callable[[], None]:
    return app(
        tier=Tier.PRODUCTION,
        replicas=3,
        host="shop.example.com",
        tls_secret_name="shop-tls",
        image=f"ghcr.io/acme/shop:2.1.0@{DIGEST}",
        secret_files="shop-api-keys",
        database=LOGIN,
        database_cidrs=["10.0.32.0/20"],
        migration=MigrationSpec(
            image=f"ghcr.io/acme/shop-migrate:1.4.0@{DIGEST}", command=["./migrate", "up"], database=MIGRATION_LOGIN
        ),
    )


def test_every_rendered_object_passes_the_kubernetes_schema_strictly(run: Run) -> None:
    manifests = manifests_from(run(everything()))
    kinds = {m["kind"] for m in manifests}
    assert kinds >= {"Deployment", "Job", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    validate_manifests(manifests, KUBERNETES_SCHEMA_VERSION)


def test_manifests_hold_the_object_and_nothing_the_mocks_added(rec: Recording) -> None:
    (deployment,) = [m for m in manifests_from(rec) if m["kind"] == "Deployment"]
    assert deployment["apiVersion"] == "apps/v1" and deployment["metadata"]["namespace"] == "apps"
    assert set(deployment) == {"apiVersion", "kind", "metadata", "spec"}


def test_a_misspelt_field_fails_validation(rec: Recording) -> None:
    (deployment,) = [m for m in manifests_from(rec) if m["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(InvalidManifest, match="Deployment/apps/shop"):
        validate_manifests([broken])


def test_a_wrongly_typed_field_fails_validation(rec: Recording) -> None:
    (service,) = [m for m in manifests_from(rec) if m["kind"] == "Service"]
    broken = copy.deepcopy(service)
    broken["spec"]["ports"][0]["port"] = "eighty"
    with pytest.raises(InvalidManifest, match=r"spec\.ports\.0\.port"):
        validate_manifests([broken])


def test_a_kind_without_a_schema_fails_unless_declared_custom() -> None:
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "shop"}}
    with pytest.raises(InvalidManifest, match="ServiceMonitor"):
        validate_manifests([monitor])
    validate_manifests([monitor], custom_kinds={"ServiceMonitor"})


# --- refusals ---------------------------------------------------------------------------------


def refused(run: Run, **kw: Any) -> tuple[str, Recording]:
    recording = Recording()
    with pytest.raises(HardstackError) as err:
        run(app(**kw), recording=recording)
    return str(err.value), recording


def test_image_without_tag_or_digest_is_refused(run: Run) -> None:
    message, recording = refused(run, image="ghcr.io/acme/shop")
    assert "image = 'ghcr.io/acme/shop'" in message and "tag" in message and len(recording) == 0


def test_latest_is_refused_in_prod(run: Run) -> None:
    message, recording = refused(run, tier=Tier.PRODUCTION, image="ghcr.io/acme/shop:latest")
    assert "image = 'ghcr.io/acme/shop:latest'" in message and "prod" in message and len(recording) == 0


def test_latest_is_refused_in_preprod(run: Run) -> None:
    message, recording = refused(run, tier=Tier.STAGING, image="ghcr.io/acme/shop:latest")
    assert "image = 'ghcr.io/acme/shop:latest'" in message and len(recording) == 0


def test_a_tag_without_a_digest_is_refused_in_prod(run: Run) -> None:
    message, recording = refused(run, tier=Tier.PRODUCTION, image="ghcr.io/acme/shop:2.1.0")
    assert "image = 'ghcr.io/acme/shop:2.1.0' is refused" in message and "digest" in message
    assert len(recording) == 0


def test_a_version_tag_is_enough_in_preprod(run: Run) -> None:
    assert container(run(app(tier=Tier.STAGING, image="ghcr.io/acme/shop:2.1.0")))["image"] == "ghcr.io/acme/shop:2.1.0"


def test_the_default_image_is_pinned_by_digest() -> None:
    assert parse_image(DEFAULT_IMAGE).digest is not None


def test_a_user_id_below_10000_is_refused(run: Run) -> None:
    message, recording = refused(run, run_as_id=1000)
    assert "run_as_id = 1000 is refused" in message and len(recording) == 0


def test_latest_is_allowed_in_test(run: Run) -> None:
    assert container(run(app(image="ghcr.io/acme/shop:latest")))["image"] == "ghcr.io/acme/shop:latest"


def test_digest_pins_an_image_in_prod(run: Run) -> None:
    image = f"ghcr.io/acme/shop@{DIGEST}"
    c = container(run(app(tier=Tier.PRODUCTION, image=image)))
    assert c["image"] == image and c["imagePullPolicy"] == "IfNotPresent"


def test_malformed_digest_is_refused(run: Run) -> None:
    message, recording = refused(run, image="ghcr.io/acme/shop@sha256:abc")
    assert "image = 'ghcr.io/acme/shop@sha256:abc'" in message and len(recording) == 0


def test_unpinned_migration_image_is_refused(run: Run) -> None:
    bad = MigrationSpec(image="ghcr.io/acme/migrate:latest", command=["./migrate"])
    message, recording = refused(run, tier=Tier.PRODUCTION, migration=bad)
    assert "migration.image = 'ghcr.io/acme/migrate:latest'" in message and len(recording) == 0


def test_one_replica_is_refused_in_prod(run: Run) -> None:
    message, recording = refused(run, tier=Tier.PRODUCTION, replicas=1)
    assert "replicas = 1" in message and "prod" in message and len(recording) == 0


def test_autoscaler_max_below_min_is_refused(run: Run) -> None:
    message, recording = refused(run, replicas=4, hpa_max_replicas=3)
    assert "hpa_max_replicas = 3" in message and "replicas (4)" in message and len(recording) == 0


def test_bad_quantity_is_refused(run: Run) -> None:
    recording = Recording()

    def program() -> None:
        App("shop", AppArgs(namespace="apps", tier=Tier.DEVELOPMENT, resources=Resources(memory_limit="256MB")))

    with pytest.raises(HardstackError, match=r"resources\.memory_limit = '256MB'"):
        run(program, recording=recording)
    assert len(recording) == 0


def test_request_above_limit_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"resources.cpu_request = '2'.*at most the limit \(500m\)"):
        Resources(cpu_request="2")


def test_budget_that_blocks_every_eviction_is_refused(run: Run) -> None:
    message, recording = refused(run, replicas=2, pdb_min_available=2)
    assert "pdb_min_available = 2" in message and len(recording) == 0


def test_world_open_database_egress_is_refused(run: Run) -> None:
    message, recording = refused(run, database_cidrs=["0.0.0.0/0"])
    assert "database_cidrs = '0.0.0.0/0'" in message and len(recording) == 0


def test_bad_namespace_is_refused(run: Run) -> None:
    message, recording = refused(run, namespace="Apps")
    assert "namespace = 'Apps'" in message and len(recording) == 0


def test_bad_app_name_is_refused(run: Run) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match="name = '1shop'"):
        run(lambda: App("1shop", AppArgs(namespace="apps", tier=Tier.DEVELOPMENT)) and None, recording=recording)
    assert len(recording) == 0


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(HardstackError, match="tier = 'prod' is refused"):
        AppArgs(namespace="apps", tier="prod")  # type: ignore[arg-type]


# --- pure logic -------------------------------------------------------------------------------

MULTIPLIERS: dict[str, int | Decimal] = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 1000,
    "M": 10**6,
    "G": 10**9,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
}


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(sorted(MULTIPLIERS)))
def test_quantity_is_the_number_times_its_suffix(number: int, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}", "q") == number * MULTIPLIERS[suffix]


@given(st.sampled_from(["0", "0m", "-1", "1.5.0", "12 Mi", "1mi", "Mi", ""]))
def test_zero_negative_and_malformed_quantities_are_refused(value: str) -> None:
    with pytest.raises(HardstackError, match="q = "):
        parse_quantity(value, "q")


NAME_PART = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,8}){0,2}", fullmatch=True)


@given(
    st.sampled_from(["", "ghcr.io/", "localhost:5000/", "123456789012.dkr.ecr.eu-west-3.amazonaws.com/"]),
    st.lists(NAME_PART, min_size=1, max_size=3),
    st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    st.none() | st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
)
def test_image_reference_splits_into_its_parts(
    registry: str, path: list[str], tag: str | None, digest: str | None
) -> None:
    repository = registry + "/".join(path)
    reference = repository + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    parsed = parse_image(reference)
    assert (parsed.repository, parsed.tag, parsed.digest) == (repository, tag, digest)


def test_manifests_skip_helm_releases_and_unwrap_secrets() -> None:
    from hardstack.tooling.manifests import manifests_from
    from hardstack.tooling.testing import RecordedResource

    def recorded(type_: str, inputs: dict[str, Any]) -> RecordedResource:
        return RecordedResource(type_, "x", "urn:x", inputs, True, "", [], False, [], False, False, [], "")

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": {"k": "v"}},
    }
    manifests = manifests_from(
        [recorded("kubernetes:helm.sh/v3:Release", {"chart": "c"}), recorded("kubernetes:core/v1:Secret", secret)]
    )
    assert manifests == [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}]


# --- any conformant cluster: namespace resource, extra env, labels, egress --------------------------


def test_a_namespace_resource_is_waited_for(run: Run) -> None:
    def program() -> None:
        ns = k8s.core.v1.Namespace("apps", metadata=k8s.meta.v1.ObjectMetaArgs(name="apps"))
        App("shop", AppArgs(namespace=ns, tier=Tier.DEVELOPMENT))

    rec = run(program)
    ns_urn = rec.one("kubernetes:core/v1:Namespace").urn
    deployment = rec.one(DEPLOYMENT)
    assert deployment.inputs["metadata"]["namespace"] == "apps" and ns_urn in deployment.dependencies


def test_extra_environment_reaches_the_container_as_plain_values(run: Run) -> None:
    env = container(run(app(env={"LOG_LEVEL": "debug", "FEATURE_X": "on"})))["env"]
    assert env == [{"name": "FEATURE_X", "value": "on"}, {"name": "LOG_LEVEL", "value": "debug"}]


def test_extra_labels_are_on_every_object_and_pod(run: Run) -> None:
    rec = run(app(labels={"team": "payments"}))
    objects = [r for r in rec if r.type.startswith("kubernetes:")]
    assert objects and all(r.inputs["metadata"]["labels"]["team"] == "payments" for r in objects)
    assert rec.one(DEPLOYMENT).inputs["spec"]["template"]["metadata"]["labels"]["team"] == "payments"


def test_egress_flows_get_one_policy_each_keyed_by_what_they_allow(run: Run) -> None:
    flow = Flow(Port.tcp(443), Peer.cidr("10.20.0.0/16"), "partner API")
    found = policies(run(app(egress=[flow])))
    spec = found[f"shop-allow-egress-{flow.key}"]
    assert spec["policyTypes"] == ["Egress"]
    assert spec["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    ]


@pytest.mark.parametrize(
    ("kw", "shown"),
    [
        ({"env": {"1BAD": "x"}}, "env key = '1BAD'"),
        ({"labels": {"app.kubernetes.io/name": "x"}}, "labels key = 'app.kubernetes.io/name'"),
        ({"labels": {"team": "no spaces"}}, "labels[team] = 'no spaces'"),
        ({"egress": [Flow(Port.tcp(443), Peer.group("sg-1", "db"), "db")]}, "egress[0] = "),
    ],
)
def test_bad_conventions_are_refused_before_anything_is_registered(run: Run, kw: dict[str, Any], shown: str) -> None:
    message, recording = refused(run, **kw)
    assert message.startswith(shown) and len(recording) == 0


def test_a_role_beside_a_database_login_is_refused() -> None:
    # The pods have one service account: the login's role is theirs.
    with pytest.raises(HardstackError, match=r"^role_arn = .* none with `database`"):
        AppArgs(namespace="apps", tier=Tier.DEVELOPMENT, database=LOGIN, role_arn="arn:aws:iam::123456789012:role/x")
