"""Day-2 operations of the stacks: teardown where it must work, and nowhere it must not."""

from typing import Any

import pytest

from hardstack.tooling.plan import STATEFUL_TYPES
from stacks.offline import run_stack

BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


@pytest.mark.parametrize("stack", ["test", "preprod"])
def test_destroy_empties_every_bucket_of_the_test_and_preprod_stacks(stack: str) -> None:
    buckets = run_stack(stack).of_type(BUCKET)
    assert buckets and all(b.inputs["forceDestroy"] is True and not b.protect for b in buckets)


def test_preprod_with_protection_keeps_its_buckets_full_on_destroy() -> None:
    buckets = run_stack("preprod", {"hardstack:protect": True}).of_type(BUCKET)
    assert all(b.inputs["forceDestroy"] is False and b.protect for b in buckets)


def test_nothing_stateful_in_prod_can_be_destroyed_without_first_changing_a_setting() -> None:
    rec = run_stack("prod")
    stateful = [r for r in rec if r.type in STATEFUL_TYPES]
    assert stateful and [r.name for r in stateful if not (r.protect and r.retain_on_delete)] == []
    assert all(b.inputs["forceDestroy"] is False for b in rec.of_type(BUCKET))
    assert rec.one("aws:rds/instance:Instance").inputs["deletionProtection"] is True
    assert rec.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is True
    assert rec.one("aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is True


def test_the_transfer_bucket_drops_old_versions_and_expired_delete_markers() -> None:
    rec = run_stack("test")
    lifecycle = next(r for r in rec.of_type(LIFECYCLE) if r.name == "ansible-transfer-lifecycle")
    rules: dict[str, Any] = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert rules["expire-old-versions"]["expiration"] == {"days": 1}
    assert rules["expire-old-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}
