import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from hardstack import AwsContext, HardstackError
from hardstack.aws.load_balancer import TLS_POLICY, LoadBalancer, LoadBalancerArgs
from hardstack.core.tier import Tier
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id="123456789012")
CERT = "arn:aws:acm:eu-west-3:123456789012:certificate/00000000-0000-4000-8000-000000000001"
LISTENER = "aws:lb/listener:Listener"


def args(**kw: Any) -> LoadBalancerArgs:
    base: dict[str, Any] = {
        "context": CTX,
        "vpc_id": "vpc-1",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "security_group_id": "sg-lb",
        "app_port": 8080,
        "certificate_arn": CERT,
        "tier": Tier.DEVELOPMENT,
    }
    return LoadBalancerArgs(**{**base, **kw})


def alb(**kw: Any) -> Callable[[], None]:
    built = args(**kw)
    return lambda: LoadBalancer("web", built) and None


def listeners(rec: Recording) -> dict[int, dict[str, Any]]:
    return {r.inputs["port"]: r.inputs for r in rec.of_type(LISTENER)}


def test_https_listener_uses_tls12_plus_and_http_redirects(run: Run) -> None:
    found = listeners(run(alb()))
    assert found[443]["protocol"] == "HTTPS" and found[443]["sslPolicy"] == TLS_POLICY
    assert found[443]["certificateArn"] == CERT
    (redirect,) = found[80]["defaultActions"]
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    assert redirect["redirect"]["statusCode"] == "HTTP_301"


def test_plain_http_forwards_only_when_asked_by_name(run: Run) -> None:
    found = listeners(run(alb(certificate_arn=None, allow_plain_http=True)))
    assert set(found) == {80} and found[80]["defaultActions"][0]["type"] == "forward"


def test_no_certificate_without_asking_for_plain_http_is_refused() -> None:
    with pytest.raises(HardstackError, match="certificate_arn = None"):
        args(certificate_arn=None)


def test_malformed_certificate_is_refused() -> None:
    with pytest.raises(HardstackError, match="certificate_arn = 'my-cert'"):
        args(certificate_arn="my-cert")


def test_a_certificate_of_another_region_is_refused() -> None:
    other = CERT.replace("eu-west-3", "us-east-1")
    with pytest.raises(HardstackError) as err:
        args(certificate_arn=other)
    assert str(err.value).startswith(f"certificate_arn = {other!r} is refused: a certificate in eu-west-3")


def test_load_balancer_drops_invalid_headers_and_sits_in_public_subnets(run: Run) -> None:
    lb = run(alb()).one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert lb["dropInvalidHeaderFields"] is True and lb["internal"] is False
    assert lb["subnets"] == ["subnet-a", "subnet-b"] and lb["securityGroups"] == ["sg-lb"]
    assert lb["enableDeletionProtection"] is False and "accessLogs" not in lb


def test_target_group_forwards_to_the_app_port_with_health_checks(run: Run) -> None:
    tg = run(alb()).one("aws:lb/targetGroup:TargetGroup").inputs
    assert tg["port"] == 8080 and tg["targetType"] == "instance" and tg["healthCheck"]["path"] == "/"


def test_prod_settings_turn_on_deletion_protection_and_encrypted_access_logs(run: Run) -> None:
    rec = run(alb(deletion_protection=True, access_logs=True, protect=True))
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert lb["enableDeletionProtection"] is True
    assert lb["accessLogs"]["enabled"] is True and lb["accessLogs"]["bucket"].startswith("web-logs")
    sse = rec.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    policy = json.loads(rec.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    delivery = next(s for s in policy["Statement"] if s["Sid"] == "AllowAlbLogDelivery")
    assert delivery["Principal"] == {"AWS": "arn:aws:iam::009996457667:root"}
    assert delivery["Resource"].endswith("/web/AWSLogs/123456789012/*")
    assert rec.one("aws:s3/bucket:Bucket").protect


def test_new_regions_deliver_logs_through_the_service_principal(run: Run) -> None:
    ctx = AwsContext(region="ap-southeast-5", account_id="123456789012")
    rec = run(alb(context=ctx, access_logs=True, certificate_arn=CERT.replace("eu-west-3", "ap-southeast-5")))
    policy = json.loads(rec.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    delivery = next(s for s in policy["Statement"] if s["Sid"] == "AllowAlbLogDelivery")
    assert delivery["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def test_production_turns_on_deletion_protection_and_access_logs_by_default(run: Run) -> None:
    rec = run(alb(tier=Tier.PRODUCTION))
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert lb["enableDeletionProtection"] is True and lb["accessLogs"]["enabled"] is True


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        ({"tier": Tier.PRODUCTION, "deletion_protection": False}, "deletion_protection = False"),
        ({"tier": Tier.PRODUCTION, "access_logs": False}, "access_logs = False"),
        ({"tier": Tier.STAGING, "certificate_arn": None, "allow_plain_http": True}, "allow_plain_http = True"),
    ],
)
def test_production_safety_cannot_be_turned_off(overrides: dict[str, Any], shown: str) -> None:
    with pytest.raises(HardstackError, match=f"^{re.escape(shown)} is refused"):
        args(**overrides)


def test_internal_load_balancer_is_private_when_asked(run: Run) -> None:
    assert run(alb(internal=True)).one("aws:lb/loadBalancer:LoadBalancer").inputs["internal"] is True
