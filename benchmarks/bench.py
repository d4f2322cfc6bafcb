"""Benchmarks: offline preview time per stack, growth with size, provider invokes, test wall time.

    .venv/bin/python benchmarks/bench.py [--repeat 3] [--skip-tests]

Prints numbers only; nothing here asserts. Figures recorded in the README come from this script.
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hardstack import AwsContext, Flow, Peer, Port, SecurityGroup, SecurityGroupArgs  # noqa: E402
from hardstack.aws.fleet import Fleet, FleetArgs  # noqa: E402
from hardstack.tooling.testing import Recording, run_program  # noqa: E402
from stacks.offline import STACKS, run_stack  # noqa: E402

CTX = AwsContext(region="eu-west-3", account_id="123456789012")


def timed(fn: Callable[[], Recording], repeat: int) -> tuple[float, Recording]:
    times, rec = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        rec = fn()
        times.append(time.perf_counter() - start)
    assert rec is not None
    return statistics.median(times), rec


def scaled_program(fleets: int, rules: int) -> Callable[[], None]:
    """`fleets` fleets and one group with `rules` ingress flows: the two things that grow."""

    def program() -> None:
        flows = [Flow(Port.tcp(10000 + i), Peer.cidr("10.0.0.0/8"), f"flow {i}") for i in range(rules)]
        group = SecurityGroup("bench", SecurityGroupArgs(vpc_id="vpc-1", description="bench", ingress=flows))
        for i in range(fleets):
            Fleet(
                f"fleet{i}",
                FleetArgs(
                    context=CTX,
                    subnet_ids=["subnet-a", "subnet-b"],
                    security_group_ids=[group.id],
                    image_id="ami-0123456789abcdef0",
                    kms_key_arn="arn:aws:kms:eu-west-3:123456789012:key/k",
                    environment="test",
                ),
            )

    return program


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    args = parser.parse_args()

    print("offline preview per stack (median of", args.repeat, "runs)")
    print(f"  {'stack':<8} {'seconds':>8} {'resources':>10} {'invokes':>8}")
    for stack in STACKS:
        seconds, rec = timed(functools.partial(run_stack, stack), args.repeat)
        print(f"  {stack:<8} {seconds:>8.2f} {len(rec):>10} {len(rec.invokes):>8}")

    print("growth: 2 fleets and 20 rules, scaled (linear: constant ms per resource)")
    run_program(scaled_program(1, 5))  # warm the imports and the runtime before timing
    results = []
    for factor in (1, 2, 5, 10):
        seconds, rec = timed(functools.partial(run_program, scaled_program(2 * factor, 20 * factor)), args.repeat)
        results.append((factor, seconds, len(rec)))
        print(f"  {factor:>2}x: {seconds:6.2f} s for {len(rec):5} resources ({1000 * seconds / len(rec):.2f} ms each)")
    (_, base_s, base_n), (_, big_s, big_n) = results[0], results[-1]
    print(f"  10x/1x: time ratio {big_s / base_s:.1f} for resource ratio {big_n / base_n:.1f}")
    # The work is linear (every SDK call count grows with the resource count). Python's cyclic
    # garbage collector walking the SDK's live Output objects used to bend the curve; the harness
    # now keeps it off during a run and collects once after. For comparison, no collection at all:
    gc.disable()
    try:
        for factor in (1, 10):
            program = scaled_program(2 * factor, 20 * factor)
            seconds, rec = timed(functools.partial(run_program, program), args.repeat)
            print(f"  {factor:>2}x with gc off: {1000 * seconds / len(rec):.2f} ms per resource")
    finally:
        gc.enable()

    if not args.skip_tests:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT, check=False)
        print(f"test suite: {time.perf_counter() - start:.1f} s wall (exit {done.returncode})")


if __name__ == "__main__":
    main()
