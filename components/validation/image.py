"""The worker image: a Python that exists and that Wove supports (cloudpickle payloads move
only between equal versions), a prebuilt reference Docker can pull, a build context that
exists."""

from __future__ import annotations

import functools
import re

from ..aws import limits
from ..spec import ImageArgs, describe
from .context import Checks

_PYTHON_VERSION = re.compile(r"3\.\d{1,2}")
# Docker's reference grammar: [registry[:port]/]path[:tag][@digest], lower-case path components.
IMAGE_REFERENCE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)


@functools.lru_cache(maxsize=None)
def python_requirement(distribution: str) -> str:
    """A distribution's Requires-Python, from its installed metadata ('' when not installed);
    read once (a metadata lookup scans sys.path)."""
    import importlib.metadata

    try:
        return importlib.metadata.metadata(distribution).get("Requires-Python") or ""
    except importlib.metadata.PackageNotFoundError:
        return ""


def wove_python_requirement() -> str:
    """Wove's own Requires-Python."""
    return python_requirement("wove")


def satisfies(version: str, requirement: str) -> bool:
    """`3.11` against clauses like `>=3.8,<4` (the forms Wove's metadata uses)."""
    ours = tuple(int(part) for part in version.split("."))
    for clause in filter(None, (c.strip() for c in requirement.split(","))):
        match = re.fullmatch(r"(>=|<=|>|<|==|!=)\s*(\d+(?:\.\d+)*)(?:\.\*)?", clause)
        if match is None:
            continue  # a form this does not read: not a reason to refuse
        operator, bound = match[1], tuple(int(part) for part in match[2].split("."))[:2]
        if not {">=": ours >= bound, "<=": ours <= bound, ">": ours > bound, "<": ours < bound,
                "==": ours == bound, "!=": ours != bound}[operator]:
            return False
    return True


def check_image(checks: Checks) -> None:
    image = checks.args.image
    version = image.python_version
    if not _PYTHON_VERSION.fullmatch(version):
        checks.fail("image.python_version", f"expected a Python 3 major.minor like '3.11', got {describe(version)}")
    elif version not in limits.PYTHON_MINORS_RELEASED:
        checks.fail("image.python_version", f"no Python {version} has been released (latest: "
                                            f"{limits.PYTHON_MINORS_RELEASED[-1]})")
    elif not satisfies(version, requirement := wove_python_requirement()):
        checks.fail("image.python_version", f"Wove needs Python {requirement}, got {version}")
    elif not satisfies(version, requirement := python_requirement("wove-batch")):
        checks.fail("image.python_version", f"wove-batch (which the image installs) needs Python {requirement}, "
                                            f"got {version}")
    if image.uri is not None and not IMAGE_REFERENCE.fullmatch(image.uri):
        checks.fail("image.uri", f"expected an image reference like 123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                 f"worker:1.0 or ...@sha256:<digest>, got {describe(image.uri)}")
    if image.uri is None:
        checks.require_in_project({"image.context": image.context, "image.dockerfile": image.dockerfile})
    else:
        build_settings_with_uri(checks)


def build_settings_with_uri(checks: Checks) -> None:
    """A prebuilt `uri` builds nothing: a context or Dockerfile beside it would be ignored."""
    defaults = ImageArgs()
    for key in ("context", "dockerfile"):
        if getattr(checks.args.image, key) != getattr(defaults, key):
            checks.fail(f"image.{key}", f"give uri (prebuilt) or {key} (built here), not both; with uri nothing is "
                                        f"built, got {describe(getattr(checks.args.image, key))}")
