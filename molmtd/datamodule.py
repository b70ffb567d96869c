"""The LightningDataModule of a distillation run: caches in prepare_data, splits in setup.

prepare_data builds (or finds) the corpus, the graph store and one embedding store per
teacher; all three are resumable on disk. setup opens them, keeps the molecules the
student can read and at least one teacher can embed, makes the seeded train/validation
split and computes the fixed per-teacher standardisation statistics on the train split.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from molmtd.batching import ResumableBatchSampler, ResumableLoader
from molmtd.paths import resolve_cache_dir
from molmtd.recipe import Recipe, teacher_labels  # noqa: F401 (re-exported)
from molmtd.safeio import atomic_write, directory_lock

__all__ = ["DistillDataModule", "DistillDataset", "teacher_labels", "CacheLayout"]

log = logging.getLogger(__name__)


def _sha(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _n_jobs(n: int) -> int:
    return (os.cpu_count() or 1) if n == -1 else max(1, n)


@dataclass(frozen=True)
class CacheLayout:
    """Where the caches of a recipe live under ``store.cache_dir``; shared across runs."""

    root: Path

    def corpus_dir(self, recipe: Recipe) -> Path:
        c = recipe.corpus
        settings = json.dumps(
            {"source": str(c.source), "column": c.column, "max": c.max_molecules,
             "seed": recipe.seed, "std": c.standardize.model_dump()}, sort_keys=True)
        return self.root / "corpora" / _sha(settings)

    def graph_dir(self, corpus_fingerprint: str) -> Path:
        return self.root / "graphs" / corpus_fingerprint[:16]

    def teacher_dir(self, spec: str, version: str, corpus_fingerprint: str) -> Path:
        slug = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in spec)[:48]
        key = f"{slug}-{_sha(spec + version, 10)}"
        return self.root / "teachers" / key / corpus_fingerprint[:16]


class DistillDataset:
    """Index batch -> (graph Batch, {label: (teacher rows float32 [B, d], ok bool [B])}).

    Reads whole batches at once: the sampler yields index arrays, so teacher rows come
    from one memory-mapped read per shard instead of one read per molecule.
    """

    def __init__(self, graphs, stores: dict):
        self.graphs = graphs
        self.stores = stores

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, indices: np.ndarray):
        indices = np.asarray(indices)
        batch = self.graphs.batch(indices)
        teachers = {}
        for label, store in self.stores.items():
            rows, ok = store.rows(indices)
            teachers[label] = (torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)),
                               torch.from_numpy(np.asarray(ok, dtype=bool)))
        return batch, teachers


class DistillDataModule(L.LightningDataModule):
    """Corpus, graphs and teacher embeddings of one recipe, split and batched.

    Args:
        recipe: the validated recipe.
    """

    def __init__(self, recipe: Recipe):
        super().__init__()
        self.recipe = recipe
        self.layout = CacheLayout(resolve_cache_dir(recipe.store.cache_dir))
        self.labels = teacher_labels(recipe.teachers)

    # -- heavy, resumable work (rank 0 under DDP) -------------------------------------
    def prepare_data(self) -> None:
        # Lightning calls this again for trainer.validate; the caches are already there
        if not getattr(self, "_prepared", False):
            self._build_caches()
            self._prepared = True

    def _teachers(self):
        from molmtd.teachers import get_teacher

        n_jobs = _n_jobs(self.recipe.store.n_jobs)
        return [get_teacher(spec, n_jobs=n_jobs) for spec in self.recipe.teachers]

    def _build_caches(self):
        from molmtd.corpus import build_corpus
        from molmtd.graphs import GraphStore
        from molmtd.store import EmbeddingStore

        r = self.recipe
        corpus = build_corpus(
            r.corpus.source, self.layout.corpus_dir(r), column=r.corpus.column,
            max_molecules=r.corpus.max_molecules, seed=r.seed,
            standardize=r.corpus.standardize.model_dump(), n_jobs=_n_jobs(r.corpus.n_jobs))
        if not getattr(self, "_prepared", False):
            log.info("corpus: %d molecules (%d rows rejected, report: %s)", len(corpus),
                     len(corpus.invalid), corpus.directory / "invalid.csv")
        graphs = GraphStore.build(corpus.keys, self.layout.graph_dir(corpus.fingerprint),
                                  n_jobs=_n_jobs(r.store.n_jobs))
        stores = {}
        for label, teacher in zip(self.labels, self._teachers(), strict=True):
            stores[label] = EmbeddingStore.build(
                teacher, corpus.keys,
                self.layout.teacher_dir(teacher.spec, teacher.version, corpus.fingerprint),
                shard_size=r.store.shard_size, dtype=r.store.dtype,
                batch_size=r.store.embed_batch_size, rows=r.corpus.use_molecules,
                reuse_siblings=True)  # a corpus extending another embeds only its new rows
        return corpus, graphs, stores

    def build_teacher_caches(self, selectors: list[str]) -> dict:
        """Build the corpus and only the selected teachers' stores (cache-builder jobs).

        Started N times (SLURM array tasks, several hosts over a shared file system), the
        builders divide each store's shards (:mod:`molmtd.claims`). The graph store is
        left to the training run.

        Args:
            selectors: teacher labels (``minimol``, ``ecfp_1``) or specs of the recipe.

        Returns:
            {label: EmbeddingStore} of the selected teachers.

        Raises:
            RecipeError: a selector that names no teacher of the recipe (lists them).
        """
        from molmtd.corpus import build_corpus
        from molmtd.errors import RecipeError
        from molmtd.store import EmbeddingStore

        r = self.recipe
        chosen = [i for i, (label, spec) in enumerate(zip(self.labels, r.teachers, strict=True))
                  if label in selectors or spec in selectors]
        matched = {self.labels[i] for i in chosen} | {r.teachers[i] for i in chosen}
        unknown = [s for s in selectors if s not in matched]
        if unknown or not chosen:
            raise RecipeError(f"--teachers {','.join(selectors)}: {', '.join(unknown) or 'none'}"
                              f" is not a teacher of recipe {r.name}; its teachers are "
                              f"{', '.join(self.labels)}")
        corpus = build_corpus(
            r.corpus.source, self.layout.corpus_dir(r), column=r.corpus.column,
            max_molecules=r.corpus.max_molecules, seed=r.seed,
            standardize=r.corpus.standardize.model_dump(), n_jobs=_n_jobs(r.corpus.n_jobs))
        teachers = self._teachers()
        stores = {}
        for i in chosen:
            teacher = teachers[i]
            stores[self.labels[i]] = EmbeddingStore.build(
                teacher, corpus.keys,
                self.layout.teacher_dir(teacher.spec, teacher.version, corpus.fingerprint),
                shard_size=r.store.shard_size, dtype=r.store.dtype,
                batch_size=r.store.embed_batch_size, rows=r.corpus.use_molecules,
                reuse_siblings=True)
        return stores

    # -- cheap state (every rank) ------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if getattr(self, "train_indices", None) is not None:
            return
        self.corpus, self.graphs, self.stores = self._build_caches()  # finds finished caches
        usable = np.asarray(self.graphs.ok, dtype=bool).copy()
        if self.recipe.corpus.use_molecules is not None:
            usable[self.recipe.corpus.use_molecules:] = False
        any_teacher = np.zeros(len(usable), dtype=bool)
        for store in self.stores.values():
            any_teacher |= store.ok_mask()
        dropped = int((usable & ~any_teacher).sum())
        usable &= any_teacher
        if dropped or not usable.all():
            log.info("%d molecules left out (no graph or no teacher embedding)",
                     int((~usable).sum()))
        idx = np.flatnonzero(usable)
        if len(idx) < 2:
            raise ValueError(
                f"only {len(idx)} usable molecules in the corpus; increase corpus.max_molecules")
        perm = np.random.default_rng(self.recipe.seed).permutation(idx)
        n_val = max(1, int(round(len(idx) * self.recipe.training.val_fraction)))
        self.val_indices = np.sort(perm[:n_val])
        self.train_indices = np.sort(perm[n_val:])
        self.teacher_dims = {label: s.dim for label, s in self.stores.items()}
        self.dataset = DistillDataset(self.graphs, self.stores)
        self.statistics = {label: self._train_statistics(store)
                           for label, store in self.stores.items()}

    def _train_statistics(self, store) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean/std over the train split, cached beside the store."""
        key = _sha(self.train_indices.tobytes().hex(), 12)
        path = Path(store.directory) / f"stats-{key}.npz"
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as z:
                    mean, std = z["mean"], z["std"]
                if mean.shape == std.shape == (store.dim,) and np.isfinite(mean).all() \
                        and np.isfinite(std).all():
                    return mean, std
            except (OSError, ValueError, KeyError, EOFError):
                pass
            log.warning("%s is unreadable or not finite; recomputing it", path)
        mean, std = store.mean_std(self.train_indices)

        def write(tmp):
            with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz"
                np.savez(fh, mean=mean, std=std)

        # under the store's lock: a build of the store (another run) cleans temporary files
        with directory_lock(store.directory, "teacher statistics"):
            atomic_write(path, write)
        return mean, std

    def _loader(self, indices: np.ndarray, shuffle: bool) -> ResumableLoader:
        t = self.recipe.training
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        sampler = ResumableBatchSampler(indices, t.batch_size, seed=self.recipe.training_seed,
                                        shuffle=shuffle, rank=rank, world_size=world,
                                        equal_batches=shuffle)  # DDP steps in lockstep
        return ResumableLoader(self.dataset, sampler, num_workers=t.num_workers)

    def train_dataloader(self) -> ResumableLoader:
        return self._loader(self.train_indices, shuffle=True)

    def val_dataloader(self) -> ResumableLoader:
        return self._loader(self.val_indices, shuffle=False)
