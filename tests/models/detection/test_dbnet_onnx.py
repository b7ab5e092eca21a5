"""ONNX export of DBNet: checked graph, dynamic batch/height/width, ONNX Runtime parity within 1e-4.

The deformable variant exports two ways: below opset 19 as a GridSample decomposition (for
runtimes without DeformConv), from opset 19 as ONNX's DeformConv node.
"""
import numpy as np
import onnx
import pytest
import torch

from ocdr.export.onnx_export import export_detector, max_abs_diff, onnxruntime_session
from ocdr.models.registry import build_model

TOLERANCE = 1e-4  # max |PyTorch - ONNX Runtime| on the probability map


def _model(dcn: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("dbnet_tiny", dcn=dcn)
    if dcn:  # zero offsets would make the deformable conv a plain one: make them matter
        for name, p in model.named_parameters():
            if "offset" in name:
                torch.nn.init.normal_(p, std=0.3)
    return model.eval()


@pytest.mark.parametrize("dcn,opset,deform_op", [(False, 17, None), (True, 17, "GridSample"), (True, 19, "DeformConv")])
def test_onnx_parity_at_several_sizes(tmp_path, dcn, opset, deform_op):
    model = _model(dcn)
    path = export_detector(model, tmp_path / "det.onnx", opset=opset, sample_hw=(64, 96))
    graph = onnx.load(str(path)).graph
    ops = {node.op_type for node in graph.node}
    assert "DeformConv" not in ops or deform_op == "DeformConv"
    if deform_op:
        assert deform_op in ops
    dims = [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] and dims[2] and dims[3], dims  # batch, height, width are symbolic
    session = onnxruntime_session(path)
    rng = np.random.default_rng(0)
    for shape in [(1, 3, 64, 96), (2, 3, 96, 64), (1, 3, 128, 128)]:
        x = rng.standard_normal(shape).astype(np.float32)
        assert max_abs_diff(model, session, x) < TOLERANCE, shape


@pytest.mark.parametrize("dcn", [False, True])
def test_onnx_parity_on_real_images(tmp_path, hme_dir, dcn):
    """Real photos (resized keeping the aspect ratio to multiples of 32), not only noise."""
    from ocdr.data.images import read_image
    from ocdr.data.transforms import normalize, resize_for_inference

    torch.manual_seed(0)
    model = build_model("dbnet_tiny", dcn=dcn).eval()
    session = onnxruntime_session(export_detector(model, tmp_path / "det.onnx"))
    for name in ("img_1.jpg", "img_2.jpg", "img_11.jpg"):
        resized, _, _ = resize_for_inference(read_image(hme_dir / "img" / name), 256)
        assert max_abs_diff(model, session, normalize(resized)[None]) < 1e-4, name
