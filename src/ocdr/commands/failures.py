"""What the inference commands (``pipeline``, ``ocdnet`` and ``ocrnet inference``) do when inputs fail.

A failure belongs to its input alone: a file that cannot be read, decoded, run or written is logged as one
line, counted, and listed (file and reason) in the command's summary, and the other inputs go on. The
command fails (exit status 2) only when nothing succeeded: the one file given failed, or every image of the
folder did. A folder where some images failed ends with status 0 and ``failed`` > 0, as TAO's tools do.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ocdr.errors import DataError, OcdrError

__all__ = ["Failures", "results_folder"]
log = logging.getLogger("ocdr")


def _reason(path: str | Path, exc: BaseException) -> str:
    """One line naming the file: ocdr's own errors already say what is wrong, anything else by its type."""
    if isinstance(exc, DataError) and exc.path == str(path):
        return str(exc)
    if isinstance(exc, OcdrError):
        return f"{path}: {exc}"
    return f"{path}: {type(exc).__name__}: {exc}"


@dataclass
class Failures:
    """The inputs of one run that failed, as ``{"image": path, "error": one line}`` records."""

    source: str  # the command's input, a file or a folder, for the final error
    items: list[dict] = field(default_factory=list)

    def add(self, path: str | Path, exc: BaseException) -> None:
        reason = _reason(path, exc)
        log.warning("failed: %s", reason)
        self.items.append({"image": str(path), "error": reason})

    def attempt(self, path: str | Path, fn: Callable, *args):
        """``fn(*args)``, or None when it raises (the failure is recorded against ``path``)."""
        # Any Exception, not only ocdr's: whatever goes wrong on one image (a decoder, the model, the
        # disk) is that image's failure. A fault common to every image still ends the run with status 2.
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001
            self.add(path, exc)
            return None

    def run_batch(self, fn: Callable[[list], list], inputs: list, paths: Sequence) -> list[tuple[int, object]]:
        """``(index, result)`` of ``fn(inputs)``; when the batch fails, each input runs alone, so only the
        inputs that fail by themselves are lost."""
        try:
            return list(enumerate(fn(inputs)))
        except Exception as exc:  # noqa: BLE001 - see attempt()
            if len(inputs) == 1:
                self.add(paths[0], exc)
                return []
            log.debug("a batch of %d failed (%s); running its inputs one by one", len(inputs), exc)
        results = []
        for i, (x, path) in enumerate(zip(inputs, paths)):
            out = self.attempt(path, fn, [x])
            if out is not None:
                results.append((i, out[0]))
        return results

    def check(self, attempted: int) -> None:
        """Raise (exit 2) when all ``attempted`` inputs failed; the error is the failure itself for one input."""
        if attempted == 0 or len(self.items) < attempted:
            return
        if attempted == 1:
            raise OcdrError(self.items[0]["error"])
        raise DataError(self.source, f"all {attempted} images failed; the first: {self.items[0]['error']}")


def results_folder(path: str | Path) -> Path:
    """The results folder, created; one that cannot be created or written is an error naming it, before any
    work is done."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(path, f"cannot create the results folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataError(path, "cannot write into the results folder (permission denied)")
    return path
