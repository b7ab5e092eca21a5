"""``ocdr ocdnet export`` / ``ocdr ocrnet export``: write the ONNX file, verify it against PyTorch."""
from __future__ import annotations

from ocdr.export.onnx_export import export_checked

__all__ = ["export_detector_command", "export_recognizer_command"]


def export_detector_command(spec) -> dict:
    """``ocdr ocdnet export``: the ONNX file with the model's settings, checked against PyTorch (export.verify);
    the ``postprocess.*`` keys given, and ``export.long_side``, replace the checkpoint's in the file's settings."""
    return export_checked("detector", spec.export.checkpoint, spec.export.onnx_file, spec.export.opset, spec.export.verify,
                          postprocess=spec.postprocess.given(), long_side=spec.export.long_side)


def export_recognizer_command(spec) -> dict:
    """``ocdr ocrnet export``: the same for a (CTC) recognizer."""
    return export_checked("recognizer", spec.export.checkpoint, spec.export.onnx_file, spec.export.opset,
                          spec.export.verify)
