"""MTDRegressor / MTDClassifier: the scikit-learn contract, bad inputs, persistence, resume.

Tiny data (60-80 MOSES molecules), a tiny random artifact and a few epochs: these test
behaviour, not accuracy (benchmarks/finetune_speed.py and docs/finetune.md measure that).
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from molmtd import MTDClassifier, MTDRegressor
from molmtd.artifact import make_random_artifact
from molmtd.errors import ArtifactError, InvalidMoleculeError
from molmtd.finetune.training import masked_loss

FAST = dict(max_epochs=3, freeze_epochs=1, patience=2, batch_size=16, head_hidden=16)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_random_artifact(tmp_path_factory.mktemp("ft") / "tiny", seed=0,
                                    hidden_dim=16, num_layers=2))


@pytest.fixture(scope="module")
def data(moses_smiles):
    """80 molecules with two learnable targets: heavy atoms and Crippen logP."""
    from rdkit import Chem
    from rdkit.Chem import Crippen

    smiles = moses_smiles[:80]
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    y = np.array([[m.GetNumHeavyAtoms(), Crippen.MolLogP(m)] for m in mols])
    return smiles, y


def test_fit_predict_round_trip_is_seeded_and_learns(tiny, data):
    smiles, y = data
    longer = {**FAST, "max_epochs": 30, "freeze_epochs": 25, "lr": 3e-3, "patience": 5}
    model = MTDRegressor(tiny, **longer).fit(smiles, y[:, 0])
    pred = model.predict(smiles)
    assert pred.shape == (80,) and np.isfinite(pred).all()
    # predictions are in the target's units (standardisation is undone inside the model)
    assert abs(pred.mean() - y[:, 0].mean()) < 2 * y[:, 0].std()
    assert model.score(smiles, y[:, 0]) > 0.2  # better than the mean on what it saw
    again = MTDRegressor(tiny, **longer).fit(smiles, y[:, 0])
    np.testing.assert_allclose(again.predict(smiles), pred, rtol=1e-5, atol=1e-5)
    history = model.history_[0]
    assert len(history) <= 30 and 1 <= model.best_epochs_[0] <= len(history)
    assert [h["phase"] for h in history[:25]] == ["head"] * min(25, len(history))
    assert all(h["phase"] == "full" for h in history[25:])


def test_pretrained_none_starts_from_random_weights(tiny, data):
    smiles, y = data
    args = dict(FAST, max_epochs=1, freeze_epochs=1)
    pre = MTDRegressor(tiny, **args).fit(smiles, y[:, 0])
    scratch = MTDRegressor(tiny, pretrained=None, random_state=5, **args).fit(smiles, y[:, 0])
    from safetensors.numpy import load_file

    art = load_file(f"{tiny}/model.safetensors")
    name = next(k for k in art if k.startswith("layers.0") and art[k].ndim == 2)
    # frozen for the only epoch: the pretrained encoder is the artifact's, the other is not
    np.testing.assert_array_equal(pre.members_[0][f"encoder.{name}"], art[name])
    assert not np.allclose(scratch.members_[0][f"encoder.{name}"], art[name])


def test_clone_pickle_pipeline_and_grid_search(tiny, data):
    smiles, y = data
    est = MTDRegressor(tiny, lr=3e-3, **FAST)
    fresh = clone(est)
    assert fresh.get_params() == est.get_params() and not hasattr(fresh, "members_")
    est.fit(smiles, y[:, 1])
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(smiles[:10]), est.predict(smiles[:10]))
    pipe = Pipeline([("model", MTDRegressor(tiny, **FAST))])
    search = GridSearchCV(pipe, {"model__freeze_epochs": [1, 3]}, cv=2).fit(smiles, y[:, 1])
    assert search.best_params_["model__freeze_epochs"] in (1, 3)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(smiles[:5]).shape == (5,)


def test_multitask_with_nan_labels(tiny, data):
    smiles, y = data
    y = y.copy()
    y[::3, 0] = np.nan
    y[1::4, 1] = np.nan
    model = MTDRegressor(tiny, **FAST).fit(smiles, y)
    pred = model.predict(smiles)
    assert pred.shape == (80, 2) and np.isfinite(pred).all()
    assert np.isfinite(model.score(smiles, y))


def test_masked_loss_ignores_missing_labels():
    out = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = torch.tensor([[0.0, float("nan")], [1.0, 1.0]])
    loss = masked_loss(out, y, "regression")
    assert loss.item() == pytest.approx((1 + 4 + 9) / 3)
    loss.backward()
    assert out.grad[0, 1] == 0  # no gradient from a missing label


def test_invalid_smiles_dropped_in_fit_and_nan_in_predict(tiny, data):
    smiles, y = data
    bad = list(smiles[:40])
    bad[3], bad[17] = "not-a-smiles", "C1CC"
    with pytest.warns(UserWarning, match=r"2 of 40 molecules are invalid and were dropped.*"
                                         r"input 3 \('not-a-smiles'\).*input 17"):
        model = MTDRegressor(tiny, **FAST).fit(bad, y[:40, 0])
    assert sorted(model.invalid_molecules_) == [3, 17]
    with pytest.warns(UserWarning, match=r"get NaN predictions.*input 1"):
        pred = model.predict(["CCO", "xyz", "c1ccccc1"])
    assert np.isnan(pred[1]) and np.isfinite(pred[[0, 2]]).all()
    with pytest.raises(InvalidMoleculeError, match="position 3|input 3|3"):
        MTDRegressor(tiny, on_error="raise", **FAST).fit(bad, y[:40, 0])


def test_constant_target_single_class_and_tiny_data_are_refused(tiny, data):
    smiles, y = data
    with pytest.raises(ValueError, match="target 0 is constant"):
        MTDRegressor(tiny, **FAST).fit(smiles[:30], np.full(30, 1.5))
    with pytest.raises(ValueError, match="single class"):
        MTDClassifier(tiny, **FAST).fit(smiles[:30], np.ones(30))
    with pytest.raises(ValueError, match=r"at least 10 valid, labelled molecules .*got 8"):
        MTDRegressor(tiny, **FAST).fit(smiles[:8], y[:8, 0])
    with pytest.raises(ValueError, match="only binary"):
        MTDClassifier(tiny, **FAST).fit(smiles[:30], np.arange(30) % 3)


def test_classifier_probabilities_labels_and_class_weights(tiny, data):
    smiles, y = data
    labels = np.where(y[:, 1] > np.quantile(y[:, 1], 0.8), "active", "inactive")
    model = MTDClassifier(tiny, **FAST).fit(smiles, labels)
    assert list(model.classes_) == ["active", "inactive"]
    proba = model.predict_proba(smiles)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert set(model.predict(smiles)) <= {"active", "inactive"}
    assert 0.0 <= model.score(smiles, labels) <= 1.0
    # balanced weights: positives ("inactive", 80%) weighted by negatives / positives
    w = model._pos_weight((labels == "inactive").astype(np.float32)[:, None])
    assert w[0] == pytest.approx(0.25, rel=0.05)


def test_save_and_load_without_pickle(tiny, data, tmp_path):
    smiles, y = data
    model = MTDRegressor(tiny, extra_features=["ecfp-count:radius=2,size=256"], n_models=2,
                         **FAST).fit(smiles, y)
    folder = model.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["card.md", "estimator.json",
                                                        "model.safetensors"]
    loaded = MTDRegressor.load(folder)
    np.testing.assert_array_equal(loaded.predict(smiles), model.predict(smiles))
    assert loaded.get_params() == {**model.get_params(), "featurizer": str(tiny)}
    with pytest.raises(ArtifactError, match="holds a 'MTDRegressor', not a MTDClassifier"):
        MTDClassifier.load(folder)
    # a pickle in place of the weights is refused, never unpickled
    (folder / "model.safetensors").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ArtifactError, match="never unpickles"):
        MTDRegressor.load(folder)


def test_checkpoints_resume_and_refuse_other_runs(tiny, data, tmp_path):
    smiles, y = data
    args = dict(FAST, max_epochs=4, patience=10)
    first = MTDRegressor(tiny, **args).fit(smiles, y[:, 0], checkpoint_dir=tmp_path)
    saved = torch.load(tmp_path / "member_0.pt", weights_only=True)
    assert saved["finished"] and saved["epoch"] == 4
    # rewind the checkpoint to epoch 2, as if killed there: the rerun continues it
    partial = dict(saved, finished=False, epoch=2, history=saved["history"][:2])
    torch.save(partial, tmp_path / "member_0.pt")
    second = MTDRegressor(tiny, **args).fit(smiles, y[:, 0], checkpoint_dir=tmp_path)
    assert [h["epoch"] for h in second.history_[0]] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="belongs to another run"):
        MTDRegressor(tiny, **args).fit(smiles, y[:, 1], checkpoint_dir=tmp_path)
    assert np.isfinite(first.predict(smiles[:3])).all()


def test_warnings_do_not_fire_on_clean_input(tiny, data):
    smiles, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MTDRegressor(tiny, **FAST).fit(smiles[:30], y[:30, 0]).predict(smiles[:5])


def test_exported_lazily_without_importing_torch():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, molmtd; from molmtd import MTDClassifier, MTDRegressor; "
            "assert {'MTDRegressor', 'MTDClassifier'} <= set(molmtd.__all__); "
            "MTDRegressor(); assert 'torch' not in sys.modules, 'torch imported'")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root,
                   env={**os.environ, "PYTHONPATH": str(root)})


def test_extra_features_are_bounded_for_unseen_bits(tiny, data):
    smiles, y = data
    model = MTDRegressor(tiny, extra_features=["ecfp-count:radius=2,size=256"],
                         **FAST).fit(smiles[:40], y[:40, 0])
    net = model._networks()[0]
    d = net.readout_dim
    # columns no training molecule has are centred, not divided by a tiny std
    assert torch.all(net.feature_scale[d:] >= 1e-2)
    extra = torch.full((1, net.feature_mean.numel() - d), 1e6)
    readout = net.feature_mean[:d][None]
    out = net.head_forward(readout, extra)
    capped = net.head_forward(readout, net.feature_mean[d:][None] + 10 * net.feature_scale[d:])
    torch.testing.assert_close(out, capped)  # z-scores clipped at 10
