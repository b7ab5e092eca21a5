"""``ocdr ocrnet inference``: the table ``image_path | predicted_labels | confidence score``, also CSV/JSON.

A crop that fails (missing, unreadable, corrupt) is logged, counted and listed in the summary; the others
are read (:mod:`ocdr.commands.failures`: the command fails only when no crop succeeded)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ocdr.commands.failures import Failures, results_folder
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.data.formats import read_gt_list
from ocdr.data.images import list_images, read_image
from ocdr.errors import DataError
from ocdr.fileio import atomic_write_text
from ocdr.pipeline.recognizer import RecognizerPredictor

__all__ = ["recognizer_inference", "crop_paths"]

COLUMNS = ["image_path", "predicted_labels", "confidence_score"]


def crop_paths(source: str | Path) -> list[Path]:
    """An image, a folder of images, or a gt list (its paths are used, labels ignored)."""
    source = Path(source)
    try:
        if source.is_file() and source.suffix == ".txt":
            return [source.parent / rel for rel, _ in read_gt_list(source)]
    except OSError as exc:  # PermissionError: one line naming the list, not a traceback
        raise DataError(source, f"cannot read this file ({exc.strerror or exc})") from None
    return list_images(source)


def recognizer_inference(spec: OcrnetSpec) -> dict:
    inf = spec.inference
    predictor = RecognizerPredictor(inf.checkpoint, inf.backend, spec.train.device, inf.batch_size,
                                    precision=inf.precision, **inf.lexicon.options())
    paths = crop_paths(inf.inference_dataset_dir)
    out = results_folder(inf.results_dir)
    failures = Failures(inf.inference_dataset_dir)
    read = [(p, im) for p in paths if (im := failures.attempt(p, read_image, p)) is not None]
    results = failures.run_batch(predictor, [im for _, im in read], [p for p, _ in read]) if read else []
    failures.check(len(paths))
    rows = [{"image_path": str(read[i][0]), "predicted_labels": text, "confidence_score": round(conf, 4)}
            for i, (text, conf) in results]
    print(_table(rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "predictions.csv", buf.getvalue())
    atomic_write_text(out / "predictions.json", json.dumps(rows, indent=2, ensure_ascii=False))
    return {"images": len(rows), "failed": len(failures.items), "backend": predictor.backend,
            "precision": predictor.precision,
            "results": str(out / "predictions.csv"), "errors": failures.items}


def _table(rows: list[dict]) -> str:
    width = max([len("image_path")] + [len(r["image_path"]) for r in rows])
    lines = [f"{'image_path':<{width}} | predicted_labels | confidence score"]
    lines += [f"{r['image_path']:<{width}} | {r['predicted_labels']} | {r['confidence_score']:.4f}" for r in rows]
    return "\n".join(lines)
