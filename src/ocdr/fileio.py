"""Atomic file writes: a temp file in the target folder, then ``os.replace``.

A crash mid-write never leaves a half-written result where a finished one is expected.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

from ocdr.errors import DataError

__all__ = ["atomic_open", "atomic_path", "atomic_write_text", "atomic_write_bytes"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """A temp file name beside ``path`` for writers that want a name (``torch.save``, ``torch.onnx.export``):
    renamed onto ``path`` when the block ends normally, removed when it raises. The one atomic-write helper
    (``atomic_open`` and the ``atomic_write_*`` functions are built on it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results should be readable like any new file
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if _disk_full(exc, path.parent):
            raise DataError(path, "no space left on device writing this file") from None
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else encoding, newline=None if "b" in mode else "\n") as fh:
            yield fh


def _disk_full(exc: BaseException, folder: Path) -> bool:
    """ENOSPC, or a writer that hides it (torch.save's zip writer raises RuntimeError "file write failed")
    while the disk has next to no room left."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    if isinstance(exc, RuntimeError) and "write" in str(exc).lower():
        with contextlib.suppress(OSError):
            return shutil.disk_usage(folder).free < 1 << 20
    return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)
