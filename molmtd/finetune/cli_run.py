"""``molmtd finetune`` and ``molmtd predict``: CSV in, a model folder / a CSV out.

Kill and rerun: ``finetune`` checkpoints every model after every epoch under
``OUT/checkpoints/``; ``--resume`` continues from there exactly (each epoch is seeded by
itself) and finished ensemble members are not trained again. The model files are written
only at the end, ``estimator.json`` last, so an interrupted run never leaves a folder that
looks finished; without ``--resume`` (or ``--overwrite``) a folder with checkpoints is
refused rather than silently restarted.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.finetune.persistence import ESTIMATOR_FILE, is_saved_model, save_estimator
from molmtd.safeio import atomic_write

__all__ = ["finetune_csv", "predict_csv", "read_table"]

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
CURVE = "validation_curve.csv"


def read_table(path: str | Path):
    """A CSV/TSV/parquet file as a pandas DataFrame (SMILES kept as strings).

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unsupported extension.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if suffix in (".csv", ".csv.gz"):
        return pd.read_csv(path)
    if suffix in (".tsv", ".tsv.gz"):
        return pd.read_csv(path, sep="\t")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise ValueError(f"{path}: expected a .csv, .tsv or .parquet table, got {suffix!r}")


def _column(df, name: str, what: str):
    if name not in df.columns:
        raise ValueError(f"{what} column {name!r} is not in the table; its columns are "
                         f"{list(df.columns)[:20]}")
    return df[name]


def _card(est, data: Path, n_rows: int, targets: Sequence[str], task: str) -> str:
    lines = [f"# Fine-tuned model ({type(est).__name__})", "", "## Data", "",
             f"- file: {data}", f"- rows: {n_rows}; used for training: "
             f"{est.n_train_molecules_}; invalid molecules dropped: "
             f"{len(est.invalid_molecules_)}", f"- task: {task}; targets: {', '.join(targets)}"]
    if est.invalid_molecules_:
        shown = list(est.invalid_molecules_.items())[:10]
        lines.append("- invalid rows (first 10): " + "; ".join(
            f"row {i}: {r}" for i, r in shown))
    lines += ["", "## Model", "",
              f"- encoder: {est.featurizer} "
              f"({'pretrained' if est.pretrained else 'random weights'}), readout {est.readout}",
              f"- extra features: {', '.join(est._extra_specs()) or 'none'}",
              f"- head: {est.head_layers} hidden layer(s) of {est.head_hidden}, "
              f"dropout {est.dropout}",
              f"- schedule: {est.freeze_epochs} head-only epochs, then the encoder at lr "
              f"{est.encoder_lr} (head {est.lr}); at most {est.max_epochs} epochs, patience "
              f"{est.patience}", "", "## Splits", ""]
    for k, split in enumerate(est.inner_splits_):
        lines.append(f"- model {k + 1}: {split['split']} inner split, seed {split['seed']}: "
                     f"{split['train']} training / {split['validation']} validation molecules")
    lines += ["", "## Validation curve and chosen epoch", ""]
    for k, (history, best) in enumerate(zip(est.history_, est.best_epochs_, strict=True)):
        lines.append(f"model {k + 1}: chosen epoch {best} of {len(history)} run")
        lines += ["", "| epoch | phase | train loss | validation loss |", "|---|---|---|---|"]
        lines += [f"| {h['epoch']}{' *' if h['epoch'] == best else ''} | {h['phase']} | "
                  f"{h['train_loss']:.4f} | {h['val_loss']:.4f} |" for h in history]
        lines.append("")
    loss = "MSE of standardised targets" if task == "regression" else "binary cross-entropy"
    lines.append(f"(losses: {loss}; the whole curve is in {CURVE})")
    return "\n".join(lines) + "\n"


