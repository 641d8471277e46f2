"""The command line: `python run_bot.py SUBCOMMAND`; the `petkomm` console script is `main`.

Everything lives in the `cli` package; this file only keeps the old entry point.
"""

import sys

from cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
