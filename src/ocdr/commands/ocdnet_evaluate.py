"""``ocdr ocdnet evaluate``: ICDAR 2015 P/R/hmean over folders, with the worst cases drawn.

The data is checked before the model is loaded. The summary states what was scored: ``evaluated``
images, ``skipped`` ones by reason (``dataset.skip_bad``) and the ``total`` found (evaluated + skipped
= total), plus ``skipped_gt_lines`` (bad lines left out of evaluated images) and ``box_problems``
(ground-truth regions with zero area, collinear or self-intersecting: scored as they are)."""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

from ocdr.config.ocdnet import OcdnetSpec
from ocdr.data.images import read_image, write_image
from ocdr.eval.detection import DetectionMetric
from ocdr.errors import DataError
from ocdr.fileio import atomic_write_text
from ocdr.pipeline.detector import DetectorPredictor
from ocdr.eval.drawing import draw_polygons
from ocdr.train.detection import ensure_data, make_eval_dataset

__all__ = ["evaluate_detector"]
log = logging.getLogger("ocdr.ocdnet")


def evaluate_detector(spec: OcdnetSpec) -> dict:
    """Each image through the detector predictor, so the model's own resize rule and post-processing apply
    (the keys the spec sets override them): evaluation measures what inference will do."""
    paths = spec.evaluate.data_path or spec.dataset.validate_data_path
    ensure_data(paths, spec)
    dataset = make_eval_dataset(paths, spec)  # every image and gt file checked before the model loads
    predictor = DetectorPredictor(spec.evaluate.checkpoint, backend=spec.inference.backend, device=spec.train.device,
                                  postprocess=spec.postprocess.given(), long_side=spec.evaluate.long_side,
                                  precision=spec.inference.precision)
    metric = DetectionMetric()
    detections, read_failures = _detect_all(dataset, predictor, metric)
    counts = _counts(metric, dataset, read_failures)
    result = {**metric.compute(), "images": counts["evaluated"], **counts, "checkpoint": spec.evaluate.checkpoint,
              "data_path": paths, "settings": {"limit_side_len": predictor.settings.limit_side_len,
                                                "limit_type": predictor.settings.limit_type,
                                                "postprocess": dataclasses.asdict(predictor.postprocess)}}
    out = Path(spec.evaluate.results_dir)
    worst = metric.worst(spec.evaluate.num_worst)
    shutil.rmtree(out / "worst", ignore_errors=True)  # pictures of an earlier run would mislead
    for rank, row in enumerate(worst):
        polys, gts, ign = detections[row["image"]]
        image = read_image(row["image"])
        image = draw_polygons(image, [g for g, i in zip(gts, ign) if not i], color=(0, 170, 0))
        image = draw_polygons(image, polys, color=(220, 0, 0))
        write_image(out / "worst" / f"{rank:02d}_{Path(row['image']).stem}.jpg", image)
    result["worst"] = [{k: row[k] for k in ("image", "precision", "recall", "hmean", "num_gt", "num_det")} for row in worst]
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=2))
    log.info("precision %.4f recall %.4f hmean %.4f on %d of %d images (skipped: %s); report in %s "
             "(green: ground truth, red: detections)", result["precision"], result["recall"], result["hmean"],
             result["evaluated"], result["total"], result["skipped"] or "none", out)
    return {k: result[k] for k in ("precision", "recall", "hmean", "num_gt", "num_det", "num_match", "images")} | {
        **counts, "report": str(out / "metrics.json")}


def _detect_all(dataset, predictor: DetectorPredictor, metric: DetectionMetric) -> tuple[dict, Counter]:
    """Score every image; returns the detections by image and the images that failed while reading (they
    passed the check when the dataset was built, so the file changed since), by reason."""
    detections, read_failures = {}, Counter()
    for image_path, gts, ign in dataset.samples:
        try:
            image = read_image(image_path)
        except DataError as exc:
            if not dataset.bad.skip:
                raise
            log.warning("skipped at read time: %s", exc)
            read_failures["unreadable image"] += 1
            continue
        polys = predictor([image])[0].polygons
        metric.update(gts, ign, polys, image_id=str(image_path))
        detections[str(image_path)] = (polys, gts, ign)
    return detections, read_failures


def _counts(metric: DetectionMetric, dataset, read_failures: Counter) -> dict:
    """evaluated / skipped {reason: count} / total, and the gt lines and boxes worth knowing about."""
    skipped = Counter(dataset.skipped_images) + read_failures
    return {"evaluated": len(metric.per_image), "skipped": dict(sorted(skipped.items())), "total": dataset.total,
            "skipped_gt_lines": dataset.skipped_lines, "box_problems": dict(sorted(dataset.box_problems.items()))}
