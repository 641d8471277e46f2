"""The command line: `python run_bot.py SUBCOMMAND` (installed as `petkomm` too).

One module per subcommand group (`importing`, `db`, `run`, `demo`, `tickets`,
`audit`), each adding its parser and its `cmd_*` functions; `common` holds what
they share. They only parse arguments and call the domain; every subcommand has
`--help`, and a missing or malformed setting stops a command with one line
naming the variable, never a traceback.
"""

from cli.main import build_parser, main

__all__ = ["build_parser", "main"]
