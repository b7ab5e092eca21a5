"""DBNet label makers (numpy/OpenCV): the shrink map and the threshold (border) map.

As in the DB paper (and DBNet.pytorch's ``MakeShrinkMap`` / ``MakeBorderMap``): each text polygon
of area A and perimeter L is shrunk inwards by D = A (1 - r^2) / L (r = ``shrink_ratio``) to give
the probability target, and dilated outwards by the same D; inside the dilated polygon the
threshold target falls from ``thresh_max`` on the polygon's edges to ``thresh_min`` at D or more
from them. Polygons are ``(N, 2)`` float arrays in map pixel coordinates (see ``ocdr.data.polygon``).
"""
from __future__ import annotations

import cv2
import numpy as np
import pyclipper

__all__ = ["shrink_distance", "offset_polygon", "make_shrink_map", "make_border_map", "make_db_targets"]

# pyclipper works on integers and truncates floats: scale by 2^8 to keep sub-pixel offsets.
_CLIPPER_SCALE = 256


def shrink_distance(polygon: np.ndarray, ratio: float) -> float:
    """D = A (1 - r^2) / L for a polygon (N, 2); 0 for a degenerate one."""
    p = np.asarray(polygon, np.float32)
    perimeter = cv2.arcLength(p, True)
    return 0.0 if perimeter <= 0 else abs(cv2.contourArea(p)) * (1 - ratio ** 2) / perimeter


def offset_polygon(polygon: np.ndarray, distance: float) -> list[np.ndarray]:
    """Polygons offset by ``distance`` pixels (positive grows, negative shrinks), round joins.

    The result may be several pieces (a shrunk dumbbell) or none (shrunk away).
    """
    pco = pyclipper.PyclipperOffset()
    pco.ArcTolerance = 0.25 * _CLIPPER_SCALE  # a quarter pixel, as unscaled clipper would do
    pco.AddPath(pyclipper.scale_to_clipper(np.asarray(polygon, np.float64).tolist(), _CLIPPER_SCALE),
                pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    out = pco.Execute(distance * _CLIPPER_SCALE)
    return [np.asarray(pyclipper.scale_from_clipper(p, _CLIPPER_SCALE), np.float64) for p in out if len(p) >= 3]


def _visible_parts(polygon: np.ndarray, height: int, width: int) -> list[np.ndarray]:
    """The parts of a polygon inside the image: text cut by a crop is sized and shrunk by what
    is left of it, so a 2-pixel sliver at the border is ignored instead of taught as text."""
    p = np.asarray(polygon, np.float64)
    if (p.min(0) >= 0).all() and p[:, 0].max() <= width - 1 and p[:, 1].max() <= height - 1:
        return [p]
    pc = pyclipper.Pyclipper()
    frame = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
    try:
        pc.AddPath(pyclipper.scale_to_clipper(p.tolist(), _CLIPPER_SCALE), pyclipper.PT_SUBJECT, True)
        pc.AddPath(pyclipper.scale_to_clipper(frame, _CLIPPER_SCALE), pyclipper.PT_CLIP, True)
        parts = pc.Execute(pyclipper.CT_INTERSECTION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    except pyclipper.ClipperException:  # degenerate subject (a line, a point)
        return []
    return [np.asarray(pyclipper.scale_from_clipper(q, _CLIPPER_SCALE), np.float64) for q in parts]


def _min_side(polygon: np.ndarray) -> float:
    (_, _), (w, h), _ = cv2.minAreaRect(np.asarray(polygon, np.float32))
    return min(w, h)


def _fill(canvas: np.ndarray, polygon: np.ndarray, value: float) -> None:
    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], value)


