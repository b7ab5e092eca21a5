"""The ICDAR 2015 detection protocol (as its official ``script.py`` and MMOCR's HmeanIOUMetric).

Per image: a detection is dropped (neither hit nor false alarm) when more than ``ignore_precision``
of its area lies inside one don't-care ground truth; don't-care ground truths are not counted for
recall; then ground truths (outer loop) and detections (inner loop) are matched greedily in their
given order, one to one, where IoU > ``iou_thresh`` (strictly: IoU = 0.5 is no match).

Rates, as the official script computes them:
* per image: with no care ground truth, recall = 1 and precision = 1 if there is no care
  detection either, else 0; otherwise recall = matches / gt and precision = matches / det
  (0 without detections);
* over a dataset (the reported numbers): precision = sum(matches) / sum(det) and recall =
  sum(matches) / sum(gt), each 0 when its denominator is 0, so an image with neither ground truth
  nor detections changes nothing;
* hmean = 2PR / (P + R), 0 when P + R = 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.validation import make_valid

__all__ = ["polygon_of", "image_rates", "match_image", "DetectionMetric"]


def polygon_of(points: np.ndarray) -> BaseGeometry:
    """A valid shapely area for a point list. Self-intersecting input (a bow-tie from a detector's
    wrong point order) is repaired into its polygonal parts, all kept; lines and points give an
    empty polygon (area 0), which never matches anything."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) < 3 or not np.isfinite(pts).all():
        return Polygon()
    poly = Polygon(pts)
    if poly.is_valid:
        return poly
    fixed = make_valid(poly)
    parts = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in ("Polygon", "MultiPolygon")]
    return unary_union(parts) if parts else Polygon()


def _iou(a: BaseGeometry, b: BaseGeometry) -> float:
    if a.area == 0 or b.area == 0:
        return 0.0
    inter = a.intersection(b).area
    union = a.area + b.area - inter
    return 0.0 if union <= 0 else inter / union


def image_rates(num_gt: int, num_det: int, num_match: int) -> tuple[float, float, float]:
    """(precision, recall, hmean) of one image, with the official script's conventions."""
    if num_gt == 0:
        recall, precision = 1.0, (0.0 if num_det else 1.0)
    else:
        recall, precision = num_match / num_gt, (num_match / num_det if num_det else 0.0)
    return precision, recall, _hmean(precision, recall)


def _hmean(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _is_dont_care_detection(det: BaseGeometry, dont_care: list[BaseGeometry], ignore_precision: float) -> bool:
    return det.area > 0 and any(det.intersection(g).area / det.area > ignore_precision for g in dont_care)


def match_image(gt_polys: list[np.ndarray], gt_ignore: list[bool], det_polys: list[np.ndarray],
                iou_thresh: float = 0.5, ignore_precision: float = 0.5) -> dict:
    """Match one image. Returns num_gt / num_det (care ones only), num_match, ``pairs`` (gt index,
    det index), the dropped det indices ``det_ignored`` and the image's precision, recall, hmean."""
    gts = [polygon_of(p) for p in gt_polys]
    dets = [polygon_of(p) for p in det_polys]
    care_gt = [i for i, ign in enumerate(gt_ignore) if not ign]
    dont_care = [gts[i] for i, ign in enumerate(gt_ignore) if ign]
    det_ignored = [j for j, d in enumerate(dets) if _is_dont_care_detection(d, dont_care, ignore_precision)]
    care_det = sorted(set(range(len(dets))) - set(det_ignored))
    gt_done, det_done, pairs = set(), set(), []
    for i in care_gt:
        for j in care_det:
            if i not in gt_done and j not in det_done and _iou(gts[i], dets[j]) > iou_thresh:
                gt_done.add(i)
                det_done.add(j)
                pairs.append((i, j))
    precision, recall, hmean = image_rates(len(care_gt), len(care_det), len(pairs))
    return {"num_gt": len(care_gt), "num_det": len(care_det), "num_match": len(pairs), "pairs": pairs,
            "det_ignored": det_ignored, "precision": precision, "recall": recall, "hmean": hmean}


@dataclass
class DetectionMetric:
    """Accumulates ``match_image`` over a dataset; ``compute()`` gives the dataset numbers and
    ``per_image`` / ``worst()`` the per-image ones for a report of the worst cases."""

    iou_thresh: float = 0.5
    ignore_precision: float = 0.5
    num_gt: int = 0
    num_det: int = 0
    num_match: int = 0
    per_image: list[dict] = field(default_factory=list)

    def update(self, gt_polys: list[np.ndarray], gt_ignore: list[bool], det_polys: list[np.ndarray],
               image_id: str | None = None) -> dict:
        r = match_image(gt_polys, gt_ignore, det_polys, self.iou_thresh, self.ignore_precision)
        self.num_gt += r["num_gt"]
        self.num_det += r["num_det"]
        self.num_match += r["num_match"]
        self.per_image.append({"image": image_id if image_id is not None else len(self.per_image),
                               **{k: r[k] for k in ("num_gt", "num_det", "num_match", "precision", "recall", "hmean")}})
        return r

    @staticmethod
    def from_counts(num_gt: int, num_det: int, num_match: int) -> dict:
        """Dataset-level rates from summed counts (also for counts gathered across processes)."""
        precision = num_match / num_det if num_det else 0.0
        recall = num_match / num_gt if num_gt else 0.0
        return {"precision": precision, "recall": recall, "hmean": _hmean(precision, recall),
                "num_gt": int(num_gt), "num_det": int(num_det), "num_match": int(num_match)}

    def compute(self) -> dict:
        return self.from_counts(self.num_gt, self.num_det, self.num_match)

    def reset(self) -> None:
        self.num_gt = self.num_det = self.num_match = 0
        self.per_image = []

    def worst(self, k: int = 10) -> list[dict]:
        """The k images with the lowest hmean; among equals, those with more ground truth first."""
        return sorted(self.per_image, key=lambda r: (r["hmean"], -r["num_gt"], -r["num_det"]))[:k]
