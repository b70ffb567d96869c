"""The systems that ``molmtd evaluate --finetune`` compares, each at its defaults.

Every system is a function ``(kind, seed, train_smiles, y_train, test_smiles) ->
(predictions [n_test], best_epoch or None)``: values for regression, P(class 1) for
classification, NaN for a test molecule it could not read. Where a system early-stops it
holds out the same inner validation split (:func:`inner_split`, what
:class:`~molmtd.finetune.MTDRegressor` uses). The systems (:data:`SYSTEMS`):

- ``ft-base``, ``ft-base+ecfp``: MTDRegressor/MTDClassifier from the featurizer
  (molmtd-base), without and with ECFP-count features; ``ft-random``: the same architecture
  from random weights;
- ``base-mlp``, ``base-svr``: the frozen featurizer (its recommended readout) with the MLP
  probe, and with an RBF SVR/SVC whose C is chosen by 3-fold inner CV over :data:`C_GRID`;
  ``minimol-mlp``, ``minimol-svr``: the same two heads on frozen MiniMol;
- ``chemprop``: chemprop v2's D-MPNN from scratch at its CLI defaults;
- ``rf-ecfp``: a random forest (500 trees) on ECFP4 counts; ``svr-tanimoto``: SVR/SVC with a
  Tanimoto kernel on 2048-bit ECFP4, C by inner CV.

These are the systems of ``experiments/2026-12-07-finetune-eval.py``, moved here unchanged
(same inner split, C grid, seeds and defaults), so its result rows stay comparable.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molmtd.errors import MolmtdError

__all__ = ["C_GRID", "DEFAULT_FEATURIZER", "FROZEN_SYSTEMS", "SYSTEMS", "SystemRunner",
           "UnknownSystemError", "check_systems", "inner_split"]

log = logging.getLogger(__name__)

SYSTEMS: tuple[str, ...] = ("ft-base", "ft-base+ecfp", "ft-random", "base-mlp", "base-svr",
                            "minimol-mlp", "minimol-svr", "chemprop", "rf-ecfp", "svr-tanimoto")
FROZEN_SYSTEMS: tuple[str, ...] = ("base-mlp", "base-svr", "minimol-mlp", "minimol-svr")
C_GRID: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
DEFAULT_FEATURIZER = "molmtd-base"
_FINETUNE_PARAMS = {"ft-base": {}, "ft-base+ecfp": {"extra_features": ["ecfp-count"]},
                    "ft-random": {"pretrained": None}}
_CHEMPROP_EPOCHS = 50  # chemprop's CLI default


class UnknownSystemError(MolmtdError, ValueError):
    """A system name that is not one of :data:`SYSTEMS`."""


def check_systems(systems: Sequence[str]) -> list[str]:
    """The systems, in order, without repeats.

    Raises:
        UnknownSystemError: a name not in :data:`SYSTEMS` (the message lists the valid ones),
            or no system at all.
    """
    systems = list(dict.fromkeys(s.strip() for s in systems if s.strip()))
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        raise UnknownSystemError(
            f"unknown system(s) {', '.join(map(repr, unknown)) or '(none given)'}; valid: "
            f"{', '.join(SYSTEMS)}")
    return systems


def inner_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The inner (train, validation) split of ``n`` training molecules, as MTDRegressor's."""
    from molmtd.downstream.splits import random_split
    from molmtd.finetune.estimators import MTDRegressor, inner_validation_fraction

    return random_split(n, inner_validation_fraction(n, MTDRegressor().validation_fraction),
                        seed)


def _svm(kind: str, kernel: str, seed: int):
    """An SVR/SVC with C chosen by seeded 3-fold CV (ROC-AUC for classification)."""
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from sklearn.svm import SVC, SVR

    grid = {"C": list(C_GRID)}
    if kind == "regression":
        return GridSearchCV(SVR(kernel=kernel), grid, cv=KFold(3, shuffle=True,
                                                               random_state=seed))
    return GridSearchCV(SVC(kernel=kernel, probability=True, random_state=seed), grid,
                        scoring="roc_auc", cv=StratifiedKFold(3, shuffle=True,
                                                              random_state=seed))


