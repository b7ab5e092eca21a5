"""Recognition crops: augmentation and resizing to the recognizer's input (numpy/OpenCV).

Inputs follow TAO OCRNet / deep-text-recognition-benchmark: gray (or RGB) crops resized to
``height x width`` (default 32 x 100), scaled to [-1, 1]. With ``keep_aspect_ratio`` the crop is
resized to the height and padded on the right instead of stretched.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from ocdr.config.augment import RecAugSpec

__all__ = ["RecAugSpec", "augment_crop", "kept_width", "resize_crop", "to_input", "dynamic_width", "to_input_paddle", "width_rungs"]


def augment_crop(image: np.ndarray, spec: RecAugSpec, rng: np.random.Generator) -> np.ndarray:
    """Each enabled step applies with probability ``aug_prob``; geometry keeps the whole word."""
    img = image
    h, w = img.shape[:2]
    border = tuple(int(v) for v in np.median(img.reshape(-1, img.shape[-1]), axis=0))
    if spec.perspective > 0 and rng.random() < spec.aug_prob:
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        jitter = rng.uniform(-spec.perspective, spec.perspective, size=(4, 2)) * [w, h]
        m = cv2.getPerspectiveTransform(src, np.float32(src + jitter))
        img = cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    if spec.rotate_deg > 0 and rng.random() < spec.aug_prob:
        angle = float(rng.uniform(-spec.rotate_deg, spec.rotate_deg))
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    if spec.shear_deg > 0 and rng.random() < spec.aug_prob:
        img = _shear(img, float(rng.uniform(-spec.shear_deg, spec.shear_deg)), border)
    if spec.elastic > 0 and rng.random() < spec.aug_prob:
        img = _elastic(img, spec.elastic, rng, border)
    if spec.stroke_width and rng.random() < spec.aug_prob:
        kernel = np.ones((2, 2) if min(img.shape[:2]) < 40 else (3, 3), np.uint8)
        img = cv2.erode(img, kernel) if rng.random() < 0.5 else cv2.dilate(img, kernel)
    if spec.blur and rng.random() < spec.aug_prob:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 1.0)))
    if spec.noise and rng.random() < spec.aug_prob:
        img = np.clip(img + rng.normal(0, rng.uniform(2, 10), img.shape), 0, 255).astype(np.uint8)
    if spec.invert and rng.random() < spec.aug_prob * 0.5:
        img = 255 - img
    return img


def _shear(img: np.ndarray, angle_deg: float, border: tuple) -> np.ndarray:
    """Slant by ``angle_deg`` (x += tan * (y - h/2)); the canvas widens so no stroke leaves it."""
    h, w = img.shape[:2]
    t = float(np.tan(np.radians(angle_deg)))
    extra = int(np.ceil(abs(t) * h))
    m = np.float32([[1, t, extra / 2 - t * h / 2], [0, 1, 0]])
    return cv2.warpAffine(img, m, (w + extra, h), borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def _elastic(img: np.ndarray, alpha: float, rng: np.random.Generator, border: tuple) -> np.ndarray:
    """Smooth random displacement (Simard et al. 2003) of up to ``alpha`` x height pixels."""
    h, w = img.shape[:2]
    sigma = max(h / 5.0, 1.0)
    dx, dy = (cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) for _ in range(2))
    scale = alpha * h / max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xs + dx * scale, ys + dy * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=border)


def kept_width(h: int, w: int, height: int, width: int) -> int:
    """Width of an ``h x w`` crop scaled to ``height`` keeping its ratio, at most ``width``."""
    return min(width, max(1, int(round(w * height / max(h, 1)))))


def resize_crop(image: np.ndarray, height: int, width: int, channels: int = 1,
                keep_aspect_ratio: bool = False) -> np.ndarray:
    """uint8 (height, width[, 3]): gray when ``channels`` is 1; right-padded when keeping the ratio."""
    img = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if channels == 1 and image.ndim == 3 else image
    h, w = img.shape[:2]
    if not keep_aspect_ratio:
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if w > width else cv2.INTER_CUBIC)
    new_w = kept_width(h, w, height, width)
    resized = cv2.resize(img, (new_w, height), interpolation=cv2.INTER_AREA if w > new_w else cv2.INTER_CUBIC)
    out = np.zeros((height, width) + img.shape[2:], np.uint8)
    out[:, :new_w] = resized
    if new_w < width:  # pad with the crop's own last column so no hard edge is learnt
        out[:, new_w:] = resized[:, -1:]
    return out


def to_input(image: np.ndarray, height: int, width: int, channels: int = 1,
             keep_aspect_ratio: bool = False, pad: str = "edge") -> np.ndarray:
    """RGB uint8 crop -> float32 (channels, height, width) in [-1, 1].

    ``pad`` (with ``keep_aspect_ratio``): ``edge`` repeats the crop's last column; ``zero`` fills with 0 after
    normalisation (mid-grey), as PaddleOCR pads, which its recognizers were trained on."""
    img = resize_crop(image, height, width, channels, keep_aspect_ratio).astype(np.float32) / 127.5 - 1.0
    if keep_aspect_ratio and pad == "zero":
        img[:, kept_width(image.shape[0], image.shape[1], height, width):] = 0.0
    elif pad not in ("edge", "zero"):
        raise ValueError(f"pad must be edge or zero, got {pad!r}")
    return img[None] if img.ndim == 2 else img.transpose(2, 0, 1).copy()


def dynamic_width(crops: list[np.ndarray], height: int, min_width: int, max_width: int, multiple: int = 1,
                  ladder: float = 0.0) -> int:
    """PaddleOCR's batch width: the widest crop's ratio at ``height``, never below ``min_width``, rounded up to
    ``multiple`` (ocdr's trainer rounds to 8), never above ``max_width``. ``ladder`` > 0: rounded up further
    to the next rung of :func:`width_rungs`, so that batches take one of a few widths."""
    ratio = max([min_width / height] + [c.shape[1] / max(c.shape[0], 1) for c in crops])
    width = _round_up(max(int(height * ratio), min_width), multiple)
    if ladder > 0:
        width = next((r for r in width_rungs(min_width, max_width, multiple, ladder) if r >= width), max_width)
    return int(min(width, max_width))


@functools.lru_cache(maxsize=64)
def width_rungs(min_width: int, max_width: int, multiple: int, ladder: float) -> tuple[int, ...]:
    """The widths of a ladder from ``min_width`` to ``max_width``: rung k is ``min_width * (1 + ladder)**k``
    rounded up to ``multiple``, and at least one ``multiple`` above rung k - 1; the last rung is
    ``max_width`` (reached by a smaller step)."""
    rungs, width = [], float(min_width)
    while not rungs or rungs[-1] < max_width:
        rung = min(_round_up(math.ceil(width - 1e-9), multiple), max_width)
        if not rungs or rung > rungs[-1]:
            rungs.append(rung)
        width = max(width * (1 + ladder), rung + 1)  # a ladder too small to move still climbs
    return tuple(rungs)


def _round_up(value: int, multiple: int) -> int:
    return -(-int(value) // multiple) * multiple


def to_input_paddle(image: np.ndarray, height: int, width: int, channel_order: str = "BGR",
                    mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> np.ndarray:
    """RGB uint8 crop -> float32 (3, height, width) as PaddleOCR's ``resize_norm_img``: resized to the height
    (bilinear, width rounded up, at most ``width``), normalised, zero-padded on the right."""
    img = image[:, :, ::-1] if channel_order == "BGR" else image
    h, w = img.shape[:2]
    new_w = min(width, max(1, int(np.ceil(height * w / max(h, 1)))))
    resized = cv2.resize(img, (new_w, height)).astype(np.float32)
    scale = 1.0 / (255.0 * np.asarray(std, np.float32))
    shift = np.asarray(mean, np.float32) / np.asarray(std, np.float32)
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :new_w] = (resized * scale - shift).transpose(2, 0, 1)
    return out
