"""`molmtd finetune` and `molmtd predict`: model folder, card, aligned rows, kill and rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from molmtd.artifact import make_random_artifact
from molmtd.cli import app

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:MTD.*invalid and were dropped:UserWarning")
FAST = ["--max-epochs", "3", "--freeze-epochs", "1", "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_random_artifact(tmp_path_factory.mktemp("ftcli") / "tiny", seed=0,
                                    hidden_dim=16, num_layers=2))


@pytest.fixture(scope="module")
def table(moses_smiles, tmp_path_factory) -> Path:
    from rdkit import Chem
    from rdkit.Chem import Crippen

    smiles = list(moses_smiles[:60])
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    df = pd.DataFrame({"mol": smiles, "logp": [Crippen.MolLogP(m) for m in mols],
                       "atoms": [float(m.GetNumHeavyAtoms()) for m in mols]})
    df.loc[::5, "atoms"] = np.nan  # missing labels of the second task
    df.loc[7, "mol"] = "not a molecule"
    path = tmp_path_factory.mktemp("data") / "train.csv"
    df.to_csv(path, index=False)
    return path


def test_finetune_then_predict_keeps_rows_aligned(tiny, table, tmp_path):
    runner = CliRunner()
    out = tmp_path / "ft"
    result = runner.invoke(app, ["finetune", str(table), "--smiles-column", "mol", "--target",
                                 "logp", "--target", "atoms", "--featurizer", tiny, "--out",
                                 str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert {"card.md", "estimator.json", "model.safetensors", "validation_curve.csv"} <= {
        p.name for p in out.iterdir()}
    assert not (out / "checkpoints").exists()
    card = (out / "card.md").read_text()
    for needed in ("## Data", "rows: 60", "invalid molecules dropped: 1", "row 7",
                   "## Splits", "random inner split", "chosen epoch", "| 1"):
        assert needed in card, needed
    curve = pd.read_csv(out / "validation_curve.csv")
    assert list(curve.columns) == ["model", "epoch", "phase", "train_loss", "val_loss",
                                  "seconds"]
    new = pd.DataFrame({"mol": ["CCO", "xyz", "c1ccccc1O"], "id": [1, 2, 3]})
    new.to_csv(tmp_path / "new.csv", index=False)
    result = runner.invoke(app, ["predict", str(out), str(tmp_path / "new.csv"), "-o",
                                 str(tmp_path / "pred.csv"), "--no-progress"])
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["mol", "id", "logp", "atoms"]
    assert pred["id"].tolist() == [1, 2, 3]
    assert pred.loc[1, ["logp", "atoms"]].isna().all()
    assert pred.loc[[0, 2], ["logp", "atoms"]].notna().all().all()
    assert json.loads(result.output)["invalid_rows"] == [1]
    # a finished folder is not overwritten by accident
    again = runner.invoke(app, ["finetune", str(table), "--smiles-column", "mol", "--target",
                                "logp", "--featurizer", tiny, "--out", str(out), *FAST])
    assert again.exit_code == 2 and "already holds a finished model" in again.output


def test_classification_and_clear_errors(tiny, table, tmp_path):
    df = pd.read_csv(table)
    df["active"] = (df["logp"] > df["logp"].median()).astype(int)
    df.to_csv(tmp_path / "cls.csv", index=False)
    runner = CliRunner()
    out = tmp_path / "cls"
    result = runner.invoke(app, ["finetune", str(tmp_path / "cls.csv"), "--smiles-column", "mol",
                                 "--target", "active", "--task", "classification",
                                 "--featurizer", tiny, "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["predict", str(out), str(tmp_path / "cls.csv"), "-o",
                                 str(tmp_path / "p.csv"), "--no-progress"])
    pred = pd.read_csv(tmp_path / "p.csv")
    p = pred["active_pred"].dropna()
    assert len(p) == 59 and ((p >= 0) & (p <= 1)).all()
    missing = runner.invoke(app, ["finetune", str(table), "--target", "nope", "--featurizer",
                                  tiny, "--out", str(tmp_path / "x"), *FAST])
    assert missing.exit_code == 2 and "column 'smiles' is not in the table" in missing.output
    for command in ("finetune", "predict"):
        assert runner.invoke(app, [command, "--help"]).exit_code == 0


def _run(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "molmtd.cli", "finetune", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_killed_run_resumes_to_the_same_model(tiny, table, tmp_path):
    args = ["--smiles-column", "mol", "--target", "logp", "--featurizer", tiny,
            "--max-epochs", "30", "--freeze-epochs", "0", "--patience", "30",
            "--batch-size", "8", "--no-progress"]
    checkpoint = tmp_path / "killed" / "checkpoints" / "member_0.pt"
    proc = _run([str(table), "--out", str(tmp_path / "killed"), *args])
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.is_file():
            try:
                if torch.load(checkpoint, weights_only=True)["epoch"] >= 3:
                    break
            except Exception:  # noqa: BLE001 - caught mid-rename; look again
                pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed: " + \
        proc.stdout.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = tmp_path / "killed"
    assert not (killed / "estimator.json").exists()  # never looks finished
    refused = _run([str(table), "--out", str(killed), *args])
    assert refused.wait() == 2 and "pass --resume" in refused.stdout.read()
    resumed = _run([str(table), "--out", str(killed), "--resume", "-v", *args])
    log = resumed.communicate()[0]
    assert resumed.returncode == 0, log
    assert "resuming after epoch" in log
    whole = _run([str(table), "--out", str(tmp_path / "whole"), *args])
    assert whole.wait() == 0
    from molmtd.finetune import MTDRegressor

    a, b = MTDRegressor.load(killed), MTDRegressor.load(tmp_path / "whole")
    np.testing.assert_allclose([h["val_loss"] for h in a.history_[0]],
                               [h["val_loss"] for h in b.history_[0]], rtol=1e-4)
    smiles = pd.read_csv(table)["mol"].drop(7).tolist()
    np.testing.assert_allclose(a.predict(smiles), b.predict(smiles), rtol=1e-4, atol=1e-4)
