"""EgressGuard: namespaces without egress rules of their own kept away from guarded CIDRs."""

import re
from collections.abc import Callable
from typing import Any

import pytest

from hardstack.core.errors import HardstackError
from hardstack.k8s.egress_guard import EgressGuard, EgressGuardArgs
from hardstack.tooling.manifests import KUBERNETES_SCHEMA_VERSION, manifests_from, validate_manifests
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def guard(**kw: Any) -> Callable[[], None]:
    def program() -> None:
        EgressGuard("database", EgressGuardArgs(**{"namespaces": ["kube-system"], "cidrs": ["10.0.32.0/20"], **kw}))

    return program


def test_every_pod_may_go_anywhere_but_the_guarded_cidrs(run: Run) -> None:
    spec = run(guard()).one(POLICY).inputs["spec"]
    assert spec["podSelector"] == {} and spec["policyTypes"] == ["Egress"]
    (rule,) = spec["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.32.0/20"]}}, {"namespaceSelector": {}}]
    assert "ports" not in rule


def test_one_policy_per_namespace_named_by_namespace(run: Run) -> None:
    rec = run(guard(namespaces=["kube-system", "default"]))
    assert sorted(r.name for r in rec.of_type(POLICY)) == ["database-default", "database-kube-system"]
    validate_manifests(manifests_from(rec), KUBERNETES_SCHEMA_VERSION)


@pytest.mark.parametrize(
    ("kw", "shown"),
    [
        ({"namespaces": []}, "namespaces = []"),
        ({"namespaces": ["a", "a"]}, "namespaces = ['a', 'a']"),
        ({"cidrs": ["0.0.0.0/0"]}, "cidrs = '0.0.0.0/0'"),
        ({"cidrs": ["10.0.32.1/20"]}, "cidrs = '10.0.32.1/20'"),
        ({"cidrs": ["fd00::/64"]}, "cidrs = 'fd00::/64'"),
    ],
)
def test_bad_input_is_refused_before_anything_is_registered(run: Run, kw: dict[str, Any], shown: str) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match=f"^{re.escape(shown)} is refused"):
        run(guard(**kw), recording=recording)
    assert len(recording) == 0
