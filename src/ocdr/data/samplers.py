"""Training batch order: weighted mixing of sources and batches of similar width, sharded over processes.

:class:`TrainBatchSampler` draws each epoch's samples (a permutation, or with ``weights`` a weighted draw so a
small real set can count as much as a large synthetic one), optionally groups them by width so that a batch of
word crops is only as wide as its widest crop (PaddleOCR's and docTR's practice; narrow crops then cost
narrow convolutions), shuffles the batch order and keeps every ``world``-th batch for this process: it shards
itself, so DDP needs no DistributedSampler around it.
"""
from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler

from ocdr.errors import ConfigError

__all__ = ["TrainBatchSampler", "source_weights"]

_POOL = 32  # batches' worth of samples sorted together: enough to find similar widths, still well mixed


def source_weights(sizes: list[int], weights: list[float]) -> np.ndarray:
    """Per-sample draw probabilities giving source ``i`` the share ``weights[i] / sum(weights)``."""
    if len(weights) != len(sizes):
        raise ConfigError(f"train_dataset_weights has {len(weights)} value(s) for {len(sizes)} training source(s)")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ConfigError(f"train_dataset_weights must be >= 0 with a positive sum, got {weights}")
    per_sample = np.concatenate([np.full(n, w / max(n, 1), np.float64) for n, w in zip(sizes, weights)])
    return per_sample / per_sample.sum()


def _rank_world() -> tuple[int, int]:
    import torch.distributed as dist  # deferred: only when iterating, after DDP has started

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class TrainBatchSampler(Sampler):
    """Index batches of ``num_samples`` items (see the module doc).

    ``widths``: per-sample width (None: no grouping); ``probabilities``: per-sample draw probabilities (None:
    each sample once per epoch); ``shuffle`` False keeps the natural order within the width sort (validation)."""

    shards_itself = True  # the trainer must not wrap it in a DistributedSampler

    def __init__(self, num_samples: int, batch_size: int, widths=None, probabilities=None, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0):
        if batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")
        self.n, self.batch_size, self.shuffle, self.drop_last, self.seed = num_samples, batch_size, shuffle, drop_last, seed
        self.widths = None if widths is None else np.asarray(widths, np.float64)
        self.probabilities = None if probabilities is None else np.asarray(probabilities, np.float64)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.probabilities is not None:
            return rng.choice(self.n, size=self.n, replace=True, p=self.probabilities)
        return rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def all_batches(self) -> list[np.ndarray]:
        """This epoch's batches for every process, in order."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = self._draw(rng)
        batches = []
        pool = self.batch_size * _POOL if self.shuffle else self.n
        for start in range(0, len(order), max(pool, 1)):
            chunk = order[start:start + pool]
            if self.widths is not None:
                chunk = chunk[np.argsort(self.widths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self):
        rank, world = _rank_world()
        for batch in self.all_batches()[rank::world]:
            yield batch.tolist()

    def __len__(self) -> int:
        rank, world = _rank_world()
        full, rest = divmod(self.n, self.batch_size)
        total = full if self.drop_last else full + (rest > 0)  # pools hold whole batches: the same count
        return len(range(rank, total, world))
