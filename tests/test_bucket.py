import json
from collections.abc import Callable

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack import HardstackError
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
