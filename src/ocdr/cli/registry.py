"""The command table: each CLI module adds :class:`Command` entries with ``register``."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Command", "register", "COMMANDS"]


@dataclass(frozen=True)
class Command:
    group: str                       # "data", "ocrnet", ... ("" for top-level commands)
    name: str                        # "iam", "dataset_convert", ...
    spec: type                       # the dataclass holding every option
    run: Callable[[Any], Any] | str  # run(spec) -> summary dict (printed) or None; "module:function" is
                                     # imported only when the command runs (the CLI starts without torch)
    summary: str                     # one line for the command list
    description: str                 # a paragraph for --help
    example: str                     # a command line that works
    output_key: str | None = "output_dir"  # spec field where the resolved spec is saved
    positional: str | None = None    # spec key a bare word sets (``ocdr pretrained import ppocr-v4``)


    def runner(self) -> Callable[[Any], Any]:
        if callable(self.run):
            return self.run
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module), name)


COMMANDS: dict[tuple[str, str], Command] = {}


def register(cmd: Command) -> Command:
    key = (cmd.group, cmd.name)
    if key in COMMANDS:
        raise RuntimeError(f"command {' '.join(key)} registered twice")
    COMMANDS[key] = cmd
    return cmd
