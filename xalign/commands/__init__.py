"""Subcommands, registered by explicit import (no directory scan).

Each module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a handler ``(args) -> int``. Add a new command by importing its module
here and appending it to ``COMMANDS``.
"""

from __future__ import annotations

from xalign.commands import (
    cka,
    difficulty,
    embed,
    evaluate,
    fetch,
    finetune_cmd,
    model,
    report,
    retrieve,
    run,
    tasks,
)

COMMANDS: list = [model, embed, fetch, retrieve, cka, tasks, difficulty, finetune_cmd,
                  evaluate, run, report]
