"""Model selection by a development-task probe (molmtd.selection, training.select_by)."""

import pandas as pd
import torch

from molmtd.distill import distill
from molmtd.recipe import load_recipe


def test_select_by_dev_probe_keeps_the_epoch_with_the_best_probe(tmp_path, moses_smiles,
                                                                 monkeypatch):
    scores = iter([0.2, 0.9, 0.4, 0.9])  # epoch 1 is the best by the probe; then the final
    # validation of the released weights
    seen_shapes = []

    def fake_score(embed):
        x = embed(["CCO", "c1ccccc1", "CCN"])
        seen_shapes.append(x.shape)
        return {"taskA": 0.5, "mean": next(scores)}

    from molmtd.downstream import devprobe

    monkeypatch.setattr(devprobe, "dev_probe_score", fake_score)
    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:120]) + "\n")
    recipe = load_recipe(data={
        "name": "select", "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "teachers": ["maccs"], "store": {"cache_dir": str(tmp_path / "cache"), "n_jobs": 1},
        "student": {"num_layers": 2, "hidden_dim": 16},
        "objective": {"head_hidden_dim": 16, "mi_estimate": False},
        "training": {"batch_size": 32, "max_epochs": 3, "early_stopping_patience": None,
                     "select_by": "dev_probe", "log_every_n_steps": 1},
    })
    featurizer = distill(recipe, tmp_path / "out", progress=False)
    assert seen_shapes == [(3, 16)] * 4
    best = torch.load(tmp_path / "out" / "checkpoints" / "best.ckpt", weights_only=False)
    assert best["epoch"] == 1
    metrics = pd.read_csv(tmp_path / "out" / "logs" / "metrics.csv")
    # three epochs, then the final validation of the released (epoch 1) weights
    assert metrics["val/dev_probe"].dropna().round(3).tolist() == [0.2, 0.9, 0.4, 0.9]
    card = (featurizer / "card.md").read_text()
    assert "selected by: dev_probe" in card and "Effective rank" in card
    assert "Development-task probe of the released weights: 0.9000" in card
