"""``ocdr export triton``: a Triton Inference Server model repository for the whole OCR.

    <out>/ocdr_detector/config.pbtxt, 1/model.onnx     ONNX Runtime backend, dynamic batch and image size
    <out>/ocdr_recognizer/config.pbtxt, 1/model.onnx   ONNX Runtime backend, dynamic batch
    <out>/ocdr/config.pbtxt, 1/model.py, 1/ocdr_meta.json, 1/ocdr_lib/ocdr/..., 1/requirements.txt
        Python backend, nvOCDR's interface: encoded image bytes in (``input``), ``output`` (texts),
        ``boxes`` (N x 4 x 2 quadrilaterals), ``scores`` and ``json`` (the whole page as ``ocdr.OCR`` gives it)
        out. It resizes, post-processes and rectifies with ocdr's own code and calls the two ONNX models
        through Triton (BLS), so they batch across requests.

ocdr's code is copied into ``ocdr_lib/`` (the running package, so the repository needs no package index and
runs the code that exported it); ``requirements.txt`` pins the third-party packages that code imports, at
the versions installed here, for an offline ``pip install --no-index`` into the Triton container.
"""
from __future__ import annotations

import json
import shutil
from importlib import metadata
from dataclasses import dataclass, field
from pathlib import Path

from ocdr.config.pipeline import PipelineModelsSpec
from ocdr.errors import ConfigError
from ocdr.fileio import atomic_write_text
from ocdr.models.catalog import is_onnx_path, resolve_model
from ocdr.models.runtime import onnxruntime_session

__all__ = ["TritonSpec", "export_triton", "detector_config", "recognizer_config", "pipeline_config",
           "RUNTIME_DISTRIBUTIONS", "ship_ocdr"]

DET, REC, PIPE = "ocdr_detector", "ocdr_recognizer", "ocdr"
# What model.py imports through ocdr.pipeline, beyond the standard library (the stock Triton container has
# only numpy of these). tests/serve/test_triton.py runs model.py with nothing else importable.
RUNTIME_DISTRIBUTIONS = ("numpy", "opencv-python-headless", "pillow", "pyclipper", "shapely", "omegaconf", "PyYAML")


