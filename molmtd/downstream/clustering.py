"""Clustering of molecules and the scores that compare clusterings.

k-means, agglomerative and HDBSCAN on embeddings (scikit-learn), Butina on ECFP Tanimoto
distances (RDKit) as the fingerprint baseline, and the scores that compare them:
silhouette, and ARI/NMI agreement with Bemis-Murcko scaffold families.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molmtd.errors import InvalidMoleculeError

__all__ = [
    "CLUSTER_METHODS",
    "cluster_embeddings",
    "ecfp_fingerprints",
    "tanimoto_distance_matrix",
    "butina_clusters",
    "scaffold_families",
    "clustering_scores",
]

CLUSTER_METHODS = ("kmeans", "agglomerative", "hdbscan")


def cluster_embeddings(X: np.ndarray, method: str = "kmeans", n_clusters: int = 8,
                       seed: int = 0, **kwargs) -> np.ndarray:
    """Cluster labels ``[n]`` for embeddings ``[n, d]``.

    Z-score the embeddings first if their dimensions have different scales.

    Args:
        X: embeddings without NaN.
        method: "kmeans" (seeded, ``n_init=4``), "agglomerative" (Ward) or "hdbscan"
            (``n_clusters`` is ignored; noise points get label -1; ``min_cluster_size``
            defaults to 5).
        n_clusters: clusters for k-means and agglomerative.
        seed: k-means seed.
        **kwargs: passed on to the scikit-learn estimator.

    Raises:
        ValueError: unknown method, NaN in X, or more clusters than points.
    """
    from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans

    X = np.asarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN/inf rows; drop molecules that could not be embedded")
    if method in ("kmeans", "agglomerative") and not 1 <= n_clusters <= len(X):
        raise ValueError(f"n_clusters must be between 1 and {len(X)}, got {n_clusters}")
    if method == "kmeans":
        kwargs.setdefault("n_init", 4)
        return KMeans(n_clusters=n_clusters, random_state=seed, **kwargs).fit_predict(X)
    if method == "agglomerative":
        return AgglomerativeClustering(n_clusters=n_clusters, **kwargs).fit_predict(X)
    if method == "hdbscan":
        kwargs.setdefault("min_cluster_size", 5)
        kwargs.setdefault("copy", True)  # never modify the caller's array
        return HDBSCAN(**kwargs).fit_predict(X)
    raise ValueError(f"unknown clustering method {method!r}; expected one of "
                     f"{', '.join(CLUSTER_METHODS)}")


def ecfp_fingerprints(smiles: Sequence[str], radius: int = 2, n_bits: int = 2048) -> list:
    """RDKit Morgan bit vectors (ExplicitBitVect) for Tanimoto similarity and MaxMin picking.

    Raises:
        InvalidMoleculeError: an unparseable SMILES, with its position.
    """
    import datamol as dm
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    fps = []
    with dm.without_rdkit_log():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s else None
            if mol is None:
                raise InvalidMoleculeError(i, "unparseable SMILES", s)
            fps.append(gen.GetFingerprint(mol))
    return fps


def tanimoto_distance_matrix(fps: Sequence) -> np.ndarray:
    """Dense ``[n, n]`` matrix of 1 - Tanimoto similarity (RDKit BulkTanimotoSimilarity)."""
    from rdkit import DataStructs

    n = len(fps)
    D = np.zeros((n, n), dtype=np.float64)
    for i in range(1, n):
        D[i, :i] = 1.0 - np.asarray(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    return D + D.T


def butina_clusters(smiles: Sequence[str], cutoff: float = 0.6, radius: int = 2,
                    n_bits: int = 2048) -> np.ndarray:
    """Taylor-Butina clusters on ECFP Tanimoto distance (RDKit ``Butina.ClusterData``).

    Args:
        smiles: molecules.
        cutoff: Tanimoto *distance* within which molecules join a centroid's cluster.
        radius: Morgan radius of the fingerprints (2 = ECFP4).
        n_bits: fingerprint length in bits.

    Returns:
        labels ``[n]`` (cluster 0 is the largest).
    """
    from rdkit import DataStructs
    from rdkit.ML.Cluster import Butina

    fps = ecfp_fingerprints(smiles, radius, n_bits)
    dists: list[float] = []
    for i in range(1, len(fps)):  # condensed lower triangle, the layout Butina expects
        dists.extend(1.0 - x for x in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    clusters = Butina.ClusterData(dists, len(fps), cutoff, isDistData=True)
    labels = np.empty(len(fps), dtype=np.int64)
    for c, members in enumerate(clusters):
        labels[list(members)] = c
    return labels


def scaffold_families(smiles: Sequence[str], generic: bool = False) -> np.ndarray:
    """Integer labels ``[n]``: molecules with the same Bemis-Murcko scaffold share one."""
    from molmtd.downstream.splits import murcko_scaffolds

    _, labels = np.unique(murcko_scaffolds(smiles, generic=generic), return_inverse=True)
    return labels


def clustering_scores(labels: np.ndarray, X: np.ndarray | None = None,
                      reference: np.ndarray | None = None, metric: str = "euclidean",
                      sample_size: int | None = 2000, seed: int = 0) -> dict[str, float]:
    """Quality of a clustering.

    Args:
        labels: cluster labels ``[n]`` (-1 = noise, as HDBSCAN marks it).
        X: the space the clustering lives in, ``[n, d]`` (or an ``[n, n]`` distance
            matrix with ``metric="precomputed"``); gives the silhouette.
        reference: reference labels ``[n]`` (e.g. :func:`scaffold_families`); gives ARI
            and NMI.
        metric: distance for the silhouette (any scikit-learn pairwise metric, or
            "precomputed" when ``X`` is a distance matrix).
        sample_size: silhouette on a seeded sample of this many points (None = all).
        seed: seed of that sample.

    Returns:
        n_clusters, noise_fraction, silhouette (noise points left out; NaN if fewer than
        2 clusters), ari and nmi (NaN without a reference; noise counts as one label).
    """
    from sklearn import metrics as skm

    labels = np.asarray(labels)
    clustered = labels != -1
    n_clusters = int(np.unique(labels[clustered]).size)
    out = {"n_clusters": float(n_clusters), "noise_fraction": float(1.0 - clustered.mean()),
           "silhouette": float("nan"), "ari": float("nan"), "nmi": float("nan")}
    if X is not None and 2 <= n_clusters < clustered.sum():
        idx = np.flatnonzero(clustered)
        Xs = X[np.ix_(idx, idx)] if metric == "precomputed" else X[idx]
        size = None if sample_size is None or sample_size >= len(idx) else sample_size
        out["silhouette"] = float(skm.silhouette_score(Xs, labels[idx], metric=metric,
                                                       sample_size=size, random_state=seed))
    if reference is not None:
        out["ari"] = float(skm.adjusted_rand_score(reference, labels))
        out["nmi"] = float(skm.normalized_mutual_info_score(reference, labels))
    return out
