"""MTDRegressor and MTDClassifier: fine-tune a distilled featurizer on your own labels.

scikit-learn estimators (``__init__`` stores arguments; ``fit`` does the work; fitted
attributes end in ``_``), so they clone, pickle, and go into ``Pipeline`` and
``GridSearchCV``. Fitted weights are kept as numpy arrays (pickling an estimator never
pickles a torch module) and :meth:`save` writes them as safetensors plus JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from molmtd.errors import InvalidMoleculeError

__all__ = ["MTDRegressor", "MTDClassifier", "MIN_MOLECULES"]

log = logging.getLogger(__name__)

#: fewer labelled molecules than this cannot be split into training and validation
MIN_MOLECULES = 10


def inner_validation_fraction(n: int, fraction: float) -> float:
    """The share of ``n`` training molecules held out for early stopping.

    ``fraction``, but at least two molecules: one cannot rank epochs.
    """
    return max(fraction, 2.0 / n)


class _MTDFineTuner(BaseEstimator):
    """Shared fitting, prediction and persistence of the two estimators (not public)."""

    _task = "regression"
    _parameter_constraints: dict = {
        "featurizer": [str, os.PathLike],
        "pretrained": ["boolean", None],
        "readout": [StrOptions({"embedding", "layers"})],
        "extra_features": [list, tuple, str, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "freeze_epochs": [Interval(Integral, 0, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "encoder_lr": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "head_hidden": [Interval(Integral, 1, None, closed="left")],
        "head_layers": [Interval(Integral, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation_split": [StrOptions({"random", "scaffold"})],
        "n_models": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "device": [str],
        "precision": [StrOptions({"auto", "32-true", "bf16-mixed"})],
        "on_error": [StrOptions({"raise", "nan"})],
        "progress": ["boolean"],
    }

    def __init__(self, featurizer: str | os.PathLike = "molmtd-base", *,
                 pretrained: bool | None = True, readout: str = "embedding",
                 extra_features: list[str] | None = None, max_epochs: int = 30,
                 freeze_epochs: int = 5, patience: int = 5, lr: float = 1e-3,
                 encoder_lr: float = 1e-5, weight_decay: float = 1e-4, batch_size: int = 32,
                 head_hidden: int = 256, head_layers: int = 1, dropout: float = 0.1,
                 validation_fraction: float = 0.1, validation_split: str = "random",
                 n_models: int = 1, random_state: int = 0, device: str = "cpu",
                 precision: str = "auto", on_error: str = "nan", progress: bool = False):
        self.featurizer = featurizer
        self.pretrained = pretrained
        self.readout = readout
        self.extra_features = extra_features
        self.max_epochs = max_epochs
        self.freeze_epochs = freeze_epochs
        self.patience = patience
        self.lr = lr
        self.encoder_lr = encoder_lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.head_hidden = head_hidden
        self.head_layers = head_layers
        self.dropout = dropout
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.n_models = n_models
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.on_error = on_error
        self.progress = progress

    # -- inputs -------------------------------------------------------------------------
    def _extra_specs(self) -> list[str]:
        if self.extra_features is None:
            return []
        if isinstance(self.extra_features, str):
            return [self.extra_features]
        return [str(s) for s in self.extra_features]

    def _prepare(self, X, standardize: dict, stage: str):
        """Molecules -> Prepared; invalid ones raise or are reported per ``on_error``."""
        from molmtd.featurizer import _describe_failures, as_molecule_list
        from molmtd.finetune.inputs import prepare_molecules

        items = as_molecule_list(X)
        data = prepare_molecules(items, standardize, self._extra_specs())
        if data.reasons:
            first = min(data.reasons)
            if self.on_error == "raise":
                raw = items[first] if isinstance(items[first], str) else None
                raise InvalidMoleculeError(first, data.reasons[first] + " (pass on_error='nan'"
                                           " to skip invalid molecules)", raw)
            what = ("were dropped from training" if stage == "fit"
                    else "get NaN predictions")
            message = (f"{type(self).__name__}: {len(data.reasons)} of {len(items)} molecules "
                       f"are invalid and {what}: {_describe_failures(data.reasons, items)}")
            log.debug(message)
            warnings.warn(message, UserWarning, stacklevel=4)
        return data

    def _targets(self, y, n: int) -> np.ndarray:
        """``y`` as float32 ``[n, T]`` (NaN = missing); remembers whether it was 1-D."""
        y = np.asarray(y)
        if y.ndim not in (1, 2) or y.shape[0] != n:
            raise ValueError(f"y must have one row per molecule ({n}) and one column per task; "
                             f"got shape {y.shape}")
        self._y_1d_ = y.ndim == 1
        return y.reshape(n, -1)

    # -- fitting ------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, checkpoint_dir: str | os.PathLike | None = None):
        """Fine-tune ``n_models`` networks on molecules ``X`` and labels ``y``.

        Args:
            X: SMILES strings or RDKit Mols: a list, a pandas Series, a one-column DataFrame
                or a 1-D array (as :class:`~molmtd.featurizer.MTDFeaturizer` accepts them).
            y: ``[n]`` or ``[n, n_tasks]`` labels; NaN marks a missing label (masked in the
                loss).
            checkpoint_dir: a folder for per-epoch checkpoints; a later ``fit`` with the same
                data and parameters resumes from them (what ``molmtd finetune --resume``
                uses).

        Returns:
            self

        Raises:
            InvalidMoleculeError: with ``on_error="raise"``, the first invalid molecule.
            ValueError: fewer than 10 labelled molecules, a task with a constant target
                or a single class, or a y of the wrong shape.
            FileNotFoundError: unknown featurizer.
        """
        import torch

        from molmtd.artifact import load_artifact
        from molmtd.finetune.network import FineTuneNet
        from molmtd.finetune.training import TrainSettings, readouts, train_member
        from molmtd.precision import BF16, resolve_precision

        artifact = load_artifact(self.featurizer, device="cpu", readout="embedding")
        standardize = dict(artifact.config["standardize"])
        items_y = self._targets(y, _n_items(X))
        data = self._prepare(X, standardize, "fit")
        y_all = self._encode_targets(items_y)[data.valid]
        labelled = ~np.isnan(y_all).all(axis=1)
        if not labelled.all():
            log.info("%d molecules have no label for any task; they are not used",
                     int((~labelled).sum()))
            data, y_all = data.subset(np.flatnonzero(labelled)), y_all[labelled]
        self._check_targets(y_all)
        bf16 = resolve_precision(self.precision, _accelerator(self.device)) == BF16
        settings = TrainSettings(self._task, self.max_epochs, self.freeze_epochs, self.patience,
                                 float(self.lr), float(self.encoder_lr),
                                 float(self.weight_decay), self.batch_size, self.device, bf16,
                                 self.progress)
        pretrained = bool(self.pretrained)
        student_config = dict(artifact.config["student"])
        pretrained_state = {k: v.clone() for k, v in artifact.student.state_dict().items()}
        shared_readouts = None  # a pretrained encoder gives every member the same readouts
        fingerprint = self._fingerprint(data.keys, y_all)
        members, histories, best, splits = [], [], [], []
        for k in range(self.n_models):
            seed = self.random_state + k
            train_rows, val_rows = self._inner_split(data.keys, y_all, seed)
            torch.manual_seed(seed)
            encoder = type(artifact.student).from_config(student_config)
            if pretrained:
                encoder.load_state_dict(pretrained_state)
            net = FineTuneNet(encoder, self.readout, data.extra.shape[1], y_all.shape[1],
                              self.head_hidden, self.head_layers, self.dropout).to(self.device)
            if pretrained and shared_readouts is None or not pretrained:
                all_readouts = readouts(net, data, self.device, bf16)
                if pretrained:
                    shared_readouts = all_readouts
            else:
                all_readouts = shared_readouts
            y_scaled = self._set_statistics(net, all_readouts[train_rows],
                                            data.extra[train_rows], y_all, train_rows)
            result = train_member(
                net, data.subset(train_rows), y_scaled[train_rows], data.subset(val_rows),
                y_scaled[val_rows], settings, seed, self._pos_weight(y_all[train_rows]),
                cached=(all_readouts[train_rows], all_readouts[val_rows]),
                checkpoint=(None if checkpoint_dir is None
                            else Path(checkpoint_dir) / f"member_{k}.pt"),
                fingerprint=f"{fingerprint}-{k}", label=f"model {k + 1}/{self.n_models}")
            members.append({name: t.numpy() for name, t in result.state.items()})
            histories.append(result.history)
            best.append(result.best_epoch)
            splits.append({"train": len(train_rows), "validation": len(val_rows),
                           "split": self.validation_split, "seed": seed})
        self.members_ = members
        self.history_ = histories
        self.best_epochs_ = best
        self.inner_splits_ = splits
        self.student_config_ = student_config
        self.standardize_ = standardize
        self.n_tasks_ = int(y_all.shape[1])
        self.n_extra_ = int(data.extra.shape[1])
        self.n_train_molecules_ = len(data.keys)
        self.invalid_molecules_ = dict(data.reasons)
        self.n_features_in_ = 1
        self._nets = None
        return self

    def _fingerprint(self, keys: list[str], y: np.ndarray) -> str:
        """Data + parameters, so a checkpoint is only resumed by the run that wrote it."""
        digest = hashlib.sha256()
        digest.update("\n".join(keys).encode())
        digest.update(np.ascontiguousarray(y, dtype=np.float32).tobytes())
        params = {k: (str(v) if isinstance(v, os.PathLike) else v)
                  for k, v in self.get_params().items() if k not in ("progress", "device")}
        digest.update(json.dumps(params, sort_keys=True, default=str).encode())
        return digest.hexdigest()[:16]

    def _inner_split(self, keys: list[str], y: np.ndarray, seed: int):
        """Seeded inner training / validation rows (random or scaffold)."""
        from molmtd.downstream.splits import random_split, scaffold_split

        n = len(keys)
        fraction = inner_validation_fraction(n, self.validation_fraction)
        if self.validation_split == "scaffold":
            try:
                return scaffold_split(keys, fraction, seed)
            except ValueError as err:
                warnings.warn(f"{type(self).__name__}: {err}; using a random inner validation "
                              "split instead", UserWarning, stacklevel=4)
        return random_split(n, fraction, seed)

    def _set_statistics(self, net, readout, extra: np.ndarray, y: np.ndarray,
                        train_rows: np.ndarray) -> np.ndarray:
        """Fix the feature z-scores (and target scaling) on the inner training rows."""
        import torch

        features = torch.cat([readout.cpu(), torch.as_tensor(extra)], dim=1).double()
        mean = features.mean(0)
        std = features.std(0, unbiased=False)
        scale = std.clamp(min=1e-2)
        # extra columns (nearly) constant on the training molecules (ECFP bits none of them
        # has) are centred, not scaled: 1 / their std would blow up a test molecule with one
        d = readout.shape[1]
        scale[d:] = torch.where(std[d:] >= 1e-2, std[d:], torch.ones_like(std[d:]))
        net.feature_mean.copy_(mean.float())
        net.feature_scale.copy_(scale.float())
        if self._task != "regression":
            return y
        mu = np.nanmean(y[train_rows], axis=0)
        sd = np.nanstd(y[train_rows], axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        net.target_mean.copy_(torch.as_tensor(mu, dtype=torch.float32))
        net.target_scale.copy_(torch.as_tensor(sd, dtype=torch.float32))
        return ((y - mu) / sd).astype(np.float32)

    def _pos_weight(self, y: np.ndarray) -> np.ndarray | None:
        return None

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32)

    def _check_targets(self, y: np.ndarray) -> None:
        n = int((~np.isnan(y)).any(axis=1).sum())
        if n < MIN_MOLECULES:
            raise ValueError(f"{type(self).__name__} needs at least {MIN_MOLECULES} valid, "
                             f"labelled molecules to hold some out for early stopping; got {n}. "
                             "With so few, use a frozen featurizer and a simple model "
                             "(MTDFeaturizer + Ridge).")

    # -- prediction ---------------------------------------------------------------------
    def _networks(self):
        """The fitted networks, rebuilt from the stored weights (cached, never pickled)."""
        import torch

        from molmtd.finetune.network import FineTuneNet
        from molmtd.student import GNNStudent

        if getattr(self, "_nets", None) is None:
            nets = []
            for state in self.members_:
                encoder = GNNStudent.from_config(self.student_config_)
                net = FineTuneNet(encoder, self.readout, self.n_extra_, self.n_tasks_,
                                  self.head_hidden, self.head_layers, self.dropout)
                net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in
                                     state.items()})
                nets.append(net.eval().to(self.device))
            self._nets = nets
        return self._nets

    def _raw_predict(self, X) -> np.ndarray:
        """Ensemble mean of the outputs in user units (logits averaged as probabilities).

        Returns:
            float64 ``[n, n_tasks]``, NaN rows for invalid molecules.
        """
        import torch

        from molmtd.finetune.training import _EVAL_BATCH

        self._check_fitted()
        data = self._prepare(X, self.standardize_, "predict")
        out = np.full((data.n, self.n_tasks_), np.nan)
        if not len(data.keys):
            return out
        extra = torch.as_tensor(data.extra, dtype=torch.float32, device=self.device)
        total = np.zeros((len(data.keys), self.n_tasks_))
        starts = range(0, len(data.keys), _EVAL_BATCH)
        for k, net in enumerate(self._networks()):
            parts = []
            if self.progress:
                from tqdm.auto import tqdm

                starts = tqdm(range(0, len(data.keys), _EVAL_BATCH), unit="batch",
                              desc=f"predicting (model {k + 1}/{len(self.members_)})")
            with torch.inference_mode():
                for s in starts:
                    rows = range(s, min(s + _EVAL_BATCH, len(data.keys)))
                    value = net.predict_units(data.batch(rows).to(self.device),
                                              extra[s:s + _EVAL_BATCH])
                    if self._task != "regression":
                        value = torch.sigmoid(value)
                    parts.append(value.float().cpu().numpy())
            total += np.concatenate(parts)
        out[data.valid] = total / len(self.members_)
        return out

    def _check_fitted(self) -> None:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "members_")

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_nets", None)  # torch modules are rebuilt from members_ (numpy arrays)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.non_deterministic = False
        return tags

    # -- persistence --------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write the fitted model: ``model.safetensors``, ``estimator.json``, ``card.md``.

        Raises:
            sklearn.exceptions.NotFittedError: not fitted yet.
        """
        from molmtd.finetune.persistence import save_estimator

        self._check_fitted()
        return save_estimator(self, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike):
        """Load a model written by :meth:`save` (weights read only as safetensors).

        Raises:
            molmtd.errors.ArtifactError: not a saved model of this class, or unreadable.
        """
        from molmtd.finetune.persistence import load_estimator

        return load_estimator(directory, expected=cls)


