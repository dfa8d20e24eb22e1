"""The worker image: its Python version must be one cloudpickle payloads can move between."""

from __future__ import annotations

import re

from .context import Checks

_PYTHON_VERSION = re.compile(r"3\.\d{1,2}")


def check_image(checks: Checks) -> None:
    image = checks.args.image
    if not _PYTHON_VERSION.fullmatch(image.python_version):
        checks.fail("image.python_version", f"expected a Python 3 major.minor like '3.11', got {image.python_version!r}")
