"""The quick start's task code: importable by the worker (it ships with the package), so the
weave's payloads pickle these functions by reference, as an application's own tasks would."""

from __future__ import annotations

import os


def crunch(rows: list[int]) -> int:
    """The README's heavy task: a sum of squares."""
    return sum(row * row for row in rows)


def square(item: int) -> int:
    return item * item


def echo(data: bytes) -> bytes:
    """A large argument back as a large result (reversed, so the result is not the argument)."""
    return data[::-1]


def explode(message: str) -> None:
    raise ValueError(message)


def die(code: int) -> None:
    """The worker process ends without answering, as an OOM kill or a crash would end it."""
    os._exit(code)
