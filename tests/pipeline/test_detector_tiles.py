"""Tiled detection: tiles reach the network in bounded groups, merge into the right map, and a degenerate
strip is one row of tiles, not a grid of padding."""
import numpy as np
import pytest

from ocdr.data.transforms import IMAGENET_MEAN_STD
from ocdr.errors import ConfigError
from ocdr.pipeline.detector import DetectorPredictor, tile_starts

MEAN, STD = IMAGENET_MEAN_STD


class InkSession:
    """An ONNX-Runtime-like session whose probability is the ink (1 - red / 255) of each input pixel,
    recording the batches it is given."""

    def __init__(self):
        self.batches: list[tuple[int, int, int, int]] = []

    def get_inputs(self):
        return [type("Input", (), {"name": "images"})()]

    def run(self, _names, feeds):
        batch = feeds["images"]
        self.batches.append(batch.shape)
        red = batch[:, 0] * STD[0] + MEAN[0]
        return [(1.0 - red)[:, None]]


def _ink(image: np.ndarray) -> np.ndarray:
    return 1.0 - image[:, :, 0].astype(np.float32) / 255.0


def test_tiles_run_in_groups_of_at_most_tile_batch_and_merge_to_the_whole_map():
    """200 x 300 pads to 224 x 320; 64-pixel tiles every 48 give 5 x 7 = 35 tiles: four groups of 8, one of 3."""
    image = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    session = InkSession()
    predictor = DetectorPredictor(session, tiled=True, tile_size=64, tile_overlap=16, tile_batch=8)
    prob, (h, w) = predictor.prob_map(image)
    assert [b[0] for b in session.batches] == [8, 8, 8, 8, 3]
    assert all(b[2:] == (64, 64) for b in session.batches)
    assert (h, w) == (200, 300) and prob.shape == (224, 320)
    np.testing.assert_allclose(prob[:h, :w], _ink(image), atol=1e-5)  # every pixel covered, merged by maximum


def test_a_long_strip_is_one_row_of_tiles():
    """6000 x 1: the short side is padded to one tile, so tiles only step along the long side."""
    strip = np.zeros((1, 6000, 3), np.uint8)
    session = InkSession()
    predictor = DetectorPredictor(session, tiled=True, tile_size=64, tile_overlap=16, tile_batch=8)
    prob, _ = predictor.prob_map(strip)
    expected = len(tile_starts(6016, 64, 16))  # 6000 rounded up to a multiple of 32
    assert expected == 125
    assert sum(b[0] for b in session.batches) == expected and max(b[0] for b in session.batches) <= 8
    assert prob.shape == (64, 6016)
    assert np.allclose(prob[0, :6000], 1.0) and np.allclose(prob[1:], 0.0, atol=1e-5)  # ink only on the strip
    tall = DetectorPredictor(InkSession(), tiled=True, tile_size=64, tile_overlap=16)
    assert tall.prob_map(strip.transpose(1, 0, 2))[0].shape == (6016, 64)


def test_tile_starts_cover_the_length_and_end_on_the_edge():
    assert tile_starts(64, 64, 16) == [0]
    assert tile_starts(160, 64, 16) == [0, 48, 96]
    assert tile_starts(170, 64, 16) == [0, 48, 96, 106]  # the last tile is pulled back to end at 170


@pytest.mark.parametrize("kw, message", [
    ({"tile_overlap": 48}, "tile_overlap must be between 0 and half of tile_size \\(32\\), got 48"),
    ({"tile_size": 100}, "tile_size must be a positive multiple of 32, got 100"),
    ({"tile_batch": 0}, "tile_batch must be at least 1, got 0"),
])
def test_bad_tiling_settings_are_config_errors(kw, message):
    with pytest.raises(ConfigError, match=message):
        DetectorPredictor(InkSession(), tiled=True, **{"tile_size": 64, "tile_overlap": 16, **kw})