def make_shrink_map(polygons: list[np.ndarray], ignore: list[bool], height: int, width: int,
                    shrink_ratio: float = 0.4, min_text_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(gt, mask) float32 (H, W): gt = 1 inside the shrunk text; mask = 0 over don't-care text,
    text whose short side is below ``min_text_size`` and text that shrinks to nothing, which are
    neither text nor background for the loss."""
    gt = np.zeros((height, width), np.float32)
    mask = np.ones((height, width), np.float32)
    for poly, ign in zip(polygons, ignore):
        for part in _visible_parts(poly, height, width):
            if ign or _min_side(part) < min_text_size:
                _fill(mask, part, 0)
                continue
            shrunk = offset_polygon(part, -shrink_distance(part, shrink_ratio))
            if not shrunk:
                _fill(mask, part, 0)
            for s in shrunk:
                _fill(gt, s, 1)
    return gt, mask


def _segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance from each pixel (xs, ys) to the segment a-b."""
    ab = b - a
    denom = float(ab @ ab)
    if denom == 0:
        return np.hypot(xs - a[0], ys - a[1])
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / denom, 0, 1)
    return np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1]))


def _draw_border(canvas: np.ndarray, mask: np.ndarray, poly: np.ndarray, shrink_ratio: float) -> None:
    """Max-in 1 - d/D (d: distance to the nearest edge) over the dilated polygon's window."""
    d = shrink_distance(poly, shrink_ratio)
    grown = offset_polygon(poly, d) if d > 0 else []
    if not grown:
        return
    big = max(grown, key=lambda g: abs(cv2.contourArea(g.astype(np.float32))))
    _fill(mask, big, 1)
    height, width = canvas.shape
    # only the part of the window inside the image is computed: text cut by a crop stays cheap
    x0, y0 = np.maximum(np.floor(big.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(big.max(0)).astype(int), [width - 1, height - 1])
    if x1 < x0 or y1 < y0:
        return
    xs, ys = np.meshgrid(np.arange(x0, x1 + 1, dtype=np.float64), np.arange(y0, y1 + 1, dtype=np.float64))
    dist = np.full(xs.shape, np.inf)
    for i in range(len(poly)):
        dist = np.minimum(dist, _segment_distance(xs, ys, poly[i], poly[(i + 1) % len(poly)]))
    window = canvas[y0:y1 + 1, x0:x1 + 1]
    np.maximum(window, 1 - np.clip(dist / d, 0, 1), out=window)


def make_border_map(polygons: list[np.ndarray], ignore: list[bool], height: int, width: int,
                    shrink_ratio: float = 0.4, thresh_min: float = 0.3, thresh_max: float = 0.7
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(threshold map, threshold mask) float32 (H, W).

    The map is ``thresh_max`` on text edges, falls linearly to ``thresh_min`` at D from them and
    is ``thresh_min`` elsewhere; the mask is 1 inside the dilated (non don't-care) polygons, the
    only place the threshold loss looks at.
    """
    canvas = np.zeros((height, width), np.float32)
    mask = np.zeros((height, width), np.float32)
    for poly, ign in zip(polygons, ignore):
        if not ign and len(poly) >= 3:
            _draw_border(canvas, mask, np.asarray(poly, np.float64), shrink_ratio)
    return (canvas * (thresh_max - thresh_min) + thresh_min).astype(np.float32), mask


def make_db_targets(polygons: list[np.ndarray], ignore: list[bool], height: int, width: int,
                    shrink_ratio: float = 0.4, min_text_size: int = 8, thresh_min: float = 0.3,
                    thresh_max: float = 0.7) -> dict[str, np.ndarray]:
    """The four DB training maps, float32 (H, W): shrink_map/shrink_mask, threshold_map/threshold_mask."""
    shrink_map, shrink_mask = make_shrink_map(polygons, ignore, height, width, shrink_ratio, min_text_size)
    threshold_map, threshold_mask = make_border_map(polygons, ignore, height, width, shrink_ratio,
                                                    thresh_min, thresh_max)
    return {"shrink_map": shrink_map, "shrink_mask": shrink_mask,
            "threshold_map": threshold_map, "threshold_mask": threshold_mask}
