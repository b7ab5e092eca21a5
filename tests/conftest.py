"""Shared test helpers: where the real data beside the checkout lives."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def hme_dir() -> Path:
    """The real handwriting set ../shared/data/hme_handwritten_det, or a skip saying it is absent."""
    path = SHARED_DATA / "hme_handwritten_det"
    if not (path / "img").is_dir():
        pytest.skip(f"real data not found at {path} (the repo expects ../shared/data beside the checkout)")
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """Untrained tiny models saved as ordinary checkpoints and exported: ``det.pth``, ``rec.pth``, ``det.onnx``,
    ``rec.onnx`` (character list ``abcdefghij`` and space). Enough to exercise every stage after training."""
    import torch

    from ocdr.config import spec_to_dict
    from ocdr.config.ocdnet import OcdnetSpec
    from ocdr.config.ocrnet import OcrnetSpec
    from ocdr.data.charset import Charset
    from ocdr.export.onnx_export import export_detector, export_recognizer
    from ocdr.models.registry import build_model
    from ocdr.models.checkpoint import make_model_record, save_checkpoint

    root = tmp_path_factory.mktemp("tiny_models")
    torch.manual_seed(0)
    det = build_model("dbnet_tiny").eval()
    save_checkpoint(make_model_record("detector", "dbnet_tiny", {}, det.state_dict(), spec_to_dict(OcdnetSpec())),
                    root / "det.pth")
    charset = Charset(list("abcdefghij "))
    rec = build_model("crnn_tiny", num_classes=charset.num_classes_ctc).eval()
    spec = spec_to_dict(OcrnetSpec())
    spec["model"]["backbone"] = "tiny"
    save_checkpoint(make_model_record("recognizer", "crnn_tiny", {"num_classes": charset.num_classes_ctc},
                                      rec.state_dict(), spec, charset.to_list()), root / "rec.pth")
    export_detector(det, root / "det.onnx")
    export_recognizer(rec, root / "rec.onnx", charset,
                      {"height": 32, "width": 100, "channels": 1, "keep_aspect_ratio": False, "prediction": "CTC"})
    return root
