"""The LightningModule that distils teachers into a GNN student.

Manual optimisation because the student and the teacher heads have their own optimisers
(as in the paper) and only the student's gradient norm is clipped; Lightning still
checkpoints both optimisers and schedulers. Teacher embeddings arrive raw and are
standardised here with statistics fixed from the training split (buffers, so they are
saved in checkpoints and never drift between train and eval).
"""

from __future__ import annotations

import math
import random
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from molmtd.errors import NonFiniteLossError
from molmtd.objectives import MarginalDensity, TeacherStandardizer, build_objective
from molmtd.objectives.collapse import effective_rank, variance_covariance_penalty
from molmtd.objectives.registry import objective_options
from molmtd.objectives.relational import relational_loss
from molmtd.student import GNNStudent

__all__ = ["DistillModule"]


def _non_finite(total, per_teacher: dict, step: int) -> NonFiniteLossError:
    bad = [label for label, value in per_teacher.items() if not torch.isfinite(value)]
    return NonFiniteLossError(
        f"training stopped: the loss is {float(total.detach())} at step {step} (batch), "
        f"non-finite for teacher(s) {', '.join(bad) or 'none individually (the total)'}; "
        "no update was applied and checkpoints/last.ckpt holds the last good state. Lower "
        "training.lr, set training.grad_clip, or check those teachers' embeddings; then "
        "--resume", step, bad)


