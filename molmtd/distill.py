"""One distillation run from a recipe: caches, training on Lightning, featurizer artifact.

Run directory layout (``--out``)::

    recipe.yaml          the recipe as run (after --set overrides)
    checkpoints/         last.ckpt (every N steps; --resume continues from it), best.ckpt
    logs/metrics.csv     per-step and per-epoch losses and MI estimates, per teacher
    featurizer/          model.safetensors, config.json, card.md (written at the end)
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from molmtd.batching import SamplerPositionCallback
from molmtd.errors import MolmtdError, RecipeError
from molmtd.lightning_module import DistillModule
from molmtd.precision import resolve_precision
from molmtd.recipe import Recipe
from molmtd.safeio import atomic_write, atomic_write_text

__all__ = ["distill", "prepare", "RunDirectoryError", "RunInterruptedError"]

log = logging.getLogger(__name__)


class RunDirectoryError(RecipeError):
    """The output directory holds another run; the message says how to proceed."""


class RunInterruptedError(MolmtdError, RuntimeError):
    """Training stopped on SIGTERM; ``checkpoints/last.ckpt`` holds the last saved state."""


def prepare(recipe: Recipe):
    """Build every cache of the recipe (corpus, graphs, teacher embeddings) and open them."""
    from molmtd.datamodule import DistillDataModule

    dm = DistillDataModule(recipe)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _check_run_dir(out: Path, recipe: Recipe, resume: bool) -> Path | None:
    last = out / "checkpoints" / "last.ckpt"
    if resume:
        if not last.exists():
            log.info("--resume: no checkpoint in %s yet, starting training from scratch", out)
            return None
        saved = out / "recipe.yaml"
        if saved.is_file() and saved.read_text() != recipe.to_yaml():
            log.warning("--resume: the recipe differs from %s; continuing with the new one", saved)
        return last
    if last.exists():
        raise RunDirectoryError(
            f"{out} already holds a training run ({last}); pass --resume to continue it, or "
            f"choose another --out (or delete {out}) to start over")
    return None


def _feature_columns(field: str, wanted: list[str] | None, names: list[str]) -> list[int] | None:
    if wanted is None:
        return None
    unknown = [w for w in wanted if w not in names]
    if unknown or not wanted:
        raise RecipeError(f"student.{field}: unknown feature name(s) {unknown} (or an empty "
                          f"list); choose from {names}, or set null to use all")
    return [names.index(w) for w in wanted]


def _student_config(recipe: Recipe) -> dict:
    from molmtd.graphs import (
        ATOM_FEATURE_DIMS,
        ATOM_FEATURE_NAMES,
        BOND_FEATURE_DIMS,
        BOND_FEATURE_NAMES,
    )
    from molmtd.student import GNNStudent

    s = recipe.student
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, conv=s.conv,
                         num_layers=s.num_layers, hidden_dim=s.hidden_dim, out_dim=s.out_dim,
                         norm=s.norm, pooling=s.pooling, projection=s.projection,
                         dropout=s.dropout, residual=s.residual,
                         atom_columns=_feature_columns("atom_features", s.atom_features,
                                                       ATOM_FEATURE_NAMES),
                         bond_columns=_feature_columns("bond_features", s.bond_features,
                                                       BOND_FEATURE_NAMES),
                         positional_encoding=s.positional_encoding, virtual_node=s.virtual_node,
                         jk=s.jk, output_norm=s.output_norm, laplacian_pe=s.laplacian_pe)
    return student.config()


def _marginal_samples(dm, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(dm.train_indices, size=min(n, len(dm.train_indices)), replace=False))
    samples = {}
    for label, store in dm.stores.items():
        rows, ok = store.rows(idx)
        samples[label] = rows[ok]
    return samples


def distill(recipe: Recipe, out: str | Path, *, resume: bool = False,
            prepare_only: bool = False, progress: bool = True,
            teachers: list[str] | None = None) -> Path:
    """Run a recipe end to end and return the featurizer directory.

    Args:
        recipe: the validated recipe (see :func:`molmtd.recipe.load_recipe`).
        out: run directory.
        resume: continue from ``out/checkpoints/last.ckpt`` if it exists. Caches are always
            reused: finished embedding shards are never recomputed.
        prepare_only: build the caches and stop (run this once before a multi-node job).
        progress: show Lightning's progress bar.
        teachers: with ``prepare_only``, build only these teachers' caches (labels such as
            ``minimol``, or specs); several processes started so divide each store's shards.

    Raises:
        RunDirectoryError: ``out`` holds a run and ``resume`` is False.
    """
    out = Path(out)
    if teachers is not None:
        if not prepare_only:
            raise ValueError("--teachers selects the caches that --prepare-only builds; add "
                             "--prepare-only (training uses every teacher of the recipe)")
        from molmtd.datamodule import DistillDataModule

        dm = DistillDataModule(recipe)
        dm.build_teacher_caches(teachers)
        log.info("caches of %s ready under %s", ", ".join(teachers), dm.layout.root)
        return out
    ckpt = _check_run_dir(out, recipe, resume)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "recipe.yaml", recipe.to_yaml())
    L.seed_everything(recipe.training_seed, workers=True, verbose=False)
    # we save post-step state on purpose (manual optimisation): resume continues after it
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")

    dm = prepare(recipe)
    if prepare_only:
        log.info("caches ready under %s", dm.layout.root)
        return out
    t = recipe.training
    module = DistillModule(_student_config(recipe), dm.teacher_dims,
                           recipe.objective.model_dump(), t.model_dump(), statistics=dm.statistics)
    if t.compile:
        # in place (nn.Module.compile): parameter names, checkpoints and the artifact are
        # those of the plain student; graph sizes vary per batch, hence dynamic shapes
        module.student.compile(dynamic=True)
    if module.use_mi:
        module.fit_marginals(
            _marginal_samples(dm, recipe.objective.mi_fit_molecules, recipe.training_seed),
            n_modes=recipe.objective.n_modes, seed=recipe.training_seed)

    # Lightning counts one "step" per optimiser step; the student and the heads each have
    # one, so a recipe's steps (batches) are doubled for the Trainer's counters.
    n_opt = 2
    ckpt_dir = out / "checkpoints"
    monitor, mode = ("val/dev_probe", "max") if t.select_by == "dev_probe" else ("val/loss", "min")
    callbacks = [
        # rolling last.ckpt for --resume (mid-epoch: data position and RNG state included)
        ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=t.checkpoint_every_n_steps * n_opt,
                        save_top_k=0, save_last=True, enable_version_counter=False),
        ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode,
                        save_top_k=1, enable_version_counter=False),
        SamplerPositionCallback(),
    ]
    if t.select_by == "dev_probe":
        from molmtd.selection import DevProbeCallback

        callbacks.insert(0, DevProbeCallback())  # logs val/dev_probe before checkpoints read it
    if t.early_stopping_patience:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode,
                                       patience=t.early_stopping_patience))
    tr = recipe.trainer
    precision = resolve_precision(tr.precision, tr.accelerator)
    if precision != tr.precision:
        log.info("trainer.precision %s: training at %s", tr.precision, precision)
    trainer = L.Trainer(
        accelerator=tr.accelerator, devices=tr.devices, strategy=tr.strategy,
        num_nodes=tr.num_nodes, precision=precision,
        max_epochs=t.max_epochs, max_steps=t.max_steps * n_opt if t.max_steps > 0 else -1,
        val_check_interval=t.val_check_interval, log_every_n_steps=t.log_every_n_steps,
        # one folder per attempt: Lightning's CSVLogger would overwrite an earlier attempt's
        # metrics on --resume; _merge_metrics joins them into logs/metrics.csv
        logger=CSVLogger(save_dir=str(out), name="logs", version=_next_attempt(out / "logs")),
        callbacks=callbacks, enable_progress_bar=progress, enable_model_summary=progress,
        use_distributed_sampler=False,  # our sampler shards batches across ranks itself
        default_root_dir=str(out), num_sanity_val_steps=0,
    )
    try:
        started = time.perf_counter()
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None)
        module.fit_seconds = time.perf_counter() - started  # this attempt's training wall time
        best = ckpt_dir / "best.ckpt"
        if best.exists():
            # copy of the best weights, not a reference to the live module (the reference
            # bug); every rank loads them: under DDP the final validation is a collective
            # step. Our own checkpoints hold plain tensors and containers: never unpickle code
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state)
        metrics = _final_metrics(module, dm, trainer)
        if trainer.global_rank != 0:
            return out / "featurizer"  # rank 0 alone writes logs and the artifact
        _merge_metrics(out / "logs")
        if recipe.compression.dim is None:
            return _write_featurizer(out, recipe, module, dm, trainer, metrics)
        # the student as trained goes aside; out/featurizer appears once compressed, so a
        # run stopped in between has no featurizer and --resume redoes the last steps
        distilled = _write_featurizer(out, recipe, module, dm, trainer, metrics,
                                      directory="featurizer-distilled")
        return _compress(distilled, out / "featurizer", recipe, dm)
    except SIGTERMException as err:
        # Lightning's SIGTERMException is a SystemExit with code 0: a stopped run would
        # otherwise look like a finished one to the shell
        raise RunInterruptedError(
            f"training was stopped by SIGTERM at step {trainer.fit_loop.total_batch_idx} "
            f"(batch); {ckpt_dir / 'last.ckpt'} holds the last saved state; continue with "
            "--resume") from err


def _next_attempt(logs: Path) -> str:
    return f"attempt_{len(list(logs.glob('attempt_*')))}"


def _merge_metrics(logs: Path) -> None:
    """Concatenate every attempt's metrics.csv into logs/metrics.csv (by step)."""
    import pandas as pd

    parts = [pd.read_csv(p) for p in sorted(logs.glob("attempt_*/metrics.csv"))
             if p.stat().st_size > 0]
    if parts:
        merged = pd.concat(parts, ignore_index=True)
        atomic_write(logs / "metrics.csv", lambda tmp: merged.to_csv(tmp, index=False))


