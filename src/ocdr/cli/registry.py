"""The command table: each CLI module adds :class:`Command` entries with ``register``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Command", "register", "COMMANDS"]


@dataclass(frozen=True)
class Command:
    group: str                       # "data", "ocrnet", ... ("" for top-level commands)
    name: str                        # "iam", "dataset_convert", ...
    spec: type                       # the dataclass holding every option
    run: Callable[[Any], Any]        # run(spec) -> summary dict (printed) or None
    summary: str                     # one line for the command list
    description: str                 # a paragraph for --help
    example: str                     # a command line that works
    output_key: str | None = "output_dir"  # spec field where the resolved spec is saved
    positional: str | None = None    # spec key a bare word sets (``ocdr pretrained import ppocr-v4``)


COMMANDS: dict[tuple[str, str], Command] = {}


def register(cmd: Command) -> Command:
    key = (cmd.group, cmd.name)
    if key in COMMANDS:
        raise RuntimeError(f"command {' '.join(key)} registered twice")
    COMMANDS[key] = cmd
    return cmd