def _n_items(X) -> int:
    from molmtd.featurizer import as_molecule_list

    return len(as_molecule_list(X))


def _accelerator(device: str) -> str:
    return "cuda" if str(device).startswith("cuda") else "cpu"


class MTDRegressor(RegressorMixin, _MTDFineTuner):
    """Fine-tune a distilled featurizer (default molmtd-base) to predict continuous labels.

    The encoder starts from the featurizer's weights (``pretrained=None`` or ``False``: the
    same architecture from random weights). A feed-forward head reads its readout (plus
    optional extra molecule-level features); for ``freeze_epochs`` epochs only the head
    trains, then the encoder joins at the lower ``encoder_lr``. Early stopping watches the
    loss on an inner validation split; the best epoch's weights are kept. Targets are
    standardised per task inside the model, so predictions come back in your units.

    Args:
        featurizer: a featurizer artifact folder or released name: its architecture, its
            standardisation and (unless ``pretrained`` is false) its weights.
        pretrained: True: start from the featurizer's weights; None/False: random weights.
        readout: "embedding" (the distilled embedding, 512-d for molmtd-base) or "layers"
            (every layer's pooled states before the projection, 3000-d for molmtd-base).
        extra_features: teacher specs whose features join the readout before the head,
            e.g. ``["ecfp-count"]`` or ``["physchem"]`` (chemprop's
            ``--features-generators``); see ``molmtd teachers``.
        max_epochs: epochs in all (frozen-encoder epochs included).
        freeze_epochs: head-only epochs before the encoder unfreezes (cheap: the readouts
            are computed once). 0 = the whole network from the start; ``>= max_epochs`` =
            a frozen encoder throughout.
        patience: epochs without a better validation loss before stopping (counted once
            the encoder is unfrozen).
        lr: learning rate of the head (AdamW).
        encoder_lr: learning rate of the encoder once unfrozen.
        weight_decay: AdamW weight decay.
        batch_size: molecules per step.
        head_hidden: hidden width of the head.
        head_layers: hidden layers of the head (0 = linear).
        dropout: dropout in the head.
        validation_fraction: share of the training molecules held out for early stopping
            (at least two molecules).
        validation_split: "random" or "scaffold" (no scaffold on both sides; falls back to
            random, with a warning, when there are too few scaffolds).
        n_models: an ensemble of this many networks (seeds ``random_state + k``, each its
            own inner split); predictions are their mean.
        random_state: seed of initialisation, splits, shuffling and dropout.
        device: torch device, e.g. "cpu" or "cuda".
        precision: "auto" (bf16 autocast where the device computes bf16 natively, as for
            distillation: :func:`molmtd.precision.resolve_precision`), "32-true" or
            "bf16-mixed".
        on_error: "nan" (default): invalid molecules are dropped from ``fit`` and get NaN
            rows from ``predict``, with a warning naming their positions; "raise": the first
            one raises :class:`~molmtd.errors.InvalidMoleculeError`.
        progress: show a progress bar per model.

    Attributes:
        members_: the fitted networks' weights (one dict of arrays per model).
        history_: per model, per epoch ``{epoch, phase, train_loss, val_loss}``.
        best_epochs_: per model, the epoch whose weights were kept (1-based).
        inner_splits_: per model, the inner split's sizes, kind and seed.
        n_tasks_: number of targets.
        invalid_molecules_: input position -> reason, for molecules dropped in ``fit``.

    Shapes:
        fit: X ``[n]``, y ``[n]`` or ``[n, n_tasks]``; predict: ``[n]`` or ``[n, n_tasks]``
        (as y was), NaN rows for invalid molecules.

    Example:
        >>> model = MTDRegressor(max_epochs=20).fit(train_smiles, y_train)
        >>> model.predict(test_smiles)
        >>> model.save("runs/solubility"); MTDRegressor.load("runs/solubility")
    """

    _task = "regression"

    def _check_targets(self, y: np.ndarray) -> None:
        super()._check_targets(y)
        for t in range(y.shape[1]):
            col = y[:, t][~np.isnan(y[:, t])]
            if len(col) < 2 or np.nanstd(col) == 0:
                value = "no" if len(col) == 0 else f"{col[0]!r} for every"
                raise ValueError(f"target {t} is constant ({value} labelled molecule): there is "
                                 "nothing to learn; remove that column")

    def predict(self, X) -> np.ndarray:
        """Predict in the units of ``y``.

        Returns:
            float64 ``[n]`` (if fitted on a 1-D y) or ``[n, n_tasks]``; NaN rows for invalid
            molecules (``on_error="nan"``).

        Raises:
            InvalidMoleculeError: with ``on_error="raise"``.
        """
        out = self._raw_predict(X)
        return out[:, 0] if self._y_1d_ else out

    def score(self, X, y, sample_weight=None) -> float:
        """Mean R^2 over tasks, on the labelled entries of molecules that have a prediction."""
        from sklearn.metrics import r2_score

        pred = self._raw_predict(X)
        y = np.asarray(y, dtype=np.float64).reshape(len(pred), -1)
        scores = []
        for t in range(y.shape[1]):
            ok = ~np.isnan(y[:, t]) & ~np.isnan(pred[:, t])
            w = None if sample_weight is None else np.asarray(sample_weight)[ok]
            scores.append(r2_score(y[ok, t], pred[ok, t], sample_weight=w))
        return float(np.mean(scores))


