"""The parser, assembled from one module per subcommand group, and `main`."""

from __future__ import annotations

import argparse

from cli import audit, check, db, demo, importing, notices, outbox, run, tickets
from cli.common import program, run_command

# In the order `--help` lists them.
GROUPS = (importing, db, run, check, demo, tickets, notices, outbox, audit)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every subcommand, each with its `--help`."""
    parser = argparse.ArgumentParser(
        prog=program(), description="PÉTKOMM customer-service assistant."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python run_bot.py` and the `petkomm` console script."""
    return run_command(build_parser().parse_args(argv))
