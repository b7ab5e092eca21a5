"""``ocdr ocdnet inference``: annotated images, probability maps and ``x1,y1,...,score`` text files."""
from __future__ import annotations

from pathlib import Path

from ocdr.config.ocdnet import OcdnetSpec
from ocdr.data.images import list_images, read_image, write_image
from ocdr.fileio import atomic_open
from ocdr.pipeline.detector import DetectorPredictor
from ocdr.eval.drawing import draw_polygons, heatmap

__all__ = ["detector_inference"]


def detector_inference(spec: OcdnetSpec) -> dict:
    inf = spec.inference
    predictor = DetectorPredictor(inf.checkpoint, backend=inf.backend, device=spec.train.device,
                                  postprocess=spec.postprocess.given(), long_side=inf.long_side, tiled=inf.tiled,
                                  tile_size=inf.tile_size, tile_overlap=inf.tile_overlap)
    backend = predictor.backend
    out = Path(inf.results_dir)
    total = 0
    images = list_images(inf.input)
    for path in images:
        image = read_image(path)
        det = predictor([image])[0]
        total += len(det.polygons)
        write_image(out / f"{path.stem}_result.jpg", draw_polygons(image, det.polygons))
        write_image(out / f"{path.stem}_pred.jpg", heatmap(det.prob))
        with atomic_open(out / f"{path.stem}.txt") as fh:
            for poly, score in zip(det.polygons, det.scores):
                fh.write(",".join(str(int(round(v))) for v in poly.reshape(-1)) + f",{score:.4f}\n")
    return {"images": len(images), "boxes": total, "results_dir": str(out), "backend": backend}
