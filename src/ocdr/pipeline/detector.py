"""The detector predictor: RGB images in, polygons and scores out, on an ONNX engine or PyTorch.

The model's own inference settings (:mod:`ocdr.models.settings`: resize rule, normalisation,
post-processing) are used unless a key is overridden. Backends (``backend=auto``):

- a ``.onnx`` file: an ONNX engine (:func:`ocdr.models.runtime.graph_session`: OpenVINO on a CPU when it
  is installed, ONNX Runtime on CUDA or when asked with ``backend=onnxruntime``), settings from the file's
  metadata; a session-like object (Triton's) runs as it is;
- ``ppocr-v4-det`` (or ``auto`` with the wheel installed): the wheel's original graph on that engine,
  without importing torch;
- an ocdr checkpoint of an imported PP-OCR model: its native graph with the checkpoint's weights, on that
  engine;
- any other checkpoint, or an ``nn.Module``: PyTorch.

In tiled mode the image is cut into overlapping tiles at full resolution whose probability maps are merged
by maximum (as nvOCDR does for pages much larger than the network input). Tiles go to the network in groups
of at most ``tile_batch`` and each group is merged before the next is cut, so memory stays bounded however
long the page; a side shorter than a tile is padded to one tile, so a 60000 x 1 strip is one row of tiles.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ocdr.config.pipeline import validate_precision
from ocdr.data.transforms import IMAGENET_MEAN_STD, normalize_with, resize_limited
from ocdr.errors import ConfigError
from ocdr.models.catalog import ALIASES, is_onnx_path, resolve_model, wheel_model_path
from ocdr.models.detection.postprocess import PostProcessConfig, db_postprocess
from ocdr.models.runtime import ENGINES, engine_of, graph_session, onnx_backend, precision_of, torch_precision
from ocdr.models.settings import PPOCR_DET, DetectorSettings, detector_settings_from_json, detector_settings_of, merge

__all__ = ["DetectorPredictor", "Detection", "BACKENDS", "tile_starts"]

BACKENDS = ("auto", "torch", *ENGINES)
IMPORTED = ("ppocr_det",)


@dataclass
class Detection:
    polygons: list[np.ndarray]
    scores: list[float]
    prob: np.ndarray  # probability map at the network's resolution, for pictures


class _OrtDetector:
    def __init__(self, session):
        self.session = session
        self.input = session.get_inputs()[0].name if hasattr(session, "get_inputs") else "images"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: batch.astype(np.float32)})[0][:, 0]


class _TorchDetector:
    def __init__(self, model):
        import torch  # deferred: ONNX Runtime inference never imports torch

        self.torch, self.model = torch, model.eval()
        self.device = next(model.parameters()).device

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            out = self.model(self.torch.from_numpy(batch).to(self.device))["prob"]
        return out[:, 0].float().cpu().numpy()


def _settings_of_session(session) -> DetectorSettings:
    meta = session.get_modelmeta().custom_metadata_map if hasattr(session, "get_modelmeta") else {}
    return detector_settings_from_json(meta["ocdr_inference"]) if "ocdr_inference" in meta else DetectorSettings()


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering ``length`` (>= ``tile``) with at least ``overlap`` shared; the last tile
    ends on the edge."""
    step = max(tile - overlap, 32)
    starts = list(range(0, length - tile + 1, step)) or [0]
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def _check_tiles(tile_size: int, overlap: int, tile_batch: int) -> None:
    if tile_size < 32 or tile_size % 32:
        raise ConfigError(f"tile_size must be a positive multiple of 32, got {tile_size}")
    if not 0 <= overlap <= tile_size // 2:
        # more overlap than half a tile computes every pixel three times or more for nothing
        raise ConfigError(f"tile_overlap must be between 0 and half of tile_size ({tile_size // 2}), got {overlap}")
    if tile_batch < 1:
        raise ConfigError(f"tile_batch must be at least 1, got {tile_batch}")


