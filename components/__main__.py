"""Entry point of `python -m wove_batch`."""

import sys

from .tools.cli import main

sys.exit(main())
