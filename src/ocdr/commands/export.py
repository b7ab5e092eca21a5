"""``ocdr ocdnet export`` / ``ocdr ocrnet export``: write the ONNX file, verify it against PyTorch."""
from __future__ import annotations

import numpy as np

from ocdr.errors import OcdrError
from ocdr.export.onnx_export import export_detector, export_recognizer, max_abs_diff, onnxruntime_session, recognizer_parity
from ocdr.models.loading import input_geometry, load_detector, load_recognizer
from ocdr.models.settings import detector_settings_of, recognizer_settings_of

__all__ = ["export_detector_command", "export_recognizer_command"]


def export_detector_command(spec) -> dict:
    """``ocdr ocdnet export``: write the ONNX file and (by default) verify it against PyTorch."""
    model, record = load_detector(spec.export.checkpoint, "cpu")
    path = export_detector(model, spec.export.onnx_file, spec.export.opset, settings=detector_settings_of(record))
    result = {"onnx_file": str(path), "opset": spec.export.opset, "model": record["model"]["name"]}
    if spec.export.verify:
        images = np.random.default_rng(0).standard_normal((1, 3, 96, 128)).astype(np.float32)
        result["max_abs_diff"] = max_abs_diff(model, onnxruntime_session(path), images)
        if result["max_abs_diff"] > 1e-4:
            raise OcdrError(f"exported model differs from PyTorch by {result['max_abs_diff']:.2e} (> 1e-4)")
    return result


def export_recognizer_command(spec) -> dict:
    """``ocdr ocrnet export``."""
    model, record, charset = load_recognizer(spec.export.checkpoint, "cpu")
    geometry = input_geometry(record)
    if geometry["prediction"] != "CTC":
        raise OcdrError("export: only CTC recognizers export to ONNX for now (model.prediction=Attn does not)")
    path = export_recognizer(model, spec.export.onnx_file, charset, geometry, spec.export.opset,
                             settings=recognizer_settings_of(record))
    result = {"onnx_file": str(path), "opset": spec.export.opset, "model": record["model"]["name"],
              "characters": len(charset)}
    if spec.export.verify:
        images = np.random.default_rng(0).uniform(-1, 1, (4, geometry["channels"], geometry["height"],
                                                          geometry["width"])).astype(np.float32)
        diff, same_ids = recognizer_parity(model, onnxruntime_session(path), images)
        result.update(max_abs_diff=diff, ids_equal=same_ids)
        if diff > 1e-4 or not same_ids:
            raise OcdrError(f"exported recognizer differs from PyTorch (max diff {diff:.2e}, ids equal: {same_ids})")
    return result
