"""``python -m dataflow.migrations``: the migration commands (see :mod:`dataflow.migrations`)."""

import sys

from ._cli import main

sys.exit(main())
