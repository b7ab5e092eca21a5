"""Checking data before a run starts: every image read far enough to catch truncation, on a thread pool.

Datasets check their records when they are built, so a broken file stops the command at once with
one line naming it (or, with ``skip_bad``, is left out of the index and counted) instead of failing
in a DataLoader worker hours into training. The check is cheaper than decoding but reads every byte
that matters: PNG chunk checksums through the end marker (no inflating), JPEG decoded at 1/8 scale
(the whole entropy-coded stream is still read), other formats fully decoded.
"""
from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from PIL import Image, UnidentifiedImageError

from ocdr.data.images import ImageTooLarge, max_pixels_limit
from ocdr.errors import DataError

__all__ = ["Rejected", "check_image", "check_image_file", "read_file", "check_all", "is_skipped"]

T = TypeVar("T")
R = TypeVar("R")


class Rejected(DataError):
    """A bad record together with the reason it is counted under when skipped ("missing file", ...)."""

    def __init__(self, path: str | Path | None, what: str, line: int | None = None, reason: str = "unreadable image"):
        super().__init__(path, what, line)
        self.reason = reason


def is_skipped(item: dict) -> bool:
    """Whether a dataset item stands for a record that failed at read time (``{"skipped": reason, ...}``),
    for a collate function to drop and count: a record that passed the check when the dataset was built
    can still fail later, when its file changed during the run."""
    return "skipped" in item


def check_image(data: bytes, name: str | Path = "<bytes>", max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) of an encoded image once all of it is known to be there; a DataError otherwise.

    The messages and the pixel limit are :func:`ocdr.data.images.decode_image`'s, so a file fails the same
    way here and when it is read.
    """
    if not data:
        raise DataError(name, "empty file, not an image")
    limit = max_pixels_limit(max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            if size[0] * size[1] > limit:
                raise ImageTooLarge(name, size[0], size[1], limit)
            if im.format == "PNG":
                im.verify()
            else:
                if im.format == "JPEG":
                    im.draft(im.mode, (max(size[0] // 8, 1), max(size[1] // 8, 1)))
                im.load()
    except UnidentifiedImageError:
        raise DataError(name, "not a readable image (unknown format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(name, f"unreadable image ({exc})") from None
    if 0 in size:
        raise DataError(name, f"image has no pixels (size {size[0]}x{size[1]})")
    return size


def check_image_file(path: Path) -> tuple[int, int]:
    """:func:`check_image` on a file; a missing or unreadable file is a DataError naming it."""
    return check_image(read_file(path), path)


def read_file(path: Path, missing: str = "image not found") -> bytes:
    """A file's bytes; missing or unreadable (permissions) is a DataError naming it."""
    try:
        if not path.is_file():
            raise DataError(path, missing)
        return path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read this file ({exc.strerror or exc})") from None


def _outcome(check: Callable[[T], R], item: T) -> R | DataError:
    try:
        return check(item)
    except DataError as exc:
        return exc


def check_all(items: Iterable[T], check: Callable[[T], R], workers: int = 0) -> Iterator[tuple[T, R | DataError]]:
    """``(item, check(item))`` for every item in order, or ``(item, the DataError it raised)``.

    Checks run on a thread pool (decoding and file reads release the GIL), at most a few hundred items
    ahead of the consumer: a generator of LMDB records is read as the checks go, and a consumer that
    stops at the first error stops the pool soon after. Other exceptions are bugs and propagate.
    """
    workers = workers or min(8, os.cpu_count() or 1)
    it = iter(items)
    with ThreadPoolExecutor(workers, thread_name_prefix="ocdr-check") as pool:
        while chunk := list(islice(it, 32 * workers)):
            futures = [pool.submit(_outcome, check, item) for item in chunk]
            try:
                for item, future in zip(chunk, futures):
                    yield item, future.result()
            finally:
                for future in futures:
                    future.cancel()
