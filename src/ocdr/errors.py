"""Errors that reach the user as one clear line, and the tally of bad records.

Every error ocdr raises on purpose is an :class:`OcdrError`; the CLI prints its message
(``path:line: what is wrong``) and exits with status 2 instead of showing a traceback.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OcdrError", "ConfigError", "DataError", "BadRecords"]

log = logging.getLogger("ocdr")


class OcdrError(Exception):
    """Base class of every error meant for the user."""


class ConfigError(OcdrError):
    """A spec file or override is wrong (unknown key, wrong type, bad value)."""


class DataError(OcdrError):
    """A data file or record is wrong; the message names the file and line."""

    def __init__(self, path: str | Path | None, what: str, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.what = what
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {what}")


@dataclass
class BadRecords:
    """Decides what happens to a bad record: raise (default) or skip and count.

    ``skip=True`` is what ``--skip-bad`` turns on. Skipped records are counted by reason
    so that converters can print them in their summary.
    """

    skip: bool = False
    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def bad(self, error: DataError, reason: str | None = None) -> None:
        """Raise ``error``, or (when skipping) log it and count it under ``reason``."""
        if not self.skip:
            raise error
        self.counts[reason or error.what.split(":")[0]] += 1
        if len(self.examples) < 20:
            self.examples.append(str(error))
        log.warning("skipped: %s", error)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
