"""Every argument is documented, in its dataclass and in the README's reference."""

from __future__ import annotations

import dataclasses
import re

import wove_batch.spec as spec
from conftest import REPO

ARGS = [
    getattr(spec, name) for name in dir(spec)
    if name.endswith("Args") and dataclasses.is_dataclass(getattr(spec, name))
]


def test_every_field_has_a_doc_and_a_readme_row() -> None:
    readme = (REPO / "README.md").read_text()
    reference = readme[readme.index("## Stack configuration reference"):readme.index("## Validation")]
    assert len(ARGS) >= 12
    for cls in ARGS:
        assert cls.__doc__, cls.__name__
        for field in dataclasses.fields(cls):
            assert field.metadata.get("doc"), f"{cls.__name__}.{field.name} has no doc"
            if cls is spec.WoveBatchClusterArgs and field.name in ("compute_environments", "job_queues", "job_definitions",
                                                                    "wove_environments", "network", "image", "callback", "exchange",
                                                                    "logs", "job_role", "tags"):
                assert f"`{field.name}" in reference, field.name
            else:
                # a row `….name` or, for a nested section, its fields' rows `….name.field`
                assert re.search(rf"\.{field.name}[`.]", reference), f"{cls.__name__}.{field.name} is not in the README reference"


def test_the_validation_example_is_the_real_output_of_its_file() -> None:
    import subprocess
    import sys

    import botocore

    readme = (REPO / "README.md").read_text()
    command = "$ python -m wove_batch check examples/Pulumi.mistakes.yaml\n"
    shown = readme[readme.index(command) + len(command):]
    shown = shown[: shown.index("```")]
    result = subprocess.run([sys.executable, "-m", "wove_batch", "check", "examples/Pulumi.mistakes.yaml"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1
    # The instance type count and botocore's version move with botocore's releases.
    from wove_batch.aws.instance_types import ec2_instance_types

    expected = re.sub(r"botocore [0-9.]+ lists [0-9]+ types",
                      f"botocore {botocore.__version__} lists {len(ec2_instance_types())} types", shown)
    assert result.stdout == expected
