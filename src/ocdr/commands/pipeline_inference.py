"""``ocdr pipeline inference``: detect, rectify and recognise every image of a file or folder.

Writes per image ``<stem>.json`` (words with polygon, text, confidence; lines in reading order) and
``<stem>_ocr.jpg`` (boxes on the image, the text beside it), and ``results.json`` for the whole run.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ocdr.config.pipeline import PipelineSpec
from ocdr.data.images import read_image, write_image
from ocdr.errors import OcdrError
from ocdr.fileio import atomic_write_text
from ocdr.data.images import list_images
from ocdr.eval.drawing import draw_ocr
from ocdr.pipeline.ocr import build_ocr

__all__ = ["pipeline_inference"]
log = logging.getLogger("ocdr.pipeline")


def pipeline_inference(spec: PipelineSpec) -> dict:
    ocr = build_ocr(spec)
    paths = list_images(spec.input)
    out = Path(spec.results_dir)
    summary, failed, words = [], [], 0
    t0 = time.perf_counter()
    for start in range(0, len(paths), spec.batch_size):
        chunk, images = [], []
        for path in paths[start:start + spec.batch_size]:
            try:
                images.append(read_image(path))
                chunk.append(path)
            except OcdrError as exc:  # one unreadable file does not stop a folder
                log.warning("skipped: %s", exc)
                failed.append({"image": str(path), "error": str(exc)})
        if not images:
            continue
        for path, image, page in zip(chunk, images, ocr(images)):
            record = {"image": str(path), **page.to_dict()}
            atomic_write_text(out / f"{path.stem}.json", json.dumps(record, indent=1, ensure_ascii=False))
            if spec.draw:
                write_image(out / f"{path.stem}_ocr.jpg", draw_ocr(image, [w.polygon for w in page.words],
                                                                   [w.text for w in page.words]))
            words += len(page.words)
            summary.append({"image": str(path), "words": len(page.words), "text": page.text})
    seconds = time.perf_counter() - t0
    result = {"images": len(summary), "failed": len(failed), "words": words, "seconds": round(seconds, 2),
              "images_per_second": round(len(summary) / seconds, 3) if seconds > 0 else None,
              "backend": {"detector": ocr.detector.backend, "recognizer": ocr.recognizer.backend}, "results_dir": str(out)}
    atomic_write_text(out / "results.json", json.dumps({**result, "pages": summary, "errors": failed},
                                                       indent=1, ensure_ascii=False))
    return result
