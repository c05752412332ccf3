"""Entry point for ``python -m cudalign``."""

from __future__ import annotations

import sys

from cudalign.cli import main

sys.exit(main())
