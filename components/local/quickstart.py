"""`python -m wove_batch try Pulumi.<stack>.yaml`: the README's example weave, end to end on the
local backend (the stack planned offline, moto as AWS, each Batch job a real worker run), with
its result printed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, TextIO

from .cluster import LocalCluster


def run_quickstart(stack_file: Path, *, results: Optional[str], out: TextIO) -> int:
    import wove

    from . import example

    started = time.monotonic()
    with LocalCluster(stack_file, results=results) as cluster:
        environment = next(iter(cluster.wove_environments))
        mode = cluster.wove_environments[environment]["wove_batch"]["results"]
        how = f"in the image {cluster.image}" if cluster.image else "as processes of the installed worker"
        out.write(f"local cluster from {stack_file}: environment {environment!r} ({mode} results), jobs {how}\n")
        out.flush()
        wove.config(environments=cluster.wove_environments)
        try:
            with wove.weave() as w:
                @w.do
                def rows() -> list[int]:  # runs here
                    return list(range(1, 101))

                @w.do(environment=environment, delivery_timeout=300)  # a Batch job
                def crunch(rows: list[int]) -> int:
                    return example.crunch(rows)

                @w.do(range(10), environment=environment, delivery_timeout=300)  # an array job, one child each
                def squares(item: int) -> int:
                    return example.square(item)
        finally:
            wove.config(environments={name: None for name in cluster.wove_environments})
        jobs = cluster.jobs
    out.write(f"crunch = {w.result.crunch}\nsquares = {w.result.squares}\n")
    out.write(f"{len(jobs)} Batch jobs ({sum(1 for j in jobs if j.children)} array), "
              f"{', '.join(sorted({j.current_status() for j in jobs}))}, in {time.monotonic() - started:.1f} s\n")
    expected = (sum(i * i for i in range(1, 101)), [i * i for i in range(10)])
    return 0 if (w.result.crunch, w.result.squares) == expected else 1
