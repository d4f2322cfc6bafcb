import json
from collections.abc import Callable

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack import AwsContext, HardstackError
from hardstack.aws.bucket import SecureBucket, SecureBucketArgs, empties_on_destroy
from hardstack.core.tier import Tier
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
KEY = "arn:aws:kms:eu-west-3:123456789012:key/k"


def test_bucket_is_private_encrypted_with_the_key_versioned_and_tls_only(run: Run) -> None:
    rec = run(lambda: SecureBucket("data", SecureBucketArgs(kms_key_arn=KEY, protect=True)) and None)
    block = rec.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    rule = rec.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs[
        "rules"
    ][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    versioning = rec.one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]
    assert versioning["status"] == "Enabled"
    lifecycle = rec.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"][0]
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    (deny,) = json.loads(rec.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ownership = rec.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs["rule"]
    assert ownership["objectOwnership"] == "BucketOwnerEnforced"
    bucket = rec.one("aws:s3/bucket:Bucket")
    assert bucket.protect and bucket.retain_on_delete and bucket.inputs["forceDestroy"] is False


BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


@pytest.mark.parametrize(
    ("tier", "protect", "emptied"),
    [
        (Tier.DEVELOPMENT, None, True),
        (Tier.DEVELOPMENT, True, True),
        (Tier.STAGING, None, True),
        (Tier.STAGING, True, False),
        (Tier.PRODUCTION, None, False),
    ],
)
def test_destroy_empties_the_bucket_outside_production_unless_staging_protects_it(
    run: Run, tier: Tier, protect: bool | None, emptied: bool
) -> None:
    rec = run(lambda: SecureBucket("data", SecureBucketArgs(tier=tier, protect=protect)) and None)
    assert rec.one(BUCKET).inputs["forceDestroy"] is emptied


def test_protection_given_to_the_component_keeps_a_staging_bucket_full_on_destroy(run: Run) -> None:
    def program() -> None:
        SecureBucket("data", SecureBucketArgs(tier=Tier.STAGING), pulumi.ResourceOptions(protect=True))

    assert run(program).one(BUCKET).inputs["forceDestroy"] is False


def test_production_refuses_a_bucket_emptied_by_destroy(run: Run) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match=r"^force_destroy = True is refused: False in production"):
        run(lambda: SecureBucket("data", SecureBucketArgs(force_destroy=True)) and None, recording=recording)
    assert recording.resources == []


def test_expired_delete_markers_are_removed_by_a_rule_of_their_own(run: Run) -> None:
    rec = run(lambda: SecureBucket("t", SecureBucketArgs(versioning=False, expiration_days=1)) and None)
    first, markers = rec.one(LIFECYCLE).inputs["rules"]
    # S3 refuses ExpiredObjectDeleteMarker next to Days in one expiration.
    assert first["expiration"] == {"days": 1}
    assert markers["expiration"] == {"expiredObjectDeleteMarker": True} and markers["status"] == "Enabled"
    assert markers["filter"] == {"prefix": ""}


@given(st.sampled_from(list(Tier)), st.one_of(st.none(), st.booleans()), st.booleans())
def test_only_an_explicit_request_empties_a_production_bucket(tier: Tier, asked: bool | None, protected: bool) -> None:
    emptied = empties_on_destroy(tier, asked, protected)
    if asked is None:
        assert emptied is (tier is Tier.DEVELOPMENT or (tier is Tier.STAGING and not protected))
    else:
        assert emptied is asked


# --- server access logs -----------------------------------------------------------------------------

CTX = AwsContext(region="eu-west-3", account_id="123456789012")
LOGGING = "aws:s3/bucketLogging:BucketLogging"


def logged_data_bucket() -> None:
    data = SecureBucket("data", SecureBucketArgs(kms_key_arn=KEY, protect=True))
    SecureBucket("access-logs", SecureBucketArgs(context=CTX, access_log_sources={"app-data": data}, protect=True))


