"""TrainBatchSampler: each sample once, similar widths together, weighted sources, deterministic, sharded."""
import numpy as np
import pytest

from ocdr.data import samplers
from ocdr.data.samplers import TrainBatchSampler, source_weights
from ocdr.errors import ConfigError


def test_every_sample_once_per_epoch_and_a_new_order_next_epoch():
    s = TrainBatchSampler(103, 8, seed=1)
    first = [i for b in s for i in b]
    assert sorted(first) == list(range(103)) and len(list(s)) == len(s) == 13
    s.set_epoch(1)
    second = [i for b in s for i in b]
    assert sorted(second) == list(range(103)) and second != first
    s.set_epoch(0)
    assert [i for b in s for i in b] == first  # reproducible


def test_batches_group_similar_widths():
    rng = np.random.default_rng(0)
    widths = rng.integers(48, 320, 512)
    grouped = TrainBatchSampler(512, 16, widths=widths, seed=0)
    plain = TrainBatchSampler(512, 16, seed=0)
    spread = lambda s: np.mean([np.ptp(widths[b]) for b in s])  # noqa: E731
    assert spread(grouped) < spread(plain) / 5
    assert sorted(i for b in grouped for i in b) == list(range(512))


def test_validation_order_is_fixed_and_complete():
    s = TrainBatchSampler(10, 4, widths=[5, 1, 4, 2, 3, 9, 8, 7, 6, 0], shuffle=False)
    assert list(s) == [[9, 1, 3, 4], [2, 0, 8, 7], [6, 5]]


def test_weights_give_each_source_its_share():
    p = source_weights([900, 100], [1.0, 1.0])
    assert p[:900].sum() == pytest.approx(0.5) and p[900:].sum() == pytest.approx(0.5)
    s = TrainBatchSampler(1000, 50, probabilities=p, seed=3)
    drawn = np.array([i for b in s for i in b])
    assert len(drawn) == 1000 and 0.44 < np.mean(drawn >= 900) < 0.56


def test_weights_are_checked():
    with pytest.raises(ConfigError, match="2 value"):
        source_weights([10], [1.0, 2.0])
    with pytest.raises(ConfigError, match=">= 0"):
        source_weights([10, 5], [1.0, -1.0])


def test_each_process_gets_its_own_batches(monkeypatch):
    s = TrainBatchSampler(40, 4, seed=2)
    everything = s.all_batches()
    seen = []
    for rank in (0, 1):
        monkeypatch.setattr(samplers, "_rank_world", lambda rank=rank: (rank, 2))
        mine = list(s)
        assert len(mine) == len(s) == 5
        assert mine == [b.tolist() for b in everything[rank::2]]
        seen += [i for b in mine for i in b]
    assert sorted(seen) == list(range(40))
