"""``python -m ritellm``: the same as the ``ritellm`` command."""

import sys

from ._cli import main

sys.exit(main())
