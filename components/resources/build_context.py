"""A digest of what a Docker build reads: the files of its context that `.dockerignore` lets in,
the Dockerfile, the build arguments and the platform.

The worker image's tag is `<architecture>-<digest>`, so that the ECR repository can refuse to
move a tag (IMMUTABLE): a changed context is a new tag, an unchanged one the same tag (and no
new push). Pure Python; `.dockerignore` read as Docker reads it (last matching pattern wins, `!`
re-includes, `**` crosses directories, a matching directory excludes what it holds).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterator, Mapping

DIGEST_LENGTH = 16  # hex characters in the tag: 64 bits, ample for one repository's builds


def _pattern(text: str) -> re.Pattern[str]:
    text = text.strip().strip("/")
    if text.startswith("./"):
        text = text[2:]
    regex = ""
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif text.startswith("**", i):
            regex += ".*"
            i += 2
        elif text[i] == "*":
            regex += "[^/]*"
            i += 1
        elif text[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(text[i])
            i += 1
    return re.compile(regex + "(?:/.*)?")  # a directory's pattern covers what it holds


def read_dockerignore(context: Path) -> list[tuple[bool, re.Pattern[str], str]]:
    """(re-include?, pattern, its text) for each line of the context's .dockerignore."""
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        text = line[1:].strip() if negated else line
        rules.append((negated, _pattern(text), text.strip("/")))
    return rules


def is_ignored(relative: str, rules: list[tuple[bool, re.Pattern[str], str]]) -> bool:
    ignored = False
    for negated, pattern, _ in rules:
        if pattern.fullmatch(relative):
            ignored = not negated
    return ignored


def context_files(context: Path) -> Iterator[str]:
    """Paths (relative, `/`-separated, sorted) of the files the build context sends."""
    rules = read_dockerignore(context)
    reincludes = [text for negated, _, text in rules if negated]
    found: list[str] = []
    for folder, folders, files in os.walk(context):
        relative_folder = Path(folder).relative_to(context).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        # Walk into an ignored folder only if a `!` pattern may re-include something in it.
        folders[:] = [name for name in folders if not is_ignored(prefix + name, rules) or any(
            text.startswith(prefix + name + "/") or any(c in text for c in "*?") for text in reincludes)]
        found.extend(prefix + name for name in files if not is_ignored(prefix + name, rules))
    yield from sorted(found)


def files_digest(context: Path, dockerfile: Path) -> str:
    """What the build reads from disk: the context's files (names, executable bits, contents)
    and the Dockerfile. One walk of the context, shared by every platform built from it."""
    digest = hashlib.sha256()
    for relative in context_files(context):
        path = context / relative
        digest.update(f"{relative}\0{os.access(path, os.X_OK)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(b"\0dockerfile\0" + dockerfile.read_bytes())
    return digest.hexdigest()


def tag_digest(files: str, args: Mapping[str, str], platform: str) -> str:
    """The tag's digest: the files' digest with the build arguments and the platform."""
    return hashlib.sha256(f"{files}\0{sorted(args.items())}\0{platform}".encode()).hexdigest()[:DIGEST_LENGTH]


def context_digest(context: Path, dockerfile: Path, args: Mapping[str, str], platform: str) -> str:
    return tag_digest(files_digest(context, dockerfile), args, platform)
