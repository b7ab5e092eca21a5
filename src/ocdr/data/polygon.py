"""Polygon conventions, owned here and nowhere else.

* A text region is an ``(N, 2)`` float array of ``(x, y)`` points, ``N >= 4``, in image
  pixel coordinates (origin top-left, x right, y down).
* Points run clockwise *as seen on the image* (y pointing down), starting at the top-left
  point for quadrilaterals, the ICDAR 2015 order: top-left, top-right, bottom-right,
  bottom-left.
* A transcription of ``###`` or ``*`` marks a don't-care region: it is neither a miss when
  undetected nor a false alarm when detected, and it is not used for recognition.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DONT_CARE", "is_dont_care", "signed_area", "to_clockwise", "order_quad", "quad_from_rect"]

DONT_CARE = frozenset({"###", "*"})


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
