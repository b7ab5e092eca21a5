"""ONNX Runtime sessions, created once per process and shared by every predictor (no torch here).

A session is keyed by its file (path, size, modification time) or by the bytes of an in-memory graph (a
fine-tuned PP-OCR model's native graph), so building two ``ocdr.OCR`` objects, or the service's workers,
never loads the same graph twice. CUDA is used when ONNX Runtime has it, the CPU otherwise.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from ocdr.errors import ConfigError, DataError

__all__ = ["onnxruntime_session", "clear_sessions"]

_SESSIONS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def _key(source, threads: int) -> tuple:
    if isinstance(source, (bytes, bytearray)):
        return ("bytes", hashlib.sha1(source).hexdigest(), threads)
    path = Path(source)
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, threads)


def _create(source, threads: int):
    import onnxruntime as ort  # deferred: the data commands never need it

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    preferred = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else str(source)
    return ort.InferenceSession(data, opts, providers=preferred or None)


def onnxruntime_session(source: str | Path | bytes, threads: int = 0):
    """The process's session for an ``.onnx`` file or serialized graph bytes; a clear error for a missing,
    non-ONNX or unloadable file."""
    if not isinstance(source, (bytes, bytearray)):
        path = Path(source)
        if path.suffix.lower() != ".onnx":
            raise ConfigError(f"{path}: ONNX Runtime needs an exported .onnx model (run 'ocdr ocdnet export' or "
                              "'ocdr ocrnet export' first, or use backend=torch)")
        if not path.is_file():
            raise DataError(path, "ONNX model not found")
    key = _key(source, threads)
    with _LOCK:
        if key not in _SESSIONS:
            try:
                _SESSIONS[key] = _create(source, threads)
            except Exception as exc:  # onnxruntime raises its own types: bad protobuf, unsupported op, ...
                where = "<in-memory graph>" if isinstance(source, (bytes, bytearray)) else source
                raise DataError(where, f"ONNX Runtime cannot load this model: {str(exc).splitlines()[0][:300]}") from None
        return _SESSIONS[key]


def clear_sessions() -> None:
    with _LOCK:
        _SESSIONS.clear()
