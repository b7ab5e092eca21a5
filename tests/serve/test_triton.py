"""The Triton model repository: every config.pbtxt parses into Triton's ModelConfig, and the Python-backend
model.py, run in-process against a stand-in for ``triton_python_backend_utils``, reads what ``ocdr.OCR`` reads."""
import importlib.util
import io
import json
import shutil
import sys
import types

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

import ocdr
from ocdr.config import load_spec
from ocdr.errors import ConfigError
from ocdr.serve.triton import TritonSpec, export_triton
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


def _fake_pb_utils(repository):
    """The parts of triton_python_backend_utils model.py uses; BLS requests run the repository's ONNX files."""
    pb = types.ModuleType("triton_python_backend_utils")
    sessions = {}

    class Tensor:
        def __init__(self, name, array):
            self.name, self.array = name, np.asarray(array)

        def as_numpy(self):
            return self.array

    class TritonError:
        def __init__(self, msg):
            self.msg = msg

        def message(self):
            return self.msg

    class InferenceResponse:
        def __init__(self, output_tensors, error=None):
            self.output_tensors, self.err = output_tensors, error

        def has_error(self):
            return self.err is not None

        def error(self):
            return self.err

    class InferenceRequest:
        def __init__(self, model_name, requested_output_names, inputs):
            self.model_name, self.names, self.inputs = model_name, requested_output_names, inputs

        def exec(self):
            if self.model_name not in sessions:
                sessions[self.model_name] = ort.InferenceSession(
                    str(repository / self.model_name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
            out = sessions[self.model_name].run(self.names, {t.name: t.array for t in self.inputs})
            return InferenceResponse([Tensor(n, o) for n, o in zip(self.names, out)])

    pb.Tensor, pb.TritonError, pb.InferenceResponse, pb.InferenceRequest = Tensor, TritonError, InferenceResponse, InferenceRequest
    pb.TritonModelException = RuntimeError
    pb.get_input_tensor_by_name = lambda req, name: next(t for t in req.inputs if t.name == name)
    pb.get_output_tensor_by_name = lambda resp, name: next(t for t in resp.output_tensors if t.name == name)
    return pb, Tensor


def test_python_model_reads_what_ocdr_reads(repo, monkeypatch):
    repository = repo / "repo"
    pb, Tensor = _fake_pb_utils(repository)
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", pb)
    spec = importlib.util.spec_from_file_location("ocdr_triton_model", repository / "ocdr" / "1" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.TritonPythonModel()
    model.initialize({"model_repository": str(repository / "ocdr"), "model_version": "1"})
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(buf, "PNG")
    good = types.SimpleNamespace(inputs=[Tensor("input", np.array([buf.getvalue()], dtype=np.object_))])
    bad = types.SimpleNamespace(inputs=[Tensor("input", np.array([b"not an image"], dtype=np.object_))])
    ok, err = model.execute([good, bad])
    assert err.has_error() and "image" in err.error().message()
    outputs = {t.name: t.as_numpy() for t in ok.output_tensors}
    reference = ocdr.OCR(repo / "det.onnx", repo / "rec.pth", postprocess=PostProcessConfig(0.0, 0.0, min_size=1),
                         long_side=128)(buf.getvalue())
    assert [t.decode() for t in outputs["output"]] == [w.text for w in reference.words]
    assert len(reference.words) > 0 and outputs["boxes"].shape == (len(reference.words), 4, 2)
    np.testing.assert_allclose(outputs["boxes"], np.stack([w.polygon for w in reference.words]), atol=1.0)
    assert json.loads(outputs["json"][0])["text"] == reference.text


def test_client_request_carries_the_bytes():
    pytest.importorskip("tritonclient.grpc")
    from ocdr.serve.triton_client import build_inputs

    (tensor,) = build_inputs(b"\x89PNG...")
    assert tensor.name() == "input" and tensor.datatype() == "BYTES" and tensor.shape() == [1]
    assert b"\x89PNG..." in tensor._get_content()  # serialized with its 4-byte length prefix
