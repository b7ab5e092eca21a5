"""Inference sessions for ONNX graphs, created once per process and shared by every predictor (no torch here).

Two engines run the graphs: ONNX Runtime and OpenVINO. :func:`graph_session` picks one by ``backend``:

- ``onnxruntime``: ONNX Runtime, on CUDA when it has it, on the CPU otherwise;
- ``openvino``: OpenVINO on the CPU (about 1.3x ONNX Runtime's speed end to end on this project's 2-core
  CPU, same outputs: ``docs/benchmarks.md``);
- ``auto``: ONNX Runtime when it has CUDA, else OpenVINO when it is installed and loads the graph, else
  ONNX Runtime.

``precision``: ``fp32`` (on every engine) or ``bf16``: OpenVINO computes in bfloat16 where the
CPU has bf16 instructions (AVX512-BF16, AMX), about 1.9x the recognizer's crops/s and 1.6x the images/s end
to end on this project's CPU, at a small cost in accuracy (``docs/benchmarks.md``). ONNX Runtime has no bf16 on a
CPU, so asking it for bf16 is an error, and ``auto`` with bf16 means OpenVINO (with no fallback to ONNX
Runtime for a graph OpenVINO cannot load). A CPU without bf16 computes in fp32 (with a warning);
:func:`precision_of` says what a session computes in. The predictors' ``auto`` and ``bf16-checked`` come
down to these two (``ocdr.pipeline.recognizer.RecognizerPredictor``).

A caller with many batches at once (the recognizer) asks for a ``parallel`` session: on OpenVINO it is
compiled for throughput (the cores split into streams, :func:`streams_of` says how many), and that many
calls from threads run side by side; ONNX Runtime, one call at a time with every core, ignores it.

An OpenVINO session offers the part of ONNX Runtime's session interface the consumers use (``run``,
``get_inputs``, ``get_outputs``, ``get_modelmeta``, ``get_providers``), so nothing above this module tests
which engine it has. A session is keyed by its engine, whether it is parallel, and its file (path, size,
modification time) or the bytes of an in-memory graph (a fine-tuned PP-OCR model's native graph), so
building two ``ocdr.OCR`` objects, or the service's workers, never loads the same graph twice.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.util
import logging
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

from ocdr.config.pipeline import ENGINE_PRECISIONS, PRECISIONS
from ocdr.errors import ConfigError, DataError

__all__ = ["ENGINES", "PRECISIONS", "graph_session", "engine_of", "streams_of", "precision_of", "torch_precision",
           "onnx_backend", "onnxruntime_session", "openvino_available", "bf16_available", "clear_sessions"]

log = logging.getLogger(__name__)

ENGINES = ("onnxruntime", "openvino")
_SESSIONS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def _ort_has_cuda() -> bool:
    import onnxruntime as ort  # deferred: the data commands never need it

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _key(engine: str, source, threads: int, parallel: bool, precision: str) -> tuple:
    if isinstance(source, (bytes, bytearray)):
        return (engine, "bytes", hashlib.sha1(source).hexdigest(), threads, parallel, precision)
    path = Path(source)
    st = path.stat()
    return (engine, str(path.resolve()), st.st_size, st.st_mtime_ns, threads, parallel, precision)


def streams_of(session) -> int:
    """How many calls the session runs at once to advantage (an OpenVINO session compiled for parallel
    calls: its streams; any other: 1)."""
    return getattr(session, "streams", 1)


def precision_of(session) -> str:
    """What the session computes in: ``bf16`` for an OpenVINO session compiled so, else ``fp32``."""
    return getattr(session, "precision", "fp32")


def _create_onnxruntime(source, threads: int, parallel: bool = False, precision: str = "fp32"):
    # ORT: one call at a time is fastest; fp32 only (graph_session refuses bf16 here)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    preferred = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else str(source)
    return ort.InferenceSession(data, opts, providers=preferred or None)


class OpenVinoSession:
    """An OpenVINO compiled model behind ONNX Runtime's session interface. A compiled model may be shared by
    threads but an infer request may not: each call takes an idle request from a pool (a new one only when
    all are busy) and gives it back, so calls from many threads one after another (the service's
    ``asyncio.to_thread``) share one request and its buffers.

    ``parallel``: compile for calls made at once (OpenVINO's THROUGHPUT hint: on 2 cores, 2 streams of one
    thread each), for a caller with many batches to run (the recognizer); ``streams`` says how many.
    ``precision``: fp32 or bf16, as :func:`graph_session` resolved it for this CPU."""

    def __init__(self, source, threads: int, parallel: bool = False, precision: str = "fp32"):
        import openvino as ov  # deferred: only when this engine is chosen

        core = ov.Core()
        model = core.read_model(bytes(source), b"") if isinstance(source, (bytes, bytearray)) else core.read_model(str(source))
        self._metadata = _onnx_metadata(model)
        # LATENCY: one request at a time uses every core, as ONNX Runtime's intra-op threads do. THROUGHPUT:
        # the cores split into streams; the small convolutions of a recognizer keep one core busy better than
        # two, so two batches at once read about 1.2x the crops (docs/benchmarks.md)
        self.precision = precision  # graph_session has made it fp32 where the CPU has no bf16
        # the hint always: on a CPU with bf16 instructions OpenVINO otherwise computes in bf16 by itself, and
        # the reads stop matching ONNX Runtime's (seen here: a recognizer's outputs off by 0.6)
        config = {"PERFORMANCE_HINT": "THROUGHPUT" if parallel else "LATENCY",
                  "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
                  **({"INFERENCE_NUM_THREADS": threads} if threads else {})}
        self._compiled = core.compile_model(model, "CPU", config)
        roomy_signal_stack()
        self.streams = int(self._compiled.get_property("NUM_STREAMS")) if parallel else 1
        self._inputs = [SimpleNamespace(name=p.get_any_name(), shape=list(p.get_partial_shape()))
                        for p in self._compiled.inputs]
        self._outputs = [SimpleNamespace(name=p.get_any_name(), names=p.get_names()) for p in self._compiled.outputs]
        self._idle: list = []
        self._pool_lock = threading.Lock()

    def run(self, output_names, feeds: dict) -> list:
        with self._pool_lock:
            request = self._idle.pop() if self._idle else self._compiled.create_infer_request()
        try:
            result = request.infer(feeds)  # copies its outputs: the next call cannot overwrite them
        finally:
            with self._pool_lock:
                self._idle.append(request)
        values = [result[port] for port in self._compiled.outputs]
        if output_names is None:
            return values
        return [values[self._output_index(name)] for name in output_names]

    def _output_index(self, name: str) -> int:
        for i, out in enumerate(self._outputs):
            if name in out.names:
                return i
        raise ConfigError(f"the graph has no output named '{name}' (it has {', '.join(o.name for o in self._outputs)})")

    def get_inputs(self) -> list:
        return self._inputs

    def get_outputs(self) -> list:
        return self._outputs

    def get_modelmeta(self):
        return SimpleNamespace(custom_metadata_map=dict(self._metadata))

    def get_providers(self) -> list[str]:
        return ["OpenVINO:CPU"]


SIGNAL_STACK_BYTES = 1 << 20
_signal_stacks: list = []  # the stacks given, kept alive: a thread's alternate stack must outlive its use
_SS_ONSTACK, _SS_DISABLE = 1, 2


class _StackT(ctypes.Structure):  # the C library's stack_t
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


def signal_stack() -> tuple[int, int] | None:
    """(flags, size) of the calling thread's alternate signal stack; None where it cannot be asked (not
    Linux, or the call failed)."""
    if not sys.platform.startswith("linux"):
        return None
    current = _StackT()
    if ctypes.CDLL(None).sigaltstack(None, ctypes.byref(current)) != 0:
        return None
    return current.ss_flags, current.ss_size


def roomy_signal_stack() -> bool:
    """Give the calling thread an alternate signal stack of ``SIGNAL_STACK_BYTES`` where it has a smaller one;
    True when it did (Linux only; elsewhere nothing).

    OpenVINO's CPU plugin leaves a 20 KB alternate signal stack on the thread that compiles a model. CPython
    installs its handlers to run on that stack, and on a CPU with AVX-512 and AMX the kernel also saves about
    12 KB of register state there per signal. A signal handled afterwards on that thread (SIGCHLD from a
    DataLoader worker or a subprocess) then overflowed it: the process died of SIGSEGV with no traceback,
    in four runs of five of a bf16 session's test followed by evaluations with DataLoader workers (``make
    test``, here and in CI). With a 1 MiB stack, six of six passed."""
    current = signal_stack()
    if current is None:
        return False
    flags, size = current
    if flags & (_SS_DISABLE | _SS_ONSTACK) or size >= SIGNAL_STACK_BYTES:
        return False  # none (the thread's own stack is used: ample) or already roomy, or in use right now
    buffer = ctypes.create_string_buffer(SIGNAL_STACK_BYTES)
    roomy = _StackT(ctypes.cast(buffer, ctypes.c_void_p), 0, SIGNAL_STACK_BYTES)
    if ctypes.CDLL(None).sigaltstack(ctypes.byref(roomy), None) != 0:
        return False
    _signal_stacks.append(buffer)
    return True


def bf16_available() -> bool:
    """Whether OpenVINO is installed and this CPU has bf16 instructions (what ``precision=auto`` asks)."""
    return openvino_available() and _cpu_has_bf16()


@functools.lru_cache(maxsize=1)
def _cpu_has_bf16() -> bool:
    import openvino as ov  # deferred: only when bf16 is asked for

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _onnx_metadata(model) -> dict[str, str]:
    """The ONNX file's metadata_props, which OpenVINO keeps under rt_info['framework']."""
    info = model.get_rt_info()
    if "framework" not in info:
        return {}
    return {k: v.astype(str) for k, v in info["framework"].items()}


