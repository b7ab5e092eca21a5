"""End-to-end word spotting: a predicted word counts when its box matches a ground-truth word (ICDAR 2015
one-to-one matching at IoU > 0.5, don't-care regions as in detection) *and* its text equals the truth.

Besides end-to-end precision/recall/hmean this reports the detection numbers of the same matching and the
recognition accuracy on the matched words (exact and case-insensitive), so a user sees which stage loses words.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ocdr.eval.detection import DetectionMetric, match_image

__all__ = ["EndToEndMetric"]


def _rates(num: int, den_p: int, den_r: int) -> tuple[float, float, float]:
    p = num / den_p if den_p else 0.0
    r = num / den_r if den_r else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass
class EndToEndMetric:
    iou_thresh: float = 0.5
    num_gt: int = 0
    num_det: int = 0
    num_match: int = 0
    num_correct: int = 0
    num_correct_ci: int = 0
    per_image: list[dict] = field(default_factory=list)

    def update(self, gt_polys: list[np.ndarray], gt_texts: list[str], gt_ignore: list[bool],
               det_polys: list[np.ndarray], det_texts: list[str], image_id: str | None = None) -> dict:
        if len(gt_polys) != len(gt_texts) or len(det_polys) != len(det_texts):
            raise ValueError("each polygon needs its text (ground truth and predictions)")
        r = match_image(gt_polys, gt_ignore, det_polys, self.iou_thresh)
        correct = sum(gt_texts[i] == det_texts[j] for i, j in r["pairs"])
        correct_ci = sum(gt_texts[i].casefold() == det_texts[j].casefold() for i, j in r["pairs"])
        self.num_gt += r["num_gt"]
        self.num_det += r["num_det"]
        self.num_match += r["num_match"]
        self.num_correct += correct
        self.num_correct_ci += correct_ci
        errors = [{"truth": gt_texts[i], "read": det_texts[j]} for i, j in r["pairs"] if gt_texts[i] != det_texts[j]]
        row = {"image": image_id if image_id is not None else len(self.per_image), "num_gt": r["num_gt"],
               "num_det": r["num_det"], "num_match": r["num_match"], "num_correct": correct, "errors": errors}
        self.per_image.append(row)
        return row

    def compute(self) -> dict:
        det = DetectionMetric.from_counts(self.num_gt, self.num_det, self.num_match)
        p, r, h = _rates(self.num_correct, self.num_det, self.num_gt)
        pc, rc, hc = _rates(self.num_correct_ci, self.num_det, self.num_gt)
        return {"e2e_precision": p, "e2e_recall": r, "e2e_hmean": h,
                "e2e_precision_case_insensitive": pc, "e2e_recall_case_insensitive": rc,
                "e2e_hmean_case_insensitive": hc,
                "det_precision": det["precision"], "det_recall": det["recall"], "det_hmean": det["hmean"],
                "word_accuracy_on_matched": self.num_correct / self.num_match if self.num_match else 0.0,
                "word_accuracy_on_matched_case_insensitive":
                    self.num_correct_ci / self.num_match if self.num_match else 0.0,
                "num_gt": self.num_gt, "num_det": self.num_det, "num_match": self.num_match,
                "num_correct": self.num_correct, "num_correct_case_insensitive": self.num_correct_ci}

    def worst(self, k: int = 8) -> list[dict]:
        """Images with the most ground-truth words not read correctly."""
        return sorted(self.per_image, key=lambda row: -(row["num_gt"] - row["num_correct"]))[:k]
