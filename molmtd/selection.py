"""Model selection by what users measure: a downstream probe scored after each validation.

The epoch with the lowest validation loss is not the best featurizer (docs/EXPERIMENTS.md):
a gaussian student's loss kept improving while its embedding collapsed. This callback
embeds the molecules of a small *development* task set (disjoint from the tasks that
``molmtd evaluate`` reports, :func:`molmtd.downstream.datasets.dev_tasks`) with the
current student, fits linear probes, and logs their mean score as ``val/dev_probe``;
distill's best checkpoint and early stopping then follow that number
(``training.select_by: dev_probe``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import lightning as L
import numpy as np
import torch

__all__ = ["DevProbeCallback", "student_embedder"]

log = logging.getLogger(__name__)


def student_embedder(student, batch_size: int = 512) -> Callable[[list[str]], np.ndarray]:
    """A function SMILES -> embeddings float32 ``[n, D]`` from a live student (eval mode).

    Molecules without a graph get NaN rows (the probe drops them), so rows stay aligned.
    """
    from molmtd.graphs import graph_batches_from_smiles

    def embed(smiles: list[str]) -> np.ndarray:
        out = np.full((len(smiles), student.out_dim), np.nan, dtype=np.float32)
        was_training = student.training
        student.eval()
        device = next(student.parameters()).device
        try:
            with torch.no_grad():
                batches, _ = graph_batches_from_smiles(smiles, batch_size)
                for rows, batch in batches:
                    out[rows] = student.forward_batch(batch.to(device)).float().cpu().numpy()
        finally:
            student.train(was_training)
        return out

    return embed


class DevProbeCallback(L.Callback):
    """Log ``val/dev_probe`` (mean development-task score, higher is better) every validation.

    Args:
        scorer: ``embed -> {task: score, ..., "mean": score}``; by default
            :func:`molmtd.downstream.devprobe.dev_probe_score`.
    """

    def __init__(self, scorer: Callable | None = None):
        self.scorer = scorer

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        scorer = self.scorer
        if scorer is None:
            from molmtd.downstream.devprobe import dev_probe_score as scorer
        scores = scorer(student_embedder(pl_module.student)) if trainer.is_global_zero else {}
        value = torch.tensor(float(scores.get("mean", float("nan"))))
        # every rank logs the same number (rank 0's), so checkpointing agrees under DDP
        value = trainer.strategy.broadcast(value, src=0)
        pl_module.log("val/dev_probe", value, sync_dist=False)
        for task, score in scores.items():
            if task != "mean":
                pl_module.log(f"val/dev_probe/{task}", float(score), rank_zero_only=True)
        log.info("dev probe: %s", ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