class DistillModule(L.LightningModule):
    """Student + per-teacher standardisers + objective heads (+ marginal densities for MI).

    Args:
        student: ``GNNStudent.config()`` dictionary.
        teacher_dims: teacher label -> embedding dimension.
        objective: the recipe's objective section as a dict.
        training: the recipe's training section as a dict.
    """

    def __init__(self, student: dict, teacher_dims: dict[str, int], objective: dict,
                 training: dict,
                 statistics: dict[str, tuple[np.ndarray, np.ndarray]] | None = None):
        super().__init__()
        self.save_hyperparameters(ignore=["statistics"])
        self.automatic_optimization = False
        self.student = GNNStudent.from_config(student)
        # Standardisers are fixed before the heads exist: constant teacher dimensions are
        # dropped, so each head's width is the teacher's informative dimension count.
        stats = statistics or {
            label: (np.zeros(d), np.ones(d)) for label, d in teacher_dims.items()}
        self.standardizers = nn.ModuleDict({
            label: TeacherStandardizer(torch.as_tensor(mean), torch.as_tensor(std),
                                       scale=bool(objective["standardize_teachers"]),
                                       clip=objective.get("standardize_clip"))
            for label, (mean, std) in stats.items()})
        self.teacher_dims = {label: st.out_dim for label, st in self.standardizers.items()}
        self.objective = build_objective(
            objective["name"], self.student.out_dim, self.teacher_dims,
            n_modes=objective["n_modes"], hidden_dim=objective["head_hidden_dim"],
            num_layers=objective["head_num_layers"], loss_scale=objective["loss_scale"],
            teacher_weights=objective.get("teacher_weights") or None,
            **({"min_log_scale": objective.get("min_log_scale", -7.0)}
               if "min_log_scale" in objective_options(objective["name"]) else {}))
        self.use_mi = bool(objective["mi_estimate"]) and objective["name"] == "gaussian"
        self.variance_weight = float(objective.get("variance_weight", 0.0))
        self.covariance_weight = float(objective.get("covariance_weight", 0.0))
        self.relational_weight = float(objective.get("relational_weight", 0.0))
        self.relational_form = objective.get("relational_form", "distance")
        # named teachers are measured (logged in validation) even at weight 0: the baseline
        self.relational_teachers = list(objective.get("relational_teachers")
                                        or (self.teacher_dims if self.relational_weight else []))
        self.rank_molecules = int(training.get("rank_molecules", 0))
        self._rank_sample: list[torch.Tensor] = []
        # Not submodules: fitted deterministically (seeded) before training and again on
        # resume, so they stay out of checkpoints and of the optimisers.
        self.marginals: dict[str, MarginalDensity] = {}

    # -- MI diagnostic --------------------------------------------------------------------
    def fit_marginals(self, samples: dict[str, np.ndarray], n_modes: int, seed: int) -> None:
        """Fit the unconditional densities p_k(t) used by the MI diagnostic."""
        for label, rows in samples.items():
            z = self.standardizers[label](torch.as_tensor(rows, dtype=torch.float32))
            self.marginals[label] = MarginalDensity.fit(z, n_modes=n_modes, seed=seed)

    def on_fit_start(self) -> None:
        for m in self.marginals.values():
            m.to(self.device)

    # -- steps --------------------------------------------------------------------------
    def _losses(self, batch):
        graphs, teachers = batch
        s = self.student.forward_batch(graphs)
        targets = {label: (self.standardizers[label](t), ok) for label, (t, ok) in teachers.items()}
        total, per_teacher = self.objective(s, targets)
        return s, targets, total, per_teacher

    def _collapse_terms(self, s: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted VICReg terms that are switched on (recipe objective.*_weight)."""
        if not (self.variance_weight or self.covariance_weight):
            return {}
        variance, covariance = variance_covariance_penalty(s)
        terms = {}
        if self.variance_weight:
            terms["variance"] = self.variance_weight * variance
        if self.covariance_weight:
            terms["covariance"] = self.covariance_weight * covariance
        return terms

    def _relational_terms(self, s: torch.Tensor, targets) -> dict[str, torch.Tensor]:
        """Each chosen teacher's relational loss (unweighted); empty when none is chosen."""
        return {label: relational_loss(s, *targets[label], form=self.relational_form)
                for label in self.relational_teachers}

    def _relational_penalty(self, s: torch.Tensor, targets):
        """(each teacher's relational loss, their weighted mean or None): what a step adds."""
        relational = self._relational_terms(s, targets) if self.relational_weight else {}
        if not relational:
            return relational, None
        return relational, self.relational_weight * torch.stack(list(relational.values())).mean()

    def training_step(self, batch, batch_idx: int):
        opt_student, opt_heads = self.optimizers()
        s, targets, total, per_teacher = self._losses(batch)
        penalties = self._collapse_terms(s)
        relational, penalty = self._relational_penalty(s, targets)
        if penalty is not None:
            for label, value in relational.items():
                self.log(f"train/relational/{label}", value, batch_size=batch[0].num_graphs)
            penalties["relational"] = penalty
        for name, value in penalties.items():
            total = total + value
            self.log(f"train/penalty/{name}", value, batch_size=batch[0].num_graphs)
        if not torch.isfinite(total):  # stop before a bad update reaches the weights
            raise _non_finite(total, {**per_teacher, **penalties},
                              int(self.trainer.fit_loop.total_batch_idx))
        opt_student.zero_grad()
        opt_heads.zero_grad()
        self.manual_backward(total)
        clip = self.hparams.training["grad_clip"]
        if clip:
            if self._scales_gradients():  # fp16: Lightning unscales before it clips
                self.clip_gradients(opt_student, gradient_clip_val=clip,
                                    gradient_clip_algorithm="norm")
            else:
                # true gradients (fp32, or bf16 autocast with fp32 weights): the same
                # clip_grad_norm_ that Lightning calls, which it refuses for fused
                # optimisers under any mixed precision, bf16 included
                torch.nn.utils.clip_grad_norm_(self.student.parameters(), clip)
        opt_student.step()
        opt_heads.step()
        for sched in self._step_schedulers():
            sched.step()
        bs = batch[0].num_graphs
        self.log("train/loss", total, prog_bar=True, batch_size=bs)
        for label, value in per_teacher.items():
            self.log(f"train/loss/{label}", value, batch_size=bs)
        return total

    def validation_step(self, batch, batch_idx: int):
        s, targets, total, per_teacher = self._losses(batch)
        bs = batch[0].num_graphs
        # logged, not added: val/loss stays comparable with runs that had no relational term
        for label, value in self._relational_terms(s, targets).items():
            self.log(f"val/relational/{label}", value, batch_size=bs, sync_dist=True)
        # the validation loader is not shuffled: its first molecules are a fixed sample
        have = sum(len(x) for x in self._rank_sample)
        if have < self.rank_molecules:
            self._rank_sample.append(s[:self.rank_molecules - have].detach().float().cpu())
        self.log("val/loss", total, prog_bar=True, batch_size=bs, sync_dist=True)
        for label, value in per_teacher.items():
            self.log(f"val/loss/{label}", value, batch_size=bs, sync_dist=True)
            if self.use_mi and label in self.marginals:
                t, ok = targets[label]
                if ok.any():
                    marginal = self.marginals[label].nll(t[ok]).mean()
                    # per_teacher is the NLL per dimension (unscaled): back to whole-vector nats
                    conditional = value * self.teacher_dims[label]
                    self.log(f"val/mi/{label}", marginal - conditional, batch_size=int(ok.sum()),
                             sync_dist=True)

    def on_validation_epoch_start(self) -> None:
        self._rank_sample = []

    def on_validation_epoch_end(self) -> None:
        if self._rank_sample:
            # rank 0's sample under DDP: a diagnostic, not worth a gather
            self.log("val/effective_rank", effective_rank(torch.cat(self._rank_sample)),
                     rank_zero_only=True)
            self._rank_sample = []
        for sched in self._plateau_schedulers():
            metric = self.trainer.callback_metrics.get("val/loss")
            if metric is not None:
                sched.step(metric)

    # -- optimisers ---------------------------------------------------------------------
    def _scales_gradients(self) -> bool:
        """Whether fp16 mixed precision's GradScaler scales the gradients until the step."""
        trainer = self._trainer
        return trainer is not None and getattr(trainer.precision_plugin, "scaler", None) is not None

    def configure_optimizers(self):
        t = self.hparams.training
        head_params = list(self.objective.parameters())
        # fused: one kernel over all parameters; measured 4.9x faster than the default
        # (foreach) step on 2 CPU cores for the zinc recipe's 5.5M head+student parameters
        # (not under fp16's gradient scaling: Lightning's clipping needs unscaled gradients)
        fused = (all(p.device.type in ("cpu", "cuda") for p in self.parameters())
                 and not self._scales_gradients())
        opt_student = torch.optim.AdamW(self.student.parameters(), lr=t["lr"],
                                        weight_decay=t["weight_decay"], fused=fused)
        opt_heads = torch.optim.AdamW(head_params, lr=t["head_lr"] or t["lr"],
                                      weight_decay=t["weight_decay"], fused=fused)
        optimizers = [opt_student, opt_heads]
        if t["scheduler"] == "none":
            return optimizers
        if t["scheduler"] == "plateau":
            scheds = [{"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5,
                                                                              patience=2),
                       "interval": "epoch", "monitor": "val/loss"} for o in optimizers]
            return optimizers, scheds
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = t["warmup_steps"]

        def cosine_with_warmup(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

        scheds = [{"scheduler": torch.optim.lr_scheduler.LambdaLR(o, cosine_with_warmup),
                   "interval": "step"} for o in optimizers]
        return optimizers, scheds

    def _schedulers(self) -> list:
        s = self.lr_schedulers()
        return [] if s is None else (s if isinstance(s, list) else [s])

    def _step_schedulers(self) -> list:
        return [s for s in self._schedulers()
                if not isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau)]

    def _plateau_schedulers(self) -> list:
        return [s for s in self._schedulers()
                if isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau)]

    # -- exact resume: RNG state travels with the checkpoint --------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # plain tensors and tuples only: Lightning reloads checkpoints with weights_only=True
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        checkpoint["molmtd_rng"] = {
            "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
            "python": random.getstate()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rng = checkpoint.get("molmtd_rng")
        if rng:
            torch.set_rng_state(rng["torch"])
            kind, keys, pos, has_gauss, cached = rng["numpy"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
            random.setstate(rng["python"])