_CREATE = {"onnxruntime": _create_onnxruntime, "openvino": OpenVinoSession}


def _check_source(source) -> None:
    if isinstance(source, (bytes, bytearray)):
        return
    path = Path(source)
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"{path}: ONNX Runtime and OpenVINO need an exported .onnx model (run 'ocdr ocdnet export' "
                          "or 'ocdr ocrnet export' first, or use backend=torch)")
    if not path.is_file():
        raise DataError(path, "ONNX model not found")


def _session(engine: str, source, threads: int, parallel: bool, precision: str = "fp32"):
    key = _key(engine, source, threads, parallel and engine == "openvino", precision)
    with _LOCK:
        if key not in _SESSIONS:
            try:
                _SESSIONS[key] = _CREATE[engine](source, threads, parallel, precision)
            except Exception as exc:  # each engine raises its own types: bad protobuf, unsupported op, ...
                where = "<in-memory graph>" if isinstance(source, (bytes, bytearray)) else source
                name = "ONNX Runtime" if engine == "onnxruntime" else "OpenVINO"
                raise DataError(where, f"{name} cannot load this model: {str(exc).splitlines()[0][:300]}") from None
        return _SESSIONS[key]


def graph_session(source: str | Path | bytes, backend: str = "auto", threads: int = 0, parallel: bool = False,
                  precision: str = "fp32"):
    """The process's session for an ``.onnx`` file or serialized graph bytes on the engine ``backend`` names,
    computing in ``precision`` (see the module's docstring); a clear error for a missing, non-ONNX or
    unloadable file. ``parallel``: the caller runs several calls at once (:func:`streams_of` says how many
    pay; ONNX Runtime: one)."""
    _check_source(source)
    if precision not in ENGINE_PRECISIONS:  # the predictors resolve auto and bf16-checked before they get here
        raise ConfigError(f"precision: an engine computes in {' or '.join(ENGINE_PRECISIONS)}, not '{precision}'")
    if precision == "bf16":  # OpenVINO only, so no fallback to ONNX Runtime for a graph it cannot load
        if backend == "onnxruntime" or not openvino_available():
            raise ConfigError("precision=bf16 runs on OpenVINO only (backend=openvino or auto, with the openvino "
                              "package installed); ONNX Runtime computes in fp32")
        backend = "openvino"
        if not _cpu_has_bf16():  # resolved before the session key, so fp32 is compiled once
            log.warning("precision=bf16: this CPU has no bf16 instructions; OpenVINO computes in fp32")
            precision = "fp32"
    if backend == "onnxruntime":
        return _session("onnxruntime", source, threads, parallel)
    if backend == "openvino":
        if not openvino_available():
            raise ConfigError("backend=openvino needs the openvino package (pip install openvino; the version "
                              "ocdr pins is in its pyproject.toml), or use backend=onnxruntime")
        return _session("openvino", source, threads, parallel, precision)
    if backend != "auto":
        raise ConfigError(f"backend '{backend}' is not one of auto, {', '.join(ENGINES)}")
    if not openvino_available() or _ort_has_cuda():
        return _session("onnxruntime", source, threads, parallel)
    try:
        return _session("openvino", source, threads, parallel)
    except DataError as exc:  # a graph OpenVINO cannot read still runs, on ONNX Runtime
        log.warning("%s; using ONNX Runtime", exc)
        return _session("onnxruntime", source, threads, parallel)


def torch_precision(model, precision: str) -> None:
    """A model that runs on PyTorch computes in fp32: a warning when bf16 was asked for (the other model of
    an OCR may still run on OpenVINO in bf16)."""
    if precision not in ("auto", "fp32"):
        log.warning("%s runs on PyTorch, in fp32: precision=%s applies to models on an ONNX engine", model, precision)


def onnx_backend(backend: str) -> str:
    """The engine choice for a ``.onnx`` file under a predictor's ``backend``: PyTorch cannot run one, so
    ``torch`` (naming the engine of the other model of an OCR) means ``auto``."""
    return backend if backend in ENGINES else "auto"


def engine_of(session) -> str:
    """The engine a session runs on (a session-like object from elsewhere, e.g. Triton's, counts as ONNX
    Runtime's interface)."""
    return "openvino" if isinstance(session, OpenVinoSession) else "onnxruntime"


def onnxruntime_session(source: str | Path | bytes, threads: int = 0):
    """The process's ONNX Runtime session (export parity checks, Triton's metadata)."""
    return graph_session(source, "onnxruntime", threads)


def clear_sessions() -> None:
    with _LOCK:
        _SESSIONS.clear()
