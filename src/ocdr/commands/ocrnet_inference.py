"""``ocdr ocrnet inference``: the table ``image_path | predicted_labels | confidence score``, also CSV/JSON."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ocdr.config.ocrnet import OcrnetSpec
from ocdr.data.formats import read_gt_list
from ocdr.data.images import read_image
from ocdr.fileio import atomic_write_text
from ocdr.data.images import list_images
from ocdr.pipeline.recognizer import RecognizerPredictor

__all__ = ["recognizer_inference", "crop_paths"]


def crop_paths(source: str | Path) -> list[Path]:
    """An image, a folder of images, or a gt list (its paths are used, labels ignored)."""
    source = Path(source)
    if source.is_file() and source.suffix == ".txt":
        return [source.parent / rel for rel, _ in read_gt_list(source)]
    return list_images(source)


def recognizer_inference(spec: OcrnetSpec) -> dict:
    inf = spec.inference
    predictor = RecognizerPredictor(inf.checkpoint, inf.backend, spec.train.device, inf.batch_size)
    backend = predictor.backend
    paths = crop_paths(inf.inference_dataset_dir)
    results = predictor([read_image(p) for p in paths])
    rows = [{"image_path": str(p), "predicted_labels": text, "confidence_score": round(conf, 4)}
            for p, (text, conf) in zip(paths, results)]
    width = max(len("image_path"), *(len(r["image_path"]) for r in rows))
    lines = [f"{'image_path':<{width}} | predicted_labels | confidence score"]
    lines += [f"{r['image_path']:<{width}} | {r['predicted_labels']} | {r['confidence_score']:.4f}" for r in rows]
    print("\n".join(lines))
    out = Path(inf.results_dir)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["image_path", "predicted_labels", "confidence_score"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "predictions.csv", buf.getvalue())
    atomic_write_text(out / "predictions.json", json.dumps(rows, indent=2, ensure_ascii=False))
    return {"images": len(rows), "backend": backend, "results": str(out / "predictions.csv")}
