"""``python -m crossload``: see crossload.cli."""

from __future__ import annotations

import sys

from crossload.cli import main

if __name__ == "__main__":
    sys.exit(main())
