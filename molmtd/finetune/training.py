"""One fine-tuning run: frozen-encoder epochs on cached readouts, then the whole network.

A plain torch loop rather than a Lightning Trainer: the runs are small (hundreds to tens of
thousands of molecules, seconds per epoch), ``GridSearchCV`` starts dozens of them, and the
two phases need a readout cache that a Trainer has no place for. Each epoch is seeded from
``(seed, epoch)`` alone (shuffling and dropout), so a run resumed from an epoch checkpoint
continues exactly as the uninterrupted one would.

Schedule: for ``freeze_epochs`` epochs only the head trains, on readouts computed once
(the encoder is frozen, so every epoch would recompute the same values); then the encoder
joins at ``encoder_lr`` (delayed unfreezing, as CheMeleon's ablation favours). Early stopping
watches the validation loss in the last phase; the weights of the best epoch over all phases
are kept.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from molmtd.finetune.inputs import Prepared
from molmtd.finetune.network import FineTuneNet

__all__ = ["TrainSettings", "MemberResult", "train_member", "readouts", "masked_loss"]

log = logging.getLogger(__name__)

_EVAL_BATCH = 256


@dataclass
class TrainSettings:
    """The knobs of one run (the estimator's parameters, resolved)."""

    task: str  # "regression" or "classification"
    max_epochs: int
    freeze_epochs: int
    patience: int
    lr: float
    encoder_lr: float
    weight_decay: float
    batch_size: int
    device: str
    bf16: bool
    progress: bool = False


@dataclass
class MemberResult:
    """A finished run: the best epoch's weights and the validation curve."""

    state: dict[str, torch.Tensor]
    best_epoch: int  # 1-based
    history: list[dict] = field(default_factory=list)


def masked_loss(out: torch.Tensor, y: torch.Tensor, task: str,
                pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean loss over the labelled entries of ``y`` (NaN = no label).

    Shapes:
        - **input:** out, y ``[B, T]``; pos_weight ``[T]``
        - **output:** a scalar
    """
    mask = ~torch.isnan(y)
    target = torch.where(mask, y, torch.zeros_like(y))
    if task == "regression":
        loss = (out - target) ** 2
    else:
        loss = F.binary_cross_entropy_with_logits(out, target, pos_weight=pos_weight,
                                                  reduction="none")
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def _autocast(device: str, bf16: bool):
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def readouts(net: FineTuneNet, data: Prepared, device: str, bf16: bool = False) -> torch.Tensor:
    """The encoder's readout of every molecule in ``data``, float32 ``[m, readout_dim]``."""
    net.eval()
    out = []
    with torch.inference_mode(), _autocast(device, bf16):
        for s in range(0, len(data.keys), _EVAL_BATCH):
            rows = range(s, min(s + _EVAL_BATCH, len(data.keys)))
            out.append(net.encode(data.batch(rows).to(device)).float())
    if not out:
        return torch.zeros(0, net.readout_dim, device=device)
    return torch.cat(out).clone()  # out of inference mode, so autograd may read it


def _outputs(net: FineTuneNet, data: Prepared, extra: torch.Tensor, device: str,
             bf16: bool) -> torch.Tensor:
    net.eval()
    out = []
    with torch.no_grad(), _autocast(device, bf16):
        for s in range(0, len(data.keys), _EVAL_BATCH):
            rows = range(s, min(s + _EVAL_BATCH, len(data.keys)))
            out.append(net(data.batch(rows).to(device), extra[s:s + _EVAL_BATCH]).float())
    return torch.cat(out)


def _cpu_state(net: FineTuneNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def train_member(net: FineTuneNet, train: Prepared, y_train: np.ndarray, val: Prepared,
                 y_val: np.ndarray, settings: TrainSettings, seed: int,
                 pos_weight: np.ndarray | None = None,
                 cached: tuple[torch.Tensor, torch.Tensor] | None = None,
                 checkpoint: Path | None = None, fingerprint: str = "",
                 label: str = "") -> MemberResult:
    """Train one network with delayed unfreezing and early stopping.

    Args:
        net: the network, its feature and target statistics already set.
        train: the inner training molecules.
        y_train: float32 ``[m, T]`` targets (standardised for regression; 0/1 for
            classification), NaN where there is no label.
        val: the inner validation molecules (early stopping).
        y_val: their targets, as ``y_train``.
        settings: the run's knobs.
        seed: seeds the shuffling and dropout of every epoch (with the epoch number).
        pos_weight: ``[T]`` positive-class weights (classification).
        cached: the frozen encoder's readouts of ``train`` and ``val``, if already computed.
        checkpoint: a file written after every epoch; an existing one with the same
            ``fingerprint`` is resumed (a finished run is returned as it is).
        fingerprint: identifies the data and settings the checkpoint belongs to.
        label: a name for logs and progress bars.

    Returns:
        the best epoch's weights and the per-epoch history.

    Raises:
        ValueError: ``checkpoint`` belongs to another run (another fingerprint).
    """
    from molmtd.safeio import atomic_write

    device = settings.device
    net.to(device)
    yt = torch.as_tensor(y_train, dtype=torch.float32, device=device)
    yv = torch.as_tensor(y_val, dtype=torch.float32, device=device)
    xt = torch.as_tensor(train.extra, dtype=torch.float32, device=device)
    xv = torch.as_tensor(val.extra, dtype=torch.float32, device=device)
    pw = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32,
                                                         device=device)
    encoder_params = list(net.encoder.parameters())
    head_params = list(net.head.parameters())
    optimizer = torch.optim.AdamW(
        [{"params": head_params, "lr": settings.lr},
         {"params": encoder_params, "lr": settings.encoder_lr}],
        weight_decay=settings.weight_decay)
    frozen_only = settings.freeze_epochs >= settings.max_epochs
    start, history, best_loss, best_epoch, bad = 0, [], float("inf"), 0, 0
    best_state = _cpu_state(net)
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if saved.get("fingerprint") != fingerprint:
            raise ValueError(f"checkpoint {checkpoint} belongs to another run (other data or "
                             "parameters); remove it or write to another folder")
        best_state, best_epoch = saved["best_state"], int(saved["best_epoch"])
        history = list(saved["history"])
        if saved.get("finished"):
            log.info("%s: finished earlier (best epoch %d), loaded from %s", label, best_epoch,
                     checkpoint)
            return MemberResult(best_state, best_epoch, history)
        net.load_state_dict(saved["state"])
        optimizer.load_state_dict(saved["optimizer"])
        start, best_loss, bad = int(saved["epoch"]), float(saved["best_loss"]), int(saved["bad"])
        log.info("%s: resuming after epoch %d of %d", label, start, settings.max_epochs)

    def save(epoch: int, finished: bool) -> None:
        if checkpoint is None:
            return
        payload = {"fingerprint": fingerprint, "epoch": epoch, "finished": finished,
                   "state": _cpu_state(net), "optimizer": optimizer.state_dict(),
                   "best_state": best_state, "best_epoch": best_epoch, "best_loss": best_loss,
                   "bad": bad, "history": history}
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(checkpoint, lambda tmp: torch.save(payload, tmp))

    if start < settings.freeze_epochs and cached is None:
        cached = (readouts(net, train, device, settings.bf16),
                  readouts(net, val, device, settings.bf16))
    epochs = range(start, settings.max_epochs)
    if settings.progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=label or "fine-tuning", initial=start,
                      total=settings.max_epochs, unit="epoch")
    n = len(train.keys)
    for epoch in epochs:
        head_only = epoch < settings.freeze_epochs
        started = time.perf_counter()
        torch.manual_seed(seed * 1_000_003 + epoch)
        order = np.random.default_rng([seed, epoch]).permutation(n)
        net.train()
        net.encoder.train(not head_only)
        for p in encoder_params:
            p.requires_grad_(not head_only)
        total, count = 0.0, 0
        for s in range(0, n, settings.batch_size):
            rows = order[s:s + settings.batch_size]
            if len(rows) < 2 and n >= 2:
                continue  # a one-molecule batch gives a degenerate gradient step
            with _autocast(device, settings.bf16):
                if head_only:
                    out = net.head_forward(cached[0][rows], xt[rows])
                else:
                    out = net(train.batch(rows).to(device), xt[rows])
                loss = masked_loss(out.float(), yt[rows], settings.task, pw)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimizer.step()
            total, count = total + float(loss.detach()) * len(rows), count + len(rows)
        with torch.no_grad():
            if head_only:
                net.eval()
                out = net.head_forward(cached[1], xv)
            else:
                out = _outputs(net, val, xv, device, settings.bf16)
            val_loss = float(masked_loss(out.float(), yv, settings.task, pw))
        history.append({"epoch": epoch + 1, "phase": "head" if head_only else "full",
                        "train_loss": total / max(count, 1), "val_loss": val_loss,
                        "seconds": time.perf_counter() - started})
        if settings.progress:
            epochs.set_postfix(val_loss=f"{val_loss:.4f}", phase=history[-1]["phase"])
        if val_loss < best_loss:
            best_loss, best_epoch, bad = val_loss, epoch + 1, 0
            best_state = _cpu_state(net)
        else:
            bad += 1
        if epoch + 1 == settings.freeze_epochs and not frozen_only:
            bad = 0  # patience counts in the unfrozen phase
        stop = bad >= settings.patience and (frozen_only or not head_only)
        save(epoch + 1, finished=stop or epoch + 1 == settings.max_epochs)
        if stop:
            log.info("%s: early stop after epoch %d (best %d, val loss %.4f)", label,
                     epoch + 1, best_epoch, best_loss)
            break
    if settings.progress:
        epochs.close()
    return MemberResult(best_state, best_epoch, history)