class MTDClassifier(ClassifierMixin, _MTDFineTuner):
    """Fine-tune a distilled featurizer (default molmtd-base) on binary labels.

    One binary task (any two labels, e.g. 0/1 or "active"/"inactive") or several 0/1 tasks
    (a ``[n, n_tasks]`` y, NaN for missing labels). Training is as for
    :class:`MTDRegressor` (same parameters, see there), with a binary cross-entropy loss.

    Args:
        class_weight: "balanced" (default): each task's positives are weighted by
            negatives / positives in the loss, so a rare class is not ignored; None:
            unweighted.

    The other parameters are :class:`MTDRegressor`'s.

    Attributes:
        classes_: the two labels of a single task (sorted), or ``[0, 1]`` for several tasks.

    Shapes:
        predict: ``[n]`` labels for one task (float with NaN rows where molecules are
        invalid), ``[n, n_tasks]`` 0/1 for several; predict_proba: ``[n, 2]`` for one
        task, ``[n, n_tasks]`` positive-class probabilities for several.
    """

    _task = "classification"
    _parameter_constraints: dict = {**_MTDFineTuner._parameter_constraints,
                                    "class_weight": [StrOptions({"balanced"}), None]}

    def __init__(self, featurizer: str | os.PathLike = "molmtd-base", *,
                 pretrained: bool | None = True, readout: str = "embedding",
                 extra_features: list[str] | None = None, max_epochs: int = 30,
                 freeze_epochs: int = 5, patience: int = 5, lr: float = 1e-3,
                 encoder_lr: float = 1e-5, weight_decay: float = 1e-4, batch_size: int = 32,
                 head_hidden: int = 256, head_layers: int = 1, dropout: float = 0.1,
                 validation_fraction: float = 0.1, validation_split: str = "random",
                 n_models: int = 1, random_state: int = 0, device: str = "cpu",
                 precision: str = "auto", on_error: str = "nan", progress: bool = False,
                 class_weight: str | None = "balanced"):
        super().__init__(
            featurizer, pretrained=pretrained, readout=readout, extra_features=extra_features,
            max_epochs=max_epochs, freeze_epochs=freeze_epochs, patience=patience, lr=lr,
            encoder_lr=encoder_lr, weight_decay=weight_decay, batch_size=batch_size,
            head_hidden=head_hidden, head_layers=head_layers, dropout=dropout,
            validation_fraction=validation_fraction, validation_split=validation_split,
            n_models=n_models, random_state=random_state, device=device, precision=precision,
            on_error=on_error, progress=progress)
        self.class_weight = class_weight

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        if y.shape[1] == 1:
            col = y[:, 0]
            missing = np.array([_missing(v) for v in col])
            classes = np.unique(col[~missing].astype(col.dtype if col.dtype != object
                                                     else str))
            if len(classes) != 2:
                raise ValueError(f"{type(self).__name__} needs exactly two classes in y; got "
                                 f"{len(classes)}: {list(classes)[:5]}"
                                 + (" (a single class: there is nothing to learn)"
                                    if len(classes) == 1 else
                                    " (only binary tasks are supported)"))
            self.classes_ = classes
            out = np.full(len(col), np.nan, dtype=np.float32)
            out[~missing] = (col[~missing].astype(classes.dtype) == classes[1])
            return out[:, None]
        y = y.astype(np.float64)
        values = np.unique(y[~np.isnan(y)])
        if not set(values.tolist()) <= {0.0, 1.0}:
            raise ValueError(f"{type(self).__name__}: with several tasks, y must hold 0, 1 or "
                             f"NaN; got values {values[:5].tolist()}")
        for t in range(y.shape[1]):
            col = y[:, t][~np.isnan(y[:, t])]
            if len(np.unique(col)) < 2:
                raise ValueError(f"task {t} has a single class ({col[:1].tolist()} for every "
                                 "labelled molecule): there is nothing to learn; remove it")
        self.classes_ = np.array([0, 1])
        return y.astype(np.float32)

    def _pos_weight(self, y: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        pos = np.nansum(y, axis=0)
        neg = (~np.isnan(y)).sum(axis=0) - pos
        return (neg / np.maximum(pos, 1)).astype(np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (mean over the ensemble); NaN rows for invalid molecules.

        Returns:
            ``[n, 2]`` (columns in ``classes_`` order) for one task; ``[n, n_tasks]``
            positive-class probabilities for several.
        """
        p = self._raw_predict(X)
        if self.n_tasks_ == 1:
            return np.concatenate([1 - p, p], axis=1)
        return p

    def predict(self, X) -> np.ndarray:
        """Labels at probability 0.5.

        Returns:
            ``[n]`` labels from ``classes_`` for one task (an object array holding NaN for
            invalid molecules when the labels are not numbers); ``[n, n_tasks]`` 0/1 floats
            for several (NaN rows for invalid molecules).
        """
        p = self._raw_predict(X)
        invalid = np.isnan(p).any(axis=1)
        if self.n_tasks_ > 1:
            out = (p >= 0.5).astype(np.float64)
            out[invalid] = np.nan
            return out
        labels = self.classes_[(np.nan_to_num(p[:, 0]) >= 0.5).astype(int)]
        if not invalid.any():
            return labels
        numeric = np.issubdtype(labels.dtype, np.number)
        out = labels.astype(np.float64 if numeric else object)
        out[invalid] = np.nan
        return out

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (mean over tasks) on labelled molecules that have a prediction."""
        from sklearn.metrics import accuracy_score

        pred = self.predict(X)
        y = np.asarray(y)
        if self.n_tasks_ == 1:
            ok = np.array([not _missing(v) for v in pred])
            w = None if sample_weight is None else np.asarray(sample_weight)[ok]
            return float(accuracy_score(y[ok], pred[ok].astype(y.dtype), sample_weight=w))
        y = y.astype(np.float64)
        scores = []
        for t in range(y.shape[1]):
            ok = ~np.isnan(y[:, t]) & ~np.isnan(pred[:, t])
            scores.append(accuracy_score(y[ok, t], pred[ok, t]))
        return float(np.mean(scores))


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))
