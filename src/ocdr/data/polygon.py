"""Polygon conventions, owned here and nowhere else.

* A text region is an ``(N, 2)`` float array of ``(x, y)`` points, ``N >= 4``, in image
  pixel coordinates (origin top-left, x right, y down).
* Points run clockwise *as seen on the image* (y pointing down), starting at the top-left
  point for quadrilaterals, the ICDAR 2015 order: top-left, top-right, bottom-right,
  bottom-left.
* A transcription of ``###`` or ``*`` marks a don't-care region: it is neither a miss when
  undetected nor a false alarm when detected, and it is not used for recognition.
* Coordinates are finite and within ``MAX_COORDINATE`` of the origin (checked when gt is parsed).
* A region whose points all coincide, lie on one line, or whose edges cross is still a region:
  :func:`shape_defect` names the fault so summaries can count it, nothing rejects it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DONT_CARE", "MAX_COORDINATE", "is_dont_care", "signed_area", "to_clockwise", "order_quad",
           "quad_from_rect", "shape_defect", "SHAPE_DEFECTS"]

DONT_CARE = frozenset({"###", "*"})

# No image has a side near a million pixels (decoding refuses more than 2e8 pixels in all), so a larger
# coordinate is a typo or garbage. The bound also keeps the geometry exact and in range: the DB label maker
# scales by 2^8 for pyclipper, and 1e6 * 2^8 stays inside Clipper's fast 32-bit range (about 1.07e9),
# while 1e30 overflows its 64-bit integers; shapely's areas (1e12 at most) stay exact in float64.
MAX_COORDINATE = 1e6

SHAPE_DEFECTS = ("zero area", "collinear", "self-intersecting")


def is_dont_care(text: str) -> bool:
    return text.strip() in DONT_CARE


def signed_area(points: np.ndarray) -> float:
    """Shoelace area; positive when the points run clockwise on the image (y down)."""
    p = np.asarray(points, dtype=np.float64)
    x, y = p[:, 0], p[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def to_clockwise(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    return p[::-1].copy() if signed_area(p) < 0 else p.copy()


def order_quad(points: np.ndarray) -> np.ndarray:
    """Clockwise quadrilateral starting at the top-left corner.

    The start is the corner with the smallest ``x + y`` among the clockwise order, which is
    stable for rotations up to about ±45°, unlike a plain sort by x.
    """
    p = to_clockwise(np.asarray(points, dtype=np.float64).reshape(4, 2))
    start = int(np.argmin(p[:, 0] + p[:, 1]))
    return np.roll(p, -start, axis=0)


def quad_from_rect(x: float, y: float, w: float, h: float) -> np.ndarray:
    """The clockwise quadrilateral of an axis-aligned box."""
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)


def shape_defect(points: np.ndarray) -> str | None:
    """Why a region encloses no proper area, or None: ``zero area`` (all its points coincide),
    ``collinear`` (they lie on one line), ``self-intersecting`` (two edges cross: a bow-tie, usually
    points listed in the wrong order)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    offsets = p - p[0]
    reach = float(np.abs(offsets).max()) if len(p) else 0.0
    if reach == 0.0:
        return "zero area"
    far = offsets[np.argmax((offsets ** 2).sum(axis=1))]
    off_line = np.abs(far[0] * offsets[:, 1] - far[1] * offsets[:, 0]) / np.hypot(*far)  # distance to the line
    if off_line.max() <= 1e-9 * reach:
        return "collinear"
    return "self-intersecting" if _edges_cross(p) else None


def _edges_cross(p: np.ndarray) -> bool:
    """Whether two non-adjacent edges of the closed polygon ``p`` cross (touching does not count)."""
    a, b = p, np.roll(p, -1, axis=0)
    n = len(p)

    def side(o, d, q):  # sign of the turn o -> d -> q, for every pair of edges at once
        return np.sign((d[:, None, 0] - o[:, None, 0]) * (q[None, :, 1] - o[:, None, 1])
                       - (d[:, None, 1] - o[:, None, 1]) * (q[None, :, 0] - o[:, None, 0]))

    splits = side(a, b, a) * side(a, b, b) < 0  # [i, j]: edge j's ends lie on both sides of edge i's line
    crossing = splits & splits.T
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the first and last edges share a point
    return bool(crossing[i[keep], j[keep]].any())