def test_data_bucket_logs_its_requests_under_its_own_prefix_of_the_log_bucket(run: Run) -> None:
    rec = run(logged_data_bucket)
    (logging,) = rec.of_type(LOGGING)
    buckets = {r.name: r.inputs["bucket"] for r in rec.of_type("aws:s3/bucket:Bucket")}
    assert logging.name == "access-logs-app-data"
    assert logging.inputs["bucket"] == buckets["data"] and logging.inputs["targetBucket"] == buckets["access-logs"]
    assert logging.inputs["targetPrefix"] == "app-data/"
    assert logging.inputs["targetObjectKeyFormat"] == {"partitionedPrefix": {"partitionDateSource": "EventTime"}}


def test_log_bucket_lets_s3_log_delivery_write_only_that_buckets_logs_of_this_account(run: Run) -> None:
    rec = run(logged_data_bucket)
    policies = {r.name: r.inputs for r in rec.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    statements = json.loads(policies["access-logs-policy"]["policy"])["Statement"]
    (delivery,) = [s for s in statements if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    log_bucket_arn = rec.one("aws:s3/bucket:Bucket", "access-logs").inputs["arn"]
    assert delivery["Resource"] == f"{log_bucket_arn}/app-data/*"
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": rec.one("aws:s3/bucket:Bucket", "data").inputs["arn"]},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    assert "DenyInsecureTransport" in {s.get("Sid") for s in statements}


def test_logging_is_turned_on_only_once_the_log_bucket_policy_exists(run: Run) -> None:
    rec = run(logged_data_bucket)
    assert rec.one("aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy").urn in rec.one(LOGGING).dependencies


def test_log_bucket_encrypted_with_kms_is_refused() -> None:
    with pytest.raises(HardstackError, match="kms_key_arn = '<a KMS key>' is refused: None \\(SSE-S3\\)"):
        SecureBucketArgs(context=CTX, kms_key_arn=KEY, access_log_sources={"x": None})  # type: ignore[dict-item]


def test_log_bucket_without_the_account_is_refused() -> None:
    with pytest.raises(HardstackError, match="context = None"):
        SecureBucketArgs(access_log_sources={"x": None})  # type: ignore[dict-item]


def test_log_source_key_that_makes_no_stable_prefix_is_refused() -> None:
    with pytest.raises(HardstackError, match="access_log_sources key = 'App Data'"):
        SecureBucketArgs(context=CTX, access_log_sources={"App Data": None})  # type: ignore[dict-item]


def test_bucket_without_log_sources_turns_on_no_logging(run: Run) -> None:
    rec = run(lambda: SecureBucket("data", SecureBucketArgs(kms_key_arn=KEY, protect=True)) and None)
    assert rec.of_type(LOGGING) == []


@pytest.mark.parametrize("name", ["test", "preprod", "prod"])
def test_every_other_bucket_of_the_stack_logs_its_requests_to_the_access_log_bucket(
    stack: Callable[..., Recording], name: str
) -> None:
    rec = stack(name)
    log_bucket = rec.one("aws:s3/bucket:Bucket", "s3-access-logs")
    logged = {r.inputs["bucket"]: r.inputs["targetBucket"] for r in rec.of_type(LOGGING)}
    others = {r.inputs["bucket"] for r in rec.of_type("aws:s3/bucket:Bucket") if r.name != "s3-access-logs"}
    assert rec.outputs["appBucket"] in logged and set(logged) == others
    assert set(logged.values()) == {log_bucket.inputs["bucket"]}
    sse = rec.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "s3-access-logs-encryption",
    ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse == {"sseAlgorithm": "AES256"}
    assert log_bucket.protect is (name == "prod")


def test_force_destroy_is_refused_in_production() -> None:
    with pytest.raises(HardstackError, match="force_destroy = True is refused: False in production"):
        SecureBucketArgs(force_destroy=True, protect=True)


# preprod is staging without protection: its buckets are emptied on destroy too (the tier's rule).
@pytest.mark.parametrize(("name", "emptied"), [("test", True), ("preprod", True), ("prod", False)])
def test_the_access_log_bucket_is_emptied_on_destroy_except_in_prod(
    stack: Callable[..., Recording], name: str, emptied: bool
) -> None:
    assert stack(name).one("aws:s3/bucket:Bucket", "s3-access-logs").inputs["forceDestroy"] is emptied
