"""DB post-processing (numpy/OpenCV): probability map -> text polygons in image coordinates.

binarize at ``thresh`` -> contours -> score = mean probability inside the contour (dropped below
``box_thresh``) -> unclip (grow by A * unclip_ratio / L, undoing the training shrink) -> a
minimum-area rectangle (``polygon=False``) or the grown polygon -> scaled to the original size.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ocdr.data.polygon import order_quad, to_clockwise
from ocdr.models.detection.targets import offset_polygon

__all__ = ["PostProcessConfig", "db_postprocess", "batch_postprocess", "unclip_distance"]


@dataclass
class PostProcessConfig:
    thresh: float = field(default=0.3, metadata={"help": "binarization threshold on the probability map"})
    box_thresh: float = field(default=0.55, metadata={"help": "drop boxes whose mean probability is lower"})
    max_candidates: int = field(default=1000, metadata={"help": "most contours examined per image"})
    unclip_ratio: float = field(default=1.5, metadata={"help": "how much a box grows back: distance = A * ratio / L"})
    polygon: bool = field(default=False, metadata={"help": "output polygons instead of quadrilaterals"})
    min_size: int = field(default=3, metadata={"help": "drop boxes whose short side is smaller (map pixels)"})


def unclip_distance(polygon: np.ndarray, ratio: float) -> float:
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
    grown = offset_polygon(points, unclip_distance(points, ratio))
    if len(grown) != 1:
        return None
    return grown[0]


def db_postprocess(prob: np.ndarray, cfg: PostProcessConfig, dest_size: tuple[int, int] | None = None
                   ) -> tuple[list[np.ndarray], list[float]]:
    """Polygons (float32 (N, 2), clockwise from top-left) and scores for one (H, W) probability map.

    ``dest_size`` = (height, width) of the original image the map should be scaled to.
    """
    prob = np.asarray(prob, np.float32)
    h, w = prob.shape
    dh, dw = dest_size if dest_size is not None else (h, w)
    sx, sy = dw / w, dh / h
    bitmap = (prob > cfg.thresh).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    polys, scores = [], []
    for contour in contours[: cfg.max_candidates]:
        pts = contour.reshape(-1, 2).astype(np.float64)
        if cfg.polygon:
            eps = 0.002 * cv2.arcLength(contour, True)
            pts = cv2.approxPolyDP(contour, eps, True).reshape(-1, 2).astype(np.float64)
            if len(pts) < 4:
                pts = cv2.boxPoints(cv2.minAreaRect(contour)).astype(np.float64)
        else:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < cfg.min_size:
                continue
            pts = cv2.boxPoints(rect).astype(np.float64)
        score = _score(prob, contour.reshape(-1, 2).astype(np.float64))
        if score < cfg.box_thresh:
            continue
        grown = _grow(pts, cfg.unclip_ratio)
        if grown is None:
            continue
        rect = cv2.minAreaRect(grown.astype(np.float32))
        if min(rect[1]) < cfg.min_size + 2:
            continue
        out = grown if cfg.polygon else cv2.boxPoints(rect).astype(np.float64)
        out = out * [sx, sy]
        out[:, 0] = np.clip(out[:, 0], 0, dw)
        out[:, 1] = np.clip(out[:, 1], 0, dh)
        out = order_quad(out) if not cfg.polygon else _start_top_left(to_clockwise(out))
        polys.append(out.astype(np.float32))
        scores.append(score)
    return polys, scores


def _start_top_left(points: np.ndarray) -> np.ndarray:
    return np.roll(points, -int(np.argmin(points[:, 0] + points[:, 1])), axis=0)


def batch_postprocess(probs: np.ndarray, cfg: PostProcessConfig,
                      dest_sizes: list[tuple[int, int]] | None = None) -> list[tuple[list[np.ndarray], list[float]]]:
    probs = np.asarray(probs)
    if probs.ndim == 4:
        probs = probs[:, 0]
    return [db_postprocess(p, cfg, None if dest_sizes is None else dest_sizes[i]) for i, p in enumerate(probs)]
