"""ONNX graphs as trainable torch modules, and the PP-OCRv4 import (parity with ONNX Runtime, training, surgery)."""
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from ocdr.data.charset import Charset, remap_rows
from ocdr.errors import ConfigError
from ocdr.models.imported.onnx_graph import OnnxGraphModule

SHARED_HME = Path(__file__).resolve().parents[3] / "shared" / "data" / "hme_handwritten_det" / "img"


def _const(name, arr):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(arr), name))


def _toy_graph(opset=12) -> onnx.ModelProto:
    """Conv(pads) -> BN -> HardSigmoid*x -> Resize x2 -> Concat -> Clip -> Reshape(Shape-based) -> MatMul -> Softmax."""
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        _const("w", f(4, 3, 3, 3)), _const("b", f(4)),
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
        _const("s", np.abs(f(4)) + 0.5), _const("bb", f(4)), _const("m", f(4)), _const("v", np.abs(f(4)) + 0.5),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-5),
        helper.make_node("HardSigmoid", ["n"], ["hs"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["n", "hs"], ["act"]),
        _const("roi", np.zeros(0, np.float32)), _const("scales", np.array([1, 1, 2, 2], np.float32)),
        helper.make_node("Resize", ["act", "roi", "scales"], ["up"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("ConvTranspose", ["act", "wt"], ["tr"], strides=[2, 2], kernel_shape=[2, 2]),
        _const("wt", f(4, 2, 2, 2)),
        helper.make_node("Concat", ["up", "tr"], ["cat"], axis=1),
        _const("lo", np.array(0.0, np.float32)), _const("hi", np.array(6.0, np.float32)),
        helper.make_node("Clip", ["cat", "lo", "hi"], ["clip"]),
        helper.make_node("Shape", ["clip"], ["shape"]),
        _const("st", np.array([0], np.int64)), _const("en", np.array([2], np.int64)), _const("ax", np.array([0], np.int64)),
        helper.make_node("Slice", ["shape", "st", "en", "ax"], ["nc"]),
        _const("minus1", np.array([-1], np.int64)),
        helper.make_node("Concat", ["nc", "minus1"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["clip", "newshape"], ["flat"]),
        helper.make_node("Transpose", ["flat"], ["seq"], perm=[0, 2, 1]),
        helper.make_node("ReduceMean", ["seq"], ["mu"], axes=[-1]),
        helper.make_node("Sub", ["seq", "mu"], ["centred"]),
        _const("wm", f(6, 5)),
        helper.make_node("MatMul", ["centred", "wm"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"], axis=2),
    ]
    nodes.insert(nodes.index(next(n for n in nodes if n.op_type == "ConvTranspose")), nodes.pop(nodes.index(
        next(n for n in nodes if n.output[0] == "wt"))))
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "t", 5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_graph_module_matches_onnxruntime_and_trains():
    model = _toy_graph()
    module = OnnxGraphModule(model)
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 12)).astype(np.float32)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    assert got.shape == (2, 96, 5)
    np.testing.assert_allclose(got, _ort(model, x), atol=1e-5)
    # weights are parameters (conv, BN affine, transposed conv, matmul); BN statistics and helpers are not
    names = {n for n, _ in module.named_parameters()}
    assert {"weights.w", "weights.b", "weights.s", "weights.bb", "weights.wt", "weights.wm"} == names
    assert "const_m" in dict(module.named_buffers()) and "const_v" in dict(module.named_buffers())
    module(torch.from_numpy(x)).pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_intermediate_outputs_and_unknown_names():
    module = OnnxGraphModule(_toy_graph())
    out = module(torch.zeros(1, 3, 8, 8), outputs=["cat", "logits"])
    assert out["cat"].shape == (1, 6, 8, 8) and out["logits"].shape == (1, 64, 5)
    with pytest.raises(KeyError, match="nope"):
        module(torch.zeros(1, 3, 8, 8), outputs=["nope"])


def test_unsupported_operator_is_named():
    graph = helper.make_graph([helper.make_node("Einsum", ["x", "x"], ["y"], equation="ij,jk->ik")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    with pytest.raises(ConfigError, match="Einsum"):
        OnnxGraphModule(helper.make_model(graph))


def test_old_opset_softmax_flattens_from_the_axis():
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=1)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    got = OnnxGraphModule(model)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, _ort(model, x), atol=1e-6)
    np.testing.assert_allclose(got.reshape(2, -1).sum(1), 1.0, atol=1e-5)  # one distribution over 12 values


# ------------------------------------------------------------------ PP-OCRv4 from the wheel
ppocr = pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed (make test installs it)")


def _real_images(n=2) -> list[np.ndarray]:
    from ocdr.data.images import read_image

    if SHARED_HME.is_dir():
        return [read_image(p) for p in sorted(SHARED_HME.iterdir())[:n]]
    from PIL import Image, ImageDraw  # no shared data: a drawn page, still real pixels through the same path

    img = Image.new("RGB", (300, 120), "white")
    ImageDraw.Draw(img).text((10, 40), "Total 42.50", fill="black")
    return [np.asarray(img)] * n


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    from ocdr.models.catalog import PretrainedSpec
    from ocdr.models.imported.pretrained import import_pretrained

    out = tmp_path_factory.mktemp("pre")
    written = import_pretrained(PretrainedSpec(output_dir=str(out)))["written"]
    return {k: Path(v) for k, v in written.items()}


def test_imported_detector_matches_the_wheel_on_real_images(imported):
    import cv2

    from ocdr.data.transforms import normalize
    from ocdr.models.imported.ppocr import wheel_model_path
    from ocdr.models.loading import load_detector

    model, record = load_detector(imported["ppocr-v4-det"])
    assert record["spec"]["model"]["backbone"] == "ppocr_v4"
    for image in _real_images():
        h, w = image.shape[:2]
        s = 320 / max(h, w)
        img = cv2.resize(image, (max(32, int(w * s) // 32 * 32), max(32, int(h * s) // 32 * 32)))
        with torch.no_grad():
            got = model(torch.from_numpy(normalize(img)[None]))["prob"].numpy()
        bgr = (img[:, :, ::-1].astype(np.float32) / 255 - 0.5) / 0.5  # what RapidOCR feeds the ONNX file
        ref = _ort(onnx.load(str(wheel_model_path("det"))), bgr.transpose(2, 0, 1)[None].copy())
        assert np.abs(got - ref).max() < 1e-4


def test_imported_recognizer_matches_the_wheel_and_reads(imported):
    import cv2

    from ocdr.models.imported.ppocr import wheel_model_path
    from ocdr.models.loading import load_recognizer
    from ocdr.pipeline.recognizer import RecognizerPredictor

    model, record, charset = load_recognizer(imported["ppocr-v4-rec"])
    assert len(record["charset"]) == 6624 and record["charset"][-1] == " "
    crop = np.full((48, 320, 3), 255, np.uint8)
    cv2.putText(crop, "Total 42", (5, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    x = (crop.astype(np.float32) / 127.5 - 1).transpose(2, 0, 1)[None]
    with torch.no_grad():
        got = model(torch.from_numpy(x))["probs"].numpy()
    ref = _ort(onnx.load(str(wheel_model_path("rec"))), np.ascontiguousarray(x[:, ::-1]))
    assert np.abs(got - ref).max() < 1e-4
    text = RecognizerPredictor(imported["ppocr-v4-rec"], device="cpu")([crop])[0][0]
    assert text.replace(" ", "") == "Total42"  # it reads printed text out of the box


def test_imported_checkpoints_load_without_the_wheel(imported, monkeypatch):
    import ocdr.models.imported.ppocr as pp
    from ocdr.models.loading import load_detector

    monkeypatch.setattr(pp, "wheel_model_path", lambda role: (_ for _ in ()).throw(AssertionError("wheel read")))
    model, _ = load_detector(imported["ppocr-v4-det"])
    assert sum(p.numel() for p in model.parameters()) > 1_000_000


def test_detector_trains_with_the_db_loss(imported):
    from ocdr.models.loading import load_detector

    model, _ = load_detector(imported["ppocr-v4-det"])
    model.train()
    x = torch.randn(2, 3, 64, 96)
    z = torch.zeros(2, 64, 96)
    targets = {"shrink_map": z.clone(), "shrink_mask": torch.ones_like(z), "threshold_map": z + 0.3,
               "threshold_mask": torch.ones_like(z)}
    targets["shrink_map"][:, 20:40, 20:70] = 1
    out = model(x, targets)
    assert {"prob", "thresh", "binary", "loss"} <= set(out)
    out["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing[:5]


def test_recognizer_head_surgery_keeps_shared_characters(imported):
    from ocdr.models.recognition.surgery import head_surgery
    from ocdr.models.loading import load_recognizer

    model, record, old = load_recognizer(imported["ppocr-v4-rec"])
    new = Charset(list("0123456789abcXYZ \u2603"))  # a snowman is not in PP-OCR's list
    before = model.head.fc.weight.detach().clone()
    pairs = remap_rows(old, new)
    head_surgery(model, pairs, new.num_classes_ctc)
    assert model.head.fc.out_features == new.num_classes_ctc
    for o, n in pairs:
        assert torch.equal(model.head.fc.weight[n], before[o])
    assert "\u2603" not in old.to_list() and len(pairs) == 1 + len(new.to_list()) - 1  # blank + all but the snowman
    out = model(torch.zeros(1, 3, 48, 160), {"ctc_targets": torch.tensor([1, 2]), "target_lengths": torch.tensor([2])})
    assert out["logits"].shape[-1] == new.num_classes_ctc and torch.isfinite(out["loss"])


def test_imported_models_export_to_onnx_with_parity(imported, tmp_path):
    import cv2

    from ocdr.data.transforms import normalize
    from ocdr.export.onnx_export import (export_detector, export_recognizer, max_abs_diff, onnxruntime_session,
                                         recognizer_parity)
    from ocdr.models.loading import load_detector
    from ocdr.models.loading import input_geometry, load_recognizer

    det, _ = load_detector(imported["ppocr-v4-det"])
    session = onnxruntime_session(export_detector(det, tmp_path / "det.onnx"))
    image = cv2.resize(_real_images(1)[0], (224, 128))
    assert max_abs_diff(det, session, normalize(image)[None]) < 1e-4
    rec, record, charset = load_recognizer(imported["ppocr-v4-rec"])
    path = export_recognizer(rec, tmp_path / "rec.onnx", charset, input_geometry(record))
    images = np.random.default_rng(0).uniform(-1, 1, (3, 3, 48, 320)).astype(np.float32)
    diff, same_ids = recognizer_parity(rec, onnxruntime_session(path), images)
    assert diff < 1e-4 and same_ids
