"""The Triton model repository: every config.pbtxt parses into Triton's ModelConfig, and the Python-backend
model.py, run in-process against a stand-in for ``triton_python_backend_utils``, reads what ``ocdr.OCR`` reads."""
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

import ocdr
from ocdr.config import load_spec
from ocdr.errors import ConfigError
from ocdr.serve.triton import RUNTIME_DISTRIBUTIONS, TritonSpec, export_triton
from ocdr.models.detection.postprocess import PostProcessConfig

LOOSE = ["postprocess.thresh=0.0", "postprocess.box_thresh=0.0", "postprocess.min_size=1", "long_side=128"]


@pytest.fixture(scope="module")
def repo(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("triton")
    for name in ("det.onnx", "rec.pth"):
        shutil.copy(tiny_models / name, root / name)
    spec = load_spec(TritonSpec, None, [f"detector={root / 'det.onnx'}", f"recognizer={root / 'rec.pth'}",
                                        f"out={root / 'repo'}", *LOOSE])
    export_triton(spec)
    return root


def test_every_config_parses_into_triton_model_config(repo):
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    from google.protobuf import text_format

    configs = {}
    for name in ("ocdr_detector", "ocdr_recognizer", "ocdr"):
        cfg = model_config_pb2.ModelConfig()
        text_format.Parse((repo / "repo" / name / "config.pbtxt").read_text(), cfg)  # raises on any unknown field
        configs[name] = cfg
        assert cfg.name == name
    det, rec, pipe = configs["ocdr_detector"], configs["ocdr_recognizer"], configs["ocdr"]
    assert det.backend == "onnxruntime" and det.max_batch_size == 8 and det.HasField("dynamic_batching")
    assert list(det.input[0].dims) == [3, -1, -1] and det.output[0].name == "prob"
    assert list(rec.input[0].dims) == [1, 32, 100] and [o.name for o in rec.output] == ["output_id", "output_prob"]
    assert pipe.backend == "python" and pipe.input[0].data_type == model_config_pb2.TYPE_STRING
    assert [o.name for o in pipe.output] == ["output", "boxes", "scores", "json"]
    for name in ("ocdr_detector", "ocdr_recognizer"):
        sess = ort.InferenceSession(str(repo / "repo" / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == [configs[name].input[0].name]


def test_refuses_to_overwrite(repo):
    spec = load_spec(TritonSpec, None, [f"detector={repo / 'det.onnx'}", f"recognizer={repo / 'rec.pth'}",
                                        f"out={repo / 'repo'}"])
    with pytest.raises(ConfigError, match="overwrite"):
        export_triton(spec)


def test_refuses_keys_its_onnx_runtime_backend_cannot_honour():
    with pytest.raises(ConfigError, match="^precision: Triton's ONNX Runtime backend computes in fp32, not bf16$"):
        load_spec(TritonSpec, None, ["precision=bf16"])
    with pytest.raises(ConfigError, match="^lexicon.file: the Triton recognizer is an ocdr export"):
        load_spec(TritonSpec, None, ["lexicon.file=words.txt"])


STUB = Path(__file__).with_name("triton_stub")
SRC = Path(ocdr.__file__).resolve().parent.parent  # the checkout's src/ (the venv installs it editable)


def _stub(repository, monkeypatch):
    """The stand-in for triton_python_backend_utils, pointed at ``repository``, as model.py will import it."""
    spec = importlib.util.spec_from_file_location("triton_python_backend_utils",
                                                  STUB / "triton_python_backend_utils.py")
    pb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pb)
    pb.repository = str(repository)
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", pb)
    return pb


def _model(repository, monkeypatch):
    """The repository's model.py, loaded and initialized in this process (ocdr already imported: this one)."""
    pb = _stub(repository, monkeypatch)
    monkeypatch.setattr(sys, "path", list(sys.path))  # model.py puts its ocdr_lib first; undone after the test
    spec = importlib.util.spec_from_file_location("ocdr_triton_model", repository / "ocdr" / "1" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.TritonPythonModel()
    model.initialize({"model_repository": str(repository / "ocdr"), "model_version": "1"})
    return model, pb


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _request(pb, data: bytes):
    return types.SimpleNamespace(inputs=[pb.Tensor("input", np.array([data], dtype=np.object_))])


def test_python_model_reads_what_ocdr_reads(repo, monkeypatch):
    model, pb = _model(repo / "repo", monkeypatch)
    data = _png()
    ok, err = model.execute([_request(pb, data), _request(pb, b"not an image")])
    assert err.has_error() and "image" in err.error().message()
    outputs = {t.name: t.as_numpy() for t in ok.output_tensors}
    reference = ocdr.OCR(repo / "det.onnx", repo / "rec.pth", postprocess=PostProcessConfig(0.0, 0.0, min_size=1),
                         long_side=128)(data)
    assert [t.decode() for t in outputs["output"]] == [w.text for w in reference.words]
    assert len(reference.words) > 0 and outputs["boxes"].shape == (len(reference.words), 4, 2)
    np.testing.assert_allclose(outputs["boxes"], np.stack([w.polygon for w in reference.words]), atol=1.0)
    assert json.loads(outputs["json"][0])["text"] == reference.text


def test_the_recognizer_width_ladder_reaches_the_python_model(tiny_models, tmp_path, monkeypatch):
    spec = load_spec(TritonSpec, None, [f"detector={tiny_models / 'det.onnx'}", f"recognizer={tiny_models / 'rec.pth'}",
                                        f"out={tmp_path / 'repo'}", "rec_width_ladder=0.3", *LOOSE])
    export_triton(spec)
    model, _ = _model(tmp_path / "repo", monkeypatch)
    assert model.ocr.recognizer.settings.width_ladder == 0.3


def test_polygon_output_through_the_python_model(tiny_models, tmp_path, monkeypatch):
    """With postprocess.polygon=true a word has a many-point polygon: ``json`` carries it as ocdr.OCR gives it,
    ``boxes`` stays one N x 4 x 2 quadrilateral per word (the polygon's minimum-area rectangle)."""
    spec = load_spec(TritonSpec, None, [f"detector={tiny_models / 'det.onnx'}",
                                        f"recognizer={tiny_models / 'rec.onnx'}", f"out={tmp_path / 'repo'}",
                                        *LOOSE, "postprocess.polygon=true"])
    export_triton(spec)
    model, pb = _model(tmp_path / "repo", monkeypatch)
    data = _png()
    (response,) = model.execute([_request(pb, data)])
    assert not response.has_error(), response.error().message()
    outputs = {t.name: t.as_numpy() for t in response.output_tensors}
    reference = ocdr.OCR(tiny_models / "det.onnx", tiny_models / "rec.onnx", long_side=128,
                         postprocess=PostProcessConfig(0.0, 0.0, min_size=1, polygon=True))(data)
    words = json.loads(outputs["json"][0])["words"]
    assert any(len(w.polygon) > 4 for w in reference.words)  # the case under test: not quadrilaterals
    assert [w["polygon"] for w in words] == [w.to_dict()["polygon"] for w in reference.words]
    assert outputs["boxes"].shape == (len(reference.words), 4, 2)
    for box, word in zip(outputs["boxes"], reference.words):  # each box encloses its word's polygon
        assert box[:, 0].min() <= word.polygon[:, 0].min() + 1 and box[:, 0].max() >= word.polygon[:, 0].max() - 1
        assert box[:, 1].min() <= word.polygon[:, 1].min() + 1 and box[:, 1].max() >= word.polygon[:, 1].max() - 1


def _allowed_modules(requirements: Path) -> list[str]:
    """Top-level modules of the pinned distributions and of everything they depend on."""
    providers = metadata.packages_distributions()
    todo = [line.split("==")[0] for line in requirements.read_text().split()]
    seen = set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r]
    return sorted(m for m, dists in providers.items() if any(re.sub(r"[-_.]+", "-", d).lower() in seen for d in dists))


# Triton's python stub appends the model's version and model folders to sys.path and imports "<version>.model";
# this does the same in a fresh interpreter that has neither the checkout's src/ nor any module that is not
# in the standard library, the repository, the stand-in or requirements.txt (and what those depend on).
DRIVER = r"""
import importlib, json, sys
repo, stub, src, image, allowed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], set(json.loads(sys.argv[5]))
sys.path = [p for p in sys.path if not p.startswith(src)]
import onnxruntime  # the stand-in's BLS runs the ONNX models: a test tool, imported before the guard


class OnlyPinned:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in allowed or top in sys.modules:
            return None
        raise ModuleNotFoundError(f"model.py imported {top!r}, which is not in requirements.txt", name=top)


sys.meta_path.insert(0, OnlyPinned())
sys.path.append(stub)
import triton_python_backend_utils as pb
pb.repository = repo
sys.path += [repo + "/ocdr/1", repo + "/ocdr"]
model = importlib.import_module("1.model").TritonPythonModel()
model.initialize({"model_repository": repo + "/ocdr", "model_version": "1"})
request = type("R", (), {"inputs": [pb.Tensor("input", __import__("numpy").array([open(image, "rb").read()], dtype=object))]})
(response,) = model.execute([request])
assert not response.has_error(), response.error().message()
out = {t.name: t.as_numpy() for t in response.output_tensors}
print(json.dumps({"ocdr": sys.modules["ocdr"].__file__, "page": json.loads(out["json"][0])}))
"""


def test_repository_runs_without_the_source_tree(repo, tmp_path):
    """A copy of the repository elsewhere runs in an isolated interpreter (-I, no PYTHONPATH, cwd elsewhere),
    with the checkout's src/ off sys.path and only the pinned third-party packages importable: the ocdr that
    answers is the one shipped in the repository."""
    copy = shutil.copytree(repo / "repo", tmp_path / "elsewhere" / "model_repository")
    image = tmp_path / "page.png"
    image.write_bytes(_png())
    allowed = _allowed_modules(copy / "ocdr" / "1" / "requirements.txt") + ["ocdr", "triton_python_backend_utils", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run([sys.executable, "-I", "-c", DRIVER, str(copy), str(STUB), str(SRC), str(image),
                          json.dumps(allowed)], cwd=tmp_path / "elsewhere", env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(answer["ocdr"]).resolve().is_relative_to((copy / "ocdr" / "1" / "ocdr_lib").resolve())
    reference = ocdr.OCR(repo / "det.onnx", repo / "rec.pth", postprocess=PostProcessConfig(0.0, 0.0, min_size=1),
                         long_side=128)(image.read_bytes())
    assert answer["page"]["text"] == reference.text and len(answer["page"]["words"]) == len(reference.words) > 0


def test_requirements_pin_what_is_installed(repo):
    pins = dict(line.split("==") for line in (repo / "repo" / "ocdr" / "1" / "requirements.txt").read_text().split())
    assert pins == {name: metadata.version(name) for name in RUNTIME_DISTRIBUTIONS}
    assert pins["numpy"] == metadata.version("numpy")


def test_client_request_carries_the_bytes():
    pytest.importorskip("tritonclient.grpc")
    from ocdr.serve.triton_client import build_inputs

    (tensor,) = build_inputs(b"\x89PNG...")
    assert tensor.name() == "input" and tensor.datatype() == "BYTES" and tensor.shape() == [1]
    assert b"\x89PNG..." in tensor._get_content()  # serialized with its 4-byte length prefix
