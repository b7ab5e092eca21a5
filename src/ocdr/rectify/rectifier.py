"""Quadrilaterals and polygons to upright crops of a fixed height, never raising on bad boxes.

* A quadrilateral's corners, in any order, are put in reading order (sorted by angle around their
  centre, then clockwise from the top-left: not a plain sort by x) and warped by a perspective transform to ``height`` pixels,
  the width following the box's own aspect ratio.
* A polygon of 2k points (k along the top edge left to right, then k along the bottom right to
  left, the ICDAR/Total-Text convention) is unrolled along its centre line: each pair of facing
  edges is a small quadrilateral, warped and laid side by side.
* A box much taller than wide (``height / width > vertical_ratio``) holds vertical text; its crop is
  turned 90° counter-clockwise so the recognizer reads it left to right.
* Degenerate input — NaN, repeated or collinear points, zero area, boxes partly or wholly outside
  the image — never raises: a box with some pixels inside the image falls back to its clipped
  axis-aligned crop; one with none is dropped and counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ocdr.data.polygon import order_quad

__all__ = ["RectifyConfig", "order_corners", "crop_quad", "crop_polygon", "rectify", "rectify_batch", "rotate180"]


@dataclass
class RectifyConfig:
    height: int = field(default=32, metadata={"help": "crop height in pixels"})
    max_aspect: float = field(default=25.0, metadata={"help": "crops are at most height * max_aspect wide"})
    vertical_ratio: float = field(default=1.5, metadata={"help": "boxes taller than this times their width are turned 90 degrees"})
    min_side: float = field(default=1.0, metadata={"help": "boxes with a side shorter than this (pixels) fall back to the axis-aligned crop"})


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four corners given in any order -> clockwise from the top-left.

    Corners are first sorted by angle around their centroid (so a crossed 'bow-tie' order becomes
    a simple polygon), then started at the top-left by ``order_quad``.
    """
    p = np.asarray(points, np.float64).reshape(4, 2)
    c = p.mean(0)
    p = p[np.argsort(np.arctan2(p[:, 1] - c[1], p[:, 0] - c[0]))]
    return order_quad(p)


def _side_lengths(q: np.ndarray) -> tuple[float, float]:
    width = max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3]))
    height = max(np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1]))
    return float(width), float(height)


def _warp(image: np.ndarray, src: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    dst = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
    m = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    return cv2.warpPerspective(image, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _out_width(w: float, h: float, cfg: RectifyConfig) -> int:
    return int(np.clip(round(cfg.height * w / max(h, 1e-6)), 1, cfg.height * cfg.max_aspect))


def crop_quad(image: np.ndarray, quad: np.ndarray, cfg: RectifyConfig | None = None) -> np.ndarray:
    """Perspective crop of a (valid) quadrilateral, ``cfg.height`` high; vertical text turned."""
    cfg = cfg or RectifyConfig()
    q = order_corners(quad)
    w, h = _side_lengths(q)
    if h > cfg.vertical_ratio * w:
        # Vertical text: the crop turned 90° counter-clockwise, so the box's right edge becomes the
        # top: output corners (TL, TR, BR, BL) come from the box's (TR, BR, BL, TL).
        q = np.roll(q, -1, axis=0)
        w, h = h, w
    return _warp(image, q, _out_width(w, h, cfg), cfg.height)


def crop_polygon(image: np.ndarray, polygon: np.ndarray, cfg: RectifyConfig | None = None) -> np.ndarray:
    """Unroll a 2k-point polygon (top edge left to right, bottom edge right to left) along its centre line."""
    cfg = cfg or RectifyConfig()
    p = np.asarray(polygon, np.float64)
    k = len(p) // 2
    top, bottom = p[:k], p[k:][::-1]
    heights = np.linalg.norm(top - bottom, axis=1)
    h = max(float(heights.mean()), 1e-6)
    pieces = []
    for i in range(k - 1):
        quad = np.array([top[i], top[i + 1], bottom[i + 1], bottom[i]])
        seg_w = (np.linalg.norm(top[i + 1] - top[i]) + np.linalg.norm(bottom[i + 1] - bottom[i])) / 2
        out_w = max(int(round(cfg.height * seg_w / h)), 1)
        pieces.append(_warp(image, quad, out_w, cfg.height))
    crop = np.concatenate(pieces, axis=1)
    max_w = int(cfg.height * cfg.max_aspect)
    return cv2.resize(crop, (max_w, cfg.height)) if crop.shape[1] > max_w else crop


def rotate180(crop: np.ndarray) -> np.ndarray:
    """The crop upside down: the second reading for text that may be upside down (nvOCDR's option)."""
    return np.ascontiguousarray(crop[::-1, ::-1])


def _fallback(image: np.ndarray, pts: np.ndarray, cfg: RectifyConfig) -> np.ndarray | None:
    """The clipped axis-aligned crop of whatever part of the points lies inside the image."""
    ih, iw = image.shape[:2]
    x0, y0 = np.floor(np.clip(pts.min(0), 0, [iw, ih])).astype(int)
    x1, y1 = np.ceil(np.clip(pts.max(0), 0, [iw, ih])).astype(int)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    crop = image[y0:y1, x0:x1]
    w, h = x1 - x0, y1 - y0
    if h > cfg.vertical_ratio * w:
        crop, w, h = np.ascontiguousarray(np.rot90(crop)), h, w
    return cv2.resize(crop, (_out_width(w, h, cfg), cfg.height), interpolation=cv2.INTER_LINEAR)


def rectify(image: np.ndarray, points, cfg: RectifyConfig | None = None) -> np.ndarray | None:
    """An upright crop of one region, or None when nothing of it lies in the image. Never raises."""
    cfg = cfg or RectifyConfig()
    try:
        pts = np.asarray(points, np.float64).reshape(-1, 2)
    except (ValueError, TypeError):
        return None
    if len(pts) < 2 or not np.isfinite(pts).all():
        return None
    ih, iw = image.shape[:2]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] <= iw) & (pts[:, 1] >= 0) & (pts[:, 1] <= ih)
    area = abs(cv2.contourArea(pts.astype(np.float32))) if len(pts) >= 3 else 0.0
    if len(pts) == 4 and inside.all() and area >= cfg.min_side ** 2:
        w, h = _side_lengths(order_corners(pts))
        if min(w, h) >= cfg.min_side:
            return crop_quad(image, pts, cfg)
    if len(pts) > 4 and len(pts) % 2 == 0 and inside.all() and area >= cfg.min_side ** 2:
        return crop_polygon(image, pts, cfg)
    return _fallback(image, pts, cfg)


def rectify_batch(images: list[np.ndarray], regions: list[list], cfg: RectifyConfig | None = None
                  ) -> tuple[list[np.ndarray], list[tuple[int, int]], int]:
    """Crops of every region of every image, their (image index, region index), and how many were dropped."""
    crops, where, dropped = [], [], 0
    for i, (image, polys) in enumerate(zip(images, regions)):
        for j, poly in enumerate(polys):
            crop = rectify(image, poly, cfg)
            if crop is None:
                dropped += 1
                continue
            crops.append(crop)
            where.append((i, j))
    return crops, where, dropped
