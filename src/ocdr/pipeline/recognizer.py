"""The recognizer predictor: RGB word crops in, (text, confidence) out, on an ONNX engine or PyTorch.

Crops are sorted by aspect ratio and read in batches (PaddleOCR's scheme), so that a batch holds crops of
similar shape; with ``dynamic_width`` a batch is as wide as its widest crop needs. Results come back in the
input order. Backends follow the detector's rules (``backend=auto``): ``.onnx`` files and ``ppocr-v4-rec``
run on an ONNX engine (OpenVINO on a CPU when installed, else ONNX Runtime; the wheel's graph without
importing torch), a checkpoint of an imported PP-OCR model runs its native graph on that engine, other
checkpoints run on PyTorch.

Confidence is the mean probability of the emitted characters, 0 for an empty read, for every backend and head:
:func:`ocdr.models.recognition.decode.read_confidence`. An exported ONNX file carries what decoding needs
in its metadata (character list, inference settings), so it runs without the checkpoint.
"""
from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from ocdr.config.pipeline import LexiconSpec, validate_precision
from ocdr.data.charset import Charset
from ocdr.data.rec_transforms import dynamic_width, to_input, to_input_paddle
from ocdr.errors import ConfigError
from ocdr.models.catalog import ALIASES, is_onnx_path, resolve_model, wheel_model_path
from ocdr.models.recognition.decode import ctc_decode_steps
from ocdr.models.recognition.lexicon import Lexicon, lexicon_decode
from ocdr.models.runtime import (ENGINES, bf16_available, engine_of, graph_session, onnx_backend, precision_of,
                                 streams_of, torch_precision)
from ocdr.models.settings import (
    PPOCR_REC,
    RecognizerSettings,
    merge,
    recognizer_settings_from_json,
    recognizer_settings_of,
)
from ocdr.pipeline.detector import BACKENDS

__all__ = ["RecognizerPredictor"]

log = logging.getLogger(__name__)

IMPORTED = ("ppocr_rec",)

# bf16-checked: a crop is read again in fp32 when the top class's probability at some step of its bf16
# reading (blank included) is below this. Chosen on 997 ICDAR 2015 train crops: every crop whose bf16
# reading differed from fp32's had such a step, and 27.5 % of the crops had one (docs/benchmarks.md)
RECHECK_BELOW = 0.6


NO_STEP_PROBS = ("lexicon decoding needs the class probabilities of every step, which ocdr's .onnx exports do "
                 "not give: read the checkpoint (.pth) instead")


class _OrtRecognizer:
    """ocdr exports give per-step ``output_id``/``output_prob``; a PaddleOCR graph gives the class
    probabilities per step, reduced here."""

    def __init__(self, session, ocdr_outputs: bool):
        self.session, self.ocdr_outputs = session, ocdr_outputs
        self.input = "images" if ocdr_outputs or not hasattr(session, "get_inputs") else session.get_inputs()[0].name

    def probs(self, batch: np.ndarray) -> np.ndarray:
        """The class probabilities per step, (B, T, C): PaddleOCR graphs only (ocdr exports give the best class)."""
        if self.ocdr_outputs:
            raise ConfigError(NO_STEP_PROBS)
        return self.session.run(None, {self.input: batch})[0]

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.ocdr_outputs:
            ids, probs = self.session.run(["output_id", "output_prob"], {self.input: batch})
            return ids, probs
        probs = self.probs(batch)
        return probs.argmax(-1), probs.max(-1)


class _TorchRecognizer:
    def __init__(self, model):
        import torch  # deferred: ONNX Runtime inference never imports torch

        self.torch, self.model = torch, model.eval()
        self.device = next(model.parameters()).device

    def probs(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(batch).to(self.device))["probs"].float().cpu().numpy()

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = self.probs(batch)
        return probs.argmax(-1), probs.max(-1)


def _from_session(session, name) -> tuple[_OrtRecognizer, RecognizerSettings, Charset]:
    meta = session.get_modelmeta().custom_metadata_map
    if "ocdr_charset" in meta:
        charset = Charset(json.loads(meta["ocdr_charset"]), **json.loads(meta["ocdr_codec"]))
        if "ocdr_inference" in meta:
            settings = recognizer_settings_from_json(meta["ocdr_inference"])
        else:  # exports older than the inference settings
            settings = recognizer_settings_of({"spec": {"model": _geometry_as_spec(json.loads(meta["ocdr_input"]))}})
        return _OrtRecognizer(session, True), settings, charset
    if "character" in meta:  # a PaddleOCR graph: its classes are blank, the metadata's characters, the space
        return _OrtRecognizer(session, False), replace(PPOCR_REC), Charset(meta["character"].splitlines() + [" "])
    raise ConfigError(f"{name}: not an ocdr recognizer export (no ocdr_charset metadata)")


