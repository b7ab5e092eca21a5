"""Recognizer speed: crops/s at batch 1 and 64, PyTorch vs ONNX Runtime, for each backbone.

    .venv/bin/python bench/rec_speed.py --backbones small ResNet --repeat 5
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from common import report, timed
from ocdr.config.ocrnet import recognizer_name
from ocdr.data.charset import Charset
from ocdr.export.onnx_export import export_recognizer, onnxruntime_session
from ocdr.models.registry import build_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", nargs="+", default=["small", "ResNet"])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    charset = Charset([chr(c) for c in range(32, 127)])
    rows = []
    for backbone in args.backbones:
        torch.manual_seed(0)
        model = build_model(recognizer_name(backbone, "CTC"), num_classes=charset.num_classes_ctc).eval()
        geometry = {"height": 32, "width": 100, "channels": 1, "keep_aspect_ratio": False, "prediction": "CTC"}
        with tempfile.TemporaryDirectory() as tmp:
            session = onnxruntime_session(export_recognizer(model, Path(tmp) / "r.onnx", charset, geometry))
            row = {"backbone": backbone, "params_M": sum(p.numel() for p in model.parameters()) / 1e6}
            for batch in (1, 64):
                x = np.random.default_rng(0).uniform(-1, 1, (batch, 1, 32, 100)).astype(np.float32)
                with torch.no_grad():
                    row[f"torch_crops_s_b{batch}"] = batch / timed(lambda: model(torch.from_numpy(x)), args.repeat)
                row[f"ort_crops_s_b{batch}"] = batch / timed(lambda: session.run(None, {"images": x}), args.repeat)
        rows.append(row)
    report("rec_speed", rows, {"command": "bench/rec_speed.py --backbones " + " ".join(args.backbones)
                               + f" --repeat {args.repeat}"})


if __name__ == "__main__":
    main()
