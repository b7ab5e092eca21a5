"""DB post-processing (numpy/OpenCV): probability map -> text polygons in image coordinates.

binarize at ``thresh`` (optionally dilated 2 x 2) -> contours -> a minimum-area rectangle (``polygon=False``) or a
simplified contour (``polygon=True``) -> score = mean probability inside the contour, or with ``score_mode=fast``
inside the rectangle (dropped below ``box_thresh``) -> unclip: grow by A * unclip_ratio / L, undoing the shrink the model was
trained on (``targets.make_shrink_map``) -> minimum-area rectangle again -> scaled to the original
image size, clipped to it, in ICDAR order. Keys and defaults follow DBNet / TAO OCDNet.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import pyclipper

from ocdr.data.db_targets import offset_polygon
from ocdr.data.polygon import order_quad, to_clockwise
from ocdr.errors import ConfigError

__all__ = ["PostProcessConfig", "db_postprocess", "batch_postprocess", "unclip_distance", "detect_batch"]


@dataclass
class PostProcessConfig:
    thresh: float = field(default=0.3, metadata={"help": "binarization threshold on the probability map"})
    box_thresh: float = field(default=0.55, metadata={"help": "drop boxes whose mean probability is lower (TAO OCDNet default 0.55)"})
    max_candidates: int = field(default=1000, metadata={"help": "most contours examined per image"})
    unclip_ratio: float = field(default=1.5, metadata={"help": "how much a box grows back: distance = A * ratio / L"})
    polygon: bool = field(default=False, metadata={"help": "output polygons instead of quadrilaterals"})
    min_size: int = field(default=3, metadata={"help": "drop boxes whose short side is smaller (map pixels)"})
    score_mode: str = field(default="slow", metadata={"help": "box score = mean probability inside the contour "
                                                                 "(slow) or inside its bounding rectangle (fast, PaddleOCR's default)"})
    use_dilation: bool = field(default=False, metadata={"help": "dilate the binary map by 2 x 2 before finding contours (PaddleOCR)"})
    integer_geometry: bool = field(default=False, metadata={"help": "PaddleOCR's box geometry (quadrilaterals): scores over "
                                                                     "truncated corners, unclip on integer pixels, rounded "
                                                                     "output, boxes of 3 px or less dropped"})

    def validate(self) -> None:
        if self.score_mode not in ("slow", "fast"):
            raise ConfigError(f"postprocess.score_mode must be slow or fast, got {self.score_mode!r}")


def unclip_distance(polygon: np.ndarray, ratio: float) -> float:
    """A * ratio / L: how far a detected kernel grows back towards the whole word."""
    p = np.asarray(polygon, np.float32)
    perimeter = cv2.arcLength(p, True)
    return 0.0 if perimeter == 0 else abs(cv2.contourArea(p)) * ratio / perimeter


def _score(prob: np.ndarray, contour: np.ndarray) -> float:
    """Mean probability inside the contour, computed on its bounding box only (fast)."""
    h, w = prob.shape
    x0, y0 = np.clip(np.floor(contour.min(0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(contour.max(0)).astype(int), 0, [w - 1, h - 1])
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [np.round(contour - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])


def _grow(points: np.ndarray, ratio: float) -> np.ndarray | None:
    """The unclipped shape, or None when growing gives no single polygon (DBNet drops those)."""
    grown = offset_polygon(points, unclip_distance(points, ratio))
    if len(grown) != 1:
        return None
    return grown[0]


def _kernel_outline(contour: np.ndarray, cfg: PostProcessConfig) -> np.ndarray | None:
    """The shape to unclip: the contour's minimum-area rectangle, or in polygon mode the contour
    simplified to within 0.2 % of its perimeter (DBNet's choice); None for specks."""
    if cfg.polygon:
        pts = cv2.approxPolyDP(contour, 0.002 * cv2.arcLength(contour, True), True).reshape(-1, 2)
        if len(pts) >= 4:
            return pts.astype(np.float64)
    rect = cv2.minAreaRect(contour)
    if not cfg.polygon and min(rect[1]) < cfg.min_size:
        return None
    return cv2.boxPoints(rect).astype(np.float64)


def _start_top_left(points: np.ndarray) -> np.ndarray:
    """A clockwise polygon rolled to start at its top-left-most point (smallest x + y)."""
    return np.roll(points, -int(np.argmin(points[:, 0] + points[:, 1])), axis=0)


def _to_image(points: np.ndarray, scale: tuple[float, float], size: tuple[int, int], polygon: bool) -> np.ndarray:
    """Map pixels -> image pixels, clipped to the image, in ICDAR order (clockwise from top-left)."""
    out = points * np.asarray(scale)
    out[:, 0] = np.clip(out[:, 0], 0, size[1])
    out[:, 1] = np.clip(out[:, 1], 0, size[0])
    out = _start_top_left(to_clockwise(out)) if polygon else order_quad(out)
    return out.astype(np.float32)


def db_postprocess(prob: np.ndarray, cfg: PostProcessConfig, dest_size: tuple[int, int] | None = None
                   ) -> tuple[list[np.ndarray], list[float]]:
    """Polygons (float32 (N, 2), ICDAR order) and their scores for one (H, W) probability map.

    ``dest_size`` = (height, width) of the original image: x is scaled by orig_w / W and y by
    orig_h / H (the map of a resized image); None keeps map coordinates.
    """
    prob = np.asarray(prob, np.float32)
    if prob.ndim != 2:
        raise ValueError(f"db_postprocess wants one (H, W) probability map, got shape {prob.shape}")
    h, w = prob.shape
    size = dest_size if dest_size is not None else (h, w)
    scale = (size[1] / w, size[0] / h)
    bitmap = (prob > cfg.thresh).astype(np.uint8)
    if cfg.use_dilation:  # joins strokes one pixel apart, as PaddleOCR does for its own models
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    polys, scores = [], []
    if cfg.integer_geometry and not cfg.polygon:
        for contour in contours[: cfg.max_candidates]:
            found = _paddle_box(prob, contour, cfg, size)
            if found is not None:
                polys.append(found[0])
                scores.append(found[1])
        return polys, scores
    for contour in contours[: cfg.max_candidates]:
        outline = _kernel_outline(contour, cfg)
        if outline is None:
            continue
        score = _score(prob, outline if cfg.score_mode == "fast" else contour.reshape(-1, 2))
        if score < cfg.box_thresh:
            continue
        grown = _grow(outline, cfg.unclip_ratio)
        if grown is None:
            continue
        rect = cv2.minAreaRect(grown.astype(np.float32))
        if min(rect[1]) < cfg.min_size + 2:
            continue
        polys.append(_to_image(grown if cfg.polygon else cv2.boxPoints(rect).astype(np.float64),
                               scale, size, cfg.polygon))
        scores.append(score)
    return polys, scores


def _paddle_box(prob: np.ndarray, contour: np.ndarray, cfg: PostProcessConfig, size: tuple[int, int]
                ) -> tuple[np.ndarray, float] | None:
    """One contour the way PaddleOCR's DBPostProcess and RapidOCR's box filter treat it, to the pixel: the
    same weights then give the same boxes (ocdr's own path keeps sub-pixel geometry instead)."""

    h, w = prob.shape
    rect = cv2.minAreaRect(contour)
    if min(rect[1]) < cfg.min_size:
        return None
    box = cv2.boxPoints(rect)
    if cfg.score_mode == "fast":
        x0, y0 = np.clip(np.floor(box.min(0)).astype(int), 0, [w - 1, h - 1])
        x1, y1 = np.clip(np.ceil(box.max(0)).astype(int), 0, [w - 1, h - 1])
        mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        cv2.fillPoly(mask, [(box - [x0, y0]).astype(np.int32)], 1)  # truncated corners, as PaddleOCR
        score = float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])
    else:
        score = _score(prob, contour.reshape(-1, 2))
    if score < cfg.box_thresh:
        return None
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)  # integer pixels
    grown = offset.Execute(unclip_distance(box, cfg.unclip_ratio))
    if not grown:
        return None
    rect = cv2.minAreaRect(np.concatenate([np.asarray(g, np.float32) for g in grown]))
    if min(rect[1]) < cfg.min_size + 2:
        return None
    out = cv2.boxPoints(rect).astype(np.float64)
    out[:, 0] = np.clip(np.round(out[:, 0] / w * size[1]), 0, size[1] - 1)
    out[:, 1] = np.clip(np.round(out[:, 1] / h * size[0]), 0, size[0] - 1)
    out = order_quad(out)
    if int(np.linalg.norm(out[0] - out[1])) <= 3 or int(np.linalg.norm(out[0] - out[3])) <= 3:
        return None
    return out.astype(np.float32), score


def batch_postprocess(probs: np.ndarray, cfg: PostProcessConfig,
                      dest_sizes: list[tuple[int, int]] | None = None) -> list[tuple[list[np.ndarray], list[float]]]:
    """``db_postprocess`` over a batch of maps (B, H, W) or (B, 1, H, W); ``dest_sizes`` per image."""
    probs = np.asarray(probs)
    if probs.ndim == 4:
        probs = probs[:, 0]
    return [db_postprocess(p, cfg, None if dest_sizes is None else dest_sizes[i]) for i, p in enumerate(probs)]


def detect_batch(probs: np.ndarray, batch: dict, cfg: PostProcessConfig) -> list[tuple[list, list]]:
    """Post-process padded eval probability maps back to each original image."""
    out = []
    for prob, (sx, sy), (h, w) in zip(probs, batch["scale"], batch["orig_size"]):
        rh, rw = int(round(h * sy)), int(round(w * sx))
        out.append(db_postprocess(prob[:rh, :rw], cfg, dest_size=(h, w)))
    return out
