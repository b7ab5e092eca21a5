"""The recognizer predictor: RGB word crops in, (text, confidence) out, on PyTorch or ONNX Runtime.

Confidence is TAO OCRNet's: the product over time steps of each step's highest probability.
An exported ONNX file carries what decoding needs in its metadata (character list, input size),
so it runs without the checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ocdr.data.charset import Charset
from ocdr.data.rec_transforms import to_input
from ocdr.errors import ConfigError
from ocdr.models.registry import build_model
from ocdr.pipeline.detector import resolve_device

__all__ = ["load_recognizer", "RecognizerPredictor", "decode_ctc_ids", "input_geometry"]


def input_geometry(record: dict) -> dict:
    m = record["spec"]["model"]
    return {"height": int(m["input_height"]), "width": int(m["input_width"]), "channels": int(m["input_channel"]),
            "keep_aspect_ratio": bool(m.get("keep_aspect_ratio", False)), "pad": m.get("pad", "edge"),
            "prediction": m["prediction"]}


def load_recognizer(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict, Charset]:
    from ocdr.models.imported.pretrained import read_pretrained

    record = read_pretrained(str(path), "recognizer")  # a file, or a pretrained name such as ppocr-v4-rec
    ds = record["spec"]["dataset"]
    charset = Charset(record["charset"], case_fold=bool(ds.get("case_fold", False)), unknown=ds.get("unknown_char", "drop"))
    model = build_model(record["model"]["name"], **record["model"]["kwargs"])
    model.load_state_dict(record["state_dict"])
    return model.to(resolve_device(device)).eval(), record, charset


def decode_ctc_ids(ids: np.ndarray, probs: np.ndarray, charset: Charset) -> list[tuple[str, float]]:
    """(B, T) argmax ids and their probabilities -> collapsed text and the product of probabilities."""
    out = []
    for seq, p in zip(ids, probs):
        keep = [int(c) for i, c in enumerate(seq) if c != 0 and (i == 0 or c != seq[i - 1])]
        out.append((charset.decode_ctc_ids(keep), float(np.prod(p.astype(np.float64)))))
    return out


class RecognizerPredictor:
    def __init__(self, model: str | Path, backend: str = "torch", device: str = "auto", batch_size: int = 64):
        self.backend, self.batch_size = backend, batch_size
        if backend == "onnxruntime":
            from ocdr.export.onnx_export import onnxruntime_session

            # a path, or a session-like object with run() and get_modelmeta() (Triton's BLS in model.py)
            self.session = model if hasattr(model, "run") else onnxruntime_session(model)
            meta = self.session.get_modelmeta().custom_metadata_map
            if "ocdr_charset" not in meta:
                raise ConfigError(f"{model}: not an ocdr recognizer export (no ocdr_charset metadata)")
            self.charset = Charset(json.loads(meta["ocdr_charset"]), **json.loads(meta["ocdr_codec"]))
            self.geometry = json.loads(meta["ocdr_input"])
        elif backend == "torch":
            self.model, record, self.charset = load_recognizer(model, device)
            self.geometry = input_geometry(record)
            self.device = next(self.model.parameters()).device
        else:
            raise ConfigError(f"backend '{backend}' is not one of torch, onnxruntime")

    def preprocess(self, crops: list[np.ndarray]) -> np.ndarray:
        g = self.geometry
        return np.stack([to_input(c, g["height"], g["width"], g["channels"], g["keep_aspect_ratio"], g.get("pad", "edge"))
                         for c in crops])

    def _run(self, batch: np.ndarray) -> list[tuple[str, float]]:
        if self.backend == "onnxruntime":
            ids, probs = self.session.run(["output_id", "output_prob"], {"images": batch})
            return decode_ctc_ids(ids, probs, self.charset)
        from ocdr.train.recognition import decode_batch

        with torch.no_grad():
            out = self.model(torch.from_numpy(batch).to(self.device))
        return decode_batch(out, self.charset, self.geometry["prediction"])

    def __call__(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        results: list[tuple[str, float]] = []
        for i in range(0, len(crops), self.batch_size):
            results += self._run(self.preprocess(crops[i:i + self.batch_size]))
        return results