def tanimoto_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto similarities of binary fingerprints.

    Written by hand: scikit-learn has no Tanimoto kernel, and RDKit's BulkTanimotoSimilarity
    works on bit vectors one row at a time, while this is two matrix products.

    Shapes:
        a: [n, d], b: [m, d] (0/1 float) -> [n, m]
    """
    inter = a @ b.T
    return inter / (a.sum(1)[:, None] + b.sum(1)[None, :] - inter + 1e-9)


def _best_weights_callback():
    """A Lightning callback that keeps the state of the best validation-loss epoch."""
    from lightning.pytorch.callbacks import Callback

    class BestWeights(Callback):
        def __init__(self):
            self.loss, self.state = float("inf"), None

        def on_validation_epoch_end(self, trainer, module):
            loss = float(trainer.callback_metrics.get("val_loss", float("inf")))
            if loss < self.loss or self.state is None:
                self.loss = loss
                self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    return BestWeights()


@dataclass
class SystemRunner:
    """Fits and predicts every system; holds what they share.

    Args:
        featurizer: the pretrained featurizer of the ``ft-`` and ``base-`` systems (path or
            released name).
        cache_dir: frozen embeddings (featurizer, MiniMol, ECFP) are kept there as
            ``<sha256 of molecules and source>.npy`` and reused; None: no cache.
        finetune_params: extra MTDRegressor/MTDClassifier parameters of the ``ft-`` systems
            (e.g. ``{"max_epochs": 5}``); empty: their defaults.
    """

    featurizer: str = DEFAULT_FEATURIZER
    cache_dir: Path | None = None
    finetune_params: dict = field(default_factory=dict)

    def predict(self, system: str, kind: str, seed: int, train_smiles: Sequence[str],
                y_train: np.ndarray, test_smiles: Sequence[str]
                ) -> tuple[np.ndarray, int | None]:
        """Fit ``system`` on the training molecules and predict the test molecules.

        Returns:
            ``(predictions [n_test], best_epoch)``; best_epoch is None where the system
            has none.

        Raises:
            UnknownSystemError: ``system`` is not in :data:`SYSTEMS`.
        """
        train_smiles, test_smiles = list(train_smiles), list(test_smiles)
        if system.startswith("ft-") and system in SYSTEMS:
            return self._finetuned(system, kind, seed, train_smiles, y_train, test_smiles)
        if system in FROZEN_SYSTEMS:
            return self._frozen(system, kind, seed, train_smiles, y_train, test_smiles), None
        if system == "chemprop":
            return _chemprop(kind, seed, train_smiles, y_train, test_smiles), None
        if system in ("rf-ecfp", "svr-tanimoto"):
            return self._classic(system, kind, seed, train_smiles, y_train, test_smiles), None
        check_systems([system])
        raise AssertionError(system)  # pragma: no cover - check_systems raised

    def _cache_key(self, source: str) -> str:
        """What identifies a source's embeddings in the cache file name."""
        if source != "featurizer":
            return source
        if self.featurizer == DEFAULT_FEATURIZER:
            return DEFAULT_FEATURIZER  # the experiment's key: its cached files stay valid
        from molmtd.teachers.distilled import DistilledTeacher

        return f"featurizer:{DistilledTeacher(str(self.featurizer)).version}:auto"

    def embed(self, source: str, smiles: list[str]) -> np.ndarray:
        """Frozen embeddings ``[n, d]`` (NaN rows where a molecule failed), cached.

        Args:
            source: "featurizer" (this runner's featurizer, its recommended readout) or a
                teacher spec (e.g. "minimol", "ecfp-count:radius=2,size=2048").
            smiles: the molecules, raw SMILES.
        """
        key = self._cache_key(source)
        path = None
        if self.cache_dir is not None:
            digest = hashlib.sha256(("\n".join(smiles) + key).encode()).hexdigest()[:16]
            path = Path(self.cache_dir) / f"{digest}.npy"
            if path.is_file():
                return np.load(path)
        if source == "featurizer":
            from molmtd import MTDFeaturizer

            emb = MTDFeaturizer(self.featurizer, on_error="nan").transform(smiles)
        else:
            from molmtd.molecules import standardize_many
            from molmtd.teachers import get_teacher

            keys, _ = standardize_many(smiles)
            ok = [i for i, k in enumerate(keys) if k is not None]
            out = get_teacher(source).embed([keys[i] for i in ok])
            emb = np.full((len(smiles), out.embeddings.shape[1]), np.nan, dtype=np.float32)
            emb[ok] = out.embeddings
        if path is not None:
            from molmtd.safeio import atomic_write

            path.parent.mkdir(parents=True, exist_ok=True)
            def write(tmp: Path) -> None:
                with open(tmp, "wb") as fh:  # a handle: np.save would append ".npy" to a name
                    np.save(fh, emb)

            atomic_write(path, write)
        return emb

    def _finetuned(self, system, kind, seed, train_s, y_train, test_s):
        from molmtd.finetune import MTDClassifier, MTDRegressor

        cls = MTDRegressor if kind == "regression" else MTDClassifier
        est = cls(self.featurizer, random_state=seed, **_FINETUNE_PARAMS[system],
                  **self.finetune_params).fit(train_s, y_train)
        if kind == "regression":
            return est.predict(test_s), est.best_epochs_[0]
        return est.predict_proba(test_s)[:, 1], est.best_epochs_[0]

    def _frozen(self, system, kind, seed, train_s, y_train, test_s):
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from molmtd.downstream.models import make_model, predict_scores

        emb = self.embed("featurizer" if system.startswith("base") else "minimol",
                         train_s + test_s)
        x_train, x_test = emb[:len(train_s)], emb[len(train_s):]
        keep = np.isfinite(x_train).all(1)
        if system.endswith("mlp"):
            model = make_model("mlp", kind, seed)
        else:
            model = make_pipeline(StandardScaler(), _svm(kind, "rbf", seed))
        model = make_pipeline(SimpleImputer(), model)  # a test molecule MiniMol masks: the mean
        model.fit(x_train[keep], y_train[keep])
        return predict_scores(model, x_test, kind)

    def _ecfp(self, smiles: list[str], count: bool) -> np.ndarray:
        spec = "ecfp-count:radius=2,size=2048" if count else "ecfp:radius=2,size=2048"
        return np.nan_to_num(self.embed(spec, smiles))

    def _classic(self, system, kind, seed, train_s, y_train, test_s):
        if system == "rf-ecfp":
            from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

            x = self._ecfp(train_s + test_s, count=True)
            cls = RandomForestRegressor if kind == "regression" else RandomForestClassifier
            model = cls(n_estimators=500, n_jobs=1, random_state=seed).fit(x[:len(train_s)],
                                                                           y_train)
            x_test = x[len(train_s):]
            if kind == "regression":
                return model.predict(x_test)
            return model.predict_proba(x_test)[:, 1]
        x = self._ecfp(train_s + test_s, count=False).astype(np.float64)
        a, b = x[:len(train_s)], x[len(train_s):]
        model = _svm(kind, "precomputed", seed).fit(tanimoto_kernel(a, a), y_train)
        k = tanimoto_kernel(b, a)
        return model.predict(k) if kind == "regression" else model.predict_proba(k)[:, 1]


