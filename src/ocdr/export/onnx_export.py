"""ONNX export of the detector with dynamic batch, height and width, checked and atomic.

The deformable convolutions are exported as their ``grid_sample`` decomposition (see
``ocdr.models.backbones.resnet.deform_conv2d_decomposed``), so no TensorRT plugin is needed.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch

from ocdr.errors import OcdrError
from ocdr.fileio import atomic_path
from ocdr.models.loading import input_geometry, load_detector, load_recognizer
from ocdr.models.recognition.heads import head_class
from ocdr.models.runtime import onnxruntime_session
from ocdr.models.settings import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DetectorSettings,
    RecognizerSettings,
    detector_settings_of,
    merge,
    recognizer_settings_of,
    to_json,
)

__all__ = ["export_detector", "export_recognizer", "onnxruntime_session", "max_abs_diff", "recognizer_parity",
           "exported_detector_settings", "export_checked", "PARITY_TOLERANCE"]


def _add_metadata(path: str, meta: dict) -> None:
    proto = onnx.load(path)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def exported_detector_settings(settings: DetectorSettings) -> DetectorSettings:
    """The settings as the exported graph needs them: a PyTorch export takes ocdr's ImageNet RGB input
    whatever graph the module wraps (an imported PP-OCR model converts inside)."""
    return replace(settings, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), channel_order="RGB")


def export_detector(model: torch.nn.Module, path: str | Path, opset: int = 17,
                    sample_hw: tuple[int, int] = (64, 96), settings: DetectorSettings | None = None) -> Path:
    """Write ``model`` (its probability map) to ``path``; input ``images`` N x 3 x H x W, output ``prob``;
    the inference settings ride along as ``ocdr_inference`` metadata."""
    net = copy.deepcopy(model).cpu().eval()
    net.exportable = True
    sample = torch.randn(1, 3, *sample_hw)
    with atomic_path(path) as tmp:
        with torch.no_grad():
            torch.onnx.export(net, (sample,), tmp, input_names=["images"], output_names=["prob"],
                              dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                                            "prob": {0: "batch", 2: "height", 3: "width"}},
                              opset_version=opset, dynamo=False)
        _add_metadata(tmp, {"ocdr_inference": to_json(exported_detector_settings(settings or DetectorSettings()))})
        onnx.checker.check_model(onnx.load(tmp), full_check=True)
    return Path(path)


def max_abs_diff(model: torch.nn.Module, session, images: np.ndarray) -> float:
    """Largest |PyTorch - ONNX Runtime| of the probability map on ``images`` (N x 3 x H x W float32)."""
    net = model.eval()
    with torch.no_grad():
        ref = net(torch.from_numpy(images))["prob"].numpy()
    got = session.run(None, {"images": images})[0]
    return float(np.abs(ref - got).max())


def export_recognizer(model: torch.nn.Module, path: str | Path, charset, geometry: dict, opset: int = 17,
                      settings: RecognizerSettings | None = None) -> Path:
    """CTC recognizer -> ONNX: input ``images`` (N x C x H x W), outputs ``output_id`` and ``output_prob``
    (argmax and its probability per time step, TAO OCRNet's outputs). The character list and input
    geometry ride along as metadata, so the file decodes on its own."""
    net = copy.deepcopy(model).cpu().eval()
    net.exportable = True
    sample = torch.randn(2, geometry["channels"], geometry["height"], geometry["width"])
    # dynamic width: read at each batch's own width, as it was trained; the width is an axis of the graph
    dynamic = settings is not None and settings.dynamic_width
    meta = {"ocdr_charset": json.dumps(charset.to_list(), ensure_ascii=False),
            "ocdr_codec": json.dumps({"case_fold": charset.case_fold, "unknown": charset.unknown}),
            "ocdr_input": json.dumps({**geometry, "dynamic_width": True} if dynamic else geometry),
            "character": "\n".join(charset.to_list())}
    if settings is not None:  # a PyTorch export takes RGB
        meta["ocdr_inference"] = to_json(replace(settings, channel_order="RGB") if dynamic else
                                         replace(settings, channel_order="RGB", dynamic_width=False))
    axes = {0: "batch", 3: "width"} if dynamic else {0: "batch"}
    out_axes = {0: "batch", 1: "steps"} if dynamic else {0: "batch"}
    with atomic_path(path) as tmp:
        with torch.no_grad():
            torch.onnx.export(net, (sample,), tmp, input_names=["images"], output_names=["output_id", "output_prob"],
                              dynamic_axes={"images": axes, "output_id": out_axes, "output_prob": out_axes},
                              opset_version=opset, dynamo=False)
        _add_metadata(tmp, meta)
        onnx.checker.check_model(onnx.load(tmp), full_check=True)
    return Path(path)


def recognizer_parity(model: torch.nn.Module, session, images: np.ndarray) -> tuple[float, bool]:
    """(max |prob difference|, ids equal) between PyTorch's exportable outputs and ONNX Runtime."""
    net = copy.deepcopy(model).cpu().eval()
    net.exportable = True
    with torch.no_grad():
        ids, probs = net(torch.from_numpy(images))
    got_ids, got_probs = session.run(["output_id", "output_prob"], {"images": images})
    return float(np.abs(probs.numpy() - got_probs).max()), bool((ids.numpy() == got_ids).all())


PARITY_TOLERANCE = 1e-4


def export_checked(kind: str, checkpoint: str | Path, path: str | Path, opset: int = 17, verify: bool = True,
                   postprocess: dict | None = None, long_side: int | None = None) -> dict:
    """Load a detector or recognizer (file or pretrained name), export it with its inference settings and, with
    ``verify``, check ONNX Runtime against PyTorch on a random input: the one parity check of every export.
    ``postprocess``: detector post-processing keys that replace the checkpoint's in the export's settings
    (e.g. a setting chosen on validation images), the others kept; ``long_side``: the detector's input
    rule becomes ocdr's long side of that many pixels."""
    rng = np.random.default_rng(0)
    if kind == "detector":
        model, record = load_detector(checkpoint, "cpu")
        overrides = {"postprocess": postprocess or None}
        if long_side is not None:
            overrides.update(limit_side_len=int(long_side), limit_type="long")
        settings = merge(detector_settings_of(record), overrides)
        out = export_detector(model, path, opset, settings=settings)
        result = {"onnx_file": str(out), "opset": opset, "model": record["model"]["name"],
                  "long_side": settings.limit_side_len if settings.limit_type == "long" else None,
                  "postprocess": dataclasses.asdict(settings.postprocess)}
        if verify:
            images = rng.standard_normal((1, 3, 96, 128)).astype(np.float32)
            result["max_abs_diff"] = max_abs_diff(model, onnxruntime_session(out), images)
            if result["max_abs_diff"] > PARITY_TOLERANCE:
                raise OcdrError(f"exported detector differs from PyTorch by {result['max_abs_diff']:.2e} "
                                f"(> {PARITY_TOLERANCE:g})")
        return result
    model, record, charset = load_recognizer(checkpoint, "cpu")
    geometry = input_geometry(record)
    if not head_class(geometry["prediction"]).exportable:
        raise OcdrError(f"export: a {geometry['prediction']} head does not export to ONNX (CTC heads do)")
    settings = recognizer_settings_of(record)
    out = export_recognizer(model, path, charset, geometry, opset, settings=settings)
    result = {"onnx_file": str(out), "opset": opset, "model": record["model"]["name"], "characters": len(charset)}
    if verify:
        # a dynamic-width graph is also checked at a narrower width than it was traced at
        widths = sorted({geometry["width"], settings.width + 8}) if settings.dynamic_width else [geometry["width"]]
        session, diff, same_ids = onnxruntime_session(out), 0.0, True
        for width in widths:
            images = rng.uniform(-1, 1, (4, geometry["channels"], geometry["height"], width)).astype(np.float32)
            d, same = recognizer_parity(model, session, images)
            diff, same_ids = max(diff, d), same_ids and same
        result.update(max_abs_diff=diff, ids_equal=same_ids)
        if diff > PARITY_TOLERANCE or not same_ids:
            raise OcdrError(f"exported recognizer differs from PyTorch (max diff {diff:.2e}, ids equal: {same_ids})")
    return result
