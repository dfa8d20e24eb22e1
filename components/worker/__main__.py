"""`python -m wove_batch.worker`: the command of every job definition."""

from .cli import run

run()