@dataclass
class TritonSpec(PipelineModelsSpec):
    """The pipeline's keys (models and their setting overrides, used by the repository's ``model.py``; the
    models run on Triton's ONNX Runtime backend, so ``backend``/``device`` do not apply, and ``precision`` other
    than auto or fp32 and ``lexicon.file`` are refused) and the export's own."""
    out: str = field(default="model_repository", metadata={"help": "the model repository folder to write"})
    max_batch_size: int = field(default=8, metadata={"help": "Triton max_batch_size of the two ONNX models"})
    queue_delay_us: int = field(default=2000, metadata={"help": "dynamic batching: longest wait for a fuller batch"})
    instance_kind: str = field(default="KIND_AUTO", metadata={"help": "KIND_AUTO | KIND_GPU | KIND_CPU"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing repository"})

    def validate(self) -> None:
        super().validate()
        # Triton runs the ocdr exports on its ONNX Runtime backend: fp32, and only the best class per step
        if self.precision not in ("auto", "fp32"):
            raise ConfigError(f"precision: Triton's ONNX Runtime backend computes in fp32, not {self.precision}")
        if self.lexicon.file:
            raise ConfigError("lexicon.file: the Triton recognizer is an ocdr export, which gives only the best class "
                              "per step; lexicon decoding needs every class (use ocdr serve)")
        if self.instance_kind not in ("KIND_AUTO", "KIND_GPU", "KIND_CPU"):
            raise ConfigError(f"instance_kind: '{self.instance_kind}' is not one of KIND_AUTO, KIND_GPU, KIND_CPU")
        if self.max_batch_size < 1:
            raise ConfigError("max_batch_size must be >= 1")


def _batching(spec: TritonSpec) -> str:
    return (f"dynamic_batching {{\n  max_queue_delay_microseconds: {spec.queue_delay_us}\n}}\n"
            f"instance_group [\n  {{\n    kind: {spec.instance_kind}\n    count: 1\n  }}\n]\n")


def detector_config(spec: TritonSpec) -> str:
    return (f'name: "{DET}"\nbackend: "onnxruntime"\nmax_batch_size: {spec.max_batch_size}\n'
            'input [\n  {\n    name: "images"\n    data_type: TYPE_FP32\n    dims: [ 3, -1, -1 ]\n  }\n]\n'
            'output [\n  {\n    name: "prob"\n    data_type: TYPE_FP32\n    dims: [ 1, -1, -1 ]\n  }\n]\n'
            + _batching(spec))


def recognizer_config(spec: TritonSpec, geometry: dict) -> str:
    c, h = geometry["channels"], geometry["height"]
    w = -1 if geometry.get("dynamic_width") else geometry["width"]  # a dynamic-width export: any width
    return (f'name: "{REC}"\nbackend: "onnxruntime"\nmax_batch_size: {spec.max_batch_size}\n'
            f'input [\n  {{\n    name: "images"\n    data_type: TYPE_FP32\n    dims: [ {c}, {h}, {w} ]\n  }}\n]\n'
            'output [\n  {\n    name: "output_id"\n    data_type: TYPE_INT64\n    dims: [ -1 ]\n  },\n'
            '  {\n    name: "output_prob"\n    data_type: TYPE_FP32\n    dims: [ -1 ]\n  }\n]\n' + _batching(spec))


def pipeline_config(spec: TritonSpec) -> str:
    return (f'name: "{PIPE}"\nbackend: "python"\nmax_batch_size: 0\n'
            'input [\n  {\n    name: "input"\n    data_type: TYPE_STRING\n    dims: [ 1 ]\n  }\n]\n'
            'output [\n'
            '  {\n    name: "output"\n    data_type: TYPE_STRING\n    dims: [ -1 ]\n  },\n'
            '  {\n    name: "boxes"\n    data_type: TYPE_FP32\n    dims: [ -1, 4, 2 ]\n  },\n'
            '  {\n    name: "scores"\n    data_type: TYPE_FP32\n    dims: [ -1 ]\n  },\n'
            '  {\n    name: "json"\n    data_type: TYPE_STRING\n    dims: [ 1 ]\n  }\n]\n'
            f'instance_group [\n  {{\n    kind: KIND_CPU\n    count: 1\n  }}\n]\n'
            f'parameters {{\n  key: "detector_model"\n  value: {{ string_value: "{DET}" }}\n}}\n'
            f'parameters {{\n  key: "recognizer_model"\n  value: {{ string_value: "{REC}" }}\n}}\n')


def _onnx(what: str, source: str, dest: Path) -> Path:
    """An exported .onnx (copied) or a checkpoint / pretrained name (exported, with parity checked)."""
    from ocdr.export.onnx_export import export_checked  # deferred: torch and onnx only when exporting

    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_onnx_path(source):
        if not Path(source).is_file():
            raise ConfigError(f"{source}: {what} ONNX file not found")
        shutil.copyfile(source, dest)
        return dest
    export_checked(what, source, dest)
    return dest


def ship_ocdr(version_dir: Path) -> Path:
    """Copy the running ocdr package into ``version_dir/ocdr_lib`` and pin its third-party imports beside it."""
    package = Path(__file__).resolve().parents[1]
    lib = version_dir / "ocdr_lib"
    shutil.rmtree(lib, ignore_errors=True)
    shutil.copytree(package, lib / "ocdr", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    pins = [f"{name}=={metadata.version(name)}" for name in RUNTIME_DISTRIBUTIONS]
    atomic_write_text(version_dir / "requirements.txt", "\n".join(pins) + "\n")
    return lib


def export_triton(spec: TritonSpec) -> dict:
    out = Path(spec.out)
    if out.exists() and any(out.iterdir()):
        if not spec.overwrite:
            raise ConfigError(f"{out}: exists and is not empty (overwrite=true replaces it)")
        for name in (DET, REC, PIPE):
            shutil.rmtree(out / name, ignore_errors=True)
    det = _onnx("detector", resolve_model("detector", spec.detector), out / DET / "1" / "model.onnx")
    rec = _onnx("recognizer", resolve_model("recognizer", spec.recognizer), out / REC / "1" / "model.onnx")
    det_meta = onnxruntime_session(det).get_modelmeta().custom_metadata_map
    meta = onnxruntime_session(rec).get_modelmeta().custom_metadata_map
    if "ocdr_charset" not in meta:
        raise ConfigError(f"{spec.recognizer}: not an ocdr recognizer export (no character list inside)")
    geometry = json.loads(meta["ocdr_input"])
    atomic_write_text(out / DET / "config.pbtxt", detector_config(spec))
    atomic_write_text(out / REC / "config.pbtxt", recognizer_config(spec, geometry))
    atomic_write_text(out / PIPE / "config.pbtxt", pipeline_config(spec))
    post = spec.postprocess.given()
    atomic_write_text(out / PIPE / "1" / "ocdr_meta.json", json.dumps({
        "recognizer_metadata": {k: meta[k] for k in ("ocdr_charset", "ocdr_codec", "ocdr_input", "ocdr_inference")
                                if k in meta},
        "detector_metadata": {k: det_meta[k] for k in ("ocdr_inference",) if k in det_meta},
        "postprocess": post, "det_settings": spec.det_overrides(), "rec_settings": spec.rec_overrides(),
        "min_confidence": spec.min_confidence,
        "upside_down": spec.upside_down, "tiled": spec.tiled, "rec_batch_size": spec.rec_batch_size,
        "detector_model": DET, "recognizer_model": REC},
        ensure_ascii=False, indent=1))
    shutil.copyfile(Path(__file__).with_name("triton_model.py"), out / PIPE / "1" / "model.py")
    ship_ocdr(out / PIPE / "1")
    return {"repository": str(out), "models": [DET, REC, PIPE], "detector_onnx": str(det), "recognizer_onnx": str(rec),
            "requirements": str(out / PIPE / "1" / "requirements.txt")}
