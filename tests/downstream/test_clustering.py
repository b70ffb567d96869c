from __future__ import annotations

import math

import numpy as np
import pytest

from molmtd.downstream.clustering import (
    butina_clusters,
    cluster_embeddings,
    clustering_scores,
    ecfp_fingerprints,
    scaffold_families,
    tanimoto_distance_matrix,
)
from molmtd.errors import InvalidMoleculeError


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], dtype=float)
    truth = np.repeat(np.arange(3), 20)
    return centers[truth] + rng.normal(scale=0.3, size=(60, 3)), truth


@pytest.mark.parametrize("method", ["kmeans", "agglomerative", "hdbscan"])
def test_methods_recover_separated_blobs(method):
    X, truth = blobs()
    labels = cluster_embeddings(X, method, n_clusters=3, seed=0)
    scores = clustering_scores(labels, X, truth)
    assert scores["ari"] == pytest.approx(1.0) and scores["nmi"] == pytest.approx(1.0)
    assert scores["silhouette"] > 0.8 and scores["n_clusters"] == 3


def test_kmeans_is_seeded_and_hdbscan_marks_noise():
    X, _ = blobs()
    np.testing.assert_array_equal(cluster_embeddings(X, n_clusters=5, seed=1),
                                  cluster_embeddings(X, n_clusters=5, seed=1))
    Xo = np.vstack([X, [[100.0, 100.0, 100.0]]])
    labels = cluster_embeddings(Xo, "hdbscan")
    assert labels[-1] == -1
    assert clustering_scores(labels, Xo)["noise_fraction"] == pytest.approx(1 / 61)


def test_butina_groups_close_analogues():
    series_a = ["CCCCCCCCCCO", "CCCCCCCCCCCO", "CCCCCCCCCCCCO"]
    series_b = ["c1ccc2ccccc2c1C(=O)O", "c1ccc2ccccc2c1C(=O)OC", "c1ccc2ccccc2c1C(=O)OCC"]
    labels = butina_clusters(series_a + series_b, cutoff=0.6)
    assert len(set(labels[:3])) == 1 and len(set(labels[3:])) == 1 and labels[0] != labels[3]
    D = tanimoto_distance_matrix(ecfp_fingerprints(series_a + series_b))
    assert D.shape == (6, 6) and np.allclose(D, D.T) and np.allclose(np.diag(D), 0)
    s = clustering_scores(labels, D, metric="precomputed")
    assert s["silhouette"] > 0.3 and math.isnan(s["ari"])


def test_scaffold_families_and_degenerate_scores():
    fam = scaffold_families(["Cc1ccccc1", "Oc1ccccc1", "CC1CCCCC1", "CCO"])
    assert fam[0] == fam[1] and len(set(fam)) == 3
    s = clustering_scores(np.zeros(5, dtype=int), np.random.default_rng(0).normal(size=(5, 2)))
    assert s["n_clusters"] == 1 and math.isnan(s["silhouette"])


def test_errors():
    with pytest.raises(ValueError, match="unknown clustering method 'dbscan'"):
        cluster_embeddings(np.zeros((4, 2)), "dbscan")
    with pytest.raises(ValueError, match="NaN"):
        cluster_embeddings(np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="n_clusters must be between 1 and 4"):
        cluster_embeddings(np.zeros((4, 2)), n_clusters=9)
    with pytest.raises(InvalidMoleculeError, match="input 1"):
        ecfp_fingerprints(["CCO", "C1CC"])