def _final_metrics(module, dm, trainer) -> dict[str, dict[str, float]]:
    metrics = trainer.validate(module, datamodule=dm, verbose=False)[0]
    per_teacher: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "val":
            per_teacher.setdefault(parts[2], {})[parts[1]] = float(value)
    per_teacher["total"] = {"loss": float(metrics.get("val/loss", float("nan")))}
    if "val/dev_probe" in metrics:
        per_teacher["total"]["dev_probe"] = float(metrics["val/dev_probe"])
    if "val/effective_rank" in metrics:
        per_teacher["total"]["effective_rank"] = float(metrics["val/effective_rank"])
    return per_teacher


def _compress(source: Path, target: Path, recipe: Recipe, dm) -> Path:
    """``target`` = ``source`` with its embedding replaced by the PCA of its layer readout.

    Fitted on a seeded sample of ``compression.molecules`` training molecules (their corpus
    keys), as experiments/compress.py did for the released molmtd-base.
    """
    from molmtd.compression import compress_layer_readout

    c = recipe.compression
    rng = np.random.default_rng(recipe.seed)
    pick = np.sort(rng.choice(dm.train_indices, min(c.molecules, len(dm.train_indices)),
                              replace=False))
    keys = dm.corpus.keys
    directory = compress_layer_readout(source, target, [keys[i] for i in pick], dim=c.dim,
                                       n_jobs=recipe.store.n_jobs, seed=recipe.seed,
                                       name=recipe.name)
    log.info("featurizer written to %s (embedding: PCA %d of the layer readout; as trained: "
             "%s)", directory, c.dim, source)
    return directory


