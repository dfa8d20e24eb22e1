"""Entry point of `python -m wove_batch` (the same as the `wove-batch` console script)."""

import sys

from .tools.cli import main

sys.exit(main())
