"""Seeded, resumable, rank-aware batch sampling for distillation.

Hand-written because neither torch nor Lightning ships a sampler that (a) draws a new
seeded order every epoch, (b) remembers how far into the epoch training got so a
mid-epoch checkpoint resumes on the next unseen batch, and (c) shards batches across DDP
ranks without Lightning's DistributedSampler (which does not wrap batch samplers).
Lightning saves and restores any loader exposing ``state_dict``/``load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, Sampler

__all__ = ["ResumableBatchSampler", "ResumableLoader", "SamplerPositionCallback"]


class ResumableBatchSampler(Sampler):
    """Yields arrays of dataset indices, a fresh seeded permutation each epoch.

    Args:
        indices: the dataset positions to draw from (e.g. the training split).
        batch_size: molecules per batch.
        seed: base seed; epoch ``e`` uses ``seed + e``.
        shuffle: if False, batches come in ``indices`` order (validation).
        drop_last: drop a final partial batch.
        rank, world_size: this process's share under DDP (every ``world_size``-th batch).
        equal_batches: every rank yields the same number of batches, leaving out the last
            ``total % world_size`` batches of the (shuffled) epoch. Training under DDP needs
            it: each step all-reduces gradients, and a rank with one batch more than the
            others would wait for them forever.
    """

    def __init__(self, indices: np.ndarray, batch_size: int, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = False, rank: int = 0, world_size: int = 1,
                 equal_batches: bool = False):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.equal_batches = equal_batches
        self.epoch = 0
        self.consumed = 0  # batches of the current epoch handed to training
        self._resume_from = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at each epoch start; the order depends on it."""
        self.epoch = epoch

    def _num_global_batches(self) -> int:
        n = len(self.indices)
        full = n // self.batch_size
        total = full if self.drop_last or n % self.batch_size == 0 else full + 1
        if self.equal_batches:
            total -= total % self.world_size
        return total

    def __len__(self) -> int:
        total = self._num_global_batches()
        return len(range(self.rank, total, self.world_size))

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(self.indices)
        else:
            order = self.indices
        mine = range(self.rank, self._num_global_batches(), self.world_size)
        start, self._resume_from = self._resume_from, 0
        self.consumed = start
        for local, b in enumerate(mine):
            if local < start:
                continue
            yield order[b * self.batch_size:(b + 1) * self.batch_size]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self._resume_from = int(state["consumed"])
        self.consumed = self._resume_from


class ResumableLoader(DataLoader):
    """A DataLoader over a :class:`ResumableBatchSampler` that Lightning can checkpoint.

    The dataset receives whole index batches (``dataset[indices]``), so fetching teacher
    rows and graphs is one vectorised read per batch rather than one per molecule.
    ``mark_consumed`` is called by the training module after each optimisation step;
    counting there (not at yield) keeps prefetched batches out of the saved position.
    """

    def __init__(self, dataset, batch_sampler: ResumableBatchSampler, num_workers: int = 0,
                 collate_fn=None, **kwargs):
        super().__init__(dataset, batch_size=None, sampler=batch_sampler,
                         num_workers=num_workers, collate_fn=collate_fn or _first,
                         persistent_workers=False, **kwargs)
        self.batch_sampler_state = batch_sampler

    def mark_consumed(self) -> None:
        self.batch_sampler_state.consumed += 1

    def state_dict(self) -> dict:
        return self.batch_sampler_state.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.batch_sampler_state.load_state_dict(state)


def _first(batch):
    # batch_size=None: the dataset already returns a collated batch
    return batch


class SamplerPositionCallback(Callback):
    """Tells the resumable train loader that a batch was consumed by an optimisation step."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loader = trainer.train_dataloader
        if hasattr(loader, "mark_consumed"):
            loader.mark_consumed()
