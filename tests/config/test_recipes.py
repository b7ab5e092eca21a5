"""Every recipe spec under specs/recipes loads and validates with its command's spec class."""
from pathlib import Path

import pytest

from ocdr.config import load_spec
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.config.ocrnet import OcrnetSpec

RECIPES = sorted((Path(__file__).resolve().parents[2] / "specs" / "recipes").glob("*.yaml"))


def test_there_is_a_recipe_per_kind_of_data():
    names = {p.stem for p in RECIPES}
    assert {"icdar2015_det", "icdar2015_rec", "funsd_det", "funsd_rec", "gw_pages_det", "gw_words_rec",
            "names_rec", "hme_det"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads(path):
    cls = OcrnetSpec if path.stem.endswith("_rec") else OcdnetSpec
    spec = load_spec(cls, path)
    assert spec.train.results_dir.startswith("runs/recipes/")  # trained models stay in runs/, never committed
    assert spec.model.pretrained_model_path.startswith("ppocr-v4")
