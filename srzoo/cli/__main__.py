"""`python -m srzoo.cli ...`: the `srzoo` command without its console script (as before the CLI became a package)."""

from __future__ import annotations

import sys

from srzoo.cli import main

sys.exit(main())
