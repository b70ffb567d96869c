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
import torch

__all__ = ["DevProbeCallback"]

log = logging.getLogger(__name__)


class DevProbeCallback(L.Callback):
    """Log ``val/dev_probe`` (mean development-task score, higher is better) every validation.

    The student is embedded with :func:`molmtd.downstream.devprobe.student_embedder`, one
    per fit, so the dev molecules' graphs are built once and reused every epoch.

    Args:
        scorer: ``embed -> {task: score, ..., "mean": score}``; by default
            :func:`molmtd.downstream.devprobe.dev_probe_score`.
    """

    def __init__(self, scorer: Callable | None = None):
        self.scorer = scorer
        self._embed = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        from molmtd.downstream import devprobe

        scorer = self.scorer or devprobe.dev_probe_score
        if self._embed is None:
            self._embed = devprobe.student_embedder(pl_module.student)
        scores = scorer(self._embed) if trainer.is_global_zero else {}
        value = torch.tensor(float(scores.get("mean", float("nan"))))
        # every rank logs the same number (rank 0's), so checkpointing agrees under DDP
        value = trainer.strategy.broadcast(value, src=0)
        pl_module.log("val/dev_probe", value, sync_dist=False)
        for task, score in scores.items():
            if task != "mean":
                pl_module.log(f"val/dev_probe/{task}", float(score), rank_zero_only=True)
        log.info("dev probe: %s", ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
