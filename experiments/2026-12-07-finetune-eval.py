"""Issue 32's evaluation: fine-tuned molmtd-base against frozen heads, chemprop and classics.

Report tasks, random and scaffold splits (80/20, seeded), every system with its defaults
and, where it early-stops, the same inner validation split (``random_split(n_train,
max(0.1, 2 / n_train), seed)``, what MTDRegressor uses). Systems:

- ``ft-base``, ``ft-base+ecfp``: MTDRegressor/MTDClassifier from molmtd-base, without and
  with ECFP-count features; ``ft-random``: the same architecture from random weights;
- ``base-mlp``, ``base-svr``: frozen molmtd-base (its recommended readout), the MLP probe
  and an RBF SVR/SVC with C by 3-fold inner CV; ``minimol-mlp``, ``minimol-svr``: the same
  heads on frozen MiniMol;
- ``chemprop``: chemprop v2's D-MPNN from scratch at its defaults (50 epochs, best
  validation epoch);
- ``rf-ecfp``: random forest (500 trees) on ECFP counts; ``svr-tanimoto``: SVR/SVC with a
  Tanimoto kernel on 2048-bit ECFP4, C by inner CV.

One JSON line per (task, split, seed, system, n_train) in ``--out``: a rerun skips what
is done (resumable; stop it any time). ``--learning-curve 50,100,200,500`` subsamples the
training side. ``--table`` prints average ranks and mean scores per split. Run niced:

    nice -n 19 python experiments/2026-12-07-finetune-eval.py \
        --out experiments/results/2026-12-07-finetune-eval/runs.jsonl \
        --tasks photoswitch,freesolv --splits scaffold,random --seeds 0
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

SYSTEMS = ("ft-base", "ft-base+ecfp", "ft-random", "base-mlp", "base-svr", "minimol-mlp",
           "minimol-svr", "chemprop", "rf-ecfp", "svr-tanimoto")
_C_GRID = [0.1, 1.0, 10.0, 100.0]

log = logging.getLogger("finetune-eval")


def _inner_split(n: int, seed: int):
    from molmtd.downstream.splits import random_split

    return random_split(n, max(0.1, 2.0 / n), seed)


def _embed(spec: str, smiles: list[str]) -> np.ndarray:
    """Frozen embeddings, cached per system and molecule set under the per-user cache."""
    import hashlib

    from molmtd.paths import default_cache_dir

    digest = hashlib.sha256(("\n".join(smiles) + spec).encode()).hexdigest()[:16]
    path = default_cache_dir() / "experiments" / "2026-12-07-finetune-eval" / f"{digest}.npy"
    if path.is_file():
        return np.load(path)
    if spec == "molmtd-base":
        from molmtd import MTDFeaturizer

        emb = MTDFeaturizer("molmtd-base", on_error="nan").transform(smiles)
    else:
        from molmtd.molecules import standardize_many
        from molmtd.teachers import get_teacher

        keys, _ = standardize_many(smiles)
        ok = [i for i, k in enumerate(keys) if k is not None]
        out = get_teacher(spec).embed([keys[i] for i in ok])
        emb = np.full((len(smiles), out.embeddings.shape[1]), np.nan, dtype=np.float32)
        emb[ok] = out.embeddings
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    return emb


def _svm(kind: str, kernel: str, seed: int):
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from sklearn.svm import SVC, SVR

    if kind == "regression":
        return GridSearchCV(SVR(kernel=kernel), {"C": _C_GRID},
                            cv=KFold(3, shuffle=True, random_state=seed))
    return GridSearchCV(SVC(kernel=kernel, probability=True, random_state=seed),
                        {"C": _C_GRID}, scoring="roc_auc",
                        cv=StratifiedKFold(3, shuffle=True, random_state=seed))


def _frozen(system: str, kind: str, seed: int, train_s, y_train, test_s):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from molmtd.downstream.models import make_model, predict_scores

    spec = "molmtd-base" if system.startswith("base") else "minimol"
    emb = _embed(spec, list(train_s) + list(test_s))
    x_train, x_test = emb[:len(train_s)], emb[len(train_s):]
    keep = np.isfinite(x_train).all(1)
    if system.endswith("mlp"):
        model = make_model("mlp", kind, seed)
    else:
        model = make_pipeline(StandardScaler(), _svm(kind, "rbf", seed))
    model = make_pipeline(SimpleImputer(), model)  # a test molecule MiniMol masks: the mean
    model.fit(x_train[keep], y_train[keep])
    return predict_scores(model, x_test, kind)


def _ecfp(smiles, count: bool) -> np.ndarray:
    spec = "ecfp-count:radius=2,size=2048" if count else "ecfp:radius=2,size=2048"
    return np.nan_to_num(_embed(spec, list(smiles)))


def _classic(system: str, kind: str, seed: int, train_s, y_train, test_s):
    if system == "rf-ecfp":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        x = _ecfp(list(train_s) + list(test_s), count=True)
        cls = RandomForestRegressor if kind == "regression" else RandomForestClassifier
        model = cls(n_estimators=500, n_jobs=1, random_state=seed).fit(x[:len(train_s)],
                                                                       y_train)
        x_test = x[len(train_s):]
        return model.predict(x_test) if kind == "regression" else model.predict_proba(
            x_test)[:, 1]
    x = _ecfp(list(train_s) + list(test_s), count=False).astype(np.float64)
    a, b = x[:len(train_s)], x[len(train_s):]

    def tanimoto(p, q):
        inter = p @ q.T
        return inter / (p.sum(1)[:, None] + q.sum(1)[None, :] - inter + 1e-9)

    model = _svm(kind, "precomputed", seed).fit(tanimoto(a, a), y_train)
    k = tanimoto(b, a)
    return model.predict(k) if kind == "regression" else model.predict_proba(k)[:, 1]


def _finetuned(system: str, kind: str, seed: int, train_s, y_train, test_s):
    from molmtd.finetune import MTDClassifier, MTDRegressor

    params = {"ft-base": {}, "ft-base+ecfp": {"extra_features": ["ecfp-count"]},
              "ft-random": {"pretrained": None}}[system]
    cls = MTDRegressor if kind == "regression" else MTDClassifier
    est = cls(random_state=seed, **params).fit(list(train_s), y_train)
    if kind == "regression":
        return est.predict(list(test_s)), est.best_epochs_[0]
    return est.predict_proba(list(test_s))[:, 1], est.best_epochs_[0]


def _best_weights_callback():
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


def _chemprop(kind: str, seed: int, train_s, y_train, test_s):
    """Chemprop v2 at its CLI defaults, trained from scratch.

    BondMessagePassing, mean aggregation, 50 epochs, the best validation epoch's weights
    (its checkpoint), targets scaled for regression.
    """
    import torch
    from chemprop import data, featurizers, models, nn
    from lightning import pytorch as pl

    torch.manual_seed(seed)
    featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
    train_idx, val_idx = _inner_split(len(train_s), seed)

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
    best = _best_weights_callback()  # chemprop's CLI keeps the best validation epoch's checkpoint;
    # held in memory here (its checkpoint file needs an unpickling load)
    trainer = pl.Trainer(logger=False, accelerator="cpu", devices=1, max_epochs=50,
                         callbacks=[best], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data.build_dataloader(train_set, num_workers=0, seed=seed),
                data.build_dataloader(val_set, num_workers=0, shuffle=False))
    model.load_state_dict(best.state)
    preds = trainer.predict(model, data.build_dataloader(test_set, num_workers=0,
                                                         shuffle=False))
    values = torch.cat([p for p in preds]).float().numpy().reshape(len(ok_test), -1)[:, 0]
    out = np.full(len(test_s), np.nan)
    out[ok_test] = values
    return out


def run(out: Path, tasks, splits, seeds, systems, sizes, max_molecules) -> None:
    from molmtd.downstream.datasets import load_dataset, report_tasks
    from molmtd.downstream.metrics import PRIMARY_METRIC, score_predictions
    from molmtd.downstream.splits import make_split

    done = set()
    if out.is_file():
        done = {tuple(json.loads(line)["key"]) for line in out.read_text().splitlines() if line}
    out.parent.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        if task not in report_tasks():
            raise SystemExit(f"{task} is not a report task")
        smiles, y, kind = load_dataset(task, max_molecules=max_molecules)
        for split in splits:
            for seed in seeds:
                train, test = make_split(split, smiles, 0.2, seed,
                                         stratify=y if kind == "classification"
                                         and split == "random" else None)
                for size in sizes:
                    rows = train
                    if size and size < len(train):
                        rows = np.sort(np.random.default_rng(seed).choice(train, size,
                                                                          replace=False))
                    train_s = [smiles[i] for i in rows]
                    test_s = [smiles[i] for i in test]
                    for system in systems:
                        key = (task, split, seed, system, len(rows))
                        if key in done:
                            continue
                        t0 = time.perf_counter()
                        best = None
                        if system.startswith("ft-"):
                            pred, best = _finetuned(system, kind, seed, train_s, y[rows], test_s)
                        elif system in ("base-mlp", "base-svr", "minimol-mlp", "minimol-svr"):
                            pred = _frozen(system, kind, seed, train_s, y[rows], test_s)
                        elif system == "chemprop":
                            pred = _chemprop(kind, seed, train_s, y[rows], test_s)
                        else:
                            pred = _classic(system, kind, seed, train_s, y[rows], test_s)
                        ok = np.isfinite(pred)
                        scores = score_predictions(kind, y[test][ok], pred[ok])
                        row = {"key": list(key), "task": task, "split": split, "seed": seed,
                               "system": system, "n_train": len(rows), "kind": kind,
                               "metric": PRIMARY_METRIC[kind],
                               "score": scores[PRIMARY_METRIC[kind]], "scores": scores,
                               "n_test_scored": int(ok.sum()), "n_test": len(test),
                               "seconds": time.perf_counter() - t0, "best_epoch": best}
                        with out.open("a") as fh:
                            fh.write(json.dumps(row) + "\n")
                        print(json.dumps(row), flush=True)


def table(files: list[Path]) -> None:
    """Average rank (1 = best) and mean score per split; then the learning curves.

    Ranks are over the (task, seed) cells that every listed system finished.
    """
    import pandas as pd

    df = pd.DataFrame([json.loads(line) for out in files
                       if out.is_file() for line in out.read_text().splitlines() if line])
    df = df.drop_duplicates(subset=["task", "split", "seed", "system", "n_train"])
    full = df.groupby(["task", "split", "seed"])["n_train"].transform("max")
    main, curves = df[df["n_train"] == full], df
    for split, part in main.groupby("split"):
        wide = part.pivot_table(index=["task", "seed"], columns="system", values="score")
        wide = wide.dropna()
        ranks = wide.rank(axis=1, ascending=False)
        summary = pd.DataFrame({"average rank": ranks.mean(), "mean score": wide.mean(),
                                "cells": len(wide)}).sort_values("average rank")
        print(f"\n### {split} split ({len(wide)} task-seed cells: "
              f"{', '.join(sorted({t for t, _ in wide.index}))})\n")
        print(summary.round(3).to_markdown())
        print()
        print(wide.round(3).to_markdown())
    both = main[main["system"].isin(["ft-base", "ft-random"])]
    if both["system"].nunique() == 2:
        per_task = both.pivot_table(index=["split", "task"], columns="system", values="score")
        per_task["pretraining wins"] = per_task["ft-base"] > per_task["ft-random"]
        print("\n### ft-base against ft-random (mean over seeds, per task and split)\n")
        print(per_task.round(3).to_markdown())
        print(f"\npretrained better on {int(per_task['pretraining wins'].sum())} of "
              f"{len(per_task)} task-split pairs")
    sizes = curves[curves["n_train"] < full]
    if len(sizes):
        cells = set(zip(sizes["task"], sizes["split"], sizes["seed"], strict=True))
        mask = [c in cells for c in zip(curves["task"], curves["split"], curves["seed"],
                                        strict=True)]
        part = curves[mask].copy()
        part["size"] = np.where(part["n_train"] == full[mask], "all", part["n_train"].astype(str))
        print("\n### learning curves (score by training molecules; all = the whole training "
              "side)\n")
        wide = part.pivot_table(index=["task", "split", "system"], columns="size",
                                values="score")
        order = sorted((c for c in wide.columns if c != "all"), key=int) + ["all"]
        print(wide[[c for c in order if c in wide.columns]].round(3).to_markdown())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tasks", default="photoswitch,freesolv")
    parser.add_argument("--splits", default="scaffold,random")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--learning-curve", default="0",
                        help="training sizes, comma-separated (0 = the whole training split)")
    parser.add_argument("--max-molecules", type=int, default=None)
    parser.add_argument("--table", action="store_true",
                        help="print the tables of --out and of any --also files")
    parser.add_argument("--also", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.table:
        table([args.out, *args.also])
        return
    run(args.out, args.tasks.split(","), args.splits.split(","),
        [int(s) for s in args.seeds.split(",")], args.systems.split(","),
        [int(s) for s in args.learning_curve.split(",")], args.max_molecules)


if __name__ == "__main__":
    main()