def _chemprop(kind: str, seed: int, train_s: list[str], y_train: np.ndarray,
              test_s: list[str]) -> np.ndarray:
    """Chemprop v2 at its CLI defaults, trained from scratch.

    BondMessagePassing, mean aggregation, 50 epochs, the best validation epoch's weights
    (its checkpoint), targets scaled for regression; the inner split is :func:`inner_split`.
    """
    import torch
    from chemprop import data, featurizers, models, nn
    from lightning import pytorch as pl

    torch.manual_seed(seed)
    featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
    train_idx, val_idx = inner_split(len(train_s), seed)

    def points(smiles, y):
        out = []
        for s, v in zip(smiles, y, strict=True):
            try:
                out.append(data.MoleculeDatapoint.from_smi(s, [float(v)]))
            except Exception:  # noqa: BLE001 - chemprop raises on unparseable SMILES
                out.append(None)
        return out

    train_pts = points([train_s[i] for i in train_idx], y_train[train_idx])
    val_pts = points([train_s[i] for i in val_idx], y_train[val_idx])
    test_pts = points(test_s, np.zeros(len(test_s)))
    train_set = data.MoleculeDataset([p for p in train_pts if p is not None], featurizer)
    val_set = data.MoleculeDataset([p for p in val_pts if p is not None], featurizer)
    ok_test = [i for i, p in enumerate(test_pts) if p is not None]
    test_set = data.MoleculeDataset([test_pts[i] for i in ok_test], featurizer)
    if kind == "regression":
        scaler = train_set.normalize_targets()
        val_set.normalize_targets(scaler)
        ffn = nn.RegressionFFN(output_transform=nn.UnscaleTransform.from_standard_scaler(scaler))
    else:
        ffn = nn.BinaryClassificationFFN()
    model = models.MPNN(nn.BondMessagePassing(), nn.MeanAggregation(), ffn)
    # chemprop's CLI keeps the best validation epoch's checkpoint; held in memory here
    # (its checkpoint file needs an unpickling load)
    best = _best_weights_callback()
    trainer = pl.Trainer(logger=False, accelerator="cpu", devices=1,
                         max_epochs=_CHEMPROP_EPOCHS, callbacks=[best],
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(model, data.build_dataloader(train_set, num_workers=0, seed=seed),
                data.build_dataloader(val_set, num_workers=0, shuffle=False))
    model.load_state_dict(best.state)
    preds = trainer.predict(model, data.build_dataloader(test_set, num_workers=0,
                                                         shuffle=False))
    values = torch.cat(list(preds)).float().numpy().reshape(len(ok_test), -1)[:, 0]
    out = np.full(len(test_s), np.nan)
    out[ok_test] = values
    return out
