"""``ocdr pipeline inference``: detect, rectify and recognise every image of a file or folder.

Writes per image ``<stem>.json`` (words with polygon, text, confidence; lines in reading order) and
``<stem>_ocr.jpg`` (boxes on the image, the text beside it), and ``results.json`` for the whole run, which
lists the images that failed and why (:mod:`ocdr.commands.failures`: a folder goes on past them; the command
fails only when no image succeeded).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ocdr.commands.failures import Failures, results_folder
from ocdr.config.pipeline import PipelineSpec
from ocdr.data.images import list_images, read_image, write_image
from ocdr.errors import DataError
from ocdr.eval.drawing import draw_ocr
from ocdr.fileio import atomic_write_text
from ocdr.pipeline.ocr import OCR, Page, build_ocr

__all__ = ["pipeline_inference"]
log = logging.getLogger("ocdr.pipeline")


def pipeline_inference(spec: PipelineSpec) -> dict:
    ocr = build_ocr(spec)
    paths = list_images(spec.input)
    out = results_folder(spec.results_dir)
    failures = Failures(spec.input)
    pages: list[dict] = []
    t0 = time.perf_counter()
    for start in range(0, len(paths), spec.batch_size):
        pages += _run_batch(ocr, paths[start:start + spec.batch_size], spec, out, failures)
    seconds = time.perf_counter() - t0
    result = {"images": len(pages), "failed": len(failures.items), "words": sum(p["words"] for p in pages),
              "seconds": round(seconds, 2),
              "images_per_second": round(len(pages) / seconds, 3) if seconds > 0 else None,
              "backend": {"detector": ocr.detector.backend, "recognizer": ocr.recognizer.backend},
              "precision": {"detector": ocr.detector.precision, "recognizer": ocr.recognizer.precision},
              "results_dir": str(out), "errors": failures.items}
    _write_results(out / "results.json", {**result, "pages": pages})
    failures.check(len(paths))
    return result


def _run_batch(ocr: OCR, paths: list[Path], spec: PipelineSpec, out: Path, failures: Failures) -> list[dict]:
    """The summaries of the images of one batch that were read, recognised and written."""
    read = [(p, im) for p in paths if (im := failures.attempt(p, read_image, p, spec.max_pixels)) is not None]
    if not read:
        return []
    done = []
    for i, page in failures.run_batch(ocr, [im for _, im in read], [p for p, _ in read]):
        path, image = read[i]
        if failures.attempt(path, _write_page, out, path, image, page, spec.draw) is not None:
            done.append({"image": str(path), "words": len(page.words), "text": page.text})
    return done


def _write_page(out: Path, path: Path, image, page: Page, draw: bool) -> Path:
    """The picture first: an image it cannot be drawn or encoded for (say wider than JPEG allows) then
    leaves no ``<stem>.json`` behind to look like a success."""
    if draw:
        write_image(out / f"{path.stem}_ocr.jpg", draw_ocr(image, [w.polygon for w in page.words],
                                                           [w.text for w in page.words]))
    record = {"image": str(path), **page.to_dict()}
    return atomic_write_text(out / f"{path.stem}.json", json.dumps(record, indent=1, ensure_ascii=False))


def _write_results(path: Path, results: dict) -> None:
    try:
        atomic_write_text(path, json.dumps(results, indent=1, ensure_ascii=False))
    except OSError as exc:
        raise DataError(path, f"cannot write the results ({exc.strerror or exc})") from None
