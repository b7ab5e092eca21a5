"""``ocdr ocdnet inference``: annotated images, probability maps and ``x1,y1,...,score`` text files.

An image that fails is logged, counted and listed in the summary; the others go on
(:mod:`ocdr.commands.failures`: the command fails only when no image succeeded)."""
from __future__ import annotations

from pathlib import Path

from ocdr.commands.failures import Failures, results_folder
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.data.images import list_images, read_image, write_image
from ocdr.eval.drawing import draw_polygons, heatmap
from ocdr.fileio import atomic_open
from ocdr.pipeline.detector import DetectorPredictor

__all__ = ["detector_inference"]


def detector_inference(spec: OcdnetSpec) -> dict:
    inf = spec.inference
    predictor = DetectorPredictor(inf.checkpoint, backend=inf.backend, device=spec.train.device,
                                  postprocess=spec.postprocess.given(), long_side=inf.long_side, tiled=inf.tiled,
                                  tile_size=inf.tile_size, tile_overlap=inf.tile_overlap, precision=inf.precision)
    paths = list_images(inf.input)
    out = results_folder(inf.results_dir)
    failures = Failures(inf.input)
    boxes = [n for p in paths if (n := failures.attempt(p, _detect_one, predictor, p, out)) is not None]
    failures.check(len(paths))
    return {"images": len(boxes), "failed": len(failures.items), "boxes": sum(boxes), "results_dir": str(out),
            "backend": predictor.backend, "precision": predictor.precision, "errors": failures.items}


def _detect_one(predictor: DetectorPredictor, path: Path, out: Path) -> int:
    """Detect the words of one image and write its three files; the number of boxes."""
    image = read_image(path)
    det = predictor([image])[0]
    write_image(out / f"{path.stem}_result.jpg", draw_polygons(image, det.polygons))
    write_image(out / f"{path.stem}_pred.jpg", heatmap(det.prob))
    with atomic_open(out / f"{path.stem}.txt") as fh:
        for poly, score in zip(det.polygons, det.scores):
            fh.write(",".join(str(int(round(v))) for v in poly.reshape(-1)) + f",{score:.4f}\n")
    return len(det.polygons)
