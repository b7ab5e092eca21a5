"""Every registered builder, automatically (timm's way): a tiny variant runs forward and backward, its loss is
finite and every parameter gets a gradient. A new model cannot be added untested: it appears here by name."""
import importlib.util
import inspect

import pytest
import torch

from ocdr.models.registry import MODELS, build_model, list_models

# small widths for the arguments a builder takes (any it does not take are left out)
TINY = {"inner_channels": 16, "base": 8, "hidden_size": 16, "width": 4, "output_channel": 16, "dim": 16,
        "depth": 1, "heads": 2, "num_fiducial": 4, "max_label_length": 4}
NUM_CLASSES = 6
IMPORTED = {"ppocr_det", "ppocr_rec"}


def _kwargs(name: str) -> dict:
    params = inspect.signature(MODELS[name]).parameters
    kw = {k: v for k, v in TINY.items() if k in params}
    if "num_classes" in params:
        kw["num_classes"] = NUM_CLASSES
    return kw


def _det_targets(b: int, h: int, w: int) -> dict:
    g = torch.Generator().manual_seed(0)
    return {"shrink_map": (torch.rand(b, h, w, generator=g) > 0.7).float(), "shrink_mask": torch.ones(b, h, w),
            "threshold_map": torch.rand(b, h, w, generator=g) * 0.4 + 0.3, "threshold_mask": torch.ones(b, h, w)}


def _rec_targets(b: int) -> dict:
    ids = torch.tensor([[1, 2, 3], [4, 5, 1]])[:b]
    return {"ctc_targets": ids, "target_lengths": torch.tensor([3, 3])[:b],
            # attention: [GO] is 0, EOS 1; characters start at 2 (see Charset)
            "attn_targets": torch.tensor([[3, 4, 5, 1, 1], [2, 2, 3, 1, 1]])[:b]}


@pytest.mark.parametrize("name", list_models())
def test_tiny_forward_backward_every_parameter_gets_a_gradient(name):
    if name in IMPORTED and importlib.util.find_spec("rapidocr_onnxruntime") is None:
        pytest.skip("the PP-OCRv4 graphs come from rapidocr-onnxruntime (make test installs it)")
    torch.manual_seed(0)
    model = build_model(name, **_kwargs(name)).train()
    if name.startswith(("dbnet", "ppocr_det")):
        images = torch.randn(2, 3, 64, 64)
        out = model(images, _det_targets(2, 64, 64))
    else:
        sig = inspect.signature(MODELS[name]).parameters
        c = sig["input_channels"].default if "input_channels" in sig else 1
        h = sig["input_height"].default if "input_height" in sig else 32
        w = sig["input_width"].default if "input_width" in sig else 100  # the builder's own (ViT, PP-OCR fix it)
        out = model(torch.randn(2, c, h, w), _rec_targets(2))
    assert isinstance(out, dict) and torch.isfinite(out["loss"]), name
    out["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert missing == [], f"{name}: no (finite) gradient for {missing[:5]}"