def _write_featurizer(out: Path, recipe: Recipe, module, dm, trainer,
                      metrics: dict[str, dict[str, float]], directory: str = "featurizer") -> Path:
    from molmtd.artifact import save_artifact
    from molmtd.card import render_card

    info = {
        "name": recipe.name,
        "teachers": list(recipe.teachers),
        "teacher_labels": dict(zip(dm.labels, recipe.teachers, strict=True)),
        "corpus": {"source": str(recipe.corpus.source), "n_molecules": len(dm.corpus),
                   "n_train": int(len(dm.train_indices)), "n_val": int(len(dm.val_indices)),
                   "fingerprint": dm.corpus.fingerprint},
        "objective": recipe.objective.name,
        "embedding_dim": int(module.student.out_dim),
        "selected_by": recipe.training.select_by,
        "precision": str(trainer.precision),  # what trained (trainer.precision: auto resolved)
        "validation": metrics,
        "global_step": int(trainer.fit_loop.total_batch_idx + 1),  # optimisation steps
        "fit_seconds": round(float(getattr(module, "fit_seconds", 0.0)), 1),  # last attempt
        "recipe": recipe.model_dump(mode="json"),
    }
    directory = save_artifact(out / directory, module.student,
                              standardize=recipe.corpus.standardize.model_dump(), extra=info,
                              card=render_card(recipe, info))
    log.info("featurizer written to %s", directory)
    return directory
