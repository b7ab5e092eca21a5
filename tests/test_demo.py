"""``ocdr demo`` end to end on tiny models and a tiny budget: every stage runs and the report links what it shows."""
import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ocdr.config import load_spec
from ocdr.config.demo import DemoSpec
from ocdr.demo import run_demo


def _real_folder(root: Path) -> Path:
    """Three 'real' images with ICDAR ground truth in the shared data's layout (gt/<image>.txt)."""
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(150, 255, (120, 200, 3), dtype=np.uint8)).save(root / "img" / f"img_{i}.jpg")
        (root / "gt" / f"img_{i}.jpg.txt").write_text("10,10,90,10,90,40,10,40,HME\n")
    return root


def test_demo_runs_every_stage_and_writes_the_report(tmp_path):
    real = _real_folder(tmp_path / "real")
    spec = load_spec(DemoSpec, None, [f"output_dir={tmp_path / 'demo'}", "num_pages=10", "minutes=0.3",
                                      "det_backbone=tiny", "rec_backbone=tiny", "det_epochs=1", "rec_epochs=1",
                                      "det_crop=128", f"real_data=[{real},{tmp_path / 'absent'}]", "pretrained=none",
                                      "show_images=1", "real_images=1", "device=cpu"])
    result = run_demo(spec)
    out = tmp_path / "demo"
    for key in ("precision", "recall", "hmean"):
        assert 0.0 <= result["detector"][key] <= 1.0
    assert result["onnx"]["detector_max_abs_diff"] < 1e-4 and result["onnx"]["recognizer_max_abs_diff"] < 1e-4
    assert Path(result["onnx"]["detector"]).is_file() and Path(result["onnx"]["recognizer"]).is_file()
    # the 2 held-out pages were all scored end to end against their ground-truth words
    gt_words = sum(1 for f in (out / "data/test/gt").glob("*.txt") for line in f.read_text().splitlines()
                   if line and not line.endswith(",###"))
    assert result["end_to_end"]["num_gt"] == gt_words > 0
    assert result["real"]["detection_on_real_test_split"]["images"] == 1  # 3 images, 90/10 split: 1 held out
    report = Path(result["report"])
    page = report.read_text()
    for heading in ("Summary", "Training curves", "Pipeline on real images", "Worst recognitions"):
        assert heading in page
    links = re.findall(r"src='([^']+)'", page)
    assert any("pipeline/real" in s for s in links) and any("curves.png" in s for s in links)
    assert all((out / s).is_file() for s in links)  # every picture the page shows exists, relative to it
    assert "http" not in page  # nothing fetched from outside
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["report"] == str(report)
    assert len(list((out / "pipeline/synthetic").glob("*.json"))) == 2


def test_demo_reuse_needs_models(tmp_path):
    import pytest

    from ocdr.errors import ConfigError

    spec = load_spec(DemoSpec, None, [f"output_dir={tmp_path}", "num_pages=10", "train=false", "real_data=[]"])
    with pytest.raises(ConfigError, match="train=true"):
        run_demo(spec)
