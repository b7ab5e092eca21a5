"""DBNet label makers (numpy/OpenCV): the shrink map and the threshold (border) map.

As in the DB paper: each text polygon of area A and perimeter L is shrunk inwards by
D = A (1 - r^2) / L (r = shrink_ratio) to give the probability target, and dilated outwards by
the same D; between the dilated and the shrunk polygon the threshold target rises from
``thresh_min`` (D away from the border) to ``thresh_max`` (on the border).
"""
from __future__ import annotations

import cv2
import numpy as np
import pyclipper

__all__ = ["shrink_distance", "offset_polygon", "make_shrink_map", "make_border_map", "make_db_targets"]


def shrink_distance(polygon: np.ndarray, ratio: float) -> float:
    """D = A (1 - r^2) / L for a polygon (N, 2)."""
    p = np.asarray(polygon, np.float64)
    area = abs(cv2.contourArea(p.astype(np.float32)))
    perimeter = cv2.arcLength(p.astype(np.float32), True)
    return 0.0 if perimeter <= 0 else area * (1 - ratio ** 2) / perimeter


def offset_polygon(polygon: np.ndarray, distance: float) -> list[np.ndarray]:
    """Polygons offset by ``distance`` (positive grows, negative shrinks); may be several or none."""
    pco = pyclipper.PyclipperOffset()
    pco.AddPath([tuple(map(float, pt)) for pt in np.asarray(polygon)], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.asarray(p, np.float64) for p in pco.Execute(distance) if len(p) >= 3]


def _min_side(polygon: np.ndarray) -> float:
    (_, _), (w, h), _ = cv2.minAreaRect(np.asarray(polygon, np.float32))
    return min(w, h)


def make_shrink_map(polygons: list[np.ndarray], ignore: list[bool], height: int, width: int,
                    shrink_ratio: float = 0.4, min_text_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(gt, mask) float32 (H, W): gt = 1 inside shrunk text; mask = 0 over don't-care, tiny or
    unshrinkable polygons (neither text nor background there)."""
    gt = np.zeros((height, width), np.float32)
    mask = np.ones((height, width), np.float32)
    for poly, ign in zip(polygons, ignore):
        poly = np.asarray(poly, np.float64)
        pts = np.round(poly).astype(np.int32)[None]
        if ign or _min_side(poly) < min_text_size or abs(cv2.contourArea(poly.astype(np.float32))) < 1:
            cv2.fillPoly(mask, pts, 0)
            continue
        shrunk = offset_polygon(poly, -shrink_distance(poly, shrink_ratio))
        if not shrunk:
            cv2.fillPoly(mask, pts, 0)
            continue
        for s in shrunk:
            cv2.fillPoly(gt, [np.round(s).astype(np.int32)], 1)
    return gt, mask


def _segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each pixel (xs, ys) to the segment a-b."""
    ab = b - a
    denom = float(ab @ ab)
    if denom == 0:
        return np.hypot(xs - a[0], ys - a[1])
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / denom, 0, 1)
    return np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1]))


def make_border_map(polygons: list[np.ndarray], ignore: list[bool], height: int, width: int,
                    shrink_ratio: float = 0.4, thresh_min: float = 0.3, thresh_max: float = 0.7
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(threshold map, threshold mask) float32 (H, W)."""
    canvas = np.zeros((height, width), np.float32)
    mask = np.zeros((height, width), np.float32)
    for poly, ign in zip(polygons, ignore):
        poly = np.asarray(poly, np.float64)
        if ign or abs(cv2.contourArea(poly.astype(np.float32))) < 1:
            continue
        d = shrink_distance(poly, shrink_ratio)
        if d <= 0:
            continue
        grown = offset_polygon(poly, d)
        if not grown:
            continue
        big = max(grown, key=lambda g: abs(cv2.contourArea(g.astype(np.float32))))
        cv2.fillPoly(mask, [np.round(big).astype(np.int32)], 1)
        x0, y0 = np.floor(big.min(0)).astype(int)
        x1, y1 = np.ceil(big.max(0)).astype(int)
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1, dtype=np.float64), np.arange(y0, y1 + 1, dtype=np.float64))
        dist = np.full(xs.shape, np.inf)
        for i in range(len(poly)):
            dist = np.minimum(dist, _segment_distance(xs, ys, poly[i], poly[(i + 1) % len(poly)]))
        value = 1 - np.clip(dist / d, 0, 1)
        # paste the window that lies inside the image, keeping the max over polygons
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1)
        if cx1 < cx0 or cy1 < cy0:
            continue
        win = value[cy0 - y0:cy1 - y0 + 1, cx0 - x0:cx1 - x0 + 1]
        canvas[cy0:cy1 + 1, cx0:cx1 + 1] = np.maximum(canvas[cy0:cy1 + 1, cx0:cx1 + 1], win)
    return canvas * (thresh_max - thresh_min) + thresh_min, mask


def make_db_targets(polygons: list[np.ndarray], ignore: list[bool], height: int, width: int,
                    shrink_ratio: float = 0.4, min_text_size: int = 8, thresh_min: float = 0.3,
                    thresh_max: float = 0.7) -> dict[str, np.ndarray]:
    shrink_map, shrink_mask = make_shrink_map(polygons, ignore, height, width, shrink_ratio, min_text_size)
    threshold_map, threshold_mask = make_border_map(polygons, ignore, height, width, shrink_ratio,
                                                    thresh_min, thresh_max)
    return {"shrink_map": shrink_map, "shrink_mask": shrink_mask,
            "threshold_map": threshold_map.astype(np.float32), "threshold_mask": threshold_mask}