def finetune_csv(data: str | Path, out: str | Path, *, smiles_column: str = "smiles",
                 targets: Sequence[str] = ("y",), task: str = "regression",
                 resume: bool = False, overwrite: bool = False, **params) -> Path:
    """Fine-tune on a table and write a model folder with its card.

    Args:
        data: CSV/TSV/parquet with a SMILES column and target columns (empty = missing).
        out: the model folder.
        smiles_column: the SMILES column.
        targets: target columns (several: a multi-task model).
        task: "regression" or "classification".
        resume: continue from ``out/checkpoints``.
        overwrite: replace a finished model or unfinished run in ``out``.
        **params: estimator parameters (see :class:`~molmtd.finetune.MTDRegressor`).

    Returns:
        ``out``.

    Raises:
        FileExistsError: ``out`` holds a finished model, or checkpoints without ``resume``.
        ValueError: a missing column, an unknown task, or what ``fit`` raises.
    """
    from molmtd.finetune.estimators import MTDClassifier, MTDRegressor

    out = Path(out)
    checkpoints = out / CHECKPOINTS
    if overwrite:
        (out / ESTIMATOR_FILE).unlink(missing_ok=True)
        shutil.rmtree(checkpoints, ignore_errors=True)
    if is_saved_model(out):
        raise FileExistsError(f"{out} already holds a finished model; pass --overwrite to "
                              "train it again, or choose another --out")
    if checkpoints.is_dir() and any(checkpoints.iterdir()) and not resume:
        raise FileExistsError(f"{out} holds an unfinished run ({checkpoints}); pass --resume "
                              "to continue it, or --overwrite to start again")
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")
    df = read_table(data)
    smiles = _column(df, smiles_column, "SMILES").tolist()
    y = np.column_stack([_column(df, t, "target").to_numpy() for t in targets])
    if task == "regression" or len(targets) > 1:
        y = y.astype(np.float64)
    cls = MTDRegressor if task == "regression" else MTDClassifier
    est = cls(**params)
    est.fit(smiles, y[:, 0] if len(targets) == 1 else y, checkpoint_dir=checkpoints)
    rows = [{"model": k + 1, **h} for k, history in enumerate(est.history_) for h in history]
    import pandas as pd

    atomic_write(out / CURVE, lambda tmp: pd.DataFrame(rows).to_csv(tmp, index=False))
    save_estimator(est, out, card=_card(est, Path(data), len(df), targets, task),
                   extra={"data": {"path": str(data), "rows": len(df),
                                   "smiles_column": smiles_column,
                                   "invalid_rows": {str(k): v for k, v in
                                                    est.invalid_molecules_.items()}},
                          "targets": list(targets), "task": task})
    shutil.rmtree(checkpoints, ignore_errors=True)  # the model is complete without them
    return out


def predict_csv(model: str | Path, data: str | Path, output: str | Path, *,
                smiles_column: str | None = None, progress: bool = False) -> dict:
    """Predict every row of a table; writes its columns plus one column per target.

    Rows stay in input order; invalid molecules get empty (NaN) predictions. Classifiers
    write the positive-class probability of each target.

    Returns:
        a summary: rows, invalid rows (positions and reasons), output path.

    Raises:
        molmtd.errors.ArtifactError: ``model`` is not a saved model.
        ValueError: the SMILES column is missing.
    """
    import warnings

    from molmtd.finetune.persistence import load_estimator

    est = load_estimator(model)
    meta = json.loads((Path(model) / ESTIMATOR_FILE).read_text())
    targets = meta.get("targets") or [f"task_{t}" for t in range(est.n_tasks_)]
    column = smiles_column or meta.get("data", {}).get("smiles_column", "smiles")
    df = read_table(data)
    smiles = _column(df, column, "SMILES").tolist()
    est.set_params(on_error="nan", progress=progress)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if type(est).__name__ == "MTDClassifier":
            p = est.predict_proba(smiles)
            values = p[:, 1:] if est.n_tasks_ == 1 else p
        else:
            values = np.asarray(est.predict(smiles), dtype=np.float64).reshape(len(df), -1)
    for w in caught:
        log.warning("%s", w.message)
    result = df.copy()
    for t, name in enumerate(targets):
        result[name if name not in df.columns else f"{name}_pred"] = values[:, t]
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, lambda tmp: result.to_csv(tmp, index=False))
    invalid = np.flatnonzero(np.isnan(values).any(axis=1)).tolist()
    summary = {"rows": len(df), "invalid_rows": invalid, "output": str(output)}
    log.info("wrote %d predictions to %s (%d invalid rows)", len(df), output, len(invalid))
    return summary
