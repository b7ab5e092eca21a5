"""Reading images robustly: the format is taken from the bytes, not the file extension.

Every image comes out as an ``(H, W, 3)`` uint8 **RGB** array, upright (EXIF orientation
applied): RGBA is composited over white, grayscale is replicated, 16-bit and float images are
scaled to 8 bits.

Every read is bounded: an image of more than ``max_pixels`` pixels (default 100 million, or the
``OCDR_MAX_PIXELS`` environment variable) is refused from its header, before any pixel is decoded, so a
1 MB file claiming 20000 x 20000 pixels costs nothing instead of gigabytes.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ocdr.errors import ConfigError, DataError
from ocdr.fileio import atomic_write_bytes

__all__ = ["IMAGE_EXTENSIONS", "decode_image", "read_image", "sniff_format", "write_image", "to_rgb8", "list_images",
           "natural_key", "DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "ImageTooLarge", "max_pixels_limit"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm")
DEFAULT_MAX_PIXELS = 100_000_000
MAX_PIXELS_ENV = "OCDR_MAX_PIXELS"
# ocdr checks each image's size itself (decode_image, from the header); PIL's own guard warns at one limit
# and fails at twice it, which would contradict a limit set through max_pixels or OCDR_MAX_PIXELS.
Image.MAX_IMAGE_PIXELS = None


class ImageTooLarge(DataError):
    """An image whose header declares more pixels than the limit; nothing of it was decoded."""

    def __init__(self, path, width: int, height: int, limit: int):
        self.width, self.height, self.limit = width, height, limit
        super().__init__(path, f"image of {width}x{height} = {width * height:,} pixels exceeds the limit of "
                               f"{limit:,} (raise it with max_pixels=N or {MAX_PIXELS_ENV}=N)")


def max_pixels_limit(max_pixels: int | None = None) -> int:
    """The pixel limit of a read: ``max_pixels`` when given, else ``$OCDR_MAX_PIXELS``, else 100 million."""
    if max_pixels is not None:
        if max_pixels <= 0:
            raise ConfigError(f"max_pixels must be positive, got {max_pixels}")
        return int(max_pixels)
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{MAX_PIXELS_ENV}={text!r}: expected a positive whole number of pixels")
    return value


def sniff_format(data: bytes) -> str | None:
    """Lower-case format name ('png', 'jpeg', ...) read from the file's magic bytes."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return (im.format or "").lower() or None
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def to_rgb8(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if mode == "F":
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
        else:
            arr = arr / hi * 255.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode == "RGB":
        return np.asarray(img).copy()
    return np.asarray(img.convert("RGB"))


def decode_image(data: bytes, name: str | Path = "<bytes>", max_pixels: int | None = None) -> np.ndarray:
    """Decode encoded image bytes to RGB uint8; a truncated or non-image input is a DataError, one with more
    than ``max_pixels`` pixels (see :func:`max_pixels_limit`) an :class:`ImageTooLarge`, raised before decoding."""
    if not data:
        raise DataError(name, "empty file, not an image")
    limit = max_pixels_limit(max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size  # from the header: open() decodes no pixels
            if width * height > limit:
                raise ImageTooLarge(name, width, height, limit)
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            # Phones store photos sideways plus an EXIF orientation; annotators (and OpenCV) see
            # them upright, so ground truth is in the upright frame.
            arr = to_rgb8(ImageOps.exif_transpose(img))
    except UnidentifiedImageError:
        raise DataError(name, "not a readable image (unknown format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(name, f"unreadable image ({exc})") from None
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(name, f"image has no pixels (shape {arr.shape})")
    return arr


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """:func:`decode_image` of a file; a missing or unreadable file (permissions) is a DataError naming it."""
    path = Path(path)
    try:
        if not path.is_file():
            raise DataError(path, "image not found")
        data = path.read_bytes()
    except OSError as exc:  # PermissionError above all: a one-line error, not a traceback
        raise DataError(path, f"cannot read this file ({exc.strerror or exc})") from None
    return decode_image(data, path, max_pixels)


def write_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> Path:
    """Write an RGB (or gray) uint8 array atomically; the format follows the extension."""
    path = Path(path)
    arr = np.asarray(rgb)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    ext = path.suffix.lower() or ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, arr, params)
    if not ok:
        raise DataError(path, f"cannot encode image as {ext}")
    return atomic_write_bytes(path, buf.tobytes())


def natural_key(name: str) -> list:
    """Sort key that puts img_2 before img_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def list_images(path: str | Path, allow_empty: bool = False) -> list[Path]:
    """The images of a folder (by extension, natural name order, ties by exact name), or ``[path]`` for a file.

    Dot files are skipped: macOS leaves "._img_1.jpg" resource forks that are not images. A missing path or
    a folder without images (unless ``allow_empty``) is a clear error naming it."""
    path = Path(path)
    try:
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise DataError(path, "no such image file or folder")
        files = [p for p in path.iterdir()
                 if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS]
    except OSError as exc:  # a folder without read permission: one line naming it
        raise DataError(path, f"cannot list this folder ({exc.strerror or exc})") from None
    if not files and not allow_empty:
        raise DataError(path, "no images in this folder")
    return sorted(files, key=lambda p: (natural_key(p.name), p.name))
