"""``ocdr.OCR``: image -> detect -> rectify -> recognize, on PyTorch, OpenVINO or ONNX Runtime.

    ocr = OCR()                                                     # PP-OCRv4, each model with its own settings
    ocr = OCR(detector="det.pth", recognizer="rec.pth")          # your models: .pth, .onnx, or "auto"
    page = ocr("photo.jpg")                                         # paths, arrays, PIL images, bytes
    print(page.text); page.to_dict()                                # words with polygons, lines in reading order

Crops from every image of a call are recognised together, in batches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ocdr.config.pipeline import PipelineModelsSpec
from ocdr.data.images import decode_image, read_image, to_rgb8
from ocdr.errors import DataError
from ocdr.models.catalog import resolve_model
from ocdr.models.detection.postprocess import PostProcessConfig
from ocdr.pipeline.detector import DetectorPredictor
from ocdr.pipeline.recognizer import RecognizerPredictor
from ocdr.rectify import RectifyConfig, rectify_batch, rotate180

__all__ = ["OCR", "Word", "Line", "Page", "group_lines", "to_image", "build_ocr"]


@dataclass
class Word:
    polygon: np.ndarray
    text: str
    confidence: float
    detection_score: float = 0.0

    def to_dict(self) -> dict:
        return {"polygon": np.round(self.polygon, 1).tolist(), "text": self.text,
                "confidence": round(float(self.confidence), 4), "detection_score": round(float(self.detection_score), 4)}


@dataclass
class Line:
    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class Page:
    width: int
    height: int
    words: list[Word] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict:
        index = {id(w): i for i, w in enumerate(self.words)}
        return {"width": self.width, "height": self.height, "words": [w.to_dict() for w in self.words],
                "lines": [{"text": ln.text, "words": [index[id(w)] for w in ln.words]} for ln in self.lines],
                "text": self.text}


def to_image(item, max_pixels: int | None = None) -> np.ndarray:
    """A path, encoded bytes, a PIL image or an array (H, W[, 3|4]) -> RGB uint8. Paths and bytes larger than
    ``max_pixels`` (null: ``$OCDR_MAX_PIXELS`` or 100 million) are refused before decoding."""
    if isinstance(item, (str, Path)):
        return read_image(item, max_pixels)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return decode_image(bytes(item), max_pixels=max_pixels)
    if isinstance(item, np.ndarray):
        arr = item
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise DataError(None, f"an image array must be H x W, H x W x 3 or H x W x 4, got {arr.shape}")
        return np.ascontiguousarray(arr[:, :, :3].astype(np.uint8))
    try:

        if isinstance(item, Image.Image):
            return to_rgb8(item)
    except ImportError:  # pragma: no cover
        pass
    raise DataError(None, f"cannot read an image from a {type(item).__name__}")


def group_lines(words: list[Word]) -> list[Line]:
    """Reading order: words whose vertical extents overlap by half the smaller height share a line;
    lines go top to bottom, words left to right."""
    lines: list[tuple[float, float, list[Word]]] = []
    for w in sorted(words, key=lambda w: float(w.polygon[:, 1].mean())):
        y0, y1 = float(w.polygon[:, 1].min()), float(w.polygon[:, 1].max())
        for i, (ly0, ly1, members) in enumerate(lines):
            overlap = min(y1, ly1) - max(y0, ly0)
            if overlap > 0.5 * min(y1 - y0, ly1 - ly0):
                members.append(w)
                lines[i] = (min(ly0, y0), max(ly1, y1), members)
                break
        else:
            lines.append((y0, y1, [w]))
    lines.sort(key=lambda t: t[0])
    return [Line(sorted(m, key=lambda w: float(w.polygon[:, 0].min()))) for _, _, m in lines]


class OCR:
    """detect -> rectify -> recognize. With no arguments: the default models (``auto``: PP-OCRv4 from the
    installed ``rapidocr-onnxruntime`` wheel, on OpenVINO on a CPU or ONNX Runtime on CUDA, else the demo's
    models, else a clear error).

    Each model runs with the inference settings it carries; ``long_side``, ``postprocess`` (a config, or a
    dict of keys), ``det_settings``/``rec_settings`` (dicts of :mod:`ocdr.models.settings` keys) and
    ``min_confidence`` override single keys. ``backend``: auto | torch | onnxruntime | openvino (see the predictors);
    ``precision``: auto | fp32 | bf16 | bf16-checked, what the ONNX engines compute in (bf16: OpenVINO, see
    :mod:`ocdr.models.runtime`; auto and bf16-checked: see :class:`RecognizerPredictor`).
    ``lexicon`` (a word-list file or a list of words), ``lexicon_max_edits``, ``lexicon_bonus``: lexicon
    decoding of the recognizer (see :class:`RecognizerPredictor`).
    ``max_pixels``: the largest image file or bytes read (null: ``$OCDR_MAX_PIXELS``, else 100 million)."""

    def __init__(self, detector="auto", recognizer="auto", backend: str = "auto", device: str = "auto",
                 postprocess: PostProcessConfig | dict | None = None, long_side: int | None = None,
                 tiled: bool = False, upside_down: bool = False, batch_size: int | None = None,
                 min_confidence: float | None = None, det_settings: dict | None = None,
                 rec_settings: dict | None = None, max_pixels: int | None = None, precision: str = "auto",
                 lexicon=None, lexicon_max_edits: int = 2, lexicon_bonus: float = 2.0):
        self.detector = DetectorPredictor(detector, backend, device, postprocess, long_side, tiled,
                                          settings=det_settings, precision=precision)
        self.recognizer = RecognizerPredictor(recognizer, backend, device, batch_size, settings=rec_settings,
                                              precision=precision, lexicon=lexicon,
                                              lexicon_max_edits=lexicon_max_edits, lexicon_bonus=lexicon_bonus)
        self.rectify_cfg = RectifyConfig(height=self.recognizer.settings.height)
        self.upside_down = upside_down
        self.max_pixels = max_pixels
        self.min_confidence = self.recognizer.settings.min_confidence if min_confidence is None else min_confidence

    def _read(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        results = self.recognizer(crops)
        if self.upside_down and crops:
            flipped = self.recognizer([rotate180(c) for c in crops])
            results = [b if b[1] > a[1] else a for a, b in zip(results, flipped)]
        return results

    def __call__(self, inputs) -> Page | list[Page]:
        """A path, bytes, PIL image or array -> a :class:`Page`; a list of them -> a list of pages. Crops of
        every image of the call are recognised together."""
        single = not isinstance(inputs, (list, tuple))
        images = [to_image(x, self.max_pixels) for x in ([inputs] if single else inputs)]
        detections = self.detector(images)
        crops, where, _ = rectify_batch(images, [d.polygons for d in detections], self.rectify_cfg)
        readings = self._read(crops)
        pages = [Page(width=im.shape[1], height=im.shape[0]) for im in images]
        for (i, j), (text, conf) in zip(where, readings):
            if text and conf >= self.min_confidence:
                pages[i].words.append(Word(detections[i].polygons[j], text, conf, detections[i].scores[j]))
        for page in pages:
            page.lines = group_lines(page.words)
            order = {id(w): k for k, w in enumerate(w for ln in page.lines for w in ln.words)}
            page.words.sort(key=lambda w: order[id(w)])
        return pages[0] if single else pages


def build_ocr(spec: PipelineModelsSpec) -> OCR:
    """The pipeline a spec describes (``ocdr pipeline inference``, ``ocdr serve``); ``auto`` models resolved."""
    spec.detector = resolve_model("detector", spec.detector)
    spec.recognizer = resolve_model("recognizer", spec.recognizer)
    return OCR(detector=spec.detector, recognizer=spec.recognizer, backend=spec.backend, device=spec.device,
               precision=spec.precision, postprocess=spec.postprocess.given(), tiled=spec.tiled,
               upside_down=spec.upside_down, batch_size=spec.rec_batch_size, min_confidence=spec.min_confidence,
               det_settings=spec.det_overrides(), rec_settings=spec.rec_overrides(), **spec.lexicon.options())
