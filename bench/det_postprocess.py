"""Choose the detector's post-processing for a dataset without touching its test split.

The probability maps of a trained checkpoint are computed once per evaluation size; every combination of
``postprocess.box_thresh``, ``postprocess.unclip_ratio`` and ``postprocess.thresh`` is then scored (numpy only)
on *tuning* images taken from the training split. The best combination on the tuning images is then
applied, once, to the test split, next to the checkpoint's own settings (the size and post-processing it
records), so the test figure is not chosen on the test set. The other post-processing keys stay the
checkpoint's. Apply a chosen setting with ``ocdr ocdnet export export.long_side=N postprocess.thresh=...``.

    .venv/bin/python bench/det_postprocess.py --checkpoint runs/recipes/hme_det/model_best.pth \\
        --tune data/hme/train --tune-images 160 --test data/hme/val --sizes 736 800 864 928 1024 1120
"""
from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from common import report
from ocdr.config import load_spec
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.data.det_dataset import det_collate
from ocdr.eval.detection import DetectionMetric
from ocdr.models.loading import load_detector
from ocdr.models.settings import detector_settings_of
from ocdr.models.detection.postprocess import detect_batch
from ocdr.train.detection import make_eval_dataset


def prob_maps(model, folder: str, image_size: int, limit: int) -> list[tuple[dict, np.ndarray]]:
    """(batch, probability maps) for the first ``limit`` images of ``folder`` (all when 0)."""
    spec = load_spec(OcdnetSpec, None, [f"dataset.image_size={image_size}"])
    dataset = make_eval_dataset([folder], spec, pad_square=False)  # each image as the predictor reads it
    if limit:
        # every k-th image, so the tuning images span the folder rather than its first writer or form
        step = max(1, len(dataset) // limit)
        dataset = Subset(dataset, list(range(0, len(dataset), step))[:limit])
    out = []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=1, collate_fn=det_collate):
            out.append((batch, model(batch["images"])["prob"][:, 0].float().numpy()))
    return out


def score(maps: list[tuple[dict, np.ndarray]], cfg) -> dict:
    metric = DetectionMetric()
    for batch, probs in maps:
        for (polys, _), gts, ign in zip(detect_batch(probs, batch, cfg), batch["polygons"], batch["ignore"]):
            metric.update(gts, ign, polys)
    return metric.compute()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--tune", required=True, help="folder (img/ + gt/) the setting is chosen on: not the test split")
    ap.add_argument("--tune-images", type=int, default=160, help="how many tuning images (evenly spaced); 0: all")
    ap.add_argument("--test", required=True, help="held-out folder the chosen setting is reported on")
    ap.add_argument("--sizes", type=int, nargs="+", default=[640, 800, 960])
    ap.add_argument("--box-thresh", type=float, nargs="+", default=[0.4, 0.5, 0.55, 0.6, 0.7])
    ap.add_argument("--unclip", type=float, nargs="+", default=[1.3, 1.5, 1.7, 2.0])
    ap.add_argument("--thresh", type=float, nargs="+", default=[0.2, 0.3, 0.4])
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    model, record = load_detector(args.checkpoint, "cpu")
    own = detector_settings_of(record)  # what the checkpoint records: the first row, and the grid's other keys
    own_pp, own_size = own.postprocess, own.limit_side_len
    tuned = []
    for size in args.sizes:
        maps = prob_maps(model, args.tune, size, args.tune_images)
        for bt, un, th in itertools.product(args.box_thresh, args.unclip, args.thresh):
            m = score(maps, replace(own_pp, box_thresh=bt, unclip_ratio=un, thresh=th))
            tuned.append({"size": size, "box_thresh": bt, "unclip_ratio": un, "thresh": th, "tune hmean": m["hmean"]})
        print(f"size {size}: best tuning hmean so far {max(r['tune hmean'] for r in tuned):.4f}", flush=True)
    best = max(tuned, key=lambda r: r["tune hmean"])
    chosen = replace(own_pp, box_thresh=best["box_thresh"], unclip_ratio=best["unclip_ratio"], thresh=best["thresh"])
    rows = []
    for label, size, cfg in ((f"the checkpoint's own (size {own_size})", own_size, own_pp),
                             ("chosen on tuning images", best["size"], chosen)):
        key = (size, cfg.box_thresh, cfg.unclip_ratio, cfg.thresh)
        known = [r["tune hmean"] for r in tuned if (r["size"], r["box_thresh"], r["unclip_ratio"], r["thresh"]) == key]
        tune_h = known[0] if known else score(prob_maps(model, args.tune, size, args.tune_images), cfg)["hmean"]
        test = score(prob_maps(model, args.test, size, 0), cfg)
        rows.append({"setting": label, "size": size, "thresh": cfg.thresh, "box_thresh": cfg.box_thresh,
                     "unclip_ratio": cfg.unclip_ratio, "tune hmean": tune_h, "test P": test["precision"],
                     "test R": test["recall"], "test hmean": test["hmean"]})
    report("det_postprocess", rows, {"command": "bench/det_postprocess.py " + " ".join(sys.argv[1:]),
                                     "checkpoint": args.checkpoint, "grid": tuned})


if __name__ == "__main__":
    main()
