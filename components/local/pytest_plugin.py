"""pytest fixtures for testing your own weaves on the local backend. In your conftest.py:

    pytest_plugins = ["wove_batch.local.pytest_plugin"]

and, in pytest's ini file, the stack to run (default `Pulumi.dev.yaml` beside the ini file):

    [pytest]
    wove_batch_stack = Pulumi.dev.yaml

`local_cluster` (one per session) is the running LocalCluster; `wove_local` (per test) also
puts its environments in `wove.config` and takes them out after the test.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from .cluster import LocalCluster


def pytest_addoption(parser: Any) -> None:
    parser.addini("wove_batch_stack", "the stack file the local_cluster fixture runs", default="Pulumi.dev.yaml")
    parser.addini("wove_batch_results", "override the stack's results mode (callback or exchange)", default="")


@pytest.fixture(scope="session")
def local_cluster(pytestconfig: pytest.Config) -> Iterator[LocalCluster]:
    stack = pytestconfig.rootpath / str(pytestconfig.getini("wove_batch_stack"))
    results = str(pytestconfig.getini("wove_batch_results")) or None
    with LocalCluster(stack, results=results) as cluster:
        yield cluster


@pytest.fixture
def wove_local(local_cluster: LocalCluster) -> Iterator[LocalCluster]:
    import wove

    wove.config(environments=local_cluster.wove_environments)
    try:
        yield local_cluster
    finally:
        wove.config(environments={name: None for name in local_cluster.wove_environments})
