from __future__ import annotations

import numpy as np
import pytest
import torch

from molmtd.downstream.metrics import score_predictions
from molmtd.downstream.models import MODELS, make_model, predict_scores
from molmtd.downstream.probe import MLPProbeClassifier, MLPProbeRegressor


def data(n=160, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] * 2.0 - X[:, 1] + 0.1 * rng.normal(size=n)
    return X.astype(np.float32), y


@pytest.mark.parametrize("name", MODELS)
def test_every_model_learns_and_is_seeded(name):
    X, y = data()
    klass = (y > 0).astype(float)
    reg = make_model(name, "regression", seed=1).fit(X[:120], y[:120])
    r2 = score_predictions("regression", y[120:], predict_scores(reg, X[120:], "regression"))["r2"]
    assert r2 > 0.5
    clf = make_model(name, "classification", seed=1).fit(X[:120], klass[:120])
    p = predict_scores(clf, X[120:], "classification")
    assert ((p >= 0) & (p <= 1)).all()
    assert score_predictions("classification", klass[120:], p)["auroc"] > 0.8
    again = make_model(name, "regression", seed=1).fit(X[:120], y[:120])
    np.testing.assert_allclose(again.predict(X[120:]), reg.predict(X[120:]), rtol=1e-6)


def test_a_dimension_dead_in_training_cannot_explode_test_predictions():
    # a dead ReLU unit: ~1e-8 noise in training, one test molecule activates it
    X, y = data()
    rng = np.random.default_rng(1)
    dead = np.zeros((len(X), 1), np.float32)
    dead[:120, 0] = rng.normal(scale=1e-8, size=120)
    dead[125, 0] = 0.1
    X = np.hstack([X, dead])
    model = make_model("linear", "regression", seed=0).fit(X[:120], y[:120])
    pred = model.predict(X[120:])
    assert np.abs(pred - y[120:]).max() < 10 * np.abs(y).max()
    z = model[:-1].transform(X[120:])  # scale + clip
    assert np.abs(z).max() == pytest.approx(10.0)


def test_make_model_errors():
    with pytest.raises(ValueError, match="unknown model 'svm'; expected one of linear"):
        make_model("svm", "regression")
    with pytest.raises(ValueError, match="unknown task_type"):
        make_model("linear", "ranking")


def test_mlp_probe_architecture_and_best_epoch_restored():
    X, y = data(n=200)
    probe = MLPProbeRegressor(max_epochs=30, patience=3, random_state=0).fit(X, y)
    layers = [type(m).__name__ for m in probe.network_]
    assert layers == ["Linear", "LayerNorm", "ReLU", "Linear"]
    assert probe.network_[0].out_features == 128
    assert 1 <= probe.n_epochs_ <= 30
    # the restored weights are the best validation epoch's: recompute its loss
    _, val = probe._split(y)
    target = (y[val] - probe.y_mean_) / probe.y_std_
    with torch.no_grad():
        out = probe.network_(torch.from_numpy(X[val])).squeeze(-1).numpy()
    assert np.mean((out - target) ** 2) == pytest.approx(probe.best_val_loss_, rel=1e-4)


def test_mlp_probe_leaves_global_torch_rng_alone():
    X, y = data(n=60)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MLPProbeRegressor(max_epochs=2).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_mlp_classifier_checks_labels():
    X, y = data(n=40)
    with pytest.raises(ValueError, match="binary"):
        MLPProbeClassifier(max_epochs=1).fit(X, np.arange(40) % 3)
    clf = MLPProbeClassifier(max_epochs=5).fit(X, (y > 0).astype(float))
    assert set(np.unique(clf.predict(X))) <= {0.0, 1.0}
    assert clf.predict_proba(X).shape == (40, 2)


def test_knn_probe_picks_k_by_inner_cv_and_caps_it_for_tiny_data():
    from molmtd.downstream.probe import KNNProbeClassifier, KNNProbeRegressor

    rng = np.random.default_rng(0)
    # a smooth label on a 1-d manifold: few neighbours are best
    X = np.sort(rng.uniform(0, 6, size=(300, 1)), axis=0)
    y = np.sin(3 * X[:, 0])
    assert KNNProbeRegressor(random_state=0).fit(X, y).n_neighbors_ == 3
    # pure label noise: the widest neighbourhood wins
    assert KNNProbeRegressor(random_state=0).fit(X, rng.normal(size=300)).n_neighbors_ == 20
    # 7 molecules, 3 folds: inner training folds hold 4, so k <= 4
    tiny = KNNProbeRegressor(random_state=0).fit(X[:7], y[:7])
    assert tiny.n_neighbors_ == 3
    clf = KNNProbeClassifier(random_state=0).fit(X, (y > 0).astype(float))
    p = clf.predict_proba(X)[:, 1]
    assert p.shape == (300,) and set(np.round(p * clf.n_neighbors_)) <= set(range(21))
    with pytest.raises(ValueError, match="need at least 3"):
        KNNProbeRegressor().fit(X[:2], y[:2])


def test_knn_model_uses_z_scored_features():
    # one informative dimension in [0, 1] and one noise dimension scaled by 1e4: without
    # z-scoring the noise would decide every neighbour
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(size=400), 1e4 * rng.normal(size=400)])
    y = (X[:, 0] > 0.5).astype(float)
    model = make_model("knn", "classification", seed=0).fit(X[:300], y[:300])
    auroc = score_predictions("classification", y[300:], predict_scores(model, X[300:],
                                                                        "classification"))
    assert auroc["auroc"] > 0.9