def _geometry_as_spec(g: dict) -> dict:
    return {"input_height": g["height"], "input_width": g["width"], "input_channel": g["channels"],
            "keep_aspect_ratio": g.get("keep_aspect_ratio", False), "pad": g.get("pad", "edge"),
            "prediction": g.get("prediction", "CTC")}


def _session(source, backend: str, precision: str):
    """The recognizer's graph session: parallel, as a call reads its batches side by side (see __call__)."""
    return graph_session(source, backend, parallel=True, precision=precision)


def _open(model, backend: str, device: str, precision: str = "fp32"):
    """(runner, settings, charset, torch?) for a model source and a backend choice; ``precision``: the ONNX
    engine's."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend '{backend}' is not one of {', '.join(BACKENDS)}")
    validate_precision(precision)
    precision = "bf16" if precision == "bf16" else "fp32"  # auto and bf16-checked: the predictor adds a bf16 reader
    if hasattr(model, "run"):  # a session-like object with run() and get_modelmeta() (Triton's BLS in model.py)
        return (*_from_session(model, type(model).__name__), False)
    model = resolve_model("recognizer", model)
    if is_onnx_path(model):
        return (*_from_session(_session(model, onnx_backend(backend), precision), model), False)
    if model in ALIASES and backend != "torch":
        return (*_from_session(_session(wheel_model_path(ALIASES[model][0]), backend, precision), model), False)
    from ocdr.models.loading import load_recognizer, resolve_device  # deferred: torch, for checkpoints only

    net, record, charset = load_recognizer(model, device if backend == "torch" else "cpu")
    settings = recognizer_settings_of(record)
    if record["model"]["name"] in IMPORTED and backend != "torch":
        from ocdr.models.imported.ppocr import native_graph  # deferred: torch and onnx, only for a PP-OCR checkpoint

        graph = native_graph(net, record["model"]["kwargs"].get("graph", "")).SerializeToString()
        return _OrtRecognizer(_session(graph, backend, precision), False), settings, charset, False
    if backend in ENGINES:
        raise ConfigError(f"{model}: backend={backend} needs an exported .onnx model (run 'ocdr ocrnet export' "
                          "first, or use backend=torch)")
    if record["model"]["name"] in IMPORTED:  # the PyTorch module takes RGB and converts inside
        settings = replace(settings, channel_order="RGB")
    torch_precision(model, precision)
    return _TorchRecognizer(net.to(resolve_device(device))), settings, charset, True


class RecognizerPredictor:
    """``settings``: overrides of :class:`RecognizerSettings` keys (e.g. ``{"width": 160}``). ``precision``:
    what an ONNX engine computes in (:mod:`ocdr.models.runtime`): fp32, bf16, or bf16-checked: every crop is
    read in bf16, and a crop with a step whose top class has a probability below ``recheck_below`` is read
    again in fp32, whose reading is kept (fp32's readings at most of bf16's speed: bf16 changes a reading
    only where two classes are close); or auto (the default): bf16-checked on OpenVINO where the CPU has bf16
    instructions, else fp32. ``self.precision`` says what it got. ``lexicon``: a word-list file or a list of
    words; a reading within ``lexicon_max_edits`` of a word becomes that word when the network finds it about
    as likely (:mod:`ocdr.models.recognition.lexicon`; CTC models that give the class probabilities:
    checkpoints and PaddleOCR graphs)."""

    def __init__(self, model="auto", backend: str = "auto", device: str = "auto", batch_size: int | None = None,
                 settings: dict | None = None, precision: str = "auto", lexicon=None, lexicon_max_edits: int = 2,
                 lexicon_bonus: float = 2.0, recheck_below: float = RECHECK_BELOW):
        self._run, base, self.charset, self.on_torch = _open(model, backend, device, precision)
        self.backend = "torch" if self.on_torch else engine_of(self._run.session)
        self.precision = "fp32" if self.on_torch else precision_of(self._run.session)
        self.recheck_below = recheck_below
        self._fast = self._bf16_reader(model, backend, device, precision)
        self.settings = merge(base, settings)
        # None: what the model records (ocdr's trained models: their training batch size), else 6 crops per
        # call on a CPU (PaddleOCR's rec_batch_num; larger batches of 320-wide crops are slower there, measured
        # in docs/benchmarks.md) and 64 on a GPU
        self.batch_size = batch_size or self.settings.batch_size or (64 if self._on_gpu() else 6)
        if self.settings.prediction != "CTC" and not self.on_torch:
            raise ConfigError("attention recognizers run on PyTorch only (backend=torch)")
        # an engine with several streams (OpenVINO on a CPU) reads that many batches at once
        self.streams = 1 if self.on_torch else streams_of(self._run.session)
        if self._fast is not None:
            self.precision = "bf16-checked"
        self._pool = ThreadPoolExecutor(self.streams, "ocdr-rec") if self.streams > 1 else None
        self.lexicon_max_edits, self.lexicon_bonus = lexicon_max_edits, lexicon_bonus
        self.lexicon = self._lexicon(lexicon)

    def _bf16_reader(self, model, backend: str, device: str, precision: str):
        """The bf16 reader of bf16-checked (None when the model reads only in ``self.precision``)."""
        if precision not in ("auto", "bf16-checked"):
            return None
        if self.on_torch or self.backend != "openvino" or not bf16_available():
            if precision == "bf16-checked":
                log.warning("precision=bf16-checked: the recognizer runs on %s without bf16; it reads in fp32",
                            self.backend)
            return None
        return _open(model, backend, device, "bf16")[0]

    def _lexicon(self, lexicon) -> Lexicon | None:
        if lexicon is None:
            return None
        LexiconSpec(max_edits=self.lexicon_max_edits, bonus=self.lexicon_bonus).validate()
        if self.settings.prediction != "CTC":
            raise ConfigError("lexicon decoding is for CTC recognizers")
        if not self.on_torch and self._run.ocdr_outputs:  # fail at load time, not on the first crop
            raise ConfigError(NO_STEP_PROBS)
        if isinstance(lexicon, Lexicon):
            return lexicon
        if isinstance(lexicon, (str, Path)):
            return Lexicon.from_file(lexicon, self.charset)
        return Lexicon(lexicon, self.charset)

    def _on_gpu(self) -> bool:
        if self.on_torch:
            return self._run.device.type == "cuda"
        providers = getattr(self._run.session, "get_providers", lambda: [])()
        return bool(providers) and providers[0] == "CUDAExecutionProvider"

    @property
    def geometry(self) -> dict:
        s = self.settings
        return {"height": s.height, "width": s.width, "channels": s.channels, "keep_aspect_ratio": s.keep_aspect_ratio,
                "pad": s.pad, "prediction": s.prediction}

    def batch_width(self, crops: list[np.ndarray]) -> int:
        """The width a batch of these crops is read at: the model's, or with a dynamic width PaddleOCR's (the
        widest crop's), rounded up to a rung of the settings' ``width_ladder`` when it has one."""
        s = self.settings
        if not s.dynamic_width:
            return s.width
        return dynamic_width(crops, s.height, s.width, s.max_width, s.width_multiple, s.width_ladder)

    def preprocess(self, crops: list[np.ndarray], width: int | None = None) -> np.ndarray:
        """The model's input for a batch, read at ``width`` (default: :meth:`batch_width`)."""
        s = self.settings
        width = width or self.batch_width(crops)
        if s.dynamic_width:
            if s.channels == 3 and s.pad == "zero":  # PaddleOCR's resize and normalisation
                # PyTorch modules take RGB (they convert inside); ONNX graphs take their own channel order
                order = "RGB" if self.on_torch else s.channel_order
                return np.stack([to_input_paddle(c, s.height, width, order, s.mean, s.std) for c in crops])
        keep = s.keep_aspect_ratio or s.dynamic_width
        batch = np.stack([to_input(c, s.height, width, s.channels, keep, s.pad) for c in crops])
        if not self.on_torch and s.channel_order == "BGR" and s.channels == 3:
            batch = batch[:, ::-1].copy()
        return batch

    def _read(self, batch: np.ndarray, run) -> tuple[list[tuple[str, float]], np.ndarray]:
        """The readings of a batch, and per crop the lowest top-class probability over its steps (how close
        its least certain step came to another class: what bf16-checked tests)."""
        if self.settings.prediction != "CTC":
            from ocdr.models.recognition.heads import decode_batch  # deferred: torch; attention runs on PyTorch only

            readings = decode_batch({"probs": _as_tensor(run.probs(batch))}, self.charset, self.settings.prediction)
            return [(t, c) for t, c in readings], np.ones(len(batch))
        if self.lexicon is None:
            ids, probs = run(batch)
            return ctc_decode_steps(ids, probs, self.charset), probs.min(-1)
        full = run.probs(batch)
        top = full.max(-1)
        greedy = ctc_decode_steps(full.argmax(-1), top, self.charset)
        return [lexicon_decode(p, text, conf, self.lexicon, self.charset, self.lexicon_max_edits, self.lexicon_bonus)
                for p, (text, conf) in zip(full, greedy)], top.min(-1)

    def batches(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Index groups of crops read together: sorted by aspect ratio, at most ``batch_size`` (and with
        several streams, few enough per batch that every stream gets one); with a dynamic width a batch also
        ends where a crop would need more than ``max_width_spread`` times the width of the batch's first
        (PaddleOCR's graphs: 1.1), so no crop is padded far beyond what the model was trained with (padding
        changes what the model reads)."""
        ratios = np.array([c.shape[1] / max(c.shape[0], 1) for c in crops], np.float64)
        order = np.argsort(ratios, kind="stable")
        s = self.settings
        need = np.maximum(s.width, np.minimum(s.height * ratios, s.max_width))
        size = min(self.batch_size, max(1, math.ceil(len(crops) / self.streams)))
        groups, start = [], 0
        for i in range(1, len(order) + 1):
            if i == len(order) or i - start >= size or (
                    s.dynamic_width and s.max_width_spread and need[order[i]] > s.max_width_spread * need[order[start]]):
                groups.append(order[start:i])
                start = i
        return groups

    def plan(self, crops: list[np.ndarray]) -> list[tuple[np.ndarray, int]]:
        """The batches of a read: the index groups of :meth:`batches`, each with its :meth:`batch_width`."""
        return [(idx, self.batch_width([crops[k] for k in idx])) for idx in self.batches(crops)]

    def __call__(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """One (text, confidence) per crop, in the input order."""
        plan = self.plan(crops)
        if self._fast is None:
            return self._read_plan(crops, plan, self._run)[0]
        results, least = self._read_plan(crops, plan, self._fast)
        again = self._recheck_plan(plan, least < self.recheck_below)
        if again:
            second, _ = self._read_plan(crops, again, self._run)
            for k in np.concatenate([idx for idx, _width in again]):
                results[k] = second[k]
        return results

    def unsure(self, crops: list[np.ndarray]) -> np.ndarray:
        """Which crops bf16-checked reads again in fp32 (a boolean per crop; none without a bf16 reader)."""
        if self._fast is None:
            return np.zeros(len(crops), bool)
        return self._read_plan(crops, self.plan(crops), self._fast)[1] < self.recheck_below

    def _recheck_plan(self, plan: list[tuple[np.ndarray, int]], unsure: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """Batches of the unsure crops, each crop read at the width of its batch in ``plan``: padding changes
        what the model reads, so a crop read again in fp32 must be padded as a full fp32 read pads it, or its
        second reading is not fp32's (seen on FUNSD: one word of 2,049). Crops of equal width share a batch."""
        by_width: dict[int, list[int]] = {}
        for idx, width in plan:
            by_width.setdefault(width, []).extend(int(k) for k in idx if unsure[k])
        total = sum(len(ks) for ks in by_width.values())
        size = min(self.batch_size, max(1, math.ceil(total / self.streams)))
        return [(np.array(ks[i:i + size]), width) for width, ks in by_width.items() for i in range(0, len(ks), size)]

    def _read_plan(self, crops: list[np.ndarray], plan: list[tuple[np.ndarray, int]],
                   run) -> tuple[list[tuple[str, float]], np.ndarray]:
        """Readings and least top-class probabilities, indexed as ``crops``, of the crops ``plan`` names (the
        others keep ("", 0.0) and 1.0)."""
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        least = np.ones(len(crops))
        read = lambda job: self._read(self.preprocess([crops[k] for k in job[0]], job[1]), run)
        # the engine releases the GIL while it runs, so the streams' threads overlap there
        reads = self._pool.map(read, plan) if self._pool and len(plan) > 1 else map(read, plan)
        for (idx, _width), (batch, batch_least) in zip(plan, reads):
            least[idx] = batch_least
            for j, res in zip(idx, batch):
                results[j] = res
        return results, least


def _as_tensor(arr: np.ndarray):
    import torch  # deferred: only attention models on PyTorch get here

    return torch.from_numpy(arr)
