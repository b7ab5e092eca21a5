"""The detector predictor: RGB images in, polygons and scores out, on PyTorch or ONNX Runtime.

Images are resized keeping the aspect ratio (long side ``long_side``, multiples of 32), or, in
tiled mode, cut into overlapping tiles at full resolution whose probability maps are merged by
maximum (as nvOCDR does for pages much larger than the network input).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ocdr.data.transforms import normalize, resize_for_inference
from ocdr.errors import ConfigError
from ocdr.models.detection.postprocess import PostProcessConfig, db_postprocess
from ocdr.models.registry import build_model

__all__ = ["load_detector", "resolve_device", "DetectorPredictor", "Detection"]


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' requested but CUDA is not available")
    return torch.device(device)


def load_detector(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """A DBNet from an ocdr model file or training checkpoint (weights_only), in eval mode."""
    from ocdr.models.prune import rebuild_to

    from ocdr.models.imported.pretrained import read_pretrained

    record = read_pretrained(str(path), "detector")  # a file, or a pretrained name such as ppocr-v4-det
    model = build_model(record["model"]["name"], **record["model"]["kwargs"])
    rebuild_to(model, record["state_dict"])  # a pruned model's narrower layers come from its weights
    return model.to(resolve_device(device)).eval(), record


@dataclass
class Detection:
    polygons: list[np.ndarray]
    scores: list[float]
    prob: np.ndarray  # probability map at the network's resolution, for pictures


class DetectorPredictor:
    def __init__(self, model: str | Path | torch.nn.Module, backend: str = "torch", device: str = "auto",
                 postprocess: PostProcessConfig | None = None, long_side: int = 736, tiled: bool = False,
                 tile_size: int = 640, tile_overlap: int = 128):
        self.backend = backend
        self.postprocess = postprocess or PostProcessConfig()
        self.long_side, self.tiled, self.tile_size, self.overlap = long_side, tiled, tile_size, tile_overlap
        if backend == "onnxruntime":
            from ocdr.export.onnx_export import onnxruntime_session

            # a path, or a ready session-like object (``run(names, feeds)``), e.g. Triton's BLS in model.py
            self.session = model if hasattr(model, "run") else onnxruntime_session(model)
        elif backend == "torch":
            if isinstance(model, torch.nn.Module):
                self.model = model.eval()
            else:
                self.model, _ = load_detector(model, device)
            self.device = next(self.model.parameters()).device
        else:
            raise ConfigError(f"backend '{backend}' is not one of torch, onnxruntime")

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) normalized -> (N, H, W) probabilities."""
        if self.backend == "onnxruntime":
            return self.session.run(None, {"images": batch.astype(np.float32)})[0][:, 0]
        with torch.no_grad():
            return self.model(torch.from_numpy(batch).to(self.device))["prob"][:, 0].float().cpu().numpy()

    def prob_map(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Probability map and the (height, width) of the image region it covers at its own scale."""
        if self.tiled:
            return self._tiled(image)
        resized, _, _ = resize_for_inference(image, self.long_side)
        return self._run(normalize(resized)[None])[0], resized.shape[:2]

    def _tiled(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        h, w = image.shape[:2]
        t, step = self.tile_size, max(self.tile_size - self.overlap, 32)
        ph, pw = max(h, t), max(w, t)
        ph, pw = -(-ph // 32) * 32, -(-pw // 32) * 32
        canvas = np.full((ph, pw, 3), 255, np.uint8)
        canvas[:h, :w] = image
        prob = np.zeros((ph, pw), np.float32)
        ys = list(range(0, ph - t + 1, step)) or [0]
        xs = list(range(0, pw - t + 1, step)) or [0]
        if ys[-1] != ph - t:
            ys.append(ph - t)
        if xs[-1] != pw - t:
            xs.append(pw - t)
        for y in ys:
            tiles = [normalize(canvas[y:y + t, x:x + t]) for x in xs]
            out = self._run(np.stack(tiles))
            for x, p in zip(xs, out):
                np.maximum(prob[y:y + t, x:x + t], p, out=prob[y:y + t, x:x + t])
        return prob, (h, w)

    def __call__(self, images: list[np.ndarray]) -> list[Detection]:
        results = []
        for image in images:
            prob, (rh, rw) = self.prob_map(image)
            polys, scores = db_postprocess(prob[:rh, :rw], self.postprocess, dest_size=image.shape[:2])
            results.append(Detection(polys, scores, prob[:rh, :rw]))
        return results
