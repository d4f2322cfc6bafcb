import json
from collections.abc import Callable

from hardstack.aws.bucket import SecureBucket, SecureBucketArgs
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
