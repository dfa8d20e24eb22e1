"""`python -m wove_batch.worker`: the command of every job definition."""

import sys

from . import main

sys.exit(main())
