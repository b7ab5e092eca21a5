"""The ICDAR 2015 detection protocol (as its official script and MMOCR's HmeanIOUMetric).

Per image: detections whose area lies more than ``ignore_precision`` inside a don't-care ground
truth are dropped (neither hit nor false alarm); don't-care ground truths are not counted for
recall; then detections and ground truths are matched one to one, in order, where IoU > 0.5
(strictly). Over a dataset: precision = matches / detections, recall = matches / ground truths
(0 when there are none of either), hmean = 2PR / (P + R) (0 when P + R = 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon
from shapely.validation import make_valid

__all__ = ["polygon_of", "match_image", "DetectionMetric"]


def polygon_of(points: np.ndarray) -> Polygon:
    """A valid shapely polygon (self-intersecting input is repaired; degenerate gives area 0)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) < 3 or not np.isfinite(pts).all():
        return Polygon()
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = make_valid(poly)
        if poly.geom_type != "Polygon":
            polys = [g for g in getattr(poly, "geoms", []) if g.geom_type == "Polygon"]
            poly = max(polys, key=lambda g: g.area) if polys else Polygon()
    return poly


def _iou(a: Polygon, b: Polygon) -> float:
    if a.area == 0 or b.area == 0:
        return 0.0
    inter = a.intersection(b).area
    union = a.area + b.area - inter
    return 0.0 if union <= 0 else inter / union


def match_image(gt_polys: list[np.ndarray], gt_ignore: list[bool], det_polys: list[np.ndarray],
                iou_thresh: float = 0.5, ignore_precision: float = 0.5) -> dict:
    gts = [polygon_of(p) for p in gt_polys]
    dets = [polygon_of(p) for p in det_polys]
    care_gt = [i for i, ign in enumerate(gt_ignore) if not ign]
    dont_care = [gts[i] for i, ign in enumerate(gt_ignore) if ign]
    care_det = []
    for j, d in enumerate(dets):
        if dont_care and d.area > 0 and any(d.intersection(g).area / d.area > ignore_precision for g in dont_care):
            continue
        care_det.append(j)
    gt_done, det_done, pairs = set(), set(), []
    for i in care_gt:
        for j in care_det:
            if i in gt_done or j in det_done:
                continue
            if _iou(gts[i], dets[j]) > iou_thresh:
                gt_done.add(i)
                det_done.add(j)
                pairs.append((i, j))
    n_gt, n_det, n_match = len(care_gt), len(care_det), len(pairs)
    precision = n_match / n_det if n_det else 0.0
    recall = n_match / n_gt if n_gt else 0.0
    hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"num_gt": n_gt, "num_det": n_det, "num_match": n_match, "pairs": pairs,
            "precision": precision, "recall": recall, "hmean": hmean}


@dataclass
class DetectionMetric:
    iou_thresh: float = 0.5
    ignore_precision: float = 0.5
    num_gt: int = 0
    num_det: int = 0
    num_match: int = 0
    per_image: list[dict] = field(default_factory=list)

    def update(self, gt_polys, gt_ignore, det_polys, image_id: str | None = None) -> dict:
        r = match_image(gt_polys, gt_ignore, det_polys, self.iou_thresh, self.ignore_precision)
        self.num_gt += r["num_gt"]
        self.num_det += r["num_det"]
        self.num_match += r["num_match"]
        self.per_image.append({"image": image_id if image_id is not None else len(self.per_image),
                               **{k: r[k] for k in ("num_gt", "num_det", "num_match", "precision", "recall", "hmean")}})
        return r

    @staticmethod
    def from_counts(num_gt: float, num_det: float, num_match: float) -> dict:
        precision = num_match / num_det if num_det else 0.0
        recall = num_match / num_gt if num_gt else 0.0
        hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "hmean": hmean,
                "num_gt": int(num_gt), "num_det": int(num_det), "num_match": int(num_match)}

    def compute(self) -> dict:
        return self.from_counts(self.num_gt, self.num_det, self.num_match)

    def worst(self, k: int = 10) -> list[dict]:
        """Images with the lowest hmean first (images with neither gt nor detections left out)."""
        scored = [r for r in self.per_image if r["num_gt"] or r["num_det"]]
        return sorted(scored, key=lambda r: (r["hmean"], -r["num_gt"]))[:k]
