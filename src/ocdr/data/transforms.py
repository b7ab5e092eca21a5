"""Detection augmentation on (image, polygons) together, and inference resizing (numpy/OpenCV).

Every geometric step moves the polygons with the same matrix as the pixels, so boxes keep
matching the text. Randomness comes only from the ``np.random.Generator`` passed in.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ocdr.data.polygon import order_quad, to_clockwise

__all__ = ["DetAugSpec", "random_flip", "random_rotate", "random_scale", "random_crop_keep_text", "color_jitter",
           "augment", "resize_for_inference", "normalize", "denormalize", "MEAN", "STD"]

# ImageNet statistics (RGB, 0..1): what ResNet backbones were designed around.
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)

Sample = tuple[np.ndarray, list[np.ndarray], list[bool]]


@dataclass
class DetAugSpec:
    enable: bool = field(default=True, metadata={"help": "augment training images"})
    flip_prob: float = field(default=0.5, metadata={"help": "horizontal flip probability (as DBNet and TAO)"})
    rotate_deg: float = field(default=10.0, metadata={"help": "random rotation in [-deg, deg]"})
    scale_min: float = field(default=0.5, metadata={"help": "smallest random scale"})
    scale_max: float = field(default=3.0, metadata={"help": "largest random scale"})
    crop_size: int = field(default=640, metadata={"help": "training crop (square, multiple of 32)"})
    crop_keep_text: bool = field(default=True, metadata={"help": "crops avoid cutting text"})
    color_prob: float = field(default=0.5, metadata={"help": "brightness/contrast/saturation jitter probability"})
    blur_prob: float = field(default=0.1, metadata={"help": "Gaussian blur probability"})


def _order(poly: np.ndarray) -> np.ndarray:
    if len(poly) == 4:
        return order_quad(poly)
    p = to_clockwise(poly)
    return np.roll(p, -int(np.argmin(p[:, 0] + p[:, 1])), axis=0)


def _affine(polys: list[np.ndarray], m: np.ndarray) -> list[np.ndarray]:
    return [_order(np.hstack([p, np.ones((len(p), 1))]) @ m.T) for p in polys]


def random_flip(sample: Sample, rng: np.random.Generator, prob: float) -> Sample:
    image, polys, ignore = sample
    if rng.random() >= prob:
        return sample
    w = image.shape[1]
    flipped = [_order(np.column_stack([w - p[:, 0], p[:, 1]])) for p in polys]
    return image[:, ::-1].copy(), flipped, ignore


def random_rotate(sample: Sample, rng: np.random.Generator, max_deg: float) -> Sample:
    image, polys, ignore = sample
    if max_deg <= 0:
        return sample
    angle = float(rng.uniform(-max_deg, max_deg))
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    border = tuple(int(v) for v in np.median(image.reshape(-1, 3), axis=0))
    rotated = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=border)
    return rotated, _affine(polys, m), ignore


def random_scale(sample: Sample, rng: np.random.Generator, lo: float, hi: float) -> Sample:
    image, polys, ignore = sample
    s = float(rng.uniform(lo, hi))
    h, w = image.shape[:2]
    nh, nw = max(int(round(h * s)), 1), max(int(round(w * s)), 1)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return resized, [p * [nw / w, nh / h] for p in polys], ignore


def _free_spans(extent: int, occupied: list[tuple[int, int]]) -> np.ndarray:
    free = np.ones(extent, bool)
    for a, b in occupied:
        free[max(a, 0):min(b + 1, extent)] = False
    return np.flatnonzero(free)


def random_crop_keep_text(sample: Sample, rng: np.random.Generator, size: int, keep_text: bool = True,
                          tries: int = 30) -> Sample:
    """A ``size`` x ``size`` window (padded when the image is smaller) whose cut lines avoid text.

    Cut positions are drawn from the columns and rows that no text polygon covers (DBNet's
    EastRandomCrop idea). Polygons wholly outside are dropped; ones cut anyway become don't-care.
    """
    image, polys, ignore = sample
    h, w = image.shape[:2]
    cw, ch = min(size, w), min(size, h)
    x0 = y0 = 0
    if keep_text and polys:
        xs = _free_spans(w, [(int(p[:, 0].min()), int(np.ceil(p[:, 0].max()))) for p in polys])
        ys = _free_spans(h, [(int(p[:, 1].min()), int(np.ceil(p[:, 1].max()))) for p in polys])
        for _ in range(tries):
            cx = [x for x in xs if x + cw <= w or x == w - cw]
            cy = [y for y in ys if y + ch <= h]
            cand_x0 = int(rng.choice(cx)) if cx and w > cw else 0
            cand_y0 = int(rng.choice(cy)) if cy and h > ch else 0
            if _cuts(polys, ignore, cand_x0, cand_y0, cw, ch) == 0:
                x0, y0 = cand_x0, cand_y0
                break
            x0, y0 = cand_x0, cand_y0
    else:
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
    crop = image[y0:y0 + ch, x0:x0 + cw]
    fill = np.median(image.reshape(-1, 3), axis=0).astype(image.dtype)
    out = np.empty((size, size, 3), image.dtype)
    out[:] = fill
    out[:ch, :cw] = crop
    new_polys, new_ignore = [], []
    for p, ign in zip(polys, ignore):
        q = p - [x0, y0]
        inside = (q[:, 0] >= 0) & (q[:, 0] <= cw) & (q[:, 1] >= 0) & (q[:, 1] <= ch)
        if not inside.any() and _overlap_fraction(q, cw, ch) == 0:
            continue
        new_polys.append(q)
        new_ignore.append(ign or not inside.all())
    return out, new_polys, new_ignore


def _overlap_fraction(q: np.ndarray, cw: int, ch: int) -> float:
    x0, y0 = q.min(0)
    x1, y1 = q.max(0)
    iw, ih = max(min(x1, cw) - max(x0, 0), 0), max(min(y1, ch) - max(y0, 0), 0)
    area = max((x1 - x0) * (y1 - y0), 1e-6)
    return float(iw * ih / area)


def _cuts(polys, ignore, x0, y0, cw, ch) -> int:
    """How many kept polygons the window would cut."""
    n = 0
    for p, ign in zip(polys, ignore):
        if ign:
            continue
        q = p - [x0, y0]
        inside = (q[:, 0] >= 0) & (q[:, 0] <= cw) & (q[:, 1] >= 0) & (q[:, 1] <= ch)
        n += bool(inside.any() and not inside.all())
    return n


def color_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = image.astype(np.float32)
    img = img * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)            # contrast, brightness
    gray = img.mean(axis=2, keepdims=True)
    img = gray + (img - gray) * rng.uniform(0.5, 1.5)                     # saturation
    if rng.random() < 0.1:
        img = np.repeat(gray, 3, axis=2)
    return np.clip(img, 0, 255).astype(np.uint8)


def augment(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], spec: DetAugSpec,
            rng: np.random.Generator) -> Sample:
    sample: Sample = (image, [np.asarray(p, np.float64) for p in polys], list(ignore))
    if spec.enable:
        sample = random_flip(sample, rng, spec.flip_prob)
        sample = random_rotate(sample, rng, spec.rotate_deg)
        sample = random_scale(sample, rng, spec.scale_min, spec.scale_max)
    sample = random_crop_keep_text(sample, rng, spec.crop_size, spec.crop_keep_text)
    image, polys, ignore = sample
    if spec.enable and rng.random() < spec.color_prob:
        image = color_jitter(image, rng)
    if spec.enable and rng.random() < spec.blur_prob:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.3, 1.2)))
    return image, polys, ignore


def resize_for_inference(image: np.ndarray, long_side: int = 736, multiple: int = 32
                         ) -> tuple[np.ndarray, float, float]:
    """Keep the aspect ratio, long side ~``long_side``, both sides multiples of 32.

    Returns the resized image and the scale factors (resized / original) in x and y.
    """
    h, w = image.shape[:2]
    s = long_side / max(h, w)
    nh = max(int(round(h * s / multiple)) * multiple, multiple)
    nw = max(int(round(w * s / multiple)) * multiple, multiple)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR)
    return resized, nw / w, nh / h


def normalize(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (3, H, W) with ImageNet mean/std."""
    return ((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1).copy()


def denormalize(chw: np.ndarray) -> np.ndarray:
    return np.clip((chw.transpose(1, 2, 0) * STD + MEAN) * 255.0, 0, 255).astype(np.uint8)