def _open(model, backend: str, device: str, precision: str = "fp32"):
    """(runner, settings, torch?) for a model source and a backend choice; ``precision``: the ONNX engine's."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend '{backend}' is not one of {', '.join(BACKENDS)}")
    validate_precision(precision)
    # a detector has no per-box check to fall back on (a box read in bf16 cannot be told from one read in
    # fp32), so auto and bf16-checked keep it in fp32: only an explicit bf16 computes in bf16
    precision = "bf16" if precision == "bf16" else "fp32"
    if hasattr(model, "run"):  # a ready session-like object, e.g. Triton's BLS in model.py
        return _OrtDetector(model), _settings_of_session(model), False
    if not isinstance(model, (str, Path)):  # an nn.Module
        return _TorchDetector(model), DetectorSettings(), True
    model = resolve_model("detector", model)
    if is_onnx_path(model):
        session = graph_session(model, onnx_backend(backend), precision=precision)
        return _OrtDetector(session), _settings_of_session(session), False
    if model in ALIASES and backend != "torch":
        session = graph_session(wheel_model_path(ALIASES[model][0]), backend, precision=precision)
        return _OrtDetector(session), replace(PPOCR_DET), False
    from ocdr.models.loading import load_detector, resolve_device  # deferred: torch, for checkpoints only

    net, record = load_detector(model, device if backend == "torch" else "cpu")
    settings = detector_settings_of(record)
    if record["model"]["name"] in IMPORTED and backend != "torch":
        from ocdr.models.imported.ppocr import native_graph  # deferred: torch and onnx, only for a PP-OCR checkpoint

        graph = native_graph(net, record["model"]["kwargs"].get("graph", "")).SerializeToString()
        return _OrtDetector(graph_session(graph, backend, precision=precision)), settings, False
    if backend in ENGINES:
        raise ConfigError(f"{model}: backend={backend} needs an exported .onnx model (run 'ocdr ocdnet export' "
                          "first, or use backend=torch)")
    torch_precision(model, precision)
    return _TorchDetector(net.to(resolve_device(device))), settings, True


class DetectorPredictor:
    """``postprocess``: a :class:`PostProcessConfig` replaces the model's post-processing, a dict overrides
    some of its keys; ``long_side`` switches to ocdr's rule (the long side becomes it); ``settings``: other
    overrides of :class:`DetectorSettings` keys (``limit_side_len``, ``limit_type``, ...). ``precision``: fp32 |
    bf16, what an ONNX engine computes in (:mod:`ocdr.models.runtime`; auto and bf16-checked: fp32 for a
    detector); ``self.precision`` says what it got."""

    def __init__(self, model="auto", backend: str = "auto", device: str = "auto",
                 postprocess: PostProcessConfig | dict | None = None, long_side: int | None = None,
                 tiled: bool = False, tile_size: int = 640, tile_overlap: int = 128, settings: dict | None = None,
                 tile_batch: int = 8, precision: str = "auto"):
        _check_tiles(tile_size, tile_overlap, tile_batch)
        self._run, base, self.on_torch = _open(model, backend, device, precision)
        self.backend = "torch" if self.on_torch else engine_of(self._run.session)
        self.precision = "fp32" if self.on_torch else precision_of(self._run.session)
        overrides = dict(settings or {})
        if long_side is not None:
            overrides.update(limit_side_len=int(long_side), limit_type="long")
        if isinstance(postprocess, PostProcessConfig):
            base = replace(base, postprocess=postprocess)
        elif postprocess:
            overrides["postprocess"] = dict(postprocess)
        self.settings = merge(base, overrides)
        self.postprocess = self.settings.postprocess
        self.tiled, self.tile_size, self.overlap, self.tile_batch = tiled, tile_size, tile_overlap, tile_batch

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        """The network's input for an RGB image (PyTorch modules take ocdr's ImageNet RGB, see settings)."""
        s = self.settings
        if self.on_torch:
            return normalize_with(image, *IMAGENET_MEAN_STD, "RGB")
        return normalize_with(image, s.mean, s.std, s.channel_order)

    def prob_map(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Probability map and the (height, width) of the image region it covers at its own scale."""
        if self.tiled:
            return self._tiled(image)
        s = self.settings
        resized = resize_limited(image, s.limit_side_len, s.limit_type, s.multiple, s.max_side_len)
        return self._run(self._prepare(resized)[None])[0], resized.shape[:2]

    def _tiled(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        h, w = image.shape[:2]
        t = self.tile_size
        ph, pw = -(-max(h, t) // 32) * 32, -(-max(w, t) // 32) * 32  # a short side becomes one tile
        canvas = np.full((ph, pw, 3), 255, np.uint8)
        canvas[:h, :w] = image
        prob = np.zeros((ph, pw), np.float32)
        corners = [(y, x) for y in tile_starts(ph, t, self.overlap) for x in tile_starts(pw, t, self.overlap)]
        for k in range(0, len(corners), self.tile_batch):
            group = corners[k:k + self.tile_batch]
            out = self._run(np.stack([self._prepare(canvas[y:y + t, x:x + t]) for y, x in group]))
            for (y, x), p in zip(group, out):
                np.maximum(prob[y:y + t, x:x + t], p, out=prob[y:y + t, x:x + t])
        return prob, (h, w)

    def __call__(self, images: list[np.ndarray]) -> list[Detection]:
        results = []
        for image in images:
            prob, (rh, rw) = self.prob_map(image)
            polys, scores = db_postprocess(prob[:rh, :rw], self.postprocess, dest_size=image.shape[:2])
            results.append(Detection(polys, scores, prob[:rh, :rw]))
        return results
