"""The command line: parse options, call the library, map errors to exit codes once.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error; 3 input error; 4 rule or configuration error; 5 internal error.
"""

from __future__ import annotations

# Importing the command modules registers their commands on ``app`` (explicit, in one place), in the
# order ``appaudit --help`` lists them.
# isort: off
from appaudit.cli import scan, history, rules, batch, show, store

# isort: on
from appaudit.cli.app import app, main

__all__ = ["app", "batch", "history", "main", "rules", "scan", "show", "store"]
