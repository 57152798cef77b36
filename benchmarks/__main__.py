"""``python -m benchmarks``: see ``benchmarks/_cli.py`` for the options."""

import sys

from ._cli import main

sys.exit(main())
