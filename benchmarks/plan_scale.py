"""How long `python -m wove_batch plan` takes as a cluster grows.

For 1, 10 and 50 job queues (3 compute environments per queue, drawn from a pool of at most
50: AWS's quotas are 50 job queues and 50 compute environments per account and region,
limits.py; 3 job definitions per queue, one Wove environment per definition), validate the
spec and run the real stack program on Pulumi's mocks engine, and print seconds and
resources per second.

    .venv/bin/python benchmarks/plan_scale.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wove_batch.aws.limits import COMPUTE_ENVIRONMENTS_MAX  # noqa: E402
from wove_batch.tools.plan import run_stack  # noqa: E402
from wove_batch.tools.stack_config import StackFile, validate_stack  # noqa: E402


def cluster_with(queues: int) -> dict:
    compute, job_queues, definitions, environments = {}, {}, {}, {}
    pool = min(3 * queues, COMPUTE_ENVIRONMENTS_MAX)
    for q in range(queues):
        names = [f"ce{(3 * q + c) % pool}" for c in range(3)]
        for name in names:
            spot = int(name[2:]) % 3 != 0
            compute[name] = {"type": "SPOT" if spot else "EC2", "instance_types": ["m6i", "c6i"], "max_vcpus": 64}
        job_queues[f"q{q}"] = {"priority": q, "compute_environments": names}
        for d in range(3):
            definitions[f"q{q}-jd{d}"] = {"vcpus": 1 + d, "memory": 2048 * (d + 1)}
            environments[f"q{q}-jd{d}"] = {"job_queue": f"q{q}", "job_definition": f"q{q}-jd{d}"}
    return {
        "image": {"python_version": "3.11"},
        "compute_environments": compute,
        "job_queues": job_queues,
        "job_definitions": definitions,
        "wove_environments": environments,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    print(f"{'queues':>6} {'resources':>9} {'check s':>8} {'plan s':>8} {'resources/s':>11}")
    for queues in (1, 10, 50):
        config = {"aws:region": "us-east-1", "wove-batch:cluster": cluster_with(queues)}
        stack = StackFile(REPO / "Pulumi.bench.yaml", REPO, "wove-batch", "bench", config)
        checks, plans, count = [], [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            _, errors = validate_stack(stack)
            checks.append(time.perf_counter() - started)
            assert errors == [], errors
            started = time.perf_counter()
            count = len(run_stack(stack).resources)
            plans.append(time.perf_counter() - started)
        check_s, plan_s = statistics.median(checks), statistics.median(plans)
        print(f"{queues:>6} {count:>9} {check_s:>8.3f} {plan_s:>8.2f} {count / plan_s:>11.0f}")


if __name__ == "__main__":
    main()
