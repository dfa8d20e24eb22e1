"""Entry point of `python -m wove_batch`."""

import os
import sys

from .tools.cli import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:
    # The reader stopped early (`plan | head`): not an error of the plan's. Python would try
    # to flush stdout again at exit; point it at /dev/null first.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 0
sys.exit(code)
