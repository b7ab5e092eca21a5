"""Detector speed: training images/s at 640x640 and inference images/s at 736x1280 (PyTorch vs ONNX Runtime).

    .venv/bin/python bench/det_speed.py [--backbones resnet18 deformable_resnet18] [--repeat 5]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from common import report, timed
from ocdr.config.ocdnet import model_name_for
from ocdr.export.onnx_export import export_detector, onnxruntime_session
from ocdr.models.registry import build_model


def train_speed(model, batch: int, size: int, repeat: int) -> float:
    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    x = torch.randn(batch, 3, size, size)
    t = {"shrink_map": (torch.rand(batch, size, size) > 0.8).float(), "shrink_mask": torch.ones(batch, size, size),
         "threshold_map": torch.rand(batch, size, size) * 0.4 + 0.3, "threshold_mask": torch.ones(batch, size, size)}

    def step():
        opt.zero_grad()
        model(x, t)["loss"].backward()
        opt.step()
    return batch / timed(step, repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", nargs="+", default=["resnet18", "deformable_resnet18"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--train-batch", type=int, default=4)
    args = ap.parse_args()
    rows = []
    x = np.random.default_rng(0).standard_normal((1, 3, 736, 1280)).astype(np.float32)
    for backbone in args.backbones:
        torch.manual_seed(0)
        model = build_model(model_name_for(backbone))
        row = {"backbone": backbone, "params_M": sum(p.numel() for p in model.parameters()) / 1e6}
        row["train_img_s_640"] = train_speed(model, args.train_batch, 640, args.repeat)
        model.eval()
        with torch.no_grad():
            row["torch_img_s_736x1280"] = 1 / timed(lambda: model(torch.from_numpy(x)), args.repeat)
        with tempfile.TemporaryDirectory() as tmp:
            session = onnxruntime_session(export_detector(model, Path(tmp) / "m.onnx"))
            row["ort_img_s_736x1280"] = 1 / timed(lambda: session.run(None, {"images": x}), args.repeat)
        rows.append(row)
    report("det_speed", rows, {"command": "bench/det_speed.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())})


if __name__ == "__main__":
    main()
