"""``ocdr ocdnet evaluate``: ICDAR 2015 P/R/hmean over folders, with the worst cases drawn."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ocdr.config.ocdnet import OcdnetSpec
from ocdr.data.det_dataset import det_collate
from ocdr.data.images import read_image, write_image
from ocdr.eval.detection import DetectionMetric
from ocdr.fileio import atomic_write_text
from ocdr.models.settings import detector_settings_of, merge
from ocdr.pipeline.detector import load_detector
from ocdr.pipeline.drawing import draw_polygons
from ocdr.train.detection import detect_batch, ensure_data, make_eval_dataset

__all__ = ["evaluate_detector"]
log = logging.getLogger("ocdr.ocdnet")


def evaluate_detector(spec: OcdnetSpec) -> dict:
    paths = spec.evaluate.data_path or spec.dataset.validate_data_path
    ensure_data(paths, spec)
    model, record = load_detector(spec.evaluate.checkpoint, spec.train.device)
    # the model's own post-processing, with the keys the spec sets
    post = merge(detector_settings_of(record), {"postprocess": spec.postprocess.given()}).postprocess
    dataset = make_eval_dataset(paths, spec)
    loader = DataLoader(dataset, batch_size=spec.train.batch_size, collate_fn=det_collate,
                        num_workers=spec.train.num_workers)
    metric = DetectionMetric()
    detections = {}
    device = next(model.parameters()).device
    with torch.no_grad():
        for batch in loader:
            probs = model(batch["images"].to(device))["prob"][:, 0].float().cpu().numpy()
            for path, (polys, scores), gts, ign in zip(batch["path"], detect_batch(probs, batch, post),
                                                       batch["polygons"], batch["ignore"]):
                metric.update(gts, ign, polys, image_id=path)
                detections[path] = (polys, gts, ign)
    result = {**metric.compute(), "images": len(dataset), "checkpoint": spec.evaluate.checkpoint,
              "data_path": paths}
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
    log.info("precision %.4f recall %.4f hmean %.4f on %d images; report in %s (green: ground truth, red: detections)",
             result["precision"], result["recall"], result["hmean"], result["images"], out)
    return {k: result[k] for k in ("precision", "recall", "hmean", "num_gt", "num_det", "num_match", "images")} | {
        "report": str(out / "metrics.json")}
