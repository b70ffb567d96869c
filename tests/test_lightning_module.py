"""A NaN loss stops training with a clear error and keeps the last good checkpoint."""

from __future__ import annotations

import math

import pytest
import torch

from molmtd.distill import distill
from molmtd.errors import NonFiniteLossError
from molmtd.lightning_module import DistillModule
from molmtd.recipe import load_recipe


def _recipe(tmp_path, corpus_file):
    return load_recipe(data={
        "name": "nan", "seed": 0,
        "corpus": {"source": str(corpus_file), "max_molecules": None, "n_jobs": 1},
        "teachers": ["maccs", "ecfp-count:radius=2,size=128"],
        "store": {"cache_dir": str(tmp_path / "cache"), "n_jobs": 1, "shard_size": 100},
        "student": {"num_layers": 1, "hidden_dim": 16},
        "objective": {"head_hidden_dim": 16, "mi_fit_molecules": 100},
        "training": {"batch_size": 16, "max_epochs": 3, "val_fraction": 0.2,
                     "checkpoint_every_n_steps": 2, "early_stopping_patience": None,
                     "log_every_n_steps": 1},
    })


def test_nan_loss_stops_with_step_and_teacher_and_keeps_last_good_checkpoint(
        tmp_path, moses_smiles, monkeypatch):
    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:80]) + "\n")
    recipe = _recipe(tmp_path, corpus)
    real = DistillModule._losses
    calls = {"train": 0}

    def poisoned(self, batch):
        s, targets, total, per_teacher = real(self, batch)
        if self.training:
            calls["train"] += 1
            if calls["train"] == 7:  # the 7th training batch (step index 6)
                per_teacher = {**per_teacher, "maccs": per_teacher["maccs"] * math.nan}
                total = total * math.nan
        return s, targets, total, per_teacher

    monkeypatch.setattr(DistillModule, "_losses", poisoned)
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 6 .*teacher\(s\) maccs;"
                                                 r".*last.ckpt holds the last good state") as e:
        distill(recipe, out, progress=False)
    assert e.value.step == 6 and e.value.teachers == ["maccs"]
    last = out / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)  # our checkpoints: no pickle
    assert ckpt["global_step"] // 2 == 6  # saved after 6 good batches, nothing after
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values()
               if v.is_floating_point())
    assert not (out / "featurizer" / "config.json").exists()

    monkeypatch.setattr(DistillModule, "_losses", real)
    featurizer = distill(recipe, out, resume=True, progress=False)
    assert (featurizer / "config.json").is_file()
